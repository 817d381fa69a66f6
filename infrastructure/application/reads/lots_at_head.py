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

The books are those of a grouping (``group_heads``): by account the positions' own (account,
venue, instrument); by parent or ``tag:NAME`` each group's fills as a book of their own per
(group, account, venue, instrument), which the daily P&L by parent or tag reads; ``in:parent``
or ``in:tag:NAME`` the positions' own books again, each fill's group kept with it and each day's
sums per group (``projections.lots.Day.groups``), which ``pnl`` by parent or tag reads: each
fill's P&L as its account's book realized it. A fill's tag is its event's; its parent is its
order's as the orders view has it now, so an order that learns its parent after fills were
folded (``OrderDetailsAdded``) moves them: the books of that account, venue and instrument are
folded again from their first fill, each group's apart. Heads by parent (either grouping) go no
further than the orders view has folded the log, so every parent change up to them is in the
view. Closed lots are made and kept only by the heads of the grouping ``closed``
(the account books again), which the first ``lots --closed`` under a rule starts: the heads of
``lots``, positions and the P&L make none.

The heads then go back to the store, unless another process stored first, the ledger is
read-only for this connection, or another writer holds the write lock: then the answer is still
this read's fold, and a later read stores it. A SQLite file is checked before a process's first
write (``Database.check_ahead``); a read with something to store starts that check beside its
fold, and damage it finds is an error, as for any command.

Whatever was stored, the answer is what a fold of the whole log gives (``order_figures.rule_books``,
``daily_pnl.daily_pnl_rows``): tests compare the two over sessions fed in any order and read
between any two commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.events import (
    FillBusted,
    FillCorrected,
    InstrumentDefined,
    OrderDetailsAdded,
    OrderEvent,
    OrderFilled,
)
from orderledger.domain.instrument import Terms, terms_of
from orderledger.domain.values import format_timestamp, parse_timestamp
from orderledger.infrastructure.application.reads.view_queries import order_parents, pnl_tag
from orderledger.infrastructure.audit.search import EVENT_SELECT, EventFilter, decoded_events, event_keyset
from orderledger.infrastructure.errors import DatabaseCorruptError, DatabaseReplacedError, StoreError
from orderledger.infrastructure.storage import lot_heads as stored
from orderledger.infrastructure.storage.db import Tx, rows_by_keys
from orderledger.projections.book import PositionKey, VenueKey, venue_order_key
from orderledger.projections.lots import (
    ACCOUNT,
    CLOSED,
    IN,
    BookKey,
    ClosedLot,
    CostBasis,
    Fill,
    LotHead,
    Mark,
    extend,
    fill_group,
    fill_of,
    fills_by_group,
    fills_of,
    fold_head,
    mark_before,
)

if TYPE_CHECKING:
    from orderledger.infrastructure.application.ledger_protocol import LedgerParts

FILL_EVENTS = ("OrderFilled", "FillBusted", "FillCorrected", "InstrumentDefined")
"""What a book's lots are folded from: its fills, their busts and corrections, the definitions."""
DEFINITIONS = EventFilter(types=("InstrumentDefined",))
_EVENT_COLUMNS = tuple(EVENT_SELECT.split(", "))


@dataclass
class _Groups:
    """Which group's book a fill is folded into under ``grouping`` (account: the one book of its
    account, venue and instrument, group "")."""

    ledger: LedgerParts
    grouping: str
    parents: dict[str, str | None] = field(default_factory=dict)  # (by parent) as the view has them

    @property
    def by_parent(self) -> bool:
        """Whether a fill's group is its order's parent (its book's, or ``in:parent`` its day's)."""
        return self.grouping in ("parent", IN + "parent")

    @property
    def closed(self) -> bool:
        """Whether the books make (and the store keeps) their closed lots."""
        return self.grouping == CLOSED

    def learn(self, orders: Iterable[str], *, every: bool = False) -> None:
        """Read the parents of ``orders`` not known yet (``every``: of all orders)."""
        if not self.by_parent:
            return
        if every:
            self.parents = order_parents(self.ledger.db)
            return
        wanted = sorted(set(orders) - self.parents.keys())
        self.parents.update(dict.fromkeys(wanted))
        with self.ledger.db.read() as tx:
            keys = [(order,) for order in wanted]
            rows = rows_by_keys(
                tx, "orders_view", ("client_order_id", "parent_id"), ("client_order_id",), keys
            )
            self.parents.update((str(r[0]), r[1]) for r in rows)

    def of(self, fill: Fill) -> str:
        return fill_group(fill, self.grouping, self.parents)


def lot_heads(ledger: LedgerParts, rule: CostBasis) -> dict[PositionKey, LotHead]:
    """Every book's head under ``rule`` as of the log's head, stored for the next read."""
    return {key[1:]: head for key, head in _brought(ledger, rule, ACCOUNT)[0].items()}


def group_heads(ledger: LedgerParts, rule: CostBasis, grouping: str) -> dict[BookKey, LotHead]:
    """The heads of the books of ``grouping`` (account, parent, ``tag:NAME``, or ``in:parent``,
    ``in:tag:NAME``: the account books with each day's fills counted by group) under ``rule``, as
    of the log's head (by parent: as far as the orders view has folded it), stored for the next
    read."""
    grouped = grouping.removeprefix(IN)
    if grouping != ACCOUNT and grouped != "parent" and pnl_tag(grouped) is None:
        raise InvalidInputError(
            f"`by` {grouping!r}: heads are kept by account, parent or tag:NAME", field="by"
        )
    return _brought(ledger, rule, grouping)[0]


def closed_lots(ledger: LedgerParts, rule: CostBasis) -> dict[PositionKey, list[ClosedLot]]:
    """Every book's closed lots under ``rule`` as of the log's head, books in order of their
    keys and each book's lots in venue order of their closing fills (then in match order): the
    rows stored before the first lot this read's fold made or kept (``LotHead.closed_from``),
    then those, stored for the next read with the heads of the grouping ``CLOSED`` (the account
    books again, kept apart from those of ``lots`` and positions, which make no closed lots: a
    ledger never asked for its closed lots neither folds nor stores them)."""
    heads, kept = _brought(ledger, rule, CLOSED, lots=True)
    return {
        key[1:]: [*kept.get(key[1:], [])[: head.closed_from], *head.closed]
        for key, head in sorted(heads.items())
    }


def _brought(
    ledger: LedgerParts, rule: CostBasis, grouping: str, *, lots: bool = False
) -> tuple[dict[BookKey, LotHead], dict[PositionKey, list[ClosedLot]]]:
    """The heads of ``grouping`` brought up to the log's head and stored, and (``lots``, grouping
    ``CLOSED``) the closed lots that were stored with the heads they were brought from, read in
    the same transaction."""
    db = ledger.db
    groups = _Groups(ledger, grouping)
    with db.snapshot() as tx:  # (``seen``, the heads and their closed lots as one store left them)
        since = stored.seen(tx, rule, grouping)
        if since > ledger.log_position():
            since = 0  # a store restored from an older copy than its heads: folded again
        heads = stored.load(tx, rule, grouping) if since else {}
        kept = stored.closed(tx, rule) if since and lots and groups.closed else {}
        found = (
            tx.one("SELECT position FROM view_tracking WHERE view = 'orders'") if groups.by_parent else None
        )
    limit = None if found is None else int(found[0])
    types = (*FILL_EVENTS, "OrderDetailsAdded") if groups.by_parent else FILL_EVENTS
    events = [
        e for e in _events(ledger, EventFilter(types=types), after=since) if limit is None or e[0] <= limit
    ]
    if not events:
        return heads, kept
    if db.writable():
        # The store below is this process's first write, perhaps: the check of the file that
        # comes before one (SQLite) runs beside the fold instead of after it.
        db.check_ahead()
    through = events[-1][0]
    changed: dict[BookKey, LotHead | None]
    if not since:
        fills = fills_of(events)
        groups.learn((), every=True)
        heads = _fold_all(fills, rule, groups)
        changed = dict(heads)
    else:
        changed = _fold_on(ledger, rule, heads, events, since, through, groups)
        for key, changed_head in changed.items():
            if changed_head is None:
                heads.pop(key, None)
            else:
                heads[key] = changed_head
    _store(ledger, rule, since, through, changed, grouping)
    return heads, kept


def stored_at(ledger: LedgerParts, rule: CostBasis, grouping: str = ACCOUNT) -> int:
    """The log position the stored heads of ``rule`` and ``grouping`` stand at (0: none stored)."""
    with ledger.db.read() as tx:
        return stored.seen(tx, rule, grouping)


def _fold_all(fills: Iterable[Fill], rule: CostBasis, groups: _Groups) -> dict[BookKey, LotHead]:
    """The heads of ``fills`` (as they stand), each book's folded from its first fill."""
    heads = {}
    for key, own in sorted(fills_by_group(fills, groups.grouping, groups.parents).items()):
        head = fold_head(key[1:], own, rule, closed=groups.closed)
        if head is not None:
            heads[key] = head
    return heads


def worth_reading(ledger: LedgerParts, rule: CostBasis, grouping: str = ACCOUNT) -> bool:
    """Whether a read under ``rule`` by ``grouping`` should come from the heads: this connection
    may store them, or some are stored. A connection that may not write and finds none would
    fold every fill event at each read; a fold of the P&L entries answers the same for less."""
    return ledger.db.writable() or bool(stored_at(ledger, rule, grouping))


def _fold_on(
    ledger: LedgerParts,
    rule: CostBasis,
    heads: dict[BookKey, LotHead],
    events: list[tuple[int, OrderEvent]],
    since: int,
    through: int,
    groups: _Groups,
) -> dict[BookKey, LotHead | None]:
    """The heads ``events`` (the fill events after ``since``, up to ``through``) change: each
    extended where its new fills come after it, else folded again from its place."""
    definitions = [e for e in _events(ledger, DEFINITIONS) if e[0] <= through]
    defined: dict[tuple[str, str], Terms] = {}
    for position, event in definitions:
        if position > since:
            break
        assert isinstance(event, InstrumentDefined)
        defined[(event.venue, event.instrument)] = terms_of(event)
    moved = _moved(ledger, events, since)  # books whose fills change group: folded from the start
    groups.learn(e.client_order_id for _, e in events if isinstance(e, OrderFilled))
    books: dict[PositionKey, set[BookKey]] = {}  # each (account, venue, instrument)'s books
    for key in heads:
        books.setdefault(key[1:], set()).add(key)
    changed: dict[BookKey, LotHead | None] = {}
    again: dict[BookKey, VenueKey | None] = {}  # books folded again: from where (None: start)
    for position, event in events:
        if isinstance(event, InstrumentDefined):
            defined[(event.venue, event.instrument)] = terms_of(event)
            continue
        book = (event.account, event.venue, event.instrument)
        if book in moved:
            continue
        place: VenueKey | None
        if isinstance(event, OrderFilled):
            fill = fill_of(position, event, defined)
            key = (groups.of(fill), *book)
            head = heads.get(key)
            if head is not None and key not in again and extend(head, fill, rule):
                changed[key] = head
                continue
            place = None if head is None else fill.key
            books.setdefault(book, set()).add(key)
            keys = [key]
        elif isinstance(event, FillBusted | FillCorrected):
            # Just before the fill it changes (its own log position is not in the event), in
            # each of the books of its account, venue and instrument (whichever holds the fill).
            # A fill no head holds: a book that has no fill left (or never had one).
            place = (event.fill_ts_event, event.trade_id, event.client_order_id, 0)
            keys = sorted(books.get(book, ()))
        else:
            continue
        for key in keys:
            _again(again, key, place)
    for key, place in again.items():
        head = heads.get(key)
        start = None
        if head is not None and place is not None:
            # The marks this read made come after every stored one: the stored are read only
            # when none of those is early enough, and then only the one or few before the place.
            mark = mark_before(head.marks, place)
            if mark is None and head.marks_from:
                with ledger.db.read() as tx:
                    near = stored.marks_near(tx, rule, key, groups.grouping, place[0], head.marks_from)
                mark = mark_before(near, place)
            start = None if mark is None else (head, mark)
        changed[key] = _fold_book(ledger, rule, key, through, start, definitions, groups)
    for book in sorted(moved):
        fills = fills_of(_book_events(ledger, book, through, definitions))
        groups.learn(f.client_order_id for f in fills)
        folded = _fold_all(fills, rule, groups)
        changed.update(dict.fromkeys(books.get(book, ())))
        changed.update(folded)
    return changed


def _again(again: dict[BookKey, VenueKey | None], key: BookKey, place: VenueKey | None) -> None:
    """Fold ``key`` again from ``place`` (None: its start), or from the earlier of the places
    asked of it."""
    if key in again:
        earlier = again[key]
        if earlier is None or place is None:
            place = None
        elif venue_order_key(earlier) < venue_order_key(place):
            place = earlier
    again[key] = place


def _moved(ledger: LedgerParts, events: list[tuple[int, OrderEvent]], since: int) -> set[PositionKey]:
    """The (account, venue, instrument) of each order that learned its parent among ``events``
    and has fills folded before (``since``): their books are folded again, the fills in their
    new group."""
    learned = {
        e.client_order_id: (e.account, e.venue, e.instrument)
        for _, e in events
        if isinstance(e, OrderDetailsAdded) and e.parent_id is not None
    }
    moved: set[PositionKey] = set()
    if not learned:
        return moved
    with ledger.db.read() as tx:
        for client_order_id, book in sorted(learned.items()):
            filled = tx.one(
                "SELECT 1 FROM events WHERE client_order_id = ? AND event_type = 'OrderFilled'"
                " AND notification_id <= ? LIMIT 1",
                (client_order_id, since),
            )
            if filled is not None:
                moved.add(book)
    return moved


def _fold_book(
    ledger: LedgerParts,
    rule: CostBasis,
    key: BookKey,
    through: int,
    start: tuple[LotHead, Mark] | None,
    definitions: list[tuple[int, OrderEvent]],
    groups: _Groups,
) -> LotHead | None:
    """One book's head from its events in the log up to ``through`` and the log's
    ``definitions`` (read once for every book): from its first fill, or (``start``) from one of
    its head's marks on, reading the fills from that mark's venue time (and every bust and
    correction of the book, whose fill may be among them). None: no fill left."""
    if start is None:
        merged = _book_events(ledger, key[1:], through, definitions)
    else:
        own = _since(ledger, key[1:], start[1].key[0], through)
        merged = sorted((e for e in (*own, *definitions) if e[0] <= through), key=lambda e: e[0])
    standing = fills_of(merged)
    groups.learn(f.client_order_id for f in standing)
    standing = [f for f in standing if groups.of(f) == key[0]]
    if start is not None:
        standing = _after_mark(standing, start[1])
    return fold_head(key[1:], standing, rule, start, closed=groups.closed)


def _after_mark(fills: list[Fill], mark: Mark) -> list[Fill]:
    """The ``fills`` later in venue time than ``mark``'s (those a fold from it folds)."""
    after = venue_order_key(mark.key)
    return [f for f in fills if venue_order_key(f.key) > after]


def _book_events(
    ledger: LedgerParts, key: PositionKey, through: int, definitions: list[tuple[int, OrderEvent]]
) -> list[tuple[int, OrderEvent]]:
    """Every fill, bust and correction of the book ``key`` and the ``definitions``, up to log
    position ``through``, in log order."""
    book = EventFilter(account=key[0], venue=key[1], instrument=key[2], types=FILL_EVENTS[:3])
    own = list(_events(ledger, book))
    return sorted((e for e in (*own, *definitions) if e[0] <= through), key=lambda e: e[0])


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


# ---------------------------------------------------------------------- as of a time


@dataclass(frozen=True)
class _AsOf:
    """What the ledger held at ``at``: the events recorded by then, or (``event_time``) those of
    venue time up to it."""

    at: datetime
    event_time: bool

    @property
    def column(self) -> str:
        return "ts_event" if self.event_time else "ts_recorded"

    @property
    def moment(self) -> str:
        return format_timestamp(self.at)


def heads_as_of(
    ledger: LedgerParts,
    rule: CostBasis,
    moment: datetime,
    *,
    event_time: bool = False,
    grouping: str = ACCOUNT,
) -> dict[PositionKey, LotHead] | None:
    """Every account book's head under ``rule`` as the ledger held it at ``moment`` (its events
    recorded by then; with ``event_time``, those of venue time up to it), from the stored heads
    of ``grouping`` (``ACCOUNT``, or ``CLOSED``: the same books with their closed lots) and their
    marks; None when none are stored and this connection may not store them (a fold of the log
    answers then).

    The stored heads and every mark of them hold the log up to the position they stand at
    (``seen``, brought up to the log's head first when this connection may write). What the
    as-of and a book's head may disagree on are the events one holds and the other not: those
    outside the as-of (recorded after the moment; of venue time after it) and those after
    ``seen``. A book's head is the answer as it is when none of its busts, corrections or fills
    after ``seen`` is among them and (recorded time) all its fills are at log positions before
    the first recorded after the moment, or (venue time) its latest fill is no later than the
    moment. Otherwise the book is folded from its latest mark that holds none of them: earlier
    in venue time than each such event's place (a fill's own; a bust's or correction's fill's,
    or its order's first), of fills all before that first position (recorded time) or no later
    than the moment (venue time), reading only the book's fills from there on; from its first
    fill when there is none, or when its instrument's definition outside the as-of may have
    valued its fills.

    Under ``CLOSED`` each head holds in ``closed`` every closed lot its book had made by the
    moment (``closed_from`` 0), in venue order of their closing fills: a head that is the answer
    as it is, its book's stored closed lots; one folded from a mark, those stored numbered below
    the mark's count (``Mark.closed``: the lots a mark holds none of the disagreeing events of
    are the as-of's too), then those its fold made; one folded from its first fill, those its
    fold made. The stored lots are read in the snapshot of the heads and marks they go with.

    The read costs the fills since the marks, the busts and corrections outside the as-of and,
    in recorded time, one walk of the index of recorded time after the moment (positions only),
    not the history before the moment (beyond, under ``CLOSED``, the closed lots it answers); a
    moment so early that the log holds few events before it (``_FOLD_BEFORE``) is answered by
    the fold (None), which is then the shorter read. With no heads of ``grouping`` stored yet,
    the heads are folded from the whole log and stored (once: every later read starts from
    them) only when the as-of holds at least half of the log, so that this read costs at most
    twice the fold up to the moment; earlier moments are folded up to the moment, as when
    nothing is stored."""
    if grouping not in (ACCOUNT, CLOSED):
        raise InvalidInputError(f"`by` {grouping!r}: heads as of a time are the account books'", field="by")
    asof = _AsOf(moment, event_time)
    held, whole = _held_then(ledger, asof), ledger.log_position()
    if held * _FOLD_BEFORE[grouping] < whole or (held * 2 < whole and not stored_at(ledger, rule, grouping)):
        return None
    if ledger.db.writable():
        _brought(ledger, rule, grouping)
    with ledger.db.snapshot() as tx:  # (the heads, their marks and lots, what lies outside them, as one)
        seen = stored.seen(tx, rule, grouping)
        if not seen:
            return None
        heads = {key[1:]: head for key, head in stored.load(tx, rule, grouping).items()}
        definitions = [
            (position, event)
            for position, event, _ in decoded_events(
                ledger.mapper,
                tx.all(
                    f"SELECT {EVENT_SELECT} FROM events WHERE event_type = 'InstrumentDefined'"
                    f" AND {asof.column} <= ? ORDER BY notification_id",
                    (asof.moment,),
                ),
            )
        ]
        found, starts = _starts(tx, rule, grouping, asof, heads, seen)
        kept = _kept_then(tx, rule, found, starts) if grouping == CLOSED else {}
    marked = {book: mark for book, mark in starts.items() if mark is not None}
    since = _since_marks(ledger, marked, asof, held) if marked else {}
    for book, mark in starts.items():
        head = heads.get(book)
        start = None if mark is None or head is None else (head, mark)
        folded = _fold_as_of(
            ledger, rule, book, asof, start, definitions, since.get(book, []), closed=grouping == CLOSED
        )
        if folded is not None:
            found[book] = folded
    for book, head in found.items():
        if head.closed_from:  # (``CLOSED``: the lots before the fold's, as stored)
            head.closed = [*kept.get(book, [])[: head.closed_from], *head.closed]
    return dict(sorted(found.items()))


def _starts(
    tx: Tx, rule: CostBasis, grouping: str, asof: _AsOf, heads: dict[PositionKey, LotHead], seen: int
) -> tuple[dict[PositionKey, LotHead], dict[PositionKey, Mark | None]]:
    """The stored ``heads`` (standing at ``seen``) that are the as-of's answer as they are, and
    for every other book of theirs or with events outside them the mark its fold as of the
    moment starts from (None: its first fill), as ``heads_as_of`` tells."""
    bounds, again = _outside(tx, asof, seen)
    # (recorded time) The first log position recorded after the moment: a head or mark of
    # fills all before it holds none the as-of does not (the clock may go back: any later
    # position may be either).
    first_later = None if asof.event_time else _first_recorded_after(tx, asof)
    starts: dict[PositionKey, Mark | None] = {}
    found: dict[PositionKey, LotHead] = {}
    for book in sorted({*heads, *bounds}):
        head, bound = heads.get(book), bounds.get(book)
        if book[1:] in again or head is None:
            starts[book] = None
            continue
        cutoff: datetime | None
        if asof.event_time:
            as_is = bound is None and head.last[0] <= asof.at
            latest = asof.at + _MICROSECOND  # (a mark no later than the moment)
            cutoff = latest if bound is None else min(bound, latest)
        else:
            as_is = bound is None and (first_later is None or head.through < first_later)
            cutoff = bound
        if as_is:
            found[book] = head  # the as-of and the head hold the same fills
            continue
        starts[book] = stored.latest_mark(
            tx, rule, ("", *book), grouping, head.marked, before=cutoff, through_below=first_later
        )
    return found, starts


def _kept_then(
    tx: Tx, rule: CostBasis, found: dict[PositionKey, LotHead], starts: dict[PositionKey, Mark | None]
) -> dict[PositionKey, list[ClosedLot]]:
    """The stored closed lots an as-of under ``CLOSED`` answers with: of each head ``found`` as
    it is, all its book's (``made``); of each book folded from a mark, those numbered below the
    mark's count; none of a book folded from its first fill."""
    below = {book: head.made for book, head in found.items()}
    below.update((book, mark.closed) for book, mark in starts.items() if mark is not None)
    kept: dict[PositionKey, list[ClosedLot]] = {}
    for book, count in sorted(below.items()):
        if count:
            kept.update(stored.closed(tx, rule, book, below=count))
    return kept


_MICROSECOND = timedelta(microseconds=1)
_FOLD_BEFORE = {ACCOUNT: 50, CLOSED: 4}
"""Per grouping, a moment before which the log holds fewer than 1/``_FOLD_BEFORE`` of its events
is answered by the fold of those events: reading what lies after it, by the indexes, would cost
more. Closed lots as of a time cost the lots they answer either way (the stored ones decoded, or
the fold's made), so the heads pay for themselves later: at a tenth of a 20,000-order log the
fold was the faster read (docs/benchmarks.md, "Lots and positions as of a time")."""


def _held_then(ledger: LedgerParts, asof: _AsOf) -> int:
    """About how many of the log's events the as-of holds: the log position of the latest event
    at or before the moment by the index of its time (exact for a log recorded in order; only
    the choice between the fold and the marks rests on it)."""
    with ledger.db.read() as tx:
        found = tx.one(
            f"SELECT notification_id FROM events WHERE {asof.column} <= ?"
            f" ORDER BY {asof.column} DESC LIMIT 1",
            (asof.moment,),
        )
    return 0 if found is None else int(found[0])


def _since_marks(
    ledger: LedgerParts, marks: dict[PositionKey, Mark], asof: _AsOf, held: int
) -> dict[PositionKey, list[tuple[int, OrderEvent]]]:
    """Each book's fills as of the moment from its mark's venue time on, with its busts and
    corrections then, in log order. One read of the log finds them all: by the index of venue
    time from the earliest mark (to the moment, in venue time), or (recorded time) by that or
    the index of recorded time up to the moment (about ``held`` events: ``_held_then``),
    whichever range is the shorter; only the columns that place a fill are read for every row,
    and only the fills wanted are decoded, looked up by their log positions."""
    plain = "+" if ledger.db.dialect == "sqlite" else ""
    lower = format_timestamp(min(mark.key[0] for mark in marks.values()))
    if asof.event_time:
        where = "ts_event >= ? AND ts_event <= ?"
    elif _after_in_venue_time(ledger, lower) <= held:
        where = f"ts_event >= ? AND {plain}ts_recorded <= ?"
    else:
        where = f"{plain}ts_event >= ? AND ts_recorded <= ?"
    with ledger.db.read() as tx:
        placed = tx.all(
            "SELECT notification_id, account, venue, instrument, ts_event FROM events"
            f" WHERE {where} AND {plain}event_type = 'OrderFilled'",
            (lower, asof.moment),
        )
        starts = {book: format_timestamp(mark.key[0]) for book, mark in marks.items()}
        wanted = [
            int(r[0]) for r in placed if str(r[4]) >= starts.get((str(r[1]), str(r[2]), str(r[3])), "~")
        ]
        rows = rows_by_keys(tx, "events", _EVENT_COLUMNS, ("notification_id",), [(p,) for p in wanted])
        changes = tx.all(
            f"SELECT {EVENT_SELECT}, account, venue, instrument FROM events"
            f" WHERE event_type IN ('FillBusted', 'FillCorrected') AND {asof.column} <= ?",
            (asof.moment,),
        )
    rows += [r[:6] for r in changes if (str(r[6]), str(r[7]), str(r[8])) in marks]
    rows.sort(key=lambda row: row[5])
    found: dict[PositionKey, list[tuple[int, OrderEvent]]] = {}
    for position, event, _ in decoded_events(ledger.mapper, rows):
        found.setdefault((event.account, event.venue, event.instrument), []).append((position, event))
    return found


def _after_in_venue_time(ledger: LedgerParts, moment: str) -> int:
    """About how many of the log's events are of venue time ``moment`` or later (by the index of
    venue time: the log position of the first, counted back from the log's head)."""
    with ledger.db.read() as tx:
        found = tx.one(
            "SELECT notification_id FROM events WHERE ts_event >= ? ORDER BY ts_event LIMIT 1", (moment,)
        )
    return 0 if found is None else ledger.log_position() - int(found[0])


def _outside(tx: Tx, asof: _AsOf, seen: int) -> tuple[dict[PositionKey, datetime], set[tuple[str, str]]]:
    """Where the stored heads (standing at ``seen``) and the as-of may disagree, beyond the fills
    recorded after the moment (``_first_recorded_after``): per book, the earliest venue time of
    a fill after ``seen``, or of a fill of its order's when a bust or correction of it is after
    ``seen`` or outside the as-of (no later than that fill's own); and the (venue, instrument)
    of each definition the heads hold that the as-of does not (their books are folded from the
    start). Fills of venue time after the moment (``event_time``) change no mark up to it."""
    plain = "+" if tx.dialect == "sqlite" else ""
    # The rows are found by the range's own index, then grouped: grouped at once, the planner
    # would walk an index in the groups' order over the whole log instead (the subquery's
    # LIMIT/OFFSET keeps it apart on SQLite and PostgreSQL alike).
    whole = "LIMIT -1" if tx.dialect == "sqlite" else "OFFSET 0"
    rows = tx.all(
        "SELECT account, venue, instrument, MIN(ts_event) FROM (SELECT account, venue, instrument, ts_event"
        f" FROM events WHERE {plain}event_type = 'OrderFilled' AND notification_id > ? {whole}) AS outside"
        " GROUP BY account, venue, instrument",
        (seen,),
    )
    rows += tx.all(
        "SELECT account, venue, instrument, MIN(filled) FROM (SELECT c.account, c.venue, c.instrument,"
        " f.ts_event AS filled FROM events c JOIN events f ON f.client_order_id = c.client_order_id"
        f" AND {plain}f.event_type = 'OrderFilled' WHERE c.event_type IN ('FillBusted', 'FillCorrected')"
        f" AND (c.{asof.column} > ? OR c.notification_id > ?) {whole}) AS changed"
        " GROUP BY account, venue, instrument",
        (asof.moment, seen),
    )
    bounds: dict[PositionKey, datetime] = {}
    for account, venue, instrument, earliest in rows:
        book, at = (str(account), str(venue), str(instrument)), parse_timestamp(str(earliest), "ts_event")
        if book not in bounds or at < bounds[book]:
            bounds[book] = at
    defined = tx.all(
        f"SELECT DISTINCT venue, instrument FROM events WHERE event_type = 'InstrumentDefined'"
        f" AND {asof.column} > ? AND notification_id <= ?",
        (asof.moment, seen),
    )
    return bounds, {(str(venue), str(instrument)) for venue, instrument in defined}


def _first_recorded_after(tx: Tx, asof: _AsOf) -> int | None:
    """The first log position of an event recorded after the moment (None: none is), by the
    index of recorded time alone (the positions are in it)."""
    index = " INDEXED BY events_by_recorded" if tx.dialect == "sqlite" else ""
    found = tx.one(f"SELECT MIN(notification_id) FROM events{index} WHERE ts_recorded > ?", (asof.moment,))
    return None if found is None or found[0] is None else int(found[0])


def _fold_as_of(
    ledger: LedgerParts,
    rule: CostBasis,
    book: PositionKey,
    asof: _AsOf,
    start: tuple[LotHead, Mark] | None,
    definitions: list[tuple[int, OrderEvent]],
    since: list[tuple[int, OrderEvent]],
    *,
    closed: bool,
) -> LotHead | None:
    """One book's head as of the moment: from one of its head's marks (``start``), its fills
    then after the mark being among ``since`` (``_since_marks``), or from its first fill;
    ``closed``: making its closed lots."""
    if start is None:
        wanted = EventFilter(
            account=book[0],
            venue=book[1],
            instrument=book[2],
            types=FILL_EVENTS[:3],
            until=asof.at,
            event_time=asof.event_time,
        )
        own = list(_events(ledger, wanted))
    else:
        own = since
    standing = fills_of(sorted((*own, *definitions), key=lambda e: e[0]))
    if start is not None:
        standing = _after_mark(standing, start[1])
    return fold_head(book, standing, rule, start, closed=closed)


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
    changed: dict[BookKey, LotHead | None],
    grouping: str,
) -> None:
    """Keep the heads for the next read, when this process may write and nobody else is."""
    db = ledger.db
    if not db.writable():
        return
    try:
        with db.write(wait=False) as tx:
            stored.store(tx, rule, since, through, changed, grouping)
    except (DatabaseCorruptError, DatabaseReplacedError):
        raise  # damage found before the write: told, as any command that meets it tells it
    except StoreError:
        pass  # read-only, locked, full or not granted: the heads are derived; a later read stores them


__all__ = [
    "FILL_EVENTS",
    "closed_lots",
    "group_heads",
    "heads_as_of",
    "lot_heads",
    "stored_at",
    "worth_reading",
]
