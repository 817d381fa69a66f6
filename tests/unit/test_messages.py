"""Messages are types described once: the models drive parsing, the JSON format and the docs.

Given the message models, the docs' field tables, the domain's request (``OrderSpec``), the
stored event (``OrderRequested``) and the handler table must agree; a message survives
``message_to_json`` unchanged; and the outcome vocabulary is the one the journal stores.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.events import REQUEST_FIELDS, InstrumentDefined, OrderEvent, OrderRequested, OrderSpec
from orderledger.domain.instrument import Definition
from orderledger.domain.order import SPEC_FIELDS
from orderledger.domain.order_terms import OrderTerms
from orderledger.domain.outcomes import SIGNIFICANCE, Outcome
from orderledger.infrastructure.application.simulator import simulate
from orderledger.infrastructure.errors import MessageError
from orderledger.infrastructure.ingest.batch import DECISIONS, Batch
from orderledger.infrastructure.ingest.order_facts import ORDER_FACTS, request_spec
from orderledger.infrastructure.messages import docs as message_docs
from orderledger.infrastructure.messages import models as messages
from orderledger.infrastructure.messages.fields import SAID
from orderledger.infrastructure.messages.models import (
    FIELDS,
    KINDS,
    TYPES,
    FillMessage,
    InstrumentMessage,
    RequestMessage,
    message_from_line,
    message_to_json,
    parse_message,
)

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "messages.md"
HEADER = {"type", "ts", "source"}
"""What every message carries besides what it states."""
EVENT_HEADER = {"originator_id", "originator_version", "ts_recorded", "ts_event", "source"}
"""What every stored event carries besides what its fact states (the order's coordinates are
stated by the request itself)."""
DOOR = {"override"}
"""What a request tells the risk door (who lets it through its breaches), not a fact of the order."""
FILL = {"type": "fill", "client_order_id": "c-1", "trade_id": "t-1", "quantity": "1", "price": "2"}
TS = "2026-11-20T10:00:00Z"


def documented_fields(table: str) -> set[str]:
    """The field names in the first column of one generated table of docs/messages.md."""
    page = PAGE.read_text(encoding="utf-8")
    start = page.index(f"<!-- generated: {table} -->")
    body = page[start : page.index("<!-- /generated -->", start)]
    return {line.split("|")[1].strip().strip("`") for line in body.splitlines()[3:] if line.startswith("|")}


def test_the_docs_tables_are_the_models_tables() -> None:
    # Given docs/messages.md as committed, when its generated tables are written from the models
    page = PAGE.read_text(encoding="utf-8")
    # Then nothing changes (python scripts/docs_tables.py --write regenerates them)
    assert message_docs.rendered(page) == page, (
        "docs/messages.md is stale: python scripts/docs_tables.py --write"
    )
    assert page.count("<!-- generated: ") == len(message_docs.TABLES)


def test_a_request_states_the_same_fields_in_message_spec_event_and_docs() -> None:
    # Given the request as a message, as the domain's spec and as the stored event
    message = set(RequestMessage.model_fields) - HEADER - DOOR
    spec = set(OrderSpec.model_fields)
    event = set(OrderRequested.model_fields) - EVENT_HEADER
    # Then each names the same fields (the message states the terms side by side, the spec and the
    # event hold them as one value), each has a rule, and the docs table lists every one of them
    assert message == set(REQUEST_FIELDS) == set(SAID), message ^ set(REQUEST_FIELDS)
    assert message == (spec - {"terms"}) | set(OrderTerms.model_fields)
    assert spec == set(SPEC_FIELDS)
    assert event == spec, (event ^ spec, "OrderRequested must store every field the request states")
    assert message <= documented_fields("message-fields")


def test_the_request_fields_are_declared_once_in_their_order() -> None:
    # Given the domain's request, the stored event that carries it and the message that states it
    header = ["originator_id", "originator_version", "ts_recorded", "ts_event", "source"]
    keys = ["client_order_id", "venue", "venue_order_id", "aliases"]
    # Then the event stores the header, then the request's fields in their order (the payload's
    # order is hashed, so it never changes)
    assert list(OrderRequested.model_fields) == header + list(SPEC_FIELDS)
    # And the message names the order first, as every order message does, then the rest in order
    assert [f for f in RequestMessage.model_fields if f not in DOOR] == ["ts", "source", "type", *keys] + [
        name for name in REQUEST_FIELDS if name not in keys
    ]
    # And a field the request requires, the message requires; one it defaults, the message
    # defaults the same way (the order keys, which a request may leave to be derived, apart)
    for name, info in REQUEST_FIELDS.items():
        stated = RequestMessage.model_fields[name]
        if name in keys:
            assert not stated.is_required()
        else:
            assert stated.is_required() == info.is_required(), name
            assert stated.default == info.default, name
            assert stated.default_factory == info.default_factory, name


def test_an_instrument_message_states_the_domains_definition() -> None:
    # Given the instrument message, the domain's Definition and the stored InstrumentDefined
    message = set(InstrumentMessage.model_fields) - HEADER - {"venue", "instrument"}
    definition = {f.name for f in fields(Definition)}
    event = set(InstrumentDefined.model_fields) - set(OrderEvent.model_fields)
    # Then the three agree, and the docs list them
    assert message == definition == event
    assert set(InstrumentMessage.model_fields) - {"type"} == documented_fields("instrument-fields")


def test_every_field_of_every_type_is_documented_and_accepted() -> None:
    # Given the field table and the per-type field lists derived from the models
    documented = documented_fields("message-fields")
    own_tables = {
        "instrument": "instrument-fields",
        "cash_flow": "cash-flow-fields",
        "mark": "mark-fields",
        "limit_set": "limit-set-fields",
        "limit_cleared": "limit-cleared-fields",
        "trading_state": "trading-state-fields",
    }
    # Then every field is documented (an order message's in the shared table, the others' in
    # their own), and each list is its model's fields
    for kind, model in KINDS.items():
        assert FIELDS[kind] == set(model.model_fields)
        table = documented_fields(own_tables[kind]) | {"type"} if kind in own_tables else documented
        assert FIELDS[kind] <= table, (kind, FIELDS[kind] - table)
    # 15 order facts + instrument definitions, cash flows and marks + limits set and cleared and
    # trading states
    assert TYPES[0] == "request" and len(TYPES) == len(set(TYPES)) == 22


def test_a_field_added_to_a_model_reaches_parsing_serialising_and_docs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a fill type with one more field, declared once with its rule and description
    class Venue2Fill(FillMessage):
        """An execution, with its venue's matching engine."""

        type: Literal["fill"]  # type: ignore[assignment]
        engine: Annotated[str, messages.IDENT_RULE, messages.About("string identifier", "the engine")]
        needs: ClassVar[str] = ""

    monkeypatch.setitem(KINDS, "fill", Venue2Fill)
    # When the docs tables are written
    table = message_docs.message_fields()
    # Then the field has its row, with its meaning, required on the fill
    assert "| `engine` | string identifier | the engine | `fill` (required) |" in table
    assert "`engine`" in message_docs.message_types()
    # And the model parses and serialises it with no other edit
    parsed = Venue2Fill.model_validate(dict(FILL, ts=TS, engine="e-7"), context={})
    assert parsed.engine == "e-7"
    assert json.loads(message_to_json(parsed))["engine"] == "e-7"


def test_every_message_type_has_exactly_one_decision() -> None:
    # Given the writer's table (ingest.batch.DECISIONS), built from the functions that decide
    # Then it names every message type, and each fact about an order goes to the one decision
    # that finds the order and applies the fact's rule (order_facts.ORDER_FACTS)
    assert set(DECISIONS) == set(KINDS.values())
    assert {kind for kind, decide in DECISIONS.items() if decide is Batch.order_fact} == set(ORDER_FACTS)


def test_the_outcome_vocabulary_is_the_stored_one() -> None:
    # Given the one outcome enum: its values are persisted in the journal and shown in JSON
    # Then they are the words the journal has always stored (a word is added, never renamed: the
    # pre-trade check's ``denied`` came last), each a plain string
    assert [o.value for o in Outcome] == ["applied", "duplicate", "parked", "ignored", "rejected", "denied"]
    assert all(isinstance(o, str) and json.dumps(o) == f'"{o.value}"' for o in Outcome)
    # And a line with several messages reports the most significant: a rejection above all
    assert SIGNIFICANCE[0] is Outcome.REJECTED and set(SIGNIFICANCE) == set(Outcome)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), order=st.randoms(use_true_random=False))
def test_a_message_survives_its_json_form(seed: int, order: Any) -> None:
    # Given the simulator's messages, their keys shuffled
    for raw in simulate(seed, 4):
        pairs = list(raw.items())
        order.shuffle(pairs)
        message = message_from_line(json.dumps(dict(pairs)))
        # When a message is written as JSON and read back
        line = message_to_json(message)
        again = message_from_line(line)
        # Then it is the same message, and its JSON form does not depend on the key order
        assert again == message
        assert message_to_json(again) == line == message_to_json(message_from_line(json.dumps(raw)))


@pytest.mark.parametrize(
    ("data", "error"),
    [
        # A JSON null is an absent field: a required one is then missing.
        (dict(FILL, ts=TS, price=None), "price is required"),
        (dict(FILL, ts=TS, fee=None), None),
        # except for the flags, which are true or false.
        (dict(FILL, ts=TS, inferred=None), "inferred must be true or false"),
        ({k: v for k, v in FILL.items() if k != "client_order_id"} | {"ts": TS}, "a fill message needs"),
        (dict(FILL, ts=TS, liquidity="MAKER"), None),
        (dict(FILL, ts=TS, liquidity="both"), "liquidity must be one of maker|taker, not 'both'"),
        (dict(FILL, ts=TS, venue="v", kind="swap"), "unknown field 'kind' for type fill"),
        (
            {"type": "instrument", "venue": "v", "instrument": "X", "ts": TS, "kind": "bond"},
            "kind must be one of",
        ),
        ({"type": "instrument", "venue": "v", "ts": TS}, "instrument is required"),
    ],
)
def test_each_rule_gives_its_one_line_error(data: dict[str, Any], error: str | None) -> None:
    # Given a message, when it is parsed
    if error is None:
        assert parse_message(data).type == data["type"]
        return
    # Then it is refused with the rule's own one-line message, naming the field
    with pytest.raises((InvalidInputError, MessageError)) as caught:
        parse_message(data)
    assert str(caught.value).startswith(error)
    assert "\n" not in str(caught.value)


def test_an_external_request_is_keyed_by_its_venue_order_id() -> None:
    # Given an order the venue reports without our client order ID
    data = {
        "type": "request", "venue": "okx", "venue_order_id": "881", "external": True, "account": "a",
        "instrument": "BTC-USDT", "side": "buy", "order_type": "market", "quantity": "1", "ts": TS,
    }  # fmt: skip
    message = parse_message(data)
    # Then its key is derived from venue and venue order ID, and the spec carries every field
    assert isinstance(message, RequestMessage)
    assert message.client_order_id == "ext-okx-881"
    spec = request_spec(message)
    assert {name: getattr(spec, name) for name in REQUEST_FIELDS} == {
        name: getattr(message, name) for name in REQUEST_FIELDS
    }
    assert spec.terms is None  # it states no term
