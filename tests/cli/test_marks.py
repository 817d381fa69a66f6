"""Recorded marks value positions when no ``--mark`` is given, through the real CLI on SQLite
and PostgreSQL. Every expected figure is worked out by hand in the test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import cli_json, jsonl, parse_ingest, run_cli, write_lines


@pytest.fixture(params=("sqlite", "postgres"))
def backend(request: pytest.FixtureRequest) -> str:
    """The file backends the CLI opens (overrides tests/conftest.py's, which adds memory)."""
    return str(request.param)


BOOK = {"account": "a", "venue": "v", "instrument": "BTC-USDT"}
MARK = {"type": "mark", "venue": "v", "instrument": "BTC-USDT", "source": "venue-mark"}


def _position(db: str, folder: Path, *args: str) -> dict[str, Any]:
    (row,) = cli_json("positions", *args, db=db, cwd=folder)
    return dict(row)


def test_positions_use_the_latest_recorded_mark_at_or_before_the_as_of_time(
    file_ledger_url: str, tmp_path: Path
) -> None:
    # Given a long of 2 BTC-USDT bought at 100, and marks of 110 at 11:00 and 120 at 12:00
    lines = jsonl(
        {"type": "request", "ts": "2026-11-20T10:00:00Z", "client_order_id": "b", **BOOK, "side": "buy",
         "order_type": "market", "quantity": "2"},
        {"type": "fill", "ts": "2026-11-20T10:00:00Z", "client_order_id": "b", "trade_id": "t1",
         "quantity": "2", "price": "100"},
        {**MARK, "ts": "2026-11-20T11:00:00Z", "price": "110"},
        {**MARK, "ts": "2026-11-20T12:00:00Z", "price": "120"},
        {**MARK, "ts": "2026-11-20T12:00:00Z", "price": "120"},
        {**MARK, "ts": "2026-11-20T12:00:00Z", "price": "121"},
    )  # fmt: skip
    run = run_cli("ingest", str(write_lines(tmp_path / "in.jsonl", lines)), db=file_ledger_url, cwd=tmp_path)
    counts = parse_ingest(run.stdout).counts
    # Then the same mark again is a duplicate, and another price for the same key is refused
    assert (counts["applied"], counts["duplicate"], counts["rejected"]) == (4, 1, 1), run.describe()
    assert run.stderr_lines == [
        "line 6: rejected: mark of 'BTC-USDT' at 'v' from 'venue-mark' at 2026-11-20T12:00:00.000000Z"
        " already recorded at 120 (now 121)"
    ], run.describe()
    # And without --mark the position is valued at the latest mark, 120: (120 − 100) × 2 = 40
    now = _position(file_ledger_url, tmp_path)
    assert (now["mark"], now["unrealized_pnl"], now["mark_time"]) == (
        "120",
        "40",
        "2026-11-20T12:00:00.000000Z",
    )
    # And as of 11:30 venue time, at the mark of 11:00, 110: (110 − 100) × 2 = 20
    then = _position(file_ledger_url, tmp_path, "--as-of", "2026-11-20T11:30:00Z", "--event-time")
    assert (then["mark"], then["unrealized_pnl"], then["mark_time"]) == (
        "110",
        "20",
        "2026-11-20T11:00:00.000000Z",
    )
    # And a caller's mark wins: (105 − 100) × 2 = 10, with no recorded mark's time
    given = _position(file_ledger_url, tmp_path, "--mark", "BTC-USDT=105")
    assert (given["mark"], given["unrealized_pnl"], given["mark_time"]) == ("105", "10", None)


def _day(ts: str) -> str:
    return f"2026-11-{ts}:00Z"


DAILY = jsonl(
    # Day 1: account a buys 2 BTC-USDT at 100 (fee 0.2), pays 0.5 of funding; the day's last mark 110.
    {"type": "request", "ts": _day("20T10:00"), "client_order_id": "a1", **BOOK, "side": "buy",
     "order_type": "market", "quantity": "2", "tags": {"strategy": "mm"}},
    {"type": "fill", "ts": _day("20T10:00"), "client_order_id": "a1", "trade_id": "t1",
     "quantity": "2", "price": "100", "fee": "0.2", "fee_currency": "USDT"},
    {"type": "cash_flow", "ts": _day("20T16:00"), **BOOK, "kind": "funding", "flow_id": "f1",
     "amount": "-0.5", "currency": "USDT"},
    {**MARK, "ts": _day("20T23:00"), "price": "110"},
    # Day 2: a sells 1 at 120 (fee 0.1); marks 115, then 118 last. Account b buys 1 ETH-USDT at
    # 10, which has no mark.
    {"type": "request", "ts": _day("21T09:00"), "client_order_id": "a2", **BOOK, "side": "sell",
     "order_type": "market", "quantity": "1", "tags": {"strategy": "mm"}},
    {"type": "fill", "ts": _day("21T09:00"), "client_order_id": "a2", "trade_id": "t2",
     "quantity": "1", "price": "120", "fee": "0.1", "fee_currency": "USDT"},
    {**MARK, "ts": _day("21T12:00"), "price": "115"},
    {**MARK, "ts": _day("21T23:00"), "price": "118"},
    {"type": "request", "ts": _day("21T10:00"), "client_order_id": "b1", "account": "b", "venue": "v",
     "instrument": "ETH-USDT", "side": "buy", "order_type": "market", "quantity": "1",
     "tags": {"strategy": "arb"}},
    {"type": "fill", "ts": _day("21T10:00"), "client_order_id": "b1", "trade_id": "t3",
     "quantity": "1", "price": "10"},
)  # fmt: skip


def test_daily_pnl_by_account_and_by_tag(file_ledger_url: str, tmp_path: Path) -> None:
    run = run_cli(
        "ingest", str(write_lines(tmp_path / "days.jsonl", DAILY)), db=file_ledger_url, cwd=tmp_path
    )
    assert parse_ingest(run.stdout).counts["applied"] == len(DAILY), run.describe()
    rows = cli_json("pnl", "--daily", db=file_ledger_url, cwd=tmp_path)
    shown = [
        (r["day"], r["account"], r["realized_pnl"], r["fees"], r["funding"], r["realized_pnl_net"],
         r["unrealized_pnl"], r["unmarked"])
        for r in rows
    ]  # fmt: skip
    assert shown == [
        # a, day 1: realized 0; net 0 − 0.2 − 0.5 = −0.7; unrealized (110 − 100) × 2 = 20
        ("2026-11-20", "a", "0", {"USDT": "0.2"}, {"USDT": "-0.5"}, "-0.7", "20", []),
        # a, day 2: realized (120 − 100) × 1 = 20; net 20 − 0.1 = 19.9; unrealized (118 − 100) × 1 = 18
        ("2026-11-21", "a", "20", {"USDT": "0.1"}, {}, "19.9", "18", []),
        # b, day 2: nothing realized; 1 ETH-USDT held with no mark: unrealized unknown, and why
        ("2026-11-21", "b", "0", {}, {}, "0", None, ["ETH-USDT"]),
    ]
    # By strategy tag: the same books (each account traded one strategy); the funding message
    # carried no tag, so it stands in a group of its own ("(none)")
    by_tag = cli_json("pnl", "--daily", "--by", "tag:strategy", db=file_ledger_url, cwd=tmp_path)
    assert [(r["day"], r["tag:strategy"], r["realized_pnl_net"], r["unrealized_pnl"]) for r in by_tag] == [
        ("2026-11-20", "(none)", "-0.5", "0"),  # holds nothing: nothing unrealized
        ("2026-11-20", "mm", "-0.2", "20"),
        ("2026-11-21", "arb", "0", None),
        ("2026-11-21", "mm", "19.9", "18"),
    ]
    # And the table shows the same rows
    table = run_cli("pnl", "--daily", db=file_ledger_url, cwd=tmp_path)
    assert table.returncode == 0 and "daily P&L by account" in table.stdout, table.describe()
