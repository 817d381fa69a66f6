"""The lake under a kill and through the command: a run killed between its data files and its
manifest loses and repeats nothing; bad arguments are one-line errors. The session is
test_lake's (``tests/support/lake.py``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from orderledger.domain.errors import InvalidInputError
from orderledger.infrastructure.application.analytics.lake import read_manifest
from orderledger.infrastructure.application.ledger import OrderLedger
from tests.support.audit import orderledger
from tests.support.lake import FIRST, SECOND, contents, record

_CRASH = """
import os, sys
from orderledger.infrastructure.application.analytics import lake
from orderledger.infrastructure.application.ledger import OrderLedger
lake._write_manifest = lambda directory, manifest: os._exit(9)  # dies after the data files
with OrderLedger(sys.argv[1]) as ledger:
    ledger.analytics.export_lake(sys.argv[2])
"""


def test_a_run_killed_before_its_manifest_loses_and_repeats_nothing(
    file_ledger_url: str, tmp_path: Path
) -> None:
    with OrderLedger(file_ledger_url) as ledger:
        record(ledger, FIRST)
        ledger.analytics.export_lake(tmp_path / "killed")
        record(ledger, SECOND)
    died = subprocess.run(
        [sys.executable, "-c", _CRASH, file_ledger_url, str(tmp_path / "killed")], check=False
    )
    assert died.returncode == 9
    # the dead run wrote Z's files (positions 8–9) but its manifest still says 7
    assert read_manifest(tmp_path / "killed")["position"] == 7
    assert any("-000000000008-000000000009-" in p.name for p in (tmp_path / "killed").rglob("*.parquet"))
    with OrderLedger(file_ledger_url) as ledger:
        again = ledger.analytics.export_lake(tmp_path / "killed")
        ledger.analytics.export_lake(tmp_path / "once")
    assert (again.after, again.position) == (7, 9)
    assert contents(tmp_path / "killed") == contents(tmp_path / "once")


@pytest.fixture(params=("sqlite", "postgres"))
def backend(request: pytest.FixtureRequest) -> str:
    """The crash runs in another process: backends another process can share."""
    return str(request.param)


def test_bad_arguments_are_one_line_errors(file_ledger_url: str, tmp_path: Path) -> None:
    with OrderLedger(file_ledger_url) as ledger:
        record(ledger, FIRST)
        (tmp_path / "a-file").write_text("x")
        with pytest.raises(InvalidInputError, match="is not a directory"):
            ledger.analytics.export_lake(tmp_path / "a-file")
        with pytest.raises(InvalidInputError, match=r"is not an exported lake \(no _manifest.json\)"):
            ledger.analytics.execution_quality(lake=tmp_path / "empty")
    assert "export lake needs DIR" in orderledger("export", "lake", db=file_ledger_url).one_line_failure(2)
    assert "--by must be among venue" in orderledger(
        "analytics", "execution", "--by", "desk", db=file_ledger_url
    ).one_line_failure(2)
    run = orderledger("export", "lake", str(tmp_path / "cli"), db=file_ledger_url)
    assert run.code == 0, run.describe()
    # X 4 events, Y 3: positions 1–7; fills x1, x2, y1 and its bust
    assert run.stdout.startswith("exported positions 1–7 to ")
    assert "7 events, 4 fills, 0 funding, 2 orders, 2 positions" in run.stdout
    run = orderledger("analytics", "execution", "--json", "--lake", str(tmp_path / "cli"), db=file_ledger_url)
    [row] = run.json()
    # X: 1.5 of 1.5 filled; Y: 0 of 2 (busted) → 1.5 / 3.5
    assert (row["orders"], row["filled_quantity"], row["quantity"]) == (2, "1.5", "3.5")
