"""The P&L of each UTC day of venue time (``pnl --daily``, the page's daily table), and one
account's P&L through a day (``day_pnl_path``: the pre-trade check's drawdown), read from the
views: what each day's fills realized and paid, its cash flows, and the unrealized P&L of what
each book held at the day's end at that day's last mark."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.values import WIDE, format_timestamp, parse_timestamp
from orderledger.infrastructure.application.reads.view_queries import (
    group_of,
    latest_mark,
    pnl_tag,
    recorded_rates,
)
from orderledger.infrastructure.results.pnl import DailyPnlRow, fee_fields, net_of
from orderledger.infrastructure.storage.db import Database
from orderledger.projections.book import ZERO, PnlEntry, Position, venue_order_key
from orderledger.projections.cash_flows import CASH_FLOWS_TABLE
from orderledger.projections.fees import (
    FeeValuation,
    needs_rate,
    net_of_fees,
    rate_of,
)
from orderledger.projections.lots import Book, CostBasis, Fill, book_fill, cost_basis_named, day_of
from orderledger.projections.marks import MARKS_TABLE
from orderledger.projections.positions import PNL_TABLE

if TYPE_CHECKING:
    from orderledger.infrastructure.application.ledger_protocol import LedgerParts

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
    ledger's cost-basis rule), folded from the P&L entries.

    Each group's fills are folded as a book of their own per (account, venue, instrument), in venue
    time (``book.before``), with the fills as they stand after busts and corrections: by account
    these are the positions' own books. A day's row gives what the day's fills realized and paid
    in fees, the cash flows of that day, and the unrealized P&L of what each book held at the
    day's end at its instrument's last recorded mark of the day. ``book_daily_rows`` gives the
    same rows from each book's days kept with its head.
    """
    tag = _daily_tag(by)
    group_column = "p.tags" if tag else "o.parent_id" if by == "parent" else "p.account"
    columns = ", ".join(f"p.{c.name}" for c in PNL_TABLE.columns)
    with db.read() as tx:
        entries = tx.all(
            f"SELECT {columns}, e.ts_event, {group_column} FROM {PNL_TABLE.name} p"
            " JOIN events e ON e.notification_id = p.position"
            " LEFT JOIN orders_view o ON o.client_order_id = p.client_order_id"
            " ORDER BY e.ts_event, p.position"
        )
    width = len(PNL_TABLE.columns)
    # The fills of each book that stand, in venue time: (group, account, venue, instrument) → entries
    books: dict[tuple[str, str, str, str], list[PnlEntry]] = {}
    for row in entries:
        entry = PNL_TABLE.from_row(tuple(row[:width]))
        if entry.kind != "busted":
            group = group_of(row[width + 1], tag)
            books.setdefault((group, entry.account, entry.venue, entry.instrument), []).append(entry)
    days, prices = _flows_and_marks(db, by, tag)
    every_day = sorted({key[0] for key in days} | {e.day for book in books.values() for e in book})
    rates = recorded_rates(db, (e for book in books.values() for e in book))
    rule = cost_basis_named(basis)
    for (group, account, venue, instrument), book_entries in books.items():
        state = Position(account, venue, instrument, quote_currency=book_entries[0].quote_currency)
        marked = prices.get((venue, instrument), [])
        _fold_days(days, group, state, book_entries, every_day, marked, rates, rule)
    return _daily_rows(days, by)


def book_daily_rows(ledger: LedgerParts, basis: str = "average", by: str = "account") -> list[DailyPnlRow]:
    """``daily_pnl_rows`` by ``by`` (account, parent or ``tag:NAME``), from the days each book's
    head keeps under ``basis`` (``application.reads.lots_at_head``: brought up to the log's head first;
    by parent or tag the heads of each group's own books): the read costs the books' days and
    what the log holds since the heads were last stored, not every fill of the log."""
    from orderledger.infrastructure.application.reads.lots_at_head import (  # (this read's)
        group_heads,
        worth_reading,
    )

    db = ledger.db
    rule = cost_basis_named(basis)
    tag = _daily_tag(by)
    if not worth_reading(ledger, rule, by):
        return daily_pnl_rows(db, by, rule)
    heads = group_heads(ledger, rule, by)
    days, prices = _flows_and_marks(db, by, tag)
    every_day = sorted({key[0] for key in days} | {d.day for head in heads.values() for d in head.days})
    rates = recorded_rates(db, (f for head in heads.values() for f in head.paid))
    for (grouped, account, venue, instrument), head in heads.items():
        group = account if by == "account" else grouped
        for fill in head.paid:
            assert fill.fee is not None  # (a fill paying a fee in another currency)
            bucket = days.setdefault((day_of(fill), group, fill.terms.pnl_currency or ""), _Day())
            bucket.valuation.add(fill.fee, fill.fee_currency, rate_of(fill, rates))
        marked = prices.get((venue, instrument), [])
        own = iter(head.days)
        kept = next(own, None)
        state: Position | None = None
        for day in every_day:
            if kept is not None and kept.day == day:
                for currency, realized in kept.realized.items():
                    bucket = days.setdefault((day, group, currency), _Day())
                    bucket.realized = WIDE.add(bucket.realized, realized)
                    for fee_currency, fee in kept.fees.get(currency, {}).items():
                        bucket.fees[fee_currency] = WIDE.add(bucket.fees.get(fee_currency, ZERO), fee)
                state = kept.position((account, venue, instrument), head.position.quote_currency)
                kept = next(own, None)
            if state is None or state.quantity == 0:
                if state is not None and kept is None:
                    break  # flat for good: nothing more to value
                continue
            _hold(days, day, group, state, marked)
    return _daily_rows(days, by)


def _daily_tag(by: str) -> str | None:
    """The tag NAME of ``tag:NAME`` (None by account or parent); refuses another grouping."""
    tag = pnl_tag(by)
    if tag is None and by not in DAILY_GROUPS:
        raise InvalidInputError(f"`by` {by!r}: daily P&L groups by account, parent or tag:NAME", field="by")
    return tag


def _flows_and_marks(
    db: Database, by: str, tag: str | None
) -> tuple[dict[tuple[str, str, str], _Day], dict[tuple[str, str], list[tuple[str, Decimal]]]]:
    """The days of the cash flows (by ``by``'s groups) and each instrument's marks, as (day, price)
    in venue time."""
    flow_column = "tags" if tag else "NULL" if by == "parent" else "account"
    with db.read() as tx:
        flows = tx.all(
            f"SELECT day, {flow_column}, currency, amount FROM {CASH_FLOWS_TABLE.name} ORDER BY position"
        )
        marks = tx.all(
            f"SELECT venue, instrument, ts_event, price FROM {MARKS_TABLE.name} ORDER BY ts_event, position"
        )
    days: dict[tuple[str, str, str], _Day] = {}  # (day, group, P&L currency)
    for day, value, currency, amount in flows:
        bucket = days.setdefault((day, group_of(value, tag), currency), _Day())
        bucket.flows[currency] = WIDE.add(bucket.flows.get(currency, ZERO), Decimal(amount))
    prices: dict[tuple[str, str], list[tuple[str, Decimal]]] = {}
    for venue, instrument, ts_event, price in marks:
        prices.setdefault((venue, instrument), []).append((str(ts_event)[:10], Decimal(price)))
    return days, prices


def _daily_rows(days: dict[tuple[str, str, str], _Day], by: str) -> list[DailyPnlRow]:
    return [
        _daily_row(day, by, group, currency, bucket)
        for (day, group, currency), bucket in sorted(days.items())
    ]


def _fold_days(
    days: dict[tuple[str, str, str], _Day],
    group: str,
    state: Position,
    book_entries: list[PnlEntry],
    every_day: list[str],
    marked: list[tuple[str, Decimal]],
    rates: Any,
    rule: CostBasis,
) -> None:
    """One book's fills folded day by day into ``days``: what each day realized and paid in
    fees, and the unrealized P&L of what the book held at the day's end at that day's last mark."""
    lots = None if rule == "average" else Book(state)
    book_entries.sort(key=lambda e: venue_order_key(e.venue_key))
    at = 0
    for day in every_day:
        if day < book_entries[0].day:
            continue
        while at < len(book_entries) and book_entries[at].day <= day:
            entry = book_entries[at]
            at += 1
            bucket = days.setdefault((entry.day, group, entry.terms.pnl_currency or ""), _Day())
            _book_entry(bucket, state, lots, entry, rule, rates)
        if state.quantity == 0:
            if at == len(book_entries):
                break  # flat for good: nothing more to value
            continue
        _hold(days, day, group, state, marked)


def _hold(
    days: dict[tuple[str, str, str], _Day],
    day: str,
    group: str,
    state: Position,
    marked: list[tuple[str, Decimal]],
) -> None:
    """The unrealized P&L of ``state`` (held at ``day``'s end) at the day's last mark, added to
    its day's row (or the instrument named unmarked there)."""
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
