"""Maps frozen pydantic events to stored rows and back (orjson, with class-version upcasting).

The eventsourcing base ``Mapper`` upcasts dataclass events only; this mapper keeps the same
contract for pydantic events: an event class with ``class_version = N`` and static methods
``upcast_vK_vK+1(state)`` reads old rows written at any earlier version.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import Mapper, MapperDeserialisationError, StoredEvent

from orderledger.domain.events import EVENT_TYPES, OrderEvent, read_stored
from orderledger.domain.values import format_decimal, format_timestamp

TOPICS: dict[type[OrderEvent], str] = {cls: f"domain.events:{cls.__name__}" for cls in EVENT_TYPES}
CLASSES: dict[str, type[OrderEvent]] = {topic: cls for cls, topic in TOPICS.items()}
_new_stored = object.__new__
_set = object.__setattr__


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
        values = event.__dict__
        state = values.copy()  # the event's own fields, in order, less the header
        del state["originator_id"], state["originator_version"]
        if cls.class_version > 1:
            state["class_version"] = cls.class_version
        # orjson writes enums, dicts and UTC times itself; decimals go through format_decimal.
        data = orjson.dumps(state, default=_encode_default, option=orjson.OPT_UTC_Z)
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
                "topic": TOPICS[cls],
                "state": data,
                "event_type": cls.__name__,
                "client_order_id": values["client_order_id"],
                "account": values["account"],
                "venue": values["venue"],
                "instrument": values["instrument"],
                "ts_event": format_timestamp(values["ts_event"]),
                "ts_recorded": format_timestamp(values["ts_recorded"]),
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
        state["originator_id"] = originator_id
        state["originator_version"] = version
        try:
            if trusted:
                return read_stored(cls, state)
            return cls.model_validate(state)
        except Exception as error:
            raise _failure(TOPICS[cls], originator_id, version, str(error)) from error


def _failure(topic: str, originator_id: Any, version: int, hint: str) -> MapperDeserialisationError:
    return MapperDeserialisationError(
        f"cannot decode stored event {topic!r} of {originator_id} v{version}: {hint}"
    )
