"""The lake's check of recorded amounts' places (``lake._check_places``) reads which payload
fields are amounts from the one declaration of the events' fields (``domain/events.py``, through
``columnar.amounts``), not from a list of its own: a new decimal field is checked with no edit."""

from __future__ import annotations

import typing
from decimal import Decimal

from orderledger.domain.events import EVENT_TYPES, OrderFilled
from orderledger.infrastructure.application.analytics import columnar, lake
from orderledger.infrastructure.audit.columns import MONEY_PLACES, PLACES


def _is_decimal(annotation: object) -> bool:
    return annotation is Decimal or any(_is_decimal(a) for a in typing.get_args(annotation))


def test_the_lake_checks_every_decimal_field_the_payload_events_declare() -> None:
    # Given every field the lake reads from the payloads, as each payload event class declares it
    payload_kinds = [kind for kind in EVENT_TYPES if kind.__name__ in columnar.PAYLOAD_TYPES]
    decimals = {
        name
        for kind in payload_kinds
        for name, field in kind.model_fields.items()
        if name in columnar._FIELDS and _is_decimal(field.annotation)
    }
    # Then the lake's amounts are exactly the decimal ones, fills' and cash flows' among them
    assert set(lake._AMOUNTS) == decimals
    assert {"last_qty", "last_px", "fee", "previous_fee", "amount", "decision_price"} <= decimals


def test_money_keeps_its_places_and_every_other_amount_a_figure_s() -> None:
    money = {name for name, places in lake._AMOUNTS.items() if places == MONEY_PLACES}
    assert money == {"fee", "previous_fee", "amount"}
    assert all(places == PLACES for name, places in lake._AMOUNTS.items() if name not in money)


class _Rebated(OrderFilled):
    """A payload event with one more decimal field, as a new version might declare it."""

    rebate: Decimal | None = None


def test_a_new_decimal_field_is_an_amount_without_an_edit() -> None:
    found = columnar.amounts([_Rebated], (*columnar._FIELDS, "rebate"))
    assert found["rebate"] == PLACES
    assert found["fee"] == MONEY_PLACES and "fee_currency" not in found
