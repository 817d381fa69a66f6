"""``record`` refuses a message holding, at any depth, a value JSON cannot hold, in one line naming
where it is, and stores nothing: never the value's ``str`` (``<object object at 0x…>``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.errors import MessageError
from tests.support.integration import request


@pytest.mark.parametrize(
    ("extra", "where"),
    [
        ({"tags": {"a": object()}}, "tags.a is of type object"),
        ({"tags": {"a": {1, 2}}}, "tags.a is of type set"),
        ({"tags": {"a": b"bytes"}}, "tags.a is of type bytes"),
        ({"aliases": {"k": [1, object()]}}, "aliases.k[1] is of type object"),
        ({"tags": {"deep": {"deeper": {"x": complex(1, 2)}}}}, "tags.deep.deeper.x is of type complex"),
    ],
)
@pytest.mark.parametrize("strict", [False, True])
def test_a_value_json_cannot_hold_is_refused_where_it_is(
    ledger: OrderLedger, extra: dict[str, Any], where: str, strict: bool
) -> None:
    with pytest.raises(MessageError) as refused:
        ledger.record({**request("c-1"), **extra}, strict=strict)
    assert refused.value.message == (
        f"the message cannot be written as JSON: {where}: JSON holds strings, numbers, true/false,"
        " null, lists and objects"
    )
    assert ledger.audit.messages() == [] and ledger.orders() == []


def test_decimals_and_plain_values_are_written_exactly(ledger: OrderLedger) -> None:
    result = ledger.record({**request("c-1", quantity="1"), "quantity": Decimal("1.50"), "tags": {"a": "b"}})
    assert result.outcome == "applied"
    assert str(ledger.order("c-1").quantity) == "1.50" and ledger.order("c-1").tags == {"a": "b"}
