"""The check of a SQLite file that `orderledger ingest` starts at its launch, before its imports.

The check is the one a process makes before its first write (``PRAGMA quick_check`` of the whole
file, unless the file is known sound); started at launch, it reads the file while the command
imports its code, and the ledger that opens the same file takes it. What must not change: nothing
is written before a passing check, damage is refused in one line, and a check of another file
(one put at the path meanwhile) is never taken for this one's.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.errors import DatabaseCorruptError
from orderledger.infrastructure.storage import early_check
from orderledger.infrastructure.storage import sqlite as sqlite_storage
from orderledger.infrastructure.storage.file_guard import identity
from tests.support.audit import damage_an_old_page, line, request
from tests.support.cli import cli_command, start_piped


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The checks this process made itself (not started at launch), by the thread that made them;
    no check started at launch is left running afterwards."""
    seen: list[str] = []
    check = sqlite_storage.check_sqlite_file

    def counted(tx: Any, path: str, *, deep: bool = False) -> str:
        seen.append(threading.current_thread().name)
        return check(tx, path, deep=deep)

    monkeypatch.setattr(sqlite_storage, "check_sqlite_file", counted)
    yield seen
    early_check._stop_all()
    assert not [t for t in threading.enumerate() if t.name == "orderledger-check"]


def _unknown_ledger(tmp_path: Path, orders: int = 200) -> Path:
    """A ledger file written and closed, then made unknown (as a copy or a restored backup is)."""
    path = tmp_path / "ledger.db"
    with OrderLedger(f"sqlite:///{path}") as ledger:
        ledger.ingest_lines([line(request(f"o-{i}", seconds=i)) for i in range(orders)])
    Path(f"{path}{early_check.SOUND_SUFFIX}").unlink()
    return path


def _events(path: Path) -> int:
    with OrderLedger(f"sqlite:///{path}", create=False) as ledger, ledger.db.read() as tx:
        return int(tx.one("SELECT COUNT(*) FROM events")[0])


def test_only_a_writing_command_on_a_file_to_be_checked_starts_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, checks: list[str]
) -> None:
    path = _unknown_ledger(tmp_path)
    url = f"sqlite:///{path}"
    opened = identity(str(path))
    # A read, a URL with options, a file known sound, a file not there: nothing is started
    for args in (
        ["--db", url, "orders", "--open"],
        ["--db", f"{url}?busy_timeout=3", "ingest", "-"],
        ["--db", url, "ingest", "--help"],
        ["--db", f"sqlite:///{tmp_path / 'new.db'}", "ingest", "-"],
        ["--db", "memory://", "ingest", "-"],
    ):
        early_check.start_for_command(args)
        assert early_check.take(str(path), opened) is None, args
        assert early_check.take(str(tmp_path / "new.db"), None) is None, args
    # `ingest` on a file that will be checked: started, by --db or by the environment's URL
    for args, environment in (
        (["--db", url, "ingest", "-"], None),
        ([f"--db={url}", "ingest", "-"], None),
        (["ingest", "-"], url),
    ):
        if environment is None:
            monkeypatch.delenv(early_check.URL_VARIABLE, raising=False)
        else:
            monkeypatch.setenv(early_check.URL_VARIABLE, environment)
        early_check.start_for_command(args)
        started = early_check.take(str(path), opened)
        assert started is not None, args
        started.wait()
        assert started.answer == ["ok"] and started.failure is None
    # A file known sound is not read again
    with OrderLedger(url) as ledger:
        ledger.record(request("o-sound", seconds=500))
    assert early_check.known_sound(str(path))
    early_check.start_for_command(["--db", url, "ingest", "-"])
    assert early_check.take(str(path), identity(str(path))) is None


def test_a_file_in_another_journal_mode_is_left_to_the_ledger_which_checks_it_itself(
    tmp_path: Path, checks: list[str]
) -> None:
    # Given a ledger file taken out of WAL mode (switching it back takes an exclusive lock,
    # which a check reading beside it would hold off)
    path = _unknown_ledger(tmp_path)
    with contextlib.closing(sqlite3.connect(path)) as other:
        assert other.execute("PRAGMA journal_mode=DELETE").fetchone()[0] == "delete"
    checks.clear()  # (the check of the new file before its first write)
    # When a command that writes starts: no check is started at its launch
    early_check.start(str(path))
    assert early_check.take(str(path), identity(str(path))) is None
    # And the ledger checks the file itself before its first write, as always
    with OrderLedger(f"sqlite:///{path}") as ledger:
        assert ledger.record(request("o-after", seconds=500)).outcome == "applied"
    assert checks == ["MainThread"]
    assert _events(path) == 201


def test_the_first_write_waits_for_the_check_started_at_launch_and_makes_no_other(
    tmp_path: Path, checks: list[str]
) -> None:
    path = _unknown_ledger(tmp_path)
    checks.clear()  # (the check of the new file before its first write)
    # Given the check started at launch, as `orderledger ingest` starts it
    early_check.start(str(path))
    # When the ledger opens the file and writes: it took that check, and made none itself
    with OrderLedger(f"sqlite:///{path}") as ledger:
        assert ledger.record(request("o-after", seconds=500)).outcome == "applied"
    assert checks == []
    assert early_check.take(str(path), identity(str(path))) is None  # taken, not left behind
    # And the file, checked and closed, is known sound for the next process
    assert early_check.known_sound(str(path))
    assert _events(path) == 201


def test_damage_found_by_the_check_started_at_launch_is_refused_before_anything_is_written(
    tmp_path: Path, checks: list[str]
) -> None:
    path = _unknown_ledger(tmp_path)
    damage_an_old_page(path)
    damaged = path.read_bytes()
    checks.clear()  # (the check of the new file before its first write)
    early_check.start(str(path))
    with (
        pytest.raises(
            DatabaseCorruptError, match=r"corrupt .*nothing was written.*PRAGMA quick_check found"
        ) as refused,
        OrderLedger(f"sqlite:///{path}") as ledger,
    ):
        ledger.record(request("o-never", seconds=500))
    assert "\n" not in str(refused.value)
    assert checks == []  # the verdict was the check's started at launch
    assert path.read_bytes() == damaged
    assert not early_check.known_sound(str(path))


def test_a_check_of_the_file_that_was_at_the_path_is_not_taken_for_the_one_there_now(
    tmp_path: Path, checks: list[str]
) -> None:
    path = _unknown_ledger(tmp_path)
    damaged = tmp_path / "damaged.db"
    shutil.copyfile(path, damaged)
    damage_an_old_page(damaged)
    checks.clear()  # (the check of the new file before its first write)
    # Given a check started of a sound file, which is then replaced by a damaged one
    early_check.start(str(path))
    os.replace(damaged, path)
    kept = path.read_bytes()
    # When a ledger opens the path and writes: the check of the other file is not its verdict;
    # it checks the file it opened, and refuses it
    with (
        pytest.raises(DatabaseCorruptError, match="PRAGMA quick_check found"),
        OrderLedger(f"sqlite:///{path}") as ledger,
    ):
        ledger.record(request("o-never", seconds=500))
    assert checks == ["MainThread"]
    assert path.read_bytes() == kept


def test_ingest_from_a_pipe_into_a_damaged_file_is_refused_in_one_line_and_acknowledges_nothing(
    tmp_path: Path,
) -> None:
    path = _unknown_ledger(tmp_path)
    damage_an_old_page(path)
    damaged = path.read_bytes()
    # A new interpreter, as a user's: the check starts at its launch
    process = start_piped(cli_command("ingest", "-", "--acks", db=f"sqlite:///{path}"), tmp_path)
    out, err = process.communicate(line(request("o-never", seconds=500)).encode() + b"\n", timeout=120)
    assert process.returncode == 2
    lines = err.decode().splitlines()
    assert len(lines) == 1 and "is corrupt" in lines[0] and "PRAGMA quick_check found" in lines[0], lines
    assert out == b""
    assert path.read_bytes() == damaged


def test_ingest_from_a_pipe_into_an_unknown_file_acknowledges_once_the_check_has_passed(
    tmp_path: Path,
) -> None:
    path = _unknown_ledger(tmp_path)
    process = start_piped(cli_command("ingest", "-", "--acks", db=f"sqlite:///{path}"), tmp_path)
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(line(request("o-piped", seconds=500)).encode() + b"\n")
    # The line is acknowledged while the pipe is still open (the input paused)
    acknowledged = json.loads(process.stdout.readline())
    assert acknowledged["outcome"] == "applied" and acknowledged["client_order_id"] == "o-piped"
    rest, _ = process.communicate(timeout=120)  # (closes its input: the command ends)
    assert process.returncode == 0
    assert json.loads(rest)["summary"]["counts"]["applied"] == 1
    assert early_check.known_sound(str(path))
    assert _events(path) == 201
