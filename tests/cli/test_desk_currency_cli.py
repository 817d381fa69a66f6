"""``orderledger pnl`` and ``positions`` with ``--in-currency`` through the real CLI, on SQLite
and PostgreSQL: the P&L in USDT and USDC as one USD figure at the recorded marks; a missing
mark is one line naming the pair (tests/support/desk_currency.py works the figures by hand)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import assert_one_line_failure, cli_json, jsonl, run_cli
from tests.support.desk_currency import BTC_USD, DESK_USD, ETH_USD, NO_USDC_RATE, USDC_MARK, USDT_MARK, fills


@pytest.fixture(params=("sqlite", "postgres"))
def backend(request: pytest.FixtureRequest) -> str:
    """The file backends the CLI opens (overrides tests/conftest.py's, which adds memory)."""
    return str(request.param)


def ingested(db: str, cwd: Path, *lines: dict[str, Any]) -> None:
    run = run_cli("ingest", "-", stdin="\n".join(jsonl(*lines)) + "\n", db=db, cwd=cwd)
    assert run.returncode == 0, run.describe()


def test_pnl_and_positions_in_one_currency_through_the_cli(file_ledger_url: str, tmp_path: Path) -> None:
    db, cwd = file_ledger_url, tmp_path
    # Given 12.5 USDT and 3 USDC realized on main, and only USDT/USD marked
    ingested(db, cwd, *fills(), USDT_MARK)
    # Then the P&L in USD is one line naming the missing pair, exit 2
    failed = run_cli("pnl", "--by", "account", "--in-currency", "USD", db=db, cwd=cwd)
    assert assert_one_line_failure(failed, 2) == f"orderledger: {NO_USDC_RATE}"
    # When USDC-USD is marked too
    ingested(db, cwd, USDC_MARK)
    # Then main's P&L is one USD row: 12.4875 + 3.0006 = 15.4881
    [row] = cli_json("pnl", "--by", "account", "--in-currency", "USD", db=db, cwd=cwd)
    assert (row["account"], row["pnl_currency"], row["realized_pnl"], row["fills"]) == (
        "main",
        "USD",
        str(DESK_USD),
        4,
    )
    table = run_cli("pnl", "--by", "account", "--in-currency", "USD", db=db, cwd=cwd)
    # (the table shows a USD amount at its currency's places: 15.4881 as 15.49…)
    assert table.returncode == 0 and "main     USD          15.49…" in table.stdout, table.describe()
    # And each position's realized P&L in USD: 12.5 × 0.999 and 3 × 1.0002
    rows = cli_json("positions", "--in-currency", "USD", db=db, cwd=cwd)
    assert [(r["instrument"], r["pnl_currency"], r["realized_pnl"]) for r in rows] == [
        ("BTC/USDT", "USD", str(BTC_USD)),
        ("ETH/USDC", "USD", str(ETH_USD)),
    ]
    # And --daily does not take it: one line
    daily = run_cli("pnl", "--daily", "--in-currency", "USD", db=db, cwd=cwd)
    assert "--in-currency" in assert_one_line_failure(daily, 2)
