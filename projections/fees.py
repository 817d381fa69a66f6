"""Fees valued in the P&L currency: the rate each fill's fee is converted at, and the totals.

Rules (docs/semantics.md, "Fees and `realized_pnl_net`"):

- a fee in the P&L currency counts as it is;
- a fee in the instrument's base coin, when P&L is in its quote currency, is valued at the
  fill's own price (a fee in the quote currency of an instrument whose P&L is in its base coin,
  at 1 / price);
- a fee in any other currency (BNB) is valued at a **recorded rate**: the latest ``mark`` at the
  fill's venue of the pair FEE/PNL (written ``FEE/PNL`` or ``FEE-PNL``) whose venue time is at or
  before the fill's; marks of one time are told apart by their source, so the rate chosen is a
  function of the set of marks, whatever order they arrived in;
- without either, the fee stays in its currency, named as unvalued, and net P&L is ``null``.

Valuation happens when positions and P&L are read, not when fills are folded: a rate is a fact
recorded like any other, and a mark recorded after the fills it values (a late mark, or one at
an earlier venue time) gives the same figures as one recorded first, with no re-fold. Only the
fills whose fee is in another currency than their P&L are valued, so a ledger whose fees are all
in the P&L currency reads nothing more.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol, TypeVar

from orderledger.domain.values import AVERAGE, WIDE, base_currency_of, quote_currency_of

ZERO = Decimal(0)
UNKNOWN = "?"
"""The key of a fee given without a currency (it can be valued at no rate)."""


class PaidFee(Protocol):
    """What valuing one fill's fee needs (a P&L entry or a folded fill)."""

    @property
    def venue(self) -> str: ...
    @property
    def instrument(self) -> str: ...
    @property
    def ts_event(self) -> datetime: ...
    @property
    def price(self) -> Decimal: ...
    @property
    def fee(self) -> Decimal | None: ...
    @property
    def fee_currency(self) -> str | None: ...
    @property
    def pnl_currency(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Rate:
    """What one unit of a fee currency was worth in the P&L currency, and where that came from."""

    rate: Decimal
    source: str  # fill: the fill's own price; mark: a recorded mark
    instrument: str  # the fill's instrument, or the marked pair
    time: datetime | None = None  # the mark's venue time (a mark only)
    mark_source: str | None = None  # the mark's source (a mark only)


MarkLookup = Callable[[str, tuple[str, ...], datetime], Rate | None]
"""(venue, pair names, fill time) → the latest recorded mark of those pairs at or before then."""


def needs_rate(paid: PaidFee) -> bool:
    """Whether a fill's fee is in another currency than its P&L (and so must be valued)."""
    return paid.fee is not None and paid.fee != 0 and paid.fee_currency != paid.pnl_currency


def rate_pairs(fee_currency: str, pnl_currency: str) -> tuple[str, ...]:
    """The instrument names a rate of ``fee_currency`` in ``pnl_currency`` is recorded under."""
    return (f"{fee_currency}/{pnl_currency}", f"{fee_currency}-{pnl_currency}")


@functools.lru_cache(maxsize=4096)
def _currencies(instrument: str) -> tuple[str | None, str | None]:
    return base_currency_of(instrument), quote_currency_of(instrument)


@functools.lru_cache(maxsize=4096)
def _at_price(instrument: str, price: Decimal, inverse: bool) -> Rate:
    """One rate object per instrument and price (fills at one price share it)."""
    return Rate(AVERAGE.divide(Decimal(1), price) if inverse else price, "fill", instrument)


def fill_rate(paid: PaidFee) -> Rate | None:
    """The fill's own price as a rate, when the fee is in the instrument's other currency."""
    currency, pnl = paid.fee_currency, paid.pnl_currency
    base, quote = _currencies(paid.instrument)
    if currency is None or pnl is None or base is None or quote is None or not paid.price:
        return None
    if currency == base and pnl == quote:
        return _at_price(paid.instrument, paid.price, False)
    if currency == quote and pnl == base:  # an inverse contract's P&L is in its base coin
        return _at_price(paid.instrument, paid.price, True)
    return None


def rate_of(paid: PaidFee, marks: MarkLookup) -> Rate | None:
    """The rate a fill's fee is valued at: the fill's price, else a recorded mark, else None."""
    found = fill_rate(paid)
    if found is not None or paid.fee_currency is None or paid.pnl_currency is None:
        return found
    return marks(paid.venue, rate_pairs(paid.fee_currency, paid.pnl_currency), paid.ts_event)


def wanted_pairs(paid: Iterable[PaidFee]) -> set[tuple[str, str]]:
    """The (venue, pair) whose marks valuing these fees may read."""
    wanted: set[tuple[str, str]] = set()
    for p in paid:
        if needs_rate(p) and p.fee_currency and p.pnl_currency and fill_rate(p) is None:
            wanted.update((p.venue, pair) for pair in rate_pairs(p.fee_currency, p.pnl_currency))
    return wanted


@dataclass(frozen=True)
class FeeValue:
    """The fees paid in one currency, valued in the P&L currency."""

    amount: Decimal  # in the fee's currency
    value: Decimal  # in the P&L currency
    rate: Decimal  # the rate used; with several, the average the value implies (value / amount)
    rates: int  # how many different rates the fills were valued at
    source: str  # fill, mark, or fill+mark
    instrument: str | None  # the fill's instrument or the marked pair (None: several)
    time: datetime | None  # the mark's time (None: the fill's price, or several rates)
    mark_source: str | None  # the mark's source, when one mark was used


@dataclass
class _Valuing:
    amount: Decimal = ZERO
    value: Decimal = ZERO
    rates: set[Rate] = field(default_factory=set)
    unvalued: bool = False
    last: Rate | None = None  # the rate added last (fills in a row at one rate share its object)


@dataclass
class FeeValuation:
    """The fees of one position, or one P&L group, in other currencies than its P&L: each
    currency's value when every fill in it had a rate; else the currency is unvalued."""

    currencies: dict[str, _Valuing] = field(default_factory=dict)

    def add(self, fee: Decimal, currency: str | None, rate: Rate | None) -> None:
        """One fill's fee, at the rate found for it (None: no rate known)."""
        valuing = self.currencies.setdefault(currency or UNKNOWN, _Valuing())
        valuing.amount = WIDE.add(valuing.amount, fee)
        if rate is None:
            valuing.unvalued = True
            return
        valuing.value = WIDE.add(valuing.value, WIDE.multiply(fee, rate.rate))
        if rate is not valuing.last:
            valuing.rates.add(rate)
            valuing.last = rate

    def values(self) -> dict[str, FeeValue]:
        """Each fully valued currency's fees, value and rate, by currency."""
        result = {}
        for currency, v in sorted(self.currencies.items()):
            if v.unvalued or not v.rates:
                continue
            if len(v.rates) == 1:
                (one,) = v.rates
                result[currency] = FeeValue(
                    v.amount, v.value, one.rate, 1, one.source, one.instrument, one.time, one.mark_source
                )
                continue
            sources = sorted({r.source for r in v.rates})
            instruments = {r.instrument for r in v.rates}
            average = AVERAGE.divide(v.value, v.amount) if v.amount else ZERO
            result[currency] = FeeValue(
                v.amount,
                v.value,
                average,
                len(v.rates),
                "+".join(sources),
                instruments.pop() if len(instruments) == 1 else None,
                None,
                None,
            )
        return result

    def unvalued(self) -> tuple[str, ...]:
        """The currencies some fee in which has no known rate."""
        return tuple(sorted(c for c, v in self.currencies.items() if v.unvalued))


Key = TypeVar("Key")


@dataclass(frozen=True, slots=True)
class Paid:
    """One fill's fee as a P&L query reads it (``PaidFee``)."""

    venue: str
    instrument: str
    ts_event: datetime
    price: Decimal
    fee: Decimal | None
    fee_currency: str | None
    pnl_currency: str | None


def valuations(paid: Iterable[tuple[Key, PaidFee]], marks: MarkLookup) -> dict[Key, FeeValuation]:
    """The fees in other currencies than their P&L, valued and summed per key (a position, a
    P&L group): each fill under the key its caller gives it."""
    result: dict[Key, FeeValuation] = {}
    for key, p in paid:
        if needs_rate(p):
            assert p.fee is not None
            result.setdefault(key, FeeValuation()).add(p.fee, p.fee_currency, rate_of(p, marks))
    return result


def net_of_fees(
    realized: Decimal,
    fees: Mapping[str, Decimal],
    currency: str | None,
    valuation: FeeValuation | None = None,
) -> Decimal | None:
    """Realized − fees, all in the P&L currency: the fees in it as they are, the others at their
    value; None when the P&L currency is unknown or some fee has no known rate."""
    if currency is None:
        return None
    values = {} if valuation is None else valuation.values()
    if valuation is not None and valuation.unvalued():
        return None
    net = WIDE.subtract(realized, fees.get(currency, ZERO))
    for paid_in in fees:
        if paid_in != currency and paid_in not in values:
            return None
    for value in values.values():
        net = WIDE.subtract(net, value.value)
    return net
