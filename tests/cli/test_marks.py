"""Recorded marks value positions when no ``--mark`` is given, through the real CLI on SQLite
and PostgreSQL. Every expected figure is worked out by hand in the test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.cli.helpers import cli_json, jsonl, parse_ingest, run_cli, write_lines


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
