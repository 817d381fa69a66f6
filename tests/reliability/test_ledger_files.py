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
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.errors import DatabaseReplacedError
from tests.support.cli import (
    TIMEOUT,
    Run,
    assert_one_line_failure,
    cli_command,
    cli_env,
    jsonl,
    live_ingest,
    run_cli,
    start_piped,
)
from tests.support.http_api import BOUND, assert_problem, fill, request, running_server
from tests.support.live_input import ACCEPTED, FILL, REQUEST, read_json_line

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
        assert healthy.status_code == 200 and healthy.json() == {
            "status": "ok",
            "head": 1,
            "cost_basis": "average",
            "collectors": [],
        }

        _take_away(path, how)
        assert_problem(client.get("/health"), 503, f"{_wording(how)} while this process had it open")
        refused = client.post("/messages", json=fill("c-1"))
        assert_problem(refused, 503, f"{_wording(how)} while this process had it open")
        assert_problem(client.post("/messages", json=request("c-2")), 503, "acknowledges nothing more")
        with pytest.raises(DatabaseReplacedError):
            server.ledger.upkeep.check_storage()
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


# ---------------------------------------------------------------------- item 10: readers

DROP_CAPABILITIES = ("setpriv", "--bounding-set=-all", "--inh-caps=-all", "--")
"""Run a command as root without the capabilities that override file permissions: the kernel
then checks mode bits as for any user, and a file of another owner is read as "others" read it."""
OWNER = 65534  # owns the ledger and its directory in these tests (nobody)
READS = (
    ("orders", "--json"),
    ("order", "live-1", "--json"),
    ("history", "live-1", "--json"),
    ("trades", "--json"),
    ("positions", "--json"),
    ("pnl", "--json"),
    ("instruments", "--json"),
    ("messages", "--json"),
    ("events", "--json"),
    ("head",),
    ("export", "trades", "--out", "-"),
    ("follow", "--after", "0", "--limit", "3"),
)


def _reader_can_be_simulated(folder: Path) -> None:
    """Skip (with the reason) where root's permission override cannot be dropped."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("simulating a user without write access needs root and setpriv(1)")
    probe = folder / "probe"
    folder.mkdir()
    os.chown(folder, OWNER, OWNER)
    folder.chmod(0o755)
    done = subprocess.run([*DROP_CAPABILITIES, "touch", str(probe)], capture_output=True, check=False)
    if done.returncode == 0 or probe.exists():
        pytest.skip("dropping root's capabilities does not subject it to permission checks here")


def _as_reader(*args: str, db: str, cwd: Path, stdin: bytes | None = None) -> Run:
    done = subprocess.run(
        [*DROP_CAPABILITIES, *cli_command(*args, db=db)],
        cwd=cwd,
        env=cli_env(),
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    return Run([f"--db {db}", *args], done.returncode, done.stdout.decode(), done.stderr.decode())


def _start_as_reader(argv: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    """A process without root's permission override, its stdin, stdout and stderr piped."""
    return start_piped([*DROP_CAPABILITIES, *argv], cwd)


def _owned_ledger(folder: Path, *, file_mode: int, folder_mode: int) -> Path:
    """A closed ledger of three facts in ``folder``, everything owned by OWNER, with these modes."""
    path = folder / "ledger.db"
    with contextlib.closing(OrderLedger(f"sqlite:///{path}")) as ledger:
        ledger.ingest_lines(jsonl(REQUEST, ACCEPTED, FILL))  # three events
    for item in folder.iterdir():
        os.chown(item, OWNER, OWNER)
    path.chmod(file_mode)
    folder.chmod(folder_mode)
    return path


@pytest.mark.parametrize(
    ("file_mode", "folder_mode"),
    [(0o666, 0o755), (0o444, 0o777)],
    ids=["directory-not-writable", "file-not-writable"],
)
def test_a_reader_without_write_access_gets_every_answer_and_writes_nothing(
    tmp_path: Path, file_mode: int, folder_mode: int
) -> None:
    """Another user who may read (even write) the ledger file but not write its directory, or may
    not write the file in a directory open to all: every read-only command answers as it does for
    the owner, nothing is created beside the file, and `ingest` is refused in one line saying why."""
    folder = tmp_path / "ledgers"
    _reader_can_be_simulated(folder)
    path = _owned_ledger(folder, file_mode=file_mode, folder_mode=folder_mode)
    url = f"sqlite:///{path}"
    # A first verify anchors the heads it checked; the second, like the reader's, checks what is
    # new since that anchor (docs/audit.md, "Incremental verify").
    run_cli("verify", db=url, cwd=tmp_path)
    owners = {args: run_cli(*args, db=url, cwd=tmp_path) for args in (*READS, ("verify",))}
    before = sorted(p.name for p in folder.iterdir())
    assert before == ["ledger.db", "ledger.db-checked"]

    for args in READS:
        answer = _as_reader(*args, db=url, cwd=tmp_path)
        assert answer.returncode == 0, answer.describe()
        assert answer.stdout == owners[args].stdout and answer.stdout, answer.describe()
    verified = _as_reader("verify", db=url, cwd=tmp_path)
    assert verified.returncode == 0 and verified.stdout == owners[("verify",)].stdout, verified.describe()
    assert "storage: quick_check ok" in verified.stdout

    session = tmp_path / "more.jsonl"
    session.write_text(jsonl(request("other-2"))[0] + "\n")
    line = assert_one_line_failure(_as_reader("ingest", str(session), db=url, cwd=tmp_path), 2)
    why = (
        "this user may not write the file" if file_mode == 0o444 else "this user may not write its directory"
    )
    assert f"cannot be written here ({why}" in line and "nothing was written" in line, line
    assert sorted(p.name for p in folder.iterdir()) == before  # no -wal, -shm or -checked of the reader's


def test_a_reader_without_write_access_follows_the_writers(tmp_path: Path) -> None:
    """`follow` by a user who may not write the directory: it reads the file as it is while no
    writer has it open, then sees what writers commit (through their -wal and -shm, which it may
    only read)."""
    folder = tmp_path / "ledgers"
    _reader_can_be_simulated(folder)
    path = _owned_ledger(folder, file_mode=0o644, folder_mode=0o755)
    url = f"sqlite:///{path}"
    follower = _start_as_reader(
        cli_command("follow", "--after", "0", "--limit", "5", "--interval", "0.05", db=url), tmp_path
    )
    assert follower.stdout is not None
    try:
        seen = [read_json_line(follower.stdout)["position"] for _ in range(3)]  # the file as it is
        with contextlib.closing(OrderLedger(url)) as writer:
            writer.ingest_lines(jsonl(request("other-2")))
            assert Path(f"{path}-wal").exists() and Path(f"{path}-shm").exists()
            seen.append(read_json_line(follower.stdout)["position"])  # through the writer's WAL
        # (The follower's read lock keeps the closing writer from folding its log into the file:
        # the follower reads on through it, and through the next writer's commits.)
        with contextlib.closing(OrderLedger(url)) as writer:
            writer.ingest_lines(jsonl(request("other-3")))
        seen.append(read_json_line(follower.stdout)["position"])
        out, err = follower.communicate(timeout=TIMEOUT)
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
    assert follower.returncode == 0 and out == b"", err
    assert seen == [1, 2, 3, 4, 5]


READ_ACROSS_A_WRITE = """
import sys
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.errors import StoreError
ledger = OrderLedger(sys.argv[1], create=False)
try:
    with ledger.db.read() as tx:
        tx.one("SELECT COUNT(*) FROM events")
        print("reading", flush=True)
        sys.stdin.readline()  # the owner writes the file meanwhile
        tx.one("SELECT COUNT(*) FROM events")
    print("answered")
except StoreError as error:
    print(error)
"""


def test_a_read_without_locks_across_a_write_is_refused(tmp_path: Path) -> None:
    """Read through immutable=1 (no writer had the file open, no lock is taken): a writer that
    opens, commits and closes during the read changes the file under it, so the read is refused
    in one line rather than answered from two states."""
    folder = tmp_path / "ledgers"
    _reader_can_be_simulated(folder)
    path = _owned_ledger(folder, file_mode=0o644, folder_mode=0o755)
    url = f"sqlite:///{path}"
    reader = _start_as_reader([sys.executable, "-c", READ_ACROSS_A_WRITE, url], tmp_path)
    assert reader.stdout is not None
    try:
        assert reader.stdout.readline() == b"reading\n"
        with contextlib.closing(OrderLedger(url)) as writer:
            writer.ingest_lines(jsonl(request("other-2")))
        out, err = reader.communicate(b"\n", timeout=TIMEOUT)
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait()
    assert reader.returncode == 0, err
    message = out.decode().strip()
    assert message.startswith(f"database {str(path)!r} was written while it was read without write access"), (
        out
    )
    assert "run the command again" in message and "\n" not in message
