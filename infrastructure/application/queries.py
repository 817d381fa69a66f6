"""Read queries over the persistent views (and, for positions, the caller's marks)."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import chain, islice
from typing import Any

import orjson

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.instrument import Terms
from orderledger.domain.order import order_id_for
from orderledger.domain.values import WIDE, format_timestamp, parse_positive, parse_timestamp
from orderledger.infrastructure.listing import Ordering, Page, ordering, read_page
from orderledger.infrastructure.results import (
    DailyPnlRow,
    Filter,
    OrderRow,
    PnlPoint,
    PnlRow,
    PositionRow,
    TradeRow,
    fee_fields,
    net_of,
)
from orderledger.infrastructure.storage import cursors
from orderledger.infrastructure.storage.db import Database
from orderledger.infrastructure.storage.paging import PAGE, Keyset, collector_paused
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
from orderledger.projections.lots import Book, CostBasis, Fill, book_fill, cost_basis_named
from orderledger.projections.marks import MARKS_TABLE
from orderledger.projections.orders import (
    OPEN_ONLY,
    OPEN_SHOWN,
    ORDERS_TABLE,
    SHOWN_COLUMNS,
    SHOWN_DECODERS,
    shown,
)
from orderledger.projections.positions import (
    PNL_TABLE,
    ZERO,
    PnlEntry,
    Position,
    PositionsProjection,
    venue_order_key,
)


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
    :func:`pages`); with ``where.limit``, pages no larger than it."""
    keyset, _ = order_keyset(db, where, open_only)
    return keyset.pages(db, min(PAGE, where.limit or PAGE), convert)


_READ_ORDERS = OrderRow.stored_reader(SHOWN_DECODERS)
"""Stored orders view rows → typed rows (the stored form read by the projection's decoders)."""
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


def _trade_rows(rows: Iterable[Sequence[Any]], parent: str | None) -> Iterator[TradeRow]:
    for r in rows:
        row = dict(zip(TRADE_FIELDS, r[: len(TRADE_FIELDS)], strict=True))
        row["tags"] = orjson.loads(row["tags"])
        row["late"] = bool(row["late"])
        if parent is not None:
            row["parent_id"] = parent
        yield TradeRow.from_json(row)


def iter_trades(db: Database, where: Filter) -> Iterator[TradeRow]:
    """The trade blotter in ``where``'s sort (by venue time unless it names another), read a
    page at a time (see :func:`trade_keyset`)."""
    keyset, _ = trade_keyset(db, where)
    rows = chain.from_iterable(keyset.pages(db))
    return _trade_rows(islice(rows, where.limit), where.parent)


def trade_page(db: Database, where: Filter, *, count: bool | int = False) -> Page[TradeRow]:
    """One page of the blotter: ``where.limit`` trades (None: all) after its cursor, with the
    next page's cursor (and, with ``count``, how many trades ``where`` selects)."""
    keyset, order = trade_keyset(db, where)
    return read_page(
        db, keyset, order, where.limit, lambda rows: list(_trade_rows(rows, where.parent)), count=count
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
        result[instrument] = parse_positive(price, f"mark for {instrument}")
    return result


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
    db: Database, venue: str, instrument: str, *, as_of: datetime | None = None, event_time: bool = False
) -> tuple[Decimal, datetime] | None:
    """The latest mark recorded for an instrument at a venue whose time is at or before
    ``as_of`` (and, unless ``event_time``, that was recorded by then): (price, its time)."""
    clause, params = "", [venue, instrument]
    if as_of is not None:
        moment = format_timestamp(as_of)
        clause = " AND ts_event <= ?" + ("" if event_time else " AND ts_recorded <= ?")
        params += [moment] if event_time else [moment, moment]
    with db.read() as tx:
        row = tx.one(
            f"SELECT price, ts_event FROM {MARKS_TABLE.name} WHERE venue = ? AND instrument = ?{clause}"
            " ORDER BY ts_event DESC, position DESC LIMIT 1",
            params,
        )
    return None if row is None else (Decimal(row[0]), parse_timestamp(row[1]))


def list_positions(db: Database, marks: Mapping[str, Decimal] | None = None) -> list[dict[str, Any]]:
    """Positions as JSON-ready data."""
    return [row.to_json() for row in positions(db, marks)]


PNL_GROUPS = ("day", "account", "venue", "instrument", "parent")


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


def _group_of(value: Any, tag: str | None) -> str:
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
            (_grouped_by(value, tag), Decimal(realized), fee, fee_currency, quote, kind, paid.get(position))
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
    entries: Iterable[tuple[Any, Decimal, Any, str | None, str | None, str, PaidFee | None]],
    flows: Iterable[tuple[Any, str, Decimal]] = (),
    rates: MarkLookup | None = None,
) -> list[PnlRow]:
    """P&L rows of entries (group value, realized, fee, fee currency, P&L currency, kind, and the
    fill's fee to value when it is in another currency than the P&L) and cash flows (group value,
    currency, amount); fees are valued at the fill's price or at ``rates``."""
    # Amounts in different currencies are never added together: (group, P&L currency) is the key
    # (the quote currency for linear instruments, the settlement coin for inverse ones).
    groups: dict[tuple[str, str], _Group] = {}
    lookup = rates or _no_rates
    for value, realized, fee, fee_currency, quote, kind, paid in entries:
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
        group.fills += 1 if kind in ("fill", "corrected") else 0
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


def realized_series(db: Database, points: int | None = None) -> list[PnlPoint]:
    """Realized P&L entry by entry in log order, each with its event's venue time and the running
    total per quote currency (amounts in different currencies are never added together).

    With ``points``, the entries go in venue time (then log position), and each account's entries
    per quote currency are summed over ``points`` equal slices of venue time (the series' first to
    last entry): one row per slice, the slice's last entry with ``realized_pnl`` the sum of the
    slice's entries and the running total per currency in that same order. A running sum of the
    rows per account and currency is then exact at the end of every slice, and the answer's size
    is bounded by accounts × currencies × ``points`` whatever the ledger's size."""
    with db.read() as tx:
        rows = tx.all(
            "SELECT p.position, e.ts_event, p.account, p.venue, p.instrument, p.quote_currency, p.realized"
            " FROM pnl_entries_view p JOIN events e ON e.notification_id = p.position ORDER BY p.position"
        )
    order, slice_of = _time_slices([row[1] for row in rows], points)
    totals: dict[str, Decimal] = {}
    kept: dict[tuple[str, str, int], tuple[int, Any, Decimal]] = {}  # (account, quote, slice) →
    for step, index in enumerate(order):
        _, _, account, _, _, quote, realized = rows[index]
        key = quote or ""
        amount = Decimal(realized)
        totals[key] = WIDE.add(totals.get(key, ZERO), amount)
        line = (account, key, slice_of(step))
        summed = kept[line][2] if line in kept else ZERO
        kept[line] = (step, totals[key], WIDE.add(summed, amount))
    result: list[PnlPoint] = []
    for step, cumulative, realized in sorted(kept.values(), key=lambda k: k[0]):
        position, ts_event, account, venue, instrument, quote, _ = rows[order[step]]
        result.append(
            PnlPoint(
                position=position,
                ts_event=parse_timestamp(ts_event),
                account=account,
                venue=venue,
                instrument=instrument,
                quote_currency=quote,
                realized_pnl=realized,
                cumulative_realized_pnl=cumulative,
            )
        )
    return result


def _time_slices(times: list[str], points: int | None) -> tuple[list[int], Callable[[int], int]]:
    """The order to go through ``times`` (ISO 8601 text, in log order) and the slice each step of
    it falls in. Without ``points``: log order, each entry its own slice. With it: venue time, then
    log order, in ``points`` equal slices from the earliest time to the latest (each entry its own
    slice when there are no more entries than ``points``)."""
    if points is None:
        return list(range(len(times))), lambda step: step
    stamps = [parse_timestamp(t) for t in times]
    order = sorted(range(len(times)), key=lambda index: (stamps[index], index))
    moments = [stamp.timestamp() for stamp in stamps]
    if len(times) <= points:
        return order, lambda step: step
    first, last = moments[order[0]], moments[order[-1]]
    width = (last - first) / points or 1.0
    return order, lambda step: min(points - 1, int((moments[order[step]] - first) / width))


DAILY_GROUPS = ("account", "parent")


@dataclass
class _Day:
    realized: Decimal = ZERO
    fees: dict[str, Decimal] = field(default_factory=dict)
    flows: dict[str, Decimal] = field(default_factory=dict)
    unrealized: Decimal | None = ZERO
    unmarked: set[str] = field(default_factory=set)
    valuation: FeeValuation = field(default_factory=FeeValuation)


def _entry_fill(e: PnlEntry) -> Fill:
    """A P&L entry as the fill a lot rule folds (its fee is counted apart)."""
    return Fill(
        e.account,
        e.venue,
        e.instrument,
        e.client_order_id,
        e.trade_id,
        e.ts_event,
        e.position,
        e.signed_qty,
        e.price,
        None,
        None,
        e.quote_currency,
        e.terms,
    )


def daily_pnl_rows(db: Database, by: str = "account", basis: str = "average") -> list[DailyPnlRow]:
    """P&L per UTC day of venue time, by account, parent or ``tag:NAME``, under ``basis`` (the
    ledger's cost-basis rule: a lot rule folds each book's fills in venue time, ``before``).

    Each group's fills are folded as a book of their own per (account, venue, instrument), in venue
    time (the fill's ``ts_event``, then log position), with the fills as they stand after busts and
    corrections: by account these are the positions' own books. A day's row gives what the day's
    fills realized and paid in fees, the cash flows of that day, and the unrealized P&L of what
    each book held at the day's end at its instrument's last recorded mark of the day.
    """
    tag = pnl_tag(by)
    if tag is None and by not in DAILY_GROUPS:
        raise InvalidInputError(f"`by` {by!r}: daily P&L groups by account, parent or tag:NAME", field="by")
    group_column = "p.tags" if tag else "o.parent_id" if by == "parent" else "p.account"
    columns = ", ".join(f"p.{c.name}" for c in PNL_TABLE.columns)
    with db.read() as tx:
        entries = tx.all(
            f"SELECT {columns}, e.ts_event, {group_column} FROM {PNL_TABLE.name} p"
            " JOIN events e ON e.notification_id = p.position"
            " LEFT JOIN orders_view o ON o.client_order_id = p.client_order_id"
            " ORDER BY e.ts_event, p.position"
        )
        flow_column = "tags" if tag else "NULL" if by == "parent" else "account"
        flows = tx.all(
            f"SELECT day, {flow_column}, currency, amount FROM {CASH_FLOWS_TABLE.name} ORDER BY position"
        )
        marks = tx.all(
            f"SELECT venue, instrument, ts_event, price FROM {MARKS_TABLE.name} ORDER BY ts_event, position"
        )
    width = len(PNL_TABLE.columns)
    days: dict[tuple[str, str, str], _Day] = {}  # (day, group, P&L currency)
    # The fills of each book, in venue time: (group, account, venue, instrument) → [(day, entry)]
    books: dict[tuple[str, str, str, str], list[Any]] = {}
    for row in entries:
        entry = PNL_TABLE.from_row(tuple(row[:width]))
        group = _group_of(row[width + 1], tag)
        books.setdefault((group, entry.account, entry.venue, entry.instrument), []).append(entry)
    for day, value, currency, amount in flows:
        bucket = days.setdefault((day, _group_of(value, tag), currency), _Day())
        bucket.flows[currency] = WIDE.add(bucket.flows.get(currency, ZERO), Decimal(amount))
    prices: dict[tuple[str, str], list[tuple[str, Decimal]]] = {}
    for venue, instrument, ts_event, price in marks:
        prices.setdefault((venue, instrument), []).append((str(ts_event)[:10], Decimal(price)))
    every_day = sorted({key[0] for key in days} | {e.day for book in books.values() for e in book})
    rates = recorded_rates(db, (e for book in books.values() for e in book))
    rule = cost_basis_named(basis)
    for (group, account, venue, instrument), book_entries in books.items():
        state = Position(account, venue, instrument, quote_currency=book_entries[0].quote_currency)
        marked = prices.get((venue, instrument), [])
        _fold_days(days, group, state, book_entries, every_day, marked, rates, rule)
    return [
        _daily_row(day, by, group, currency, bucket)
        for (day, group, currency), bucket in sorted(days.items())
    ]


def _fold_days(
    days: dict[tuple[str, str, str], _Day],
    group: str,
    state: Position,
    book_entries: list[Any],
    every_day: list[str],
    marked: list[tuple[str, Decimal]],
    rates: Any,
    rule: CostBasis,
) -> None:
    """One book's fills folded day by day into ``days``: what each day realized and paid in
    fees, and the unrealized P&L of what the book held at the day's end at that day's last mark."""
    lots = None if rule == "average" else Book(state)
    if lots is not None:  # lot rules match lots in venue time, not in the events' time alone
        book_entries.sort(key=lambda e: venue_order_key(e.venue_key))
    at = 0
    for day in every_day:
        if day < book_entries[0].day:
            continue
        while at < len(book_entries) and book_entries[at].day <= day:
            entry = book_entries[at]
            at += 1
            if entry.kind != "busted":
                bucket = days.setdefault((entry.day, group, entry.terms.pnl_currency or ""), _Day())
                _book_entry(bucket, state, lots, entry, rule, rates)
        if state.quantity == 0:
            if at == len(book_entries):
                break  # flat for good: nothing more to value
            continue
        bucket = days.setdefault((day, group, state.pnl_currency or ""), _Day())
        mark = next((price for when, price in reversed(marked) if when <= day), None)
        if mark is None:
            bucket.unmarked.add(state.instrument)
            bucket.unrealized = None
        elif bucket.unrealized is not None:
            bucket.unrealized = WIDE.add(bucket.unrealized, state.unrealized_pnl(mark) or ZERO)


def _book_entry(
    bucket: _Day, state: Position, lots: Book | None, entry: PnlEntry, rule: CostBasis, rates: Any
) -> None:
    """One fill booked into its position (``lots`` under a lot rule), what it realized and the
    fee it paid added to ``bucket``."""
    if lots is None:
        realized = state.book(entry.signed_qty, entry.price, entry.terms)
    else:
        realized = book_fill(lots, _entry_fill(entry), rule)
    bucket.realized = WIDE.add(bucket.realized, realized)
    if entry.fee is not None:
        fee_currency = entry.fee_currency or "?"
        bucket.fees[fee_currency] = WIDE.add(bucket.fees.get(fee_currency, ZERO), entry.fee)
        if needs_rate(entry):
            bucket.valuation.add(entry.fee, entry.fee_currency, rate_of(entry, rates))


def _daily_row(day: str, by: str, group: str, currency: str, bucket: _Day) -> DailyPnlRow:
    fees = {k: v for k, v in sorted(bucket.fees.items()) if v}
    flows_of = {k: v for k, v in sorted(bucket.flows.items()) if v}
    net = net_of(net_of_fees(bucket.realized, fees, currency or None, bucket.valuation), currency, flows_of)
    return DailyPnlRow(
        day=day,
        by=by,
        group=group,
        pnl_currency=currency or None,
        realized_pnl=bucket.realized,
        fees=fees,
        funding=flows_of,
        realized_pnl_net=net,
        unrealized_pnl=bucket.unrealized,
        unmarked=tuple(sorted(bucket.unmarked)),
        **fee_fields(bucket.valuation),
    )


@dataclass(frozen=True)
class DayPath:
    """One account's P&L over a UTC day (``daily_pnl_rows``'s figure), taken as the day opens and
    after each moment of it that moved the figure: its high and where it stands."""

    high: Decimal | None
    current: Decimal | None
    why: str = ""
    """Why ``current`` cannot be worked out (then both are None)."""

    @property
    def drawdown(self) -> Decimal | None:
        """The fall from the day's high to where the P&L stands."""
        return None if self.high is None or self.current is None else self.high - self.current


def day_pnl_path(db: Database, account: str, day: str, until: datetime, basis: str = "average") -> DayPath:
    """The P&L of ``account``'s UTC ``day`` up to venue time ``until``, as ``daily_pnl_rows`` works
    it out (what the day's fills realized, less their fees, plus the day's cash flows, and the
    unrealized P&L of each position at its latest mark), at the day's opening and after each venue
    time of the day at which a fill, a cash flow or a mark was recorded, in venue time.

    The high is the largest of these figures; a moment whose figure cannot be worked out (a
    position not marked yet, an unvalued fee) is left out of it."""
    start = datetime.fromisoformat(f"{day}T00:00:00+00:00")
    columns = ", ".join(c.name for c in PNL_TABLE.columns)
    with db.read() as tx:
        rows = tx.all(f"SELECT {columns} FROM {PNL_TABLE.name} WHERE account = ?", [account])
        flows = tx.all(
            f"SELECT ts_event, position, currency, amount FROM {CASH_FLOWS_TABLE.name}"
            " WHERE account = ? AND day = ?",
            [account, day],
        )
        marks = tx.all(
            f"SELECT ts_event, position, venue, instrument, price FROM {MARKS_TABLE.name}"
            " WHERE ts_event >= ? AND ts_event <= ?",
            [format_timestamp(start), format_timestamp(until)],
        )
    entries = sorted(
        (e for e in map(PNL_TABLE.from_row, map(tuple, rows)) if e.ts_event <= until and e.day <= day),
        key=lambda e: (e.ts_event, e.position),
    )
    rule = cost_basis_named(basis)
    rates = recorded_rates(db, entries)
    books: dict[tuple[str, str], tuple[Position, Book | None]] = {}
    buckets: dict[str, _Day] = {}
    latest: dict[tuple[str, str], Decimal] = {}
    # the day's moments: (venue time, log position, what happened)
    moments: list[tuple[datetime, int, Any]] = []
    for entry in entries:
        if entry.day == day:
            moments.append((entry.ts_event, entry.position, entry))
        elif entry.kind != "busted":
            _book_entry(_Day(), *_book_of(books, entry, rule), entry, rule, rates)
    for ts_event, position, currency, amount in flows:
        when = parse_timestamp(str(ts_event))
        if when <= until:
            moments.append((when, int(position), (currency, Decimal(amount))))
    for venue, instrument in {(e.venue, e.instrument) for e in entries}:
        opening = latest_mark(db, venue, instrument, as_of=start - timedelta(microseconds=1), event_time=True)
        if opening is not None:
            latest[(venue, instrument)] = opening[0]
    for ts_event, position, venue, instrument, price in marks:
        moments.append((parse_timestamp(str(ts_event)), int(position), (venue, instrument, Decimal(price))))
    moments.sort(key=lambda m: (m[0], m[1]))

    def figure() -> tuple[Decimal | None, str]:
        held: dict[str, Decimal | None] = {}
        for (venue, instrument), (state, _) in books.items():
            if state.quantity == 0:
                continue
            currency = state.pnl_currency or ""
            unrealized = state.unrealized_pnl(latest.get((venue, instrument)))
            so_far = held.get(currency, ZERO)
            held[currency] = None if unrealized is None or so_far is None else WIDE.add(so_far, unrealized)
        currencies = set(held) | {c for c, b in buckets.items() if b.realized or b.fees or b.flows}
        if len(currencies) > 1:
            return None, "the day's P&L is in several currencies"
        if not currencies:
            return ZERO, ""
        [currency] = currencies
        net = _daily_row(day, "account", account, currency, buckets.get(currency, _Day())).realized_pnl_net
        unrealized = held.get(currency, ZERO)
        if net is None or unrealized is None:
            return None, "the day's P&L is not known in full (an unvalued fee or a position without a mark)"
        return WIDE.add(net, unrealized), ""

    high, why = figure()
    current = high
    for at, (when, _, what) in enumerate(moments):
        if isinstance(what, PnlEntry):
            if what.kind != "busted":
                bucket = buckets.setdefault(what.terms.pnl_currency or "", _Day())
                _book_entry(bucket, *_book_of(books, what, rule), what, rule, rates)
        elif len(what) == 2:
            currency, amount = what
            bucket = buckets.setdefault(currency, _Day())
            bucket.flows[currency] = WIDE.add(bucket.flows.get(currency, ZERO), amount)
        else:
            latest[what[:2]] = what[2]
        if at + 1 < len(moments) and moments[at + 1][0] == when:
            continue  # a moment's figure is taken once all that happened at it is counted
        current, why = figure()
        if current is not None and (high is None or current > high):
            high = current
    if current is None:
        return DayPath(None, None, why)
    return DayPath(high, current)


def _book_of(
    books: dict[tuple[str, str], tuple[Position, Book | None]], entry: PnlEntry, rule: CostBasis
) -> tuple[Position, Book | None]:
    """The position (and, under a lot rule, its lots) an account's fill books into."""
    key = (entry.venue, entry.instrument)
    if key not in books:
        state = Position(entry.account, entry.venue, entry.instrument, quote_currency=entry.quote_currency)
        books[key] = (state, None if rule == "average" else Book(state))
    return books[key]
