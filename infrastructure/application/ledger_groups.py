"""The ledger's calls grouped by concern: ``OrderLedger`` keeps a bot's everyday calls (record,
place, check, order, orders, trades, positions, pnl, follow …) and reaches the rest through one
attribute per concern, each a small object holding the ledger:

- ``ledger.risk_controls``: limits, trading states, denials, exposure, limits replayed;
- ``ledger.audit``: verify, the chains' head, an order's events, the log and the message journal;
- ``ledger.analytics``: exports, the lake, execution quality, P&L series, lots, the cost basis;
- ``ledger.upkeep``: the schema, the storage check, rebuild, catch up, the views' lag, collectors;
- ``ledger.venues``: instruments, markets, reconciliation, the last venue time, settling.

A group only delegates: each method builds its typed request (``orderledger.requests``) and hands
it to the one dispatch (``application.bootstrap.answer``), as the ledger's own methods do. The
calls' flat names on the ledger (``ledger.verify``) stay for the deprecation period
(:class:`MovedCalls`, docs/glossary.md, "Deprecated aliases").
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Protocol, cast

from annotated_types import Ge
from typing_extensions import deprecated

from orderledger.domain.events import OrderEvent
from orderledger.domain.exposure import grouping, one_currency
from orderledger.infrastructure.application import lazy_imports
from orderledger.infrastructure.application import requests as asks
from orderledger.infrastructure.application.argument_checks import Count, Counting, Slices, checked_methods
from orderledger.infrastructure.application.bootstrap import answer
from orderledger.infrastructure.application.deprecated import moved, moved_message, renamed_keywords
from orderledger.infrastructure.application.filter_keywords import filtered
from orderledger.infrastructure.application.ledger_protocol import LedgerParts
from orderledger.infrastructure.application.requests import (
    Collectors,
    Denials,
    Exposure,
    LastVenueTime,
    Limits,
    ReplayLimits,
    TradingStates,
)
from orderledger.infrastructure.listing import Page
from orderledger.infrastructure.results.filter import Filter
from orderledger.infrastructure.results.head import Head
from orderledger.infrastructure.results.log import EventRecord, InstrumentRow, MessageRecord
from orderledger.infrastructure.results.pnl import DailyPnlRow, PnlPoint
from orderledger.infrastructure.results.positions import ExposureRow, LotRow
from orderledger.infrastructure.results.views_lag import ViewsLag
from orderledger.infrastructure.storage.views import CatchUpStats

# What answers these, and the commands, are imported when first asked (``application.bootstrap``):
# a process that never asks loads none of it.
if TYPE_CHECKING:
    from orderledger.infrastructure.application import command_requests
    from orderledger.infrastructure.application.analytics.execution import ExecutionRow
    from orderledger.infrastructure.application.analytics.lake import LakeReport
    from orderledger.infrastructure.application.risk.pretrade import DenialRow, LimitRow, TradingStateRow
    from orderledger.infrastructure.application.upkeep.collector_leases import CollectorRow
    from orderledger.infrastructure.application.upkeep.reconcile import ReconcileReport, Snapshot
    from orderledger.infrastructure.application.writes.recording import IngestReport
    from orderledger.infrastructure.audit.verify import VerifyReport
    from orderledger.infrastructure.ingest.inbound import Result
    from orderledger.infrastructure.results.replay import RiskReplay
else:  # the names of signatures, for the argument checks' hints
    command_requests = lazy_imports.Module("orderledger.infrastructure.application.command_requests")
    __getattr__ = lazy_imports.names(
        __name__,
        {
            "orderledger.infrastructure.application.analytics.execution": ("ExecutionRow",),
            "orderledger.infrastructure.application.analytics.lake": ("LakeReport",),
            "orderledger.infrastructure.application.risk.pretrade": (
                "DenialRow",
                "LimitRow",
                "TradingStateRow",
            ),
            "orderledger.infrastructure.application.upkeep.collector_leases": ("CollectorRow",),
            "orderledger.infrastructure.application.upkeep.reconcile": ("ReconcileReport", "Snapshot"),
            "orderledger.infrastructure.application.writes.recording": ("IngestReport",),
            "orderledger.infrastructure.audit.verify": ("VerifyReport",),
            "orderledger.infrastructure.ingest.inbound": ("Result",),
            "orderledger.infrastructure.results.replay": ("RiskReplay",),
        },
    )


class _Group:
    """A concern's calls, over the ledger it holds."""

    __slots__ = ("_ledger",)

    def __init__(self, ledger: LedgerParts) -> None:
        self._ledger = ledger


@checked_methods
class RiskControls(_Group):
    """``ledger.risk_controls``: exposure, limits, trading states and the breaches the risk door
    recorded (docs/risk.md); ``check``, ``place`` and ``risk`` are the ledger's own."""

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
        return answer(self._ledger, asked)

    def limits(self, *, as_of: datetime | None = None) -> list[LimitRow]:
        """The limits in force now, or ``as_of`` a time of the ledger's clock, then those scheduled
        after it (``scheduled``): who set each, when and why."""
        return answer(self._ledger, Limits(as_of))

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
        return answer(
            self._ledger,
            command_requests.SetLimit(
                scope, target, kind, value, set_by, interval, reason, ts, response=response
            ),
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
        return answer(self._ledger, command_requests.ClearLimit(scope, target, kind, set_by, reason, ts))

    def trading_states(self, *, as_of: datetime | None = None) -> list[TradingStateRow]:
        """Each account's trading state as last set (account "": every account's), now or at
        ``as_of`` a time of the ledger's clock, with the state its orders are checked under
        (``effective_state``: the stricter of its own and every account's; ``effective_from``:
        ``account`` or ``global``), then those scheduled after it; an account never set follows
        every account's (``active`` when none is set)."""
        return answer(self._ledger, TradingStates(as_of))

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
        return answer(
            self._ledger,
            command_requests.SetTradingState(
                state, set_by, account, reason, ts, until=until, lasting=lasting
            ),
        )

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
        return answer(self._ledger, Denials(account, limit, since, last))

    def respond(self) -> list[Result]:
        """Record the response of each ``max_daily_loss`` or ``max_drawdown`` limit whose figure
        is past its value now, on an account in a less strict state (docs/risk.md, "Responses"):
        what the writer does after each commit, here for what another process recorded (``orderledger
        risk --watch`` asks it at each look). Answers what was recorded."""
        return answer(self._ledger, command_requests.Respond())

    def risk_replay(self, limits: str | list[dict[str, Any]], *, since: datetime | None = None) -> RiskReplay:
        """Which recorded orders ``limits`` would have denied or flagged, and the P&L and
        exposure path without the denied ones, folded from the log (docs/risk.md, "Limits
        replayed over history"). ``limits``: ``limit_set`` objects, or their text (a JSON array
        or JSON lines); ``since``: judge the orders recorded from then on, the state before it
        folded first. Writes nothing."""
        text = limits if isinstance(limits, str) else json.dumps(limits)
        return answer(self._ledger, ReplayLimits(text, since))


@checked_methods
class Audit(_Group):
    """``ledger.audit``: the chains' check and head, an order's events, the global log read in
    chunks or after a position, and the message journal (docs/audit.md)."""

    def verify(
        self,
        *,
        expect_head: Head | tuple[int, str] | None = None,
        heads: Mapping[int, str] | None = None,
        journal_heads: Mapping[int, str] | None = None,
        deep: bool = False,
        incremental: bool = False,
        anchor: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> VerifyReport:
        """Check the storage, the hash chains, the views and the journal against the log; heads
        recorded earlier (``expect_head``: a :class:`Head` covers the journal too; ``heads``,
        ``journal_heads``: position → hash) must still be in the chains, and so must every anchor.

        ``incremental``: check only the records appended since the last anchor (docs/audit.md,
        "Incremental verify"); ``anchor``: when everything holds, store the heads found as the
        next anchor. ``progress`` is told, after each chunk of the log, the events checked and
        how many there are to check."""
        pinned, journal = tuple((heads or {}).items()), tuple((journal_heads or {}).items())
        asked = asks.Verify(
            expect_head, pinned, journal, deep=deep, incremental=incremental, anchor=anchor, progress=progress
        )
        return answer(self._ledger, asked)

    def head(self) -> Head | None:
        """The chains' heads, to record outside the database (None while both are empty)."""
        return answer(self._ledger, asks.ChainHead())

    def order_events(self, client_order_id: str) -> list[OrderEvent]:
        """Every event of one order, in version order."""
        return answer(self._ledger, asks.OrderEvents(client_order_id))

    def iter_events(
        self, where: Filter, *, types: Sequence[str] = (), event_time: bool = False
    ) -> Iterator[EventRecord]:
        """Events of the global log matching ``where`` (``since``/``until``: recorded time, or
        venue time with ``event_time``), in log order, read in chunks."""
        return answer(self._ledger, asks.IterEvents(where, tuple(types), event_time))

    def events_after(self, position: Count, limit: Count) -> list[EventRecord]:
        """Up to ``limit`` committed events after log ``position``, in log order (what a live
        follower reads next), each as :meth:`events` gives it."""
        return answer(self._ledger, asks.EventsAfter(position, limit))

    @filtered("messages")
    def messages(
        self,
        where: Filter,
        *,
        outcome: str | None = None,
        parked: bool = False,
        older_than: timedelta | None = None,
        count: Counting = False,
    ) -> Page[MessageRecord]:
        """The message journal, oldest first (``newest``: reversed; ``sort``: another order); see
        :meth:`iter_messages`. A :class:`Page`, as :meth:`orders` answers."""
        asked = asks.Messages(where, outcome, parked=parked, older_than=older_than, count=count)
        return answer(self._ledger, asked)

    def iter_messages(
        self,
        where: Filter,
        *,
        outcome: str | None = None,
        parked: bool = False,
        older_than: timedelta | None = None,
    ) -> Iterator[MessageRecord]:
        """The message journal in arrival order (``where.newest``: reversed): every inbound
        message verbatim with its outcome (an ``Outcome``).
        ``parked``: the messages still parked; ``older_than``: only those received longer ago
        than that (parked too long: stuck)."""
        return answer(self._ledger, asks.IterMessages(where, outcome, parked, older_than))


@checked_methods
class Analytics(_Group):
    """``ledger.analytics``: lots and the cost-basis rule, daily and running P&L, exports, the
    Parquet lake and execution quality (docs/analytics.md)."""

    def lots(
        self,
        *,
        cost_basis: str = "fifo",
        closed: bool = False,
        as_of: datetime | None = None,
        event_time: bool = False,
    ) -> list[LotRow]:
        """Open tax lots under ``cost_basis`` (fifo, lifo, hifo), each with its opening fill and
        cost; with ``closed``, the closed lots instead: one row per matched quantity, with its
        opening and closing fill, cost, proceeds, fees and P&L. Read from the lots kept between
        reads, brought up to the log's head; ``as_of`` a time, from those lots' marks (and the
        closed lots kept with them)."""
        return answer(self._ledger, asks.Lots(cost_basis, closed=closed, as_of=as_of, event_time=event_time))

    def cost_basis(self) -> str:
        """The rule this ledger's positions and P&L use when a query names none: average (the
        default, and what a ledger created without one reads as), fifo, lifo or hifo."""
        return answer(self._ledger, asks.CostBasis())

    def set_cost_basis(self, cost_basis: str) -> str:
        """Make ``cost_basis`` the rule of this ledger's positions and P&L; returns the rule it
        replaces. The log is untouched: every figure under the new rule is folded from it."""
        return answer(self._ledger, asks.SetCostBasis(cost_basis))

    def pnl_daily(self, *, by: str = "account", cost_basis: str | None = None) -> list[DailyPnlRow]:
        """P&L per UTC day by account, parent or ``tag:NAME``: realized, fees, cash flows and
        unrealized at the day's last recorded marks (see ``daily_pnl.daily_pnl_rows``); under the
        ledger's cost-basis rule, or ``cost_basis``; from the days kept with the heads of each
        book (by parent or tag, of each group's own books)."""
        return answer(self._ledger, asks.PnlDaily(by, cost_basis))

    def pnl_series(self, *, points: Slices | None = None) -> list[PnlPoint]:
        """Realized P&L entry by entry in log order, with running totals per quote currency;
        with ``points``, in venue time, each account's line per currency summed over that many
        equal slices of it (``pnl_series.realized_series``: a chart's worth, whatever the ledger's
        size)."""
        return answer(self._ledger, asks.PnlSeries(points))

    @renamed_keywords(fmt="format")
    def export(
        self,
        table: str,
        out: str | Path | io.BufferedIOBase | io.RawIOBase,
        *,
        format: str = "jsonl",
        force: bool = False,
        raw: bool = False,
        cost_basis: str = "fifo",
    ) -> int:
        """Write a whole table (``exports.TABLES``: trades, orders, events, lots, closed-lots under
        ``cost_basis``) to a file or a binary stream (``open(path, 'wb')``, ``io.BytesIO``) as
        csv, jsonl or parquet; returns the rows written. A file is replaced only with ``force``,
        never when it is the ledger's own; CSV cells a spreadsheet would run as formulas are
        neutralised unless ``raw``."""
        return answer(self._ledger, asks.Export(table, out, format, force, raw, cost_basis))

    def export_lake(self, directory: str | Path) -> LakeReport:
        """Append to the Parquet lake at ``directory`` what the log holds past its manifest, and
        rewrite its snapshot tables (docs/analytics.md); safe to rerun or to kill at any point."""
        return answer(self._ledger, asks.ExportLake(directory))

    def execution_quality(
        self,
        *,
        by: str | list[str] | tuple[str, ...] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        lake: str | Path | None = None,
    ) -> list[ExecutionRow]:
        """Execution quality (slippage, fees, fill ratio, times, rates) per group ``by`` over the
        orders requested in [since, until), from the store or from ``lake``, in DuckDB."""
        grouped = tuple(by) if isinstance(by, list) else by
        asked = asks.ExecutionQuality(grouped, since, until, None if lake is None else str(lake))
        return answer(self._ledger, asked)


@checked_methods
class Upkeep(_Group):
    """``ledger.upkeep``: the schema, the storage's health, the views (catch up, lag, rebuild),
    the cursor secret and the collectors' leases (docs/operations.md)."""

    def init_database(
        self, app_role: str | None = None, password: str | None = None, cost_basis: str | None = None
    ) -> list[str]:
        """Create the schema (tables, indexes, append-only triggers) and, on PostgreSQL, the
        application role with ``password``; ``cost_basis`` sets the rule of a new ledger's
        positions and P&L (``set_cost_basis`` changes an existing one's); returns what was done,
        a line each."""
        return answer(self._ledger, asks.InitDatabase(app_role, password, cost_basis))

    def check_storage(self) -> None:
        """Raise the :class:`StoreError` that keeps this ledger from taking writes for good, if
        there is one: its SQLite file was deleted or replaced while the ledger had it open
        (``DatabaseReplacedError``; every write raises it too, before anything is acknowledged).
        ``orderledger serve``'s ``/health`` asks this."""
        failure = self._ledger.db.failure()
        if failure is not None:
            raise failure

    def catch_up(self) -> CatchUpStats:
        """Bring every view up to the end of the log, and finish any book's re-fold an ingest
        left for its end (``views_lag().unsettled``)."""
        return answer(self._ledger, asks.CatchUp())

    def views_position(self) -> int:
        """The log position every view has reached (what a ``project --follow`` reports)."""
        return answer(self._ledger, asks.ViewsPosition())

    def views_lag(self) -> ViewsLag:
        """How far the views are behind the log (``behind`` 0: current). Answers from the views
        (orders and positions now, trades, P&L, exports of orders and trades) show the log up to
        the slowest view's position; they do not fold what is missing (a reader may have no write
        access, and a large lag would make one query pay for it): they say it."""
        return answer(self._ledger, asks.Lag())

    @property
    def view_names(self) -> list[str]:
        """The views ``rebuild`` knows: orders, trades, positions …"""
        return list(self._ledger.views.by_name)

    def rebuild(
        self,
        names: Sequence[str] | None = None,
        *,
        progress: Callable[[int], None] | None = None,
        jobs: Annotated[int, Ge(1)] = 1,
    ) -> tuple[int, float]:
        """Refold views (default: all) from the whole log into new tables, then swap them in
        atomically; ``progress`` hears of each chunk of events; ``jobs`` processes fold side by
        side (the rows are the same). Returns (events, seconds)."""
        return answer(self._ledger, asks.Rebuild(None if names is None else tuple(names), jobs, progress))

    def rotate_cursor_secret(self) -> None:
        """Replace the secret the ledger seals its list cursors with: every cursor issued before,
        by any process, is refused from now on (``storage/cursors.py``)."""
        answer(self._ledger, asks.RotateCursorSecret())

    def collector_lease(
        self, venue: str, account: str | None, owner: str, pid: int, *, stale_after: timedelta | None = None
    ) -> None:
        """Take the collector lease of ``venue``/``account`` (``CollectorBusyError``: held by a live one)."""
        answer(self._ledger, command_requests.CollectorLease(venue, account, owner, pid, stale_after))

    def collector_heartbeat(
        self, venue: str, account: str | None, owner: str, figures: dict[str, Any]
    ) -> None:
        """Publish a collector's status figures (``LeaseLostError``: another one took over)."""
        answer(self._ledger, command_requests.CollectorHeartbeat(venue, account, owner, figures))

    def collector_release(self, venue: str, account: str | None, owner: str) -> None:
        """Give a collector's lease up."""
        answer(self._ledger, command_requests.CollectorRelease(venue, account, owner))

    def collectors(self) -> list[CollectorRow]:
        """The collectors running on this ledger, with their status figures (``/health``)."""
        rows: list[CollectorRow] = answer(self._ledger, Collectors())
        return rows


@checked_methods
class Venues(_Group):
    """``ledger.venues``: instrument definitions, CCXT markets, reconciliation against a venue's
    snapshot, the last venue time booked and settling a parked message."""

    def define_instrument(
        self,
        /,
        venue: str,
        instrument: str,
        *,
        ts: datetime | str | None = None,
        source: str = "api",
        **definition: Any,
    ) -> Result:
        """Record an instrument's definition (the fields of the ``instrument`` message:
        ``kind``, ``contract_size``, ``settlement``, ``settle_currency`` …; docs/messages.md).

        Unchanged: a duplicate; changed: the next version, used by fills booked after it.
        ``ts`` defaults to now.
        """
        return answer(
            self._ledger, asks.DefineInstrument(venue, instrument, tuple(definition.items()), ts, source)
        )

    def load_ccxt_markets(
        self,
        markets: Any,
        *,
        venue: str,
        ts: datetime | None = None,
        origin: str = "ccxt-markets",
        instrument_of: Callable[[str], str] | None = None,
    ) -> IngestReport:
        """Record the definitions of a CCXT markets dump (``exchange.load_markets()``): each
        market is journaled as received (format ``ccxt-markets``) with the definition read from
        it; unchanged ones are duplicates, and a market that cannot be read is rejected alone."""
        return answer(self._ledger, asks.LoadCcxtMarkets(markets, venue, ts, origin, instrument_of))

    @renamed_keywords(every_version="all_versions")
    @filtered("instruments")
    def instruments(
        self, where: Filter, *, all_versions: bool = False, count: Counting = False
    ) -> Page[InstrumentRow]:
        """Instrument definitions in force (or every version), from the log, by venue and
        instrument unless ``sort`` says otherwise; a :class:`Page`, as :meth:`orders` answers."""
        return answer(self._ledger, asks.Instruments(where, all_versions=all_versions, count=count))

    def reconcile(
        self,
        snapshot: Snapshot | str | bytes,
        *,
        apply: bool = False,
        grace: timedelta = timedelta(seconds=60),
        origin: str = "reconcile",
        known_at: Count | None = None,
    ) -> ReconcileReport:
        """Compare a venue's snapshot (docs/reconciliation.md) with the ledger and report the
        differences; with ``apply``, record the corrections. Orders requested within ``grace``
        are left alone, and so, given ``known_at`` (the log position when the snapshot was
        read), are orders the ledger first heard of after it: the snapshot cannot show them."""
        return answer(self._ledger, asks.Reconcile(snapshot, apply, grace, origin, known_at))

    def last_venue_time(self, venue: str, account: str | None) -> datetime | None:
        """The latest venue time booked for ``venue``/``account`` (a collector's backfill resumes there)."""
        found: datetime | None = answer(self._ledger, LastVenueTime(venue, account))
        return found

    def settle(
        self,
        message_id: int,
        *,
        reason: str,
        by: str,
        book: bool = False,
        account: str | None = None,
        origin: str = "api",
    ) -> int:
        """Settle a parked message by hand, recorded in a journal line of its own with who
        (``by``) and why (``reason``); returns that line's message ID.

        Without ``book`` the message is set aside: the parked line becomes ``ignored`` and no
        longer counts as parked. With ``book`` its input is read again as its format reads it
        (``account`` as ``ingest`` takes it) and recorded once more: where it carries an
        order's details the order is booked as an external one, and the parked line is then
        released as any parked line is when its order arrives. Refused, with nothing written,
        unless the message is parked (and, to book, carries the details); see docs/messages.md,
        "Settling a parked message"."""
        return answer(self._ledger, asks.Settle(message_id, reason, by, book, account, origin))


class _Grouped(Protocol):
    @property
    def upkeep(self) -> Upkeep: ...


class MovedCalls:
    """``OrderLedger``'s flat names of the grouped calls, each a deprecated forward to its
    group's method (``deprecated.moved``), kept until the release the warning names."""

    exposure = moved("risk_controls", RiskControls.exposure)
    limits = moved("risk_controls", RiskControls.limits)
    set_limit = moved("risk_controls", RiskControls.set_limit)
    clear_limit = moved("risk_controls", RiskControls.clear_limit)
    trading_states = moved("risk_controls", RiskControls.trading_states)
    set_trading_state = moved("risk_controls", RiskControls.set_trading_state)
    denials = moved("risk_controls", RiskControls.denials)
    respond = moved("risk_controls", RiskControls.respond)
    risk_replay = moved("risk_controls", RiskControls.risk_replay)

    verify = moved("audit", Audit.verify)
    head = moved("audit", Audit.head)
    order_events = moved("audit", Audit.order_events)
    iter_events = moved("audit", Audit.iter_events)
    events_after = moved("audit", Audit.events_after)
    messages = moved("audit", Audit.messages)
    iter_messages = moved("audit", Audit.iter_messages)

    lots = moved("analytics", Analytics.lots)
    cost_basis = moved("analytics", Analytics.cost_basis)
    set_cost_basis = moved("analytics", Analytics.set_cost_basis)
    pnl_daily = moved("analytics", Analytics.pnl_daily)
    pnl_series = moved("analytics", Analytics.pnl_series)
    export = moved("analytics", Analytics.export)
    export_lake = moved("analytics", Analytics.export_lake)
    execution_quality = moved("analytics", Analytics.execution_quality)

    init_database = moved("upkeep", Upkeep.init_database)
    check_storage = moved("upkeep", Upkeep.check_storage)
    catch_up = moved("upkeep", Upkeep.catch_up)
    views_position = moved("upkeep", Upkeep.views_position)
    views_lag = moved("upkeep", Upkeep.views_lag)
    rebuild = moved("upkeep", Upkeep.rebuild)
    rotate_cursor_secret = moved("upkeep", Upkeep.rotate_cursor_secret)
    collector_lease = moved("upkeep", Upkeep.collector_lease)
    collector_heartbeat = moved("upkeep", Upkeep.collector_heartbeat)
    collector_release = moved("upkeep", Upkeep.collector_release)
    collectors = moved("upkeep", Upkeep.collectors)

    define_instrument = moved("venues", Venues.define_instrument)
    load_ccxt_markets = moved("venues", Venues.load_ccxt_markets)
    instruments = moved("venues", Venues.instruments)
    reconcile = moved("venues", Venues.reconcile)
    last_venue_time = moved("venues", Venues.last_venue_time)
    settle = moved("venues", Venues.settle)

    @property
    @deprecated(moved_message("view_names", "upkeep", call=""))
    def view_names(self) -> list[str]:
        """Deprecated: ``upkeep.view_names``."""
        return cast(_Grouped, self).upkeep.view_names


__all__ = ["Analytics", "Audit", "MovedCalls", "RiskControls", "Upkeep", "Venues"]
