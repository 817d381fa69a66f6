"""The one dispatch: each request type of ``application.requests`` and the function that answers
it, declared once (``@handles(Orders)``). ``OrderLedger.handle`` looks the request's type up in
``HANDLERS``; the ledger's read methods build a request and hand it there, and so do the CLI and
the HTTP API, so a read is written once, here, whichever shell asks it.

A handler is handed the ledger as ``LedgerParts`` (the parts it uses), never the class.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.order import Order
from orderledger.domain.values import parse_timestamp
from orderledger.infrastructure.application import admin, lazy, reads, rule_views
from orderledger.infrastructure.application import exposure as _exposure
from orderledger.infrastructure.application import risk as _risk
from orderledger.infrastructure.application.daily_pnl import daily_pnl_rows
from orderledger.infrastructure.application.instruments import list_instruments
from orderledger.infrastructure.application.parents import parent_page
from orderledger.infrastructure.application.parts import LedgerParts
from orderledger.infrastructure.application.queries import (
    order_page,
    realized_series,
    trade_page,
)
from orderledger.infrastructure.application.requests import (
    REQUESTS,
    Check,
    Events,
    EventsAfter,
    ExecutionQuality,
    Exposure,
    History,
    Ingest,
    Instruments,
    Lag,
    Limits,
    LogPosition,
    Lots,
    Messages,
    OrderAt,
    Orders,
    Parents,
    Pnl,
    PnlDaily,
    PnlSeries,
    Positions,
    Reconcile,
    Request,
    Risk,
    Settle,
    SetTradingState,
    Trades,
    TradingStates,
    Verify,
)
from orderledger.infrastructure.application.watch import LimitStatus, standing
from orderledger.infrastructure.audit.search import event_page, events_after, message_page
from orderledger.infrastructure.audit.verify import VerifyReport, write_progress
from orderledger.infrastructure.listing import Page
from orderledger.infrastructure.results import (
    DailyPnlRow,
    EventRecord,
    ExposureRow,
    HistoryEntry,
    InstrumentRow,
    LotRow,
    MessageRecord,
    OrderRow,
    ParentRow,
    PnlPoint,
    PnlRow,
    PositionRow,
    TradeRow,
    ViewsLag,
)
from orderledger.projections.lots import cost_basis_named

# The analytics (DuckDB) are imported when first asked (``application.lazy``).
# So are the writes (ingest, its adapters and message models) and reconciliation.
if TYPE_CHECKING:
    from orderledger.infrastructure.application import execution as _execution
    from orderledger.infrastructure.application import reconcile as _reconcile
    from orderledger.infrastructure.application import recording
    from orderledger.infrastructure.application.execution import ExecutionRow
    from orderledger.infrastructure.application.reconcile import ReconcileReport
    from orderledger.infrastructure.application.recording import Ingested
    from orderledger.infrastructure.ingest.processing import Result
else:
    _execution = lazy.Module("orderledger.infrastructure.application.execution")
    _reconcile = lazy.Module("orderledger.infrastructure.application.reconcile")
    recording = lazy.Module("orderledger.infrastructure.application.recording")

T = TypeVar("T")
Q = TypeVar("Q", bound=Request[Any])
Handler = Callable[[LedgerParts, Any], Any]

HANDLERS: dict[type[Request[Any]], Handler] = {}
"""Request type → the function that answers it (filled by :func:`handles`)."""


def handles(kind: type[Q]) -> Callable[[Callable[[LedgerParts, Q], T]], Callable[[LedgerParts, Q], T]]:
    """Declare the function that answers requests of type ``kind`` (once per type)."""

    def declare(handler: Callable[[LedgerParts, Q], T]) -> Callable[[LedgerParts, Q], T]:
        if kind in HANDLERS:
            raise TypeError(f"{kind.__name__} is answered by {HANDLERS[kind].__name__} already")
        HANDLERS[kind] = handler
        return handler

    return declare


def handle(ledger: LedgerParts, request: Request[T]) -> T:
    """The answer to ``request`` (``OrderLedger.handle``)."""
    handler = HANDLERS.get(type(request))
    if handler is None:
        raise InvalidInputError(
            f"handle(): {type(request).__name__} is not a request the ledger answers"
            f" (orderledger.requests names them)",
            field="request",
        )
    try:
        answer: T = handler(ledger, request)
    finally:
        # A read that found the lots view far behind folded the log: the view is brought up in
        # the background once the answer is made, not beside the read's own fold.
        rule_views.later(ledger)
    return answer


# ---------------------------------------------------------------------- one order


@handles(OrderAt)
def order_at(ledger: LedgerParts, request: OrderAt) -> Order:
    if request.version is not None and request.as_of is not None:
        raise InvalidInputError("give a version or an as-of time, not both")
    client_order_id = ledger.resolve(request.order)
    if request.as_of is not None:
        moment = parse_timestamp(request.as_of, "as_of")
        return reads.order_as_of(ledger, client_order_id, moment, event_time=request.event_time)
    return reads.order_now(ledger, client_order_id, version=request.version)


@handles(History)
def history(ledger: LedgerParts, request: History) -> list[HistoryEntry]:
    return reads.history(ledger, request.order)


# ---------------------------------------------------------------------- lists


@handles(Orders)
def orders(ledger: LedgerParts, request: Orders) -> Page[OrderRow]:
    where, count = request.where, request.count
    if request.as_of is None:
        return order_page(ledger.db, where, open_only=request.open, count=count)
    return reads.orders_then(
        ledger, where, open=request.open, as_of=request.as_of, event_time=request.event_time, count=count
    )


@handles(Trades)
def trades(ledger: LedgerParts, request: Trades) -> Page[TradeRow]:
    where = request.where
    if where.client_order_id is not None:
        where = replace(where, client_order_id=ledger.resolve(where.client_order_id))
    return trade_page(ledger.db, where, count=request.count)


@handles(Events)
def events(ledger: LedgerParts, request: Events) -> Page[EventRecord]:
    wanted = reads.event_filter(ledger, request.where, request.types, request.event_time)
    return event_page(ledger.db, ledger.mapper, wanted, request.where, count=request.count)


@handles(Messages)
def messages(ledger: LedgerParts, request: Messages) -> Page[MessageRecord]:
    selected, outcome = reads.journal_filter(
        request.where, request.outcome, request.parked, request.older_than
    )
    if selected is None:
        return Page([], None, 0 if request.count else None)
    return message_page(ledger.db, selected, outcome=outcome, count=request.count)


@handles(Positions)
def positions(ledger: LedgerParts, request: Positions) -> Page[PositionRow]:
    return reads.position_list(
        ledger,
        request.where,
        marks=dict(request.marks),
        as_of=request.as_of,
        event_time=request.event_time,
        cost_basis=request.cost_basis,
        count=request.count,
    )


@handles(Instruments)
def instruments(ledger: LedgerParts, request: Instruments) -> Page[InstrumentRow]:
    where, every_version = request.where, request.all_versions
    rows = list_instruments(ledger.db, ledger.mapper, venue=where.venue, every_version=every_version)
    selection = {"every_version": every_version}
    return reads.held_page(ledger.db, "instruments", rows, where, selection, request.count)


@handles(Parents)
def parents(ledger: LedgerParts, request: Parents) -> Page[ParentRow]:
    return parent_page(ledger.db, request.where, count=request.count)


# ---------------------------------------------------------------------- figures


@handles(Lots)
def lots(ledger: LedgerParts, request: Lots) -> list[LotRow]:
    rule = request.cost_basis
    if rule == "average":
        raise InvalidInputError("lots need a lot rule: fifo, lifo or hifo, not average", field="cost_basis")
    if request.as_of is None and cost_basis_named(rule) and rule_views.stored(ledger):
        stored = rule_views.closed_lots if request.closed else rule_views.open_lots
        return stored(ledger.db, rule)
    books = reads.rule_books(ledger, rule, request.as_of, request.event_time)
    if request.closed:
        return [LotRow.of_closed(rule, lot) for b in books.values() for lot in b.closed]
    return [LotRow.of_open(rule, lot) for b in books.values() for lot in b.open]


@handles(Pnl)
def pnl(ledger: LedgerParts, request: Pnl) -> list[PnlRow]:
    return reads.pnl(ledger, by=request.by, cost_basis=request.cost_basis)


@handles(PnlDaily)
def pnl_daily(ledger: LedgerParts, request: PnlDaily) -> list[DailyPnlRow]:
    rule = request.cost_basis or ledger.cost_basis()
    if request.by == "account" and cost_basis_named(rule) and rule_views.stored(ledger):
        return daily_pnl_rows(ledger.db, request.by, rule, rule_views.days(ledger.db, rule))
    return daily_pnl_rows(ledger.db, request.by, rule)


@handles(PnlSeries)
def pnl_series(ledger: LedgerParts, request: PnlSeries) -> list[PnlPoint]:
    return realized_series(ledger.db, request.points)


@handles(ExecutionQuality)
def execution_quality(ledger: LedgerParts, request: ExecutionQuality) -> list[ExecutionRow]:
    return _execution.execution_quality(
        ledger, by=request.by, since=request.since, until=request.until, lake=request.lake
    )


@handles(Exposure)
def exposure(ledger: LedgerParts, request: Exposure) -> list[ExposureRow]:
    marks = dict(request.marks)
    return _exposure.exposure_rows(
        ledger, request.by, marks, as_of=request.as_of, event_time=request.event_time
    )


# ---------------------------------------------------------------------- the log and its checks


@handles(Verify)
def verify(ledger: LedgerParts, request: Verify) -> VerifyReport:
    return admin.verify_ledger(
        ledger,
        expect_head=request.expect_head,
        heads=dict(request.heads),
        journal_heads=dict(request.journal_heads),
        deep=request.deep,
        incremental=request.incremental,
        anchor=request.anchor,
        progress=None
        if request.progress_file is None
        else functools.partial(write_progress, request.progress_file),
    )


@handles(LogPosition)
def log_position(ledger: LedgerParts, request: LogPosition) -> int:
    return ledger.recorder.max_notification_id() or 0


@handles(Lag)
def lag(ledger: LedgerParts, request: Lag) -> ViewsLag:
    return ViewsLag(*ledger.views.lag())


@handles(EventsAfter)
def after(ledger: LedgerParts, request: EventsAfter) -> list[EventRecord]:
    found = events_after(ledger.db, ledger.mapper, request.position, request.limit)
    return [EventRecord.of(p, e, m) for p, e, m in found]


# ---------------------------------------------------------------------- commands


@handles(Ingest)
def ingest(ledger: LedgerParts, request: Ingest) -> Ingested:
    results: list[Result] = []
    report = recording.ingest_lines(
        ledger,
        request.lines,
        origin=request.origin,
        strict=request.strict,
        on_batch=results.extend,
        fmt=request.format,
        venue=request.venue,
        account=request.account,
        options=dict(request.options),
    )
    if not report.stored:  # a refused strict batch: on_batch was not called
        results = report.rejected
    return recording.Ingested(report, results)


@handles(Reconcile)
def reconcile(ledger: LedgerParts, request: Reconcile) -> ReconcileReport:
    return _reconcile.reconcile(
        ledger,
        request.snapshot,
        apply=request.apply,
        grace=request.grace,
        origin=request.origin,
        known_at=request.known_at,
    )


@handles(Settle)
def settle(ledger: LedgerParts, request: Settle) -> int:
    return recording.settle(
        ledger,
        request.message_id,
        reason=request.reason,
        by=request.by,
        book=request.book,
        account=request.account,
        origin=request.origin,
    )


@handles(Limits)
def limits(ledger: LedgerParts, request: Limits) -> list[_risk.LimitRow]:
    return _risk.limits(ledger, request.as_of)


@handles(TradingStates)
def trading_states(ledger: LedgerParts, request: TradingStates) -> list[_risk.TradingStateRow]:
    return _risk.trading_states(ledger, request.as_of)


@handles(Risk)
def risk(ledger: LedgerParts, request: Risk) -> list[LimitStatus]:
    share = request.threshold
    if not share.is_finite() or not 0 < share <= 1:
        raise InvalidInputError("threshold must be a share above 0 and at most 1", field="threshold")
    return standing(ledger, share, ledger._clock())


@handles(SetTradingState)
def set_trading_state(ledger: LedgerParts, request: SetTradingState) -> Result:
    fields = {"account": request.account, "state": request.state, "set_by": request.set_by}
    message = _risk.fact_message(
        "trading_state", request.ts or ledger._clock(), **fields, reason=request.reason
    )
    return _risk.record_fact(ledger, message)


@handles(Check)
def check(ledger: LedgerParts, request: Check) -> _risk.CheckResult:
    now = ledger._clock()
    order = _risk.request_of(request.spec, now)
    with ledger._writing:  # the daily loss rule may record a halt
        return _risk.check(ledger, order, now)


_missing = set(REQUESTS) - set(HANDLERS)
if _missing:  # every request type is answered: a new one without its handler fails at import
    raise TypeError(f"no handler for {', '.join(sorted(k.__name__ for k in _missing))}")


__all__ = ["HANDLERS", "handle", "handles"]
