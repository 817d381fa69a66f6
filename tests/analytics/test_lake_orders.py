"""The lake's orders are the orders view's fold: each order's state is read from the view's row
(every value the order's declaration shows, typed by the declaration), never computed a second
time from the events; what the lake adds is the order's history (when it was requested,
acknowledged, first filled, completed and ended; its amendments, fees and maker quantity).

The withdrawn closure is ``tests/integration/test_reinstated.py``'s: o1 (buy 10, accepted at 1 s)
is closed at 10 minutes for its absence from the venue's orders, a fill of 4 at 12 minutes is
booked late, then the closure is withdrawn: the order works, 4 of 10 filled.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from orderledger.domain.order import Order
from orderledger.domain.order_state import PLAIN, SHOWN, Kind
from orderledger.domain.values import parse_timestamp
from orderledger.infrastructure.application.analytics import columnar
from orderledger.infrastructure.application.analytics.lake import lake_orders
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.simulator import simulate_lines
from orderledger.projections.orders import ORDERS_TABLE
from tests.support.cli import ROOT
from tests.support.integration import at, fact, fill, lines, request, ts

ACCEPTED = fact("accepted", "o1", seconds=1, venue_order_id="V-1")
CLOSED = fact("canceled", "o1", seconds=600, reason="absent from the venue's orders")
FILLED_LATER = fill("o1", "t1", "4", seconds=720)
WITHDRAWN = fact("reinstated", "o1", seconds=600, canceled_at=ts(600), reason="listed again at 12 minutes")
ENDING = "status, ended_as, ended_at, completed_at, cancels, filled_quantity, leaves_quantity"


def _lake(directory: Path, columns: str = "*") -> list[dict[str, Any]]:
    """The lake's orders (``columns`` of them), by order ID, as dicts."""
    con = duckdb.connect()
    try:
        result = con.execute(f"SELECT {columns} FROM ({lake_orders(directory)}) ORDER BY client_order_id")
        names = [d[0] for d in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]
    finally:
        con.close()


def test_a_withdrawn_closure_ends_nothing_in_the_lake(ledger: OrderLedger, tmp_path: Path) -> None:
    # Given o1 closed at 10 minutes, exported
    ledger.ingest_lines(lines(request("o1"), ACCEPTED, CLOSED))
    ledger.analytics.export_lake(tmp_path / "lake")
    # Then the lake says it ended canceled then, once, with nothing filled (leaves 0: terminal)
    ended = _lake(tmp_path / "lake", ENDING)
    assert ended == [
        {
            "status": "canceled",
            "ended_as": "canceled",
            "ended_at": at(600),
            "completed_at": at(600),
            "cancels": 1,
            "filled_quantity": Decimal(0),
            "leaves_quantity": Decimal(0),
        }
    ]
    # When a fill of 4 is booked late and the closure is withdrawn, and the lake exported again
    ledger.ingest_lines(lines(FILLED_LATER))
    ledger.ingest_lines(lines(WITHDRAWN))
    report = ledger.analytics.export_lake(tmp_path / "lake")
    # (this run read the fill, the withdrawal and its restatement: 3 events)
    assert report.rows["events"] == 3
    # Then the order works, as the views say: 4 of 10 filled, 6 left, never ended, no cancel
    working = {
        "status": "partially_filled",
        "ended_as": None,
        "ended_at": None,
        "completed_at": None,
        "cancels": 0,
        "filled_quantity": Decimal(4),
        "leaves_quantity": Decimal(6),
    }
    assert _lake(tmp_path / "lake", ENDING) == [working]
    assert ledger.order("o1").status.value == "partially_filled"
    # and a lake exported in one run says the same
    ledger.analytics.export_lake(tmp_path / "whole")
    assert _lake(tmp_path / "whole", ENDING) == [working]


def test_a_withdrawal_alone_in_a_run_restates_the_order(ledger: OrderLedger, tmp_path: Path) -> None:
    # Given o1 closed at 10 minutes and its late fill of 4, exported
    ledger.ingest_lines(lines(request("o1"), ACCEPTED, CLOSED, FILLED_LATER))
    ledger.analytics.export_lake(tmp_path / "lake")
    assert _lake(tmp_path / "lake", "status, cancels, anomalies") == [
        {"status": "canceled", "cancels": 1, "anomalies": '["late_fill"]'}
    ]
    # When the closure alone is withdrawn (no lifecycle fact, no fill in the run)
    ledger.ingest_lines(lines(WITHDRAWN))
    ledger.analytics.export_lake(tmp_path / "lake")
    # Then the run recomputes o1: working, the late fill no longer an anomaly
    assert _lake(tmp_path / "lake", "status, cancels, anomalies") == [
        {"status": "partially_filled", "cancels": 0, "anomalies": "[]"}
    ]


def _view(ledger: OrderLedger) -> dict[str, Order]:
    """Every order as the orders view's row holds it."""
    with ledger.db.read() as tx:
        rows = tx.all(f"SELECT {', '.join(c.name for c in ORDERS_TABLE.columns)} FROM {ORDERS_TABLE.name}")
    return {order.client_order_id: order for order in map(ORDERS_TABLE.from_row, rows)}


def _same(lake: Any, shown: Any, kind: Kind) -> bool:
    """Whether the lake's value is the view's as the declaration shows it (``kind.show``)."""
    if shown is None or lake is None:
        return shown is None and lake is None
    if isinstance(lake, Decimal):  # (an average price kept to the column's 12 places)
        return lake == Decimal(shown).quantize(Decimal("1e-12"))
    if isinstance(lake, datetime):
        return lake == parse_timestamp(shown)
    if isinstance(lake, str) and isinstance(shown, list | dict):
        return bool(json.loads(lake) == shown)
    return bool(lake == shown)


def assert_lake_is_the_view(ledger: OrderLedger, directory: Path) -> int:
    """Every order's lake row equals the view's row in every column they share, and its end is
    its status's; returns how many orders were compared."""
    ledger.analytics.export_lake(directory)
    view = _view(ledger)
    rows = _lake(directory)
    assert sorted(view) == [row["client_order_id"] for row in rows]
    for row in rows:
        order = view[row["client_order_id"]]
        for column, (name, kind) in columnar.state_columns().items():
            shown = kind.show(getattr(order, name))
            assert _same(row[column], shown, kind), (row["client_order_id"], column, row[column], shown)
        status = order.status
        assert row["ended_as"] == (status.value if status.is_terminal else None)
        assert row["cancels"] == (status.value == "canceled")
        assert row["rejects"] == (status.value == "rejected")
        assert (row["ended_at"] is not None) == (status.value in columnar.ENDED_BY)
    return len(rows)


@pytest.mark.parametrize("seed", [3, 11])
def test_every_simulated_order_in_the_lake_is_the_views(
    ledger: OrderLedger, tmp_path: Path, seed: int
) -> None:
    ledger.ingest_lines(simulate_lines(seed, 300))
    assert assert_lake_is_the_view(ledger, tmp_path / "lake") == 300


EXAMPLES: list[tuple[str, dict[str, Any]]] = [
    ("session.jsonl", {}),
    ("session-2.jsonl", {}),
    ("lifecycle.jsonl", {}),
    ("pnl.jsonl", {}),
    ("hyperliquid.jsonl", {"format": "hyperliquid", "venue": "hyperliquid", "account": "main"}),
    ("tradier.jsonl", {"format": "tradier", "venue": "tradier", "account": "VA000000"}),
    ("snapshots.jsonl", {"format": "snapshots"}),
]


def test_every_order_of_the_example_files_in_the_lake_is_the_views(tmp_path: Path) -> None:
    compared = 0
    for number, (name, options) in enumerate(EXAMPLES):
        with OrderLedger(f"sqlite:///{tmp_path}/{number}.db") as ledger:
            path = ROOT / "docs" / "examples" / name
            ledger.ingest_lines(path.read_text(encoding="utf-8").splitlines(), **options)
            compared += assert_lake_is_the_view(ledger, tmp_path / f"lake-{number}")
    assert compared > 20


def test_a_value_added_to_the_declaration_is_a_column_of_the_lakes_orders() -> None:
    # Given the order's declaration with one more value it shows (text)
    declared = {**SHOWN, "venue_account": PLAIN}
    # Then the lake's orders read it from the view's column of that name, as text, after what
    # the declaration shows before it and before what the lake keeps besides
    columns = columnar.state_columns(declared)
    assert list(columns)[: len(declared)] == list(declared)
    assert columns["venue_account"] == ("venue_account", PLAIN)
    assert "CAST(venue_account AS VARCHAR) AS venue_account" in columnar.state_sql("rows", declared)
    # and the lake's orders today are exactly the declaration's values, then the limit as
    # requested and the fills' notional
    assert list(columnar.state_columns()) == [*SHOWN, "limit_price", "notional"]


def test_the_orders_view_is_read_in_one_arrow_batch(tmp_path: Path) -> None:
    # Given a SQLite ledger of 1,100 orders: more than the driver's default batch of 1,024 rows
    with OrderLedger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        ledger.ingest_lines(simulate_lines(5, 1_100))
        rows = columnar.read_order_rows(ledger)
    # Then the lake reads them in one batch (by default 1,024 + 76: the driver types each batch's
    # columns on its own, and DuckDB scans each; a fifth more CPU at 100,000 orders)
    assert [batch.num_rows for batch in rows.to_batches()] == [1_100]
