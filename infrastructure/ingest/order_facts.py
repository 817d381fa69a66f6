"""The command each fact about an order gives that order: one handler per message model.

A handler reads its message's fields and calls the order's command; what it decides is recorded
by ``processing``. ``check`` refuses a venue identity another order holds before it is claimed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Protocol

from orderledger.domain.construction import construct
from orderledger.domain.decisions import Decision, Stamp
from orderledger.domain.events import (
    FillBusted,
    FillCorrected,
    OrderAccepted,
    OrderAmended,
    OrderAmendRejected,
    OrderAmendRequested,
    OrderCanceled,
    OrderCancelRejected,
    OrderCancelRequested,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderHeld,
    OrderReinstated,
    OrderRejected,
    OrderSpec,
    OrderTriggered,
)
from orderledger.domain.identity import IdentityKey
from orderledger.domain.order import SPEC_FIELDS, Order
from orderledger.domain.order_terms import TERM_NAMES, stated_terms
from orderledger.infrastructure.messages.models import (
    AcceptedMessage,
    AmendedMessage,
    AmendRejectedMessage,
    AmendRequestedMessage,
    CanceledMessage,
    CancelRejectedMessage,
    CancelRequestedMessage,
    ExpiredMessage,
    FillBustedMessage,
    FillCorrectedMessage,
    FillMessage,
    HeldMessage,
    Message,
    ReinstatedMessage,
    RejectedMessage,
    RequestMessage,
    TriggeredMessage,
)

_OWN_FIELDS = tuple(name for name in SPEC_FIELDS if name != "terms")
_own_values = attrgetter(*_OWN_FIELDS)


def request_spec(message: RequestMessage) -> OrderSpec:
    """The order a request describes (the same fields, less the message header, its terms
    gathered into ``terms``), built without validating again what the message's validation
    checked."""
    spec = dict(zip(_OWN_FIELDS, _own_values(message), strict=True))
    if not TERM_NAMES.isdisjoint(message.__pydantic_fields_set__):  # most requests state no term
        spec["terms"] = stated_terms(message.__dict__)
    return construct(OrderSpec, spec)


class IdentityCheck(Protocol):
    """Refuses ``keys`` when another order than ``client_order_id`` holds one of them."""

    def __call__(self, client_order_id: str, keys: Sequence[IdentityKey], /) -> None: ...


def _accepted(
    check: IdentityCheck, order: Order, message: AcceptedMessage | HeldMessage, stamp: Stamp
) -> Decision:
    voi = message.venue_order_id
    new_keys = [IdentityKey.alias(order.venue, n, v) for n, v in message.aliases.items()]
    if voi:
        new_keys.append(IdentityKey.venue_order(order.venue, voi))
    check(order.client_order_id, new_keys)
    fact = OrderHeld if type(message) is HeldMessage else OrderAccepted
    return order.accept(stamp, voi, message.aliases, fact)


def _rejected(check: IdentityCheck, order: Order, message: RejectedMessage, stamp: Stamp) -> Decision:
    voi = message.venue_order_id
    if voi and voi not in order.venue_order_ids:
        check(order.client_order_id, [IdentityKey.venue_order(order.venue, voi)])
    return order.reject(stamp, message.reason, voi)


def _fill(
    check: IdentityCheck, order: Order, message: FillMessage, stamp: Stamp, overfill: bool = False
) -> Decision:
    return order.fill(
        stamp,
        message.trade_id,
        message.quantity,
        message.price,
        message.fee,
        message.fee_currency,
        message.liquidity,
        message.inferred,
        message.venue_realized_pnl,
        overfill,
    )


def _cancel_requested(
    check: IdentityCheck, order: Order, message: CancelRequestedMessage, stamp: Stamp
) -> Decision:
    return order.request_cancel(stamp)


def _canceled(check: IdentityCheck, order: Order, message: CanceledMessage, stamp: Stamp) -> Decision:
    return order.cancel(stamp, message.reason, message.canceled_by)


def _reinstated(check: IdentityCheck, order: Order, message: ReinstatedMessage, stamp: Stamp) -> Decision:
    return order.reinstate(stamp, message.canceled_at, message.reason)


def _cancel_rejected(
    check: IdentityCheck, order: Order, message: CancelRejectedMessage, stamp: Stamp
) -> Decision:
    return order.reject_cancel(stamp, message.reason)


def _amend_requested(
    check: IdentityCheck, order: Order, message: AmendRequestedMessage, stamp: Stamp
) -> Decision:
    return order.request_amend(stamp, message.quantity, message.price)


def _amended(check: IdentityCheck, order: Order, message: AmendedMessage, stamp: Stamp) -> Decision:
    voi = message.venue_order_id
    if voi:
        check(order.client_order_id, [IdentityKey.venue_order(order.venue, voi)])
    return order.amend(stamp, message.quantity, message.price, voi)


def _amend_rejected(
    check: IdentityCheck, order: Order, message: AmendRejectedMessage, stamp: Stamp
) -> Decision:
    return order.reject_amend(stamp, message.reason)


def _expired(check: IdentityCheck, order: Order, message: ExpiredMessage, stamp: Stamp) -> Decision:
    return order.expire(stamp, message.reason)


def _triggered(check: IdentityCheck, order: Order, message: TriggeredMessage, stamp: Stamp) -> Decision:
    return order.trigger(stamp, message.trigger_price)


def _fill_busted(check: IdentityCheck, order: Order, message: FillBustedMessage, stamp: Stamp) -> Decision:
    return order.bust_fill(stamp, message.trade_id, message.reason)


def _fill_corrected(
    check: IdentityCheck, order: Order, message: FillCorrectedMessage, stamp: Stamp
) -> Decision:
    return order.correct_fill(
        stamp, message.trade_id, message.quantity, message.price, message.fee, message.reason
    )


ORDER_FACTS: dict[type[Message], Callable[..., Decision]] = {
    AcceptedMessage: _accepted,
    HeldMessage: _accepted,
    RejectedMessage: _rejected,
    FillMessage: _fill,
    CancelRequestedMessage: _cancel_requested,
    CanceledMessage: _canceled,
    ReinstatedMessage: _reinstated,
    CancelRejectedMessage: _cancel_rejected,
    AmendRequestedMessage: _amend_requested,
    AmendedMessage: _amended,
    AmendRejectedMessage: _amend_rejected,
    ExpiredMessage: _expired,
    TriggeredMessage: _triggered,
    FillBustedMessage: _fill_busted,
    FillCorrectedMessage: _fill_corrected,
}
"""The command each fact about an order gives that order (its message model → handler, called
with the identity check, the order, the message and its stamp; a fill's also takes ``overfill``)."""
FACT_EVENTS: dict[type[Message], type[OrderEvent]] = {
    AcceptedMessage: OrderAccepted,
    HeldMessage: OrderHeld,
    RejectedMessage: OrderRejected,
    FillMessage: OrderFilled,
    CancelRequestedMessage: OrderCancelRequested,
    CanceledMessage: OrderCanceled,
    ReinstatedMessage: OrderReinstated,
    CancelRejectedMessage: OrderCancelRejected,
    AmendRequestedMessage: OrderAmendRequested,
    AmendedMessage: OrderAmended,
    AmendRejectedMessage: OrderAmendRejected,
    ExpiredMessage: OrderExpired,
    TriggeredMessage: OrderTriggered,
    FillBustedMessage: FillBusted,
    FillCorrectedMessage: FillCorrected,
}
"""The event each fact about an order is recorded as (its place among facts at one venue time)."""
NAMES_VENUE_ORDER: frozenset[type[Message]] = frozenset(
    {AcceptedMessage, HeldMessage, AmendedMessage, RejectedMessage}
)
"""The facts whose venue order ID is the order's (new) name, checked by their own handler; on any
other fact an unknown venue order ID is an implied acknowledgement (or a rename)."""


__all__ = ["FACT_EVENTS", "NAMES_VENUE_ORDER", "ORDER_FACTS", "IdentityCheck"]
