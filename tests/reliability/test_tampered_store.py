"""A SQLite store tampered with under a running writer (issue 45, item 1).

- Overwritten in place (``cp other.db ledger.db``: the same inode, another ledger's bytes),
  truncated in place (``: > ledger.db``), or its ``-wal`` deleted: the writer (``ingest - --acks``
  or ``serve``) acknowledges nothing more, says why in one line (503 over HTTP, ``/health``
  too), and exits 2 from the command line. With only the log deleted, what it committed before is
  folded into the ledger's file.
- A store that lost acknowledged writes (the ``-wal`` deleted, then the writer killed before it
  wrote again: nothing in the process can see that) is found by ``verify --heads-file`` against a
  head recorded outside the database; ``verify`` without anchored heads says that only they can.

Processes are real (the ``orderledger`` command, a uvicorn server), the files are tampered with
by real file operations, and every wait is on a condition.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import sqlite3
from pathlib import Path

import httpx2
import pytest

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.errors import DatabaseReplacedError
from tests.support.cli import TIMEOUT, jsonl, live_ingest, run_cli
from tests.support.http_api import BOUND, assert_problem, fill, request, running_server
from tests.support.live_input import ACCEPTED, REQUEST, read_json_line

HOW = ("overwritten", "truncated", "wal-deleted")

WORDING = {
    "overwritten": "was overwritten in place",
    "truncated": "was truncated in place",
    "wal-deleted": "lost its write-ahead log",
}


def _bigger_ledger(path: Path) -> Path:
    """Another ledger, closed, with more in it than the one under test (so it is larger)."""
    with OrderLedger(f"sqlite:///{path}") as other:
        for number in range(40):
            assert other.record(request(f"other-{number}")).error is None
    return path


def _tamper(path: Path, how: str) -> None:
    """Copy another ledger over the file in place, truncate it in place, or delete its -wal."""
    inode = path.stat().st_ino
    if how == "overwritten":
        shutil.copyfile(_bigger_ledger(path.with_name("other.db")), path)  # opens with O_TRUNC
        assert path.stat().st_ino == inode  # the same file, other bytes: no rename involved
    elif how == "truncated":
        with open(path, "r+b") as handle:
            handle.truncate(0)
    else:
        path.with_name(path.name + "-wal").unlink()


def _messages_in(path: Path) -> int:
    with contextlib.closing(OrderLedger(f"sqlite:///{path}", create=False)) as ledger, ledger.db.read() as tx:
        return int(tx.one("SELECT COUNT(*) FROM messages")[0])


@pytest.mark.parametrize("how", HOW)
def test_ingest_acks_refuses_once_its_store_is_tampered_with(tmp_path: Path, how: str) -> None:
    """`ingest - --acks` acknowledges line 1; the store is tampered with; line 2 is not
    acknowledged, and the command exits 2 with one line saying what happened."""
    path = tmp_path / "ledger.db"
    process = live_ingest(f"sqlite:///{path}", tmp_path)
    assert process.stdin is not None and process.stdout is not None
    try:
        first, second = jsonl(REQUEST, ACCEPTED)
        process.stdin.write(first.encode() + b"\n")
        assert read_json_line(process.stdout)["outcome"] == "applied"
        _tamper(path, how)
        out, err = process.communicate(second.encode() + b"\n", timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert out == b"", f"acknowledged after the store was {how}: {out!r}"
    assert process.returncode == 2, err
    lines = err.decode().splitlines()
    assert len(lines) == 1 and "Traceback" not in err.decode(), err
    assert lines[0].startswith(f"orderledger: database {str(path)!r} {WORDING[how]}"), lines[0]
    assert "acknowledges nothing more" in lines[0], lines[0]
    if how == "wal-deleted":
        # The acknowledged line was in the deleted log only: folded into the ledger's file.
        assert _messages_in(path) == 1


@pytest.mark.parametrize("how", HOW)
def test_serve_answers_503_and_health_says_why_once_its_store_is_tampered_with(
    tmp_path: Path, how: str
) -> None:
    """A real server over a SQLite file: after the store is tampered with, `/health` answers 503
    with the reason, and every write is refused with 503 (nothing acknowledged)."""
    path = tmp_path / "ledger.db"
    with (
        running_server(f"sqlite:///{path}") as server,
        httpx2.Client(base_url=server.url, timeout=BOUND) as client,
    ):
        for number in range(3):
            assert client.post("/messages", json=request(f"c-{number}")).status_code == 200
        assert client.get("/health").status_code == 200

        _tamper(path, how)
        assert_problem(client.get("/health"), 503, WORDING[how])
        assert_problem(client.post("/messages", json=fill("c-1")), 503, WORDING[how])
        assert_problem(client.post("/messages", json=request("c-9")), 503, "acknowledges nothing more")
        with pytest.raises(DatabaseReplacedError):
            server.ledger.check_storage()
    if how == "wal-deleted":
        assert _messages_in(path) == 3  # what was acknowledged, folded into the ledger's file


def test_verify_finds_acknowledged_writes_lost_only_against_anchored_heads(tmp_path: Path) -> None:
    """The -wal deleted under `ingest - --acks`, then the writer killed before it writes again:
    acknowledged lines are gone and nothing in that process could tell. `verify` alone finds a
    sound, shorter chain and says that only anchored heads can find such a loss; `verify
    --heads-file` with the head recorded after the acknowledgements finds it (exit 1)."""
    path = tmp_path / "ledger.db"
    db = f"sqlite:///{path}"
    process = live_ingest(db, tmp_path)
    assert process.stdin is not None and process.stdout is not None
    try:
        for line in jsonl(*(dict(REQUEST, client_order_id=f"c-{n}") for n in range(4))):
            process.stdin.write(line.encode() + b"\n")
            assert read_json_line(process.stdout)["outcome"] == "applied"
        anchored = run_cli("head", db=db, cwd=tmp_path)
        assert anchored.returncode == 0, anchored.describe()
        (tmp_path / "heads.log").write_text(anchored.stdout)
        path.with_name(path.name + "-wal").unlink()
        process.send_signal(signal.SIGKILL)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=TIMEOUT)  # reaped, its pipes closed

    alone = run_cli("verify", db=db, cwd=tmp_path)
    assert alone.returncode == 0, alone.describe()
    assert "only heads recorded outside the database" in alone.stdout, alone.stdout
    assert "0 anchored heads" in alone.stdout, alone.stdout

    against = run_cli("verify", "--heads-file", str(tmp_path / "heads.log"), db=db, cwd=tmp_path)
    assert against.returncode == 1, against.describe()
    assert "before the recorded head" in against.stderr, against.describe()
    assert "events were deleted from the end" in against.stderr, against.describe()


def test_a_checkpoint_by_another_writer_is_not_taken_for_tampering(tmp_path: Path) -> None:
    """Two writers on one file, each folding the log into the file in turn (what any writer's
    checkpoint does): the file's bytes change under each, and neither refuses."""
    path = tmp_path / "ledger.db"
    url = f"sqlite:///{path}"
    with OrderLedger(url) as first, OrderLedger(url) as second:
        for number in range(6):
            writer = first if number % 2 else second
            assert writer.record(request(f"c-{number}")).error is None
            before = path.stat().st_mtime_ns, path.stat().st_size
            with contextlib.closing(sqlite3.connect(path)) as checkpointer:
                assert checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[0] == 0
            assert (path.stat().st_mtime_ns, path.stat().st_size) != before  # the file was written
        first.check_storage()
        second.check_storage()
    assert _messages_in(path) == 6
