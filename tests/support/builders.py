"""Builders for domain tests: specs, stamps and orders given prior facts, with sensible defaults.

A test reads "given these facts, when this command, then these events (or this typed error)"::

    order = given(accepted(), filled("T-1", 4))
    outcome = order.cancel(stamp(), reason="user")
    event = only_event(outcome, OrderCanceled)

``given`` leaves every event pending on the order, so ``rebuilt(order)`` can replay the whole
history and compare it with the live state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import pytest

from orderledger.domain.construction import construct
from orderledger.domain.decisions import Decision, Stamp
from orderledger.domain.errors import LedgerError
from orderledger.domain.events import OrderEvent, OrderHeld, OrderSpec
from orderledger.domain.folds import replay
from orderledger.domain.order import Order
from orderledger.domain.order_terms import TERM_NAMES, stated_terms
from orderledger.domain.outcomes import Outcome
from orderledger.domain.values import Liquidity, OrderType, Side, Status

Number = Decimal | int | str
Step = Callable[[Order, Stamp], Decision]
"""A prior fact: one command applied to the order under test."""

E = TypeVar("E", bound=OrderEvent)

T0 = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
"""Venue time of the first fact in every test."""

OPEN_STATUSES = [
    Status.REQUESTED,
    Status.HELD,
    Status.ACCEPTED,
    Status.PARTIALLY_FILLED,
    Status.PENDING_CANCEL,
    Status.PENDING_AMEND,
]
"""The open statuses, as docs/semantics.md lists them (the transition table's tests use them)."""
TERMINAL_STATUSES = [Status.FILLED, Status.CANCELED, Status.REJECTED, Status.EXPIRED]
ENDED_NOT_FILLED = [Status.CANCELED, Status.REJECTED, Status.EXPIRED]
"""The terminal statuses a late fill is flagged in."""

CLIENT_ORDER_ID = "O-1"
QUANTITY = Decimal(10)
PRICE = Decimal(100)


def dec(value: Number) -> Decimal:
    """An exact Decimal from an int, a decimal string or a Decimal."""
    return value if isinstance(value, Decimal) else Decimal(value)


def stamp(seconds: int = 0, source: str = "test") -> Stamp:
    """Venue time ``T0 + seconds``, recorded one millisecond later."""
    ts_event = T0 + timedelta(seconds=seconds)
    return Stamp(ts_event, ts_event + timedelta(milliseconds=1), source)


def spec(**overrides: Any) -> OrderSpec:
    """A limit buy of 10 BTC-USD at 100 on venue SIM, with any field overridden.

    Built as ingest builds it, without validating again (``construct``): so a value the message
    rules would refuse (a NaN quantity) reaches the aggregate, whose own check is under test."""
    fields: dict[str, Any] = {
        "client_order_id": CLIENT_ORDER_ID,
        "account": "ACC-1",
        "venue": "SIM",
        "instrument": "BTC-USD",
        "side": Side.BUY,
        "order_type": OrderType.LIMIT,
        "quantity": QUANTITY,
        "price": PRICE,
    }
    fields.update(overrides)
    if not TERM_NAMES.isdisjoint(fields):  # stated side by side, as a message states them: held as one value
        fields["terms"] = stated_terms({name: fields.pop(name) for name in TERM_NAMES & fields.keys()})
    return construct(OrderSpec, fields)


# ----------------------------------------------------------------------------- prior facts


def accepted(venue_order_id: str | None = "V-1", aliases: Mapping[str, str] | None = None) -> Step:
    """The venue acknowledged the order."""
    return lambda order, at: order.accept(at, venue_order_id=venue_order_id, aliases=aliases)


def held(venue_order_id: str | None = "V-1") -> Step:
    """A broker acknowledged the order and holds it; the exchange has not accepted it."""
    return lambda order, at: order.accept(at, venue_order_id=venue_order_id, fact=OrderHeld)


def rejected(reason: str = "insufficient margin") -> Step:
    """The venue refused the order."""
    return lambda order, at: order.reject(at, reason)


def filled(
    trade_id: str,
    qty: Number,
    px: Number = PRICE,
    fee: Number | None = None,
    fee_currency: str | None = None,
    liquidity: Liquidity | None = None,
) -> Step:
    """One execution of ``qty`` at ``px``."""
    fee_value = None if fee is None else dec(fee)
    return lambda order, at: order.fill(at, trade_id, dec(qty), dec(px), fee_value, fee_currency, liquidity)


def cancel_requested() -> Step:
    """We asked the venue to cancel."""
    return lambda order, at: order.request_cancel(at)


def canceled(reason: str = "user") -> Step:
    """The venue canceled the order."""
    return lambda order, at: order.cancel(at, reason)


def cancel_rejected(reason: str = "too late to cancel") -> Step:
    """The venue refused our cancel."""
    return lambda order, at: order.reject_cancel(at, reason)


def amend_requested(quantity: Number | None = None, price: Number | None = None) -> Step:
    """We asked the venue for a new total quantity and/or price."""
    qty = None if quantity is None else dec(quantity)
    px = None if price is None else dec(price)
    return lambda order, at: order.request_amend(at, quantity=qty, price=px)


def amended(
    quantity: Number | None = None, price: Number | None = None, venue_order_id: str | None = None
) -> Step:
    """The venue applied an amendment."""
    qty = None if quantity is None else dec(quantity)
    px = None if price is None else dec(price)
    return lambda order, at: order.amend(at, quantity=qty, price=px, venue_order_id=venue_order_id)


def amend_rejected(reason: str = "price out of band") -> Step:
    """The venue refused our amendment."""
    return lambda order, at: order.reject_amend(at, reason)


def expired(reason: str = "time in force") -> Step:
    """The order's time in force ran out."""
    return lambda order, at: order.expire(at, reason)


def busted(trade_id: str, reason: str = "erroneous trade") -> Step:
    """The venue reversed a trade."""
    return lambda order, at: order.bust_fill(at, trade_id, reason)


def corrected(
    trade_id: str,
    qty: Number | None = None,
    px: Number | None = None,
    fee: Number | None = None,
    reason: str = "price correction",
) -> Step:
    """The venue corrected a trade."""
    new_qty = None if qty is None else dec(qty)
    new_px = None if px is None else dec(px)
    new_fee = None if fee is None else dec(fee)
    return lambda order, at: order.correct_fill(at, trade_id, new_qty, new_px, new_fee, reason)


# ----------------------------------------------------------------------------- orders


def given(*steps: Step, **spec_overrides: Any) -> Order:
    """An order requested with ``spec(**spec_overrides)`` after which each step was applied.

    Every step must apply (a setup that silently does nothing would hide a broken test).
    Each step's venue time is one second after the previous one. Events stay pending.
    """
    order, _ = Order.request(spec(**spec_overrides), stamp(0))
    for index, step in enumerate(steps, start=1):
        outcome = step(order, stamp(index))
        if outcome.kind is not Outcome.APPLIED:
            raise AssertionError(f"given step {index} did not apply: {outcome}")
    return order


CANONICAL_STEPS: dict[Status, tuple[Step, ...]] = {
    Status.REQUESTED: (),
    Status.HELD: (held(),),
    Status.ACCEPTED: (accepted(),),
    Status.PARTIALLY_FILLED: (accepted(), filled("T-1", 4)),
    Status.FILLED: (accepted(), filled("T-1", 4), filled("T-2", 6)),
    Status.PENDING_CANCEL: (accepted(), cancel_requested()),
    Status.PENDING_AMEND: (accepted(), amend_requested(price=99)),
    Status.CANCELED: (accepted(), canceled()),
    Status.REJECTED: (rejected(),),
    Status.EXPIRED: (accepted(), expired()),
}
"""The plainest history that leaves an order in each status (pending markers over accepted)."""


def order_in(status: Status) -> Order:
    """An order in ``status`` reached by its canonical history."""
    order = given(*CANONICAL_STEPS[status])
    assert order.status is status, f"builder for {status} produced {order.status}"
    return order


def history(order: Order) -> list[OrderEvent]:
    """Every event the order has recorded and not yet handed over."""
    return order.pending_events


def rebuilt(order: Order) -> Order:
    """The order rebuilt from its recorded events."""
    rebuilt_order = replay(history(order))
    assert rebuilt_order is not None
    return rebuilt_order


# ----------------------------------------------------------------------------- assertions


def only_event(outcome: Decision, event_type: type[E]) -> E:
    """The single event of an applied outcome, checked to be an ``event_type``."""
    assert outcome.kind is Outcome.APPLIED, outcome
    assert len(outcome.events) == 1, outcome.events
    event = outcome.events[0]
    assert isinstance(event, event_type), f"expected {event_type.__name__}, got {event!r}"
    return event


def without_event(order: Order, kind: Outcome, command: Callable[[Order], Decision]) -> Decision:
    """Run ``command``, expect a ``kind`` outcome (duplicate or ignored) that changed nothing."""
    before_events = history(order)
    before_state = order.snapshot()
    outcome = command(order)
    assert outcome.kind is kind, outcome
    assert outcome.events == ()
    assert outcome.reason, "an outcome without events must say why"
    assert history(order) == before_events, "a duplicate or ignored fact appended an event"
    assert order.snapshot() == before_state, "a duplicate or ignored fact changed the order"
    return outcome


def refused(order: Order, error: type[LedgerError], command: Callable[[Order], object]) -> LedgerError:
    """Run ``command``, expect ``error``, and check that nothing was appended or changed."""
    before_events = history(order)
    before_state = order.snapshot()
    with pytest.raises(error) as caught:
        command(order)
    assert history(order) == before_events, "a refused command appended an event"
    assert order.snapshot() == before_state, "a refused command changed the order"
    return caught.value
