"""SQLite storage: one connection per process, durable on commit (WAL, synchronous=FULL).

Write transactions take the write lock at ``BEGIN IMMEDIATE``. A resource fault (disk full, I/O
error, corruption, read-only file, a lock wait that ran out) dooms the transaction it happens in.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from itertools import chain
from typing import Any
from urllib.parse import quote

from orderledger.domain.outcomes import Outcome
from orderledger.infrastructure.errors import (
    DatabaseCorruptError,
    DatabaseFullError,
    DatabaseLockedError,
    DatabaseReadOnlyError,
    DatabaseReplacedError,
    StoreError,
)
from orderledger.infrastructure.storage.db import (
    DEFAULT_BUSY_TIMEOUT,
    LEDGER_TABLE,
    Database,
    DatabaseUrl,
    InsertShape,
    Tx,
    insert_shape,
)
from orderledger.infrastructure.storage.early_check import (
    SOUND_SUFFIX,
    Background,
    fingerprint,
    known_sound,
    take,
    unwritable,
    wal_frames,
)
from orderledger.infrastructure.storage.file_guard import FileGuard, file_state, identity, new_stamp

# SQLite's primary result codes for the faults a user can act on.
_NOTHING: dict[object, None] = {}


def _bind_plainly() -> None:
    """Register the adapters that bind None, bytes and an outcome without a failed lookup.

    sqlite3 (CPython 3.11) binds an int, float, str or bytearray parameter as it is and looks
    any other value up in its adapters first. For None and bytes that lookup ends in an
    AttributeError raised and cleared (``__adapt__`` on its protocol class): thousands of
    instructions a value, and a message writes a few dozen of them (its journal row, its
    events, its views' rows). Registered, they are found at once and given back unchanged by C
    functions (no Python frame per value): ``get`` of an empty mapping answers None, ``bytes``
    of bytes is the same object; an outcome is bound as its text (``str`` of a StrEnum). Made
    when a database is opened, not when this module is imported: the adapters are the sqlite3
    module's, which no import here changes."""
    sqlite3.register_adapter(type(None), _NOTHING.get)
    sqlite3.register_adapter(bytes, bytes)
    sqlite3.register_adapter(Outcome, str)


_SQLITE_FAULTS = {
    "SQLITE_BUSY": "locked",
    "SQLITE_LOCKED": "locked",
    "SQLITE_FULL": "full",
    "SQLITE_READONLY": "read-only",
    "SQLITE_CORRUPT": "corrupt",
    "SQLITE_NOTADB": "not a database",
    "SQLITE_IOERR": "i/o",
    "SQLITE_CANTOPEN": "cannot open",
}


def _sqlite_fault(error: BaseException) -> str | None:
    """Which resource fault a driver error is (None for an ordinary SQL error)."""
    name = str(getattr(error, "sqlite_errorname", "") or "")
    for prefix, fault in _SQLITE_FAULTS.items():
        if name == prefix or name.startswith(prefix + "_"):
            return fault
    text = str(error)
    if "locked" in text or "busy" in text:
        return "locked"
    if "readonly" in text or "read-only" in text:
        return "read-only"
    if "disk is full" in text or "database or disk is full" in text:
        return "full"
    if "not a database" in text:
        return "not a database"
    if "malformed" in text or "corrupt" in text:
        return "corrupt"
    if "unable to open" in text:
        return "cannot open"
    if "disk I/O error" in text:
        return "i/o"
    return None


def describe_sqlite_error(
    error: BaseException, path: str, url: DatabaseUrl | None = None, *, because: str = ""
) -> str:
    """One line that tells a user what is wrong with the SQLite file (and what to do); ``because``:
    why the connection is read-only, when the ledger opened it so for this user."""
    text = str(error)
    fault = _sqlite_fault(error)
    if getattr(error, "sqlite_errorname", "") == "SQLITE_READONLY_DIRECTORY":
        folder = os.path.dirname(os.path.abspath(path))
        return (
            f"database {path!r}: this user may not write its directory {folder!r}, where SQLite"
            " must create the -wal and -shm files of a WAL database, so nothing was written (the"
            f" read-only commands read it without them): {text}"
        )
    if fault == "locked":
        waited = DEFAULT_BUSY_TIMEOUT if url is None else url.busy_timeout
        return (
            f"database {path!r} is locked by another process: waited {waited:g} s"
            f" (busy_timeout), then gave up: {text}"
        )
    if fault == "read-only":
        why = ""
        if because:
            why = f" for this connection ({because})"
        elif url is not None and url.read_only:
            why = " (opened with mode=ro or immutable=1)"
        return f"database {path!r} is read-only{why}, so nothing was written: {text}"
    if fault == "full":
        limit = ""
        if url is not None and url.max_pages is not None:
            limit = f" (max_pages={url.max_pages})"
        return f"database {path!r}: the disk or database is full{limit}; nothing more was written: {text}"
    if fault == "not a database":
        return f"database {path!r} is not a valid OrderLedger/SQLite database or is corrupt: {text}"
    if fault == "corrupt":
        return f"database {path!r} is corrupt (restore it from a backup): {text}"
    if fault == "i/o":
        return f"database {path!r}: I/O error reading or writing the file: {text}"
    if fault == "cannot open":
        return f"cannot open database {path!r}{_cannot_open_reason(path)}: {text}"
    return f"database {path!r}: {text}"


_ERROR_CLASSES: dict[str, type[StoreError]] = {
    "locked": DatabaseLockedError,
    "read-only": DatabaseReadOnlyError,
    "full": DatabaseFullError,
    "corrupt": DatabaseCorruptError,
    "not a database": DatabaseCorruptError,
}


def sqlite_store_error(
    error: BaseException, path: str, url: DatabaseUrl | None = None, *, because: str = ""
) -> StoreError:
    """The typed StoreError for a SQLite driver error, with its one-line message."""
    fault = _sqlite_fault(error) or ""
    return _ERROR_CLASSES.get(fault, StoreError)(describe_sqlite_error(error, path, url, because=because))


def _cannot_open_reason(path: str) -> str:
    """Why SQLite could not open a file, where the file system can tell."""
    if path == ":memory:":
        return ""
    if not os.path.exists(path):
        folder = os.path.dirname(path) or "."
        if not os.path.isdir(folder):
            return f" (the directory {folder!r} does not exist)"
        return " (the file does not exist)"
    folder = os.path.dirname(path) or "."
    if not os.access(folder, os.W_OK):
        # A WAL database needs its -shm/-wal files beside it, even to be read.
        return (
            " (its directory is read-only and SQLite cannot create the -wal/-shm files a WAL"
            " database needs; on read-only media add ?immutable=1 to the URL)"
        )
    return ""


def check_sqlite_file(tx: Tx, path: str, *, deep: bool = False) -> str:
    """Run ``PRAGMA quick_check`` (``integrity_check`` when deep); returns which one ran.

    Raises a one-line :class:`DatabaseCorruptError` naming the first problem when the file is damaged.
    """
    pragma = "integrity_check" if deep else "quick_check"
    return _judged(pragma, [str(r[0]) for r in tx.all(f"PRAGMA {pragma}")], path)


def _judged(pragma: str, said: list[str], path: str) -> str:
    """``pragma`` (what ``PRAGMA {pragma}`` of the file at ``path`` said: ``said``) when it found
    nothing; else a one-line :class:`DatabaseCorruptError` naming the first problem."""
    found = [line for line in said if not line.startswith("*** in database")]
    if found != ["ok"]:
        raise DatabaseCorruptError(
            f"database {path!r} is corrupt (restore it from a backup; nothing was written):"
            f" PRAGMA {pragma} found {len(found)} problem{'s' if len(found) != 1 else ''}, the first:"
            f" {found[0] if found else 'no answer'}"
        )
    return pragma


_MAX_PARAMETERS = 32_766
"""Most parameters per statement (SQLite's default limit since 3.32; a library built with a lower
one is asked for its own): a group of rows that would need more is sent in smaller groups."""
CACHE_KIB = 65_536
"""The page cache of a ledger's connection, in KiB (SQLite's default is 2,000). Every event adds
entries to several indexes whose pages a batch touches at random: with the default cache those
pages are read back from the operating system over and over, and ingest slows as the log grows
(measured: 1,585 against 2,478 events/s at 266,000 events). Pages are taken as they are used,
so a small ledger stays small."""


_flat = chain.from_iterable  # a group's rows as one list of values
_GROUPS = (256, 64, 16, 4, 1)
"""Rows per statement of a multi-row INSERT, largest first (measured on the events table, 1,000
rows a batch: groups of 256 cost 10% less per row than one statement of the batch's length)."""
_ROWS_PER_PREPARE = 32
"""A statement of N rows is first used once its connection has written 32 N rows of its shape:
SQLite parses and compiles the statement once per connection, at a cost that grows with its
placeholders (a group of 256 rows of an orders view is thousands), and the larger group saves
less than that cost on fewer rows. A rebuild of 1,000 orders writes each view once, in groups
of 16 rather than 256: 6% fewer instructions; a long ingest or rebuild reaches the groups of
256 after its first 8,192 rows of a table."""


@functools.lru_cache(maxsize=256)
def _grouped(insert: InsertShape, size: int) -> str:
    """The INSERT of ``size`` rows of ``insert``'s shape."""
    return f"{insert.head}{','.join([insert.values] * size)}{insert.tail}"


def _parameters(conn: sqlite3.Connection) -> int:
    """How many parameters one statement may take on this connection."""
    return min(_MAX_PARAMETERS, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))


class SqliteTx:
    """Cursor wrapper for sqlite3; remembers a resource fault, which dooms the transaction.
    ``written``: the rows its connection has written by each INSERT's shape (``executemany``)."""

    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection, written: dict[InsertShape, int] | None = None) -> None:
        self._conn = conn
        self.fault: sqlite3.Error | None = None
        self._parameters = _parameters(conn)
        self._written = {} if written is None else written

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._run(lambda: self._conn.execute(sql, params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        insert = insert_shape(sql) if len(rows) > 1 else None
        if insert is None:
            self._run(lambda: self._conn.executemany(sql, rows))
            return
        # Several rows per INSERT instead of one: a table with a trigger (the ledger's append-only
        # tables) pays for a statement journal per statement, not per row. The rows go in groups
        # of a few fixed sizes, largest first, so each table has a handful of statements that are
        # prepared once and reused from the connection's cache. A statement as long as each batch
        # was a new one to prepare every time (parsing thousands of placeholders), and the
        # connection kept the last 128 of them, megabytes each. A larger group waits until the
        # connection has written enough rows of the shape to repay its parsing (_ROWS_PER_PREPARE).
        written = self._written[insert] = self._written.get(insert, 0) + len(rows)
        start, total = 0, len(rows)
        for size in _GROUPS:
            if size > 1 and (size * insert.width > self._parameters or size * _ROWS_PER_PREPARE > written):
                continue
            count = (total - start) // size
            if not count:
                continue
            end = start + count * size
            if size == 1:
                self._run(lambda start=start: self._conn.executemany(sql, rows[start:]))
            else:
                text = _grouped(insert, size)
                groups = [list(_flat(rows[i : i + size])) for i in range(start, end, size)]
                self._run(lambda text=text, groups=groups: self._conn.executemany(text, groups))
            start = end

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.execute(sql, params).fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self.execute(sql, params).fetchall()

    def _run(self, statement: Any) -> Any:
        if self.fault is not None:  # the transaction cannot commit: do not go on writing in it
            raise self.fault
        try:
            return statement()
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as error:
            if _sqlite_fault(error) is not None:
                self.fault = error
            raise


def record_sound(path: str) -> None:
    """Record the file's state as sound (replacing the file beside it in one rename); nothing when
    the state cannot be told (a write-ahead log with frames: another connection is still open).
    Raises OSError when the marker cannot be written (the next process then checks the file)."""
    now = fingerprint(path)
    if now is None:
        return
    marker = path + SOUND_SUFFIX
    with private_file(marker + ".tmp", exclusive=False) as handle:
        handle.write(json.dumps(now).encode())
    os.replace(marker + ".tmp", marker)


PRIVATE_MODE = 0o600
"""The permissions of every file the ledger creates beside its data (read and written by the owner
only, whatever the umask): the journal keeps every raw message, so a ledger is no one else's to
read unless its owner says so (``chmod``). SQLite gives a database's -wal and -shm files the
database file's own permissions, so they follow it."""


@contextlib.contextmanager
def private_file(path: str, *, exclusive: bool = True) -> Iterator[Any]:
    """A file opened for writing with :data:`PRIVATE_MODE` (binary; truncated if it exists and
    ``exclusive`` is False; FileExistsError if it exists and ``exclusive`` is True). The mode is
    set on the open file, so neither a umask nor a leftover file's mode changes it."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    descriptor = os.open(path, flags, PRIVATE_MODE)
    with os.fdopen(descriptor, "wb") as handle:
        os.fchmod(descriptor, PRIVATE_MODE)
        yield handle


def create_private(path: str) -> None:
    """Create an empty database file readable by its owner only, unless a file is there already
    (SQLite takes an empty file for a new database, and would create a missing one with the
    umask's permissions: 0644 by default)."""
    # Any other failure (no such directory, no permission) is SQLite's to report, in its words.
    with contextlib.suppress(OSError), private_file(path):
        pass


class _CheckAhead:
    """``PRAGMA quick_check`` of a file, run in a thread on a read connection of its own (one
    snapshot of the database), for ``SqliteDatabase.check_ahead``; or the one a command started
    at its launch (``early_check``), which the database took when it opened the same file."""

    def __init__(self, path: str, started: Background | None = None) -> None:
        self._path = path
        self._running = started or Background(path, lambda conn: check_sqlite_file(SqliteTx(conn), path))

    def verdict(self, url: DatabaseUrl) -> bool:
        """Wait for the check to end: True if it passed; raise the damage it found (a one-line
        error); False if it could not tell (its read failed for another reason, such as the file
        being busy): the caller checks again itself."""
        running = self._running
        running.wait()
        failure = running.failure
        if isinstance(failure, sqlite3.Error):
            error = sqlite_store_error(failure, url.path, url)
            if isinstance(error, DatabaseCorruptError):
                raise error from None
            return False
        if failure is not None:
            raise failure
        if isinstance(running.answer, list):  # what the check started at launch said, judged here
            _judged("quick_check", running.answer, url.path)
        return True

    def stop(self) -> None:
        """Abandon the check (the database is being closed)."""
        self._running.stop()


class SqliteDatabase(Database):
    """One connection per process, durable on commit (WAL, synchronous=FULL)."""

    dialect = "sqlite"

    def __init__(self, url: DatabaseUrl, *, create: bool = True) -> None:
        if not create and not url.is_memory and url.mode == "rwc":
            url = replace(url, mode="rw")  # never create the file: a typo must not become a new ledger
        self._given = url
        self._lock = threading.RLock()
        # Set when this user may not write the file or its directory and the connection is read
        # only for that reason (``_reader``): why, for the error a write then gets.
        self._read_only_because = ""
        # Set while the file is read through immutable=1 for that reason: its state when opened.
        self._frozen: list[int] | None = None
        if not url.is_memory and not url.immutable and (not create or url.mode == "ro"):
            url = self._reader(url)
        elif create and not url.is_memory and not url.read_only and (why := unwritable(url.path)):
            # Refused before SQLite opens it: it would create a -wal and -shm of this user's
            # beside the file (where the directory allows), in the way of its owner's writers.
            raise DatabaseReadOnlyError(
                f"database {url.path!r} cannot be written here ({why}), so nothing"
                " was written; the read-only commands (queries, verify, export) still read it"
            )
        self.url = url
        conn = self._connect(url, create=create)
        self._conn = conn
        self._depth = 0
        self._sync_mode = "FULL"  # as set above; NORMAL only for threads inside ``unsynced``
        self._unsynced: dict[int, int] = {}  # thread → depth of ``unsynced`` blocks it is in
        self._outer: SqliteTx | None = None  # the write transaction nested calls join
        self._written: dict[InsertShape, int] = {}  # rows written by each INSERT's shape (SqliteTx)
        # A damaged file is refused before the first write: SQLite writes onto damage it does not
        # read (an append touches few pages) and would extend a malformed database without a word.
        self._checked = url.is_memory
        self._ahead: _CheckAhead | None = None  # the check started by ``check_ahead``, if running
        # The files this connection writes: a commit counts only while they are still the
        # ledger's at its path (``_still_ours``).
        self._guard = None if url.is_memory or url.read_only else FileGuard(url.path)
        self._lost: DatabaseReplacedError | None = None  # set for good once they are not
        if self._guard is not None:
            # The check the command started at its launch, if it reads this very file.
            started = take(url.path, self._guard.opened)
            if started is not None:
                self._ahead = _CheckAhead(url.path, started)

    def _connect(self, url: DatabaseUrl, *, create: bool) -> sqlite3.Connection:
        """A connection to the database ``url`` names, set up for the ledger (WAL when it writes)."""
        if url.immutable:
            self._refuse_pending_wal(url.path)
        target = url.path
        if not url.is_memory and url.mode == "rwc" and not url.immutable:
            create_private(url.path)
        if not url.is_memory and (url.mode != "rwc" or url.immutable):
            flags = "mode=ro&immutable=1" if url.immutable else f"mode={url.mode}"
            target = f"file:{quote(os.path.abspath(url.path))}?{flags}"
        conn: sqlite3.Connection | None = None
        _bind_plainly()
        try:
            conn = sqlite3.connect(
                target,
                isolation_level=None,
                check_same_thread=False,
                timeout=url.busy_timeout,
                uri=target.startswith("file:"),
            )
            conn.execute(f"PRAGMA busy_timeout={round(url.busy_timeout * 1000)}")
            if url.max_pages is not None:
                conn.execute(f"PRAGMA max_page_count={url.max_pages}")
            if not create and not url.is_memory:
                # Before any PRAGMA that writes (WAL): another program's file is left as it was.
                found = conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (LEDGER_TABLE,)).fetchone()
                if found is None:
                    raise StoreError(
                        f"database {url.path!r} is not an OrderLedger database (it has no ledger tables)"
                    )
            if url.read_only:
                conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # is it a database at all?
            elif not url.is_memory:
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise StoreError(f"database {url.path!r}: cannot switch to WAL mode ({mode})")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=OFF")
            conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            # Debian's SQLite (and others) is built to zero every freed page and write it out:
            # a rebuild's swap then writes each page of the old views twice more (WAL, then the
            # checkpoint). FAST still zeroes what is deleted inside the pages it writes anyway;
            # only the pages on the free list keep their old bytes, and those are view rows
            # the log can always derive again (the ledger never deletes an event or a message).
            conn.execute("PRAGMA secure_delete=FAST")
        except BaseException as error:
            if conn is not None:
                conn.close()
            if isinstance(error, sqlite3.Error):
                raise self._store_error(error, url) from None
            raise
        return conn

    def _reader(self, url: DatabaseUrl) -> DatabaseUrl:
        """How a connection that only reads opens the file when this user may not write the file
        or its directory: so that nothing needs writing. ``url`` itself otherwise.

        SQLite reads a WAL database through its -wal and -shm files and creates them when they
        are missing, which takes write access to the directory (and a file created by a reader
        would be the reader's, in the owner's way). When a writer has the database open, both
        are there and SQLite reads through them without writing (``mode=ro``). When none has,
        the file holds every commit and is read as it is (``immutable=1``), watched: a read that
        starts after a writer has been at it opens the file again, and one during which the
        file changed is refused (immutable=1 takes no locks, so it could mix two states)."""
        path = url.path
        self._read_only_because = unwritable(path)
        self._frozen = None
        if not self._read_only_because:
            return url
        if os.path.exists(f"{path}-wal") and os.path.exists(f"{path}-shm"):
            return replace(url, mode="ro", immutable=False)
        if wal_frames(path):
            raise StoreError(
                f"database {path!r} has commits in its write-ahead log that a writer has not folded"
                f" into the file, and {self._read_only_because} to create the -shm file SQLite"
                " needs to read them: open it once as a user who may write it (any command), or"
                " read it while a writer has it open"
            )
        self._frozen = file_state(path)
        return replace(url, mode="ro", immutable=True)

    def _store_error(self, error: BaseException, url: DatabaseUrl | None = None) -> StoreError:
        url = url or self.url
        return sqlite_store_error(error, url.path, url, because=self._read_only_because)

    def _catch_up_with_writers(self) -> None:
        """Before a read through immutable=1: if the file has changed since it was opened (a
        writer has been at it, or is), open it again, as ``_reader`` decides now."""
        if self._frozen is None or fingerprint(self.url.path) == self._frozen:
            return
        url = self._reader(self._given)
        conn = self._connect(url, create=False)
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()
        self._conn, self.url = conn, url

    def _read_whole(self) -> None:
        """After a read through immutable=1: refuse it if the file changed meanwhile."""
        if self._frozen is not None and file_state(self.url.path) != self._frozen:
            raise StoreError(
                f"database {self.url.path!r} was written while it was read without write access"
                f" ({self._read_only_because}; read with immutable=1, which takes no locks), so the"
                " answer could mix two states and is not given: run the command again"
            )

    @staticmethod
    def _refuse_pending_wal(path: str) -> None:
        """immutable=1 reads the main file only: committed writes still in the WAL would be missed."""
        wal = f"{path}-wal"
        if os.path.exists(wal) and os.path.getsize(wal) > 0:
            raise StoreError(
                f"database {path!r} has a write-ahead log {wal!r} not yet folded into it: immutable=1"
                " would not see those commits; open it once where it is writable (or drop immutable=1)"
            )

    def lock_log(self, tx: Tx) -> None:
        """Nothing to do: ``BEGIN IMMEDIATE`` already made this the only writer."""

    def writable(self) -> bool:
        return not (self.url.read_only or self._read_only_because)

    @contextlib.contextmanager
    def write(self, *, wait: bool = True) -> Iterator[Tx]:
        with self._lock, self._translate():
            if self._depth:  # nested: join the outer transaction (a fault inside dooms it too)
                yield self._outer or SqliteTx(self._conn, self._written)
                return
            self._still_ours()  # nothing is written into a file no one can open any more
            if self._unsynced or self._sync_mode != "FULL":
                self._synchronous()
            if wait:
                self._conn.execute("BEGIN IMMEDIATE")
            else:
                self._conn.execute("PRAGMA busy_timeout=0")
                try:
                    self._conn.execute("BEGIN IMMEDIATE")  # "database is locked" at once if taken
                finally:
                    self._conn.execute(f"PRAGMA busy_timeout={round(self.url.busy_timeout * 1000)}")
            self._depth += 1
            tx = self._outer = SqliteTx(self._conn, self._written)
            try:
                if not self._checked:  # once per process, under the write lock, before writing
                    ahead, self._ahead = self._ahead, None
                    if known_sound(self.url.path):
                        # Untouched since a process left it sound: the check would read the whole
                        # file (seconds at a million events) to find what that process found.
                        if ahead is not None:
                            ahead.stop()
                    elif ahead is None or not ahead.verdict(self.url):  # the verdict raises damage
                        check_sqlite_file(tx, self.url.path)
                    self._checked = True
                stamp = self._stamp()
                yield tx
            except BaseException:
                self._depth -= 1
                self._outer = None
                self._rollback()
                raise
            self._depth -= 1
            self._outer = None
            if tx.fault is not None:  # contained by the caller, but the transaction is doomed
                self._rollback()
                raise tx.fault
            try:
                self._conn.commit()
            except sqlite3.Error:
                self._rollback()
                raise
            # Before the caller acknowledges anything: the commit is only worth its name if it
            # went into the files the path names, whole (a file deleted, replaced or overwritten
            # meanwhile takes every commit since with it when this process ends).
            self._still_ours()
            if self._guard is not None:
                self._guard.committed()
                if stamp:
                    self._guard.stamped(stamp)
                    # Onto the file itself now, where the guard reads it (a new file's pages are few).
                    with contextlib.suppress(sqlite3.Error):
                        self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self._still_ours()

    def _stamp(self) -> int:
        """In the first write transaction on a file without one: stamp it as this ledger's
        (``PRAGMA user_version``, random), what tells it from any other database file copied over
        it (``FileGuard``). The stamp written (0 when none was: found, or nothing to guard)."""
        guard = self._guard
        if guard is None or guard.stamp is not None:
            return 0
        found = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
        if found:
            guard.stamped(found)
            return 0
        stamp = new_stamp()
        self._conn.execute(f"PRAGMA user_version={stamp}")
        return stamp

    def failure(self) -> StoreError | None:
        try:
            with self._lock:
                self._still_ours()
        except DatabaseReplacedError as error:
            return error
        return None

    def _still_ours(self) -> None:
        """Raise :class:`DatabaseReplacedError` (for good: every later write too) once the files
        this connection writes are no longer the ledger's at its path (``FileGuard``): the file
        deleted, renamed away, replaced, truncated or overwritten in place, or its write-ahead log
        deleted or replaced. Files opened read-only are not watched: they have nothing to lose."""
        if self._lost is not None:
            raise self._lost
        loss = None if self._guard is None else self._guard.loss()
        if loss is None:
            return
        if loss.fold:
            # What this connection committed may still be in its write-ahead log (the one it
            # has open): folded into the file it belongs to (kept where that file was renamed
            # to; gone with a deleted one; the file at the path when only the log was deleted),
            # the log at the path is left empty for whatever file the path names.
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._lost = DatabaseReplacedError(
            f"database {self.url.path!r} {loss.what} while this process had it open, so it writes"
            f" and acknowledges nothing more ({loss.advice})"
        )
        raise self._lost

    def _rollback(self) -> None:
        # SQLite may have rolled back already (disk full, I/O error): nothing left to undo then.
        with contextlib.suppress(sqlite3.Error):
            self._conn.rollback()

    @contextlib.contextmanager
    def page_cache(self, kib: int) -> Iterator[None]:
        with self._lock:
            usual = int(self._conn.execute("PRAGMA cache_size").fetchone()[0])
            self._conn.execute(f"PRAGMA cache_size=-{int(kib)}")
        try:
            yield
        finally:
            with self._lock, contextlib.suppress(sqlite3.Error):
                self._conn.execute(f"PRAGMA cache_size={usual}")

    @contextlib.contextmanager
    def unsynced(self) -> Iterator[None]:
        # Only this thread's transactions: the connection is shared, and another thread's
        # commits meanwhile (an ingest beside a rebuild) must stay durable on acknowledgement.
        if self.url.is_memory:
            yield
            return
        me = threading.get_ident()
        with self._lock:
            self._unsynced[me] = self._unsynced.get(me, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                if self._unsynced[me] == 1:
                    del self._unsynced[me]
                else:
                    self._unsynced[me] -= 1

    def _synchronous(self) -> None:
        """Set the sync mode the next transaction of this thread commits with (before BEGIN)."""
        wanted = "NORMAL" if threading.get_ident() in self._unsynced else "FULL"
        if wanted != self._sync_mode:
            self._conn.execute(f"PRAGMA synchronous={wanted}")
            self._sync_mode = wanted

    @contextlib.contextmanager
    def read(self) -> Iterator[Tx]:
        with self._lock, self._translate():
            if self._depth:
                yield self._outer or SqliteTx(self._conn, self._written)
                return
            self._catch_up_with_writers()
            self._conn.execute("BEGIN")
            self._depth += 1
            try:
                yield SqliteTx(self._conn, self._written)
            finally:
                self._depth -= 1
                self._rollback()
            self._read_whole()

    @contextlib.contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as error:
            raise self._store_error(error) from None

    def check_ahead(self) -> None:
        with self._lock:
            if self._checked or self._ahead is not None or self.url.read_only:
                return
            if known_sound(self.url.path):
                return  # the first write will see it is still so: nothing to read ahead
            try:
                self._ahead = _CheckAhead(self.url.path)
            except sqlite3.Error:
                self._ahead = None  # not readable beside this connection: checked at the first write

    def close(self) -> None:
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            ahead.stop()
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()
        if self._checked and not self.url.is_memory and not self.url.read_only and self._lost is None:
            # Checked (or known sound) before this process's first write, and closed with every
            # commit folded into the file: that state is recorded, for the next process to trust.
            self._checked = False  # closed: a second close records nothing again
            # Best effort, even from a finaliser at interpreter exit (builtins may be gone then).
            with contextlib.suppress(Exception):
                if (
                    self._guard is not None and identity(self.url.path) == self._guard.opened
                ):  # not another file put at the path
                    record_sound(self.url.path)

    def reopen(self, *, wait: float | None = None, checked: bool = False) -> SqliteDatabase:
        given = self._given  # (a read-only fallback is decided again for the new connection)
        url = given if wait is None else replace(given, busy_timeout=max(wait, given.busy_timeout))
        other = SqliteDatabase(url, create=False)
        other._checked = self._checked or checked  # the file was checked once already
        return other
