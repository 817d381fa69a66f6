"""The ``Order`` aggregate's state: what it holds, how it is shown and stored, and how an
event's consequences are assigned to it.

``OrderState`` holds no rules: the commands and the appliers that record their events are in
:mod:`domain.order` (each applier next to its command, registered with :func:`applies`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Self, TypeVar
from uuid import UUID

from orderledger.domain.events import (
    FillCorrected,
    OrderAmended,
    OrderAmendRejected,
    OrderAmendRequested,
    OrderCancelRejected,
    OrderCancelRequested,
    OrderEvent,
    OrderRequested,
)
from orderledger.domain.fills import Fill
from orderledger.domain.values import (
    AVERAGE,
    EXACT,
    OrderType,
    Side,
    Status,
    format_decimal,
    format_timestamp,
    parse_timestamp,
)

E = TypeVar("E", bound=OrderEvent)
_APPLIERS: dict[type[OrderEvent], Callable[[Any, Any], None]] = {}
"""Per event class, the applier that assigns its consequences (registered by ``applies``)."""


def applies(event_class: type[E]) -> Callable[[Callable[[Any, E], None]], Callable[[Any, E], None]]:
    """Register the decorated method as what assigns an ``event_class`` event to the order."""

    def register(applier: Callable[[Any, E], None]) -> Callable[[Any, E], None]:
        _APPLIERS[event_class] = applier
        return applier

    return register


def _working_status(filled: Decimal, quantity: Decimal) -> Status:
    if filled >= quantity:
        return Status.FILLED
    return Status.PARTIALLY_FILLED if filled > 0 else Status.ACCEPTED


class OrderState:
    """An order's current state, derived only from its events."""

    __slots__ = (
        "_pending_events",
        "account",
        "aliases",
        "amend_target",
        "anomalies",
        "seen",
        "base_status",
        "client_order_id",
        "created_at",
        "external",
        "filled_quantity",
        "fills",
        "id",
        "instrument",
        "notional",
        "order_type",
        "parent_id",
        "pending_amend",
        "pending_cancel",
        "price",
        "quantity",
        "requested_quantity",
        "requested_price",
        "quote_currency",
        "reason",
        "recorded_at",
        "request_source",
        "side",
        "tags",
        "time_in_force",
        "updated_at",
        "venue",
        "venue_order_ids",
        "version",
    )

    def __init__(self, event: OrderRequested) -> None:
        self.id: UUID = event.originator_id
        self.version: int = 0
        self.client_order_id = event.client_order_id
        self.account = event.account
        self.venue = event.venue
        self.instrument = event.instrument
        self.side: Side = event.side
        self.order_type: OrderType = event.order_type
        self.quantity: Decimal = event.quantity
        self.price: Decimal | None = event.price
        self.requested_quantity: Decimal = event.quantity
        self.requested_price: Decimal | None = event.price
        self.time_in_force = event.time_in_force
        self.quote_currency = event.quote_currency
        self.tags: dict[str, str] = dict(event.tags)
        self.parent_id = event.parent_id
        self.external = event.external
        self.request_source = event.source  # who stated the request: a repeat by another is a report
        self.base_status = Status.REQUESTED
        self.pending_cancel = False
        self.pending_amend = False
        self.amend_target: tuple[Decimal | None, Decimal | None] | None = None
        self.venue_order_ids: list[str] = []
        if event.venue_order_id:
            self.venue_order_ids.append(event.venue_order_id)
        self.aliases: dict[str, str] = dict(event.aliases)
        self.fills: dict[str, Fill] = {}
        self.filled_quantity = _ZERO
        self.notional = _ZERO
        self.anomalies: list[str] = []
        # Fingerprints of facts that carry no ID of their own (see _FINGERPRINTED).
        self.seen: set[str] = set()
        self.reason: str | None = None
        self.created_at: datetime = event.ts_event
        self.updated_at: datetime = event.ts_event
        self.recorded_at: datetime = event.ts_recorded
        self._pending_events: list[OrderEvent] = []

    # ----------------------------------------------------------------- derived state

    @property
    def status(self) -> Status:
        """The status shown to users: a pending marker overlays the working status."""
        if self.pending_cancel:
            return Status.PENDING_CANCEL
        if self.pending_amend:
            return Status.PENDING_AMEND
        return self.base_status

    @property
    def leaves_quantity(self) -> Decimal:
        """What can still fill: zero once the order is terminal."""
        if self.status.is_terminal:
            return _ZERO
        return max(EXACT.subtract(self.quantity, self.filled_quantity), _ZERO)

    @property
    def average_price(self) -> Decimal | None:
        """Quantity-weighted average fill price, or None before any fill."""
        if not self.filled_quantity:
            return None
        return AVERAGE.divide(self.notional, self.filled_quantity)

    @property
    def venue_order_id(self) -> str | None:
        """The latest venue order ID (amendments may assign new ones)."""
        return self.venue_order_ids[-1] if self.venue_order_ids else None

    def snapshot(self) -> dict[str, Any]:
        """The order's state as JSON-ready data (decimals and times as strings)."""
        average = self.average_price
        return {
            "client_order_id": self.client_order_id,
            "account": self.account,
            "venue": self.venue,
            "instrument": self.instrument,
            "side": self.side.value,
            "order_type": self.order_type.value,
            "quantity": format_decimal(self.quantity),
            "price": None if self.price is None else format_decimal(self.price),
            "time_in_force": self.time_in_force,
            "status": self.status.value,
            "filled_quantity": format_decimal(self.filled_quantity),
            "leaves_quantity": format_decimal(self.leaves_quantity),
            "average_price": None if average is None else format_decimal(average.normalize(AVERAGE)),
            "venue_order_ids": list(self.venue_order_ids),
            "aliases": dict(self.aliases),
            "anomalies": list(self.anomalies),
            "tags": dict(self.tags),
            "parent_id": self.parent_id,
            "quote_currency": self.quote_currency,
            "external": self.external,
            "reason": self.reason,
            "created_at": format_timestamp(self.created_at),
            "updated_at": format_timestamp(self.updated_at),
            "version": self.version,
        }

    def to_state(self) -> dict[str, Any]:
        """Everything needed to restore this order without its events (JSON-ready)."""
        state = {name: getattr(self, name) for name in _PLAIN_STATE}
        state["id"] = str(self.id)
        state["side"] = self.side.value
        state["order_type"] = self.order_type.value
        state["base_status"] = self.base_status.value
        state["quantity"] = format_decimal(self.quantity)
        state["requested_quantity"] = format_decimal(self.requested_quantity)
        state["requested_price"] = _opt_str(self.requested_price)
        state["price"] = _opt_str(self.price)
        state["amend_target"] = (
            None if self.amend_target is None else [_opt_str(v) for v in self.amend_target]
        )
        state["filled_quantity"] = format_decimal(self.filled_quantity)
        state["notional"] = format_decimal(self.notional)
        state["created_at"] = format_timestamp(self.created_at)
        state["updated_at"] = format_timestamp(self.updated_at)
        state["recorded_at"] = format_timestamp(self.recorded_at)
        state["seen"] = sorted(self.seen)
        state["request_source"] = self.request_source
        state["fills"] = [fill.stored() for fill in self.fills.values()]
        return state

    @classmethod
    def from_state(cls, state: Mapping[str, Any], *, with_fills: bool = True) -> Self:
        """Restore an order saved with :meth:`to_state`.

        ``with_fills=False`` skips the trades, for read-only uses such as :meth:`snapshot`,
        which does not need them: listing thousands of orders then costs far less.
        """
        order = cls.__new__(cls)
        for name in _PLAIN_STATE:
            setattr(order, name, state[name])
        order.tags = dict(state["tags"])
        order.aliases = dict(state["aliases"])
        order.venue_order_ids = list(state["venue_order_ids"])
        order.anomalies = list(state["anomalies"])
        order.seen = set(state.get("seen", ()))
        order.request_source = state.get("request_source", "")
        order.id = UUID(state["id"])
        order.side = Side(state["side"])
        order.order_type = OrderType(state["order_type"])
        order.base_status = Status(state["base_status"])
        order.quantity = Decimal(state["quantity"])
        order.requested_quantity = Decimal(state["requested_quantity"])
        order.requested_price = _opt_decimal(state["requested_price"])
        order.price = _opt_decimal(state["price"])
        target = state["amend_target"]
        order.amend_target = None if target is None else (_opt_decimal(target[0]), _opt_decimal(target[1]))
        order.filled_quantity = Decimal(state["filled_quantity"])
        order.notional = Decimal(state["notional"])
        order.created_at = parse_timestamp(state["created_at"])
        order.updated_at = parse_timestamp(state["updated_at"])
        order.recorded_at = parse_timestamp(state["recorded_at"])
        order.fills = {values[0]: Fill.from_stored(values) for values in state["fills"]} if with_fills else {}
        order._pending_events = []
        return order

    # ----------------------------------------------------------------- applying events

    def apply(self, event: OrderEvent, *, deciding: bool = True) -> None:
        """Assign the consequences of one event (runs on every replay).

        ``deciding=False``: this order will decide nothing (a read model's fold), so the
        fingerprints only commands consult, to refuse a fact seen before, are not kept."""
        _APPLIERS[type(event)](self, event)
        if deciding and type(event) in _FINGERPRINTED:
            self.seen.add(_fingerprint(type(event).__name__, event.ts_event, getattr(event, "trade_id", "")))
            if type(event) is OrderAmended and event.quantity is not None:
                self.seen.add(_raise_fingerprint(event.ts_event, event.quantity))
        self.version = event.originator_version
        self.updated_at = event.ts_event
        self.recorded_at = event.ts_recorded

    def _settle_working_status(self) -> None:
        """Recompute the working status of an order the venue still works."""
        if self.base_status in (
            Status.REQUESTED,
            Status.ACCEPTED,
            Status.PARTIALLY_FILLED,
            Status.FILLED,
        ):
            self.base_status = _working_status(self.filled_quantity, self.quantity)
            if self.base_status is Status.FILLED:
                self._clear_pending()

    def _reopen_or_settle(self) -> None:
        # A filled order reopens after a bust; a canceled, expired or rejected one stays ended.
        self._settle_working_status()

    def _clear_pending(self) -> None:
        self.pending_cancel = False
        self.pending_amend = False
        self.amend_target = None

    def _flag(self, anomaly: str) -> None:
        if anomaly not in self.anomalies:
            self.anomalies.append(anomaly)

    # ----------------------------------------------------------------- the aggregate protocol

    def collect_events(self) -> list[OrderEvent]:
        """Hand over the events decided since the last save (eventsourcing's protocol)."""
        events, self._pending_events = self._pending_events, []
        return events

    @property
    def pending_events(self) -> list[OrderEvent]:
        """Events decided but not yet saved."""
        return list(self._pending_events)


_ZERO = Decimal(0)  # an amount is immutable: every zero can be this one

# Facts without an ID of their own: a re-delivery is recognised by type, venue time and trade.
# (Two genuinely distinct cancel requests at the same microsecond would count as one.)
_FINGERPRINTED = frozenset(
    {
        OrderCancelRequested,
        OrderCancelRejected,
        OrderAmendRequested,
        OrderAmended,
        OrderAmendRejected,
        FillCorrected,
    }
)


def _fingerprint(type_name: str, ts_event: datetime, trade_id: str) -> str:
    return f"{type_name}|{format_timestamp(ts_event)}|{trade_id}"


def _raise_fingerprint(ts_event: datetime, quantity: Decimal) -> str:
    """An amendment by its venue time and quantity: what tells a copy of a raise of a filled order
    from a further raise at the same time (``Order.amend``)."""
    return _fingerprint("OrderAmended", ts_event, f"quantity {format_decimal(quantity.normalize())}")


_PLAIN_STATE = (
    "version",
    "client_order_id",
    "account",
    "venue",
    "instrument",
    "time_in_force",
    "quote_currency",
    "tags",
    "parent_id",
    "external",
    "pending_cancel",
    "pending_amend",
    "venue_order_ids",
    "aliases",
    "anomalies",
    "reason",
)


def _anomaly_fingerprint(anomaly: str, trade_id: str | None, *values: str | None) -> str:
    # The pair in either order: a disagreement is one anomaly, whichever copy came first.
    return "|".join(["AnomalyRecorded", anomaly, trade_id or "", *sorted(v or "" for v in values)])


def _opt_str(value: Decimal | None) -> str | None:
    return None if value is None else format_decimal(value)


def _opt_decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)
