"""Exposure: what positions and open orders amount to in units of each underlying, and in money.

Pure arithmetic (docs/risk.md, "Exposure"). Given positions (``Holding``), open orders
(``Working``), the instrument definitions in force and prices, :func:`exposure` gives one
``ExposureFigures`` per group (account, venue, as asked) and underlying.

* An instrument maps to one underlying (``underlying_of``): its definition's ``underlying``,
  else its ``base_currency``; without either (or without a definition) it is its own
  underlying, and the row lists it in ``unmapped``.
* Units of the underlying (``units_of``), signed (a short is negative):
  linear: quantity × contract_size; inverse (a contract worth ``contract_size`` of the quote
  currency): quantity × contract_size / price; option: quantity × contract_size × (+1 for a
  call, −1 for a put): the most an option moves with its underlying (no delta is recorded).
* Value (``value_of``): units × the underlying's price, in the quote currency. For a position
  the price is its instrument's latest mark (an option: the mark of its underlying at its
  venue); for an open order its limit price (a market order: the mark). An inverse contract is
  worth quantity × contract_size whatever the price. A leg with no price has no value (and an
  inverse one no units): the row lists it in ``unpriced``, and nothing else is dropped.
* Gross value (``gross_value``): each position's value taken whatever its sign and summed, per
  currency: what a desk holds on both sides, which netting hides (long spot and short the
  perpetual nets to nothing and holds twice).
* In one currency (asked for): each position's value times the rate of its currency into the
  one asked (``Rates``: one for the currency itself), summed as ``net_in`` and, whatever the
  sign, ``gross_in``. A value whose currency has no rate at its venue is not guessed: the row
  lists it in ``unconverted`` and has neither figure.
* Open orders' worst case: each open order filled for its leaves quantity, at its limit price
  (limit, stop-limit, take-profit limit), else a conditional order's trigger price or the mark,
  whichever is worse (the larger value: ``worst_price``), else the mark. A reduce-only order
  never grows the position: on the side that grows it, it counts nothing; on the side that
  reduces it, together with the other reduce-only orders of that side, at most the position.
  The legs of one OCO set (a bracket's take-profit and stop-loss) on one side count once: the
  largest (``once_per_link``). An order whose fill
  adds units (a buy, or a sale of a put) counts on the long side, one that takes units away on
  the short side: ``worst_long_units`` = net + every long-side order, ``worst_short_units`` =
  net + every short-side order.

Sums are exact (100 digits, ``WIDE``); the one division (inverse) is made in the fixed
34-digit context every rebuild uses (``AVERAGE``), so a group's figures are the sums of its
members' whatever the grouping (netting is additive over accounts and venues).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.events import OrderSpec
from orderledger.domain.instrument import Definition
from orderledger.domain.values import AVERAGE, WIDE, Contingency, Side

ZERO = Decimal(0)
ONE = Decimal(1)
GROUPINGS = ("account", "venue", "underlying")
"""What exposure may be grouped by; ``underlying`` always is."""
UNKNOWN_CURRENCY = "?"
"""The currency key of a value whose currency no definition or fill names."""

Prices = Callable[[str, str], Decimal | None]
"""(venue, instrument) → its latest price, or None."""
Rates = Callable[[str, str], Decimal | None]
"""(venue, currency) → what one unit of the currency is worth in the currency asked, or None."""


@dataclass(frozen=True)
class Holding:
    """A position: its net quantity in contracts (a short is negative)."""

    account: str
    venue: str
    instrument: str
    quantity: Decimal
    quote_currency: str | None = None


T = TypeVar("T")
LINKING = (Contingency.OCO, Contingency.BRACKET)
"""The contingencies whose orders of one group cancel each other: their legs on one side count once."""


def link_of(
    client_order_id: str, group_id: str | None, contingency: str | None, linked_ids: Iterable[str] | None
) -> str | None:
    """The OCO set an order is a leg of, or None: its group, when the group's orders cancel each
    other (``LINKING``), else the order and the siblings it names (``linked_ids``)."""
    if group_id is not None and contingency in LINKING:
        return f"group {group_id}"
    if linked_ids:
        return "orders " + ",".join(sorted({client_order_id, *linked_ids}))
    return None


def once_per_link(
    orders: Sequence[T],
    link: Callable[[T], str | None],
    side: Callable[[T], Side],
    size: Callable[[T], Decimal],
) -> list[T]:
    """``orders`` with the legs of each OCO set (``link``) on one side counted once: the largest
    by ``size`` (the first of equal ones) stands for them, since when one fills the others are
    canceled. Orders of no set are all kept, in order."""
    largest: dict[tuple[str, Side], T] = {}
    for order in orders:
        key = link(order)
        if key is not None:
            held = largest.get((key, side(order)))
            if held is None or size(order) > size(held):
                largest[(key, side(order))] = order
    kept = {id(order) for order in largest.values()}
    return [order for order in orders if link(order) is None or id(order) in kept]


def worst_price(price: Decimal | None, trigger_price: Decimal | None, mark: Decimal | None) -> Decimal | None:
    """What an order's worst case is valued at: its limit price (a fill is no worse), else a
    conditional order's trigger price or the mark, whichever is worse (the larger value), else
    the mark (None when none is known)."""
    if price is not None:
        return price
    if trigger_price is not None:
        return trigger_price if mark is None else max(trigger_price, mark)
    return mark


@dataclass(frozen=True)
class Working:
    """An open order: what is left of it (``quantity``: its leaves quantity), its limit price
    (None: a market order, taken at the mark), its trigger price (a conditional order), whether
    it only reduces, and the OCO set it is a leg of (``link_of``)."""

    account: str
    venue: str
    instrument: str
    side: Side
    quantity: Decimal
    price: Decimal | None = None
    quote_currency: str | None = None
    trigger_price: Decimal | None = None
    reduce_only: bool = False
    link: str | None = None

    @classmethod
    def of(cls, spec: OrderSpec) -> Working:
        """The order a request would open, all of its quantity left: the hypothetical order
        a pre-trade check adds to the exposure that stands (a market order at the mark)."""
        return cls._of(spec, spec.quantity, spec.price if spec.order_type.priced else None)

    @classmethod
    def open(cls, order: Any) -> Working:
        """An open order (an ``OrderRow``, an ``Order``) with its leaves quantity, at its price."""
        return cls._of(order, order.leaves_quantity, order.price)

    @classmethod
    def _of(cls, order: Any, leaves: Decimal, price: Decimal | None) -> Working:
        return cls(
            order.account,
            order.venue,
            order.instrument,
            order.side,
            leaves,
            price,
            order.quote_currency,
            order.trigger_price,
            bool(order.reduce_only),
            link_of(order.client_order_id, order.group_id, order.contingency, order.linked_ids),
        )


@dataclass(frozen=True)
class Underlying:
    """What an instrument is exposure to, and what said so (``underlying``, ``base_currency``,
    or ``instrument``: nothing did, the instrument is its own)."""

    name: str
    source: str


def underlying_of(instrument: str, definition: Definition | None) -> Underlying:
    """The underlying an instrument maps to (module docstring)."""
    if definition is not None and definition.underlying:
        return Underlying(definition.underlying, "underlying")
    if definition is not None and definition.base_currency:
        return Underlying(definition.base_currency, "base_currency")
    return Underlying(instrument, "instrument")


def units_of(quantity: Decimal, definition: Definition | None, price: Decimal | None) -> Decimal | None:
    """Signed units of the underlying that ``quantity`` contracts are (None: an inverse contract
    without a price)."""
    terms = definition or Definition()
    units = WIDE.multiply(quantity, terms.contract_size)
    if terms.kind == "option":
        return WIDE.minus(units) if terms.option_type == "put" else units
    if terms.settlement == "inverse":
        return None if price is None else AVERAGE.divide(units, price)
    return units


def value_of(units: Decimal | None, price: Decimal | None) -> Decimal | None:
    """What ``units`` of the underlying are worth at ``price`` (None when either is missing)."""
    if units is None or price is None:
        return None
    return WIDE.multiply(units, price)


def grouping(by: str | Iterable[str]) -> tuple[str, ...]:
    """``by`` as a tuple of names: ``"account,underlying"`` or a sequence of names, checked."""
    names = [part.strip() for part in by.split(",")] if isinstance(by, str) else list(by)
    return check_grouping(names)


def check_grouping(by: Iterable[str]) -> tuple[str, ...]:
    """``by`` as exposure groups by: names of ``GROUPINGS``, each once, ``underlying`` among
    them (one-line error otherwise)."""
    wanted = tuple(by)
    unknown = [name for name in wanted if name not in GROUPINGS]
    if unknown:
        raise InvalidInputError(f"`by`: {unknown[0]!r} is not one of {', '.join(GROUPINGS)}", field="by")
    if len(set(wanted)) != len(wanted):
        raise InvalidInputError("`by`: each of account, venue, underlying at most once", field="by")
    if "underlying" not in wanted:
        raise InvalidInputError("`by`: exposure is per underlying; include underlying", field="by")
    return wanted


def one_currency(currency: str | None) -> str | None:
    """The currency exposure is asked in (``in_currency``), checked: None (none asked), or a name
    without spaces (one-line error otherwise)."""
    if currency is None:
        return None
    if not currency or any(c.isspace() for c in currency):
        raise InvalidInputError("`in_currency`: the name of one currency, such as USDT", field="in_currency")
    return currency


@dataclass(frozen=True)
class ExposureFigures:
    """One group's exposure to one underlying (``account``/``venue``: None when not grouped by
    it). Units are signed (short negative); values are per currency."""

    account: str | None
    venue: str | None
    underlying: str
    net_units: Decimal = ZERO
    """Positions' units of the underlying, netted."""
    net_value: Mapping[str, Decimal] = field(default_factory=dict)
    """Positions' value at the latest marks, per quote currency."""
    gross_value: Mapping[str, Decimal] = field(default_factory=dict)
    """Positions' absolute values at the latest marks, summed per quote currency (not netted)."""
    option_units: Decimal = ZERO
    """The part of ``net_units`` that options hold (at ±1 per unit: no delta is recorded)."""
    open_long_units: Decimal = ZERO
    """Units open orders would add if every long-side one filled (≥ 0)."""
    open_short_units: Decimal = ZERO
    """Units open orders would take away if every short-side one filled (≤ 0)."""
    worst_long_units: Decimal = ZERO
    """``net_units`` + ``open_long_units``."""
    worst_short_units: Decimal = ZERO
    """``net_units`` + ``open_short_units``."""
    worst_long_value: Mapping[str, Decimal] = field(default_factory=dict)
    """``net_value`` + the long-side orders' value at their prices, per currency."""
    worst_short_value: Mapping[str, Decimal] = field(default_factory=dict)
    """``net_value`` + the short-side orders' value at their prices, per currency."""
    instruments: tuple[str, ...] = ()
    """The legs counted, ``VENUE:INSTRUMENT``."""
    unmapped: tuple[str, ...] = ()
    """Legs counted as their own underlying: no definition names its underlying or base."""
    unpriced: tuple[str, ...] = ()
    """Legs with no price: no value counted (an inverse one: no units either)."""
    in_currency: str | None = None
    """The one currency ``net_in`` and ``gross_in`` are in (None: none was asked)."""
    net_in: Decimal | None = None
    """``net_value`` converted into ``in_currency`` and summed (None: not asked, or unconverted)."""
    gross_in: Decimal | None = None
    """``gross_value`` converted into ``in_currency`` and summed (None: not asked, or unconverted)."""
    unconverted: tuple[str, ...] = ()
    """Values with no rate into ``in_currency`` at their venue, ``VENUE:CURRENCY``."""


@dataclass
class _Group:
    """A group's sums while legs are added (``_finished`` makes its figures)."""

    key: tuple[str | None, str | None, str]
    net_units: Decimal = ZERO
    option_units: Decimal = ZERO
    open_long_units: Decimal = ZERO
    open_short_units: Decimal = ZERO
    net_value: dict[str, Decimal] = field(default_factory=dict)
    gross_value: dict[str, Decimal] = field(default_factory=dict)
    long_value: dict[str, Decimal] = field(default_factory=dict)
    short_value: dict[str, Decimal] = field(default_factory=dict)
    instruments: set[str] = field(default_factory=set)
    unmapped: set[str] = field(default_factory=set)
    unpriced: set[str] = field(default_factory=set)
    net_in: Decimal = ZERO
    gross_in: Decimal = ZERO
    unconverted: set[str] = field(default_factory=set)


def _add_to(amounts: dict[str, Decimal], currency: str, value: Decimal) -> None:
    amounts[currency] = WIDE.add(amounts.get(currency, ZERO), value)


def exposure(
    holdings: Iterable[Holding],
    working: Iterable[Working],
    definitions: Mapping[tuple[str, str], Definition],
    prices: Prices,
    by: Iterable[str] = ("account", "underlying"),
    currency: str | None = None,
    rates: Rates | None = None,
) -> list[ExposureFigures]:
    """Exposure per group ``by`` and underlying, sorted by group then underlying (module
    docstring). ``definitions``: (venue, instrument) → the definition in force. With
    ``currency``, the positions' values in it too, at ``rates``."""
    grouping = check_grouping(by)
    groups: dict[tuple[str | None, str | None, str], _Group] = {}

    def leg(account: str, venue: str, instrument: str) -> tuple[_Group, Definition | None, str]:
        definition = definitions.get((venue, instrument))
        mapped = underlying_of(instrument, definition)
        key = (
            account if "account" in grouping else None,
            venue if "venue" in grouping else None,
            mapped.name,
        )
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(key)
        name = f"{venue}:{instrument}"
        group.instruments.add(name)
        if mapped.source == "instrument":
            group.unmapped.add(name)
        return group, definition, name

    def underlying_price(venue: str, instrument: str, definition: Definition | None) -> Decimal | None:
        if definition is not None and definition.kind == "option":
            return prices(venue, underlying_of(instrument, definition).name)
        return prices(venue, instrument)

    for held in holdings:
        if not held.quantity:
            continue  # a flat position is exposure to nothing
        group, definition, name = leg(held.account, held.venue, held.instrument)
        price = underlying_price(held.venue, held.instrument, definition)
        mark = prices(held.venue, held.instrument)
        units = units_of(held.quantity, definition, mark)
        value = value_of(units, price)
        if units is not None:
            group.net_units = WIDE.add(group.net_units, units)
            if definition is not None and definition.kind == "option":
                group.option_units = WIDE.add(group.option_units, units)
        if value is None:
            group.unpriced.add(name)
        else:
            held_in = _currency(definition, held.quote_currency)
            _add_to(group.net_value, held_in, value)
            _add_to(group.gross_value, held_in, abs(value))
            if currency is not None:
                rate = ONE if held_in == currency else rates(held.venue, held_in) if rates else None
                if rate is None:
                    group.unconverted.add(f"{held.venue}:{held_in}")
                else:
                    group.net_in = WIDE.add(group.net_in, WIDE.multiply(value, rate))
                    group.gross_in = WIDE.add(group.gross_in, WIDE.multiply(abs(value), rate))
    room: dict[tuple[str | None, str | None, str], Decimal] = {}
    """Per group, what its reduce-only orders may still take off its net units."""
    for order in once_per_link(list(working), _link, _side, _size):
        if not order.quantity:
            continue
        group, definition, name = leg(order.account, order.venue, order.instrument)
        at = worst_price(order.price, order.trigger_price, prices(order.venue, order.instrument))
        signed = order.quantity if order.side is Side.BUY else WIDE.minus(order.quantity)
        units = units_of(signed, definition, at)
        if units is None:
            group.unpriced.add(name)
            continue
        if order.reduce_only:
            units = _reducing(units, group, room)
            if not units:
                continue  # a reduce-only order that cannot reduce grows nothing
        is_option = definition is not None and definition.kind == "option"
        value = value_of(
            units, underlying_price(order.venue, order.instrument, definition) if is_option else at
        )
        if units > 0:
            group.open_long_units = WIDE.add(group.open_long_units, units)
        elif units < 0:
            group.open_short_units = WIDE.add(group.open_short_units, units)
        if value is None:
            group.unpriced.add(name)
        else:
            side_values = group.long_value if units > 0 else group.short_value
            _add_to(side_values, _currency(definition, order.quote_currency), value)
    return [_finished(groups[key], currency) for key in sorted(groups, key=_sort_key)]


def _link(order: Working) -> str | None:
    return order.link


def _side(order: Working) -> Side:
    return order.side


def _size(order: Working) -> Decimal:
    return order.quantity


def _reducing(
    units: Decimal, group: _Group, room: dict[tuple[str | None, str | None, str], Decimal]
) -> Decimal:
    """What of a reduce-only order's ``units`` counts: none on the side that grows the group's net
    units (or when it is flat), else at most what the group's reduce-only orders of that side
    have not yet taken off it."""
    if not group.net_units or (units > 0) == (group.net_units > 0):
        return ZERO
    left = room.setdefault(group.key, abs(group.net_units))
    taken = min(abs(units), left)
    room[group.key] = WIDE.subtract(left, taken)
    return taken if units > 0 else WIDE.minus(taken)


def _currency(definition: Definition | None, quote_currency: str | None) -> str:
    """What a leg's value is in: its definition's quote currency, else its fills' or order's."""
    named = definition.quote_currency if definition is not None else None
    return named or quote_currency or UNKNOWN_CURRENCY


def _sort_key(key: tuple[str | None, str | None, str]) -> tuple[str, str, str]:
    return (key[0] or "", key[1] or "", key[2])


def _finished(group: _Group, in_currency: str | None) -> ExposureFigures:
    long_value, short_value = dict(group.net_value), dict(group.net_value)
    for side, added in ((long_value, group.long_value), (short_value, group.short_value)):
        for currency, value in added.items():
            _add_to(side, currency, value)
    return ExposureFigures(
        *group.key,
        net_units=_plain(group.net_units),
        net_value=_amounts(group.net_value),
        gross_value=_amounts(group.gross_value),
        option_units=_plain(group.option_units),
        open_long_units=_plain(group.open_long_units),
        open_short_units=_plain(group.open_short_units),
        worst_long_units=_plain(WIDE.add(group.net_units, group.open_long_units)),
        worst_short_units=_plain(WIDE.add(group.net_units, group.open_short_units)),
        worst_long_value=_amounts(long_value),
        worst_short_value=_amounts(short_value),
        instruments=tuple(sorted(group.instruments)),
        unmapped=tuple(sorted(group.unmapped)),
        unpriced=tuple(sorted(group.unpriced)),
        in_currency=in_currency,
        net_in=None if in_currency is None or group.unconverted else _plain(group.net_in),
        gross_in=None if in_currency is None or group.unconverted else _plain(group.gross_in),
        unconverted=tuple(sorted(group.unconverted)),
    )


def _plain(value: Decimal) -> Decimal:
    """A figure without the trailing zeros its products carry (62000.00000 is 62000)."""
    return value.normalize(WIDE) if value else ZERO


def _amounts(values: Mapping[str, Decimal]) -> dict[str, Decimal]:
    return {currency: _plain(values[currency]) for currency in sorted(values)}


__all__ = [
    "GROUPINGS",
    "ExposureFigures",
    "Holding",
    "Rates",
    "Underlying",
    "Working",
    "check_grouping",
    "exposure",
    "grouping",
    "link_of",
    "once_per_link",
    "one_currency",
    "underlying_of",
    "units_of",
    "value_of",
    "worst_price",
]
