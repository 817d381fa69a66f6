"""Reading orders and their figures: the bodies of ``OrderLedger``'s reads that are more than one
call (resolving a key to an order, an order now or as of a time, its history, orders as of a time,
positions, lots and P&L under a cost-basis rule, the parked-message filters of the journal).

``OrderLedger`` keeps the public methods (their signatures and the argument checks); each
delegates here with itself as ``ledger``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import islice
from typing import TYPE_CHECKING, Any
from uuid import UUID

from orderledger.domain.errors import InvalidInputError, OrderNotFoundError
from orderledger.domain.events import FillBusted, FillCorrected, OrderEvent, OrderRequested
from orderledger.domain.folds import replay
from orderledger.domain.identity import ALIAS, VENUE_ORDER_ID
from orderledger.domain.order import Order, order_id_for
from orderledger.domain.order_requests import is_external_key
from orderledger.domain.outcomes import Outcome
from orderledger.domain.values import ClientOrderId, format_timestamp, parse_timestamp
from orderledger.infrastructure.application import lazy_imports
from orderledger.infrastructure.application.argument_checks import Version
from orderledger.infrastructure.application.reads.view_queries import (
    cash_flows_by,
    grouped_pnl,
    order_parents,
    pnl_rows,
    pnl_tag,
    position_rows,
    positions,
    recorded_rates,
)
from orderledger.infrastructure.audit.search import (
    EventFilter,
    orders_as_of,
    positions_as_of,
    search_events,
    search_records,
)
from orderledger.infrastructure.listing import Page, ordering, row_value, sorted_page
from orderledger.infrastructure.results.filter import Filter
from orderledger.infrastructure.results.log import EventRecord, HistoryEntry
from orderledger.infrastructure.results.orders import OrderRow
from orderledger.infrastructure.results.pnl import PnlRow
from orderledger.infrastructure.results.positions import PositionRow
from orderledger.infrastructure.storage import cursors
from orderledger.infrastructure.storage.db import Database
from orderledger.projections.book import ZERO
from orderledger.projections.lots import (
    ACCOUNT,
    CLOSED,
    IN,
    Book,
    ClosedLot,
    CostBasis,
    Fill,
    day_of,
    fills_of,
    fold_books,
)
from orderledger.projections.lots import cost_basis_named as _cost_basis

if TYPE_CHECKING:
    from orderledger.infrastructure.application.ledger_protocol import LedgerParts
    from orderledger.infrastructure.application.reads import lots_at_head as _lots_at_head
    from orderledger.projections.lots import LotHead
else:  # (a read of the views alone never imports the lot heads: ``application.lazy_imports``)
    _lots_at_head = lazy_imports.Module("orderledger.infrastructure.application.reads.lots_at_head")


def resolve(ledger: LedgerParts, key: str, venue: str | None = None) -> ClientOrderId:
    """``OrderLedger.resolve``: the client order ID a key names (itself, a venue order ID, an alias)."""
    with ledger._writing:  # the processor's order cache is shared with writers
        # (no processor yet, as in a process that only reads: the log, not ingest's cache)
        processor = vars(ledger).get("processor")
        known = (folded(ledger, key) if processor is None else processor.load_order(key)) is not None
    if known:
        return ClientOrderId(key)
    with ledger.db.read() as tx:
        if "=" in key:
            name, value = key.split("=", 1)
            rows = tx.all(
                "SELECT venue, client_order_id FROM identities WHERE kind = ? AND value = ?",
                (ALIAS + name, value),
            )
        else:
            rows = tx.all(
                "SELECT venue, client_order_id FROM identities WHERE kind = ? AND value = ?",
                (VENUE_ORDER_ID, key),
            )
    rows = [r for r in rows if venue is None or r[0] == venue]
    if len(rows) == 1:
        owner = str(rows[0][1])
        if is_external_key(owner):  # an external order merged into ours leads to ours
            order = folded(ledger, owner)
            if order is not None and order.merged_into is not None:
                return ClientOrderId(order.merged_into)
        return ClientOrderId(owner)
    if len(rows) > 1:
        raise OrderNotFoundError(f"{key!r} names orders at several venues; give `venue`")
    raise OrderNotFoundError(f"no order {key!r} (client order ID, venue order ID or alias)")


def order_now(ledger: LedgerParts, client_order_id: str, *, version: Version | None = None) -> Order:
    """An order now, or at a given version."""
    order = folded(ledger, client_order_id, version)
    if order is None:
        raise OrderNotFoundError(f"no order {client_order_id!r}", client_order_id=client_order_id)
    if version is not None and order.version < version:
        raise InvalidInputError(
            f"order {client_order_id!r} has no version {version} (its last is {order.version})",
            field="version",
        )
    return order


def folded(ledger: LedgerParts, client_order_id: str, version: Version | None = None) -> Order | None:
    """An order folded from its events in the log (up to ``version``), or None."""
    stored = ledger.recorder.select_events(
        order_id_for(client_order_id), lte=version, client_order_id=client_order_id
    )
    return replay(
        ledger.mapper.decode(s.topic, s.state, s.originator_id, s.originator_version) for s in stored
    )


def order_as_of(
    ledger: LedgerParts, client_order_id: str, as_of: datetime, *, event_time: bool = False
) -> Order:
    """An order as the ledger knew it at ``as_of`` (recorded time, or venue time)."""
    order: Order | None = None
    for event in order_events(ledger, client_order_id):
        if (event.ts_event if event_time else event.ts_recorded) > as_of:
            continue
        if order is None:
            if not isinstance(event, OrderRequested):
                continue  # a venue clock ahead of ours: the order did not exist yet
            order = replay([event])
        elif isinstance(event, FillBusted | FillCorrected) and event.trade_id not in order.fills:
            continue  # by venue time the trade had not happened yet
        else:
            order.apply(event)
    if order is None:
        raise OrderNotFoundError(
            f"order {client_order_id!r} did not exist at {format_timestamp(as_of)}",
            client_order_id=client_order_id,
        )
    return order


def order_events(ledger: LedgerParts, client_order_id: str) -> list[OrderEvent]:
    """Every event of one order, in version order."""
    stored = ledger.recorder.select_events(order_id_for(client_order_id), client_order_id=client_order_id)
    return [ledger.mapper.decode(s.topic, s.state, s.originator_id, s.originator_version) for s in stored]


def history(ledger: LedgerParts, key: str) -> list[HistoryEntry]:
    """``OrderLedger.history``: every event of one order beside the message that produced it."""
    client_order_id = resolve(ledger, key)
    with ledger.db.read() as tx:
        rows = tx.all(
            "SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, e.state,"
            " m.message_id, m.raw, m.origin, m.line_no FROM events e"
            " LEFT JOIN messages m ON m.message_id = e.message_id"
            " WHERE e.client_order_id = ? AND e.originator_id = ? ORDER BY e.originator_version",
            (client_order_id, str(order_id_for(client_order_id))),
        )
    if not rows:
        raise OrderNotFoundError(f"no order {client_order_id!r}", client_order_id=client_order_id)
    decode = ledger.mapper.decode
    return [
        HistoryEntry(
            r[0],
            decode(r[3], bytes(r[4]), UUID(r[1]), r[2]),
            r[5],
            None if r[6] is None else bytes(r[6]),
            r[7],
            r[8],
        )
        for r in rows
    ]


def orders_then(
    ledger: LedgerParts, where: Filter, *, open: bool, as_of: datetime, event_time: bool, count: bool | int
) -> Page[OrderRow]:
    """The orders ``where`` selects as the ledger knew them ``as_of`` (folded from the log),
    sorted and paged as the orders view's are."""
    moment = parse_timestamp(as_of, "as_of")
    folded = orders_as_of(ledger.db, ledger.mapper, moment, event_time=event_time, open_only=open)
    seal = cursors.seal(ledger.db)
    order = ordering("orders", where, "python", seal=seal, open=open, as_of=moment, event_time=event_time)
    return sorted_page([r for r in folded if _matches(r, where)], order, row_value, where.limit, count=count)


def held_page(
    db: Database, listing: str, rows: list[Any], where: Filter, selection: dict[str, Any], count: bool | int
) -> Page[Any]:
    """The positions or instruments of the account, venue and instrument ``where`` names, sorted
    and paged in Python (``selection``: the other arguments a cursor is bound to)."""
    order = ordering(listing, where, "python", seal=cursors.seal(db), **selection)
    return sorted_page([r for r in rows if _held(r, where)], order, row_value, where.limit, count=count)


def event_filter(ledger: LedgerParts, where: Filter, types: Sequence[str], event_time: bool) -> EventFilter:
    """The log search ``where`` asks for (its order resolved to a client order ID)."""
    return EventFilter(
        types=tuple(types),
        account=where.account,
        venue=where.venue,
        instrument=where.instrument,
        client_order_id=None if where.client_order_id is None else ledger.resolve(where.client_order_id),
        since=where.since,
        until=where.until,
        event_time=event_time,
    )


def iter_events(
    ledger: LedgerParts, where: Filter, types: Sequence[str], event_time: bool
) -> Iterator[EventRecord]:
    """``OrderLedger.audit.iter_events``: the log's events ``where`` selects, in log order (or the
    filter's ``sort``), read in chunks; at most ``where.limit``."""
    wanted = event_filter(ledger, where, types, event_time)
    if where.sort is None and where.cursor is None:
        found = search_records(ledger.db, ledger.mapper, wanted, newest=where.newest)
    else:
        seal = cursors.seal(ledger.db)
        order = ordering(
            "events", where, ledger.db.dialect, seal=seal, types=wanted.types, event_time=event_time
        )
        found = search_records(ledger.db, ledger.mapper, wanted, order=order)
    return islice(found, where.limit)


def rule_books(
    ledger: LedgerParts, cost_basis: str, as_of: datetime | None, event_time: bool
) -> dict[tuple[str, str, str], Book]:
    """Every book under ``cost_basis``, folded from the log (up to ``as_of``)."""
    rule = _cost_basis(cost_basis)
    wanted = EventFilter(
        types=("OrderFilled", "FillBusted", "FillCorrected", "InstrumentDefined"),
        until=None if as_of is None else parse_timestamp(as_of, "as_of"),
        event_time=event_time,
    )
    found = ((p, e) for p, e, _ in search_events(ledger.db, ledger.mapper, wanted))
    return fold_books(fills_of(found), rule)


def rule_heads(ledger: LedgerParts, cost_basis: str) -> dict[tuple[str, str, str], LotHead]:
    """Every book's position and open lots under the lot rule ``cost_basis``, as of the log's
    head: the stored heads brought up to it (``application.reads.lots_at_head``)."""
    return _lots_at_head.lot_heads(ledger, _lot_rule(cost_basis))


def rule_heads_at(
    ledger: LedgerParts, cost_basis: str, as_of: datetime | None, event_time: bool
) -> dict[tuple[str, str, str], LotHead] | None:
    """Every book's position and open lots under ``cost_basis``, by its key: now from the heads
    brought up to the log's head (a lot rule: ``rule_heads``), or as of a time from the stored
    heads and their marks (``application.reads.lots_at_head.heads_as_of``); None when a fold of the log
    (``rule_books``) must answer: average now, or as of a time with no heads stored that this
    connection may store, or a moment the fold reads less for."""
    if as_of is None:
        return None if _cost_basis(cost_basis) == "average" else rule_heads(ledger, cost_basis)
    return _lots_at_head.heads_as_of(ledger, _cost_basis(cost_basis), as_of, event_time=event_time)


def rule_closed(
    ledger: LedgerParts, cost_basis: str, as_of: datetime | None = None, event_time: bool = False
) -> list[ClosedLot]:
    """Every closed lot under the lot rule ``cost_basis``, books in order of their keys: as of
    the log's head, the rows kept with the heads and the lots of what the log holds since
    (``application.reads.lots_at_head.closed_lots``); as of a time, the rows kept with the heads up to
    the stored head or mark each book's answer starts from and the lots of its fold from there
    (``application.reads.lots_at_head.heads_as_of`` under ``CLOSED``). A fold of the log (up to
    ``as_of``: ``rule_books``) answers when the heads may not: a connection that may not write
    and finds none stored (it could not keep what a fold from the heads would make), or a moment
    the fold reads less for."""
    rule = _lot_rule(cost_basis)
    if as_of is not None:
        heads = _lots_at_head.heads_as_of(ledger, rule, as_of, event_time=event_time, grouping=CLOSED)
        if heads is not None:
            return [lot for head in heads.values() for lot in head.closed]
    elif _lots_at_head.worth_reading(ledger, rule, CLOSED):
        return [lot for lots in _lots_at_head.closed_lots(ledger, rule).values() for lot in lots]
    return [lot for b in rule_books(ledger, rule, as_of, event_time).values() for lot in b.closed]


def _lot_rule(cost_basis: str) -> CostBasis:
    rule = _cost_basis(cost_basis)
    if rule == "average":
        raise InvalidInputError("heads are kept for the lot rules: fifo, lifo or hifo", field="cost_basis")
    return rule


def position_list(
    ledger: LedgerParts,
    where: Filter,
    *,
    marks: Mapping[str, Decimal] | None,
    as_of: datetime | None,
    event_time: bool,
    cost_basis: str | None,
    count: bool | int,
) -> Page[PositionRow]:
    """``OrderLedger.positions``: from the live view, as of a time, or folded under a rule."""
    marks = dict(marks or {})
    cost_basis = rule_of(ledger, cost_basis)
    if cost_basis is not None:
        when = None if as_of is None else parse_timestamp(as_of, "as_of")
        heads = rule_heads_at(ledger, cost_basis, when, event_time)
        if heads is not None:
            folded = [h.position for _, h in sorted(heads.items())]
            fills = [(key, fill) for key, h in heads.items() for fill in h.paid]
        else:
            books = rule_books(ledger, cost_basis, as_of, event_time)
            folded = [b.position for b in books.values()]
            fills = [(key, fill) for key, b in books.items() for fill in b.fills]
        rows = position_rows(ledger.db, folded, marks, as_of=when, event_time=event_time, paid=fills)
    elif as_of is None:
        rows = positions(ledger.db, marks)
    else:
        moment = parse_timestamp(as_of, "as_of")
        books_then, entries = positions_as_of(ledger.db, ledger.mapper, moment, event_time=event_time)
        booked = [((e.account, e.venue, e.instrument), e) for e in entries]
        rows = position_rows(ledger.db, books_then, marks, as_of=moment, event_time=event_time, paid=booked)
    unknown = sorted(set(marks) - {r.instrument for r in rows})
    if unknown:
        held = ", ".join(sorted({r.instrument for r in rows})) or "none"
        raise InvalidInputError(
            f"mark {unknown[0]}: no position in that instrument (held: {held})", field="mark"
        )
    selection = {"marks": marks, "as_of": as_of, "event_time": event_time, "cost_basis": cost_basis}
    return held_page(ledger.db, "positions", rows, where, selection, count)


BOOK_GROUPS = ("account", "venue", "instrument", "day")
"""What ``pnl`` under a rule reads from the books' heads: groups no book's days straddle."""


def pnl(ledger: LedgerParts, *, by: str, cost_basis: str | None) -> list[PnlRow]:
    """``OrderLedger.pnl``: from the days kept with each account book's head under the rule
    (average when the ledger's rule is average and none is named): by account, venue,
    instrument or day the days themselves; by parent or tag each day's sums per group of the
    heads ``in:parent`` or ``in:tag:NAME`` (a book's day holds fills of several parents and
    tags). A connection that may not write and finds no heads stored reads the live
    (average-cost) entries, or under a lot rule by parent or tag folds the log's fills."""
    rule = rule_of(ledger, cost_basis)
    basis = _cost_basis(rule or "average")
    if (rule is not None and by in BOOK_GROUPS) or _lots_at_head.worth_reading(ledger, basis, _heads_of(by)):
        return _book_pnl(ledger, by, basis)
    if rule is None:
        return pnl_rows(ledger.db, by)
    tag = pnl_tag(by)
    fills = [f for b in rule_books(ledger, basis, None, False).values() for f in b.fills]
    parents = order_parents(ledger.db) if by == "parent" else {}

    def group(f: Fill) -> Any:
        if tag is not None:
            return f.tags.get(tag)
        return parents.get(f.client_order_id)

    return grouped_pnl(
        by,
        ((group(f), f.realized, f.fee, f.fee_currency, f.pnl_currency, 1, f) for f in fills),
        cash_flows_by(ledger.db, by),
        recorded_rates(ledger.db, fills),
    )


def _heads_of(by: str) -> str:
    """The grouping of the heads ``pnl`` by ``by`` reads: the account books' own by one of
    ``BOOK_GROUPS``, else (parent or ``tag:NAME``) theirs with each day's fills counted by group."""
    if by in BOOK_GROUPS:
        return ACCOUNT
    pnl_tag(by)  # (refuses an unknown grouping)
    return IN + by


def pnl_from_views(ledger: LedgerParts, by: str, cost_basis: str | None) -> bool:
    """Whether ``pnl`` by ``by`` shows the log only up to where the views are: by parent (its
    heads stand no further in the log than the orders view, whose parents they group by, and
    the entries and a fold group by that view's parents too), and by another group when no lot
    rule applies on a connection that may not write and finds no heads kept under average
    (it reads the views' live entries). Otherwise it reads the books' heads or folds the log,
    and is current."""
    if by == "parent":
        return True
    if rule_of(ledger, cost_basis) is not None:
        return False
    return not _lots_at_head.worth_reading(ledger, "average", _heads_of(by))


def daily_from_views(ledger: LedgerParts, by: str, cost_basis: str | None) -> bool:
    """Whether ``pnl --daily`` by ``by`` shows the log only up to where the views are: by parent
    (its heads stand no further in the log than the orders view, whose parents they group by),
    and on a connection that may not write and finds no heads, which reads the views' entries."""
    rule = _cost_basis(cost_basis or ledger.analytics.cost_basis())
    return by == "parent" or not _lots_at_head.worth_reading(ledger, rule, by)


def _book_pnl(ledger: LedgerParts, by: str, rule: CostBasis) -> list[PnlRow]:
    """``pnl`` by ``by`` under ``rule`` from the days of each account book's head as entries
    (what a day realized and counted per P&L currency, its fees per currency, and each fill whose
    fee is valued into another currency): by one of ``BOOK_GROUPS`` the day's own sums under
    the book's or the day's value; by parent or tag each group's sums of the day
    (``Day.groups``), each fill as its account's book realized it. The read costs the books'
    days, not the log's fills."""
    grouping = _heads_of(by)
    heads = _lots_at_head.group_heads(ledger, rule, grouping)
    column = BOOK_GROUPS.index(by) + 1 if grouping == ACCOUNT else 0
    entries: list[tuple[Any, Decimal, Any, str | None, str | None, int, Fill | None]] = []
    for key, head in heads.items():
        for day in head.days:
            parts = day.groups if grouping != ACCOUNT else {day.day if by == "day" else key[column]: day}
            for value, sums in parts.items():
                for currency, realized in sums.realized.items():
                    quote = currency or None
                    entries.append((value, realized, None, None, quote, sums.fills.get(currency, 0), None))
                    for fee_currency, fee in sums.fees.get(currency, {}).items():
                        entries.append((value, ZERO, fee, fee_currency, quote, 0, None))
        for fill in head.paid:
            group = fill.group if grouping != ACCOUNT else day_of(fill) if by == "day" else key[column]
            entries.append((group, ZERO, None, None, fill.pnl_currency, 0, fill))
    paid = [f for head in heads.values() for f in head.paid]
    return grouped_pnl(by, entries, cash_flows_by(ledger.db, by), recorded_rates(ledger.db, paid))


def rule_of(ledger: LedgerParts, cost_basis: str | None) -> str | None:
    """The rule a query folds the log under: the one it names, else the ledger's when that is
    not average; None: the live average-cost views answer."""
    if cost_basis is not None:
        return cost_basis
    rule = ledger.analytics.cost_basis()
    return None if rule == "average" else rule


def journal_filter(
    where: Filter, outcome: str | None, parked: bool, older_than: timedelta | None
) -> tuple[Filter | None, str | None]:
    """The journal filter and outcome ``OrderLedger.audit.iter_messages`` reads with, the parked-message
    filters checked; None: no message can match (received after the ``older_than`` cutoff)."""
    if parked and outcome not in (None, Outcome.PARKED):
        raise InvalidInputError(
            f"`parked` lists parked messages; it cannot be combined with `outcome` {outcome}"
        )
    if older_than is not None and not parked:
        raise InvalidInputError("`older_than` goes with `parked` (messages parked for too long)")
    if older_than is not None:
        cutoff = datetime.now(UTC) - older_than
        if where.since is not None and where.since > cutoff:
            return None, outcome  # received after the cutoff: none is parked too long
        where = replace(where, until=cutoff if where.until is None else min(where.until, cutoff))
    return where, Outcome.PARKED if parked else outcome


def _matches(row: OrderRow, where: Filter) -> bool:
    """The orders view's filter, applied to an order folded from the log."""
    wanted = (
        (where.account, row.account),
        (where.venue, row.venue),
        (where.instrument, row.instrument),
        (where.client_order_id, row.client_order_id),
        (where.parent, row.parent_id),
    )
    return (
        all(value is None or value == actual for value, actual in wanted)
        and (where.since is None or row.created_at >= where.since)
        and (where.until is None or row.created_at <= where.until)
    )


def _held(row: Any, where: Filter) -> bool:
    """Whether a position or an instrument is of the account, venue and instrument ``where``
    names (those it names)."""
    return all(
        getattr(where, name) is None or getattr(where, name) == getattr(row, name)
        for name in ("account", "venue", "instrument")
    )
