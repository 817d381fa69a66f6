"""Each book's position, open lots and closed lots under a lot rule, brought up to the log's head
when read.

``lots`` (open or ``--closed``) and ``positions --cost-basis fifo|lifo|hifo`` read these heads
(and the closed lots kept beside them) instead of folding every fill of the log at each read. A
read takes the heads the last read stored (``storage.lot_heads``) and folds only the fill events
recorded since: a fill later in venue time than its book's latest extends the book where it
stands (``projections.lots.extend``); a fill that lands earlier, or a bust or correction, folds
that book again from its latest mark before that place (``projections.lots.Mark``: the book's
figures and open lots right after one of its fills, kept whenever the book is flat and every few
hundred fills), reading from the log only the book's fills since that mark; without one, or for
a book never stored, from its first fill. The closed lots a fold makes replace the book's stored
ones from the first it made on (``LotHead.closed_from``): after those stored, for a head
extended; from the mark's count, for a book folded again from a mark; all of them, from its
first fill.

The heads then go back to the store, unless another process stored first, the ledger is
read-only for this connection, or another writer holds the write lock: then the answer is still
this read's fold, and a later read stores it. A SQLite file is checked before a process's first
write (``Database.check_ahead``); a read with something to store starts that check beside its
fold, and damage it finds is an error, as for any command.

Whatever was stored, the answer is what a fold of the whole log gives (``reads.rule_books``):
tests compare the two over sessions fed in any order and read between any two commits.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from orderledger.domain.events import FillBusted, FillCorrected, InstrumentDefined, OrderEvent, OrderFilled
from orderledger.domain.instrument import Terms, terms_of
from orderledger.domain.values import format_timestamp
from orderledger.infrastructure.audit.search import EVENT_SELECT, EventFilter, decoded_events, event_keyset
from orderledger.infrastructure.errors import DatabaseCorruptError, DatabaseReplacedError, StoreError
from orderledger.infrastructure.storage import lot_heads as stored
from orderledger.projections.book import PositionKey, VenueKey, venue_order_key
from orderledger.projections.lots import (
    ClosedLot,
    CostBasis,
    LotHead,
    Mark,
    extend,
    fill_of,
    fills_by_book,
    fills_of,
    fold_head,
    mark_before,
)

if TYPE_CHECKING:
    from orderledger.infrastructure.application.parts import LedgerParts

FILL_EVENTS = ("OrderFilled", "FillBusted", "FillCorrected", "InstrumentDefined")
"""What a book's lots are folded from: its fills, their busts and corrections, the definitions."""
DEFINITIONS = EventFilter(types=("InstrumentDefined",))


def lot_heads(ledger: LedgerParts, rule: CostBasis) -> dict[PositionKey, LotHead]:
    """Every book's head under ``rule`` as of the log's head, stored for the next read."""
    return _brought(ledger, rule, closed=False)[0]


def closed_lots(ledger: LedgerParts, rule: CostBasis) -> dict[PositionKey, list[ClosedLot]]:
    """Every book's closed lots under ``rule`` as of the log's head, books in order of their
    keys and each book's lots in venue order of their closing fills (then in match order): the
    rows stored before the first lot this read's fold made or kept (``LotHead.closed_from``),
    then those, stored for the next read with the heads."""
    heads, kept = _brought(ledger, rule, closed=True)
    return {
        key: [*kept.get(key, [])[: head.closed_from], *head.closed] for key, head in sorted(heads.items())
    }


def _brought(
    ledger: LedgerParts, rule: CostBasis, *, closed: bool
) -> tuple[dict[PositionKey, LotHead], dict[PositionKey, list[ClosedLot]]]:
    """The heads brought up to the log's head and stored, and (``closed``) the closed lots that
    were stored with the heads they were brought from, read in the same transaction."""
    db = ledger.db
    with db.snapshot() as tx:  # (``seen``, the heads and their closed lots as one store left them)
        since = stored.seen(tx, rule)
        if since > ledger.log_position():
            since = 0  # a store restored from an older copy than its heads: folded again
        heads = stored.load(tx, rule) if since else {}
        kept = stored.closed(tx, rule) if since and closed else {}
    events = list(_events(ledger, EventFilter(types=FILL_EVENTS), after=since))
    if not events:
        return heads, kept
    if db.writable():
        # The store below is this process's first write, perhaps: the check of the file that
        # comes before one (SQLite) runs beside the fold instead of after it.
        db.check_ahead()
    through = events[-1][0]
    changed: dict[PositionKey, LotHead | None]
    if not since:
        heads = {}
        for key, fills in sorted(fills_by_book(fills_of(events)).items()):
            head = fold_head(key, fills, rule)
            if head is not None:
                heads[key] = head
        changed = dict(heads)
    else:
        changed = _fold_on(ledger, rule, heads, events, since, through)
        for key, changed_head in changed.items():
            if changed_head is None:
                heads.pop(key, None)
            else:
                heads[key] = changed_head
    _store(ledger, rule, since, through, changed)
    return heads, kept


def stored_at(ledger: LedgerParts, rule: CostBasis) -> int:
    """The log position the stored heads of ``rule`` stand at (0: none stored)."""
    with ledger.db.read() as tx:
        return stored.seen(tx, rule)


def _fold_on(
    ledger: LedgerParts,
    rule: CostBasis,
    heads: dict[PositionKey, LotHead],
    events: list[tuple[int, OrderEvent]],
    since: int,
    through: int,
) -> dict[PositionKey, LotHead | None]:
    """The heads ``events`` (the fill events after ``since``, up to ``through``) change: each
    extended where its new fills come after it, else folded again from its place."""
    definitions = [e for e in _events(ledger, DEFINITIONS) if e[0] <= through]
    defined: dict[tuple[str, str], Terms] = {}
    for position, event in definitions:
        if position > since:
            break
        assert isinstance(event, InstrumentDefined)
        defined[(event.venue, event.instrument)] = terms_of(event)
    changed: dict[PositionKey, LotHead | None] = {}
    again: dict[PositionKey, VenueKey | None] = {}  # books folded again: from where (None: start)
    for position, event in events:
        if isinstance(event, InstrumentDefined):
            defined[(event.venue, event.instrument)] = terms_of(event)
            continue
        key = (event.account, event.venue, event.instrument)
        head = heads.get(key)
        place: VenueKey | None
        if isinstance(event, OrderFilled):
            fill = fill_of(position, event, defined)
            if head is not None and key not in again and extend(head, fill, rule):
                changed[key] = head
                continue
            place = None if head is None else fill.key
        elif isinstance(event, FillBusted | FillCorrected):
            if head is None and key not in again:
                continue  # a fill no head holds: a book that has no fill left (or never had one)
            # Just before the fill it changes (its own log position is not in the event).
            place = (event.fill_ts_event, event.trade_id, event.client_order_id, 0)
        else:
            continue
        if key in again:
            earlier = again[key]
            if earlier is None or place is None:
                place = None
            elif venue_order_key(earlier) < venue_order_key(place):
                place = earlier
        again[key] = place
    for key, place in again.items():
        head = heads.get(key)
        start = None
        if head is not None and place is not None:
            every = head.marks
            if not head.marked:
                with ledger.db.read() as tx:
                    every = [*stored.marks(tx, rule, key), *head.marks]
            mark = mark_before(every, place)
            start = None if mark is None else (head, every, mark)
        changed[key] = _fold_book(ledger, rule, key, through, start, definitions)
    return changed


def _fold_book(
    ledger: LedgerParts,
    rule: CostBasis,
    key: PositionKey,
    through: int,
    start: tuple[LotHead, list[Mark], Mark] | None,
    definitions: list[tuple[int, OrderEvent]],
) -> LotHead | None:
    """One book's head from its events in the log up to ``through`` and the log's
    ``definitions`` (read once for every book): from its first fill, or (``start``) from one of
    its head's marks on, reading the fills from that mark's venue time (and every bust and
    correction of the book, whose fill may be among them). None: no fill left."""
    book = EventFilter(account=key[0], venue=key[1], instrument=key[2])
    if start is None:
        own = list(_events(ledger, replace(book, types=FILL_EVENTS[:3])))
    else:
        own = _since(ledger, key, start[2].key[0], through)
    merged = sorted((e for e in (*own, *definitions) if e[0] <= through), key=lambda e: e[0])
    standing = fills_of(merged)
    if start is not None:
        after = venue_order_key(start[2].key)
        standing = [f for f in standing if venue_order_key(f.key) > after]
    return fold_head(key, standing, rule, start)


def _since(
    ledger: LedgerParts, key: PositionKey, moment: datetime, through: int
) -> list[tuple[int, OrderEvent]]:
    """The book's fills of venue time ``moment`` or later and all its busts and corrections, up
    to log position ``through``, in log order. The fills are found by the log's index of venue
    time, so the read is as long as the time since ``moment`` (on SQLite a ``+`` before the
    other columns keeps its planner off the index of each instrument's whole history)."""
    plain = "+" if ledger.db.dialect == "sqlite" else ""
    book = (
        f"{plain}account = ? AND {plain}venue = ? AND {plain}instrument = ? AND {plain}notification_id <= ?"
    )
    with ledger.db.read() as tx:
        rows = tx.all(
            f"SELECT {EVENT_SELECT} FROM events WHERE ts_event >= ? AND {plain}event_type = 'OrderFilled'"
            f" AND {book}",
            (format_timestamp(moment), *key, through),
        )
        changes = "event_type IN ('FillBusted', 'FillCorrected')"
        rows += tx.all(f"SELECT {EVENT_SELECT} FROM events WHERE {changes} AND {book}", (*key, through))
    rows.sort(key=lambda row: row[5])
    return [(position, event) for position, event, _ in decoded_events(ledger.mapper, rows)]


def _events(ledger: LedgerParts, wanted: EventFilter, *, after: int = 0) -> Iterator[tuple[int, OrderEvent]]:
    """The events ``wanted`` selects after log position ``after``, in log order."""
    keyset = replace(event_keyset(ledger.db, wanted), start=(after,))
    rows = (row for page in keyset.pages(ledger.db) for row in page)
    for position, event, _ in decoded_events(ledger.mapper, rows):
        yield position, event


def _store(
    ledger: LedgerParts,
    rule: CostBasis,
    since: int,
    through: int,
    changed: dict[PositionKey, LotHead | None],
) -> None:
    """Keep the heads for the next read, when this process may write and nobody else is."""
    db = ledger.db
    if not db.writable():
        return
    try:
        with db.write(wait=False) as tx:
            stored.store(tx, rule, since, through, changed)
    except (DatabaseCorruptError, DatabaseReplacedError):
        raise  # damage found before the write: told, as any command that meets it tells it
    except StoreError:
        pass  # read-only, locked, full or not granted: the heads are derived; a later read stores them


__all__ = ["FILL_EVENTS", "closed_lots", "lot_heads", "stored_at"]
