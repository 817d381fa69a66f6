"""A SQLite file is checked whole before a process first writes to it, unless it is known sound.

``PRAGMA quick_check`` reads the whole file: seconds at a million events, far more with the file
out of the page cache, paid by every process that starts writing (a bot's restart). A process that
closes the ledger cleanly records the file's state (``<file>-checked``); the next process skips
the check only while the file is in exactly that state: same inode, size, and times of last
change, and no write-ahead log with frames in it (a crash leaves one).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.errors import DatabaseCorruptError
from orderledger.infrastructure.storage import early_check
from orderledger.infrastructure.storage import sqlite as sqlite_storage
from tests.support.audit import damage_an_old_page, line, request


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files checked whole, in order, by this process."""
    seen: list[str] = []
    check = sqlite_storage.check_sqlite_file

    def counted(tx: Any, path: str, *, deep: bool = False) -> str:
        seen.append(Path(path).name)
        return check(tx, path, deep=deep)

    monkeypatch.setattr(sqlite_storage, "check_sqlite_file", counted)
    return seen


def _requests(start: int, count: int) -> list[str]:
    return [line(request(f"o-{i}", seconds=i)) for i in range(start, start + count)]


def _ingest(path: Path, lines: list[str]) -> None:
    with OrderLedger(f"sqlite:///{path}") as ledger:
        ledger.ingest_lines(lines)


def _left_sound(tmp_path: Path, checks: list[str]) -> Path:
    """A new ledger written and closed: its first write checked it, its close recorded its state."""
    path = tmp_path / "ledger.db"
    _ingest(path, _requests(0, 20))
    assert checks == ["ledger.db"]
    assert early_check.known_sound(str(path))
    return path


def test_a_file_left_sound_is_not_checked_again_until_something_else_writes_it(
    tmp_path: Path, checks: list[str]
) -> None:
    path = _left_sound(tmp_path, checks)
    # When the next process writes to it, it does not read the whole file again
    _ingest(path, _requests(20, 20))
    assert checks == ["ledger.db"]
    # But once another program has written to the file, the next process checks it first
    with contextlib.closing(sqlite3.connect(path)) as other:
        other.execute("PRAGMA user_version = 7")
    assert not early_check.known_sound(str(path))
    _ingest(path, _requests(40, 20))
    assert checks == ["ledger.db", "ledger.db"]
    with OrderLedger(f"sqlite:///{path}") as ledger, ledger.db.read() as tx:
        assert tx.one("SELECT COUNT(*) FROM events")[0] == 60


def test_damage_whose_modification_time_was_set_back_is_still_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    _ingest(path, _requests(0, 200))  # a journal of several pages; closed: known sound
    assert early_check.known_sound(str(path))
    before = os.stat(path)
    # Given a page damaged by something outside the ledger, which then put the file's times back
    damage_an_old_page(path)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(path).st_mtime_ns == before.st_mtime_ns
    damaged = path.read_bytes()
    # When a process starts writing: the inode's change time gave it away, so the file is
    # checked, the damage refused in one line, and nothing written
    assert not early_check.known_sound(str(path))
    with pytest.raises(DatabaseCorruptError, match="PRAGMA quick_check found"):
        _ingest(path, _requests(200, 1))
    assert path.read_bytes() == damaged


def test_a_process_that_ended_without_closing_leaves_the_file_to_be_checked(
    tmp_path: Path, checks: list[str]
) -> None:
    path = _left_sound(tmp_path, checks)
    # Given a process that wrote and then died without closing the ledger (its commits are in
    # the write-ahead log, not yet in the file)
    code = (
        "import os, sys\n"
        "from orderledger.infrastructure.application.ledger import OrderLedger\n"
        "ledger = OrderLedger(sys.argv[1])\n"
        "ledger.ingest_lines(sys.stdin.read().splitlines())\n"
        "os._exit(0)\n"
    )
    subprocess.run(
        [sys.executable, "-c", code, f"sqlite:///{path}"],
        input="\n".join(_requests(20, 5)),
        text=True,
        check=True,
    )
    assert Path(f"{path}-wal").stat().st_size > 0
    # Then the next process does not trust the state recorded before: it checks the file
    assert not early_check.known_sound(str(path))
    _ingest(path, _requests(25, 5))
    assert checks == ["ledger.db", "ledger.db"]


def test_closing_while_another_connection_holds_commits_in_the_log_records_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    url = f"sqlite:///{path}"
    first = OrderLedger(url)
    second = OrderLedger(url)
    try:
        first.ingest_lines(_requests(0, 10))
        second.ingest_lines(_requests(10, 10))
        first.close()
        # The write-ahead log still holds the commits (the second ledger keeps it open): the
        # file's state is not one that can be told again, so none is recorded
        assert not Path(f"{path}{early_check.SOUND_SUFFIX}").exists()
    finally:
        second.close()
    # The last to close folds the log into the file and records that state
    assert early_check.known_sound(str(path))
