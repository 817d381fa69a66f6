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

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from orderledger.domain.exposure import ExposureFigures, underlying_of
from orderledger.domain.instrument import Definition, Terms
from orderledger.domain.risk import Limit
from orderledger.domain.values import Side

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
) -> Worst:
    """An order's worst case at ``price`` (its limit price, else the latest mark), valued by its
    instrument's definition (contract size and settlement; one unit, linear, without one) and
    mapped to its underlying as exposure maps it (``domain.exposure.underlying_of``)."""
    terms = Terms() if definition is None else Terms(definition.contract_size, definition.settlement)
    delta = quantity if side is Side.BUY else -quantity
    underlying = underlying_of(instrument, definition).name
    return Worst(account, venue, instrument, delta, price, terms, underlying, dict(tags), now, quote_currency)


@dataclass(frozen=True)
class Held:
    """What a scope would hold at worst once the order and its open orders fill: the largest
    absolute net quantity of the order's instrument, and the gross notional (None: unknown)."""

    position: Decimal
    gross: Decimal | None
    why_unknown: str = ""
    position_before: Decimal = ZERO
    """The same worst case without this order."""


class HeldPosition(Protocol):
    """A position as a limit sees it: its net quantity, and its notional at its latest mark (at
    cost without one) in its P&L currency."""

    @property
    def instrument(self) -> str: ...
    @property
    def quantity(self) -> Decimal: ...
    @property
    def notional(self) -> Decimal: ...
    @property
    def pnl_currency(self) -> str | None: ...


class OpenOrder(Protocol):
    """An open order as a limit sees it: what is left of it, at its limit price (None: market)."""

    @property
    def instrument(self) -> str: ...
    @property
    def side(self) -> Side: ...
    @property
    def leaves_quantity(self) -> Decimal: ...
    @property
    def price(self) -> Decimal | None: ...


def held_in(rows: Iterable[HeldPosition], working: Iterable[OpenOrder], order: Worst) -> Held:
    """What an instrument's or an account's positions (``rows``) and open orders (``working``)
    would hold at worst with ``order``: the net quantity of the order's instrument with every
    open buy filled, or every open sell, this order on its side; the gross exposure adds each
    position's notional, each open order's leaves at its limit price, and this order's."""
    rows, working = list(rows), list(working)
    mine = order.instrument
    net = sum((r.quantity for r in rows if r.instrument == mine), start=ZERO)
    buys = sum((o.leaves_quantity for o in working if o.instrument == mine and o.side is Side.BUY), ZERO)
    sells = sum((o.leaves_quantity for o in working if o.instrument == mine and o.side is Side.SELL), ZERO)
    longest = net + buys + max(order.delta, ZERO)
    shortest = net - sells + min(order.delta, ZERO)
    position = max(abs(longest), abs(shortest))
    before = max(abs(net + buys), abs(net - sells))
    if order.notional is None:
        return Held(position, None, NO_PRICE, before)
    currencies = {r.pnl_currency for r in rows}
    if len(currencies) > 1:
        shown = ", ".join(sorted(map(str, currencies)))
        return Held(position, None, f"positions in several currencies ({shown})", before)
    if any(o.price is None for o in working):
        return Held(position, None, "an open market order has no price to value it at", before)
    gross = sum((r.notional for r in rows), start=order.notional)
    gross += sum(
        (
            order.terms.value(o.leaves_quantity, o.price)
            for o in working
            if o.instrument == mine and o.price is not None
        ),
        ZERO,
    )
    others = [o for o in working if o.instrument != mine]
    gross += sum((o.leaves_quantity * (o.price or ZERO) for o in others), ZERO)
    return Held(position, gross, "", before)


def underlying_held(before: ExposureFigures | None, after: ExposureFigures | None) -> Held:
    """An underlying's worst case from its exposure netted across accounts and venues, without
    (``before``) and with the order added as an open order (``after``): the position is the
    larger of the worst long and worst short units; the gross exposure the larger of the two
    worst values, in the one currency they are in."""
    if after is None:
        return Held(ZERO, ZERO, "", ZERO)
    position = max(abs(after.worst_long_units), abs(after.worst_short_units))
    was = ZERO if before is None else max(abs(before.worst_long_units), abs(before.worst_short_units))
    if after.unpriced:
        return Held(position, None, f"no price to value {', '.join(after.unpriced)}", was)
    currencies = sorted({*after.worst_long_value, *after.worst_short_value})
    if len(currencies) > 1:
        return Held(position, None, f"values in several currencies ({', '.join(currencies)})", was)
    values = [*after.worst_long_value.values(), *after.worst_short_value.values()]
    return Held(position, max(map(abs, values), default=ZERO), "", was)


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
    return found.gross, found.why_unknown, None


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
    "underlying_held",
    "window_start",
    "worst_of",
]
