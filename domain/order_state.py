"""The ``Order`` aggregate's state: what it holds, how it is shown and stored, and how an
event's consequences are assigned to it.

``OrderState`` holds no rules: the commands and the appliers that record their events are in
:mod:`domain.order` (each applier next to its command, registered with :func:`applies`).
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Self, TypeVar
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
    TEXT,
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


def applies(*event_classes: type[E]) -> Callable[[Callable[[Any, E], None]], Callable[[Any, E], None]]:
    """Register the decorated method as what assigns an event of each of ``event_classes`` to
    the order."""

    def register(applier: Callable[[Any, E], None]) -> Callable[[Any, E], None]:
        for event_class in event_classes:
            _APPLIERS[event_class] = applier
        return applier

    return register


def _opt_str(value: Decimal | None) -> str | None:
    return None if value is None else format_decimal(value)


def _opt_decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True, eq=False, slots=True)
class Kind:
    """How one of the order's values is shown (JSON-ready: ``snapshot``, stored state) and read
    back (``read``; None for a value derived from the others, never restored)."""

    name: str
    show: Callable[[Any], Any]
    read: Callable[[Any], Any] | None


PLAIN = Kind("plain", _same, _same)
"""A text, a number or None, as it is."""
INTEGER = Kind("integer", _same, _same)
FLAG = Kind("flag", _same, bool)
TEXTS = Kind("texts", list, list)
"""A list of texts (a copy)."""
NAMED = Kind("named", dict, dict)
"""A mapping of texts (a copy)."""
DECIMAL = Kind("decimal", format_decimal, Decimal)
OPTIONAL_DECIMAL = Kind("optional_decimal", _opt_str, _opt_decimal)
TIME = Kind("time", format_timestamp, parse_timestamp)
IDENTIFIER = Kind("identifier", str, UUID)
SIDE = Kind("side", TEXT.__getitem__, Side)
ORDER_TYPE = Kind("order_type", TEXT.__getitem__, OrderType)
STATUS = Kind("status", TEXT.__getitem__, Status)
DERIVED_STATUS = Kind("derived_status", TEXT.__getitem__, None)
DERIVED_DECIMAL = Kind("derived_decimal", format_decimal, None)
AVERAGE_PRICE = Kind("average", lambda v: None if v is None else format_decimal(v.normalize(AVERAGE)), None)
AMEND_TARGET = Kind(
    "amend_target",
    lambda target: None if target is None else [_opt_str(v) for v in target],
    lambda target: None if target is None else (_opt_decimal(target[0]), _opt_decimal(target[1])),
)
FILLS = Kind(
    "fills",
    lambda fills: [fill.stored() for fill in fills.values()],
    lambda stored: {values[0]: Fill.from_stored(values) for values in stored},
)


@dataclass(frozen=True)
class ShownOrder:
    """What an order shows, in order, each field with its type and its kind (how it is shown,
    stored and read back): the one declaration that ``Order.snapshot()``, the order's slots and
    stored state, the orders view's first columns and ``OrderRow`` (``infrastructure/results.py``:
    this declaration with a result row's behaviour) are derived from.

    A new field the order shows is one line here, plus its rule where it is set (``OrderState``'s
    ``__init__`` or an applier). The orders view gains its column with no version raised: a view
    table whose columns differ from the declared ones is rebuilt from the log when the ledger
    opens (``Views.create_tables``)."""

    client_order_id: Annotated[str, PLAIN]
    account: Annotated[str, PLAIN]
    venue: Annotated[str, PLAIN]
    instrument: Annotated[str, PLAIN]
    side: Annotated[Side, SIDE]
    order_type: Annotated[OrderType, ORDER_TYPE]
    quantity: Annotated[Decimal, DECIMAL]
    price: Annotated[Decimal | None, OPTIONAL_DECIMAL]
    decision_price: Annotated[Decimal | None, OPTIONAL_DECIMAL]
    time_in_force: Annotated[str | None, PLAIN]
    status: Annotated[Status, DERIVED_STATUS]
    filled_quantity: Annotated[Decimal, DECIMAL]
    leaves_quantity: Annotated[Decimal, DERIVED_DECIMAL]
    average_price: Annotated[Decimal | None, AVERAGE_PRICE]
    venue_order_ids: Annotated[tuple[str, ...], TEXTS]
    aliases: Annotated[Mapping[str, str], NAMED]
    anomalies: Annotated[tuple[str, ...], TEXTS]
    tags: Annotated[Mapping[str, str], NAMED]
    parent_id: Annotated[str | None, PLAIN]
    quote_currency: Annotated[str | None, PLAIN]
    external: Annotated[bool, FLAG]
    reason: Annotated[str | None, PLAIN]
    created_at: Annotated[datetime, TIME]
    updated_at: Annotated[datetime, TIME]
    version: Annotated[int, INTEGER]


def _kinds(declaration: type) -> dict[str, Kind]:
    """Each field of a declaration and its kind (the ``Kind`` its annotation carries), in order."""
    hints = typing.get_type_hints(declaration, include_extras=True)
    return {f.name: hints[f.name].__metadata__[0] for f in fields(declaration)}


SHOWN: dict[str, Kind] = _kinds(ShownOrder)
"""What an order shows, in order, by kind: ``ShownOrder``'s fields."""
KEPT: dict[str, Kind] = {
    "base_status": STATUS,
    "pending_cancel": FLAG,
    "pending_amend": FLAG,
    "requested_quantity": DECIMAL,
    "requested_price": OPTIONAL_DECIMAL,
    "amend_target": AMEND_TARGET,
    "notional": DECIMAL,
    "recorded_at": TIME,
    "fills": FILLS,
    "id": IDENTIFIER,
}
"""What else restoring an order needs, in order: the stored state, the orders view's other
columns."""
STATE: dict[str, Kind] = {**SHOWN, **KEPT}
COMMANDS_ONLY = ("seen", "request_source")
"""What only commands read (fingerprints of facts seen, who made the request): stored state
keeps them, a read model's order does without them."""
_RESTORED = tuple((name, kind.read) for name, kind in STATE.items() if kind.read is not None)
"""The values restored, and how each is read back."""
_RESTORED_BUT_FILLS = tuple((name, read) for name, read in _RESTORED if name != "fills")


def _working_status(filled: Decimal, quantity: Decimal) -> Status:
    if filled >= quantity:
        return Status.FILLED
    return Status.PARTIALLY_FILLED if filled > 0 else Status.ACCEPTED


class OrderState:
    """An order's current state, derived only from its events."""

    __slots__ = (*(name for name, _ in _RESTORED), *COMMANDS_ONLY, "_pending_events")

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
        self.decision_price: Decimal | None = event.decision_price  # as requested, never changed
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
        """The order's state as JSON-ready data (decimals and times as strings): ``SHOWN``."""
        return {name: kind.show(getattr(self, name)) for name, kind in SHOWN.items()}

    def to_state(self) -> dict[str, Any]:
        """Everything needed to restore this order without its events (JSON-ready): ``STATE``,
        and what only commands read."""
        state = {name: STATE[name].show(getattr(self, name)) for name, _ in _RESTORED}
        state["seen"] = sorted(self.seen)
        state["request_source"] = self.request_source
        return state

    @classmethod
    def from_state(cls, state: Mapping[str, Any], *, with_fills: bool = True) -> Self:
        """Restore an order saved with :meth:`to_state` (or from the orders view, without what
        only commands read).

        ``with_fills=False`` skips the trades, for read-only uses such as :meth:`snapshot`,
        which does not need them: listing thousands of orders then costs far less.
        """
        order = cls.__new__(cls)
        for name, read in _RESTORED if with_fills else _RESTORED_BUT_FILLS:
            setattr(order, name, read(state[name]))
        if not with_fills:
            order.fills = {}
        order.seen = set(state.get("seen", ()))
        order.request_source = state.get("request_source", "")
        order._pending_events = []
        return order

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
        if event.ts_event > self.updated_at:  # the latest venue time, whatever the arrival order
            self.updated_at = event.ts_event
        self.recorded_at = event.ts_recorded

    def _settle_working_status(self) -> None:
        """Recompute the working status of an order the venue still works. A held order no
        trade has touched stays held: only the exchange's acceptance or a trade says the
        exchange has it (an amendment may be the broker's alone)."""
        if self.base_status is Status.HELD and not self.fills:
            return
        if self.base_status in (
            Status.REQUESTED,
            Status.HELD,
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

    def adopt(self, events: list[OrderEvent]) -> None:
        """Take as this order's own events decided (and applied) on another copy of it."""
        self._pending_events += events

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


def _anomaly_fingerprint(anomaly: str, trade_id: str | None, *values: str | None) -> str:
    # The pair in either order: a disagreement is one anomaly, whichever copy came first.
    return "|".join(["AnomalyRecorded", anomaly, trade_id or "", *sorted(v or "" for v in values)])
