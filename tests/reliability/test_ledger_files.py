"""The SQLite ledger's files: watched while written, private when created, readable without
write access (issue 32, items 3, 8 and 10).

- A writer acknowledges a commit only while the path it was opened from still names the file it
  has open: deleted or replaced (by a rename) under a running ``ingest --acks`` or ``serve``, the
  writer stops acknowledging at once, says why in one line, and writes nothing into the file now
  at the path.
- A new ledger file, its -wal and -shm, and its ``-checked`` record are the owner's alone (0600)
  whatever the umask; a mode the owner chose for an existing ledger is kept.
- A user who may read a ledger but not write its directory (or the file) gets answers from the
  read-only commands, which then write nothing beside the file.

Processes are real (the ``orderledger`` command, a uvicorn server) and every wait is on a
condition. The permission tests drop the capabilities that let root pass permission checks
(``setpriv``), so the kernel checks the file's mode bits as for any other user.
"""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.errors import DatabaseReplacedError
from tests.cli.helpers import TIMEOUT, cli_command, cli_env, jsonl, live_ingest
from tests.cli.test_live_input import ACCEPTED, REQUEST, read_json_line
from tests.http.helpers import BOUND, fill, request, running_server
from tests.http.test_http_api import assert_problem

HOW = ("deleted", "renamed", "replaced")


def _take_away(path: Path, how: str) -> None:
    """Delete the ledger file, rename it (to ``aside.db``), or replace it by renaming another
    ledger onto its path."""
    if how == "deleted":
        path.unlink()
        return
    if how == "renamed":
        os.replace(path, path.with_name("aside.db"))
        return
    other = path.with_name("other.db")
    OrderLedger(f"sqlite:///{other}").close()  # a sound, empty ledger, closed (no -wal left)
    os.replace(other, path)


def _messages_in(path: Path) -> int:
    with contextlib.closing(OrderLedger(f"sqlite:///{path}", create=False)) as ledger, ledger.db.read() as tx:
        return int(tx.one("SELECT COUNT(*) FROM messages")[0])


def _wording(how: str) -> str:
    return (
        "was replaced by another file" if how == "replaced" else "is gone from that path (deleted or renamed)"
    )


# ---------------------------------------------------------------------- item 3: watched files


@pytest.mark.parametrize("how", HOW)
def test_ingest_acks_stops_acknowledging_once_its_file_is_gone(tmp_path: Path, how: str) -> None:
    """`ingest - --acks` acknowledges line 1; the file is deleted (or replaced by a rename); line 2
    is not acknowledged, the command exits 2 with one line saying why, and the file now at the
    path holds nothing of it."""
    path = tmp_path / "ledger.db"
    process = live_ingest(f"sqlite:///{path}", tmp_path)
    assert process.stdin is not None and process.stdout is not None
    try:
        first, second = jsonl(REQUEST, ACCEPTED)
        process.stdin.write(first.encode() + b"\n")
        assert read_json_line(process.stdout)["outcome"] == "applied"  # durable in the named file
        _take_away(path, how)
        out, err = process.communicate(second.encode() + b"\n", timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert out == b"", f"acknowledged after the file was {how}: {out!r}"
    assert process.returncode == 2, err
    lines = err.decode().splitlines()
    assert len(lines) == 1 and "Traceback" not in err.decode(), err
    assert lines[0].startswith(
        f"orderledger: database {str(path)!r} {_wording(how)} while this process had it open"
    )
    assert "acknowledges nothing more" in lines[0], lines[0]
    if how == "replaced":
        # Nothing of the writer's in the file put in its place, not even through the write-ahead
        # log it left beside the path (SQLite would have read its pages as this file's).
        assert _messages_in(path) == 0
    if how == "renamed":
        # What was acknowledged is in the file it was written into, under its new name (its
        # write-ahead log, named after the old path, was folded into it).
        assert _messages_in(path.with_name("aside.db")) == 1


@pytest.mark.parametrize("how", HOW)
def test_serve_answers_503_and_health_says_why_once_its_file_is_gone(tmp_path: Path, how: str) -> None:
    """A real server over a SQLite file: after the file is deleted or replaced, `/health` answers
    503 with the reason, and a write is refused with 503 (nothing acknowledged, nothing written
    into the file now at the path)."""
    path = tmp_path / "ledger.db"
    with (
        running_server(f"sqlite:///{path}") as server,
        httpx2.Client(base_url=server.url, timeout=BOUND) as client,
    ):
        assert client.post("/messages", json=request("c-1")).status_code == 200
        healthy = client.get("/health")
        assert healthy.status_code == 200 and healthy.json() == {"status": "ok", "head": 1}

        _take_away(path, how)
        assert_problem(client.get("/health"), 503, f"{_wording(how)} while this process had it open")
        refused = client.post("/messages", json=fill("c-1"))
        assert_problem(refused, 503, f"{_wording(how)} while this process had it open")
        assert_problem(client.post("/messages", json=request("c-2")), 503, "acknowledges nothing more")
        with pytest.raises(DatabaseReplacedError):
            server.ledger.check_storage()
    if how == "replaced":
        assert _messages_in(path) == 0


# ---------------------------------------------------------------------- item 8: private files


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextlib.contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.parametrize("mask", [0o000, 0o022, 0o277], ids=lambda mask: f"umask-{mask:03o}")
def test_new_ledger_files_are_the_owners_alone_whatever_the_umask(tmp_path: Path, mask: int) -> None:
    """`ingest` creating a ledger (umask 000 would make SQLite's file 0666, 022 0644, 277 0400):
    the file and its `-checked` record are 0600; a ledger opened in Python has its -wal and -shm
    at 0600 while it is open."""
    path = tmp_path / "cli.db"
    session = tmp_path / "session.jsonl"
    session.write_text("\n".join(jsonl(REQUEST, ACCEPTED)) + "\n")
    command = ["sh", "-c", f'umask {mask:03o} && exec "$@"', "sh"]
    done = subprocess.run(
        [*command, *cli_command("ingest", str(session), db=f"sqlite:///{path}")],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert {p.name: _mode(p) for p in tmp_path.glob("cli.db*")} == {"cli.db": 0o600, "cli.db-checked": 0o600}

    inside = tmp_path / "api.db"
    with _umask(mask), contextlib.closing(OrderLedger(f"sqlite:///{inside}")) as ledger:
        ledger.ingest_lines(jsonl(REQUEST))
        assert {p.name: _mode(p) for p in tmp_path.glob("api.db*")} == {
            "api.db": 0o600,
            "api.db-wal": 0o600,
            "api.db-shm": 0o600,
        }
    assert {p.name: _mode(p) for p in tmp_path.glob("api.db*")} == {"api.db": 0o600, "api.db-checked": 0o600}


def test_an_existing_ledger_keeps_the_mode_its_owner_chose(tmp_path: Path) -> None:
    """An owner who shares a ledger with a group (0640) keeps it so: opening it changes no mode,
    and SQLite gives its -wal and -shm the same."""
    path = tmp_path / "shared.db"
    OrderLedger(f"sqlite:///{path}").close()
    path.chmod(0o640)
    with contextlib.closing(OrderLedger(f"sqlite:///{path}")) as ledger:
        ledger.ingest_lines(jsonl(REQUEST))
        assert _mode(path) == 0o640
        assert _mode(Path(f"{path}-wal")) == 0o640 and _mode(Path(f"{path}-shm")) == 0o640
    assert _mode(path) == 0o640
