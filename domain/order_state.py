"""The ``Order`` aggregate's state: what it holds, how it is shown and stored, and how an
event's consequences are assigned to it.

``OrderState`` holds no rules: the commands and the appliers that record their events are in
:mod:`domain.order` (the order's lifecycle), :mod:`domain.order_fills` (its trades) and
:mod:`domain.order_rules` (what every command uses), each applier next to its command, and
named for its event class in one literal table (``Order._APPLIERS``).
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from operator import attrgetter
from typing import Annotated, Any, Self, TypeVar
from uuid import UUID

from orderledger.domain.compiled import assigner
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
from orderledger.domain.order_terms import TERM_SHOWS, TERMS, TermsRead, shown_terms
from orderledger.domain.values import (
    AVERAGE,
    EXACT,
    TEXT,
    ClientOrderId,
    OrderType,
    Side,
    Status,
    VenueOrderId,
    format_decimal,
    format_timestamp,
    parse_timestamp,
)

E = TypeVar("E", bound=OrderEvent)
_M = TypeVar("_M")


def _opt_str(value: Decimal | None) -> str | None:
    return None if value is None else format_decimal(value)


def _opt_decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _same(value: Any) -> Any:
    return value


def _opt_bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _opt_copy(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if value is None else dict(value)


@dataclass(frozen=True, eq=False, slots=True)
class Kind:
    """How one of the order's values is shown (JSON-ready: ``snapshot``, stored state) and read
    back (``read``; None for a value derived from the others, never restored); ``own``: how the
    order takes its own copy of a value handed to it (a request's mapping), None for a value
    that cannot change in place."""

    name: str
    show: Callable[[Any], Any]
    read: Callable[[Any], Any] | None
    own: Callable[[Any], Any] | None = None


@dataclass(frozen=True, slots=True)
class Requested:
    """Marks a field whose value on a new order is the request's field ``field`` (the field's
    own name when None): ``OrderState.__init__`` takes it from ``OrderRequested``."""

    field: str | None = None


REQUESTED = Requested()


@dataclass(frozen=True, slots=True)
class Listed:
    """Marks a field shown as a column of the orders table, the CLI's ``orders`` and the page's
    alike, in declaration order.

    ``keep``: its rank when a narrow terminal (80 columns) drops columns, the lowest first
    (docs/semantics.md, "Figures for people"). ``heading``: the column's heading in both shells,
    the field's name when None; one word, or words joined by hyphens (a terminal's table is read
    by splitting its lines at spaces)."""

    keep: int
    heading: str | None = None


@dataclass(frozen=True, slots=True)
class Figure:
    """Marks a decimal field shown to its instrument's places of ``places`` (``quantity`` or
    ``price``: ``application.reads.display``)."""

    places: str


QUANTITY = Figure("quantity")
PRICE = Figure("price")


PLAIN = Kind("plain", _same, _same)
"""A text, a number or None, as it is."""
INTEGER = Kind("integer", _same, _same)
FLAG = Kind("flag", _same, bool)
OPTIONAL_FLAG = Kind("optional_flag", _same, _opt_bool)
"""True, False, or None: not stated."""
TEXTS = Kind("texts", list, list, list)
"""A list of texts (a copy)."""
NAMED = Kind("named", dict, dict, dict)
"""A mapping of texts (a copy)."""
DECIMAL = Kind("decimal", format_decimal, Decimal)
OPTIONAL_DECIMAL = Kind("optional_decimal", _opt_str, _opt_decimal)
TIME = Kind("time", format_timestamp, parse_timestamp)
TERMS_KIND = Kind("terms", _opt_copy, _opt_copy, _opt_copy)
"""An order's conditional terms (``TERMS``), each stated one by name as JSON-ready data (a
copy), or None: a plain order, which states none."""
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
class ShownOrder(TermsRead):
    """What an order shows, in order, each field with its type, its kind (how it is shown,
    stored and read back) and its markers: ``REQUESTED`` (a new order takes it from its
    request), ``Listed`` (a column of the orders table, with its narrow-terminal rank and its
    heading) and ``Figure`` (the instrument's places it is shown to). The one declaration that
    ``Order.snapshot()``, the order's slots, its initial values from the request, its stored
    state, the orders view's first columns, ``OrderRow`` (``infrastructure/results/orders.py``: this
    declaration with a result row's behaviour, and so the JSON of ``orders --json`` and of the
    HTTP API), the orders table of the CLI and of the page (``listing.ORDER_COLUMNS``, which the
    page reads from ``GET /assets/columns.json``) and the request's terms on the lake's orders
    (``columnar.state_columns``) are derived from.

    A new field the order shows is one line here, plus where it is set: its declaration in
    ``OrderSpec`` (with its message rule and repeat rule) for a ``REQUESTED`` field, an applier
    for any other. The orders view gains its column with no version raised: a view table whose columns
    differ from the declared ones is rebuilt from the log when the ledger opens
    (``Views.create_tables``)."""

    client_order_id: Annotated[str, PLAIN, REQUESTED, Listed(9, "order")]
    account: Annotated[str, PLAIN, REQUESTED, Listed(8)]
    venue: Annotated[str, PLAIN, REQUESTED, Listed(8)]
    instrument: Annotated[str, PLAIN, REQUESTED, Listed(8)]
    side: Annotated[Side, SIDE, REQUESTED, Listed(8)]
    order_type: Annotated[OrderType, ORDER_TYPE, REQUESTED, Listed(1, "ord-type")]
    quantity: Annotated[Decimal, DECIMAL, REQUESTED, QUANTITY, Listed(8)]
    price: Annotated[Decimal | None, OPTIONAL_DECIMAL, REQUESTED, PRICE, Listed(6)]
    decision_price: Annotated[Decimal | None, OPTIONAL_DECIMAL, REQUESTED, PRICE]
    """As requested, never changed."""
    time_in_force: Annotated[str | None, PLAIN, REQUESTED]
    post_only: Annotated[bool | None, OPTIONAL_FLAG, REQUESTED, Listed(2, "post-only")]
    """As requested (None: the request did not say); a later report of an order whose request
    did not say adds it, one that says otherwise is an anomaly (``Order.request_again``)."""
    terms: Annotated[Mapping[str, Any] | None, TERMS_KIND]
    """The order's conditional terms (``TERMS``: a trigger, a flag, an expiry, its order list), as
    requested or added by a later report, and when its trigger fired (``triggered_at``) and which
    sibling's fill canceled it (``canceled_by``): each one stated, by name, JSON-ready; None for
    an order that states none."""
    status: Annotated[Status, DERIVED_STATUS, Listed(9)]
    filled_quantity: Annotated[Decimal, DECIMAL, QUANTITY, Listed(5, "filled")]
    leaves_quantity: Annotated[Decimal, DERIVED_DECIMAL, QUANTITY, Listed(1, "leaves")]
    average_price: Annotated[Decimal | None, AVERAGE_PRICE, PRICE, Listed(4, "avg-price")]
    venue_order_ids: Annotated[tuple[str, ...], TEXTS]
    aliases: Annotated[Mapping[str, str], NAMED, REQUESTED]
    anomalies: Annotated[tuple[str, ...], TEXTS, Listed(3)]
    tags: Annotated[Mapping[str, str], NAMED, REQUESTED]
    parent_id: Annotated[str | None, PLAIN, REQUESTED, Listed(1, "parent")]
    quote_currency: Annotated[str | None, PLAIN, REQUESTED]
    external: Annotated[bool, FLAG, REQUESTED]
    reason: Annotated[str | None, PLAIN]
    created_at: Annotated[datetime, TIME, Listed(1, "created")]
    updated_at: Annotated[datetime, TIME, Listed(1, "updated")]
    version: Annotated[int, INTEGER]


@dataclass(frozen=True)
class KeptOrder:
    """What else restoring an order needs, in order, declared as ``ShownOrder`` is: the stored
    state's and the orders view's other columns."""

    base_status: Annotated[Status, STATUS]
    pending_cancel: Annotated[bool, FLAG]
    pending_amend: Annotated[bool, FLAG]
    requested_quantity: Annotated[Decimal, DECIMAL, Requested("quantity")]
    requested_price: Annotated[Decimal | None, OPTIONAL_DECIMAL, Requested("price")]
    amend_target: Annotated[tuple[Decimal | None, Decimal | None] | None, AMEND_TARGET]
    notional: Annotated[Decimal, DECIMAL]
    recorded_at: Annotated[datetime, TIME]
    fills: Annotated[Mapping[str, Fill], FILLS]
    id: Annotated[UUID, IDENTIFIER]
    merged_into: Annotated[str | None, PLAIN]
    """The order of ours this external order was merged into (``OrderMerged``), if it was."""


def _markers(declaration: type, marker: type[_M]) -> dict[str, _M]:
    """The fields of a declaration that carry a ``marker`` (an instance of that class), in order,
    each with it."""
    hints = typing.get_type_hints(declaration, include_extras=True)
    found = (
        (f.name, [m for m in hints[f.name].__metadata__ if isinstance(m, marker)])
        for f in fields(declaration)
    )
    return {name: marks[0] for name, marks in found if marks}


SHOWN: dict[str, Kind] = _markers(ShownOrder, Kind)
"""What an order shows, in order, by kind: ``ShownOrder``'s fields."""
KEPT: dict[str, Kind] = _markers(KeptOrder, Kind)
"""What else restoring an order needs, in order: ``KeptOrder``'s fields."""
STATE: dict[str, Kind] = {**SHOWN, **KEPT}
LISTED: dict[str, Listed] = _markers(ShownOrder, Listed)
"""The orders table's columns, in order, with their narrow-terminal ranks and headings."""
FIGURES: dict[str, str] = {name: figure.places for name, figure in _markers(ShownOrder, Figure).items()}
"""An order's figures, and which of its instrument's places each is shown to."""
FROM_REQUEST: dict[str, str] = {
    name: requested.field or name
    for declaration in (ShownOrder, KeptOrder)
    for name, requested in _markers(declaration, Requested).items()
}
"""The values a new order takes from its request: each field → the request's field."""
COMMANDS_ONLY = ("seen", "request_source")
"""What only commands read (fingerprints of facts seen, who made the request): stored state
keeps them, a read model's order does without them."""
_RESTORED = tuple((name, kind.read) for name, kind in STATE.items() if kind.read is not None)
"""The values restored, and how each is read back."""
_RESTORED_BUT_FILLS = tuple((name, read) for name, read in _RESTORED if name != "fills")
_TAKEN = tuple((name, STATE[name].own) for name in FROM_REQUEST)
_REQUEST_VALUES = attrgetter(*FROM_REQUEST.values())
"""The request's values a new order takes (``FROM_REQUEST``), read in one call."""


def _working_status(filled: Decimal, quantity: Decimal) -> Status:
    if filled >= quantity:
        return Status.FILLED
    return Status.PARTIALLY_FILLED if filled > 0 else Status.ACCEPTED


class OrderState(TermsRead):
    """An order's current state, derived only from its events."""

    __slots__ = (*(name for name, _ in _RESTORED), *COMMANDS_ONLY, "_pending_events")

    _APPLIERS: typing.ClassVar[Mapping[type[OrderEvent], Callable[[Any, Any], None]]]
    """Each event class and the method that assigns its consequences (``Order._APPLIERS``, a
    literal table beside the appliers)."""

    # The types of the values the rules read (``ShownOrder`` and ``KeptOrder`` declare them all;
    # the names here are for the type checker: a value only shown needs none).
    client_order_id: ClientOrderId
    account: str
    venue: str
    instrument: str
    side: Side
    order_type: OrderType
    quantity: Decimal
    price: Decimal | None
    decision_price: Decimal | None
    time_in_force: str | None
    post_only: bool | None
    terms: dict[str, Any] | None
    requested_quantity: Decimal
    requested_price: Decimal | None
    quote_currency: str | None
    tags: dict[str, str]
    aliases: dict[str, str]
    parent_id: str | None
    external: bool

    def __init__(self, event: OrderRequested) -> None:
        _take(self, _REQUEST_VALUES(event))  # the request's values (FROM_REQUEST)
        self.id: UUID = event.originator_id
        self.version: int = 0
        self.request_source = event.source  # who stated the request: a repeat by another is a report
        self.base_status = Status.REQUESTED
        self.pending_cancel = False
        self.pending_amend = False
        self.amend_target: tuple[Decimal | None, Decimal | None] | None = None
        self.venue_order_ids: list[VenueOrderId] = []
        if event.venue_order_id:
            self.venue_order_ids.append(event.venue_order_id)
        self.fills: dict[str, Fill] = {}
        self.filled_quantity = _ZERO
        self.notional = _ZERO
        self.anomalies: list[str] = []
        # Fingerprints of facts that carry no ID of their own (see _FINGERPRINTED).
        self.seen: set[str] = set()
        self.reason: str | None = None
        self.merged_into: str | None = None
        terms = event.terms
        self.terms = None if terms is None else shown_terms(terms)
        self.created_at: datetime = event.ts_event
        self.updated_at: datetime = event.ts_event
        self.recorded_at: datetime = event.ts_recorded
        self._pending_events: list[OrderEvent] = []

    # ----------------------------------------------------------------- the terms

    def set_term(self, name: str, value: Any) -> None:
        """State one of the order's terms (``TERMS``), or withdraw it with None; the terms are
        kept in ``TERMS``' order, whatever order they were stated in."""
        terms = dict(self.terms or ())
        if value is None:
            terms.pop(name, None)
        else:
            terms[name] = TERM_SHOWS[name](value)
        self.terms = {key: terms[key] for key in TERMS if key in terms} or None

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
    def venue_order_id(self) -> VenueOrderId | None:
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
        if with_fills:
            _restore(order, state)
        else:
            _restore_but_fills(order, state)
            order.fills = {}
        order.seen = set(state.get("seen", ()))
        order.request_source = state.get("request_source", "")
        order._pending_events = []
        return order

    def apply(self, event: OrderEvent, *, deciding: bool = True) -> None:
        """Assign the consequences of one event (runs on every replay).

        ``deciding=False``: this order will decide nothing (a read model's fold), so the
        fingerprints only commands consult, to refuse a fact seen before, are not kept."""
        if event.ts_event > self.updated_at:  # the latest venue time, whatever the arrival order
            self.updated_at = event.ts_event  # (before the applier: a restatement may state it)
        self._APPLIERS[type(event)](self, event)
        if deciding and type(event) in _FINGERPRINTED:
            self.seen.add(fingerprint(type(event).__name__, event.ts_event, getattr(event, "trade_id", "")))
            if type(event) is OrderAmended and event.quantity is not None:
                self.seen.add(raise_fingerprint(event.ts_event, event.quantity))
        self.version = event.originator_version
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


def fingerprint(type_name: str, ts_event: datetime, trade_id: str) -> str:
    return f"{type_name}|{format_timestamp(ts_event)}|{trade_id}"


def raise_fingerprint(ts_event: datetime, quantity: Decimal) -> str:
    """An amendment by its venue time and quantity: what tells a copy of a raise of a filled order
    from a further raise at the same time (``Order.amend``)."""
    return fingerprint("OrderAmended", ts_event, f"quantity {format_decimal(quantity.normalize())}")


def anomaly_fingerprint(anomaly: str, trade_id: str | None, *values: str | None) -> str:
    # The pair in either order: a disagreement is one anomaly, whichever copy came first.
    return "|".join(["AnomalyRecorded", anomaly, trade_id or "", *sorted(v or "" for v in values)])


def _as_is(convert: Callable[[Any], Any] | None) -> Callable[[Any], Any] | None:
    return None if convert is _same else convert


_take = assigner("take", _TAKEN, by_name=False)
"""Give a new order its request's values (``_REQUEST_VALUES``), a copy of each list or mapping."""
_restore = assigner("restore", [(name, _as_is(read)) for name, read in _RESTORED], by_name=True)
"""Restore an order's values from its stored state (``STATE``: each read back by its kind)."""
_restore_but_fills = assigner(
    "restore_but_fills", [(name, _as_is(read)) for name, read in _RESTORED_BUT_FILLS], by_name=True
)
