"""``ingest --format snapshots``: consecutive open-orders snapshots through reconciliation.

Each line is a reconcile snapshot document (docs/reconciliation.md). The rows are the
published Hyperliquid open order of ccxt's recorded ``fetchOpenOrders`` "open orders" reply
(SOL, oid 6928553534, buy 0.1 at 60; ccxt/ccxt ts/src/test/static/response/hyperliquid.json)
in the reconcile row shape, on a venue named ``hl``.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from orderledger.domain.values import Status
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.queries import list_trades

ROW = {"venue_order_id": "6928553534", "instrument": "SOL", "side": "buy", "order_type": "limit",
       "quantity": "0.1", "price": "60", "filled_quantity": "0", "status": "open"}  # fmt: skip


def snapshot(minute: int, *rows: dict[str, Any], closed: tuple[dict[str, Any], ...] = ()) -> str:
    return json.dumps({"venue": "hl", "account": "main", "as_of": f"2024-03-05T14:{minute:02d}:00Z",
                       "open_orders": list(rows), "closed_orders": list(closed)})  # fmt: skip


@pytest.fixture
def ledger(stored_ledger: OrderLedger) -> OrderLedger:
    """This module's ledgers are stored ones (tests/adapters/conftest.py)."""
    return stored_ledger


def ingest(ledger: OrderLedger, *lines: str) -> dict[str, int]:
    return ledger.ingest_lines(list(lines), fmt="snapshots").counts


def test_new_updated_and_closed_orders_through_reconciliation(ledger: OrderLedger) -> None:
    # Snapshot 1: the order appears → external order, acknowledged.
    # Snapshot 2: 0.04 filled at an average of 60 → an inferred fill of 0.04 at 60.
    # Snapshot 3: listed as canceled with 0.04 filled → closed, nothing more filled.
    stream = [
        snapshot(0, ROW),
        snapshot(1, dict(ROW, filled_quantity="0.04", average_price="60", status="partially_filled")),
        snapshot(2, closed=(dict(ROW, filled_quantity="0.04", average_price="60", status="canceled"),)),
    ]
    counts = ingest(ledger, *stream)
    assert counts["applied"] == 3 and counts["rejected"] == 0
    order = ledger.order("ext-hl-6928553534")
    assert (order.status, order.filled_quantity, order.price) == (
        Status.CANCELED,
        Decimal("0.04"),
        Decimal("60"),
    )
    ((trade_id, quantity, price),) = [
        (t["trade_id"], t["quantity"], t["price"]) for t in list_trades(ledger.db)
    ]
    assert (trade_id[:9], quantity, price) == ("inferred-", "0.04", "60")
    # The same stream again records nothing new.
    again = ingest(ledger, *stream)
    assert again["applied"] == 0 and again["rejected"] == 0


def test_a_gap_never_closes_an_order_missing_once(ledger: OrderLedger) -> None:
    # The order is seen at 14:00, missing at 14:05 (a snapshot cut short), back at 14:06.
    ingest(ledger, snapshot(0, ROW), snapshot(5), snapshot(6, ROW))
    assert ledger.order("ext-hl-6928553534").status is Status.ACCEPTED
    # Missing from two consecutive snapshots (past the 60 s grace window): closed as canceled.
    ingest(ledger, snapshot(10), snapshot(11))
    assert ledger.order("ext-hl-6928553534").status is Status.CANCELED
