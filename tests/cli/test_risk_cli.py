"""Limits and trading states through the real CLI, on SQLite and PostgreSQL (docs/risk.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import cli_json, run_cli


@pytest.fixture(params=("sqlite", "postgres"))
def backend(request: pytest.FixtureRequest) -> str:
    """The file backends the CLI opens (overrides tests/conftest.py's, which adds memory)."""
    return str(request.param)


ORDER = json.dumps(
    {"venue": "x", "account": "main", "instrument": "BTC-USDT", "side": "buy", "order_type": "limit",
     "quantity": "3", "price": "100"}
)  # fmt: skip


def test_limits_halt_resume_and_check_through_the_cli(file_ledger_url: str, tmp_path: Path) -> None:
    db, cwd = file_ledger_url, tmp_path
    # Given an order notional limit of 250, set by alice
    run = run_cli(
        "limit", "set", "account", "main", "max_order_notional", "250", "--by", "alice", db=db, cwd=cwd
    )
    assert run.returncode == 0 and run.stdout == "max_order_notional of account main set to 250 by alice\n"
    [limit] = cli_json("limits", "--json", db=db, cwd=cwd)
    assert (limit["kind"], limit["value"], limit["set_by"]) == ("max_order_notional", "250", "alice")
    # Then an order of 3 × 100 = 300 is denied (exit 1), saying why
    run = run_cli("check", ORDER, db=db, cwd=cwd)
    assert run.returncode == 1 and run.stdout.splitlines() == [
        "denied",
        "  max_order_notional 250 on account main: would be 300",
    ], run.describe()
    # When the account is halted by alice, and the limit cleared
    run = run_cli("halt", "--account", "main", "--by", "alice", "--reason", "flash crash", db=db, cwd=cwd)
    assert run.returncode == 0 and run.stdout == "main: halted (set by alice)\n", run.describe()
    assert (
        run_cli(
            "limit", "clear", "account", "main", "max_order_notional", "--by", "bob", db=db, cwd=cwd
        ).returncode
        == 0
    )
    # Then the state says who halted it, and the check is denied for the halt alone
    [state] = cli_json("state", "--json", db=db, cwd=cwd)
    assert (state["account"], state["state"], state["set_by"], state["reason"]) == (
        "main",
        "halted",
        "alice",
        "flash crash",
    )
    run = run_cli("check", ORDER, "--json", db=db, cwd=cwd)
    assert run.returncode == 1 and json.loads(run.stdout)["breaches"] == [
        {"reason": "trading is halted (set by alice: flash crash)"}
    ]
    # And once resumed the order is allowed (exit 0), and the limits as of before they were set are none
    assert run_cli("resume", "--account", "main", "--by", "bob", db=db, cwd=cwd).returncode == 0
    assert run_cli("check", ORDER, db=db, cwd=cwd).stdout == "allowed\n"
    assert cli_json("limits", "--json", "--as-of", "2000-01-01T00:00:00Z", db=db, cwd=cwd) == []
    assert cli_json("limits", "--json", db=db, cwd=cwd) == []


def test_a_bad_limit_is_one_line_and_changes_nothing(file_ledger_url: str, tmp_path: Path) -> None:
    run = run_cli(
        "limit",
        "set",
        "account",
        "main",
        "max_orders",
        "3",
        "--by",
        "alice",
        db=file_ledger_url,
        cwd=tmp_path,
    )
    assert run.returncode == 2 and run.stderr_lines == [
        "orderledger: a max_orders limit needs interval (seconds)"
    ]
    assert cli_json("limits", "--json", db=file_ledger_url, cwd=tmp_path) == []
