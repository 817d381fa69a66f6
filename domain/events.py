"""Immutable facts about orders: one frozen pydantic model per fact, named in the past tense.

Every event carries a header: the aggregate coordinates (originator_id, originator_version),
the two clocks (``ts_event``: when the venue says it happened; ``ts_recorded``: the ledger's
clock at append), where it came from (``source``), and the order's coordinates (client order
ID, account, venue, instrument). Fill events also carry the side and quote currency, so each
event can be read, searched and projected on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from types import UnionType
from typing import Annotated, Any, ClassVar, TypeVar, Union, get_args, get_origin
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from orderledger.domain.values import DecimalStr, Liquidity, OrderType, Side, UtcTime


class OrderEvent(BaseModel):
    """Header shared by every order event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    class_version: ClassVar[int] = 1

    originator_id: UUID
    originator_version: int
    ts_recorded: UtcTime
    ts_event: UtcTime
    source: str
    client_order_id: str
    account: str
    venue: str
    instrument: str

    @property
    def timestamp(self) -> datetime:
        """The recording time, under the name the eventsourcing library expects."""
        return self.ts_recorded

    @classmethod
    def type_name(cls) -> str:
        """The event's name as shown in history and search (the class name)."""
        return cls.__name__


class OrderSpec(BaseModel):
    """The content of an order request; two requests with one client order ID must match.

    The one declaration of a request's fields: ``OrderRequested`` stores each of them after its
    header, and the ingest ``RequestMessage`` takes its fields' names, order and defaults from
    here (its rules are its own). A new field of a request is declared here, and given its rule
    there."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    IDENTITY: ClassVar[tuple[str, ...]] = ("account", "venue", "instrument", "side", "order_type")
    """What makes two requests different orders: never reconciled, always ID reuse."""

    client_order_id: str
    account: str
    venue: str
    instrument: str
    side: Side
    order_type: OrderType
    quantity: DecimalStr
    price: DecimalStr | None = None
    time_in_force: str | None = None
    quote_currency: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    parent_id: str | None = None
    aliases: dict[str, str] = Field(default_factory=dict)
    venue_order_id: str | None = None
    external: bool = False
    """True when reconciliation found the order at the venue rather than we placing it."""


class OrderRequested(OrderSpec, OrderEvent):
    """Intent recorded before it is sent to the venue (creates the order).

    Its fields are the header's, then the request's (``OrderSpec``) in their order, as stored
    and hashed: pydantic takes the bases' fields from the last base to the first, so the header
    (``OrderEvent``, named last) comes first, and the order's coordinates stay in its place."""


class OrderAccepted(OrderEvent):
    """The venue acknowledged the order; a late ack only records the venue order ID."""

    venue_order_id: str | None = None
    aliases: dict[str, str] = Field(default_factory=dict)


class OrderRejected(OrderEvent):
    """The venue refused the order."""

    reason: str | None = None


class OrderFilled(OrderEvent):
    """One execution (FIX ExecType F); partial or full is derived from the sum of fills."""

    trade_id: str
    last_qty: DecimalStr
    last_px: DecimalStr
    side: Side
    fee: DecimalStr | None = None
    fee_currency: str | None = None
    liquidity: Liquidity | None = None
    quote_currency: str | None = None
    venue_order_id: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    parent_id: str | None = None
    late: bool = False
    """Booked on an order already canceled, expired or rejected (anomaly ``late_fill``)."""
    inferred: bool = False
    """Deduced by reconciliation from the venue's cumulative quantity, not reported as a trade."""
    venue_realized_pnl: DecimalStr | None = None
    """The realized P&L the venue itself reported for this fill (a cross-check, never booked)."""


class OrderCancelRequested(OrderEvent):
    """We asked the venue to cancel."""


class OrderCanceled(OrderEvent):
    """The venue canceled the order; leaves become zero."""

    reason: str | None = None


class OrderCancelRejected(OrderEvent):
    """The venue refused our cancel; the order returns to the status it had."""

    reason: str | None = None


class OrderAmendRequested(OrderEvent):
    """We asked the venue to change quantity (a total including fills) and/or price."""

    quantity: DecimalStr | None = None
    price: DecimalStr | None = None


class OrderAmended(OrderEvent):
    """The venue applied an amendment; it may have assigned a new venue order ID."""

    quantity: DecimalStr | None = None
    price: DecimalStr | None = None
    venue_order_id: str | None = None


class OrderAmendRejected(OrderEvent):
    """The venue refused our amendment."""

    reason: str | None = None


class OrderExpired(OrderEvent):
    """The order's time in force ran out."""

    reason: str | None = None


class FillBusted(OrderEvent):
    """The venue reversed a trade; the event restates it so projections can undo it."""

    trade_id: str
    side: Side
    last_qty: DecimalStr
    last_px: DecimalStr
    fee: DecimalStr | None = None
    fee_currency: str | None = None
    quote_currency: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    parent_id: str | None = None
    fill_ts_event: UtcTime
    reason: str | None = None


class FillCorrected(OrderEvent):
    """The venue corrected a trade's quantity and/or price; old and new values are stated."""

    trade_id: str
    side: Side
    previous_qty: DecimalStr
    previous_px: DecimalStr
    previous_fee: DecimalStr | None = None
    previous_fee_currency: str | None = None
    """The fee's currency before; None in events written before it could change."""
    last_qty: DecimalStr
    last_px: DecimalStr
    fee: DecimalStr | None = None
    fee_currency: str | None = None
    quote_currency: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    parent_id: str | None = None
    fill_ts_event: UtcTime
    reason: str | None = None


class OrderDetailsAdded(OrderEvent):
    """A later report of the order stated details its request left out (nothing is replaced).

    ``aliases``: identities the order did not have yet, such as the client order ID of a request
    recorded after the venue had reported the order (alias ``client_order_id``)."""

    time_in_force: str | None = None
    parent_id: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    aliases: dict[str, str] = Field(default_factory=dict)


class AnomalyRecorded(OrderEvent):
    """Two reports of one fact disagree; both values are kept for the audit.

    ``anomaly`` names the disagreement (``time_in_force_mismatch``, ``price_mismatch``,
    ``quantity_mismatch``, ``fee_conflict``, ``venue_order_id_changed``); ``recorded`` is what
    the ledger holds, ``reported`` what this report said. For a fee conflict the ledger books
    the larger fee (by size), so the result does not depend on which copy arrived first.
    """

    anomaly: str
    field: str
    recorded: str | None = None
    reported: str | None = None
    trade_id: str | None = None


class InstrumentDefined(OrderEvent):
    """An instrument's definition as of this event (version = ``originator_version``).

    Not an order fact: it lives on its own aggregate, keyed by (venue, instrument), in the same
    hash-chained log, so positions read the definition in force at each fill in log order. The
    order coordinates of the header are empty (``client_order_id`` and ``account`` are "").
    """

    client_order_id: str = ""
    account: str = ""
    kind: str | None = None
    """spot | swap | future | option | equity | other."""
    contract_size: DecimalStr = Decimal(1)
    """What one unit of order quantity is worth in the underlying (OKX BTC-USDT-SWAP 0.01)."""
    settlement: str = "linear"
    """linear (P&L in the quote currency) or inverse (P&L in the base coin: 1/price)."""
    settle_currency: str | None = None
    base_currency: str | None = None
    quote_currency: str | None = None
    underlying: str | None = None
    expiry: str | None = None
    strike: DecimalStr | None = None
    option_type: str | None = None
    price_scale: int | None = None
    quantity_scale: int | None = None
    security_id: str | None = None
    security_id_source: str | None = None


class CashFlowRecorded(OrderEvent):
    """Money a position paid or received without trading: a funding payment, borrow interest,
    a rebate (``kind``). Immutable, one per venue ID (``flow_id``) on its position.

    Not an order fact: it lives on its own aggregate, keyed by (account, venue, instrument,
    flow_id) (``domain.cash_flows``); ``client_order_id`` is "". ``amount`` is signed from the
    position's side: positive received, negative paid.
    """

    client_order_id: str = ""
    kind: str
    """funding | interest | rebate."""
    flow_id: str
    """The venue's ID of the payment (its dedup key)."""
    amount: DecimalStr
    currency: str
    rate: DecimalStr | None = None
    """The rate the venue applied (a funding rate), when it states one."""
    position_quantity: DecimalStr | None = None
    """The signed position size the venue charged it on, when it states one."""
    tags: dict[str, str] = Field(default_factory=dict)


class MarkRecorded(OrderEvent):
    """A price of an instrument at a time, from a source (a venue's mark price, an index, a
    close): what unrealized P&L is valued at when no mark is given.

    On its own aggregate, keyed by (venue, instrument, time, source) (``domain.cash_flows``);
    ``client_order_id`` and ``account`` are "".
    """

    client_order_id: str = ""
    account: str = ""
    price: DecimalStr


EVENT_TYPES: tuple[type[OrderEvent], ...] = (
    OrderRequested,
    OrderAccepted,
    OrderRejected,
    OrderFilled,
    OrderCancelRequested,
    OrderCanceled,
    OrderCancelRejected,
    OrderAmendRequested,
    OrderAmended,
    OrderAmendRejected,
    OrderExpired,
    FillBusted,
    FillCorrected,
    OrderDetailsAdded,
    AnomalyRecorded,
    InstrumentDefined,
    CashFlowRecorded,
    MarkRecorded,
)
EVENT_TYPES_BY_NAME: dict[str, type[OrderEvent]] = {cls.__name__: cls for cls in EVENT_TYPES}

E = TypeVar("E", bound=BaseModel)


@dataclass(frozen=True)
class _Plan:
    """How to build one event class without validation: every field in declaration order with
    its default (None where it has none), which fields are required or made by a factory, and
    how a stored (JSON) value of each becomes the field's type."""

    names: tuple[str, ...]
    template: dict[str, Any]
    required: frozenset[str]
    known: frozenset[str]
    factories: tuple[tuple[str, Callable[[], Any]], ...]
    readers: tuple[tuple[str, Callable[[Any], Any]], ...]  # the fields after the header
    read: Callable[[Any, int, dict[str, Any]], dict[str, Any] | None]  # see _stored_reader


_PLANS: dict[type[BaseModel], _Plan] = {}

HEADER = ("originator_id", "originator_version")
"""The aggregate coordinates every event begins with: stored beside its payload, not in it."""


def _reader(annotation: Any) -> Callable[[Any], Any] | None:
    """How a JSON value becomes a field of this type (None: it already is one)."""
    if get_origin(annotation) in (Union, UnionType):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        return _reader(inner[0]) if len(inner) == 1 else None
    if get_origin(annotation) is Annotated:
        return _reader(get_args(annotation)[0])
    if annotation is Decimal:
        return Decimal
    if annotation is datetime:
        return datetime.fromisoformat
    if annotation is UUID:
        return lambda value: value if isinstance(value, UUID) else UUID(str(value))
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        # The member by its value, looked up directly: calling the class goes through Enum's
        # Python-level __call__ (a trusted stored value is one of them; any other is a KeyError).
        return annotation._value2member_map_.__getitem__
    return None


def _plan(cls: type[BaseModel]) -> _Plan:
    plan = _PLANS.get(cls)
    if plan is None:
        template: dict[str, Any] = {}
        required: set[str] = set()
        factories: list[tuple[str, Callable[[], Any]]] = []
        readers: list[tuple[str, Callable[[Any], Any]]] = []
        for name, info in cls.model_fields.items():
            template[name] = None
            if info.default_factory is not None:
                factories.append((name, info.default_factory))  # type: ignore[arg-type]
            elif info.is_required():
                required.add(name)
            else:
                template[name] = info.default
            reader = _reader(info.annotation)
            if reader is not None and name not in HEADER:
                readers.append((name, reader))
        names = tuple(template)
        plan = _PLANS[cls] = _Plan(
            names,
            template,
            frozenset(required),
            frozenset(template),
            tuple(factories),
            tuple(readers),
            _stored_reader(names, dict(readers)),
        )
    return plan


def _stored_reader(
    names: tuple[str, ...], readers: dict[str, Callable[[Any], Any]]
) -> Callable[[Any, int, dict[str, Any]], dict[str, Any] | None]:
    """One function for one event class that reads a stored state holding exactly the fields
    after the header: the event's fields, header first, each value turned into its type, in
    one dictionary display (no template copied, no loop over the fields). It answers None for
    any other state (a field missing or added: an upcast state, say), which the general path
    reads. Generated from the field names pydantic gives, as ``dataclasses`` generates its
    ``__init__``: a tenth of the rebuild's time is reading events."""
    if names[: len(HEADER)] != HEADER:
        return lambda originator_id, version, state: None  # not an event: nothing stored to read
    body = names[len(HEADER) :]
    scope: dict[str, Any] = {}
    values = []
    for at, name in enumerate(body):
        if name in readers:
            scope[f"read{at}"] = readers[name]
            values.append(f"{name!r}: None if (v := s[{name!r}]) is None else read{at}(v)")
        else:
            values.append(f"{name!r}: s[{name!r}]")
    source = (
        "def read(originator_id, version, s):\n"
        f"    if len(s) != {len(body)}:\n"
        "        return None\n"
        "    try:\n"
        "        return {'originator_id': originator_id, 'originator_version': version, "
        + ", ".join(values)
        + "}\n"
        "    except KeyError:\n"
        "        return None\n"
    )
    exec(source, scope)  # the source is made of the model's own field names
    read: Callable[[Any, int, dict[str, Any]], dict[str, Any] | None] = scope["read"]
    return read


_new = object.__new__
_set = object.__setattr__
# The slots pydantic keeps beside __dict__, set through their descriptors: the same as
# object.__setattr__, without looking the name up along the class's MRO each time.
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def construct(cls: type[E], values: dict[str, Any]) -> E:
    """An event (or a request) from values the ledger has already checked, without validating
    them again.

    What pydantic's ``model_construct`` does (defaults filled in, fields in declaration order, so
    the payload's bytes are the same), at a small part of its cost: the hot path builds every
    event through here. An unknown field name is a programming error and raises TypeError."""
    plan = _PLANS.get(cls) or _plan(cls)
    given = set(values)
    if not plan.required <= given <= plan.known:
        missing = [name for name in plan.names if name in plan.required and name not in given]
        if missing:
            raise TypeError(f"{cls.__name__} needs {missing[0]!r}")
        raise TypeError(f"{cls.__name__} has no field {sorted(given - plan.known)[0]!r}")
    data = plan.template.copy()  # every field, in order: the given values keep their places
    data.update(values)
    for name, factory in plan.factories:
        if name not in given:
            data[name] = factory()
    return _made(cls, data, given)


def _made(cls: type[E], data: dict[str, Any], given: set[str]) -> E:
    """An instance holding ``data`` (every field, in order) as its fields, ``given`` as set."""
    event = _new(cls)
    _set(event, "__dict__", data)
    _set_fields_set(event, given)
    _set_extra(event, None)
    _set_private(event, None)
    return event


def read_stored(cls: type[E], originator_id: UUID, version: int, state: dict[str, Any]) -> E:
    """An event from its header and its stored JSON state (upcast already), trusted as the
    ledger wrote it: each value is only turned into its field's type (text into Decimal,
    datetime, enum).

    The ledger writes an event's own fields whole, so a stored state usually holds exactly the
    fields after the header: the class's generated reader makes the event's fields of it at
    once (``_stored_reader``). Any other state (one upcast from an older class version, say) is
    read field by field and goes through ``construct``."""
    plan = _PLANS.get(cls) or _plan(cls)
    data = plan.read(originator_id, version, state)
    if data is not None:
        return _made(cls, data, set(data))
    for name, reader in plan.readers:
        value = state.get(name)
        if value is not None:
            state[name] = reader(value)
    state["originator_id"] = originator_id
    state["originator_version"] = version
    return construct(cls, state)


__all__ = [cls.__name__ for cls in EVENT_TYPES] + [
    "EVENT_TYPES",
    "EVENT_TYPES_BY_NAME",
    "OrderEvent",
    "OrderSpec",
    "construct",
    "read_stored",
]
