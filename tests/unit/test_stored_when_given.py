"""A field marked ``WHEN_GIVEN`` (added after events were first stored) is stored only when set:
a stored state without it reads as None through the fast reader, and one with it reads its
value; any other missing field still takes the general path, which refuses it."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated
from uuid import uuid4

import pytest

from orderledger.domain.events import WHEN_GIVEN, OrderEvent, stored_when_given
from orderledger.domain.values import DecimalStr
from orderledger.infrastructure.storage.codecs import read_stored


class Noted(OrderEvent):
    """An event whose last field came later."""

    quantity: DecimalStr
    noted_price: Annotated[DecimalStr | None, WHEN_GIVEN] = None


HEADER = {
    "ts_recorded": "2026-11-20T10:00:00.000000Z",
    "ts_event": "2026-11-20T10:00:00.000000Z",
    "source": "test",
    "client_order_id": "c-1",
    "account": "alpha",
    "venue": "v",
    "instrument": "BTC-USDT",
}


def test_the_marked_fields_are_named_in_order() -> None:
    assert stored_when_given(Noted) == ("noted_price",)
    assert stored_when_given(OrderEvent) == ()


def test_a_state_without_the_field_reads_it_as_none_and_with_it_its_value() -> None:
    without = read_stored(Noted, uuid4(), 1, {**HEADER, "quantity": "2"})
    given = read_stored(Noted, uuid4(), 1, {**HEADER, "quantity": "2", "noted_price": "99.5"})

    assert (without.quantity, without.noted_price) == (Decimal(2), None)
    assert (given.quantity, given.noted_price) == (Decimal(2), Decimal("99.5"))


def test_another_missing_field_is_still_missing() -> None:
    with pytest.raises(TypeError, match="needs 'quantity'"):
        read_stored(Noted, uuid4(), 1, {**HEADER, "noted_price": "99.5"})
