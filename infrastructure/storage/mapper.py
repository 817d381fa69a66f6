"""Maps frozen pydantic events to stored rows and back (orjson, with class-version upcasting).

The eventsourcing base ``Mapper`` upcasts dataclass events only; this mapper keeps the same
contract for pydantic events: an event class with ``class_version = N`` and static methods
``upcast_vK_vK+1(state)`` reads old rows written at any earlier version.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID, SafeUUID

import orjson
from eventsourcing.persistence import Mapper, MapperDeserialisationError, StoredEvent

from orderledger.domain.events import EVENT_TYPES, OrderEvent
from orderledger.domain.values import format_decimal, format_timestamp

TOPICS: dict[type[OrderEvent], str] = {cls: f"domain.events:{cls.__name__}" for cls in EVENT_TYPES}
CLASSES: dict[str, type[OrderEvent]] = {topic: cls for cls, topic in TOPICS.items()}
_HEADER = {"originator_id", "originator_version"}


@dataclass(frozen=True)
class IndexedStoredEvent(StoredEvent):
    """A stored event with the columns that make the log searchable."""

    event_type: str = ""
    client_order_id: str = ""
    account: str = ""
    venue: str = ""
    instrument: str = ""
    ts_event: str = ""
    ts_recorded: str = ""
    source: str = ""


def _encode_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format_decimal(value)
    raise TypeError(f"cannot store {type(value).__name__} in an event")


class LedgerMapper(Mapper[UUID]):
    """orjson + pydantic mapper; cipher and compressor from the environment still apply."""

    def to_stored_event(self, domain_event: Any) -> IndexedStoredEvent:
        event: OrderEvent = domain_event
        cls = type(event)
        state = {k: v for k, v in event.__dict__.items() if k not in _HEADER}
        if cls.class_version > 1:
            state["class_version"] = cls.class_version
        # orjson writes enums, dicts and UTC times itself; decimals go through format_decimal.
        data = orjson.dumps(state, default=_encode_default, option=orjson.OPT_UTC_Z)
        if self.compressor:
            data = self.compressor.compress(data)
        if self.cipher:
            data = self.cipher.encrypt(data)
        return IndexedStoredEvent(
            originator_id=event.originator_id,
            originator_version=event.originator_version,
            topic=TOPICS[cls],
            state=data,
            event_type=cls.__name__,
            client_order_id=event.client_order_id,
            account=event.account,
            venue=event.venue,
            instrument=event.instrument,
            ts_event=format_timestamp(event.ts_event),
            ts_recorded=format_timestamp(event.ts_recorded),
            source=event.source,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        return self.decode(
            stored_event.topic,
            stored_event.state,
            stored_event.originator_id,
            stored_event.originator_version,
        )

    def decode(
        self, topic: str, data: bytes, originator_id: Any, version: int, *, trusted: bool = False
    ) -> OrderEvent:
        """Rebuild one event from its stored topic and state.

        ``trusted``: the row was written by this ledger (replay, catch-up, rebuild), so it is not
        validated again: each field is converted to its type and the event constructed as is
        (see ``_Plan``). Upcasting from older class versions applies either way.
        """
        cls, state = self.load(topic, data, originator_id, version)
        return self.build(cls, state, originator_id, version, trusted=trusted)

    def load(
        self, topic: str, data: bytes, originator_id: Any, version: int
    ) -> tuple[type[OrderEvent], dict[str, Any]]:
        """The first half of ``decode``: the event class and its stored fields (decrypted,
        decompressed, parsed and upcast to the current class version), not yet an event: enough
        to route a row (a partitioned rebuild) before paying for the event."""
        try:
            cls = CLASSES[topic]
            if self.cipher:
                data = self.cipher.decrypt(data)
            if self.compressor:
                data = self.compressor.decompress(data)
            state: dict[str, Any] = orjson.loads(data)
            from_version = state.pop("class_version", 1)
            while from_version < cls.class_version:
                getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(state)
                from_version += 1
        except Exception as error:
            if not self.cipher and bytes(data[:1]) != b"{":
                hint = "its payload is encrypted: set CIPHER_KEY to the key it was written with"
            elif self.cipher and type(error).__name__ in ("InvalidTag", "ValueError", "Error"):
                hint = "decryption failed: CIPHER_KEY is not the key these events were written with"
            else:
                hint = str(error)
            raise _failure(topic, originator_id, version, hint) from error
        return cls, state

    @staticmethod
    def build(
        cls: type[OrderEvent],
        state: dict[str, Any],
        originator_id: Any,
        version: int,
        *,
        trusted: bool = False,
    ) -> OrderEvent:
        """The second half of ``decode``: the event from ``load``'s fields (which it consumes)."""
        state["originator_id"] = originator_id
        state["originator_version"] = version
        try:
            if trusted:
                return _plan(cls).build(state)
            return cls.model_validate(state)
        except Exception as error:
            raise _failure(TOPICS[cls], originator_id, version, str(error)) from error


def _failure(topic: str, originator_id: Any, version: int, hint: str) -> MapperDeserialisationError:
    return MapperDeserialisationError(
        f"cannot decode stored event {topic!r} of {originator_id} v{version}: {hint}"
    )


# ---------------------------------------------------------------------- trusted decoding


def _decimal(text: Any) -> Decimal:
    number = Decimal(text)
    return number if number else _ZERO  # -0 reads as 0, as validation would make it


def _time(text: Any) -> datetime:
    moment = text if isinstance(text, datetime) else datetime.fromisoformat(text)
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


def _uuid(value: Any) -> UUID:
    if isinstance(value, UUID):
        return value
    found = object.__new__(UUID)  # what UUID(text) builds, without re-checking the ledger's own text
    _set(found, "int", int(str(value).replace("-", ""), 16))
    _set(found, "is_safe", SafeUUID.unknown)
    return found


_ZERO = Decimal(0)
_set = object.__setattr__
_CONVERTERS: dict[type, Callable[[Any], Any]] = {Decimal: _decimal, datetime: _time, UUID: _uuid}


def _converter(annotation: Any) -> Callable[[Any], Any] | None:
    """How a stored JSON value becomes the field's type (None: it already is one)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _converter(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                return _converter(arg)
        return None
    if isinstance(annotation, type):
        if issubclass(annotation, Enum):
            return dict(annotation._value2member_map_).__getitem__  # Enum(value) is 30 times slower
        return _CONVERTERS.get(annotation)
    return None


class _Plan:
    """How to build one event class from a trusted stored state, derived from its fields:
    each value converted to its field's type, the model set up as ``model_construct`` does
    (fields given = fields set), without running its validators."""

    def __init__(self, cls: type[OrderEvent]) -> None:
        self.cls = cls
        self.names = tuple(cls.model_fields)
        self.known = frozenset(self.names)
        self.optional = {name: info for name, info in cls.model_fields.items() if not info.is_required()}
        self.converted: list[tuple[str, Callable[[Any], Any]]] = []
        for name, info in cls.model_fields.items():
            convert = _converter(info.annotation)
            if convert is not None:
                self.converted.append((name, convert))
        # What model_construct would do beyond setting the fields: nothing, for these events.
        self.plain = not (
            cls.__pydantic_post_init__ or cls.__private_attributes__ or cls.__pydantic_root_model__
        )

    def build(self, state: dict[str, Any]) -> OrderEvent:
        given = set(state)
        if state.keys() != self.known:  # rows of older versions may lack fields that have defaults
            unknown = given - self.known
            if unknown:
                raise ValueError(f"stored event has unknown fields {sorted(unknown)}")
            for name in self.known - given:
                if name not in self.optional:
                    raise ValueError(f"stored event has no {name!r}")
                state[name] = self.optional[name].get_default(call_default_factory=True)
        for name, convert in self.converted:
            value = state[name]
            if value is not None:
                state[name] = convert(value)
        values = {name: state[name] for name in self.names}
        if not self.plain:
            return self.cls.model_construct(given, **values)
        event = object.__new__(self.cls)
        _set(event, "__dict__", values)
        _set(event, "__pydantic_fields_set__", given)
        _set(event, "__pydantic_extra__", None)
        _set(event, "__pydantic_private__", None)
        return event


_MISSING = object()
_PLANS: dict[type[OrderEvent], _Plan] = {}


def _plan(cls: type[OrderEvent]) -> _Plan:
    found = _PLANS.get(cls)
    if found is None:
        found = _PLANS[cls] = _Plan(cls)
    return found
