"""Read model: every book under every cost-basis rule, its tax lots and its daily P&L, as rows.

The positions view keeps average cost live; this view keeps each book (account, venue,
instrument) under each rule of ``lots.COST_BASES`` (average, FIFO, LIFO, HIFO) as stored rows,
so that ``lots``, ``positions --cost-basis``, ``pnl --daily`` and the page's P&L tab read what
they show instead of folding every fill of the log:

- ``lot_books_view``: a book under a rule: position, cost, realized P&L, fees, and its open lots
  (each the opening fill's log position, the quantity left and its cost), in venue time;
- ``lot_entries_view``: one row per fill and rule: the fill as it stands (busts and
  corrections applied), what it realized, the lots it closed (``Match``), the quantity of the
  lot it opened, the book after it, and the entry before it in venue time (``previous``);
- ``lot_days_view``: a book's UTC day under a rule: what its fills realized (summed afresh in
  venue time by a re-fold) and paid in fees (kept as recorded), and the book at the day's end (its
  unrealized P&L is valued when read, at that day's mark);
- ``lot_fill_index_view`` and ``lot_terms_view``: where each trade's entries are, and the
  instrument definitions in force (as the positions view keeps them).

The fold is the positions view's (``projections.positions``), rule by rule: a fill later in
venue time than the book's latest is booked on top; an earlier one, a bust or a correction marks
the book changed from its place, and ``settle`` re-folds that book once from there: the entries
from that place on (walked back along ``previous``) are undone from the book's state, newest
first (each removes the lot it opened and gives back the quantities and costs it matched), then
folded again in venue time with the pass's new fills. The rows are those ``lots.fold_books``
gives for the same fills, whatever order they arrived in (tests/unit/test_lot_views.py).

The view is lazy (``Projection.lazy``): ingest does not fold it; it is brought up from its
position in the log in chunks (``Views.bring_up``), folding only the fill events recorded since:
by a read when little is left, else after a read that folded the log, in the background
(``infrastructure/application/rule_views.py``; docs/storage.md, "Lots and daily P&L under every
rule")."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar
from weakref import WeakKeyDictionary

import orjson

from orderledger.domain.events import FillBusted, FillCorrected, InstrumentDefined, OrderEvent, OrderFilled
from orderledger.domain.instrument import Terms, terms_of
from orderledger.domain.values import WIDE
from orderledger.projections.base import EVERY, Column, Projection, Table, TableSpec
from orderledger.projections.lots import COST_BASES, Book, CostBasis, Fill, OpenLot, book_fill
from orderledger.projections.positions import (
    BOOK_COLUMNS,
    FILL_INDEX_TABLE,
    TERMS_COLUMNS,
    TERMS_TABLE,
    ZERO,
    DefinedTerms,
    FillRef,
    Position,
    VenueKey,
    before,
    fees_text,
    held_change,
    terms_from_row,
    terms_row,
    venue_order_key,
)

LotBookKey = tuple[str, str, str, str]
"""(rule, account, venue, instrument)."""
LotEntryKey = tuple[str, int]
"""(rule, the fill's log position)."""
LotDayKey = tuple[str, str, str, str, str]
"""(rule, account, venue, instrument, UTC day)."""


@dataclass(slots=True)
class Match:
    """One lot a fill closed (part of): the opening fill's log position, the quantity matched,
    its cost share, the closing value, what it realized, and the fees shared to it."""

    opened: int
    quantity: Decimal
    cost: Decimal
    proceeds: Decimal
    realized: Decimal
    fees: dict[str, Decimal]
    held: Decimal = ZERO  # the lot's quantity and cost before this match: what undoing it restores
    held_cost: Decimal = ZERO


@dataclass(slots=True)
class LotEntry:
    """A fill under one rule: the fill as it stands (``fill.realized``: what it realized), the
    lots it closed, the quantity of the lot it opened, and the book after it."""

    rule: str
    fill: Fill
    kind: str  # fill | busted | corrected
    previous: int = 0  # the entry before it in venue time (a log position); 0: none
    matches: list[Match] = field(default_factory=list)
    opened: Decimal = ZERO  # the quantity of the lot it opened (lot rules); 0: none
    quantity: Decimal = ZERO  # the book after it
    cost: Decimal = ZERO
    realized: Decimal = ZERO
    day_realized: dict[str, Decimal] = field(default_factory=dict)  # its day's realized P&L through it

    @property
    def day(self) -> str:
        return self.fill.ts_event.date().isoformat()

    @property
    def key(self) -> VenueKey:
        return self.fill.key


@dataclass
class LotBook:
    """A book under one rule: its position, its open lots (opening fill, quantity left, cost),
    the count of its fills not busted, and (during a pass) the re-fold it waits for."""

    rule: str
    position: Position
    stored: list[tuple[int, Decimal, Decimal]] = field(default_factory=list)  # the open lots as read
    fills: int = 0
    since: VenueKey | None = field(default=None, compare=False)
    added: list[int] = field(default_factory=list, compare=False)
    lots: list[OpenLot] | None = field(default=None, compare=False)  # the open lots, once folded on

    @property
    def open(self) -> list[tuple[int, Decimal, Decimal]]:
        """The open lots: each opening fill's log position, the quantity left and its cost."""
        if self.lots is None:
            return self.stored
        return [(lot.opened.position, lot.quantity, lot.cost) for lot in self.lots]

    def hydrated(self, entries: Table[LotEntryKey, LotEntry]) -> list[OpenLot]:
        """The open lots with their opening fills (read once, then kept as the fold changes them)."""
        if self.lots is None:
            lots = []
            for at, quantity, cost in self.stored:
                opening = entries.get((self.rule, at))
                assert opening is not None, "an open lot's opening entry is stored"
                lots.append(OpenLot(opening.fill, quantity, cost, opening.fill.price))
            self.lots = lots
        return self.lots

    @property
    def key(self) -> LotBookKey:
        p = self.position
        return (self.rule, p.account, p.venue, p.instrument)


@dataclass
class LotDay:
    """A book's UTC day under one rule: realized P&L and fees per P&L currency, the fills whose
    fee is in another currency than their P&L (valued when read), and the book at the day's end."""

    rule: str
    account: str
    venue: str
    instrument: str
    day: str
    realized: dict[str, Decimal] = field(default_factory=dict)
    fees: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    fees_to_value: list[int] = field(default_factory=list)
    fills: dict[str, int] = field(default_factory=dict)  # per P&L currency, the fills not busted
    quantity: Decimal = ZERO
    cost: Decimal = ZERO
    terms: Terms = field(default_factory=Terms)

    @property
    def key(self) -> LotDayKey:
        return (self.rule, self.account, self.venue, self.instrument, self.day)


def _dec(value: Decimal) -> str:
    return str(value)  # exact, and read back by ``Decimal`` (the rows are the view's own)


def _amounts_from(text: str) -> dict[str, Decimal]:
    return {k: Decimal(v) for k, v in orjson.loads(text).items()}


def _book_row(b: LotBook) -> tuple[Any, ...]:
    p = b.position
    last = p.last_key
    lots = [[at, _dec(q), _dec(c)] for at, q, c in b.open]
    return (
        b.rule, p.account, p.venue, p.instrument,
        _dec(p.quantity), _dec(p.cost), _dec(p.realized_pnl), fees_text(p.fees), p.quote_currency,
        *terms_row(p.terms), p.last,
        None if last is None else orjson.dumps([last[0].isoformat(), last[1], last[2]]).decode(),
        orjson.dumps(lots).decode(), b.fills,
    )  # fmt: skip


def _book_from_row(r: tuple[Any, ...]) -> LotBook:
    last = int(r[13])
    key = None
    if r[14] is not None:
        ts, trade_id, client_order_id = orjson.loads(r[14])
        key = (datetime.fromisoformat(ts), trade_id, client_order_id, last)
    position = Position(
        r[1], r[2], r[3], Decimal(r[4]), Decimal(r[5]), Decimal(r[6]), _amounts_from(r[7]), r[8],
        terms_from_row(r[9:13]), last, key,
    )  # fmt: skip
    lots = [(int(at), Decimal(q), Decimal(c)) for at, q, c in orjson.loads(r[15])]
    return LotBook(r[0], position, lots, int(r[16]))


LOT_BOOKS_TABLE: TableSpec[LotBookKey, LotBook] = TableSpec(
    name="lot_books_view",
    columns=(
        Column("rule"),
        *BOOK_COLUMNS,
        Column("last_position", "INTEGER"),
        Column("last_fill"),
        Column("open_lots"),
        Column("fills", "INTEGER"),
    ),
    key=("rule", "account", "venue", "instrument"),
    to_row=_book_row,
    from_row=_book_from_row,
    key_of_row=lambda r: (str(r[0]), str(r[1]), str(r[2]), str(r[3])),
    key_values=lambda key: key,
)


def _match_row(m: Match) -> list[Any]:
    fees = {k: _dec(v) for k, v in sorted(m.fees.items())}
    return [
        m.opened, _dec(m.quantity), _dec(m.cost), _dec(m.proceeds), _dec(m.realized), fees,
        _dec(m.held), _dec(m.held_cost),
    ]  # fmt: skip


def _entry_row(e: LotEntry) -> tuple[Any, ...]:
    f = e.fill
    return (
        e.rule, f.position, f.account, f.venue, f.instrument, f.client_order_id, f.trade_id,
        f.ts_event.isoformat(), e.kind, _dec(f.signed_qty), _dec(f.price),
        None if f.fee is None else _dec(f.fee), f.fee_currency, f.quote_currency, *terms_row(f.terms),
        _dec(f.realized), e.previous, orjson.dumps([_match_row(m) for m in e.matches]).decode(),
        _dec(e.opened), _dec(e.quantity), _dec(e.cost), _dec(e.realized), fees_text(e.day_realized),
    )  # fmt: skip


def _entry_from_row(r: tuple[Any, ...]) -> LotEntry:
    fill = Fill(
        r[2], r[3], r[4], r[5], r[6], datetime.fromisoformat(r[7]), int(r[1]), Decimal(r[9]),
        Decimal(r[10]), None if r[11] is None else Decimal(r[11]), r[12], r[13],
        terms_from_row(r[14:18]), realized=Decimal(r[18]),
    )  # fmt: skip
    matches = [
        Match(int(m[0]), Decimal(m[1]), Decimal(m[2]), Decimal(m[3]), Decimal(m[4]), _amounts_of(m[5]),
              Decimal(m[6]), Decimal(m[7]))
        for m in orjson.loads(r[20])
    ]  # fmt: skip
    return LotEntry(
        r[0], fill, r[8], int(r[19]), matches, Decimal(r[21]), Decimal(r[22]), Decimal(r[23]),
        Decimal(r[24]), _amounts_from(r[25]),
    )  # fmt: skip


def _amounts_of(found: Mapping[str, str]) -> dict[str, Decimal]:
    return {k: Decimal(v) for k, v in found.items()}


LOT_ENTRIES_TABLE: TableSpec[LotEntryKey, LotEntry] = TableSpec(
    name="lot_entries_view",
    columns=(
        Column("rule"),
        Column("position", "INTEGER"),
        Column("account"),
        Column("venue"),
        Column("instrument"),
        Column("client_order_id"),
        Column("trade_id"),
        Column("ts_event"),
        Column("kind"),
        Column("signed_qty"),
        Column("price"),
        Column("fee"),
        Column("fee_currency"),
        Column("quote_currency"),
        *TERMS_COLUMNS,
        Column("realized"),
        Column("previous", "INTEGER"),
        Column("closed_lots"),
        Column("opened_qty"),
        Column("after_qty"),
        Column("after_cost"),
        Column("after_realized"),
        Column("day_realized"),
    ),
    key=("rule", "position"),
    to_row=_entry_row,
    from_row=_entry_from_row,
    key_of_row=lambda r: (str(r[0]), int(r[1])),
    key_values=lambda key: key,
)


def _day_row(d: LotDay) -> tuple[Any, ...]:
    fees = {c: {k: _dec(v) for k, v in sorted(f.items())} for c, f in sorted(d.fees.items())}
    return (
        d.rule, d.account, d.venue, d.instrument, d.day, fees_text(d.realized),
        orjson.dumps(fees).decode(), orjson.dumps(d.fees_to_value).decode(), orjson.dumps(d.fills).decode(),
        _dec(d.quantity), _dec(d.cost),
        *terms_row(d.terms),
    )  # fmt: skip


def _day_from_row(r: tuple[Any, ...]) -> LotDay:
    fees = {c: _amounts_of(f) for c, f in orjson.loads(r[6]).items()}
    return LotDay(
        r[0], r[1], r[2], r[3], r[4], _amounts_from(r[5]), fees, list(orjson.loads(r[7])),
        dict(orjson.loads(r[8])), Decimal(r[9]), Decimal(r[10]), terms_from_row(r[11:15]),
    )  # fmt: skip


LOT_DAYS_TABLE: TableSpec[LotDayKey, LotDay] = TableSpec(
    name="lot_days_view",
    columns=(
        Column("rule"),
        Column("account"),
        Column("venue"),
        Column("instrument"),
        Column("day"),
        Column("realized"),
        Column("fees"),
        Column("fees_to_value"),
        Column("fills"),
        Column("quantity"),
        Column("cost"),
        *TERMS_COLUMNS,
    ),
    key=("rule", "account", "venue", "instrument", "day"),
    to_row=_day_row,
    from_row=_day_from_row,
    key_of_row=lambda r: (str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4])),
    key_values=lambda key: key,
)

LOT_INDEX_TABLE = replace(FILL_INDEX_TABLE, name="lot_fill_index_view")
LOT_TERMS_TABLE = replace(TERMS_TABLE, name="lot_terms_view")
_FILLS = (OrderFilled, FillBusted, FillCorrected)
_UNDEFINED = Terms()


class LotsProjection(Projection):
    """Every book under every cost-basis rule: positions, open and closed lots, daily P&L."""

    name: ClassVar[str] = "lots"
    tables: ClassVar[tuple[TableSpec[Any, Any], ...]] = (
        LOT_BOOKS_TABLE,
        LOT_ENTRIES_TABLE,
        LOT_DAYS_TABLE,
        LOT_INDEX_TABLE,
        LOT_TERMS_TABLE,
    )
    events: ClassVar[tuple[type[OrderEvent], ...] | None] = (*_FILLS, InstrumentDefined)
    lazy: ClassVar[bool] = True
    few_partitions: ClassVar[bool] = True

    def reads(self, event: OrderEvent) -> Iterable[tuple[str, Any]]:
        if isinstance(event, _FILLS):
            books = [
                (LOT_BOOKS_TABLE.name, (rule, event.account, event.venue, event.instrument))
                for rule in COST_BASES
            ]
            if isinstance(event, OrderFilled):
                return [*books, (LOT_TERMS_TABLE.name, (event.venue, event.instrument))]
            return [*books, (LOT_INDEX_TABLE.name, (event.client_order_id, event.trade_id))]
        return ()

    def partition(self, event_type: type[OrderEvent], fields: Mapping[str, Any]) -> str | None:
        if event_type is InstrumentDefined:
            return EVERY
        if event_type in _FILLS:
            return f"{fields['account']}\x1f{fields['venue']}\x1f{fields['instrument']}"
        return None

    def apply(self, position: int, event: OrderEvent, tables: Mapping[str, Table[Any, Any]]) -> None:
        if isinstance(event, InstrumentDefined):
            tables[LOT_TERMS_TABLE.name].put(
                (event.venue, event.instrument), DefinedTerms(event.venue, event.instrument, terms_of(event))
            )
            return
        if not isinstance(event, _FILLS):
            return
        books: Table[LotBookKey, LotBook] = tables[LOT_BOOKS_TABLE.name]
        entries: Table[LotEntryKey, LotEntry] = tables[LOT_ENTRIES_TABLE.name]
        index: Table[tuple[str, str], FillRef] = tables[LOT_INDEX_TABLE.name]
        key = (event.account, event.venue, event.instrument)
        if isinstance(event, OrderFilled):
            fill = self._fill(position, event, tables)
            index.put(
                (event.client_order_id, event.trade_id),
                FillRef(event.client_order_id, event.trade_id, position),
            )
            for rule in COST_BASES:
                book = self._book(books, (rule, *key), fill)
                entry = LotEntry(rule, _copy(fill), "fill")
                book.position.add_fee(fill.fee, fill.fee_currency)
                _pay(tables, entry, book, 1)
                book.fills += 1
                last = book.position.last_key
                entries.put((rule, position), entry)
                if book.since is None and (last is None or before(last, fill.key)):
                    self._book_on_top(book, entry, tables)
                else:
                    self._mark(books, book, fill.key).append(position)
                books.put(book.key, book)
            return
        ref = index.get((event.client_order_id, event.trade_id))
        if ref is None:
            return  # the fill is not in this log (an as-of fold that stops before it)
        for rule in COST_BASES:
            changed = entries.get((rule, ref.position))
            held = self._held(books, (rule, *key))
            if changed is None or held is None or changed.kind == "busted":
                continue  # a busted trade stays busted: a later bust or correction of it changes nothing
            entry, book = changed, held
            fill = entry.fill
            book.position.add_fee(None if fill.fee is None else WIDE.minus(fill.fee), fill.fee_currency)
            _pay(tables, entry, book, -1)
            if isinstance(event, FillBusted):
                entry.kind, fill.fee = "busted", None
                book.fills -= 1
            else:
                entry.kind = "corrected"
                fill.signed_qty = held_change(
                    event.side, event.last_qty, event.fee, event.fee_currency, fill.instrument, fill.terms
                )
                fill.price, fill.fee, fill.fee_currency = event.last_px, event.fee, event.fee_currency
                book.position.add_fee(event.fee, event.fee_currency)
                _pay(tables, entry, book, 1)
            entries.put((rule, ref.position), entry)
            self._mark(books, book, fill.key)
            books.put(book.key, book)

    # ------------------------------------------------------------------ the fold

    @staticmethod
    def _fill(position: int, event: OrderFilled, tables: Mapping[str, Table[Any, Any]]) -> Fill:
        defined = tables[LOT_TERMS_TABLE.name].get((event.venue, event.instrument))
        terms: Terms = _UNDEFINED if defined is None else defined.terms
        if terms.pnl_currency is None:
            terms = replace(terms, pnl_currency=event.quote_currency)
        signed = held_change(
            event.side, event.last_qty, event.fee, event.fee_currency, event.instrument, terms
        )
        return Fill(
            event.account, event.venue, event.instrument, event.client_order_id, event.trade_id,
            event.ts_event, position, signed, event.last_px, event.fee, event.fee_currency,
            event.quote_currency, terms,
        )  # fmt: skip

    # A pass's books awaiting their re-fold, per books table (the pass's own: a view's, a
    # rebuild's, an in-memory fold's).
    _pending: WeakKeyDictionary[Table[Any, Any], dict[LotBookKey, LotBook]]

    def __init__(self) -> None:
        self._pending = WeakKeyDictionary()

    def _held(self, books: Table[LotBookKey, LotBook], key: LotBookKey) -> LotBook | None:
        """The book as this pass holds it: the one awaiting its re-fold (its ``since`` and
        ``added`` are the pass's, not the row's: a table that let the row go reads it back
        without them), else the stored one."""
        pending = self._pending.get(books)
        found = None if pending is None else pending.get(key)
        return books.get(key) if found is None else found

    def _book(self, books: Table[LotBookKey, LotBook], key: LotBookKey, fill: Fill) -> LotBook:
        book = self._held(books, key)
        if book is None:
            position = Position(*key[1:], quote_currency=fill.quote_currency, terms=fill.terms)
            book = LotBook(key[0], position)
        elif book.position.quote_currency is None:
            book.position.quote_currency = fill.quote_currency
        return book

    def _mark(self, books: Table[Any, Any], book: LotBook, at: VenueKey) -> list[int]:
        """The book changed from ``at``: re-folded from there when the pass settles."""
        if book.since is None or before(at, book.since):
            book.since = at
        pending = self._pending.get(books)
        if pending is None:
            pending = self._pending[books] = {}
        pending[book.key] = book
        return book.added

    def _book_on_top(self, book: LotBook, entry: LotEntry, tables: Mapping[str, Table[Any, Any]]) -> None:
        """Fold ``entry`` (the book's latest in venue time) into the book, its day row and links."""
        p = book.position
        entry.previous = p.last
        _fold_one(book, entry, tables[LOT_ENTRIES_TABLE.name])
        p.last, p.last_key = entry.fill.position, entry.key
        _count_day(tables, entry, book)

    def forget(self, tables: Mapping[str, Table[Any, Any]]) -> None:
        self._pending.pop(tables[LOT_BOOKS_TABLE.name], None)

    def settle(self, tables: Mapping[str, Table[Any, Any]], *, defer: bool = False) -> bool:
        """Re-fold each book changed at an earlier place in venue time during the pass, once, from
        that place: its entries from there undone newest first (and taken out of their days'
        realized P&L), then folded again in venue time with the pass's new fills."""
        books: Table[LotBookKey, LotBook] = tables[LOT_BOOKS_TABLE.name]
        pending = self._pending.pop(books, {})
        entries: Table[LotEntryKey, LotEntry] = tables[LOT_ENTRIES_TABLE.name]
        for key, book in pending.items():
            if book.since is None:
                continue
            since, added = book.since, book.added
            book.since, book.added = None, []
            chain, start = _walk_back(book, since, entries)
            for entry in reversed(chain):
                _undo(book, entry, entries)
            _start_state(book, start, entries)
            fresh = [e for e in (entries.get((book.rule, at)) for at in added) if e is not None]
            merged = sorted(chain + fresh, key=lambda e: venue_order_key(e.key))
            p = book.position
            p.last, p.last_key = (start.fill.position, start.key) if start else (0, None)
            _recount_days(tables, book, merged, start)
            for entry in merged:
                entry.previous = p.last
                _fold_one(book, entry, entries)
                p.last, p.last_key = entry.fill.position, entry.key
                _count_day(tables, entry, book)
            books.put(key, book)
        return False


def _walk_back(
    book: LotBook, since: VenueKey, entries: Table[LotEntryKey, LotEntry]
) -> tuple[list[LotEntry], LotEntry | None]:
    """The book's entries from ``since`` on in venue time, oldest first; and the entry just
    before them (None: they start the book)."""
    found: list[LotEntry] = []
    previous = book.position.last
    while previous > 0:
        entry = entries.get((book.rule, previous))
        if entry is None:
            break
        if before(entry.key, since):
            return found[::-1], entry
        found.append(entry)
        previous = entry.previous
    return found[::-1], None


def _undo(book: LotBook, entry: LotEntry, entries: Table[LotEntryKey, LotEntry]) -> None:
    """Take ``entry`` (the latest folded) out of the book's open lots."""
    lots = book.hydrated(entries)
    if entry.opened:
        at = next(i for i, lot in enumerate(lots) if lot.opened.position == entry.fill.position)
        del lots[at]
    for match in reversed(entry.matches):
        found = next((lot for lot in lots if lot.opened.position == match.opened), None)
        if found is not None:  # as it was, to the digit (a sum could write it otherwise)
            found.quantity, found.cost = match.held, match.held_cost
            continue
        opening = entries.get((book.rule, match.opened))
        assert opening is not None, "a matched lot's opening entry is stored"
        places = [venue_order_key(lot.opened.key) for lot in lots]
        where = bisect.bisect(places, venue_order_key(opening.key))
        lots.insert(where, OpenLot(opening.fill, match.held, match.held_cost, opening.fill.price))
    entry.matches = []
    entry.opened = ZERO


def _start_state(book: LotBook, start: LotEntry | None, entries: Table[LotEntryKey, LotEntry]) -> None:
    """Put the book's position back to what it was after ``start`` (None: before any fill)."""
    p = book.position
    if start is None:
        p.quantity, p.cost, p.realized_pnl = ZERO, ZERO, ZERO
        return
    p.quantity, p.cost, p.realized_pnl = start.quantity, start.cost, start.realized
    at: LotEntry | None = start
    while at is not None and at.kind == "busted":  # the terms of the last fill booked
        at = entries.get((book.rule, at.previous)) if at.previous else None
    if at is not None:
        p.terms = at.fill.terms


def _fold_one(book: LotBook, entry: LotEntry, entries: Table[LotEntryKey, LotEntry]) -> None:
    """Book ``entry`` on the book under its rule; the entry keeps what it realized, the lots it
    closed, the lot it opened and the book after it."""
    p = book.position
    entry.matches, entry.opened = [], ZERO
    fill = entry.fill
    if entry.kind == "busted":
        fill.realized = ZERO
    elif book.rule == "average":
        fill.realized = p.book(fill.signed_qty, fill.price, fill.terms)
    else:
        folding = Book(p, book.hydrated(entries))
        # What undoing a match restores: the lots as they were (only a closing fill matches any).
        closing = p.quantity != 0 and (p.quantity > 0) != (fill.signed_qty > 0)
        held = {lot.opened.position: (lot.quantity, lot.cost) for lot in folding.open} if closing else {}
        book_fill(folding, fill, _RULES[book.rule])
        for c in folding.closed:
            was = held[c.opened.position]
            entry.matches.append(
                Match(c.opened.position, c.quantity, c.cost, c.proceeds, c.realized, c.fees, *was)
            )
        # A lot it opened is the newest (``lots._book_lots`` appends it).
        lots = folding.open
        entry.opened = lots[-1].quantity if lots and lots[-1].opened is fill else ZERO
    entry.quantity, entry.cost, entry.realized = p.quantity, p.cost, p.realized_pnl
    entries.put((book.rule, fill.position), entry)


def _copy(fill: Fill) -> Fill:
    """A fill of its own for one rule's entry (what it realizes, and a correction, are the rule's)."""
    f = fill
    return Fill(
        f.account, f.venue, f.instrument, f.client_order_id, f.trade_id, f.ts_event, f.position,
        f.signed_qty, f.price, f.fee, f.fee_currency, f.quote_currency, f.terms, f.tags,
    )  # fmt: skip


_RULES: dict[str, CostBasis] = {rule: rule for rule in COST_BASES}


def _day_of(tables: Mapping[str, Table[Any, Any]], entry: LotEntry, book: LotBook) -> LotDay:
    days: Table[LotDayKey, LotDay] = tables[LOT_DAYS_TABLE.name]
    p = book.position
    key = (book.rule, p.account, p.venue, p.instrument, entry.day)
    found = days.get(key)
    if found is None:
        found = LotDay(*key)
        days.put(key, found)
    return found


def _pay(tables: Mapping[str, Table[Any, Any]], entry: LotEntry, book: LotBook, sign: int) -> None:
    """Add (``sign`` 1) or take back (-1) a fill's fee and its count to its day, as recorded: a
    fee does not depend on the order fills are folded in."""
    day = _day_of(tables, entry, book)
    fill = entry.fill
    currency = fill.terms.pnl_currency or ""
    count = day.fills.get(currency, 0) + sign
    if count:
        day.fills[currency] = count
    else:
        day.fills.pop(currency, None)
    if fill.fee is not None:
        fees = day.fees.setdefault(currency, {})
        fee_currency = fill.fee_currency or "?"
        fees[fee_currency] = WIDE.add(
            fees.get(fee_currency, ZERO), fill.fee if sign > 0 else WIDE.minus(fill.fee)
        )
        if fill.fee and fill.fee_currency != fill.pnl_currency:
            if sign > 0:
                day.fees_to_value.append(fill.position)
            else:
                day.fees_to_value.remove(fill.position)
    tables[LOT_DAYS_TABLE.name].put(day.key, day)


def _count_day(tables: Mapping[str, Table[Any, Any]], entry: LotEntry, book: LotBook) -> None:
    """Add what ``entry`` (just folded) realized to its day, and the book after it as the day's end
    (the last fill of a day folded is its last in venue time)."""
    day = _day_of(tables, entry, book)
    fill = entry.fill
    p = book.position
    if entry.kind != "busted":
        currency = fill.terms.pnl_currency or ""
        day.realized[currency] = WIDE.add(day.realized.get(currency, ZERO), fill.realized)
    day.quantity, day.cost, day.terms = p.quantity, p.cost, p.terms
    entry.day_realized = dict(day.realized)  # where a re-fold from just after it starts the day
    tables[LOT_DAYS_TABLE.name].put(day.key, day)


def _recount_days(
    tables: Mapping[str, Table[Any, Any]], book: LotBook, merged: list[LotEntry], start: LotEntry | None
) -> None:
    """Start the realized P&L of the days a re-fold goes through again: from nothing, the first
    day's from its sum through ``start`` (``LotEntry.day_realized``, as the fold in venue time
    left it), so that each day's sum is the one a fold in venue time makes, to the digit."""
    days: set[str] = set()
    for entry in merged:
        if entry.day not in days:
            days.add(entry.day)
            _day_of(tables, entry, book).realized = {}
    if merged and start is not None and start.day == merged[0].day:
        _day_of(tables, merged[0], book).realized = dict(start.day_realized)
