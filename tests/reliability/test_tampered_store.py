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
import json
import os
import shutil
import signal
import sqlite3
import threading
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
            server.ledger.upkeep.check_storage()
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
        first.upkeep.check_storage()
        second.upkeep.check_storage()
    assert _messages_in(path) == 6


# ------------------------------------------------------------------ the write-ahead log changed
#
# A commit sits in the `-wal` until a checkpoint copies it into the file. Truncated in place
# (`os.truncate`, the same inode: nothing a look at the log's identity sees), SQLite goes on
# appending after the frames its index names into a hole, and its next recovery keeps nothing.


def _wal(path: Path) -> Path:
    return path.with_name(path.name + "-wal")


def _foreign_log(path: Path) -> bytes:
    """The write-ahead log of another ledger, open and written to (its salts are its own)."""
    with OrderLedger(f"sqlite:///{path}") as other:
        for number in range(5):
            assert other.record(request(f"other-{number}")).error is None
        return _wal(path).read_bytes()


def _change_log(path: Path, how: str) -> None:
    """Truncate the ledger's -wal in place, or write another ledger's log over it in place."""
    inode = _wal(path).stat().st_ino
    if how == "truncated":
        os.truncate(_wal(path), 0)
    else:
        foreign = _foreign_log(path.with_name("other.db"))
        with open(_wal(path), "r+b") as handle:  # no O_TRUNC: the bytes written over, in place
            handle.write(foreign[: _wal(path).stat().st_size])
    assert _wal(path).stat().st_ino == inode


def _heads(db: str, cwd: Path) -> Path:
    anchored = run_cli("head", db=db, cwd=cwd)
    assert anchored.returncode == 0, anchored.describe()
    heads = cwd / "heads.log"
    heads.write_text(anchored.stdout)
    return heads


def _assert_kept_or_reported_lost(db: str, heads: Path, recorded: int, how: str) -> None:
    """After the writer stopped, what it acknowledged (up to the recorded head) is either all
    stored (`verify --heads-file` ok, the head in the chain) or reported: the log ends before the
    recorded head or holds other events up to it (exit 1), or the store is refused as corrupt
    (exit 2). Never an ok of less.

    A truncated log: every acknowledged event was in it (no checkpoint copied one into the file:
    the log stays far below SQLite's 1,000 pages), and what was appended after the cut is
    unreadable, so the file keeps the log as it was before the first event: it ends at event 0.
    A log written over: the last close copies into the file what SQLite's index names, whatever
    bytes are there now, so what the file ends with depends on which pages were written over."""
    run = run_cli("verify", "--heads-file", str(heads), db=db, cwd=heads.parent)
    if how == "truncated":
        assert run.returncode == 1, run.describe()
        assert f"the log ends at event 0, before the recorded head {recorded}:" in run.stderr, run.describe()
    elif run.returncode == 0:
        assert run.stdout.startswith(f"ok: {recorded} events"), run.describe()
    elif run.returncode == 1:
        assert f"recorded head {recorded}:" in run.stderr or "not the recorded head" in run.stderr, (
            run.describe()
        )
    else:
        assert run.returncode == 2 and "is corrupt" in run.stderr, run.describe()


@pytest.mark.parametrize("how", ("truncated", "overwritten"))
def test_ingest_acks_stops_once_its_write_ahead_log_is_changed_in_place(tmp_path: Path, how: str) -> None:
    """`ingest - --acks` acknowledges 20 orders (one event each: the head is 20) and the head is
    recorded; the -wal is truncated (or written over) in place; none of 10 more lines is
    acknowledged, the command exits 2 with one line saying why, and `verify --heads-file`
    reports the acknowledged events the store no longer holds."""
    path = tmp_path / "ledger.db"
    db = f"sqlite:///{path}"
    process = live_ingest(db, tmp_path)
    assert process.stdin is not None and process.stdout is not None
    try:
        for line in jsonl(*(dict(REQUEST, client_order_id=f"c-{n}") for n in range(20))):
            process.stdin.write(line.encode() + b"\n")
            assert read_json_line(process.stdout)["outcome"] == "applied"
        heads = _heads(db, tmp_path)
        assert heads.read_text().startswith("20:")
        _change_log(path, how)
        more = "".join(
            f"{line}\n" for line in jsonl(*(dict(REQUEST, client_order_id=f"d-{n}") for n in range(10)))
        )
        out, err = process.communicate(more.encode(), timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert out == b"", f"acknowledged after the -wal was {how}: {out!r}"
    assert process.returncode == 2, err
    lines = err.decode().splitlines()
    assert len(lines) == 1 and "Traceback" not in err.decode(), err
    assert lines[0].startswith(
        f"orderledger: database {str(path)!r} had its write-ahead log {str(_wal(path))!r} {how} in place"
    ), lines[0]
    assert "acknowledges nothing more" in lines[0], lines[0]
    _assert_kept_or_reported_lost(db, heads, 20, how)


@pytest.mark.parametrize("how", ("truncated", "overwritten"))
def test_serve_answers_503_once_its_write_ahead_log_is_changed_in_place(tmp_path: Path, how: str) -> None:
    """A real server over a SQLite file: 3 writes acknowledged, the head recorded, the -wal
    truncated (or written over) in place: `/health` answers 503 with the reason, every write is
    refused with 503, and after the stop `verify --heads-file` reports what was lost."""
    path = tmp_path / "ledger.db"
    db = f"sqlite:///{path}"
    with (
        running_server(db) as server,
        httpx2.Client(base_url=server.url, timeout=BOUND) as client,
    ):
        for number in range(3):
            assert client.post("/messages", json=request(f"c-{number}")).status_code == 200
        assert client.get("/health").status_code == 200
        heads = _heads(db, tmp_path)
        assert heads.read_text().startswith("3:")

        _change_log(path, how)
        reason = f"had its write-ahead log {str(_wal(path))!r} {how} in place"
        assert_problem(client.get("/health"), 503, reason)
        assert_problem(client.post("/messages", json=fill("c-1")), 503, reason)
        assert_problem(client.post("/messages", json=request("c-9")), 503, reason)
    _assert_kept_or_reported_lost(db, heads, 3, how)


def test_legitimate_writers_and_checkpoints_on_one_file_are_not_taken_for_a_changed_log(
    tmp_path: Path,
) -> None:
    """Two `ingest - --acks` processes write one SQLite file, and a third connection checkpoints
    it, restarting and truncating the -wal (what SQLite itself does, under its locks): the log
    shrinks and is rewritten under each writer, and neither refuses. First in turn (each line
    acknowledged, then the log truncated, 10 times over), then both at once with the checkpoints
    running beside them. 2 × 100 orders of one event each: 200 events, every line applied."""
    path = tmp_path / "ledger.db"
    db = f"sqlite:///{path}"
    OrderLedger(db).close()  # the file exists, in WAL mode, before both start
    writers = [live_ingest(db, tmp_path) for _ in range(2)]
    lines = [
        [
            f"{line}\n".encode()
            for line in jsonl(*(dict(REQUEST, client_order_id=f"{w}-{n}") for n in range(100)))
        ]
        for w in ("a", "b")
    ]
    stop = threading.Event()
    outputs: list[tuple[bytes, bytes] | None] = [None, None]

    def checkpointing() -> None:
        with contextlib.closing(sqlite3.connect(path, timeout=BOUND)) as beside:
            while not stop.is_set():
                for mode in ("TRUNCATE", "RESTART", "PASSIVE"):
                    beside.execute(f"PRAGMA wal_checkpoint({mode})").fetchall()

    def finish(number: int) -> None:
        outputs[number] = writers[number].communicate(b"".join(lines[number][10:]), timeout=TIMEOUT)

    try:
        with contextlib.closing(sqlite3.connect(path, timeout=BOUND)) as other:
            for turn in range(10):
                for writer, own in zip(writers, lines, strict=True):
                    assert writer.stdin is not None and writer.stdout is not None
                    writer.stdin.write(own[turn])
                    assert read_json_line(writer.stdout)["outcome"] == "applied"
                    assert _wal(path).stat().st_size > 0  # the commit is in the log
                    assert other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
                    assert _wal(path).stat().st_size == 0  # copied into the file, the log emptied
            beside = threading.Thread(target=checkpointing)
            beside.start()
            feeders = [threading.Thread(target=finish, args=(number,)) for number in range(2)]
            for feeder in feeders:
                feeder.start()
            for feeder in feeders:
                feeder.join()
            stop.set()
            beside.join()
    finally:
        stop.set()
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
                writer.wait()
    for writer, output in zip(writers, outputs, strict=True):
        assert output is not None
        out, err = output
        assert writer.returncode == 0, err.decode()
        *acks, summary = [json.loads(line) for line in out.splitlines()]
        assert [ack["outcome"] for ack in acks] == ["applied"] * 90, err.decode()
        assert summary["summary"]["counts"]["applied"] == 100, summary  # the 10 in turn and these 90
    assert _messages_in(path) == 200
    verified = run_cli("verify", db=db, cwd=tmp_path)
    assert verified.returncode == 0 and verified.stdout.startswith("ok: 200 events"), verified.describe()
