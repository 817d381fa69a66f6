"""Maps frozen pydantic events to stored rows and back (orjson, with class-version upcasting).

The eventsourcing base ``Mapper`` upcasts dataclass events only; this mapper keeps the same
contract for pydantic events: an event class with ``class_version = N`` and static methods
``upcast_vK_vK+1(state)`` reads old rows written at any earlier version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, get_args
from uuid import UUID

import orjson
from eventsourcing.persistence import Mapper, MapperDeserialisationError, StoredEvent
from pydantic import BaseModel

from orderledger.domain.events import EVENT_TYPES, OrderEvent, stored_when_given
from orderledger.domain.values import format_decimal, format_timestamp
from orderledger.infrastructure.storage.codecs import read_stored

TOPICS: dict[type[OrderEvent], str] = {cls: f"domain.events:{cls.__name__}" for cls in EVENT_TYPES}
CLASSES: dict[str, type[OrderEvent]] = {topic: cls for cls, topic in TOPICS.items()}
_new_stored = object.__new__
_set = object.__setattr__
_UTC_Z = orjson.OPT_UTC_Z


@dataclass(frozen=True, slots=True)
class _Encoding:
    """What writing one event class needs, worked out once: its topic and name, the fields that
    hold amounts (written as text before orjson sees them, which is cheaper than orjson's call
    back for each), and the fields stored only when given (``WHEN_GIVEN``). The class version is
    read from the class at each write, as the decoder reads it, so the two always agree."""

    topic: str
    name: str
    amounts: tuple[str, ...]
    when_given: tuple[str, ...]


def _is_amount(annotation: Any) -> bool:
    """True for Decimal, optional or annotated (``DecimalStr | None``)."""
    return annotation is Decimal or any(_is_amount(inner) for inner in get_args(annotation))


def _encoding(cls: type[OrderEvent]) -> _Encoding:
    amounts = tuple(name for name, info in cls.model_fields.items() if _is_amount(info.annotation))
    return _Encoding(TOPICS[cls], cls.__name__, amounts, stored_when_given(cls))


_ENCODINGS: dict[type[OrderEvent], _Encoding] = {cls: _encoding(cls) for cls in EVENT_TYPES}


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
    if isinstance(value, BaseModel):  # a value of its own fields (an order's terms): those given
        return {name: item for name, item in value.__dict__.items() if item is not None}
    raise TypeError(f"cannot store {type(value).__name__} in an event")


_PREFIX = b'{"ts_recorded":"'
_BETWEEN = b'","ts_event":"'
_RECORDED_AT = len(_PREFIX)
_EVENT_AFTER = len(_BETWEEN)
_WHOLE_SECOND = len("2026-11-25T00:00:00Z")  # a time orjson wrote without a fraction


def _times(data: bytes, ts_recorded: datetime, ts_event: datetime) -> tuple[str, str]:
    """The index columns' texts of the two times (``format_timestamp``), read from the payload.

    Every event's payload begins with them, written by orjson in UTC with a Z: the same text but
    that orjson leaves out a fraction of zero, which the columns spell ``.000000``. Reading them
    back costs a fraction of formatting each time again. Times in another zone (orjson would
    write their offset) are formatted."""
    if ts_recorded.tzinfo is not UTC or ts_event.tzinfo is not UTC or not data.startswith(_PREFIX):
        return format_timestamp(ts_recorded), format_timestamp(ts_event)
    end = data.index(b'"', _RECORDED_AT)
    recorded = data[_RECORDED_AT:end].decode()
    start = end + _EVENT_AFTER
    if data[end:start] != _BETWEEN:  # pragma: no cover - every event's header is in this order
        return format_timestamp(ts_recorded), format_timestamp(ts_event)
    event = data[start : data.index(b'"', start)].decode()
    if len(recorded) == _WHOLE_SECOND:
        recorded = recorded[:-1] + ".000000Z"
    if len(event) == _WHOLE_SECOND:
        event = event[:-1] + ".000000Z"
    return recorded, event


class LedgerMapper(Mapper[UUID]):
    """orjson + pydantic mapper; cipher and compressor from the environment still apply."""

    def to_stored_event(self, domain_event: Any) -> IndexedStoredEvent:
        event: OrderEvent = domain_event
        cls = type(event)
        encoding = _ENCODINGS.get(cls) or _encoding(cls)
        values = event.__dict__
        state = values.copy()  # the event's own fields, in order, less the header
        del state["originator_id"], state["originator_version"]
        for name in encoding.amounts:
            amount = state[name]
            if type(amount) is Decimal:  # None, or anything else, is orjson's as before
                state[name] = format_decimal(amount)
        for name in encoding.when_given:
            if state[name] is None:
                del state[name]  # stored as an event of before the field was
        if cls.class_version > 1:
            state["class_version"] = cls.class_version
        # orjson writes enums, dicts and UTC times itself; any other decimal goes through
        # format_decimal (_encode_default), as the amounts above did.
        data = orjson.dumps(state, default=_encode_default, option=_UTC_Z)
        ts_recorded, ts_event = _times(data, values["ts_recorded"], values["ts_event"])
        if self.compressor:
            data = self.compressor.compress(data)
        if self.cipher:
            data = self.cipher.encrypt(data)
        # Filled in directly rather than through the frozen dataclass's __init__ (one
        # object.__setattr__ per field): one of these is made per event on the hot path.
        stored = _new_stored(IndexedStoredEvent)
        _set(
            stored,
            "__dict__",
            {
                "originator_id": values["originator_id"],
                "originator_version": values["originator_version"],
                "topic": encoding.topic,
                "state": data,
                "event_type": encoding.name,
                "client_order_id": values["client_order_id"],
                "account": values["account"],
                "venue": values["venue"],
                "instrument": values["instrument"],
                "ts_event": ts_event,
                "ts_recorded": ts_recorded,
                "source": values["source"],
            },
        )
        return stored

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        return self.decode(
            stored_event.topic,
            stored_event.state,
            stored_event.originator_id,
            stored_event.originator_version,
        )

    def decode(
        self, topic: str, data: bytes, originator_id: Any, version: int, *, trusted: bool = True
    ) -> OrderEvent:
        """Rebuild one event from its stored topic and state.

        The ledger validated every event before it wrote it, so by default a stored event is
        only read back (``read_stored``: each value turned into its field's type), not validated
        again. ``trusted=False`` (``verify``) validates it as if it came from outside. Upcasting
        from older class versions applies either way."""
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

    def current_state(
        self, topic: str, data: bytes | memoryview
    ) -> tuple[type[OrderEvent], dict[str, Any]] | None:
        """``load`` of a state stored at its class's current version (nothing to upcast): the
        class and its stored fields as they are; None for any other (an older version, or one
        that cannot be read: ``load`` says why). A plain state is parsed where it lies."""
        cls = CLASSES.get(topic)
        if cls is None:
            return None
        try:
            if self.cipher:
                data = self.cipher.decrypt(bytes(data))
            if self.compressor:
                data = self.compressor.decompress(bytes(data))
            state: dict[str, Any] = orjson.loads(data)
        except Exception:
            return None
        return (cls, state) if state.pop("class_version", 1) == cls.class_version else None

    @staticmethod
    def build(
        cls: type[OrderEvent],
        state: dict[str, Any],
        originator_id: Any,
        version: int,
        *,
        trusted: bool = True,
    ) -> OrderEvent:
        """The second half of ``decode``: the event from ``load``'s fields (which it consumes)."""
        try:
            if trusted:
                if type(originator_id) is not UUID:
                    originator_id = UUID(str(originator_id))
                return read_stored(cls, originator_id, version, state)
            state["originator_id"] = originator_id
            state["originator_version"] = version
            return cls.model_validate(state)
        except Exception as error:
            raise _failure(TOPICS[cls], originator_id, version, str(error)) from error


def _failure(topic: str, originator_id: Any, version: int, hint: str) -> MapperDeserialisationError:
    return MapperDeserialisationError(
        f"cannot decode stored event {topic!r} of {originator_id} v{version}: {hint}"
    )
