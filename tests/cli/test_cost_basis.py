"""`positions --cost-basis`, `lots` and `export lots` through the real command (SQLite file and
PostgreSQL), on the fills of docs/semantics.md's cost-basis example; the live view stays
average cost."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import assert_one_line_failure, cli_json, ingest, run_cli, write_lines
from tests.support.cost_basis import SESSION, position_of


@pytest.fixture(params=("sqlite", "postgres"))
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_positions_under_each_rule_and_the_lots_an_accountant_asks_for(
    file_ledger_url: str, tmp_path: Path
) -> None:
    run, summary = ingest(write_lines(tmp_path / "s.jsonl", SESSION), db=file_ledger_url, cwd=tmp_path)
    assert run.returncode == 0 and summary.counts["rejected"] == 0, run.describe()

    def query(*args: str) -> Any:
        return cli_json(*args, db=file_ledger_url, cwd=tmp_path)

    mark = ("--mark", "ETH-USDT=125")
    # By hand (docs/semantics.md, "Cost basis"): realized, and unrealized at 125, per rule.
    assert position_of(query("positions", *mark)) == (2, Decimal("117.5"), 25, 15)  # the live view
    assert position_of(query("positions", *mark, "--cost-basis", "average")) == (2, Decimal("117.5"), 25, 15)
    assert position_of(query("positions", *mark, "--cost-basis", "fifo")) == (2, 115, 20, 20)
    assert position_of(query("positions", *mark, "--cost-basis", "lifo")) == (2, 120, 30, 10)
    assert position_of(query("positions", *mark, "--cost-basis", "hifo")) == (2, 105, 0, 40)
    # The live view is untouched by the queries.
    assert position_of(query("positions", *mark)) == (2, Decimal("117.5"), 25, 15)

    # pnl under a rule: the sell (venue time T0+11 s, on 2026-11-20) is credited with what it
    # realized; fees 4 × 1 + 2 = 6 USDT, so net = realized − 6.
    for basis, realized in (("average", "25"), ("fifo", "20"), ("lifo", "30"), ("hifo", "0")):
        [day] = query("pnl", "--cost-basis", basis)
        assert (day["day"], Decimal(day["realized_pnl"]), Decimal(day["realized_pnl_net"]), day["fills"]) == (
            "2026-11-20",
            Decimal(realized),
            Decimal(realized) - 6,
            5,
        )
    # The live entries say what average cost says.
    [day] = query("pnl")
    assert (Decimal(day["realized_pnl"]), day["fills"]) == (25, 5)

    closed = query("lots", "--closed", "--cost-basis", "lifo")
    assert [
        (
            r["open_trade_id"],
            r["close_trade_id"],
            Decimal(r["quantity"]),
            Decimal(r["cost"]),
            Decimal(r["proceeds"]),
        )
        + (Decimal(r["realized_pnl"]), r["fees"])
        for r in closed
    ] == [
        ("t4", "t5", 1, 110, 130, 20, {"USDT": "2"}),  # 1 (t4's fee) + 2 × 1/2 (the sell's)
        ("t3", "t5", 1, 120, 130, 10, {"USDT": "2"}),
    ]
    opened = query("lots", "--cost-basis", "lifo")
    assert [(r["open_trade_id"], r["side"], Decimal(r["cost"])) for r in opened] == [
        ("t1", "long", 100),
        ("t2", "long", 140),
    ]

    exported = run_cli(
        "export",
        "closed-lots",
        "--cost-basis",
        "hifo",
        "--format",
        "csv",
        "--out",
        "-",
        db=file_ledger_url,
        cwd=tmp_path,
    )
    assert exported.returncode == 0, exported.describe()
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    # HIFO: the sell closes t2 (140) and t3 (120): −10 and +10.
    assert [(r["open_trade_id"], r["realized_pnl"]) for r in rows] == [("t2", "-10"), ("t3", "10")]

    refused = run_cli("lots", "--cost-basis", "average", db=file_ledger_url, cwd=tmp_path)
    assert (
        assert_one_line_failure(refused)
        == "orderledger: lots need a lot rule: fifo, lifo or hifo, not average"
    )
    refused = run_cli("positions", "--cost-basis", "fofi", db=file_ledger_url, cwd=tmp_path)
    assert "cost basis 'fofi': expected one of average, fifo, lifo, hifo" in assert_one_line_failure(refused)


def test_lots_export_to_parquet_holds_the_figures_by_hand(file_ledger_url: str, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    run, summary = ingest(write_lines(tmp_path / "s.jsonl", SESSION), db=file_ledger_url, cwd=tmp_path)
    assert run.returncode == 0 and summary.counts["rejected"] == 0, run.describe()

    def export(what: str) -> list[dict[str, Any]]:
        out = tmp_path / f"{what}.parquet"
        done = run_cli(
            "export", what, "--cost-basis", "fifo", "--format", "parquet", "--out", str(out),
            db=file_ledger_url, cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.describe()
        rows: list[dict[str, Any]] = pq.read_table(out).to_pylist()
        return rows

    # FIFO: the sell of 2 @ 130 (t5, fee 2 USDT) closes t1 (100) and t2 (140), one unit each.
    closed = export("closed-lots")
    assert [
        (r["open_trade_id"], r["close_trade_id"], r["side"], Decimal(r["quantity"]), Decimal(r["cost"]))
        + (Decimal(r["proceeds"]), Decimal(r["realized_pnl"]), json.loads(r["fees"]), r["pnl_currency"])
        for r in closed
    ] == [
        # 130 − 100 = 30; fees: t1's 1 + half of the sell's 2 = 2 USDT
        ("t1", "t5", "long", 1, 100, 130, 30, {"USDT": "2"}, "USDT"),
        # 130 − 140 = −10; fees likewise 1 + 1 = 2 USDT
        ("t2", "t5", "long", 1, 140, 130, -10, {"USDT": "2"}, "USDT"),
    ]
    # The open lots: t3 (120) and t4 (110), each with its own fee of 1 USDT, not closed
    opened = export("lots")
    assert [
        (
            r["status"],
            r["open_trade_id"],
            Decimal(r["quantity"]),
            Decimal(r["open_price"]),
            Decimal(r["cost"]),
        )
        + (json.loads(r["fees"]), r["close_trade_id"], r["realized_pnl"])
        for r in opened
    ] == [
        ("open", "t3", 1, 120, 120, {"USDT": "1"}, None, None),
        ("open", "t4", 1, 110, 110, {"USDT": "1"}, None, None),
    ]
