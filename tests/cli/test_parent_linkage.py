"""Proposal → order → trade linkage: orders, trades and P&L queried by ``parent_id``, through the
Python query functions and through the real ``orderledger`` command, on SQLite and PostgreSQL.

The session (one instrument, one account, fills in this log order; figures by hand):

  A  buy 10 @ 100, parent P1, fee 1     → long 10, cost 1000,            realized   0
  B  sell 4 @ 110, parent P1, fee 0.5   → long 6,  (110 − 100) × 4     = realized  40
  C  sell 6 @ 95,  parent P2, fee 0.25  → flat,    (95 − 100) × 6      = realized −30
  D  buy 2 @ 90,   no parent, fee 0.1   → long 2,                        realized   0
  E  buy 1 @ 100,  no parent, fee 0.05  → long 3,                        realized   0
  E  requested again with parent P2: the order learns its parent after its fill.

By parent: P1 = 0 + 40 = 40, fees 1 + 0.5 = 1.5, net 38.5, 2 fills;
           P2 = −30 + 0 = −30, fees 0.25 + 0.05 = 0.3, net −30.3, 2 fills (E's fill counts:
           a trade belongs to its order's parent, even one learned after the fill);
           (none) = D: 0, fee 0.1, net −0.1, 1 fill.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.queries import list_orders, list_trades, pnl_by
from tests.cli.helpers import cli_json, ingest, write_lines
from tests.integration.helpers import fill, lines, request

SESSION = lines(
    request("A", parent_id="P1"),
    fill("A", "tA", "10", "100", seconds=1, fee="1", fee_currency="USDT"),
    request("B", seconds=2, side="sell", quantity="4", price="110", parent_id="P1"),
    fill("B", "tB", "4", "110", seconds=3, fee="0.5", fee_currency="USDT"),
    request("C", seconds=4, side="sell", quantity="6", price="95", parent_id="P2"),
    fill("C", "tC", "6", "95", seconds=5, fee="0.25", fee_currency="USDT"),
    request("D", seconds=6, quantity="2", price="90"),
    fill("D", "tD", "2", "90", seconds=7, fee="0.1", fee_currency="USDT"),
    request("E", seconds=8, quantity="1", price="100"),
    fill("E", "tE", "1", "100", seconds=9, fee="0.05", fee_currency="USDT"),
    request("E", seconds=10, quantity="1", price="100", parent_id="P2"),
)

EXPECTED_PNL = [
    # (parent, P&L currency, realized, net, fees, fills)
    ("(none)", "USDT", Decimal("0"), Decimal("-0.1"), {"USDT": Decimal("0.1")}, 1),
    ("P1", "USDT", Decimal("40"), Decimal("38.5"), {"USDT": Decimal("1.5")}, 2),
    ("P2", "USDT", Decimal("-30"), Decimal("-30.3"), {"USDT": Decimal("0.3")}, 2),
]


@pytest.fixture(params=("sqlite", "postgres"))
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _pnl_rows(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (
            r["parent"],
            r["pnl_currency"],
            Decimal(r["realized_pnl"]),
            None if r["realized_pnl_net"] is None else Decimal(r["realized_pnl_net"]),
            {k: Decimal(v) for k, v in r["fees"].items()},
            r["fills"],
        )
        for r in rows
    ]


def _trades(rows: list[dict[str, Any]]) -> list[tuple[str, str, str | None]]:
    return [(r["client_order_id"], r["trade_id"], r["parent_id"]) for r in rows]


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
    assert _trades(list_trades(ledger.db, parent="P1")) == [("A", "tA", "P1"), ("B", "tB", "P1")]
    assert _trades(list_trades(ledger.db, parent="P2")) == [("C", "tC", "P2"), ("E", "tE", "P2")]
    assert list_trades(ledger.db, parent="P3") == []
    # And the parent filter combines with the others
    assert _trades(list_trades(ledger.db, parent="P1", client_order_id="B")) == [("B", "tB", "P1")]
    # And P&L by parent sums the entries of each parent's orders
    assert _pnl_rows(pnl_by(ledger.db, "parent")) == EXPECTED_PNL


def test_orders_trades_and_pnl_by_parent_through_the_command(file_ledger_url: str, tmp_path: Path) -> None:
    # Given the session ingested by the real command
    run, summary = ingest(write_lines(tmp_path / "session.jsonl", SESSION), db=file_ledger_url, cwd=tmp_path)
    assert run.returncode == 0 and summary.counts["applied"] == len(SESSION), run.describe()

    def query(*args: str) -> Any:
        return cli_json(*args, db=file_ledger_url, cwd=tmp_path)

    # Then orders --parent, trades --parent and pnl --by parent say what the functions say
    assert [o["client_order_id"] for o in query("orders", "--parent", "P1")] == ["A", "B"]
    assert [o["client_order_id"] for o in query("orders", "--parent", "P2")] == ["C", "E"]
    assert _trades(query("trades", "--parent", "P1")) == [("A", "tA", "P1"), ("B", "tB", "P1")]
    assert _trades(query("trades", "--parent", "P2")) == [("C", "tC", "P2"), ("E", "tE", "P2")]
    assert query("trades", "--parent", "P3") == []
    assert _pnl_rows(query("pnl", "--by", "parent")) == EXPECTED_PNL
