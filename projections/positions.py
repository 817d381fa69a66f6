"""Read model: positions and P&L by average cost, per (account, venue, instrument).

Rules (docs/semantics.md, "Positions"):
- netting, weighted average open price; increasing moves the average;
- reducing realizes (exit − average) × closed quantity, signed by the position's side;
- through zero: the old position closes fully, the remainder opens at the fill price;
- realized P&L is gross; fees are summed per currency; unrealized P&L uses caller marks;
- quantities are in contracts; each fill is valued with the instrument's definition in force
  when it is recorded (``domain.instrument.Terms``: contract size, linear or inverse), and the
  position, and each P&L entry, say which definition version and P&L currency they used;
- fills are folded in venue time: by the fill's ``ts_event``, then the venue's trade ID, then
  the order's client ID, then log position (``venue_key``), so positions and realized P&L are a
  function of the set of fills, whatever order they arrived in. Each book keeps the key of the
  last fill it folded and each P&L entry the entry before it in venue time (``previous``): a
  fill later than the last one (the common case) is booked on top; an earlier one is linked in
  its place and the book is re-folded from the earliest such place once, when the pass over the
  events settles (``settle``), so a run of late fills costs one re-fold, not one each;
- a bust restates the book as if the fill had never happened, and a correction as if it had
  had the corrected values from the start, the same way.

Every P&L-moving event also leaves a ``pnl_entries`` row (realized amount, fee, UTC day of
the fill's venue time, tags), from which P&L is grouped by day, account, venue, instrument
or tag.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar
from weakref import WeakKeyDictionary

import orjson

from orderledger.domain.events import FillBusted, FillCorrected, InstrumentDefined, OrderEvent, OrderFilled
from orderledger.domain.instrument import Terms, terms_of
from orderledger.domain.values import WIDE, format_decimal
from orderledger.projections.base import EVERY, Column, Projection, Table, TableSpec
from orderledger.projections.book import (
    UNLINKED,
    ZERO,
    PnlEntry,
    Position,
    PositionKey,
    Unsettled,
    VenueKey,
    before,
    held_change,
)


def _terms_row(t: Terms) -> tuple[Any, ...]:
    return (format_decimal(t.contract_size), t.settlement, t.pnl_currency, t.version)


def _terms_from_row(r: tuple[Any, ...]) -> Terms:
    # Rows repeat a few definitions (one per instrument and version), and a book read back
    # whole (``_book_since``) reads one per entry: each distinct one is made once (Terms is
    # frozen, so rows may share it).
    key = tuple(r)
    terms = _TERMS_READ.get(key)
    if terms is None:
        if len(_TERMS_READ) >= 1024:
            _TERMS_READ.clear()
        terms = _TERMS_READ[key] = Terms(Decimal(r[0]), r[1], r[2], int(r[3]))
    return terms


_TERMS_READ: dict[tuple[Any, ...], Terms] = {}


TERMS_COLUMNS = (
    Column("contract_size"),
    Column("settlement"),
    Column("pnl_currency"),
    Column("definition_version", "INTEGER"),
)
"""Which definition a row's figures used (see ``domain.instrument.Terms``)."""


def _tags_text(tags: dict[str, str]) -> str:
    """Tags as JSON text (most fills have none: "{}", as orjson writes an empty mapping)."""
    return orjson.dumps(tags).decode() if tags else "{}"


def _fees_text(fees: dict[str, Decimal]) -> str:
    return orjson.dumps({k: format_decimal(v) for k, v in sorted(fees.items())}).decode()


def _venue_key_text(k: VenueKey) -> str:
    return orjson.dumps([k[0].isoformat(), k[1], k[2], k[3]]).decode()


def _venue_key_from_text(text: str) -> VenueKey:
    ts, trade_id, client_order_id, position = orjson.loads(text)
    return (datetime.fromisoformat(ts), trade_id, client_order_id, position)


def _position_row(p: Position) -> tuple[Any, ...]:
    last = p.last_key
    waiting = p.unsettled
    return (
        p.account,
        p.venue,
        p.instrument,
        format_decimal(p.quantity),
        format_decimal(p.cost),
        format_decimal(p.realized_pnl),
        _fees_text(p.fees),
        p.quote_currency,
        *_terms_row(p.terms),
        p.last,
        None if last is None else last[0].isoformat(),
        None if last is None else last[1],
        None if last is None else last[2],
        None if waiting is None or not waiting.stored else _venue_key_text(waiting.since),
    )


def _position_from_row(r: tuple[Any, ...]) -> Position:
    last = int(r[12] or 0)
    book = Position(
        r[0],
        r[1],
        r[2],
        Decimal(r[3]),
        Decimal(r[4]),
        Decimal(r[5]),
        {k: Decimal(v) for k, v in orjson.loads(r[6]).items()},
        r[7],
        _terms_from_row(r[8:12]),
        last,
        None if r[13] is None else (datetime.fromisoformat(r[13]), r[14], r[15], last),
    )
    if r[16] is not None:
        book.unsettled = Unsettled(_venue_key_from_text(r[16]), [], stored=True)
    return book


POSITIONS_TABLE: TableSpec[PositionKey, Position] = TableSpec(
    name="positions_view",
    columns=(
        Column("account"),
        Column("venue"),
        Column("instrument"),
        Column("quantity"),
        Column("cost"),
        Column("realized_pnl"),
        Column("fees"),
        Column("quote_currency"),
        *TERMS_COLUMNS,
        # The latest fill in venue time: its P&L entry, venue time, trade ID and order (``before``).
        Column("last_position", "INTEGER"),
        Column("last_ts_event"),
        Column("last_trade_id"),
        Column("last_client_order_id"),
        # The book's re-fold left for later, from this fill on (``Unsettled``); NULL: settled.
        Column("unsettled"),
    ),
    key=("account", "venue", "instrument"),
    to_row=_position_row,
    from_row=_position_from_row,
    key_of_row=lambda r: (str(r[0]), str(r[1]), str(r[2])),
    key_values=lambda key: key,
)


def _entry_row(e: PnlEntry) -> tuple[Any, ...]:
    terms = e.terms
    return (
        e.position,
        e.account,
        e.venue,
        e.instrument,
        e.day,
        e.client_order_id,
        e.trade_id,
        e.kind,
        format_decimal(e.realized),
        None if e.fee is None else format_decimal(e.fee),
        e.fee_currency,
        e.quote_currency,
        _tags_text(e.tags),
        format_decimal(e.signed_qty),
        format_decimal(e.price),
        format_decimal(e.before_qty),
        format_decimal(e.before_cost),
        format_decimal(e.before_realized),
        format_decimal(terms.contract_size),
        terms.settlement,
        terms.pnl_currency,
        terms.version,
        e.ts_event.isoformat(),
        e.previous,
    )


def _entry_from_row(r: tuple[Any, ...]) -> PnlEntry:
    return PnlEntry(
        int(r[0]),
        r[1],
        r[2],
        r[3],
        r[4],
        r[5],
        r[6],
        r[7],
        Decimal(r[8]),
        None if r[9] is None else Decimal(r[9]),
        r[10],
        r[11],
        orjson.loads(r[12]),
        Decimal(r[13]),
        Decimal(r[14]),
        Decimal(r[15]),
        Decimal(r[16]),
        Decimal(r[17]),
        _terms_from_row(r[18:22]),
        datetime.fromisoformat(r[22]),
        int(r[23]),
    )


PNL_TABLE: TableSpec[int, PnlEntry] = TableSpec(
    name="pnl_entries_view",
    columns=(
        Column("position", "INTEGER"),
        Column("account"),
        Column("venue"),
        Column("instrument"),
        Column("day"),
        Column("client_order_id"),
        Column("trade_id"),
        Column("kind"),
        Column("realized"),
        Column("fee"),
        Column("fee_currency"),
        Column("quote_currency"),
        Column("tags"),
        Column("signed_qty"),
        Column("price"),
        Column("before_qty"),
        Column("before_cost"),
        Column("before_realized"),
        *TERMS_COLUMNS,
        Column("ts_event"),
        Column("previous", "INTEGER"),
    ),
    key=("position",),
    to_row=_entry_row,
    from_row=_entry_from_row,
    key_of_row=lambda r: int(r[0]),
    key_values=lambda key: (key,),
    # Re-folds walk a book's entries back by ``previous`` (the key); reports read every entry:
    # no index pays for itself.
)

TradeKey = tuple[str, str]


@dataclass(frozen=True)
class FillRef:
    """Where a trade's P&L entry is (the fill's notification position)."""

    client_order_id: str
    trade_id: str
    position: int


FILL_INDEX_TABLE = TableSpec(
    name="pnl_fill_index_view",
    columns=(Column("client_order_id"), Column("trade_id"), Column("position", "INTEGER")),
    key=("client_order_id", "trade_id"),
    to_row=lambda ref: (ref.client_order_id, ref.trade_id, ref.position),
    from_row=lambda r: FillRef(str(r[0]), str(r[1]), int(r[2])),
    key_of_row=lambda r: (str(r[0]), str(r[1])),
    key_values=lambda key: key,
)


@dataclass(frozen=True)
class DefinedTerms:
    """The terms in force for one instrument: the latest ``InstrumentDefined`` folded so far."""

    venue: str
    instrument: str
    terms: Terms


TERMS_TABLE: TableSpec[tuple[str, str], DefinedTerms] = TableSpec(
    name="instrument_terms_view",
    columns=(Column("venue"), Column("instrument"), *TERMS_COLUMNS),
    key=("venue", "instrument"),
    to_row=lambda d: (d.venue, d.instrument, *_terms_row(d.terms)),
    from_row=lambda r: DefinedTerms(str(r[0]), str(r[1]), _terms_from_row(tuple(r[2:6]))),
    key_of_row=lambda r: (str(r[0]), str(r[1])),
    key_values=lambda key: key,
)


_FILL_FACTS: tuple[type[OrderEvent], ...] = (OrderFilled, FillBusted, FillCorrected)
_FILLS = (OrderFilled, FillBusted, FillCorrected)  # unannotated, so that isinstance narrows by it
_RESTATEMENTS = (FillBusted, FillCorrected)
_UNDEFINED = Terms()
DEFER_AFTER = 256
"""With ``settle(defer=True)``, a book's re-fold is left for later when it would walk back over
more than this many entries, and more than four times the fills the pass added to it."""
_IN_CURRENCY: dict[tuple[int, str | None], tuple[Terms, Terms]] = {}
"""Terms without a P&L currency (by identity), completed with a quote currency: (the terms, the
completed terms). A few, made once each."""


class PositionsProjection(Projection):
    """Average-cost positions, and one P&L entry per fill, restated by busts and corrections."""

    name: ClassVar[str] = "positions"
    tables: ClassVar[tuple[TableSpec[Any, Any], ...]] = (
        POSITIONS_TABLE,
        PNL_TABLE,
        FILL_INDEX_TABLE,
        TERMS_TABLE,
    )
    events: ClassVar[tuple[type[OrderEvent], ...] | None] = (*_FILL_FACTS, InstrumentDefined)
    # The view's version: a stored view of another version is rebuilt from the log when a ledger
    # opens. At this one a book carries its exact cost, fills are valued by the instrument
    # definition they name and folded in venue time (each entry linked to the one before), a spot
    # fee paid in the base coin leaves the held quantity, and a book's re-fold may be left for
    # the end of a run of passes (``unsettled``).
    version: ClassVar[int] = 7
    unfinished: ClassVar[tuple[str, str] | None] = (POSITIONS_TABLE.name, "unsettled")

    def reads(self, event: OrderEvent) -> Iterable[tuple[str, Any]]:
        if isinstance(event, OrderFilled):
            return (
                (POSITIONS_TABLE.name, (event.account, event.venue, event.instrument)),
                (TERMS_TABLE.name, (event.venue, event.instrument)),
            )
        if isinstance(event, _RESTATEMENTS):
            return (
                (POSITIONS_TABLE.name, (event.account, event.venue, event.instrument)),
                (FILL_INDEX_TABLE.name, (event.client_order_id, event.trade_id)),
            )
        return ()

    few_partitions: ClassVar[bool] = True  # a book per account, venue and instrument

    def partition(self, event_type: type[OrderEvent], fields: Mapping[str, Any]) -> str | None:
        if event_type is InstrumentDefined:
            return EVERY  # every book may trade the instrument: each share keeps the definitions
        if event_type in _FILL_FACTS:
            # A book's fills, its P&L entries and their fill index (a bust names the same order,
            # so the same book) belong together; nothing else reads them.
            return f"{fields['account']}\x1f{fields['venue']}\x1f{fields['instrument']}"
        return None

    def apply(self, position: int, event: OrderEvent, tables: Mapping[str, Table[Any, Any]]) -> None:
        if isinstance(event, InstrumentDefined):
            defined: Table[tuple[str, str], DefinedTerms] = tables[TERMS_TABLE.name]
            defined.put(
                (event.venue, event.instrument), DefinedTerms(event.venue, event.instrument, terms_of(event))
            )
            return
        if not isinstance(event, _FILLS):
            return
        positions: Table[PositionKey, Position] = tables[POSITIONS_TABLE.name]
        entries: Table[int, PnlEntry] = tables[PNL_TABLE.name]
        index: Table[TradeKey, FillRef] = tables[FILL_INDEX_TABLE.name]
        key = (event.account, event.venue, event.instrument)
        book = positions.get(key)
        if book is None:
            book = Position(*key, ZERO, ZERO, ZERO, {}, event.quote_currency, _UNDEFINED)
        elif book.quote_currency is None:
            book.quote_currency = event.quote_currency
        if isinstance(event, OrderFilled):
            terms = self._terms_in_force(tables, book)
            signed = held_change(
                event.side, event.last_qty, event.fee, event.fee_currency, event.instrument, terms
            )
            at = (event.ts_event, event.trade_id, event.client_order_id, position)
            last = book.last_key
            entry = PnlEntry(  # positionally, in the fields' order: keywords cost a third of the call
                position,
                event.account,
                event.venue,
                event.instrument,
                event.ts_event.date().isoformat(),
                event.client_order_id,
                event.trade_id,
                "fill",
                ZERO,
                event.fee,
                event.fee_currency,
                book.quote_currency,
                dict(event.tags) if event.tags else {},
                signed,
                event.last_px,
                book.quantity,
                book.cost,
                book.realized_pnl,
                terms,
                event.ts_event,
                book.last,
            )
            book.add_fee(event.fee, event.fee_currency)
            index.put(
                (event.client_order_id, event.trade_id),
                FillRef(event.client_order_id, event.trade_id, position),
            )
            if book.unsettled is None and (last is None or before(last, at)):
                # The latest fill in venue time of a settled book (the common case): on top.
                entry.realized = book.book(signed, event.last_px, terms)
                entry.terms = book.terms
                book.last, book.last_key = position, at
            else:
                # An earlier one (or any fill of a book already waiting): put in its place and
                # the book re-folded from there once, when the pass settles.
                self._refold_from(positions, key, book, at).append(position)
            entries.put(position, entry)
            positions.put(key, book)
            return
        ref = index.get((event.client_order_id, event.trade_id))
        changed = None if ref is None else entries.get(ref.position)
        if changed is None:
            return  # the fill is not in this log (e.g. an as-of fold that stops before it)
        if isinstance(event, FillBusted):
            book.add_fee(None if changed.fee is None else WIDE.minus(changed.fee), changed.fee_currency)
            restated = replace(changed, kind="busted", realized=ZERO, fee=None)
        else:
            # The fee may be completed or replaced in another currency (a second copy of the trade).
            book.add_fee(None if changed.fee is None else WIDE.minus(changed.fee), changed.fee_currency)
            book.add_fee(event.fee, event.fee_currency)
            restated = replace(
                changed,
                kind="corrected",
                signed_qty=held_change(
                    event.side,
                    event.last_qty,
                    event.fee,
                    event.fee_currency,
                    changed.instrument,
                    changed.terms,
                ),
                price=event.last_px,
                fee=event.fee,
                fee_currency=event.fee_currency,
            )
        entries.put(changed.position, restated)
        self._refold_from(positions, key, book, changed.venue_key)
        positions.put(key, book)

    # A pass's books awaiting their re-fold, per positions table (the pass's own: a view's, a
    # rebuild's, an in-memory fold's): from the earliest venue-time place changed, with the
    # entries (log positions) of the fills not yet in the book's chain.
    _pending: WeakKeyDictionary[Table[Any, Any], dict[PositionKey, Unsettled]]

    def __init__(self) -> None:
        self._pending = WeakKeyDictionary()

    def _refold_from(
        self, positions: Table[Any, Any], key: PositionKey, book: Position, at: VenueKey
    ) -> list[int]:
        """Mark the book changed from ``at`` (on the book, which the next fill of the pass reads,
        and in the pass's list, which ``settle`` reads); returns its list of fills to place."""
        waiting = book.unsettled
        if waiting is None:
            waiting = book.unsettled = Unsettled(at, [])
            self._pending_of(positions)[key] = waiting
        else:
            if waiting.stored:  # left by an earlier pass: this one may not know of it yet
                self._pending_of(positions)[key] = waiting
            if before(at, waiting.since):
                waiting.since = at
        return waiting.added

    def _pending_of(self, positions: Table[Any, Any]) -> dict[PositionKey, Unsettled]:
        pending = self._pending.get(positions)
        if pending is None:
            pending = self._pending[positions] = {}
        return pending

    def resume(self, tables: Mapping[str, Table[Any, Any]], key: Any) -> None:
        positions: Table[PositionKey, Position] = tables[POSITIONS_TABLE.name]
        book = positions.get(key)
        if book is not None and book.unsettled is not None:
            self._pending_of(positions)[key] = book.unsettled

    def forget(self, tables: Mapping[str, Table[Any, Any]]) -> None:
        self._pending.pop(tables[POSITIONS_TABLE.name], None)

    def settle(
        self,
        tables: Mapping[str, Table[Any, Any]],
        *,
        defer: bool = False,
        write: Callable[[], None] | None = None,
    ) -> bool:
        """Re-fold each book changed at an earlier place in venue time during the pass, once,
        from the earliest such place: the book's entries from there on and the pass's new fills
        merged in venue time, linked, and folded from the state before the first of them.

        With ``defer``, a book whose re-fold would walk back much further than the pass added
        (a session fed in random order re-folds most of each book at every commit) is left for
        the run's end: its ``since`` is stored in its row and the pass's fills wait unlinked,
        so that a run of passes re-folds each such book once, not once per pass. Such a book's
        re-fold rewrites most of its entries: each is written (``write``) before the next book's
        are read, so that memory holds one book's entries at a time, not every book's."""
        positions: Table[PositionKey, Position] = tables[POSITIONS_TABLE.name]
        unsettled = self._pending.pop(positions, None)
        left = False
        if not unsettled:
            return left
        entries: Table[int, PnlEntry] = tables[PNL_TABLE.name]
        for key, waiting in unsettled.items():
            book = positions.get(key)
            if book is None:  # a pass that failed and was discarded left its mark: nothing to do
                continue
            unlinked: list[PnlEntry] = []
            if not waiting.stored:
                bound = max(DEFER_AFTER, 4 * len(waiting.added)) if defer else None
                chain = self._since(book, waiting.since, entries, bound)
            elif defer:
                chain = None
            else:  # a book left for later: read whole, once, with the fills left unlinked
                chain, unlinked = self._book_since(key, book, waiting.since, entries)
            if chain is None:  # left for later: the fills wait unlinked, the mark in the row
                for entry in map(entries.get, waiting.added):
                    if entry is not None:
                        entry.previous = UNLINKED
                        entries.put(entry.position, entry)
                waiting.added = []
                waiting.stored = left = True
                positions.put(key, book)
                continue
            book.unsettled = None
            added = [e for e in map(entries.get, waiting.added) if e is not None]
            if unlinked:  # and the fills earlier passes left unlinked
                known = set(waiting.added)
                added.extend(e for e in unlinked if e.position not in known)
            merged = sorted(chain + added, key=PnlEntry.venue_order)
            if not merged:
                positions.put(key, book)  # its stored mark, if any, goes
                continue
            first = merged[0]
            if chain:  # the chain's first entry was settled: its before-state is the start
                start = chain[0]
                first.previous = start.previous
                first.before_qty, first.before_cost = start.before_qty, start.before_cost
                first.before_realized = start.before_realized
            else:  # every change is past the chain's end: the book as it stands is the start
                first.previous = book.last
                first.before_qty, first.before_cost = book.quantity, book.cost
                first.before_realized = book.realized_pnl
            self._restate(book, merged, entries)
            book.last, book.last_key = merged[-1].position, merged[-1].venue_key
            positions.put(key, book)
            if waiting.stored and write is not None:
                write()
        return left

    @staticmethod
    def _terms_in_force(tables: Mapping[str, Table[Any, Any]], book: Position) -> Terms:
        """The definition in force for the book's instrument now (in log order); without one,
        one unit per contract, linear, P&L in the fill's quote currency."""
        defined = tables[TERMS_TABLE.name].get((book.venue, book.instrument))
        terms: Terms = _UNDEFINED if defined is None else defined.terms
        if terms.pnl_currency is None:
            # Looked up by the terms' identity (hashing the dataclass is slow); the entry keeps
            # the terms it was made for, so an identity reused by other terms is not mistaken.
            key = (id(terms), book.quote_currency)
            found = _IN_CURRENCY.get(key)
            if found is None or found[0] is not terms:
                if len(_IN_CURRENCY) >= 1024:  # terms read again after their rows left a cache
                    _IN_CURRENCY.clear()
                found = _IN_CURRENCY[key] = (terms, replace(terms, pnl_currency=book.quote_currency))
            terms = found[1]
        return terms

    @staticmethod
    def _since(
        book: Position, at: VenueKey, entries: Table[int, PnlEntry], bound: int | None = None
    ) -> list[PnlEntry] | None:
        """The book's entries from ``at`` on in venue time, oldest first: walked back from the
        latest, so the cost is the number of entries re-folded, not the size of the book. None
        when there are more than ``bound`` of them."""
        found: list[PnlEntry] = []
        previous = book.last
        while previous > 0:
            entry = entries.get(previous)
            if entry is None or before(entry.venue_key, at):
                break
            if bound is not None and len(found) >= bound:
                return None
            found.append(entry)
            previous = entry.previous
        found.reverse()
        return found

    @staticmethod
    def _book_since(
        key: PositionKey, book: Position, at: VenueKey, entries: Table[int, PnlEntry]
    ) -> tuple[list[PnlEntry], list[PnlEntry]]:
        """A book left for later: its entries from ``at`` on in venue time (as ``_since``) and
        the fills left unlinked, from one read of the book's entries. The re-fold of such a book
        walks back over most of it, which a look-up per entry made the larger part of a shuffled
        session's ingest."""
        where = {"account": key[0], "venue": key[1], "instrument": key[2]}
        every = {entry.position: entry for entry in entries.scan(where, 0)}
        found: list[PnlEntry] = []
        previous = book.last
        while previous > 0:
            entry = every.get(previous)
            if entry is None or before(entry.venue_key, at):
                break
            found.append(entry)
            previous = entry.previous
        found.reverse()
        return found, [entry for entry in every.values() if entry.previous == UNLINKED]

    @staticmethod
    def _restate(book: Position, changed: list[PnlEntry], entries: Table[int, PnlEntry]) -> None:
        """Re-fold the book from just before ``changed[0]`` through the entries ``changed`` (in
        venue time, each linked to the one before it).

        The result is exactly what folding the set of fills in venue time gives had the trade
        always been there (a late fill), never happened (a bust) or always had its corrected
        values (a correction): quantities, average price and the realized/unrealized split.
        """
        first = changed[0]
        state = Position(
            book.account,
            book.venue,
            book.instrument,
            quantity=first.before_qty,
            cost=first.before_cost,
            realized_pnl=first.before_realized,
            quote_currency=book.quote_currency,
            terms=book.terms,
        )
        previous = first.previous
        for entry in changed:
            # Changed in place: the entries were read for this fold (a held row, a cached one or
            # a fresh one from the table), and a fold that is rolled back drops what it held
            # and the tables' caches.
            entry.before_qty, entry.before_cost = state.quantity, state.cost
            entry.before_realized = state.realized_pnl
            entry.previous = previous
            # Each fill keeps the definition it was booked under, whatever was defined since.
            entry.realized = (
                ZERO if entry.kind == "busted" else state.book(entry.signed_qty, entry.price, entry.terms)
            )
            entries.put(entry.position, entry)
            previous = entry.position
        book.quantity, book.cost, book.realized_pnl = (state.quantity, state.cost, state.realized_pnl)
        book.terms = state.terms
