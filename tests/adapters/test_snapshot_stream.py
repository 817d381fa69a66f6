"""``ingest --format snapshots``: consecutive open-orders snapshots through reconciliation.

Each line is a reconcile snapshot document (docs/reconciliation.md). The rows are the
published Hyperliquid open order of ccxt's recorded ``fetchOpenOrders`` "open orders" reply
(SOL, oid 6928553534, buy 0.1 at 60; ccxt/ccxt ts/src/test/static/response/hyperliquid.json)
in the reconcile row shape, on a venue named ``hl``.
"""

from __future__ import annotations

import itertools
import json
from decimal import Decimal
from typing import Any

import pytest

from orderledger.domain.values import Status
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.queries import list_trades
from tests.support.books import all_books

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


# The order's creation time in ccxt's recorded reply (``timestamp`` 1709643776949).
CREATED = "2024-03-05T13:02:56.949Z"
GROWING = [
    snapshot(0, dict(ROW, created_at=CREATED)),
    snapshot(1, dict(ROW, created_at=CREATED, filled_quantity="0.02", average_price="60")),
    snapshot(2, dict(ROW, created_at=CREATED, filled_quantity="0.05", average_price="59.88")),
    snapshot(3, closed=(dict(ROW, created_at=CREATED, filled_quantity="0.1", average_price="59.9",
                             status="filled"),)),
]  # fmt: skip
GROWING_FILLS = [
    # (order, quantity, price, venue time): one fill per total, at the snapshot that shows it.
    ("ext-hl-6928553534", "0.02", "60", "2024-03-05T14:01:00.000000Z"),
    # (0.05 × 59.88 − 0.02 × 60) / 0.03 = (2.994 − 1.2) / 0.03 = 1.794 / 0.03 = 59.8
    ("ext-hl-6928553534", "0.03", "59.8", "2024-03-05T14:02:00.000000Z"),
    # (0.1 × 59.9 − 2.994) / 0.05 = (5.99 − 2.994) / 0.05 = 2.996 / 0.05 = 59.92
    ("ext-hl-6928553534", "0.05", "59.92", "2024-03-05T14:03:00.000000Z"),
]


def _fills(ledger: OrderLedger) -> list[tuple[str, str, str, str]]:
    return sorted(
        (t["client_order_id"], t["quantity"], t["price"], t["ts_event"]) for t in list_trades(ledger.db)
    )


def test_snapshots_read_in_any_order_give_the_fills_of_venue_time(stored_url: str) -> None:
    """Each total a snapshot shows is one inferred fill at its time, whatever order the
    snapshots are read in: a snapshot read after later ones re-splits the fills they inferred
    (``application.cumulative``), and the order is stamped when the venue created it, not when
    a snapshot first listed it. Every order of the four snapshots, one per ingest of a reopened
    ledger, gives the fills, the order and the position of the stream read in order."""
    with OrderLedger("memory://") as reference:
        counts = ingest(reference, *GROWING)
        assert counts["rejected"] == 0
        assert _fills(reference) == GROWING_FILLS
        order = reference.order("ext-hl-6928553534")
        assert (order.status, order.filled_quantity) == (Status.FILLED, Decimal("0.1"))
        assert order.created_at.isoformat() == "2024-03-05T13:02:56.949000+00:00"
        expected = all_books(reference)
    for number, arrival in enumerate(itertools.permutations(GROWING)):
        url = stored_url if number in (0, 23) else "memory://"  # the last: reversed
        with OrderLedger(url) as ledger:
            for line in arrival:
                assert ingest(ledger, line)["rejected"] == 0
            assert _fills(ledger) == GROWING_FILLS, arrival
            assert all_books(ledger) == expected, arrival
        if url == stored_url and number == 0:
            with OrderLedger(url) as ledger:  # the same stream again, reopened: nothing new
                assert ingest(ledger, *GROWING)["applied"] == 0


def test_a_created_at_after_the_snapshot_is_refused(ledger: OrderLedger) -> None:
    late = snapshot(0, dict(ROW, created_at="2024-03-05T14:00:01Z"))
    report = ledger.ingest_lines([late], fmt="snapshots")
    assert report.counts["rejected"] == 1
    (result,) = report.rejected
    assert result.reason == (
        "open_orders[0].created_at 2024-03-05T14:00:01.000000Z is after the snapshot's as_of "
        "2024-03-05T14:00:00.000000Z"
    )


def test_a_stream_fed_one_snapshot_per_ingest_closes_an_order_missing_twice(ledger: OrderLedger) -> None:
    # Each snapshot its own ingest (a job that takes the latest list every few minutes): the
    # order seen at 14:00, missing at 14:10 and 14:11 (past the 60 s grace window) is closed at
    # the second absence, as one ingest of all three closes it; missing once, it stays open.
    ingest(ledger, snapshot(0, ROW))
    ingest(ledger, snapshot(10))
    assert ledger.order("ext-hl-6928553534").status is Status.ACCEPTED
    ingest(ledger, snapshot(11))
    order = ledger.order("ext-hl-6928553534")
    assert order.status is Status.CANCELED
    assert order.updated_at.isoformat() == "2024-03-05T14:11:00+00:00"
