"""Proposal → order → trade linkage: orders, trades and P&L queried by ``parent_id``, through the
Python query functions and through the real ``orderledger`` command, on SQLite and PostgreSQL.

The session and its figures, worked out by hand: tests/support/parent_linkage.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.reads.view_queries import list_orders, list_trades, pnl_by
from tests.support.cli import cli_json, ingest, write_lines
from tests.support.parent_linkage import EXPECTED_PNL, SESSION, pnl_rows, trade_rows


@pytest.fixture(params=("sqlite", "postgres"))
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_orders_trades_and_pnl_by_parent_through_the_query_functions(
    make_ledger: Callable[..., OrderLedger],
) -> None:
    # Given the session above
    ledger = make_ledger()
    report = ledger.ingest_lines(SESSION)
    assert report.counts["applied"] == len(SESSION), report.rejected

    # Then each parent lists its orders (oldest first), E under P2 once it learned its parent
    assert [o["client_order_id"] for o in list_orders(ledger.db, parent="P1")] == ["A", "B"]
    assert [o["client_order_id"] for o in list_orders(ledger.db, parent="P2")] == ["C", "E"]
    assert list_orders(ledger.db, parent="P3") == []
    # And its trades, each row saying the parent it was selected by
    assert trade_rows(list_trades(ledger.db, parent="P1")) == [("A", "tA", "P1"), ("B", "tB", "P1")]
    assert trade_rows(list_trades(ledger.db, parent="P2")) == [("C", "tC", "P2"), ("E", "tE", "P2")]
    assert list_trades(ledger.db, parent="P3") == []
    # And the parent filter combines with the others
    assert trade_rows(list_trades(ledger.db, parent="P1", client_order_id="B")) == [("B", "tB", "P1")]
    # And P&L by parent sums the entries of each parent's orders
    assert pnl_rows(pnl_by(ledger.db, "parent")) == EXPECTED_PNL


def test_orders_trades_and_pnl_by_parent_through_the_command(file_ledger_url: str, tmp_path: Path) -> None:
    # Given the session ingested by the real command
    run, summary = ingest(write_lines(tmp_path / "session.jsonl", SESSION), db=file_ledger_url, cwd=tmp_path)
    assert run.returncode == 0 and summary.counts["applied"] == len(SESSION), run.describe()

    def query(*args: str) -> Any:
        return cli_json(*args, db=file_ledger_url, cwd=tmp_path)

    # Then orders --parent, trades --parent and pnl --by parent say what the functions say
    assert [o["client_order_id"] for o in query("orders", "--parent", "P1")] == ["A", "B"]
    assert [o["client_order_id"] for o in query("orders", "--parent", "P2")] == ["C", "E"]
    assert trade_rows(query("trades", "--parent", "P1")) == [("A", "tA", "P1"), ("B", "tB", "P1")]
    assert trade_rows(query("trades", "--parent", "P2")) == [("C", "tC", "P2"), ("E", "tE", "P2")]
    assert query("trades", "--parent", "P3") == []
    assert pnl_rows(query("pnl", "--by", "parent")) == EXPECTED_PNL
