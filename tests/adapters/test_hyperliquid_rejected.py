"""A rejected Hyperliquid order keeps the venue order ID the venue gave it.

The order is the published ``iocCancelRejected`` TON buy of the Hyperliquid Python SDK's recorded
``historicalOrders`` reply (tests/cassettes/info_test/test_historical_orders.yaml: oid
141682155424, 81.7 at 3.2502, IOC). It is recorded there without a cloid; as our own order it
carries the cloid the SDK's ``basic_order_with_cloid`` example sends, ``Cloid.from_int(1)``
(``0x00000000000000000000000000000001``). On SQLite and PostgreSQL (tests/adapters/conftest.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from orderledger.domain.values import Status
from orderledger.infrastructure.application.ledger import OrderLedger

VENUE = "hyperliquid"
ACCOUNT = "0x31ca8395cf837de08b24da3f660e77761dfb974b"
CLOID = "0x00000000000000000000000000000001"
TON: dict[str, Any] = {
    "coin": "TON", "side": "B", "limitPx": "3.2502", "sz": "81.7", "oid": 141682155424,
    "timestamp": 1755863118217, "triggerCondition": "N/A", "isTrigger": False, "triggerPx": "0.0",
    "children": [], "isPositionTpsl": False, "reduceOnly": False, "orderType": "Limit",
    "origSz": "81.7", "tif": "Ioc", "cloid": None,
}  # fmt: skip


def rejected(cloid: str | None) -> str:
    entry = {"order": TON | {"cloid": cloid}, "status": "iocCancelRejected", "statusTimestamp": 1755863118217}
    return json.dumps([entry])  # a historicalOrders reply


@pytest.mark.parametrize(
    ("cloid", "client_order_id"), [(CLOID, CLOID), (None, "ext-hyperliquid-141682155424")]
)
def test_a_rejected_order_keeps_its_venue_order_id(
    stored_ledger: OrderLedger, cloid: str | None, client_order_id: str
) -> None:
    report = stored_ledger.ingest_lines([rejected(cloid)], format="hyperliquid", venue=VENUE, account=ACCOUNT)
    assert report.counts["applied"] == 1 and report.counts["rejected"] == 0
    [order] = stored_ledger.orders()
    # Rejected (never acknowledged), known by the oid the venue gave it, with the venue's reason.
    assert (order.client_order_id, order.status, order.venue_order_ids) == (
        client_order_id,
        Status.REJECTED,
        ("141682155424",),
    )
    assert order.reason == "iocCancelRejected"
    # The same report again changes nothing.
    again = stored_ledger.ingest_lines([rejected(cloid)], format="hyperliquid", venue=VENUE, account=ACCOUNT)
    assert again.counts["applied"] == 0 and again.counts["rejected"] == 0
