"""A record of the log (``orderledger events``, ``GET /events``) shows, read straight from its
event's stored state, exactly what the decoded event's record shows: for every event class and
any values of its fields (hypothesis), for a whole simulated session, and for a state stored at
an older class version (which is decoded)."""

from __future__ import annotations

import contextlib
import typing
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson
import pytest
from eventsourcing.persistence import MapperDeserialisationError
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from orderledger.domain.construction import construct
from orderledger.domain.events import EVENT_TYPES, OrderEvent
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.simulator import simulate_lines
from orderledger.infrastructure.audit.search import event_records
from orderledger.infrastructure.results.filter import Filter
from orderledger.infrastructure.results.log import EventRecord
from orderledger.infrastructure.storage.codecs import event_json_reader
from orderledger.infrastructure.storage.mapper import LedgerMapper
from tests.support.typed_values import value_of

MAPPER: LedgerMapper = OrderLedger("memory://").mapper


def events_of(cls: type[OrderEvent]) -> st.SearchStrategy[OrderEvent]:
    hints = typing.get_type_hints(cls, include_extras=True)
    values = st.fixed_dictionaries({name: value_of(hints[name]) for name in cls.model_fields})
    return values.map(lambda given: construct(cls, given))


def row_of(event: OrderEvent, position: int, message_id: int | None) -> tuple[Any, ...]:
    """The event as the log stores it (``search.EVENT_SELECT``'s columns)."""
    stored = MAPPER.to_stored_event(event)
    return (
        str(stored.originator_id),
        stored.originator_version,
        stored.topic,
        stored.state,
        message_id,
        position,
    )


def shown_both_ways(row: tuple[Any, ...], validated: bool = False) -> tuple[bytes, bytes]:
    """The record's JSON read straight from the stored state, and read from the decoded event
    (``validated``: decoded as ``verify`` decodes it, each value checked and made its type)."""
    record = event_records(MAPPER)([row])[0]
    straight = orjson.dumps(record.to_json())
    assert "_packed" in vars(record)  # shown without decoding the event
    event = MAPPER.decode(row[2], bytes(row[3]), row[0], row[1], trusted=not validated)
    return straight, orjson.dumps(EventRecord.of(row[5], event, row[4]).to_json())


def test_every_event_class_is_shown_from_its_stored_state() -> None:
    assert all(event_json_reader(cls) is not None for cls in EVENT_TYPES)


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda cls: cls.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_a_stored_event_is_shown_as_its_decoded_event(cls: type[OrderEvent], data: st.DataObject) -> None:
    event = data.draw(events_of(cls))
    message_id = data.draw(st.none() | st.integers(1, 2**62))
    row = row_of(event, data.draw(st.integers(1, 2**62)), message_id)
    try:  # any value of the field's type: the ledger's own events hold only valid ones
        straight, decoded = shown_both_ways(row, validated=True)
    except MapperDeserialisationError:
        assume(False)
    assert straight == decoded


def test_a_state_not_of_the_current_class_version_is_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    event = construct(
        EVENT_TYPES[0],
        {name: None for name in EVENT_TYPES[0].model_fields}
        | {
            "originator_id": UUID(int=1),
            "originator_version": 1,
            "ts_recorded": datetime(2026, 1, 1, tzinfo=UTC),
            "ts_event": datetime(2026, 1, 1, tzinfo=UTC),
            "source": "s",
            "client_order_id": "c",
            "account": "a",
            "venue": "v",
            "instrument": "i",
            "side": "buy",
            "order_type": "limit",
            "quantity": Decimal("1"),
            "tags": {},
            "aliases": {},
            "external": False,
        },
    )
    row = row_of(event, 1, None)
    # Stored by an older version of its class: upcast on reading, so decoded to be shown
    state = orjson.loads(row[3])
    older = (*row[:3], orjson.dumps({**state, "class_version": 0}), *row[4:])
    monkeypatch.setattr(type(event), "upcast_v0_v1", lambda state: None, raising=False)
    assert MAPPER.current_state(older[2], older[3]) is None
    straight, decoded = shown_both_ways(older)
    assert straight == decoded


def test_a_sessions_log_is_shown_as_its_decoded_events() -> None:
    with contextlib.closing(OrderLedger("memory://")) as ledger:
        ledger.ingest_lines(simulate_lines(11, 60))
        with ledger.db.read() as tx:
            rows = tx.all(
                "SELECT originator_id, originator_version, topic, state, message_id, notification_id"
                " FROM events ORDER BY notification_id"
            )
        listed = [orjson.dumps(r.to_json()) for r in ledger.audit.iter_events(Filter())]
    assert len(rows) == len(listed) > 100
    both = [shown_both_ways(row) for row in rows]
    assert [straight for straight, _ in both] == listed
    assert [straight == decoded for straight, decoded in both] == [True] * len(rows)
