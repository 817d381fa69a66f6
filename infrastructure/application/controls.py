"""``OrderLedger``'s exposure, limits, trading states, pre-trade check and limits' standing
(docs/risk.md), and its collectors' leases (``orderledger collect``): thin methods over the typed
requests, answered by ``application.risk.pretrade``, ``application.risk.standing`` and
``application.upkeep.collector_leases``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.exposure import grouping, one_currency
from orderledger.infrastructure.application import lazy_imports
from orderledger.infrastructure.application.arguments import checked, checked_methods
from orderledger.infrastructure.application.requests import (
    Collectors,
    Denials,
    Exposure,
    LastVenueTime,
    Limits,
    ReplayLimits,
    Request,
    Risk,
    TradingStates,
)
from orderledger.infrastructure.results.positions import ExposureRow

# What answers these (risk, watch, collectors) is imported when first asked, by the one dispatch
# (``application.bootstrap``): a process that never asks loads none of it. So are the commands
# (``commands``: the limits, trading states and check, the collectors' leases).
if TYPE_CHECKING:
    from orderledger.infrastructure.application import commands
    from orderledger.infrastructure.application.risk.pretrade import (
        CheckResult,
        DenialRow,
        LimitRow,
        OrderLedger,
        TradingStateRow,
    )
    from orderledger.infrastructure.application.risk.standing import LimitStatus
    from orderledger.infrastructure.application.upkeep.collector_leases import CollectorRow
    from orderledger.infrastructure.application.writes.placed import Placed
    from orderledger.infrastructure.ingest.inbound import Result
    from orderledger.infrastructure.results.replay import RiskReplay
else:  # the names of signatures, for the argument checks' hints (AsyncOrderLedger's forms of these)
    commands = lazy_imports.Module("orderledger.infrastructure.application.commands")
    __getattr__ = lazy_imports.names(
        __name__,
        {
            "orderledger.infrastructure.application.upkeep.collector_leases": ("CollectorRow",),
            "orderledger.infrastructure.application.writes.placed": ("Placed",),
            "orderledger.infrastructure.application.risk.pretrade": (
                "CheckResult",
                "DenialRow",
                "LimitRow",
                "TradingStateRow",
            ),
            "orderledger.infrastructure.application.risk.standing": ("LimitStatus",),
            "orderledger.infrastructure.ingest.inbound": ("Result",),
            "orderledger.infrastructure.results.replay": ("RiskReplay",),
        },
    )


@checked_methods
class RiskControls:
    """``OrderLedger``'s limits, trading states and pre-trade check (docs/risk.md); a wrong-typed
    argument is refused in one line, as by every public method."""

    @property
    def _ledger(self) -> OrderLedger:
        return self

    def limits(self, *, as_of: datetime | None = None) -> list[LimitRow]:
        """The limits in force now, or ``as_of`` a time of the ledger's clock, then those scheduled
        after it (``scheduled``): who set each, when and why."""
        return self._ledger.handle(Limits(as_of))

    def trading_states(self, *, as_of: datetime | None = None) -> list[TradingStateRow]:
        """Each account's trading state as last set (account "": every account's), now or at
        ``as_of`` a time of the ledger's clock, with the state its orders are checked under
        (``effective_state``: the stricter of its own and every account's; ``effective_from``:
        ``account`` or ``global``), then those scheduled after it; an account never set follows
        every account's (``active`` when none is set)."""
        return self._ledger.handle(TradingStates(as_of))

    def denials(
        self,
        *,
        account: str | None = None,
        limit: str | None = None,
        since: datetime | None = None,
        last: int = 500,
    ) -> list[DenialRow]:
        """The breaches the risk door recorded as facts (docs/risk.md, "Denials and breaches"):
        each request denied, let through by an override (who and why) or venue's order flagged,
        at the ledger's time, each breach citing the limit or trading state event it applied; of
        ``account``, breaching the limit of kind ``limit`` (or ``trading_state``), recorded from
        ``since`` on; the latest ``last`` (at most 5,000), oldest first."""
        return self._ledger.handle(Denials(account, limit, since, last))

    def set_limit(
        self,
        scope: str,
        target: str,
        kind: str,
        value: Decimal | str | int,
        *,
        set_by: str,
        interval: int | None = None,
        reason: str | None = None,
        ts: datetime | None = None,
        response: str | None = None,
    ) -> Result:
        """Record a ``limit_set``: from ``ts`` (default now) ``kind`` of ``scope`` ``target`` is at
        most ``value``; a ``max_daily_loss`` or ``max_drawdown`` limit's ``response`` (``reduce_only``,
        the default, or ``halt``) is the state the ledger sets the account to once past it. A bad
        field raises its one-line error."""
        return self._ledger.handle(
            commands.SetLimit(scope, target, kind, value, set_by, interval, reason, ts, response=response)
        )

    def clear_limit(
        self,
        scope: str,
        target: str,
        kind: str,
        *,
        set_by: str,
        reason: str | None = None,
        ts: datetime | None = None,
    ) -> Result:
        """Record a ``limit_cleared``: from ``ts`` (default now) the limit no longer applies."""
        return self._ledger.handle(commands.ClearLimit(scope, target, kind, set_by, reason, ts))

    def set_trading_state(
        self,
        state: str,
        *,
        set_by: str,
        account: str | None = None,
        reason: str | None = None,
        ts: datetime | None = None,
        until: datetime | None = None,
        lasting: timedelta | None = None,
    ) -> Result:
        """Record a ``trading_state``: ``halted``, ``reduce_only`` or ``active`` for ``account``
        (None: every account) from ``ts`` (default now), ``until`` a time or for ``lasting`` after
        ``ts`` (a cooldown: it lifts itself then), or until set again."""
        return self._ledger.handle(
            commands.SetTradingState(state, set_by, account, reason, ts, until=until, lasting=lasting)
        )

    def risk(self, *, threshold: Decimal | str | float = Decimal("0.8")) -> list[LimitStatus]:
        """Each limit in force now and how close its figure stands to it (``application.risk.standing``):
        ``ok``, ``near`` (at or past ``threshold`` × its value), ``breached``, ``unknown`` (with
        why) or ``per_order`` (``max_order_notional``: no standing figure)."""
        try:
            share = Decimal(str(threshold))
        except ArithmeticError:  # decimal.InvalidOperation: not a number
            raise InvalidInputError(f"threshold {threshold!r} is not a number", field="threshold") from None
        return self._ledger.handle(Risk(share))

    def risk_replay(self, limits: str | list[dict[str, Any]], *, since: datetime | None = None) -> RiskReplay:
        """Which recorded orders ``limits`` would have denied or flagged, and the P&L and
        exposure path without the denied ones, folded from the log (docs/risk.md, "Limits
        replayed over history"). ``limits``: ``limit_set`` objects, or their text (a JSON array
        or JSON lines); ``since``: judge the orders recorded from then on, the state before it
        folded first. Writes nothing."""
        text = limits if isinstance(limits, str) else json.dumps(limits)
        return self._ledger.handle(ReplayLimits(text, since))

    def respond(self) -> list[Result]:
        """Record the response of each ``max_daily_loss`` or ``max_drawdown`` limit whose figure
        is past its value now, on an account in a less strict state (docs/risk.md, "Responses"):
        what the writer does after each commit, here for what another process recorded (``orderledger
        risk --watch`` asks it at each look). Answers what was recorded."""
        return self._ledger.handle(commands.Respond())

    def check(self, spec: dict[str, Any]) -> CheckResult:
        """Whether an order (the fields of a request) may be sent now: allowed, or denied with
        every limit its worst case would breach and what its account's trading state forbids.
        Records nothing, except the halt the daily loss rule sets when that limit is passed."""
        return self._ledger.handle(commands.Check(spec))

    def place(self, spec: dict[str, Any]) -> Placed:
        """Place an order of ours through the risk door (the fields of a request; its client
        order ID and time made when absent, ``override`` to let it through its breaches): judged
        and recorded in one transaction, the order as recorded or the denial with its breaches
        (``POST /orders``). ``placing`` is this with the venue's answer recorded after it."""
        return self._ledger.handle(commands.PlaceOrder(spec))


T = TypeVar("T")


class _Answers(Protocol):
    def handle(self, request: Request[T]) -> T: ...


class ExposureReads:
    """``OrderLedger.exposure`` (the ledger's class takes it from here)."""

    @checked
    def exposure(
        self,
        *,
        by: str | tuple[str, ...] | list[str] = ("account", "underlying"),
        marks: Mapping[str, Decimal] | None = None,
        as_of: datetime | None = None,
        event_time: bool = False,
        in_currency: str | None = None,
    ) -> list[ExposureRow]:
        """Exposure per underlying, grouped ``by`` account and venue as named (``underlying``
        always; ``"account,underlying"`` or a sequence of names): positions converted into units
        of the underlying (contract size, inverse settlement, options at ±1) and valued at the
        latest marks (or ``marks``, instrument → price), beside the open orders' worst case per
        side (docs/risk.md, "Exposure"); now, or as the positions, open orders, marks and
        definitions stood ``as_of`` a time (recorded time, or venue time with ``event_time``).
        With ``in_currency``, each row's net and gross value in that one currency too, at the rates
        recorded as marks (``net_in``, ``gross_in``; docs/risk.md, "In one currency")."""
        asked = Exposure(
            grouping(by), tuple((marks or {}).items()), as_of, event_time, one_currency(in_currency)
        )
        return cast(_Answers, self).handle(asked)


@checked_methods
class CollectorLeases:
    """``OrderLedger``'s methods for ``orderledger collect``: each a typed request
    (``CollectorLease`` …) handed to the ledger's one dispatch."""

    db: Any

    def _ask(self, request: Request[T]) -> T:
        return cast(_Answers, self).handle(request)

    def collector_lease(
        self, venue: str, account: str | None, owner: str, pid: int, *, stale_after: timedelta | None = None
    ) -> None:
        """Take the collector lease of ``venue``/``account`` (``CollectorBusyError``: held by a live one)."""
        self._ask(commands.CollectorLease(venue, account, owner, pid, stale_after))

    def collector_heartbeat(
        self, venue: str, account: str | None, owner: str, figures: dict[str, Any]
    ) -> None:
        """Publish a collector's status figures (``LeaseLostError``: another one took over)."""
        self._ask(commands.CollectorHeartbeat(venue, account, owner, figures))

    def collector_release(self, venue: str, account: str | None, owner: str) -> None:
        """Give a collector's lease up."""
        self._ask(commands.CollectorRelease(venue, account, owner))

    def collectors(self) -> list[CollectorRow]:
        """The collectors running on this ledger, with their status figures (``/health``)."""
        rows: list[CollectorRow] = self._ask(Collectors())
        return rows

    def last_venue_time(self, venue: str, account: str | None) -> datetime | None:
        """The latest venue time booked for ``venue``/``account`` (a collector's backfill resumes there)."""
        found: datetime | None = self._ask(LastVenueTime(venue, account))
        return found


__all__ = ["CollectorLeases", "ExposureReads", "RiskControls"]
