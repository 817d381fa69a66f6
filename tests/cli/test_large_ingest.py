"""``ingest`` of a 100,000-line session file on SQLite completes, and every line is accounted for.

The time and the rate are printed, not asserted: they depend on the machine.
"""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import pytest

from orderledger.infrastructure.application.simulator import simulate_lines
from tests.support.cli import OUTCOMES, ingest, write_lines

LINES = 100_000


@pytest.mark.slow
def test_ingest_of_100k_lines_completes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # About 4.3 lines per simulated order: 24,000 orders give enough lines to cut at 100,000.
    lines = list(islice(simulate_lines(11, 24_000), LINES))
    assert len(lines) == LINES
    session = write_lines(tmp_path / "session.jsonl", lines)

    run, summary = ingest(session, db=f"sqlite:///{tmp_path / 'ledger.db'}", cwd=tmp_path)
    with capsys.disabled():
        print(
            f"\ningest of {LINES:,} lines on SQLite: {summary.events:,} events in {summary.seconds:.1f} s "
            f"({summary.rate:,} events/s, {LINES / summary.seconds:,.0f} lines/s)"
        )
    assert run.returncode == 0 and run.stderr == "", run.describe()
    assert summary.lines == LINES
    assert set(summary.counts) == set(OUTCOMES)
    assert sum(summary.counts.values()) == LINES
    assert summary.counts["rejected"] == 0
    assert summary.counts["applied"] > LINES // 2 and summary.events >= summary.counts["applied"]
