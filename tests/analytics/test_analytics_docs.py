"""docs/analytics.md stays true: its Python example and every SQL example run, from a directory
holding a ledger (``orderledger.db``) and the lake exported from it, on the session of
``tests/support/lake.py``; the first SQL example's figure is worked by hand."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from orderledger.infrastructure.application.ledger import OrderLedger
from tests.support.lake import FIRST, SECOND, record

DOC = Path(__file__).resolve().parents[2] / "docs" / "analytics.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


@pytest.fixture
def desk(tmp_path: Path) -> Path:
    with OrderLedger(f"sqlite:///{tmp_path / 'orderledger.db'}") as ledger:
        record(ledger, FIRST + SECOND)
        ledger.analytics.export_lake(tmp_path / "lake")
    return tmp_path


def test_every_sql_example_runs_on_the_lake(desk: Path) -> None:
    examples = _blocks("sql")
    assert len(examples) == 6
    here = Path.cwd()
    os.chdir(desk)
    try:
        con = duckdb.connect()
        results = [con.execute(sql).fetchall() for sql in examples]
        con.close()
    finally:
        os.chdir(here)
    slippage = {(venue, side): bps for venue, side, _, bps in results[0]}
    # V1 buys: X 0.5 @ 100.10 and 1 @ 100.05 under 100, Z 0.25 @ 99 under 99: cost
    # (50.05 + 100.05 − 150) + (24.75 − 24.75) = 0.1 over 150 + 24.75 = 174.75: 5.7225… bps
    assert slippage[("V1", "buy")] == pytest.approx(0.1 / 174.75 * 10_000)
    assert all(len(rows) > 0 for rows in results[:4])
    # P&L: X's two buys on the first day realize nothing and pay 0.0100 - 0.002; Y's sell was
    # busted (no row); Z's buy the next day pays no fee
    assert [row[:1] + row[2:] for row in results[4]] == [
        (date(2026, 11, 20), "USDT", None, Decimal(0), Decimal("0.008"), 2),
        (date(2026, 11, 21), "USDT", None, Decimal(0), None, 1),
    ]


def test_the_python_example_runs(desk: Path) -> None:
    [example] = _blocks("python")
    run = subprocess.run(
        [sys.executable, "-c", example], cwd=desk, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
    # one group per venue and strategy: V1 and V2, no strategy tag
    assert run.stdout.count("{'venue': ") == 2
