"""Stored events are read back without validation, to the same events validation would give.

The ledger validates at the edge and builds its events with ``construct`` (no pydantic validation);
on replay it reads its own rows with ``read_stored`` (values only turned into their types).
``verify`` still validates (``trusted=False``). These tests pin that the shortcuts change nothing:
the same objects, the same payload bytes, and class-version upcasting on both paths.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest
from eventsourcing.persistence import MapperDeserialisationError
from hypothesis import given, settings
from hypothesis import strategies as st

from orderledger.domain import events
from orderledger.domain.construction import construct
from orderledger.domain.events import EVENT_TYPES, OrderCanceled
from orderledger.domain.values import Status
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.simulator import simulate_lines
from orderledger.infrastructure.storage.mapper import TOPICS, LedgerMapper


def _stored(url: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(OrderLedger(url)) as ledger:
        ledger.ingest_lines(simulate_lines(11, 30))
        with ledger.db.read() as tx:
            rows = tx.all("SELECT topic, state, originator_id, originator_version FROM events")
    return [(r[0], bytes(r[1]), r[2], r[3]) for r in rows]


_SAMPLE = _stored("memory://")
_HEADER = {
    "ts_recorded": "2026-11-20T10:00:00.000000Z",
    "ts_event": "2026-11-20T10:00:00.000000Z",
    "source": "ingest",
    "client_order_id": "c-1",
    "account": "acc1",
    "venue": "V1",
    "instrument": "BTC-USD",
}
"""The fields every stored event state begins with, for states written by hand."""
_MAPPER: LedgerMapper = OrderLedger("memory://").mapper


def test_trusted_reading_gives_the_validated_event() -> None:
    mapper = _MAPPER
    kinds = set()
    for topic, state, originator_id, version in _SAMPLE:
        fast = mapper.decode(topic, state, originator_id, version)
        checked = mapper.decode(topic, state, originator_id, version, trusted=False)
        kinds.add(type(fast).__name__)
        assert fast == checked
        assert list(fast.__dict__.items()) == list(checked.__dict__.items())  # values, types, order
        # Written again, the payload is byte for byte what the ledger stored.
        assert mapper.to_stored_event(fast).state == state
    # The simulated session has requests, acks, fills, cancels: more than one path is covered.
    assert {"OrderRequested", "OrderAccepted", "OrderFilled", "OrderCanceled"} <= kinds


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_construct_equals_model_construct(data: st.DataObject) -> None:
    """Any subset of a stored event's optional fields: defaults filled in, fields in order."""
    topic, state, originator_id, version = data.draw(st.sampled_from(_SAMPLE))
    event = _MAPPER.decode(topic, state, originator_id, version)
    cls = type(event)
    required = {n for n, f in cls.model_fields.items() if f.is_required()}
    optional = sorted(set(cls.model_fields) - required)
    keep = data.draw(st.sets(st.sampled_from(optional))) if optional else set()
    values = {n: v for n, v in event.__dict__.items() if n in required or n in keep}
    ours = construct(cls, dict(values))
    theirs = events.model_construct(cls, dict(values))  # the domain's own way
    assert list(ours.__dict__.items()) == list(theirs.__dict__.items())
    assert ours.model_fields_set == theirs.model_fields_set


def test_construct_refuses_an_unknown_field() -> None:
    topic, state, originator_id, version = next(r for r in _SAMPLE if r[0] == TOPICS[OrderCanceled])
    values = dict(_MAPPER.decode(topic, state, originator_id, version).__dict__)
    with pytest.raises(TypeError, match="OrderCanceled has no field 'quantity'"):
        construct(OrderCanceled, {**values, "quantity": 1})


def test_construct_checks_a_shape_once_and_refuses_a_wrong_one_every_time() -> None:
    topic, state, originator_id, version = next(r for r in _SAMPLE if r[0] == TOPICS[OrderCanceled])
    values = dict(_MAPPER.decode(topic, state, originator_id, version).__dict__)
    first, second = construct(OrderCanceled, dict(values)), construct(OrderCanceled, dict(values))
    assert first == second and first.model_fields_set is second.model_fields_set  # frozen: shared
    for _ in range(2):
        with pytest.raises(TypeError, match="OrderCanceled has no field 'quantity'"):
            construct(OrderCanceled, {**values, "quantity": 1})
        with pytest.raises(TypeError, match="OrderCanceled needs 'client_order_id'"):
            construct(OrderCanceled, {k: v for k, v in values.items() if k != "client_order_id"})
    # The same names in another order are another shape: checked, and the same event.
    reordered = dict(reversed(list(values.items())))
    assert construct(OrderCanceled, reordered) == first


def test_class_version_upcasting_applies_on_both_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """An event class at version 2 reads rows written at version 1 through its upcaster."""
    mapper = _MAPPER
    header = dict(_HEADER)
    v1 = orjson.dumps({**header})  # written at version 1: no reason, no class_version

    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state.setdefault("reason", "canceled before reasons were recorded")

    monkeypatch.setattr(OrderCanceled, "class_version", 2)
    monkeypatch.setattr(OrderCanceled, "upcast_v1_v2", staticmethod(upcast_v1_v2), raising=False)
    oid = "3f1c2a9e-0000-5000-8000-000000000001"
    for trusted in (True, False):
        event = mapper.decode(TOPICS[OrderCanceled], v1, oid, 4, trusted=trusted)
        assert isinstance(event, OrderCanceled)
        assert event.reason == "canceled before reasons were recorded"
        assert event.ts_event == datetime(2026, 11, 20, 10, tzinfo=UTC)
    # Written now, the payload says which version it is.
    state = orjson.loads(mapper.to_stored_event(event).state)
    assert state["class_version"] == 2


def test_every_event_class_has_a_plan() -> None:
    """Each event type can be built by ``construct`` from its required fields alone."""
    for cls in EVENT_TYPES:
        required = [n for n, f in cls.model_fields.items() if f.is_required()]
        with pytest.raises(TypeError, match=f"{cls.__name__} needs"):
            construct(cls, {})
        assert required  # the header at least


def test_a_stored_state_with_a_field_more_or_less_is_read_by_the_general_path() -> None:
    """Each class's generated reader takes only a state holding exactly its fields after the
    header; a state with one left out (a default then fills it) or one added (refused) is read
    field by field, as before."""
    topic, state, originator_id, version = next(r for r in _SAMPLE if r[0] == TOPICS[OrderCanceled])
    whole = _MAPPER.decode(topic, state, originator_id, version)
    fields = orjson.loads(state)
    assert "reason" in fields
    del fields["reason"]
    short = _MAPPER.decode(topic, orjson.dumps(fields), originator_id, version)
    assert isinstance(short, OrderCanceled)
    # (a field stored only when given, absent from both states, is not among the fields given)
    absent = set(events.stored_when_given(OrderCanceled)) - set(fields)
    assert (
        short.reason is None and short.model_fields_set == set(whole.model_fields_set) - {"reason"} - absent
    )
    assert list(short.__dict__) == list(whole.__dict__)  # fields in declaration order all the same
    with pytest.raises(MapperDeserialisationError, match="OrderCanceled has no field 'quantity'"):
        _MAPPER.decode(topic, orjson.dumps({**orjson.loads(state), "quantity": "1"}), originator_id, version)


def test_events_read_back_share_their_fields_set_and_nothing_changes_it() -> None:
    """The events of one class read back hold one set of the fields given (pydantic's fields
    set): they are frozen, and a copy with an update changes a set of its own."""
    accepted = [r for r in _SAMPLE if r[0] == TOPICS[events.OrderAccepted]][:2]
    first, second = (_MAPPER.decode(*row) for row in accepted)
    assert first.model_fields_set is second.model_fields_set
    given = set(first.model_fields_set)
    updated = first.model_copy(update={"venue_order_id": "V-other"})
    assert "venue_order_id" in updated.model_fields_set
    assert first.model_fields_set == second.model_fields_set == given
    with pytest.raises(ValueError, match="frozen"):
        first.venue_order_id = "V-other"  # type: ignore[attr-defined]
    assert first.model_fields_set == given


def test_a_restatements_amend_target_is_read_back_as_amounts() -> None:
    """An order restated while an amendment is pending keeps the amendment's target (a list of
    amounts, either may be None): trusted reading gives the amounts validation gives."""
    header = dict(_HEADER)
    for target in (["4", "101.5"], [None, "99"], ["3", None]):
        state = orjson.dumps(
            {**header, "base_status": Status.ACCEPTED.value, "pending_amend": True, "amend_target": target,
             "quantity": "5", "price": "100"}
        )  # fmt: skip
        oid = "3f1c2a9e-0000-5000-8000-000000000001"
        fast = _MAPPER.decode(TOPICS[events.OrderRestated], state, oid, 3)
        assert isinstance(fast, events.OrderRestated)
        checked = _MAPPER.decode(TOPICS[events.OrderRestated], state, oid, 3, trusted=False)
        assert fast == checked
        assert fast.amend_target == [None if v is None else Decimal(v) for v in target]
        assert _MAPPER.to_stored_event(fast).state == _MAPPER.to_stored_event(checked).state
