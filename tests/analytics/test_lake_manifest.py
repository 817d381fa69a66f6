"""A lake's manifest is checked against the log and the lake's own files before anything is
written: a position past the log's end, or past where the lake's event files end, is refused in
one line and changes nothing, so an altered manifest (or another ledger's lake) can never make
every later export "up to date" or leave a gap (docs/analytics.md, "The lake")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orderledger.domain.errors import InvalidInputError
from orderledger.infrastructure.application.ledger import OrderLedger
from tests.support.cli import assert_one_line_failure, run_cli
from tests.support.lake import FIRST, SECOND, record


def forge(lake: Path, position: object) -> None:
    path = lake / "_manifest.json"
    manifest = json.loads(path.read_text())
    manifest["position"] = position
    path.write_text(json.dumps(manifest))


def files(lake: Path) -> dict[str, bytes]:
    return {str(p.relative_to(lake)): p.read_bytes() for p in sorted(lake.rglob("*")) if p.is_file()}


def test_a_position_past_the_logs_end_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    lake = tmp_path / "lake"
    with OrderLedger(url) as ledger:
        record(ledger, FIRST)
        assert ledger.analytics.export_lake(lake).position == 7
        forge(lake, 10**9)
        before = files(lake)
        record(ledger, SECOND)  # positions 8 and 9: the next export must not call itself up to date
        with pytest.raises(InvalidInputError) as refused:
            ledger.analytics.export_lake(lake)
        assert refused.value.message == (
            f"{lake}'s manifest says the lake holds the log up to position 1000000000, but this"
            " ledger's log ends at 9: it is another ledger's lake, or its manifest was altered;"
            " export to a new directory (nothing was written)"
        )
        assert files(lake) == before
    # The command says it in one line (exit 2), naming no option the command lacks
    line = assert_one_line_failure(run_cli("export", "lake", str(lake), db=url, cwd=tmp_path), 2)
    assert "manifest says the lake holds the log up to position 1000000000" in line
    assert "--" not in line
    # Put right, the lake takes the new positions as ever
    forge(lake, 7)
    with OrderLedger(url) as ledger:
        report = ledger.analytics.export_lake(lake)
        assert (report.after, report.position, report.rows["events"]) == (7, 9, 2)


def test_a_position_past_the_lakes_own_files_is_refused(ledger: OrderLedger, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    record(ledger, FIRST)
    ledger.analytics.export_lake(lake)
    record(ledger, SECOND)
    forge(lake, 8)  # within the log, but the lake's events end at 7: position 8 would be skipped
    with pytest.raises(InvalidInputError, match="but its event files end at 7"):
        ledger.analytics.export_lake(lake)


@pytest.mark.parametrize("position", ["7", -1, 1.5, True, None])
def test_a_position_that_is_no_log_position_is_refused(
    ledger: OrderLedger, tmp_path: Path, position: object
) -> None:
    lake = tmp_path / "lake"
    record(ledger, FIRST)
    ledger.analytics.export_lake(lake)
    forge(lake, position)
    with pytest.raises(
        InvalidInputError, match=r"is not a lake manifest: its position .* is not a log position"
    ):
        ledger.analytics.export_lake(lake)
