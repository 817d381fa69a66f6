"""A repeated request that states another quote currency, parent or tag is a conflict through
the ledger's door, not a duplicate: refused with a one-line reason, the stored events untouched;
and a repeat stating a parent the order lacked adds it (``OrderDetailsAdded``)."""

from __future__ import annotations

from typing import Any

import pytest

from orderledger.infrastructure.application.ledger import OrderLedger
from tests.support.integration import request, ts

REQUEST = request("c-1", quote_currency="USDT", tags={"strategy": "mm"})
"""A limit buy of BTC-USDT, its quote currency and a tag stated."""


def _stored(ledger: OrderLedger) -> list[bytes]:
    with ledger.db.read() as tx:
        return [bytes(row[0]) for row in tx.all("SELECT state FROM events ORDER BY notification_id")]


@pytest.mark.parametrize(
    ("again", "field"),
    [
        ({"quote_currency": "USD"}, "quote_currency"),
        ({"parent_id": "P-2"}, "parent_id"),
        ({"tags": {"strategy": "arb"}}, "tags"),
    ],
)
def test_a_repeat_stating_another_value_is_refused_and_nothing_is_stored(
    file_ledger_url: str, again: dict[str, Any], field: str
) -> None:
    with OrderLedger(file_ledger_url) as ledger:
        assert ledger.record({**REQUEST, "parent_id": "P-1"}).outcome.value == "applied"
        before = _stored(ledger)

        result = ledger.record({**REQUEST, "parent_id": "P-1", **again, "ts": ts(1)})

        assert result.outcome.value == "rejected"
        assert result.reason == f"client order ID 'c-1' is already used by an order with different {field}"
        assert _stored(ledger) == before
        assert ledger.order("c-1").quote_currency == "USDT"


def test_a_repeat_stating_a_parent_the_order_lacked_adds_it(file_ledger_url: str) -> None:
    with OrderLedger(file_ledger_url) as ledger:
        ledger.record(REQUEST)

        result = ledger.record({**REQUEST, "parent_id": "P-1", "ts": ts(1)})

        assert result.outcome.value == "applied"
        assert [type(e).__name__ for e in result.events] == ["OrderDetailsAdded"]
        assert ledger.order("c-1").parent_id == "P-1"
        # Stated once more, it is the same order: a duplicate
        assert ledger.record({**REQUEST, "parent_id": "P-1"}).outcome.value == "duplicate"
