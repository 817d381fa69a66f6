"""The check of a SQLite file that precedes a process's first write into it, run in a thread of
its own, and its start at the launch of a command that writes, before the command's imports.

A process checks a SQLite ledger (``PRAGMA quick_check``, the whole file) before it first
writes into it, unless the file is in the very state that a process which closed it cleanly
recorded beside it (``<file>-checked``, :func:`known_sound`). A copy, a restored backup, a file
left by a crash, or one that another writer has open is read whole first: about 1 s for a
650 MB ledger. ``orderledger ingest`` starts that read here (:func:`start_for_command`), as
the first thing its process does, so that the file is read on the other core while the command
imports its code (about half a second); the ledger adopts it when it opens the same file
(:func:`take`), and its first write waits for what is left of it and for its verdict, as for
``OrderLedger.check_ahead``. Nothing is written before a passing check, whoever started it.

This module uses the standard library only (and ``file_guard``, which does too): importing it
costs next to nothing, so the read begins before the command's heavy imports.
"""

from __future__ import annotations

import atexit
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any
from urllib.parse import quote, unquote

from orderledger.infrastructure.storage.file_guard import file_state, identity

URL_VARIABLE = "ORDERLEDGER_DATABASE_URL"
"""The environment variable that names the ledger's database when ``--db`` does not."""
DEFAULT_URL = "sqlite:///orderledger.db"
"""The database of a ledger that neither ``--db`` nor :data:`URL_VARIABLE` names."""
SOUND_SUFFIX = "-checked"
"""The file beside a ledger's SQLite file that records the state in which a process last left it
sound (``SqliteDatabase.close``): while the file is still in that state, the next process skips
the whole-file check before its first write (see ``SqliteDatabase.write``)."""
WRITING_COMMANDS = frozenset({"ingest"})
"""The subcommands whose check starts at launch (:func:`start_for_command`)."""


def sqlite_target(url: str) -> tuple[str, str] | None:
    """The file a ``sqlite://`` URL names (percent-decoding undone; "" when it names none) and
    its query text; None for a URL of any other kind. ``sqlite:///rel.db`` names ``rel.db``,
    ``sqlite:////abs.db`` names ``/abs.db``."""
    if not url.startswith("sqlite://"):
        return None
    path, _, query = url[len("sqlite://") :].partition("?")
    if path.startswith("/"):
        path = path[1:]
    return unquote(path), query


# ---------------------------------------------------------------------- a file known sound


def fingerprint(path: str) -> list[int] | None:
    """What tells one state of a SQLite file from any other: its device and inode, its size, and
    the times its bytes and its inode last changed (ns; the system sets the latter on any write,
    and nobody can set it back, as ``touch`` or ``cp -p`` can the former). None when its
    write-ahead log holds frames (commits not yet in the file, or the leftovers of a crash) or the
    file is not there.

    Only ``stat``: the file is never opened here. A process that opens and closes a database file
    while SQLite has it open drops SQLite's locks on it (POSIX locks belong to the process)."""
    if wal_frames(path):
        return None
    return file_state(path)


def wal_frames(path: str) -> bool:
    """Whether the file's write-ahead log holds anything (commits not yet in the file, or the
    leftovers of a crash)."""
    try:
        return os.stat(f"{path}-wal").st_size > 0
    except OSError:
        return False  # no write-ahead log: every commit is in the file


def known_sound(path: str) -> bool:
    """Whether the file is in the very state a process recorded it sound in (``record_sound``)."""
    try:
        with open(path + SOUND_SUFFIX, encoding="utf-8") as handle:
            recorded = json.load(handle)
    except (OSError, ValueError):
        return False
    now = fingerprint(path)
    return now is not None and recorded == now


# ---------------------------------------------------------------------- a look in a thread


class Background:
    """``look(connection)`` run once in a thread of its own, on a read-only connection of its own
    to the file at ``path`` that holds one snapshot of the database throughout; its answer, or
    what it raised, kept for the one who waits for it (``wait``). Raises ``sqlite3.Error`` when
    the file cannot be opened so."""

    def __init__(self, path: str, look: Callable[[sqlite3.Connection], Any]) -> None:
        self.path = path
        self.identity = identity(path)  # the file it reads, whatever is put at the path later
        self._conn = sqlite3.connect(
            f"file:{quote(os.path.abspath(path))}?mode=ro", uri=True, check_same_thread=False
        )
        self.answer: Any = None
        self.failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(look,), name="orderledger-check", daemon=True)
        self._thread.start()

    def _run(self, look: Callable[[sqlite3.Connection], Any]) -> None:
        try:
            self._conn.execute("BEGIN")  # one committed state throughout
            self.answer = look(self._conn)
        except BaseException as error:  # kept for the one who waits
            self.failure = error
        finally:
            with suppress(sqlite3.Error):
                self._conn.rollback()

    def wait(self) -> None:
        """Wait for the look to end (``answer`` or ``failure`` then says how it went)."""
        self._thread.join()
        with suppress(sqlite3.Error):
            self._conn.close()

    def stop(self) -> None:
        """Abandon the look (its answer is not wanted any more)."""
        with suppress(sqlite3.Error):
            self._conn.interrupt()
        self.wait()


def quick_check(conn: sqlite3.Connection) -> list[str]:
    """What ``PRAGMA quick_check`` says of the database (``["ok"]`` when it finds nothing)."""
    return [str(row[0]) for row in conn.execute("PRAGMA quick_check").fetchall()]


# ---------------------------------------------------------------------- started at launch

_STARTED: dict[str, Background] = {}
"""The checks started at launch that no ledger has taken yet, by the file's absolute path."""


def start_for_command(args: Sequence[str]) -> None:
    """Start the check of the SQLite file the command ``args`` (``--db URL`` first, if given)
    will write, when it is a command of :data:`WRITING_COMMANDS` and the file will be checked
    before its first write (it exists, and is not known sound). Nothing otherwise: any URL with
    options, and any other kind of database, is left to the ledger, which checks as it always
    does. A check that no ledger takes is stopped when the process exits."""
    url, given = split_url(args)
    if not given or given[0] not in WRITING_COMMANDS or "--help" in given:
        return
    target = sqlite_target(url or os.environ.get(URL_VARIABLE) or DEFAULT_URL)
    if target is None or target[1] or not target[0]:
        return
    start(target[0])


def split_url(args: Sequence[str]) -> tuple[str | None, list[str]]:
    """The URL of a command's ``--db URL`` (or ``--db=URL``) given first, if any, and the rest of
    its arguments."""
    given = list(args)
    if given[:1] == ["--db"] and len(given) > 1:
        return given[1], given[2:]
    if given and given[0].startswith("--db="):
        return given[0].removeprefix("--db="), given[1:]
    return None, given


def start(path: str) -> None:
    """Start the check of the file at ``path`` for a ledger of this process to take (:func:`take`),
    unless it is known sound, or is not a SQLite database in WAL mode (a ledger's own)."""
    key = os.path.abspath(path)
    if key in _STARTED or known_sound(path) or not _in_wal_mode(path):
        return
    try:
        running = Background(path, quick_check)
    except sqlite3.Error:
        return  # not readable beside the ledger's own connection: checked at the first write
    if not _STARTED:
        atexit.register(_stop_all)
    _STARTED[key] = running


def _in_wal_mode(path: str) -> bool:
    """Whether the file is a SQLite database whose header says WAL mode: one whose check can run
    beside the ledger's connection. Switching a file in another journal mode to WAL takes an
    exclusive lock, which the check's read would hold off for as long as it reads. (Read with
    ``open``, before any connection of this process has the file open: closing a file that
    SQLite has open would drop SQLite's locks on it.)"""
    try:
        with open(path, "rb") as handle:
            header = handle.read(20)
    except OSError:
        return False
    return header.startswith(b"SQLite format 3\x00") and header[18:20] == b"\x02\x02"


def take(path: str, opened: tuple[int, int] | None) -> Background | None:
    """The check started at launch of the file at ``path``, if one was and it reads the file a
    ledger opened there (``opened``: its device and inode); a check of another file (one put at
    the path meanwhile) is stopped, and None is returned."""
    running = _STARTED.pop(os.path.abspath(path), None)
    if running is None or running.identity == opened:
        return running
    running.stop()
    return None


def _stop_all() -> None:
    """At exit: stop the checks no ledger took (the command failed before it opened one)."""
    while _STARTED:
        _STARTED.popitem()[1].stop()


def _may_write(path: str) -> bool:
    """Whether this process may write ``path`` (a file or a directory), by the kernel's own
    permission check of its effective user (root without the capability to override included)."""
    return os.access(path, os.W_OK, effective_ids=os.access in os.supports_effective_ids)


def unwritable(path: str) -> str:
    """Why this process cannot write the database file at ``path`` and the -wal and -shm files
    SQLite keeps beside it, or "" when it can (or there is no file)."""
    if not os.path.exists(path):
        return ""
    folder = os.path.dirname(os.path.abspath(path))
    with suppress(OSError):
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return "its file system is mounted read-only"
    if not _may_write(path):
        return "this user may not write the file"
    if not _may_write(folder):
        return f"this user may not write its directory {folder!r}"
    return ""


__all__ = [
    "DEFAULT_URL",
    "SOUND_SUFFIX",
    "URL_VARIABLE",
    "Background",
    "fingerprint",
    "known_sound",
    "quick_check",
    "sqlite_target",
    "start",
    "start_for_command",
    "take",
    "unwritable",
    "wal_frames",
]
