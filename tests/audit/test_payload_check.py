"""``verify``'s payload check proves a stored payload sound without validating its event anew
(``payload_check.fast_event``) and validates only what it cannot prove: the findings must be
the same as validating every payload as input from outside, for every event class, any values
of its fields, and any tamper of its payload or its row whose hash was recomputed (so that only
the payload check can find it).
"""

from __future__ import annotations

import types
import typing
from decimal import Decimal
from typing import Annotated, Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from orderledger.domain.aggregates import aggregate_id
from orderledger.domain.construction import construct
from orderledger.domain.events import EVENT_TYPES, OrderEvent
from orderledger.domain.order_fields import without_markers
from orderledger.domain.values import MAX_DIGITS, DecimalStr, UtcTime, format_decimal
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.audit.chain_check import _check_row
from orderledger.infrastructure.audit.payload_check import _PLANS, fast_event
from orderledger.infrastructure.audit.search import EVENT_COLUMNS
from orderledger.infrastructure.storage.chain import GENESIS, link
from orderledger.infrastructure.storage.mapper import LedgerMapper
from tests.support.typed_values import value_of

MAPPER: LedgerMapper = OrderLedger("memory://").mapper
STATE = EVENT_COLUMNS.index("state")

# Values a tamperer might put in a payload's field: extreme and odd decimals, times in other
# forms, other JSON types, text with control characters.
ODD = st.sampled_from(
    [
        None,
        True,
        0,
        1,
        -1,
        1.5,
        2**63 - 1,
        "",
        "0",
        "-0",
        "00",
        "1.",
        ".5",
        "+1",
        "1E+5",
        "1e-30",
        "-1E-20",
        "NaN",
        "-Infinity",
        "1" * 30,
        "1" * 31,
        "0." + "0" * 19 + "1",
        "0." + "0" * 20 + "1",
        "9" * 21,
        "123456789012345678901.123456789",
        "2026-11-20T10:00:00Z",
        "2026-11-20T10:00:00.1Z",
        "2026-11-20T10:00:00.120000Z",
        "2026-11-20T10:00:00+00:00",
        "2026-11-20T10:00:00+01:00",
        "2026-11-20T10:00:00",
        "2026-02-30T10:00:00Z",
        "2026-11-20T10:00:00Z\x00junk",
        "buy",
        "sell",
        "limit",
        "filled",
        "maker",
        "c-1",
        "x\x01y",
        [],
        ["1", None],
        {},
        {"k": "v"},
        {"k": 1},
        {"k": True},
    ]
)


EVERYDAY = (
    st.integers(0, 12)
    .flatmap(
        lambda places: st.decimals(-(10**9), 10**9, places=places, allow_nan=False, allow_infinity=False)
    )
    .map(lambda amount: amount if amount else Decimal(0))
    .filter(lambda amount: len(format_decimal(amount)) <= MAX_DIGITS)
)
"""Amounts as recorded ones are: plain notation, a few places, a zero as 0 (``parse_decimal``)."""


def value(hint: Any, everyday: bool) -> st.SearchStrategy[Any]:
    """Any value of the type ``hint``; amounts as recorded ones are when ``everyday``."""
    hint = without_markers(hint)  # a request field's markers say nothing of its type
    if everyday and hint == DecimalStr:
        return EVERYDAY
    if everyday and typing.get_origin(hint) is Annotated and hint != UtcTime:
        return value(typing.get_args(hint)[0], True)  # a field stored only when given
    if everyday and typing.get_origin(hint) in (typing.Union, types.UnionType):
        return st.none() | value(next(a for a in typing.get_args(hint) if a is not type(None)), True)
    if everyday and typing.get_origin(hint) is list:
        return st.lists(value(typing.get_args(hint)[0], True), max_size=3)
    if everyday and isinstance(hint, type) and issubclass(hint, BaseModel):  # an order's terms
        model, hints = hint, typing.get_type_hints(hint, include_extras=True)
        stated = st.fixed_dictionaries(
            {}, optional={name: value(hints[name], True) for name in model.model_fields}
        )
        return stated.map(lambda values: construct(model, values))
    return value_of(hint)


def events_of(cls: type[OrderEvent], everyday: bool = False) -> st.SearchStrategy[OrderEvent]:
    """Any event of ``cls``, under its own aggregate (the ID its payload derives)."""
    hints = typing.get_type_hints(cls, include_extras=True)
    values = st.fixed_dictionaries({name: value(hints[name], everyday) for name in cls.model_fields})

    def made(given: dict[str, Any]) -> OrderEvent:
        event = construct(cls, given)
        return construct(cls, given | {"originator_id": aggregate_id(event)})

    return values.map(made)


def row_of(event: OrderEvent) -> list[Any]:
    """The event's row as the ledger writes it, first in the log (its hash left out)."""
    stored = MAPPER.to_stored_event(event)
    return (
        [1, str(stored.originator_id), stored.originator_version, stored.topic, stored.state]
        + [getattr(stored, c) for c in EVENT_COLUMNS[STATE + 1 : -1] if c != "message_id"]
        + [7]
    )


def both_ways(row: list[Any]) -> tuple[Any, Any]:
    """The row's check with the payload proven where it can be, and with every payload
    validated; its hash recomputed first, so that the payload check is what is asked."""
    hashed = (*row, link(GENESIS, row))
    fast = _check_row(hashed, 1, GENESIS, MAPPER, fast=True)
    slow = _check_row(hashed, 1, GENESIS, MAPPER, fast=False)
    return fast, slow


def same(fast: Any, slow: Any) -> None:
    assert type(fast) is type(slow)
    assert fast == slow
    if not isinstance(slow, str):
        assert list(fast.__dict__.items()) == list(slow.__dict__.items())  # values, types, order


def test_every_event_class_is_checked_without_validation() -> None:
    assert all(plan.check is not None for plan in _PLANS.values())


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda cls: cls.__name__)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_the_payload_check_finds_what_validation_finds(cls: type[OrderEvent], data: st.DataObject) -> None:
    row = row_of(data.draw(events_of(cls, everyday=data.draw(st.booleans()))))
    state = orjson.loads(row[STATE])
    how = data.draw(st.sampled_from(["as written", "field", "drop", "add", "column", "aggregate", "bytes"]))
    if how == "field":
        state[data.draw(st.sampled_from(sorted(state)))] = data.draw(ODD)
    elif how == "drop":
        del state[data.draw(st.sampled_from(sorted(state)))]
    elif how == "add":
        state[data.draw(st.sampled_from(["class_version", "extra", "originator_id"]))] = data.draw(ODD)
    elif how == "column":
        at = data.draw(st.integers(EVENT_COLUMNS.index("event_type"), EVENT_COLUMNS.index("source")))
        row[at] = data.draw(st.sampled_from([None, "", "c-1", "2026-11-20T10:00:00.000000Z", row[at] + "x"]))
    elif how == "aggregate":
        row[1] = data.draw(st.sampled_from([row[1].upper(), "{" + row[1] + "}", row[1].replace("-", "")]))
    if how == "bytes":
        row[STATE] = row[STATE] + data.draw(st.sampled_from([b" ", b"x", b"\n"]))
    elif how != "as written":
        row[STATE] = orjson.dumps(state)
    fast, slow = both_ways(row)
    same(fast, slow)


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda cls: cls.__name__)
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_an_event_as_the_ledger_writes_it_is_proven_without_validation(
    cls: type[OrderEvent], data: st.DataObject
) -> None:
    """The property above would hold if every payload were validated: the ledger's own
    payloads, with amounts as recorded ones are, are proven sound without."""
    event = data.draw(events_of(cls, everyday=True))
    row = row_of(event)
    searched = tuple(row[EVENT_COLUMNS.index("event_type") : EVENT_COLUMNS.index("message_id")])
    assert fast_event(MAPPER, row[3], row[STATE], row[1], row[2], searched) == event
    assert _check_row((*row, link(GENESIS, row)), 1, GENESIS, MAPPER) == event
