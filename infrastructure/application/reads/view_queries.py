"""Read queries over the persistent views (and, for positions, the caller's marks)."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from decimal import Decimal
from itertools import chain, islice
from typing import Any

import orjson

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.instrument import Terms
from orderledger.domain.order import order_id_for
from orderledger.domain.values import WIDE, format_timestamp, parse_figure, parse_timestamp
from orderledger.infrastructure.listing import Ordering, Page, ordering, read_page
from orderledger.infrastructure.results.filter import Filter
from orderledger.infrastructure.results.orders import OrderRow
from orderledger.infrastructure.results.pnl import PnlRow, fee_fields, net_of
from orderledger.infrastructure.results.positions import PositionRow
from orderledger.infrastructure.results.rows import lazy_reader
from orderledger.infrastructure.results.trades import TradeRow
from orderledger.infrastructure.storage import cursors
from orderledger.infrastructure.storage.db import Database
from orderledger.infrastructure.storage.paging import PAGE, Keyset, collector_paused
from orderledger.projections.book import ZERO, Position
from orderledger.projections.cash_flows import CASH_FLOWS_TABLE
from orderledger.projections.fees import (
    FeeValuation,
    MarkLookup,
    Paid,
    PaidFee,
    Rate,
    needs_rate,
    net_of_fees,
    rate_of,
    valuations,
    wanted_pairs,
)
from orderledger.projections.marks import MARKS_TABLE
from orderledger.projections.orders import (
    OPEN_ONLY,
    OPEN_SHOWN,
    ORDERS_TABLE,
    SHOWN_COLUMNS,
    SHOWN_DECODERS,
    shown,
)
from orderledger.projections.positions import PNL_TABLE, PositionsProjection


def _where(filters: dict[str, Any]) -> tuple[str, list[Any]]:
    clauses, params = [], []
    for column, value in filters.items():
        if value is None:
            continue
        if column.endswith(">="):
            clauses.append(f"{column[:-2]} >= ?")
        elif column.endswith("<="):
            clauses.append(f"{column[:-2]} <= ?")
        else:
            clauses.append(f"{column} = ?")
        params.append(value)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


_GROUP_OF = {"sqlite": "json_extract(terms, '$.group_id')", "postgresql": "(terms::json ->> 'group_id')"}
"""An order's order list (its term ``group_id``, in the JSON of its ``terms`` column), by dialect."""


def order_keyset(db: Database, where: Filter, open_only: bool) -> tuple[Keyset, Ordering]:
    """The orders view's rows ``where`` selects, in its sort (by creation time unless it names
    another): a row starts with the snapshot's columns or, with ``open_only``, with them packed
    in one (``OPEN_SHOWN``)."""
    clause, params = _where(
        {
            "account": where.account,
            "venue": where.venue,
            "instrument": where.instrument,
            "client_order_id": where.client_order_id,
            "parent_id": where.parent,
            _GROUP_OF[db.dialect]: where.group,
            "created_at>=": where.since_text,
            "created_at<=": where.until_text,
        }
    )
    condition = clause.removeprefix(" WHERE ")
    if open_only:  # stated as the partial index's condition, so the index of open orders serves
        condition = f"{OPEN_ONLY} AND {condition}" if condition else OPEN_ONLY
    order = ordering("orders", where, db.dialect, seal=cursors.seal(db), open=open_only)
    shown = OPEN_SHOWN if open_only else ", ".join(SHOWN_COLUMNS)
    keyset = Keyset(shown, ORDERS_TABLE.name, (condition, params), order.keys, order.descending, order.start)
    return keyset, order


def _order_pages(
    db: Database, where: Filter, open_only: bool, convert: Callable[[list[Any]], list[Any]] | None = None
) -> Iterator[list[Any]]:
    """Stored orders view rows in ``where``'s sort, one list per page (``convert``: as
    :func:`pages`); with ``where.limit``, pages no larger than it. The open orders are read in
    the order of their partial index; all of them, in a sort no index of the view serves, by
    their keys first (``Keyset.pages_by_key``)."""
    keyset, _ = order_keyset(db, where, open_only)
    if where.limit is None and not open_only:
        return keyset.pages_by_key(db, PAGE, convert)
    return keyset.pages(db, min(PAGE, where.limit or PAGE), convert)


_READ_ORDERS = lazy_reader(OrderRow, SHOWN_DECODERS)
"""Stored orders view rows → typed rows (the stored form read by the projection's decoders),
each read when a field is first asked for, and shown as JSON from its stored values."""
_READ_OPEN_ORDERS = OrderRow.packed_reader(SHOWN_DECODERS)
"""Open orders' packed snapshots → typed rows, each decoded when a field is first read."""


def iter_orders(db: Database, where: Filter, *, open_only: bool = False) -> Iterator[OrderRow]:
    """Orders as they stand (from the orders view), by creation time, read a page at a time;
    ``where.parent``: only the children of that parent (``parent_id``). Open orders come from
    their packed snapshots, each row decoded on its first read (``_Row.packed_reader``)."""
    convert = _READ_OPEN_ORDERS if open_only else _READ_ORDERS
    rows = chain.from_iterable(_order_pages(db, where, open_only, convert))
    return islice(rows, where.limit)


def order_page(
    db: Database, where: Filter, *, open_only: bool = False, count: bool | int = False
) -> Page[OrderRow]:
    """One page of orders: ``where.limit`` rows (None: all) in its sort after its cursor, with
    the next page's cursor (and, with ``count``, how many orders ``where`` selects)."""
    keyset, order = order_keyset(db, where, open_only)
    return read_page(
        db, keyset, order, where.limit, _READ_OPEN_ORDERS if open_only else _READ_ORDERS, count=count
    )


def list_order_rows(db: Database, where: Filter, *, open_only: bool = False) -> list[OrderRow]:
    """The rows of :func:`iter_orders` as one list, built with the cycle collector paused
    throughout: the rows hold no reference cycles, and the collector's repeated passes over a
    list that grows by two tracked objects a row (the row and its fields) cost a large listing
    about a quarter of its time (67,518 open orders: 0.28-0.32 of 1.1 s CPU); one pass follows."""
    with collector_paused():
        return list(iter_orders(db, where, open_only=open_only))


TRADE_FIELDS = tuple(f.name for f in fields(TradeRow))


def trade_keyset(db: Database, where: Filter) -> tuple[Keyset, Ordering]:
    """The trades view's rows ``where`` selects, in its sort (by venue time unless it names
    another).

    ``where.parent``: only the trades of that parent's orders. A trade belongs to its order's
    parent as the orders view has it now, so a parent an order learned after a fill (details
    added by a later report) claims that fill too; the row then shows that parent.
    """
    clause, params = _where(
        {
            "account": where.account,
            "venue": where.venue,
            "instrument": where.instrument,
            "client_order_id": where.client_order_id,
            "ts_event>=": where.since_text,
            "ts_event<=": where.until_text,
        }
    )
    if where.parent is not None:
        # Through the orders view: the index on its parent_id finds the children, and a fill
        # booked before its order's parent was known still counts (see above).
        condition = "client_order_id IN (SELECT client_order_id FROM orders_view WHERE parent_id = ?)"
        clause = f"{clause} AND {condition}" if clause else f" WHERE {condition}"
        params.append(where.parent)
    order = ordering("trades", where, db.dialect, seal=cursors.seal(db))
    where_clause = (clause.removeprefix(" WHERE "), params)
    keyset = Keyset(
        ", ".join(TRADE_FIELDS), "trades_view", where_clause, order.keys, order.descending, order.start
    )
    return keyset, order


_TRADE_DECODERS = {"tags": orjson.loads, "late": bool}
_read_trades = lazy_reader(TradeRow, [_TRADE_DECODERS.get(name) for name in TRADE_FIELDS])
"""The trades view's stored rows (the fields' columns in field order) as typed rows: the view
holds the ledger's own canonical text, converted without being checked again when a field is
first read, and shown as JSON as it is (``results.rows.lazy_reader``)."""


def _with_parent(rows: Iterable[TradeRow], parent: str | None) -> Iterator[TradeRow]:
    """The rows; with ``parent``, each showing it (the parent as the orders view has it now,
    ``trade_keyset``)."""
    if parent is None:
        return iter(rows)
    return (replace(row, parent_id=parent) for row in rows)


def iter_trades(db: Database, where: Filter) -> Iterator[TradeRow]:
    """The trade blotter in ``where``'s sort (by venue time unless it names another), read a
    page at a time (see :func:`trade_keyset`)."""
    keyset, _ = trade_keyset(db, where)
    rows = chain.from_iterable(keyset.pages(db, convert=_read_trades))
    return _with_parent(islice(rows, where.limit), where.parent)


def trade_page(db: Database, where: Filter, *, count: bool | int = False) -> Page[TradeRow]:
    """One page of the blotter: ``where.limit`` trades (None: all) after its cursor, with the
    next page's cursor (and, with ``count``, how many trades ``where`` selects)."""
    keyset, order = trade_keyset(db, where)
    return read_page(
        db,
        keyset,
        order,
        where.limit,
        lambda rows: list(_with_parent(_read_trades(rows), where.parent)),
        count=count,
    )


def list_orders(db: Database, *, open_only: bool = False, **where: Any) -> list[dict[str, Any]]:
    """Orders as JSON-ready data, oldest first (``where``: the fields of :class:`Filter`).

    The view stores the snapshot's own texts, which are what ``OrderRow.to_json`` writes: the
    rows are sent as stored, without a round trip through typed values."""
    filters = Filter(**where)
    rows = islice(chain.from_iterable(_order_pages(db, filters, open_only)), filters.limit)
    if open_only:
        return [shown(orjson.loads(row[0])) for row in rows]
    return [shown(row) for row in rows]


def first_position(db: Database, client_order_id: str) -> int | None:
    """The log position of an order's first event (None: no such order)."""
    with db.read() as tx:
        row = tx.one(
            "SELECT notification_id FROM events"
            " WHERE client_order_id = ? AND originator_id = ? AND originator_version = 1",
            (client_order_id, str(order_id_for(client_order_id))),
        )
    return None if row is None else int(row[0])


def list_trades(db: Database, **where: Any) -> list[dict[str, Any]]:
    """The trade blotter as JSON-ready data, oldest first (``where``: the fields of :class:`Filter`)."""
    return [row.to_json() for row in iter_trades(db, Filter(**where))]


def parse_marks(marks: list[str]) -> dict[str, Decimal]:
    """``INSTRUMENT=PRICE`` pairs → marks; one-line error on a bad one."""
    result = {}
    for mark in marks:
        instrument, sep, price = mark.partition("=")
        if not sep or not instrument:
            raise InvalidInputError(f"`mark` {mark!r}: expected INSTRUMENT=PRICE", field="mark")
        result[instrument] = parse_figure(price, f"mark for {instrument}")
    return result


def checked_marks(marks: Iterable[tuple[str, Any]]) -> dict[str, Decimal]:
    """Marks given as values (the Python API's), held to what a recorded mark is: above zero, a
    figure's places (``parse_figure``); one-line error on a bad one."""
    return {instrument: parse_figure(price, f"mark for {instrument}") for instrument, price in marks}


def _position_rows(db: Database) -> list[Position]:
    spec = PositionsProjection.tables[0]
    columns = ", ".join(c.name for c in spec.columns)
    with db.read() as tx:
        rows = tx.all(f"SELECT {columns} FROM {spec.name} ORDER BY account, venue, instrument")
    return [spec.from_row(tuple(r)) for r in rows]


def recorded_rates(
    db: Database, paid: Iterable[PaidFee], *, recorded_by: datetime | None = None
) -> MarkLookup:
    """What finds the recorded rate of a fee (``projections.fees.MarkLookup``): the marks of the
    pairs these fees may be valued at, read once (only those recorded by ``recorded_by``, when
    given), each pair's in (venue time, source) order."""
    wanted = wanted_pairs(paid)
    series: dict[tuple[str, str], tuple[list[datetime], list[Rate]]] = {}
    if wanted:
        pairs = sorted({pair for _, pair in wanted})
        clause = f"instrument IN ({', '.join('?' * len(pairs))})"
        params: list[Any] = list(pairs)
        if recorded_by is not None:
            clause += " AND ts_recorded <= ?"
            params.append(format_timestamp(recorded_by))
        with db.read() as tx:
            rows = tx.all(
                f"SELECT venue, instrument, ts_event, source, price FROM {MARKS_TABLE.name} WHERE {clause}",
                params,
            )
        found: dict[tuple[str, str], list[Rate]] = {}
        for venue, instrument, ts_event, source, price in rows:
            if (venue, instrument) in wanted:
                found.setdefault((venue, instrument), []).append(
                    Rate(Decimal(price), "mark", str(instrument), parse_timestamp(ts_event), str(source))
                )
        for key, marks in found.items():
            marks.sort(key=_mark_order)
            series[key] = ([m.time for m in marks if m.time is not None], marks)

    def lookup(venue: str, pairs: tuple[str, ...], at: datetime) -> Rate | None:
        best: Rate | None = None
        for pair in pairs:
            known = series.get((venue, pair))
            if known is None:
                continue
            i = bisect.bisect_right(known[0], at)
            if i and (best is None or _mark_order(known[1][i - 1]) > _mark_order(best)):
                best = known[1][i - 1]
        return best

    return lookup


def _mark_order(mark: Rate) -> tuple[datetime | None, str | None, str]:
    """Marks as a rate is chosen among them: by venue time, then source, then pair name."""
    return (mark.time, mark.mark_source, mark.instrument)


def _entries_paying_other_currencies(
    db: Database, books: Iterable[Position] | None, *, key: str = "book"
) -> list[tuple[Any, PaidFee]]:
    """The P&L entries whose fee is in another currency than their P&L, each under its book's
    key or (``key="position"``) its own log position: of the books given that paid such a fee
    (None: of every book). Books that paid none read nothing."""
    wanted = None
    if books is not None:
        wanted = {
            (p.account, p.venue, p.instrument) for p in books if any(c != p.pnl_currency for c in p.fees)
        }
        if not wanted:
            return []
    with db.read() as tx:
        rows = tx.all(
            "SELECT position, account, venue, instrument, ts_event, price, fee, fee_currency, pnl_currency"
            f" FROM {PNL_TABLE.name} WHERE fee IS NOT NULL"
            " AND (fee_currency IS NULL OR pnl_currency IS NULL OR fee_currency <> pnl_currency)"
        )
    found: list[tuple[Any, PaidFee]] = []
    for position, account, venue, instrument, ts_event, price, fee, fee_currency, pnl_currency in rows:
        book = (account, venue, instrument)
        if wanted is None or book in wanted:
            paid = Paid(
                venue,
                instrument,
                datetime.fromisoformat(ts_event),
                Decimal(price),
                Decimal(fee),
                fee_currency,
                pnl_currency,
            )
            found.append((int(position) if key == "position" else book, paid))
    return found


def positions(db: Database, marks: Mapping[str, Decimal] | None = None) -> list[PositionRow]:
    """Positions with realized and unrealized P&L (at the caller's marks, else at the latest
    recorded marks), and their cash flows."""
    return position_rows(db, _position_rows(db), marks)


def position_rows(
    db: Database,
    books: Sequence[Position],
    marks: Mapping[str, Decimal] | None = None,
    *,
    as_of: datetime | None = None,
    event_time: bool = False,
    paid: Iterable[tuple[Any, PaidFee]] | None = None,
) -> list[PositionRow]:
    """The rows of folded positions, joined with their cash flows and valued at the caller's
    mark of their instrument, else at the latest mark recorded for their venue and instrument at
    or before ``as_of`` (now when None). A position known only by its cash flows (funding on a
    position whose fills the ledger does not hold) has a row too: nothing received is hidden.

    Fees in another currency than a position's P&L are valued (``projections.fees``): those of
    ``paid`` (each fill's fee by its book's key, for a fold of the log), else those of the live
    P&L entries."""
    marks = marks or {}
    flows = cash_flow_totals(db, as_of=as_of, event_time=event_time)
    books = list(books)
    fees_paid = _entries_paying_other_currencies(db, books) if paid is None else list(paid)
    valued = valuations(
        fees_paid,
        recorded_rates(db, (p for _, p in fees_paid), recorded_by=None if event_time else as_of),
    )
    held = {(p.account, p.venue, p.instrument) for p in books}
    for key in sorted(set(flows) - held):
        currencies = list(flows[key])
        book = Position(*key)
        if len(currencies) == 1:  # what the position's P&L is in, as far as the ledger knows
            book.terms = Terms(pnl_currency=currencies[0])
        books.append(book)
    rows = []
    for book in sorted(books, key=lambda p: (p.account, p.venue, p.instrument)):
        key = (book.account, book.venue, book.instrument)
        mark, taken = marks.get(book.instrument), None
        if mark is None and book.quantity:
            recorded = latest_mark(db, book.venue, book.instrument, as_of=as_of, event_time=event_time)
            if recorded is not None:
                mark, taken = recorded
        rows.append(PositionRow.of(book, mark, flows.get(key), taken, valued.get(key)))
    return rows


def cash_flow_totals(
    db: Database, *, as_of: datetime | None = None, event_time: bool = False
) -> dict[tuple[str, str, str], dict[str, Decimal]]:
    """Each position's cash flows summed per currency (those recorded by ``as_of``, or whose
    venue time is at or before it with ``event_time``)."""
    where = ""
    params: list[Any] = []
    if as_of is not None:
        where = f" WHERE {'ts_event' if event_time else 'ts_recorded'} <= ?"
        params.append(format_timestamp(as_of))
    with db.read() as tx:
        rows = tx.all(
            f"SELECT account, venue, instrument, currency, amount FROM {CASH_FLOWS_TABLE.name}{where}"
            " ORDER BY position",
            params,
        )
    totals: dict[tuple[str, str, str], dict[str, Decimal]] = {}
    for account, venue, instrument, currency, amount in rows:
        book = totals.setdefault((account, venue, instrument), {})
        book[currency] = WIDE.add(book.get(currency, ZERO), Decimal(amount))
    return totals


def latest_mark(
    db: Database,
    venue: str | None,
    instrument: str,
    *,
    as_of: datetime | None = None,
    event_time: bool = False,
) -> tuple[Decimal, datetime] | None:
    """The latest mark recorded for an instrument at a venue (None: at any venue) whose time is
    at or before ``as_of`` (and, unless ``event_time``, that was recorded by then): (price, its time)."""
    clause, params = "", [instrument] if venue is None else [venue, instrument]
    if as_of is not None:
        moment = format_timestamp(as_of)
        clause = " AND ts_event <= ?" + ("" if event_time else " AND ts_recorded <= ?")
        params += [moment] if event_time else [moment, moment]
    with db.read() as tx:
        row = tx.one(
            f"SELECT price, ts_event FROM {MARKS_TABLE.name} WHERE"
            f"{'' if venue is None else ' venue = ? AND'} instrument = ?{clause}"
            " ORDER BY ts_event DESC, position DESC LIMIT 1",
            params,
        )
    return None if row is None else (Decimal(row[0]), parse_timestamp(row[1]))


def list_positions(db: Database, marks: Mapping[str, Decimal] | None = None) -> list[dict[str, Any]]:
    """Positions as JSON-ready data."""
    return [row.to_json() for row in positions(db, marks)]


PNL_GROUPS = ("day", "account", "venue", "instrument", "parent")


COUNTED = ("fill", "corrected")
"""The P&L entries that count as a fill (a bust's does not)."""


@dataclass
class _Group:
    realized: Decimal = ZERO
    fees: dict[str, Decimal] | None = None
    quotes: set[str | None] | None = None
    fills: int = 0
    flows: dict[str, Decimal] | None = None
    valuation: FeeValuation = field(default_factory=FeeValuation)


def _grouped_by(value: Any, tag: str | None) -> Any:
    """A row's value for its grouping: the tag's value when grouping by ``tag:NAME`` (None when
    the row's tags, a JSON object, lack it), else the grouping column's value as stored."""
    if not tag:
        return value
    return orjson.loads(value).get(tag) if value else None


def group_of(value: Any, tag: str | None) -> str:
    key = _grouped_by(value, tag)
    return "(none)" if key is None else str(key)


def pnl_tag(by: str) -> str | None:
    """The tag NAME of ``tag:NAME`` (None for the other groupings); refuses an unknown grouping."""
    if by.startswith("tag:") and len(by) > 4:
        return by[4:]
    if by in PNL_GROUPS:
        return None
    raise InvalidInputError(
        f"`by` {by!r}: use day, account, venue, instrument, parent or tag:NAME", field="by"
    )


def order_parents(db: Database) -> dict[str, str | None]:
    """Each order's parent as the orders view has it now."""
    with db.read() as tx:
        return {str(r[0]): r[1] for r in tx.all("SELECT client_order_id, parent_id FROM orders_view")}


def pnl_rows(db: Database, by: str) -> list[PnlRow]:
    """Realized P&L, fees and cash flows grouped by day, account, venue, instrument, parent or
    ``tag:NAME``.

    By parent: each entry counts for its order's parent as the orders view has it now (as the
    trades do with ``iter_trades`` and a parent); entries of orders without one group as "(none)".
    A cash flow belongs to a position, not an order: by parent it groups as "(none)"; by tag, under
    the tags its message carried.
    """
    tag = pnl_tag(by)
    column = "p.tags" if tag else "o.parent_id" if by == "parent" else f"p.{by}"
    joined = " LEFT JOIN orders_view o ON o.client_order_id = p.client_order_id" if by == "parent" else ""
    with db.read() as tx:
        rows = tx.all(
            f"SELECT {column}, p.realized, p.fee, p.fee_currency, p.pnl_currency, p.kind, p.position"
            f" FROM pnl_entries_view p{joined} ORDER BY p.position"
        )
    # Only a fee in another currency than the P&L is valued: what valuing it needs is read for
    # those entries alone (a ledger whose fees are all in the P&L currency reads nothing more).
    other = any(r[2] is not None and r[3] != r[4] for r in rows)
    paid = dict(_entries_paying_other_currencies(db, None, key="position")) if other else {}
    return grouped_pnl(
        by,
        (
            (
                _grouped_by(value, tag),
                Decimal(realized),
                fee,
                fee_currency,
                quote,
                1 if kind in COUNTED else 0,
                paid.get(position),
            )
            for value, realized, fee, fee_currency, quote, kind, position in rows
        ),
        cash_flows_by(db, by),
        recorded_rates(db, paid.values()),
    )


def cash_flows_by(db: Database, by: str) -> list[tuple[Any, str, Decimal]]:
    """Each recorded cash flow as (its group's value, currency, amount) for a P&L grouping: a
    payment belongs to a position, not an order, so by parent it groups as "(none)"; by tag,
    under the tags its message carried."""
    tag = pnl_tag(by)
    column = "tags" if tag else "NULL" if by == "parent" else by
    with db.read() as tx:
        flows = tx.all(f"SELECT {column}, currency, amount FROM {CASH_FLOWS_TABLE.name} ORDER BY position")
    return [
        (
            _grouped_by(value, tag),
            str(currency),
            Decimal(amount),
        )
        for value, currency, amount in flows
    ]


def grouped_pnl(
    by: str,
    entries: Iterable[tuple[Any, Decimal, Any, str | None, str | None, int, PaidFee | None]],
    flows: Iterable[tuple[Any, str, Decimal]] = (),
    rates: MarkLookup | None = None,
) -> list[PnlRow]:
    """P&L rows of entries (group value, realized, fee, fee currency, P&L currency, the fills it
    counts, and the fill's fee to value when it is in another currency than the P&L) and cash
    flows (group value, currency, amount); fees are valued at the fill's price or at ``rates``."""
    # Amounts in different currencies are never added together: (group, P&L currency) is the key
    # (the quote currency for linear instruments, the settlement coin for inverse ones).
    groups: dict[tuple[str, str], _Group] = {}
    lookup = rates or _no_rates
    for value, realized, fee, fee_currency, quote, fills, paid in entries:
        key = "(none)" if value is None else str(value)
        group = groups.setdefault((key, quote or ""), _Group(fees={}, quotes=set(), flows={}))
        group.realized = WIDE.add(group.realized, realized)
        assert group.fees is not None and group.quotes is not None
        if fee is not None:
            currency = fee_currency or "?"
            group.fees[currency] = WIDE.add(group.fees.get(currency, ZERO), Decimal(fee))
        if paid is not None and needs_rate(paid):
            assert paid.fee is not None
            group.valuation.add(paid.fee, paid.fee_currency, rate_of(paid, lookup))
        group.quotes.add(quote)
        group.fills += fills
    for value, currency, amount in flows:
        # A payment counts in the group's row of its own currency (the P&L currency of a
        # position that settles in it).
        key = "(none)" if value is None else str(value)
        group = groups.setdefault((key, currency), _Group(fees={}, quotes=set(), flows={}))
        assert group.flows is not None and group.quotes is not None
        group.flows[currency] = WIDE.add(group.flows.get(currency, ZERO), amount)
        group.quotes.add(currency)
    result: list[PnlRow] = []
    for key, quote_key in sorted(groups):
        group = groups[(key, quote_key)]
        assert group.fees is not None and group.quotes is not None and group.flows is not None
        fees = {k: v for k, v in group.fees.items() if v}
        net = net_of_fees(group.realized, fees, quote_key or None, group.valuation)
        flows_of = dict(sorted((k, v) for k, v in group.flows.items() if v))
        result.append(
            PnlRow(
                by=by,
                group=key,
                pnl_currency=quote_key or None,
                realized_pnl=group.realized,
                realized_pnl_net=net_of(net, quote_key or None, flows_of),
                fees=dict(sorted(fees.items())),
                fills=group.fills,
                funding=flows_of,
                **fee_fields(group.valuation),
            )
        )
    return result


def _no_rates(venue: str, pairs: tuple[str, ...], at: datetime) -> Rate | None:
    return None


def pnl_by(db: Database, by: str) -> list[dict[str, Any]]:
    """Realized P&L grouped, as JSON-ready data (see :func:`pnl_rows`)."""
    return [row.to_json() for row in pnl_rows(db, by)]
