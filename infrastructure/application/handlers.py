"""The reads' handlers: each read of ``application.requests`` and the function that answers it,
paired in one literal table (``READ_HANDLERS``, at the end). ``application.bootstrap`` looks a
request's type up there (a command's in ``application.command_handlers``); the ledger's methods,
the CLI and the HTTP API all ask through it, so each answer is written once, whichever shell asks.

A handler is handed the ledger as ``LedgerParts`` (the parts it uses), never the class.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.events import OrderEvent
from orderledger.domain.exposure import one_currency
from orderledger.domain.order import Order
from orderledger.domain.values import ClientOrderId, parse_timestamp
from orderledger.infrastructure.application import lazy_imports
from orderledger.infrastructure.application.ledger_protocol import LedgerParts
from orderledger.infrastructure.application.reads import order_figures
from orderledger.infrastructure.application.reads.follow import CommittedEvent, read_after
from orderledger.infrastructure.application.reads.instruments import list_instruments
from orderledger.infrastructure.application.reads.parents import parent_page
from orderledger.infrastructure.application.reads.pnl_series import realized_series
from orderledger.infrastructure.application.reads.view_queries import checked_marks, order_page, trade_page
from orderledger.infrastructure.application.reads.view_queries import iter_orders as _iter_orders
from orderledger.infrastructure.application.reads.view_queries import iter_trades as _iter_trades
from orderledger.infrastructure.application.requests import (
    ChainHead,
    Collectors,
    CommittedAfter,
    CostBasis,
    Denials,
    Events,
    EventsAfter,
    ExecutionQuality,
    Exposure,
    History,
    Instruments,
    IterEvents,
    IterMessages,
    IterOrders,
    IterTrades,
    Lag,
    LastVenueTime,
    Limits,
    LogPosition,
    Lots,
    Messages,
    OrderAt,
    OrderEvents,
    Orders,
    Parents,
    Pnl,
    PnlDaily,
    PnlSeries,
    Positions,
    Reconcile,
    ReplayLimits,
    Request,
    Resolve,
    Risk,
    Trades,
    TradingStates,
    Verify,
    ViewsPosition,
)
from orderledger.infrastructure.application.risk import desk_currency as _desk
from orderledger.infrastructure.audit.search import event_page, events_after, message_page
from orderledger.infrastructure.audit.search import iter_messages as _iter_messages
from orderledger.infrastructure.listing import Page
from orderledger.infrastructure.results.head import Head
from orderledger.infrastructure.results.log import EventRecord, HistoryEntry, InstrumentRow, MessageRecord
from orderledger.infrastructure.results.orders import OrderRow, ParentRow
from orderledger.infrastructure.results.pnl import DailyPnlRow, PnlPoint, PnlRow
from orderledger.infrastructure.results.positions import ExposureRow, LotRow, PositionRow
from orderledger.infrastructure.results.trades import TradeRow
from orderledger.infrastructure.results.views_lag import ViewsLag
from orderledger.projections.lots import COST_BASIS_SETTING

# The analytics (DuckDB) are imported when first asked (``application.lazy_imports``). So are
# reconciliation, verify (with the upkeep, ``admin``), the chains' heads, the risk controls,
# exposure, daily P&L and the collectors' rows: a process that reads orders, trades or positions
# loads none of them. The commands (the writes: ingest, its adapters and message models; the
# upkeep; the collectors' leases) are answered by ``command_handlers``, imported with the first.
if TYPE_CHECKING:
    from orderledger.infrastructure.application.analytics import execution as _execution
    from orderledger.infrastructure.application.analytics.execution import ExecutionRow
    from orderledger.infrastructure.application.reads import daily_pnl as _daily_pnl
    from orderledger.infrastructure.application.risk import exposure_rows as _exposure_rows
    from orderledger.infrastructure.application.risk import limits_replay as _limits_replay
    from orderledger.infrastructure.application.risk import pretrade as _pretrade
    from orderledger.infrastructure.application.risk import standing as _standing
    from orderledger.infrastructure.application.risk.standing import LimitStatus
    from orderledger.infrastructure.application.upkeep import collector_leases, maintenance
    from orderledger.infrastructure.application.upkeep import reconcile as _reconcile
    from orderledger.infrastructure.application.upkeep.reconcile import ReconcileReport
    from orderledger.infrastructure.audit import heads as _heads
    from orderledger.infrastructure.audit import verify as _verify
    from orderledger.infrastructure.audit.verify import VerifyReport
    from orderledger.infrastructure.results.replay import RiskReplay
else:
    maintenance = lazy_imports.Module("orderledger.infrastructure.application.upkeep.maintenance")
    collector_leases = lazy_imports.Module("orderledger.infrastructure.application.upkeep.collector_leases")
    _daily_pnl = lazy_imports.Module("orderledger.infrastructure.application.reads.daily_pnl")
    _execution = lazy_imports.Module("orderledger.infrastructure.application.analytics.execution")
    _exposure_rows = lazy_imports.Module("orderledger.infrastructure.application.risk.exposure_rows")
    _reconcile = lazy_imports.Module("orderledger.infrastructure.application.upkeep.reconcile")
    _pretrade = lazy_imports.Module("orderledger.infrastructure.application.risk.pretrade")
    _limits_replay = lazy_imports.Module("orderledger.infrastructure.application.risk.limits_replay")
    _standing = lazy_imports.Module("orderledger.infrastructure.application.risk.standing")
    _heads = lazy_imports.Module("orderledger.infrastructure.audit.heads")
    _verify = lazy_imports.Module("orderledger.infrastructure.audit.verify")

Handler = Callable[[LedgerParts, Any], Any]
"""What answers a request: the ledger's parts and the request in, the answer out."""


# ---------------------------------------------------------------------- one order


def order_at(ledger: LedgerParts, request: OrderAt) -> Order:
    if request.version is not None and request.as_of is not None:
        raise InvalidInputError("give a version or an as-of time, not both")
    client_order_id = ledger.resolve(request.order)
    if request.as_of is not None:
        moment = parse_timestamp(request.as_of, "as_of")
        return order_figures.order_as_of(ledger, client_order_id, moment, event_time=request.event_time)
    return order_figures.order_now(ledger, client_order_id, version=request.version)


def history(ledger: LedgerParts, request: History) -> list[HistoryEntry]:
    return order_figures.history(ledger, request.order)


# ---------------------------------------------------------------------- lists


def orders(ledger: LedgerParts, request: Orders) -> Page[OrderRow]:
    where, count = request.where, request.count
    if request.as_of is None:
        return order_page(ledger.db, where, open_only=request.open, count=count)
    return order_figures.orders_then(
        ledger, where, open=request.open, as_of=request.as_of, event_time=request.event_time, count=count
    )


def trades(ledger: LedgerParts, request: Trades) -> Page[TradeRow]:
    where = request.where
    if where.client_order_id is not None:
        where = replace(where, client_order_id=ledger.resolve(where.client_order_id))
    return trade_page(ledger.db, where, count=request.count)


def events(ledger: LedgerParts, request: Events) -> Page[EventRecord]:
    wanted = order_figures.event_filter(ledger, request.where, request.types, request.event_time)
    return event_page(ledger.db, ledger.mapper, wanted, request.where, count=request.count)


def messages(ledger: LedgerParts, request: Messages) -> Page[MessageRecord]:
    selected, outcome = order_figures.journal_filter(
        request.where, request.outcome, request.parked, request.older_than
    )
    if selected is None:
        return Page([], None, 0 if request.count else None)
    return message_page(ledger.db, selected, outcome=outcome, count=request.count)


def positions(ledger: LedgerParts, request: Positions) -> Page[PositionRow]:
    into = one_currency(request.in_currency)
    page = order_figures.position_list(
        ledger,
        request.where,
        marks=checked_marks(request.marks),
        as_of=request.as_of,
        event_time=request.event_time,
        cost_basis=request.cost_basis,
        count=request.count,
    )
    if into is None:
        return page
    when = None if request.as_of is None else parse_timestamp(request.as_of, "as_of")
    rate = _desk.desk_rates(ledger, into, when, request.event_time)
    return Page(
        [_desk.position_in(row, into, rate) for row in page], page.next_cursor, page.total, page.capped
    )


def instruments(ledger: LedgerParts, request: Instruments) -> Page[InstrumentRow]:
    where, every_version = request.where, request.all_versions
    rows = list_instruments(ledger.db, ledger.mapper, venue=where.venue, every_version=every_version)
    selection = {"every_version": every_version}
    return order_figures.held_page(ledger.db, "instruments", rows, where, selection, request.count)


def parents(ledger: LedgerParts, request: Parents) -> Page[ParentRow]:
    return parent_page(ledger.db, request.where, count=request.count)


# ---------------------------------------------------------------------- figures


def lots(ledger: LedgerParts, request: Lots) -> list[LotRow]:
    rule = request.cost_basis
    if rule == "average":
        raise InvalidInputError("lots need a lot rule: fifo, lifo or hifo, not average", field="cost_basis")
    moment = None if request.as_of is None else parse_timestamp(request.as_of, "as_of")
    if request.closed:
        return [
            LotRow.of_closed(rule, lot)
            for lot in order_figures.rule_closed(ledger, rule, moment, request.event_time)
        ]
    heads = order_figures.rule_heads_at(ledger, rule, moment, request.event_time)
    if heads is not None:
        return [LotRow.of_open(rule, lot) for _, head in sorted(heads.items()) for lot in head.open]
    books = order_figures.rule_books(ledger, rule, request.as_of, request.event_time)
    return [LotRow.of_open(rule, lot) for b in books.values() for lot in b.open]


def pnl(ledger: LedgerParts, request: Pnl) -> list[PnlRow]:
    into = one_currency(request.in_currency)
    rows = order_figures.pnl(ledger, by=request.by, cost_basis=request.cost_basis)
    if into is None:
        return rows
    return _desk.pnl_in(rows, into, _desk.desk_rates(ledger, into, None))


def pnl_daily(ledger: LedgerParts, request: PnlDaily) -> list[DailyPnlRow]:
    rule = request.cost_basis or ledger.analytics.cost_basis()
    return _daily_pnl.book_daily_rows(ledger, rule, request.by)


def pnl_series(ledger: LedgerParts, request: PnlSeries) -> list[PnlPoint]:
    return realized_series(ledger.db, request.points)


def execution_quality(ledger: LedgerParts, request: ExecutionQuality) -> list[ExecutionRow]:
    return _execution.execution_quality(
        ledger, by=request.by, since=request.since, until=request.until, lake=request.lake
    )


def exposure(ledger: LedgerParts, request: Exposure) -> list[ExposureRow]:
    marks = checked_marks(request.marks)
    return _exposure_rows.exposure_rows(
        ledger,
        request.by,
        marks,
        as_of=request.as_of,
        event_time=request.event_time,
        currency=request.in_currency,
    )


# ---------------------------------------------------------------------- the log and its checks


def verify(ledger: LedgerParts, request: Verify) -> VerifyReport:
    return maintenance.verify_ledger(
        ledger,
        expect_head=request.expect_head,
        heads=dict(request.heads),
        journal_heads=dict(request.journal_heads),
        deep=request.deep,
        incremental=request.incremental,
        anchor=request.anchor,
        progress=None
        if request.progress_file is None
        else functools.partial(_verify.write_progress, request.progress_file),
    )


def log_position(ledger: LedgerParts, request: LogPosition) -> int:
    return ledger.recorder.max_notification_id() or 0


def lag(ledger: LedgerParts, request: Lag) -> ViewsLag:
    return ViewsLag(*ledger.views.lag())


def after(ledger: LedgerParts, request: EventsAfter) -> list[EventRecord]:
    found = events_after(ledger.db, ledger.mapper, request.position, request.limit)
    return [EventRecord.of(p, e, m) for p, e, m in found]


# ---------------------------------------------------------------------- commands


def reconcile(ledger: LedgerParts, request: Reconcile) -> ReconcileReport:
    return _reconcile.reconcile(
        ledger,
        request.snapshot,
        apply=request.apply,
        grace=request.grace,
        origin=request.origin,
        known_at=request.known_at,
    )


def limits(ledger: LedgerParts, request: Limits) -> list[_pretrade.LimitRow]:
    return _pretrade.limits(ledger, request.as_of)


def denials(ledger: LedgerParts, request: Denials) -> list[_pretrade.DenialRow]:
    return _pretrade.denials(ledger, request.account, request.limit, request.since, request.last)


def trading_states(ledger: LedgerParts, request: TradingStates) -> list[_pretrade.TradingStateRow]:
    return _pretrade.trading_states(ledger, request.as_of)


def replay_limits(ledger: LedgerParts, request: ReplayLimits) -> RiskReplay:
    return _limits_replay.risk_replay(ledger, _limits_replay.parse_limits(request.limits), request.since)


def risk(ledger: LedgerParts, request: Risk) -> list[LimitStatus]:
    share = request.threshold
    if not share.is_finite() or not 0 < share <= 1:
        raise InvalidInputError("threshold must be a share above 0 and at most 1", field="threshold")
    return _standing.standing(ledger, share, ledger._clock())


# ---------------------------------------------------------------------- one order, the log in full


def resolve(ledger: LedgerParts, request: Resolve) -> ClientOrderId:
    return order_figures.resolve(ledger, request.order, request.venue)


def order_events(ledger: LedgerParts, request: OrderEvents) -> list[OrderEvent]:
    return order_figures.order_events(ledger, request.client_order_id)


def iter_orders(ledger: LedgerParts, request: IterOrders) -> Iterator[OrderRow]:
    if request.as_of is None:
        return _iter_orders(ledger.db, request.where, open_only=request.open)
    every = order_figures.orders_then(
        ledger,
        request.where,
        open=request.open,
        as_of=request.as_of,
        event_time=request.event_time,
        count=False,
    )
    return iter(every)


def iter_trades(ledger: LedgerParts, request: IterTrades) -> Iterator[TradeRow]:
    where = request.where
    if where.client_order_id is not None:
        where = replace(where, client_order_id=ledger.resolve(where.client_order_id))
    return _iter_trades(ledger.db, where)


def iter_events(ledger: LedgerParts, request: IterEvents) -> Iterator[EventRecord]:
    return order_figures.iter_events(ledger, request.where, request.types, request.event_time)


def iter_messages(ledger: LedgerParts, request: IterMessages) -> Iterator[MessageRecord]:
    selected, outcome = order_figures.journal_filter(
        request.where, request.outcome, request.parked, request.older_than
    )
    return iter(()) if selected is None else _iter_messages(ledger.db, selected, outcome=outcome)


def committed_after(ledger: LedgerParts, request: CommittedAfter) -> list[CommittedEvent]:
    return read_after(ledger, request.position, request.limit)


def chain_head(ledger: LedgerParts, request: ChainHead) -> Head | None:
    found, journal = _heads.stored_head(ledger.db), _heads.stored_journal_head(ledger.db)
    if found is None and journal is None:
        return None
    return Head(*(found or (0, "")), journal=journal)


# ---------------------------------------------------------------------- the views


def views_position(ledger: LedgerParts, request: ViewsPosition) -> int:
    return max(ledger.views.positions().values())


# ---------------------------------------------------------------------- the ledger's settings


def cost_basis(ledger: LedgerParts, request: CostBasis) -> str:
    return ledger.recorder.setting(COST_BASIS_SETTING) or "average"


# ---------------------------------------------------------------------- exports


# ---------------------------------------------------------------------- collectors


def collector_rows(ledger: LedgerParts, request: Collectors) -> list[collector_leases.CollectorRow]:
    return collector_leases.rows(ledger.db, collector_leases.wall_clock())


def last_venue_time(ledger: LedgerParts, request: LastVenueTime) -> datetime | None:
    return collector_leases.last_venue_time(ledger, request.venue, request.account)


READ_HANDLERS: dict[type[Request[Any]], Handler] = {
    OrderAt: order_at,
    History: history,
    Orders: orders,
    Trades: trades,
    Events: events,
    Messages: messages,
    Positions: positions,
    Instruments: instruments,
    Parents: parents,
    Lots: lots,
    Pnl: pnl,
    PnlDaily: pnl_daily,
    PnlSeries: pnl_series,
    ExecutionQuality: execution_quality,
    Exposure: exposure,
    Verify: verify,
    LogPosition: log_position,
    Lag: lag,
    EventsAfter: after,
    Reconcile: reconcile,
    Limits: limits,
    TradingStates: trading_states,
    Denials: denials,
    ReplayLimits: replay_limits,
    Risk: risk,
    Resolve: resolve,
    OrderEvents: order_events,
    IterOrders: iter_orders,
    IterTrades: iter_trades,
    IterEvents: iter_events,
    IterMessages: iter_messages,
    CommittedAfter: committed_after,
    ChainHead: chain_head,
    ViewsPosition: views_position,
    CostBasis: cost_basis,
    Collectors: collector_rows,
    LastVenueTime: last_venue_time,
}
"""Each read (``application.requests.READS``) and the function here that answers it."""


__all__ = ["READ_HANDLERS", "Handler"]
