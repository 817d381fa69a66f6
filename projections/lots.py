"""Positions and tax lots under a chosen cost-basis rule, folded from the log on demand.

The live positions view keeps average cost. Any rule can be asked of the log without touching
it: the fills (as busts and corrections leave them) are folded per book in venue time
(``book.before``), which is why a query under ``average`` gives exactly the live view's
figures. Rules (docs/semantics.md, "Cost basis: average, FIFO, LIFO, HIFO"):

- ``average``: the position's weighted average (``Position.book``);
- ``fifo`` / ``lifo``: a closing fill matches the oldest / newest open lots first (venue time);
- ``hifo``: a closing sell matches the highest-priced long lots first, a closing buy the
  lowest-priced short lots first (the matches that realize the least), ties oldest first.

A lot's cost is its quantity's value when opened (``Terms.value``: contract size, linear or
inverse); a match realizes sense × direction × (value at the close − the lot's cost share).
Through zero, the closing fill consumes every lot and its remainder opens a lot at its price.
Fees are shared by quantity: a closed-lot row carries the opening fill's fee for the matched
quantity and the closing fill's fee for it, each in its currency.

Lots hold fills only: funding and other cash flows change a position's P&L, not its lots, and
are folded beside them (``projections.cash_flows``). ``fold_books`` takes each book's items sorted
by ``before``, so another kind of item would add a branch here and a column to the rows, not
another pass.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.events import FillBusted, FillCorrected, InstrumentDefined, OrderEvent, OrderFilled
from orderledger.domain.instrument import Terms, terms_of
from orderledger.domain.values import WIDE
from orderledger.projections.book import (
    ARITHMETIC,
    MINUS_ONE,
    ONE,
    ZERO,
    Position,
    PositionKey,
    VenueKey,
    held_change,
    venue_order_key,
)
from orderledger.projections.fees import needs_rate

CostBasis = Literal["average", "fifo", "lifo", "hifo"]
COST_BASES: tuple[CostBasis, ...] = ("average", "fifo", "lifo", "hifo")
COST_BASIS_SETTING = "cost_basis"
"""The ``ledger_meta`` key of a ledger's own rule (absent: average)."""


def cost_basis_named(name: str) -> CostBasis:
    """``name`` as a rule, or a one-line error naming the rules."""
    for rule in COST_BASES:
        if name == rule:
            return rule
    raise InvalidInputError(
        f"cost basis {name!r}: expected one of {', '.join(COST_BASES)}", field="cost_basis"
    )


@dataclass
class Fill:
    """A fill as it stands after busts and corrections, with the terms it was recorded under."""

    account: str
    venue: str
    instrument: str
    client_order_id: str
    trade_id: str
    ts_event: datetime
    position: int
    signed_qty: Decimal
    price: Decimal
    fee: Decimal | None
    fee_currency: str | None
    quote_currency: str | None
    terms: Terms
    tags: dict[str, str] = field(default_factory=dict)
    realized: Decimal = ZERO  # what this fill realized under the rule folded (``fold_books``)
    group: str | None = None  # (a grouping ``IN`` another) its group there, which its day counts

    @property
    def key(self) -> VenueKey:
        return (self.ts_event, self.trade_id, self.client_order_id, self.position)

    @property
    def pnl_currency(self) -> str | None:
        """What this fill's P&L is in (its fee is valued into it: ``projections.fees``)."""
        return self.terms.pnl_currency


@dataclass
class OpenLot:
    """What is left of one opening fill."""

    opened: Fill
    quantity: Decimal  # unsigned contracts left
    cost: Decimal  # their value when opened, unsigned
    price: Decimal


@dataclass(frozen=True)
class ClosedLot:
    """One matched quantity: which fill opened it, which closed it, and what it realized."""

    opened: Fill
    closed: Fill
    quantity: Decimal
    cost: Decimal
    proceeds: Decimal
    realized: Decimal
    fees: dict[str, Decimal]
    pnl_currency: str | None


@dataclass
class Book:
    """A position under one rule, with its open lots and closed lots (lot rules; unless
    ``keeps_closed`` is False: a fold that needs only what stays open)."""

    position: Position
    open: list[OpenLot] = field(default_factory=list)
    closed: list[ClosedLot] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)  # in venue time, each with what it realized
    keeps_closed: bool = True


_UNDEFINED = Terms()


@functools.lru_cache(maxsize=1024)
def _in_currency(terms: Terms, currency: str | None) -> Terms:
    """``terms`` with P&L in ``currency`` (one object per pair: fills share their terms)."""
    return replace(terms, pnl_currency=currency)


def fill_of(position: int, event: OrderFilled, defined: Mapping[tuple[str, str], Terms]) -> Fill:
    """``event`` as a fill, valued with the definition in force when it was recorded."""
    terms = defined.get((event.venue, event.instrument), _UNDEFINED)
    if terms.pnl_currency is None:
        terms = _in_currency(terms, event.quote_currency)
    return Fill(
        event.account,
        event.venue,
        event.instrument,
        event.client_order_id,
        event.trade_id,
        event.ts_event,
        position,
        held_change(event.side, event.last_qty, event.fee, event.fee_currency, event.instrument, terms),
        event.last_px,
        event.fee,
        event.fee_currency,
        event.quote_currency,
        terms,
        dict(event.tags) if event.tags else {},
    )


def correct(found: Fill, event: FillCorrected) -> None:
    """Give ``found`` the quantity, price and fee a correction states (under its own terms)."""
    found.signed_qty = held_change(
        event.side, event.last_qty, event.fee, event.fee_currency, found.instrument, found.terms
    )
    found.price = event.last_px
    found.fee, found.fee_currency = event.fee, event.fee_currency


def fills_of(events: Iterable[tuple[int, OrderEvent]]) -> list[Fill]:
    """The fills of a log as they stand: busted ones left out, corrected ones with their new
    values; each valued with the definition in force when it was recorded (in log order)."""
    defined: dict[tuple[str, str], Terms] = {}
    fills: dict[tuple[str, str], Fill] = {}
    for position, event in events:
        if isinstance(event, InstrumentDefined):
            defined[(event.venue, event.instrument)] = terms_of(event)
        elif isinstance(event, OrderFilled):
            fills[(event.client_order_id, event.trade_id)] = fill_of(position, event, defined)
        elif isinstance(event, FillBusted):
            fills.pop((event.client_order_id, event.trade_id), None)
        elif isinstance(event, FillCorrected):
            found = fills.get((event.client_order_id, event.trade_id))
            if found is not None:
                correct(found, event)
    return list(fills.values())


def share(amount: Decimal | None, part: Decimal, whole: Decimal) -> Decimal | None:
    """``amount`` × part / whole (an opening or closing fill's fee for part of its quantity)."""
    if amount is None:
        return None
    return amount if part == whole else ARITHMETIC.divide(WIDE.multiply(amount, part), whole)


def _add_fee(fees: dict[str, Decimal], amount: Decimal | None, currency: str | None) -> None:
    if amount:
        key = currency or "?"
        fees[key] = WIDE.add(fees.get(key, ZERO), amount)


def _pick(lots: list[OpenLot], basis: CostBasis, long: bool) -> int:
    """Which open lot a closing fill matches next."""
    if basis == "fifo":
        return 0
    if basis == "lifo":
        return len(lots) - 1
    # hifo: a long's highest price first, a short's lowest; the oldest among equals.
    best = 0
    for i, lot in enumerate(lots):
        if (lot.price > lots[best].price) if long else (lot.price < lots[best].price):
            best = i
    return best


def _book_lots(book: Book, fill: Fill, basis: CostBasis) -> None:
    p = book.position
    terms = fill.terms
    p.terms = terms
    held = p.quantity
    signed = fill.signed_qty
    size = abs(signed)
    if held == 0 or (held > 0) == (signed > 0):
        value = terms.value(size, fill.price)
        book.open.append(OpenLot(fill, size, value, fill.price))
        p.cost = WIDE.add(p.cost, value)
        p.quantity = WIDE.add(held, signed)
        return
    long = held > 0
    direction = ONE if long else MINUS_ONE
    left = size
    while left and book.open:
        at = _pick(book.open, basis, long)
        lot = book.open[at]
        matched = min(left, lot.quantity)
        cost = (
            lot.cost
            if matched == lot.quantity
            else ARITHMETIC.divide(WIDE.multiply(lot.cost, matched), lot.quantity)
        )
        proceeds = terms.value(matched, fill.price)
        realized = WIDE.multiply(WIDE.multiply(WIDE.subtract(proceeds, cost), direction), terms.sense)
        if book.keeps_closed:
            fees: dict[str, Decimal] = {}
            _add_fee(
                fees, share(lot.opened.fee, matched, abs(lot.opened.signed_qty)), lot.opened.fee_currency
            )
            _add_fee(fees, share(fill.fee, matched, size), fill.fee_currency)
            book.closed.append(
                ClosedLot(lot.opened, fill, matched, cost, proceeds, realized, fees, terms.pnl_currency)
            )
        p.realized_pnl = WIDE.add(p.realized_pnl, realized)
        fill.realized = WIDE.add(fill.realized, realized)
        p.cost = WIDE.subtract(p.cost, cost)
        p.quantity = WIDE.add(p.quantity, WIDE.multiply(matched, MINUS_ONE if long else ONE))
        if matched == lot.quantity:
            del book.open[at]
        else:
            lot.quantity = WIDE.subtract(lot.quantity, matched)
            lot.cost = WIDE.subtract(lot.cost, cost)
        left = WIDE.subtract(left, matched)
    if left:  # through zero: the remainder opens a lot at the fill's price
        value = terms.value(left, fill.price)
        book.open.append(OpenLot(fill, left, value, fill.price))
        p.cost = value
        p.quantity = WIDE.multiply(left, MINUS_ONE if long else ONE)


BookKey = tuple[str, str, str, str]
"""A book of a grouping's (``fill_group``): (group, account, venue, instrument)."""
ACCOUNT = "account"
"""The grouping of the positions' own books (account, venue, instrument), whose group is ""."""
CLOSED = "closed"
"""The positions' own books again, with their closed lots kept (what ``lots --closed`` reads):
apart from ``ACCOUNT``'s, so that only a ledger asked for its closed lots folds and stores them."""
IN = "in:"
"""The prefix of a grouping of the positions' own books again whose days count each fill under
its group of the grouping after it (``in:parent``, ``in:tag:NAME``: ``Day.groups``): what
``pnl`` by parent or tag reads, each fill's P&L as its account's book realized it."""


def account_books(grouping: str) -> bool:
    """Whether the books of ``grouping`` are the positions' own (group "")."""
    return grouping in (ACCOUNT, CLOSED) or grouping.startswith(IN)


def fill_group(fill: Fill, grouping: str, parents: Mapping[str, str | None]) -> str:
    """The group whose book ``fill`` is folded into under ``grouping``: "" for the positions' own
    books (``account_books``), the value of its tag NAME by ``tag:NAME``, its order's parent (in
    ``parents``) by parent; "(none)" when it has no such tag or parent (as ``pnl`` groups it).
    Under ``in:`` another grouping, the fill's group there is left in ``fill.group`` for its
    day (None under any other)."""
    fill.group = fill_group(fill, grouping[len(IN) :], parents) if grouping.startswith(IN) else None
    if account_books(grouping):
        return ""
    if grouping.startswith("tag:"):
        value = fill.tags.get(grouping[4:])
    else:
        value = parents.get(fill.client_order_id)
    return "(none)" if value is None else str(value)


def fills_by_group(
    fills: Iterable[Fill], grouping: str, parents: Mapping[str, str | None]
) -> dict[BookKey, list[Fill]]:
    """``fills`` by their book of ``grouping`` (``fill_group``), each book's in the order given."""
    books: dict[BookKey, list[Fill]] = {}
    for fill in fills:
        key = (fill_group(fill, grouping, parents), fill.account, fill.venue, fill.instrument)
        books.setdefault(key, []).append(fill)
    return books


def fold_books(fills: Iterable[Fill], basis: CostBasis) -> dict[PositionKey, Book]:
    """Every book's position (and lots, under a lot rule), its fills folded in venue time."""
    by_book = fills_by_group(fills, ACCOUNT, {})  # (group "": the account's own books)
    books: dict[PositionKey, Book] = {}
    for grouped in sorted(by_book):
        key = grouped[1:]
        ordered = venue_order(by_book[grouped])
        first = ordered[0]
        book = books[key] = Book(Position(*key, quote_currency=first.quote_currency, terms=first.terms))
        book.fills = ordered
        for fill in ordered:
            book_fill(book, fill, basis)
            book.position.add_fee(fill.fee, fill.fee_currency)
    return books


def book_fill(book: Book, fill: Fill, basis: CostBasis) -> Decimal:
    """Fold ``fill`` (the latest in venue time) into ``book`` under ``basis``; returns what it
    realized (also left in ``fill.realized``). Fees are the caller's."""
    fill.realized = ZERO
    if basis == "average":
        fill.realized = book.position.book(fill.signed_qty, fill.price, fill.terms)
    else:
        _book_lots(book, fill, basis)
    return fill.realized


def venue_order(fills: Iterable[Fill]) -> list[Fill]:
    """``fills`` sorted in venue time (``book.before``)."""
    return sorted(fills, key=lambda f: venue_order_key(f.key))


MARK_EVERY = 256
"""Fills of a book between two of its marks when it is not flat in between (``Mark``)."""


@dataclass
class Sums:
    """What some fills realized and paid in fees, by the currency of their P&L, and how many
    there were."""

    realized: dict[str, Decimal] = field(default_factory=dict)  # P&L currency ("": none) → sum
    fees: dict[str, dict[str, Decimal]] = field(default_factory=dict)  # P&L currency → fee currency → sum
    fills: dict[str, int] = field(default_factory=dict)  # P&L currency → fills

    def count(self, fill: Fill) -> None:
        """Add ``fill`` (what it realized, its fee)."""
        currency = fill.terms.pnl_currency or ""
        self.realized[currency] = WIDE.add(self.realized.get(currency, ZERO), fill.realized)
        self.fills[currency] = self.fills.get(currency, 0) + 1
        if fill.fee is not None:
            fees = self.fees.setdefault(currency, {})
            fee_currency = fill.fee_currency or "?"
            fees[fee_currency] = WIDE.add(fees.get(fee_currency, ZERO), fill.fee)

    def copied(self) -> dict[str, Any]:
        """The sums as independent dicts (the fields of a copy)."""
        return {
            "realized": dict(self.realized),
            "fees": {k: dict(v) for k, v in self.fees.items()},
            "fills": dict(self.fills),
        }


@dataclass
class Day(Sums):
    """One UTC day of a book's venue time under a rule: what the day's fills realized and paid in
    fees, by the currency of their P&L, how many there were (``Sums``), and the position at the
    day's end (what the day's unrealized P&L is worked out from, at the day's mark); under a
    grouping ``IN`` another, the same sums of each group's fills of the day (``groups``).
    ``pnl --daily`` and ``pnl --cost-basis`` read these instead of folding the book's fills."""

    day: str = ""
    quantity: Decimal = ZERO  # the position at the day's end (after its last fill)
    cost: Decimal = ZERO
    terms: Terms = field(default_factory=Terms)
    groups: dict[str, Sums] = field(default_factory=dict)  # (``IN``) group → its fills' sums

    def copy(self) -> Day:
        """An independent copy (a mark keeps the day as it stood)."""
        groups = {k: Sums(**v.copied()) for k, v in self.groups.items()}
        return replace(self, **self.copied(), groups=groups)

    def position(self, key: PositionKey, quote_currency: str | None) -> Position:
        """The book's position at the day's end."""
        return Position(
            *key, quantity=self.quantity, cost=self.cost, quote_currency=quote_currency, terms=self.terms
        )


def day_of(fill: Fill) -> str:
    """The UTC day of venue time a fill belongs to (as a P&L entry's ``day``)."""
    return fill.ts_event.date().isoformat()


def _add_day(days: list[Day], fill: Fill, p: Position) -> None:
    """Count ``fill`` (just folded into ``p``) in its day, the latest of ``days`` or a new one,
    and (``fill.group``) in its group's sums of that day."""
    day = day_of(fill)
    if not days or days[-1].day != day:
        days.append(Day(day=day))
    today = days[-1]
    today.count(fill)
    if fill.group is not None:
        today.groups.setdefault(fill.group, Sums()).count(fill)
    today.quantity, today.cost, today.terms = p.quantity, p.cost, p.terms


@dataclass(frozen=True)
class Mark:
    """A moment of a book kept so that a fold may start over from it: right after the fill
    ``key``, the position's figures and the open lots then (each as its opening fill, quantity,
    cost and price). Taken whenever the book is flat (no lot open under any rule: cheap to
    keep) and after every ``MARK_EVERY`` fills otherwise, so that a fold starting from the
    latest mark before a change reads at most about that many of the book's fills. Every mark
    is kept (``storage.lot_heads``), numbered ``n`` from 0 in venue order: a read as of a time
    starts from the latest mark that no later fact changes (``application.reads.lots_at_head``)."""

    n: int
    key: VenueKey
    quantity: Decimal
    cost: Decimal
    realized: Decimal
    fees: tuple[tuple[str, Decimal], ...]
    terms: Terms
    open: tuple[tuple[Fill, Decimal, Decimal, Decimal], ...]
    today: Day  # the mark's day as it stood right after the fill ``key``
    closed: int  # how many closed lots the book had made up to and including the fill ``key``
    through: int  # the latest log position of the fills up to and including the fill ``key``


@dataclass
class LotHead:
    """A book under a lot rule as far as its open lots reach: what a read of positions or open
    lots needs, kept between reads (``storage.lot_heads``) and extended by the fills after it.

    ``last`` is its latest fill in venue time: a fill after it extends the head where it
    stands; an earlier one (or a bust or correction) changes what the matches were from its
    place on, and the book is folded again from the latest of its marks before that place (from
    its first fill when there is none). ``paid``: its fills whose fee is in another currency than
    their P&L, which a position's row values when it is read. ``marked``: how many marks the
    book has made (the next one's number); ``marks``: those of them this fold made or kept that
    the store does not hold yet, numbered from ``marked`` − their count on (a head read back
    holds none: the store keeps them apart); ``since``: the fills folded after its latest mark.
    ``days``: each
    day of venue time with a fill, in order (``Day``). ``made``: how many closed lots the book
    has made, numbered from 0 in venue order of their closing fills (then in match order);
    ``closed``: the latest of them, those this fold made or kept (numbered from ``made`` −
    their count on): what its stored closed lots are replaced with from that number on; both
    only while ``keeps_closed`` (a head that needs only what stays open makes none)."""

    position: Position
    open: list[OpenLot]
    last: VenueKey
    paid: list[Fill] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    since: int = 0
    marked: int = 0
    days: list[Day] = field(default_factory=list)
    made: int = 0
    closed: list[ClosedLot] = field(default_factory=list)
    keeps_closed: bool = True
    through: int = 0  # the latest log position of the fills folded (a read as of a time checks it)

    @property
    def closed_from(self) -> int:
        """The number of the first of ``closed`` (its book's closed lots before it are as stored)."""
        return self.made - len(self.closed)

    @property
    def marks_from(self) -> int:
        """The number of the first of ``marks`` (its book's marks before it are as stored)."""
        return self.marked - len(self.marks)


def mark_before(marks: Iterable[Mark], key: VenueKey) -> Mark | None:
    """The latest of ``marks`` (in venue order) earlier in venue time than ``key``."""
    place = venue_order_key(key)
    found = None
    for mark in marks:
        if venue_order_key(mark.key) < place:
            found = mark
    return found


def extend(head: LotHead, fill: Fill, basis: CostBasis) -> bool:
    """Fold ``fill`` into ``head`` if it is later in venue time than every fill folded there;
    False (``head`` unchanged) if it is not."""
    if venue_order_key(fill.key) <= venue_order_key(head.last):
        return False
    _fold_into(head, fill, basis)
    return True


def fold_head(
    key: PositionKey,
    fills: Iterable[Fill],
    basis: CostBasis,
    start: tuple[LotHead, Mark] | None = None,
    *,
    closed: bool = True,
) -> LotHead | None:
    """A book's head from its ``fills`` (as they stand) folded in venue time: from nothing, or
    (``start``: an earlier head and one of its marks) from that mark, the fills given being
    those after it; the marks after it are made anew. ``closed``: whether it makes its closed
    lots. None when there is no fill to fold and no start."""
    ordered = venue_order(fills)
    if start is None:
        if not ordered:
            return None
        first = ordered[0]
        position = Position(*key, quote_currency=first.quote_currency, terms=first.terms)
        head = LotHead(position, [], first.key, keeps_closed=closed)
    else:
        earlier, mark = start
        position = Position(
            *key,
            quantity=mark.quantity,
            cost=mark.cost,
            realized_pnl=mark.realized,
            fees=dict(mark.fees),
            quote_currency=earlier.position.quote_currency,
            terms=mark.terms,
        )
        kept = venue_order_key(mark.key)
        head = LotHead(
            position,
            [OpenLot(f, quantity, cost, price) for f, quantity, cost, price in mark.open],
            mark.key,
            [f for f in earlier.paid if venue_order_key(f.key) <= kept],
            # The marks up to this one that ``earlier`` made itself (not stored yet) stay.
            [m for m in earlier.marks if m.n <= mark.n],
            marked=mark.n + 1,
            days=[*(d for d in earlier.days if d.day < mark.today.day), mark.today.copy()],
            made=mark.closed,
            # The closed lots up to the mark that ``earlier`` made itself (not stored yet) stay.
            closed=earlier.closed[: max(0, mark.closed - earlier.closed_from)],
            keeps_closed=closed,
            through=mark.through,
        )
    for fill in ordered:
        _fold_into(head, fill, basis)
    return head


def _fold_into(head: LotHead, fill: Fill, basis: CostBasis) -> None:
    p = head.position
    book = Book(p, head.open, head.closed, keeps_closed=head.keeps_closed)
    made = len(head.closed)
    book_fill(book, fill, basis)
    head.made += len(head.closed) - made
    p.add_fee(fill.fee, fill.fee_currency)
    head.last = fill.key
    head.through = max(head.through, fill.position)
    if needs_rate(fill):
        head.paid.append(fill)
    _add_day(head.days, fill, p)
    head.since += 1
    if not p.quantity or head.since >= MARK_EVERY:
        lots = tuple((lot.opened, lot.quantity, lot.cost, lot.price) for lot in head.open)
        today = head.days[-1].copy()
        head.marks.append(
            Mark(
                head.marked, fill.key, p.quantity, p.cost, p.realized_pnl, tuple(p.fees.items()), p.terms,
                lots, today, head.made, head.through,
            )
        )  # fmt: skip
        head.marked += 1
        head.since = 0
