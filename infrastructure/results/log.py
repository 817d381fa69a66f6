"""Rows of the log and the journal: one event of the global log (:class:`EventRecord`), one
inbound message (:class:`MessageRecord`), one event of an order with the message that produced
it (:class:`HistoryEntry`), and one version of an instrument's definition (:class:`InstrumentRow`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar

from orderledger.domain.events import OrderEvent, stored_when_given
from orderledger.domain.instrument import Definition
from orderledger.domain.outcomes import Outcome
from orderledger.infrastructure.results.rows import HIDDEN, ResultRow, plain
from orderledger.infrastructure.storage.codecs import event_json_reader


@dataclass(frozen=True)
class EventRecord(ResultRow):
    """One event of the global log: its header, then its payload (JSON-ready), and the event."""

    position: int
    type: str
    client_order_id: str
    version: int
    ts_event: datetime
    ts_recorded: datetime
    source: str
    account: str
    venue: str
    instrument: str
    message_id: int | None
    payload: Mapping[str, Any]
    event: OrderEvent = field(metadata=HIDDEN, compare=False, repr=False)

    HEADER: ClassVar[frozenset[str]] = frozenset(
        {
            "originator_id",
            "originator_version",
            "client_order_id",
            "ts_event",
            "ts_recorded",
            "source",
            "account",
            "venue",
            "instrument",
        }
    )

    @classmethod
    def of(cls, position: int, event: OrderEvent, message_id: int | None) -> EventRecord:
        """The record of a decoded event at a log position."""
        return cls(
            position=position,
            type=event.type_name(),
            client_order_id=event.client_order_id,
            version=event.originator_version,
            ts_event=event.ts_event,
            ts_recorded=event.ts_recorded,
            source=event.source,
            account=event.account,
            venue=event.venue,
            instrument=event.instrument,
            message_id=message_id,
            payload=_payload(event, cls.HEADER),
            event=event,
        )


def shown_stored(
    position: int, kind: type[OrderEvent], version: int, state: dict[str, Any], message_id: int | None
) -> dict[str, Any] | None:
    """What ``EventRecord.to_json`` shows of the record of an event stored at its class's current
    version, straight from its stored fields (``state``, which it consumes): none of them
    is made a typed value and no event is built (``codecs.event_json_reader``). None when
    the state is not exactly the class's fields (the event is decoded instead)."""
    read = event_json_reader(kind)
    values = None if read is None else read(state)
    if values is None:
        return None
    take = values.pop  # the header's fields: what is left is the payload, in its order
    return {
        "position": position,
        "type": kind.type_name(),
        "client_order_id": take("client_order_id"),
        "version": version,
        "ts_event": take("ts_event"),
        "ts_recorded": take("ts_recorded"),
        "source": take("source"),
        "account": take("account"),
        "venue": take("venue"),
        "instrument": take("instrument"),
        "message_id": message_id,
        "payload": values,
    }


def _payload(event: OrderEvent, header: frozenset[str]) -> dict[str, Any]:
    """An event's fields after its header, JSON-ready, as stored: a field stored only when given
    (``WHEN_GIVEN``) is left out while it is None, so an event reads as it did before the field."""
    payload = event.model_dump(mode="json", exclude=set(header))
    for name in stored_when_given(type(event)):
        if payload[name] is None:
            del payload[name]
    return payload


@dataclass(frozen=True)
class MessageRecord(ResultRow):
    """One inbound message of the journal, verbatim, with its outcome.

    ``outcome`` is an ``Outcome`` (applied, duplicate, parked, ignored, rejected).
    """

    message_id: int
    received_at: datetime
    origin: str
    line: int | None
    format: str
    raw: str
    outcome: Outcome
    reason: str | None
    client_order_id: str | None
    events: int


@dataclass(frozen=True)
class HistoryEntry:
    """One event of an order, with the message that produced it (journal ID, raw bytes, origin
    and line; all None for an event no message produced)."""

    position: int
    event: OrderEvent
    message_id: int | None
    message_raw: bytes | None
    message_origin: str | None
    message_line: int | None

    @property
    def record(self) -> EventRecord:
        """The event as a record of the global log."""
        return EventRecord.of(self.position, self.event, self.message_id)

    def message_json(self) -> dict[str, Any] | None:
        """The message as JSON-ready data (raw bytes as UTF-8 text, invalid bytes replaced)."""
        if self.message_id is None:
            return None
        return {
            "message_id": self.message_id,
            "origin": self.message_origin,
            "line": self.message_line,
            "raw": (self.message_raw or b"").decode("utf-8", "replace"),
        }

    def to_json(self) -> dict[str, Any]:
        """The order's history row: version, times and source, the payload without the order's
        own identity (``None`` values left out), and the message."""
        record = self.record
        return {
            "version": record.version,
            "position": record.position,
            "type": record.type,
            "ts_event": plain(record.ts_event),
            "ts_recorded": plain(record.ts_recorded),
            "source": record.source,
            "payload": {k: v for k, v in record.payload.items() if v is not None},
            "message": self.message_json(),
        }

    def to_log_json(self) -> dict[str, Any]:
        """The full event record with its message (the HTTP API's ``/orders/{id}/history``)."""
        return {**self.record.to_json(), "message": self.message_json()}


def definition_of(event: Any) -> Definition:
    """The definition an ``InstrumentDefined`` event records."""
    return Definition(**{f.name: getattr(event, f.name) for f in fields(Definition)})


@dataclass(frozen=True)
class InstrumentRow:
    """One version of an instrument's definition, from the log: the definition (typed), the
    version, and the event that recorded it."""

    record: EventRecord
    definition: Definition

    @classmethod
    def of(cls, record: EventRecord) -> InstrumentRow:
        """The row of an ``InstrumentDefined`` event's record."""
        return cls(record, definition_of(record.event))

    @property
    def venue(self) -> str:
        return self.record.venue

    @property
    def instrument(self) -> str:
        return self.record.instrument

    @property
    def version(self) -> int:
        return self.record.version

    def to_json(self) -> dict[str, Any]:
        """Venue, instrument and version, the definition's fields, then where it was recorded."""
        record = self.record
        return {
            "venue": record.venue,
            "instrument": record.instrument,
            "version": record.version,
            **record.payload,
            "ts_event": plain(record.ts_event),
            "ts_recorded": plain(record.ts_recorded),
            "source": record.source,
            "position": record.position,
            "message_id": record.message_id,
        }
