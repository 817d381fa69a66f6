"""``OrderLedger``'s exposure, limits, trading states, pre-trade check and limits' standing
(docs/risk.md): thin methods over the typed requests, ``application.risk`` and ``application.watch``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from orderledger.domain.errors import InvalidInputError
from orderledger.infrastructure.application import lazy
from orderledger.infrastructure.application.arguments import checked, checked_methods
from orderledger.infrastructure.application.exposure import grouping
from orderledger.infrastructure.application.requests import (
    Check,
    Exposure,
    Limits,
    Request,
    Risk,
    SetTradingState,
    TradingStates,
)
from orderledger.infrastructure.application.risk import (
    CheckResult,
    LimitRow,
    OrderLedger,
    TradingStateRow,
    fact_message,
    record_fact,
)
from orderledger.infrastructure.application.watch import LimitStatus
from orderledger.infrastructure.results import ExposureRow

if TYPE_CHECKING:
    from orderledger.infrastructure.ingest.processing import Result
else:  # the names of signatures, for the argument checks' hints (AsyncOrderLedger's forms of these)
    __getattr__ = lazy.names(__name__, {"orderledger.infrastructure.ingest.processing": ("Result",)})


@checked_methods
class RiskControls:
    """``OrderLedger``'s limits, trading states and pre-trade check (docs/risk.md); a wrong-typed
    argument is refused in one line, as by every public method."""

    @property
    def _ledger(self) -> OrderLedger:
        return self

    def limits(self, *, as_of: datetime | None = None) -> list[LimitRow]:
        """The limits in force now, or at venue time ``as_of``: who set each, when and why."""
        return self._ledger.handle(Limits(as_of))

    def trading_states(self, *, as_of: datetime | None = None) -> list[TradingStateRow]:
        """Each account's trading state as last set (account "": every account's), now or at
        venue time ``as_of``; an account never set is ``active``."""
        return self._ledger.handle(TradingStates(as_of))

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
    ) -> Result:
        """Record a ``limit_set``: from ``ts`` (default now) ``kind`` of ``scope`` ``target`` is at
        most ``value``; a bad field raises its one-line error."""
        fields = {"scope": scope, "target": target, "kind": kind, "value": str(value), "interval": interval}
        message = fact_message(
            "limit_set", ts or self._ledger._clock(), **fields, set_by=set_by, reason=reason
        )
        return record_fact(self._ledger, message)

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
        fields = {"scope": scope, "target": target, "kind": kind, "set_by": set_by, "reason": reason}
        return record_fact(self._ledger, fact_message("limit_cleared", ts or self._ledger._clock(), **fields))

    def set_trading_state(
        self,
        state: str,
        *,
        set_by: str,
        account: str | None = None,
        reason: str | None = None,
        ts: datetime | None = None,
    ) -> Result:
        """Record a ``trading_state``: ``halted``, ``reduce_only`` or ``active`` for ``account``
        (None: every account) from ``ts`` (default now)."""
        return self._ledger.handle(SetTradingState(state, set_by, account, reason, ts))

    def risk(self, *, threshold: Decimal | str | float = Decimal("0.8")) -> list[LimitStatus]:
        """Each limit in force now and how close its figure stands to it (``application.watch``):
        ``ok``, ``near`` (at or past ``threshold`` × its value), ``breached``, ``unknown`` (with
        why) or ``per_order`` (``max_order_notional``: no standing figure)."""
        try:
            share = Decimal(str(threshold))
        except ArithmeticError:  # decimal.InvalidOperation: not a number
            raise InvalidInputError(f"threshold {threshold!r} is not a number", field="threshold") from None
        return self._ledger.handle(Risk(share))

    def check(self, spec: dict[str, Any]) -> CheckResult:
        """Whether an order (the fields of a request) may be sent now: allowed, or denied with
        every limit its worst case would breach and what its account's trading state forbids.
        Records nothing, except the halt the daily loss rule sets when that limit is passed."""
        return self._ledger.handle(Check(spec))


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
    ) -> list[ExposureRow]:
        """Exposure per underlying, grouped ``by`` account and venue as named (``underlying``
        always; ``"account,underlying"`` or a sequence of names): positions converted into units
        of the underlying (contract size, inverse settlement, options at ±1) and valued at the
        latest marks (or ``marks``, instrument → price), beside the open orders' worst case per
        side (docs/risk.md, "Exposure"); now, or as the positions, open orders, marks and
        definitions stood ``as_of`` a time (recorded time, or venue time with ``event_time``)."""
        asked = Exposure(grouping(by), tuple((marks or {}).items()), as_of, event_time)
        return cast(_Answers, self).handle(asked)


__all__ = ["ExposureReads", "RiskControls"]
