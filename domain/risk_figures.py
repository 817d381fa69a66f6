"""The figures a limit bounds, worked out from a state given to them (docs/risk.md, "Pre-trade
check"): pure, so that the check (which reads the state from the views) and the replay of limits
over the log (which folds it from the events) work out the same figures by the same rules.

An order is seen at its worst case (``Worst``: filled in full at its limit price, a market order
at the mark). ``held_in`` works out what a scope would hold at worst once the order and the
scope's open orders fill (``Held``), from its positions (``HeldPosition``) and open orders
(``OpenOrder``); ``underlying_held`` does so for an underlying, from its exposure without and
with the order (``domain.exposure``). ``FIGURES`` gives, per kind of limit, the figure after the
order, asking a ``FigureSource`` for what depends on the state: what is held, the day's loss and
drawdown, the orders requested in a window. ``domain.risk.judge`` then says whether the figure
is past the limit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from orderledger.domain.exposure import ExposureFigures, link_of, once_per_link, underlying_of, worst_price
from orderledger.domain.instrument import Definition, Terms
from orderledger.domain.risk import UNWOUND_BY, Breach, Limit, PositionBook, judge
from orderledger.domain.values import WIDE, Side

ZERO = Decimal(0)
NO_PRICE = "no price to value the order: no limit price and no mark"


@dataclass(frozen=True)
class Worst:
    """An order as the check sees it: filled in full at ``price``."""

    account: str
    venue: str
    instrument: str
    delta: Decimal
    """The signed quantity the order adds (a buy +, a sell −)."""
    price: Decimal | None
    """The limit price, or the latest mark for a market order; None when neither is known."""
    terms: Terms
    underlying: str | None
    tags: dict[str, str]
    now: datetime
    quote_currency: str | None = None
    reduce_only: bool = False
    """The order may only shrink the position (``reduce_only``): it never counts as growing it."""

    @property
    def notional(self) -> Decimal | None:
        return None if self.price is None else self.terms.value(abs(self.delta), self.price)


def worst_of(
    account: str,
    venue: str,
    instrument: str,
    side: Side,
    quantity: Decimal,
    price: Decimal | None,
    definition: Definition | None,
    tags: dict[str, str],
    now: datetime,
    quote_currency: str | None = None,
    reduce_only: bool = False,
) -> Worst:
    """An order's worst case at ``price`` (its limit price, else the latest mark), valued by its
    instrument's definition (contract size and settlement; one unit, linear, without one) and
    mapped to its underlying as exposure maps it (``domain.exposure.underlying_of``)."""
    terms = Terms() if definition is None else Terms(definition.contract_size, definition.settlement)
    delta = quantity if side is Side.BUY else -quantity
    underlying = underlying_of(instrument, definition).name
    return Worst(
        account,
        venue,
        instrument,
        delta,
        price,
        terms,
        underlying,
        dict(tags),
        now,
        quote_currency,
        reduce_only,
    )


@dataclass(frozen=True)
class Held:
    """What a scope would hold at worst once the order and its open orders fill: the largest
    absolute net quantity of the order's instrument, and the gross notional (None: unknown)."""

    position: Decimal
    gross: Decimal | None
    why_unknown: str = ""
    position_before: Decimal = ZERO
    """The same worst case without this order."""
    gross_before: Decimal | None = None
    """The gross notional without this order (None: unknown)."""
    reduces: bool = False
    """Whether the order reduces the scope's position (``domain.risk.PositionBook.reduces``)."""


class HeldPosition(Protocol):
    """A position as a limit sees it: where it is held, its net quantity, and its notional at its
    latest mark (at cost without one) in its P&L currency."""

    @property
    def account(self) -> str: ...
    @property
    def venue(self) -> str: ...
    @property
    def instrument(self) -> str: ...
    @property
    def quantity(self) -> Decimal: ...
    @property
    def notional(self) -> Decimal: ...
    @property
    def pnl_currency(self) -> str | None: ...


class OpenOrder(Protocol):
    """An open order as a limit sees it: where, what is left of it, at its limit price (None:
    market) or trigger price (a conditional order), whether it only reduces, and the OCO set it
    belongs to (``domain.exposure.link_of``)."""

    @property
    def account(self) -> str: ...
    @property
    def venue(self) -> str: ...
    @property
    def instrument(self) -> str: ...
    @property
    def side(self) -> Side: ...
    @property
    def leaves_quantity(self) -> Decimal: ...
    @property
    def price(self) -> Decimal | None: ...
    @property
    def trigger_price(self) -> Decimal | None: ...
    @property
    def reduce_only(self) -> bool | None: ...
    @property
    def client_order_id(self) -> str: ...
    @property
    def group_id(self) -> str | None: ...
    @property
    def contingency(self) -> str | None: ...
    @property
    def linked_ids(self) -> Sequence[str] | None: ...


def counted_orders(working: Iterable[OpenOrder]) -> list[OpenOrder]:
    """The open orders a worst case counts: the legs of each OCO set on one side once, the
    largest (``domain.exposure.once_per_link``)."""
    return once_per_link(list(working), _link, _side, _leaves)


def _link(order: OpenOrder) -> str | None:
    return link_of(order.client_order_id, order.group_id, order.contingency, order.linked_ids)


def _side(order: OpenOrder) -> Side:
    return order.side


def _leaves(order: OpenOrder) -> Decimal:
    return order.leaves_quantity


def position_book(
    rows: Iterable[HeldPosition], working: Iterable[OpenOrder], instrument: str
) -> PositionBook:
    """The net position of ``instrument`` among ``rows`` and the leaves of its open orders on
    each side among ``working`` (``counted_orders``). A reduce-only order counts only on the side
    that reduces the position, the reduce-only orders of that side at most the position."""
    rows = list(rows)
    mine = [o for o in counted_orders(working) if o.instrument == instrument]
    position = sum((r.quantity for r in rows if r.instrument == instrument), start=ZERO)
    sides = {
        side: (
            sum((o.leaves_quantity for o in mine if o.side is side and not o.reduce_only), ZERO),
            sum((o.leaves_quantity for o in mine if o.side is side and o.reduce_only), ZERO),
        )
        for side in Side
    }
    buys = sides[Side.BUY][0] + (min(sides[Side.BUY][1], -position) if position < 0 else ZERO)
    sells = sides[Side.SELL][0] + (min(sides[Side.SELL][1], position) if position > 0 else ZERO)
    return PositionBook(position, buys, sells)


def held_in(rows: Iterable[HeldPosition], working: Iterable[OpenOrder], order: Worst) -> Held:
    """What an instrument's or an account's positions (``rows``) and open orders (``working``)
    would hold at worst with ``order``: the net quantity of the order's instrument with every
    open buy filled, or every open sell, this order on its side. Gross exposure is figured per
    side: each position (account, venue, instrument) is valued at its latest mark (at cost
    without one), signed; its open buys' leaves at their limit prices are added to it and its
    sells' taken from it, this order's on its side; the position counts for the larger of the
    two in absolute value, and the gross is their sum over positions. So an order that takes a
    position towards flat makes the gross no larger."""
    rows, working = list(rows), counted_orders(working)
    mine = order.instrument
    book = position_book(rows, working, mine)
    net = book.position
    longest = net + book.open_buys + max(order.delta, ZERO)
    shortest = net - book.open_sells + min(order.delta, ZERO)
    position = max(abs(longest), abs(shortest))
    before = max(abs(net + book.open_buys), abs(net - book.open_sells))
    reduces = book.reduces(order.delta)
    if order.notional is None:
        return Held(position, None, NO_PRICE, before, reduces=reduces)
    currencies = {r.pnl_currency for r in rows}
    if len(currencies) > 1:
        shown = ", ".join(sorted(map(str, currencies)))
        return Held(position, None, f"positions in several currencies ({shown})", before, reduces=reduces)
    if any(worst_price(o.price, o.trigger_price, None) is None for o in working):
        why = "an open market order has no price to value it at"
        return Held(position, None, why, before, reduces=reduces)
    legs: dict[tuple[str, str, str], list[Decimal]] = {}
    """(account, venue, instrument) → [the position's signed value, open buys', open sells']."""

    def leg(account: str, venue: str, instrument: str) -> list[Decimal]:
        return legs.setdefault((account, venue, instrument), [ZERO, ZERO, ZERO])

    for r in rows:
        leg(r.account, r.venue, r.instrument)[0] += -r.notional if r.quantity < 0 else r.notional
    for o in working:
        held = leg(o.account, o.venue, o.instrument)[0]
        if o.reduce_only and (not held or (held > 0) == (o.side is Side.BUY)):
            continue  # a reduce-only order that would grow its position counts nothing
        at = worst_price(o.price, o.trigger_price, None)
        assert at is not None
        value = order.terms.value(o.leaves_quantity, at) if o.instrument == mine else o.leaves_quantity * at
        leg(o.account, o.venue, o.instrument)[1 if o.side is Side.BUY else 2] += value
    gross_before = _per_side(legs.values())
    leg(order.account, order.venue, mine)[1 if order.delta > 0 else 2] += order.notional
    return Held(position, _per_side(legs.values()), "", before, gross_before, reduces)


def _per_side(legs: Iterable[list[Decimal]]) -> Decimal:
    """The gross of positions valued [signed, open buys, open sells]: each counts for the larger
    of its value with every buy filled and with every sell filled."""
    return sum((max(abs(value + buys), abs(value - sells)) for value, buys, sells in legs), ZERO)


def underlying_held(before: ExposureFigures | None, after: ExposureFigures | None) -> Held:
    """An underlying's worst case from its exposure netted across accounts and venues, without
    (``before``) and with the order added as an open order (``after``): the position is the
    larger of the worst long and worst short units; the gross exposure the larger of the two
    worst values, in the one currency they are in. The order reduces when, in units of the
    underlying, it takes the net towards flat with the open orders on its side filled."""
    if after is None:
        return Held(ZERO, ZERO, "", ZERO, ZERO)
    position = max(abs(after.worst_long_units), abs(after.worst_short_units))
    was = ZERO if before is None else max(abs(before.worst_long_units), abs(before.worst_short_units))
    reduces = False
    if before is not None:
        # The order's units (none when it cannot be priced: an inverse contract without a price).
        units = WIDE.add(
            WIDE.subtract(after.open_long_units, before.open_long_units),
            WIDE.subtract(after.open_short_units, before.open_short_units),
        )
        reduces = PositionBook(before.net_units, before.open_long_units, -before.open_short_units).reduces(
            units
        )
    gross, why = _underlying_gross(after)
    gross_before = ZERO if before is None else _underlying_gross(before)[0]
    return Held(position, gross, why, was, gross_before, reduces)


def _underlying_gross(row: ExposureFigures) -> tuple[Decimal | None, str]:
    """The larger of an exposure's two worst values, or why it cannot be worked out."""
    if row.unpriced:
        return None, f"no price to value {', '.join(row.unpriced)}"
    currencies = sorted({*row.worst_long_value, *row.worst_short_value})
    if len(currencies) > 1:
        return None, f"values in several currencies ({', '.join(currencies)})"
    values = [*row.worst_long_value.values(), *row.worst_short_value.values()]
    return max(map(abs, values), default=ZERO), ""


def day_loss(realized_net: Decimal | None, unrealized: Decimal | None) -> tuple[Decimal | None, str]:
    """A day's loss as a positive number, from its realized P&L net of fees and cash flows and
    its unrealized P&L at the day's last marks (None: not known in full)."""
    if realized_net is None or unrealized is None:
        return None, "the day's P&L is not known in full (an unvalued fee or a position without a mark)"
    return max(ZERO, -(realized_net + unrealized)), ""


def window_start(limit: Limit, now: datetime) -> datetime:
    """The first instant a ``max_orders`` limit counts at ``now``: ``interval`` seconds back,
    that instant itself left out."""
    assert limit.interval is not None
    return now - timedelta(seconds=limit.interval) + timedelta(microseconds=1)


class FigureSource(Protocol):
    """What the figures read of the state at the moment of an order."""

    def held(self, limit: Limit, order: Worst) -> Held:
        """What the limit's scope would hold at worst with the order (``held_in``,
        ``underlying_held``)."""
        ...

    def day_loss(self, limit: Limit, order: Worst) -> tuple[Decimal | None, str]:
        """The loss of the limit's account's UTC day so far (``day_loss``)."""
        ...

    def drawdown(self, limit: Limit, order: Worst) -> tuple[Decimal | None, str]:
        """The fall of the account's P&L that day from its high."""
        ...

    def orders_within(self, limit: Limit, order: Worst, since: datetime) -> int:
        """The orders of the limit's scope requested from ``since`` to the order's time."""
        ...


Figure = tuple[Decimal | None, str, Decimal | None]
"""A figure after the order (None: why it cannot be worked out), and the figure without the order
for what an order can shrink (None for what it cannot: a day's loss, a count, its own notional)."""


def _position(source: FigureSource, limit: Limit, order: Worst) -> Figure:
    found = source.held(limit, order)
    return found.position, "", found.position_before


def _gross(source: FigureSource, limit: Limit, order: Worst) -> Figure:
    found = source.held(limit, order)
    return found.gross, found.why_unknown, found.gross_before


def _order_notional(source: FigureSource, limit: Limit, order: Worst) -> Figure:
    return order.notional, NO_PRICE, None


def _daily_loss(source: FigureSource, limit: Limit, order: Worst) -> Figure:
    figure, why = source.day_loss(limit, order)
    return figure, why, None


def _drawdown(source: FigureSource, limit: Limit, order: Worst) -> Figure:
    figure, why = source.drawdown(limit, order)
    return figure, why, None


def _orders(source: FigureSource, limit: Limit, order: Worst) -> Figure:
    """The orders of the scope requested within the last ``interval`` seconds, this one too."""
    return Decimal(source.orders_within(limit, order, window_start(limit, order.now)) + 1), "", None


FIGURES: dict[str, Callable[[FigureSource, Limit, Worst], Figure]] = {
    "max_position": _position,
    "max_gross_exposure": _gross,
    "max_order_notional": _order_notional,
    "max_daily_loss": _daily_loss,
    "max_drawdown": _drawdown,
    "max_orders": _orders,
}
"""The figure each kind of limit bounds (``domain.risk.LIMIT_KINDS`` describes them)."""


def reduces(source: FigureSource, limit: Limit, order: Worst) -> bool:
    """Whether the order reduces the position a limit of ``UNWOUND_BY`` judges it on (such a
    limit never denies it): for an instrument, its net summed over accounts and venues; for an
    underlying, its net units; for an account (its position and gross exposure, its day's loss
    and drawdown), its position in the order's instrument over its venues. The open orders of
    the scope on the order's side count as filled (``domain.risk.PositionBook``)."""
    return limit.kind in UNWOUND_BY and (order.reduce_only or source.held(limit, order).reduces)


def limit_breaches(limits: Iterable[Limit], source: FigureSource, order: Worst) -> list[Breach]:
    """Each limit of ``limits`` that bears on ``order`` and that its worst case would breach, by
    the figure of the limit's kind (``FIGURES``) read from ``source``: the one judgement the
    pre-trade check (from the views) and the replay of limits (from the log) both make."""
    found = []
    for limit in limits:
        if not limit.applies(order.account, order.instrument, order.underlying, order.tags):
            continue
        figure, why, before = FIGURES[limit.kind](source, limit, order)
        breach = judge(limit, figure, why, before, reduces(source, limit, order))
        if breach is not None:
            found.append(breach)
    return found


__all__ = [
    "FIGURES",
    "Figure",
    "FigureSource",
    "Held",
    "HeldPosition",
    "OpenOrder",
    "Worst",
    "day_loss",
    "held_in",
    "limit_breaches",
    "position_book",
    "reduces",
    "underlying_held",
    "window_start",
    "worst_of",
]
