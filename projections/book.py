"""A book: one position by average cost, and the P&L entries of its fills, in venue time.

What a fill does to a net position (``Position.book``: netting, the weighted average, realized
P&L when reducing, through zero), what each fill leaves (``PnlEntry``: the book just before it,
so a restatement starts there), how fills are ordered in venue time (``before``: the fill's
venue time, then the venue's trade ID, then the client order ID, then log position), and what
a fill changes the held quantity by (``held_change``). The positions view
(``projections.positions``) and the lots (``projections.lots``) fold with these; nothing here
knows of tables.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from orderledger.domain.instrument import Terms
from orderledger.domain.values import AVERAGE, WIDE, Side
from orderledger.projections.fees import net_of_fees

# One fixed context for every division, so that every rebuild yields the same digits; sums
# and products use 100 digits (WIDE) so that nothing else rounds.
ARITHMETIC = AVERAGE
ZERO = Decimal(0)
ONE = Decimal(1)
MINUS_ONE = Decimal(-1)
PositionKey = tuple[str, str, str]
VenueKey = tuple[datetime, str, str, int]
"""A fill's venue time, trade ID, client order ID and log position: ``before`` orders them."""
_add = WIDE.add
_subtract = WIDE.subtract
_multiply = WIDE.multiply
_abs = WIDE.abs
_divide = ARITHMETIC.divide


@dataclass
class Position:
    """A net position and its P&L so far."""

    account: str
    venue: str
    instrument: str
    quantity: Decimal = ZERO
    # What the held quantity cost, unsigned, in value terms (``Terms.value``: for a linear
    # instrument average × |quantity| × contract size, exact; for an inverse one, in the coin).
    cost: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    fees: dict[str, Decimal] = field(default_factory=dict)
    quote_currency: str | None = None
    terms: Terms = field(default_factory=Terms)  # the definition the last booked fill used
    last: int = 0  # the P&L entry (log position) of the latest fill in venue time; 0: none
    last_key: VenueKey | None = None  # that fill's venue time, trade, order and log position
    # The book's re-fold still to come (``PositionsProjection.settle``): during a pass, or left
    # for the end of a run of passes (then stored: its ``since`` in the row's ``unsettled``).
    unsettled: Unsettled | None = field(default=None, compare=False, repr=False)

    @property
    def pnl_currency(self) -> str | None:
        """What realized and unrealized P&L are in (quote currency, or an inverse's coin)."""
        return self.terms.pnl_currency

    @property
    def average_price(self) -> Decimal | None:
        """The average open price (34 significant digits; harmonic for inverse); None when flat."""
        return self.terms.average_price(self.quantity, self.cost)

    def book(self, signed_qty: Decimal, price: Decimal, terms: Terms | None = None) -> Decimal:
        """Apply a signed trade at ``price`` under ``terms`` (default: the position's); returns
        the P&L it realized."""
        # The cost is carried in value terms; only the share of it a partial close removes is a
        # division. What it removes is exactly what leaves the cost, so realized + unrealized
        # (value at the mark − cost) is the same whatever order the fills come in. A definition
        # changed while a position is open values the fills booked after it (and the marks)
        # with the new terms; the cost already paid stays what it was. Every operation names its
        # context (WIDE, or ARITHMETIC for the division): no thread context is switched per fill.
        terms = self.terms if terms is None else terms
        self.terms = terms
        # ``terms.value`` spelt out (the same operations in the same contexts): the method and
        # its property cost more than the arithmetic.
        size_of = terms.contract_size
        inverse = terms.settlement == "inverse"
        held = self.quantity
        if held == 0 or (held > 0) == (signed_qty > 0):
            units = _multiply(_abs(signed_qty), size_of)
            self.cost = _add(self.cost, _divide(units, price) if inverse else _multiply(units, price))
            self.quantity = _add(held, signed_qty)
            return ZERO
        size = _abs(held)
        closed = min(_abs(signed_qty), size)
        removed = self.cost if closed == size else _divide(_multiply(self.cost, closed), size)
        units = _multiply(closed, size_of)
        value = _divide(units, price) if inverse else _multiply(units, price)
        realized = _multiply(_subtract(value, removed), ONE if held > 0 else MINUS_ONE)
        if inverse:  # × ``terms.sense``; × +1 would leave a 100-digit product as it is
            realized = _multiply(realized, MINUS_ONE)
        self.realized_pnl = _add(self.realized_pnl, realized)
        remaining = _add(held, signed_qty)
        # Through zero: the old position closes whole and the remainder opens at the fill price.
        if (remaining > 0) != (held > 0):
            units = _multiply(_abs(remaining), size_of)
            self.cost = _divide(units, price) if inverse else _multiply(units, price)
        else:
            self.cost = _subtract(self.cost, removed)
        self.quantity = remaining
        return realized

    def add_fee(self, fee: Decimal | None, currency: str | None) -> None:
        """Accumulate a fee (negative for rebates or reversals) in its currency."""
        if fee is None or not fee:
            return
        key = currency or "?"
        total = WIDE.add(self.fees.get(key, ZERO), fee)
        if total:
            self.fees[key] = total
        else:
            self.fees.pop(key, None)

    @property
    def realized_pnl_net(self) -> Decimal | None:
        """Realized minus fees, when every fee is in the P&L currency; else None (fees in other
        currencies are valued when positions are read: ``projections.fees``)."""
        return net_of_fees(self.realized_pnl, self.fees, self.pnl_currency)

    def notional(self, mark: Decimal | None) -> Decimal:
        """What the held contracts are worth at ``mark`` (at their cost without one), unsigned,
        in the P&L currency: |quantity| × contract size × mark (linear), or / mark (inverse)."""
        if mark is None or self.quantity == 0:
            return self.cost
        return self.terms.value(abs(self.quantity), mark)

    def unrealized_pnl(self, mark: Decimal | None) -> Decimal | None:
        """What closing at ``mark`` would realize: the closing formula applied to the whole
        position (linear: (mark − average) × quantity × contract size, computed exactly as
        value at the mark − cost; inverse: quantity × size × (1/average − 1/mark))."""
        if mark is None:
            return None
        if self.quantity == 0:
            return ZERO
        with decimal.localcontext(WIDE):
            direction = Decimal(1) if self.quantity > 0 else Decimal(-1)
            return (self.terms.value(abs(self.quantity), mark) - self.cost) * direction * self.terms.sense


@dataclass(slots=True)
class PnlEntry:
    """The P&L one event moved: the source of grouped P&L reports."""

    position: int
    account: str
    venue: str
    instrument: str
    day: str
    client_order_id: str
    trade_id: str
    kind: str  # fill | bust | correction
    realized: Decimal
    fee: Decimal | None
    fee_currency: str | None
    quote_currency: str | None
    tags: dict[str, str]
    signed_qty: Decimal = ZERO
    price: Decimal = ZERO
    before_qty: Decimal = ZERO  # the position just before this fill: where a restatement starts
    before_cost: Decimal = ZERO
    before_realized: Decimal = ZERO
    terms: Terms = field(default_factory=Terms)  # the definition in force when the fill was booked
    ts_event: datetime = datetime.min  # the fill's venue time
    previous: int = 0  # the entry just before this one in venue time (its log position); 0: none

    @property
    def pnl_currency(self) -> str | None:
        """What ``realized`` is in."""
        return self.terms.pnl_currency

    @property
    def venue_key(self) -> VenueKey:
        """This entry's fill as ``before`` compares it."""
        return (self.ts_event, self.trade_id, self.client_order_id, self.position)

    def venue_order(self) -> tuple[Any, ...]:
        """A sort key that orders entries as ``before`` does."""
        return venue_order_key(self.venue_key)


@dataclass(slots=True)
class Unsettled:
    """A book changed during a pass: from which place in venue time, and the fills (their
    entries' log positions) not yet linked into its chain.

    ``stored``: the re-fold was left for later by an earlier pass (``settle(defer=True)``):
    ``since`` is in the book's row, and that pass's fills wait in the entries table, unlinked
    (``previous`` is ``UNLINKED``), besides the ``added`` ones of this pass."""

    since: VenueKey
    added: list[int]
    stored: bool = False


UNLINKED = -1
"""``PnlEntry.previous`` of a fill whose book's re-fold was left for later: not yet in the chain."""


def trade_order(trade_id: str) -> tuple[int, int, str]:
    """A trade ID as it sorts within one venue time: numeric IDs by value (venues number their
    trades in sequence, and "10" comes after "9"), before any other ID, which sorts as text."""
    if trade_id.isascii() and trade_id.isdigit():
        return (0, len(trade_id.lstrip("0")), trade_id.lstrip("0"))
    return (1, 0, trade_id)


def before(a: VenueKey, b: VenueKey) -> bool:
    """Whether fill ``a`` comes before fill ``b`` in venue time: by venue time, then trade ID
    (``trade_order``), then client order ID, then (two fills alike in all three) log position."""
    if a[0] != b[0]:
        return a[0] < b[0]
    return (trade_order(a[1]), a[2], a[3]) < (trade_order(b[1]), b[2], b[3])


def venue_order_key(k: VenueKey) -> tuple[Any, ...]:
    """A sort key that orders fills as ``before`` does."""
    return (k[0], trade_order(k[1]), k[2], k[3])


def _signed(side: Side, qty: Decimal) -> Decimal:
    return qty if side is Side.BUY else WIDE.minus(qty)  # a bare -qty would round to 28 digits


def spot_base(instrument: str, terms: Terms) -> str | None:
    """The coin a holding of ``instrument`` is counted in when it is a spot pair: BASE of a pair
    written BASE/QUOTE (ccxt's spot symbols, Hyperliquid's spot pairs; a derivative's ccxt
    symbol adds ``:SETTLE``), valued one unit per unit, linearly; None for anything else (a
    perpetual named by its coin, an inverse or sized contract, ``BTC-USD-SWAP``)."""
    base, sep, quote = instrument.partition("/")
    if not sep or not base or not quote or ":" in quote or "/" in quote:
        return None
    if terms.settlement != "linear" or terms.contract_size != ONE:
        return None
    return base


def held_change(
    side: Side,
    quantity: Decimal,
    fee: Decimal | None,
    fee_currency: str | None,
    instrument: str,
    terms: Terms,
) -> Decimal:
    """What a fill changes the held quantity by: its signed quantity, less its fee when that is
    paid in the spot pair's base coin (a buy of 0.31 HYPE paying 0.00021699 HYPE holds
    0.30978301 more; a sale paying its fee in the base gives up quantity + fee). The fee is
    still counted once, apart, in net P&L (valued at the fill's price), so the fee's coins
    carry no cost."""
    signed = _signed(side, quantity)
    if (
        not fee
        or fee_currency is None
        or not instrument.startswith(fee_currency)  # the base coin begins the pair's name
        or fee_currency != spot_base(instrument, terms)
    ):
        return signed
    return WIDE.subtract(signed, fee)
