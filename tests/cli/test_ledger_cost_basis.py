"""A ledger's own cost-basis rule (`db init --cost-basis`, `db cost-basis`), through the real
command on a SQLite file and PostgreSQL: positions, P&L, daily P&L and as-of positions read
under it, a query's `--cost-basis` still wins, the rule survives reopening (every command opens
the ledger afresh), and a ledger never given one reads as average cost."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.support.cli import assert_one_line_failure, cli_json, ingest, run_cli, write_lines
from tests.support.cost_basis import SESSION, position_of
from tests.support.integration import T0

# SESSION (tests/cli/test_cost_basis.py, docs/semantics.md "Cost basis"): buys of 1 @ 100, 140,
# 120, 110 (fee 1 USDT each), then a sell of 2 @ 130 (fee 2 USDT), all on 2026-11-20. A mark of
# 125 recorded at the end of that day values what is held for the daily P&L.
MARKED = [
    *SESSION,
    json.dumps(
        {"type": "mark", "ts": "2026-11-20T23:00:00Z", "venue": "V", "instrument": "ETH-USDT",
         "price": "125", "source": "venue-mark"}
    ),
]  # fmt: skip
MARK = ("--mark", "ETH-USDT=125")


def _load(db: str, folder: Path) -> None:
    run, summary = ingest(write_lines(folder / "s.jsonl", MARKED), db=db, cwd=folder)
    assert run.returncode == 0 and summary.counts["rejected"] == 0, run.describe()


def test_a_ledger_created_under_fifo_reads_fifo_everywhere(file_ledger_url: str, tmp_path: Path) -> None:
    db = file_ledger_url
    done = run_cli("db", "init", "--cost-basis", "fifo", db=db, cwd=tmp_path)
    assert done.returncode == 0 and "positions and P&L use cost basis fifo" in done.stdout, done.describe()
    _load(db, tmp_path)

    def query(*args: str) -> Any:
        return cli_json(*args, db=db, cwd=tmp_path)

    # FIFO by hand: the sell of 2 @ 130 closes the lots at 100 and 140: (130 − 100) + (130 − 140)
    # = 20; left 120 and 110, average 115; unrealized at 125: (125 − 115) × 2 = 20.
    assert position_of(query("positions", *MARK)) == (2, 115, 20, 20)
    # The same figures as the per-query fold, and a query's rule still wins (average: 117.5, 25, 15).
    assert query("positions", *MARK) == query("positions", *MARK, "--cost-basis", "fifo")
    assert position_of(query("positions", *MARK, "--cost-basis", "average")) == (2, Decimal("117.5"), 25, 15)
    # As of 10:00:08 venue time (before the sell): the four buys, nothing realized yet.
    then = (T0.replace(second=8)).isoformat()
    assert position_of(query("positions", *MARK, "--as-of", then, "--event-time")) == (4, 117.5, 0, 30)
    # P&L: realized 20; fees 4 × 1 + 2 = 6 USDT; net 20 − 6 = 14.
    [day] = query("pnl")
    assert (Decimal(day["realized_pnl"]), Decimal(day["realized_pnl_net"]), day["fills"]) == (20, 14, 5)
    # Daily P&L: the same day's figures, and unrealized at the day's last mark, 125: 20.
    [daily] = query("pnl", "--daily")
    assert (daily["day"], daily["realized_pnl"], daily["realized_pnl_net"], daily["unrealized_pnl"]) == (
        "2026-11-20",
        "20",
        "14",
        "20",
    )
    shown = run_cli("db", "cost-basis", db=db, cwd=tmp_path)
    assert shown.stdout.strip() == "cost basis: fifo", shown.describe()


def test_a_ledger_without_a_rule_reads_as_average_and_changes_only_when_told(
    file_ledger_url: str, tmp_path: Path
) -> None:
    db = file_ledger_url
    _load(db, tmp_path)  # opened without `db init --cost-basis`: no rule stored
    assert run_cli("db", "cost-basis", db=db, cwd=tmp_path).stdout.strip() == "cost basis: average"
    # Average by hand: cost 100 + 140 + 120 + 110 = 470 for 4, average 117.5; the sell realizes
    # (130 − 117.5) × 2 = 25; unrealized at 125: (125 − 117.5) × 2 = 15.
    assert position_of(cli_json("positions", *MARK, db=db, cwd=tmp_path)) == (2, Decimal("117.5"), 25, 15)
    [daily] = cli_json("pnl", "--daily", db=db, cwd=tmp_path)
    assert (daily["realized_pnl"], daily["unrealized_pnl"]) == ("25", "15")
    # A query's rule wins here too: HIFO closes 140 and 120: (130 − 140) + (130 − 120) = 0; left
    # 100 and 110, cost 210; unrealized at 125: 250 − 210 = 40.
    [daily] = cli_json("pnl", "--daily", "--cost-basis", "hifo", db=db, cwd=tmp_path)
    assert (daily["realized_pnl"], daily["unrealized_pnl"]) == ("0", "40")

    # Changing the rule restates every figure: without --yes it is refused and nothing changes.
    refused = run_cli("db", "cost-basis", "lifo", db=db, cwd=tmp_path)
    assert assert_one_line_failure(refused) == (
        "orderledger: changing the cost basis from average to lifo restates every position and P&L"
        " figure: repeat with --yes"
    )
    refused = run_cli("db", "cost-basis", "fofi", "--yes", db=db, cwd=tmp_path)
    assert "cost basis 'fofi': expected one of average, fifo, lifo, hifo" in assert_one_line_failure(refused)
    # A rule at `db init` is for a new ledger: this one has events under average.
    refused = run_cli("db", "init", "--cost-basis", "hifo", db=db, cwd=tmp_path)
    assert "this ledger already has events under average" in assert_one_line_failure(refused)
    assert position_of(cli_json("positions", *MARK, db=db, cwd=tmp_path)) == (2, Decimal("117.5"), 25, 15)

    changed = run_cli("db", "cost-basis", "lifo", "--yes", db=db, cwd=tmp_path)
    assert changed.stdout.strip() == "cost basis: average → lifo", changed.describe()
    # LIFO by hand: the sell closes the lots at 110 and 120: (130 − 110) + (130 − 120) = 30; left
    # 100 and 140, average 120; unrealized at 125: (125 − 120) × 2 = 10.
    assert position_of(cli_json("positions", *MARK, db=db, cwd=tmp_path)) == (2, 120, 30, 10)
    [daily] = cli_json("pnl", "--daily", db=db, cwd=tmp_path)
    assert (daily["realized_pnl"], daily["unrealized_pnl"]) == ("30", "10")
    # And back: the log was never touched, so average gives the first figures again.
    assert run_cli("db", "cost-basis", "average", "--yes", db=db, cwd=tmp_path).returncode == 0
    assert position_of(cli_json("positions", *MARK, db=db, cwd=tmp_path)) == (2, Decimal("117.5"), 25, 15)
