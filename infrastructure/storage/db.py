"""A thin, uniform layer over SQLite (sqlite3) and PostgreSQL (psycopg 3 with a pool).

SQL is written once with ``?`` placeholders. Write transactions are exclusive where it
matters: SQLite takes the write lock at ``BEGIN IMMEDIATE``; on PostgreSQL the caller locks
what it needs (the events table in EXCLUSIVE mode, so that insert order is commit order).
Driver errors are translated into one-line :class:`StoreError` messages.

A resource fault inside a write transaction (disk or database full, I/O error, corruption,
read-only database, a lock wait that ran out) dooms that transaction: it never commits, even if
the caller contained the error (as a savepoint around the views' fold does), and every later
statement in it fails with the same message. So a group commit is stored whole or not at all.

Database URL options (docs/operations.md, "Database URL options"):

- SQLite: ``sqlite:///PATH?busy_timeout=SECONDS&max_pages=N&mode=ro&immutable=1``;
- PostgreSQL: ``postgresql://…?schema=S&lock_timeout=SECONDS`` (other parameters are libpq's).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol
from urllib.parse import quote, unquote, urlparse

from orderledger.infrastructure.errors import (
    ConfigurationError,
    DatabaseCorruptError,
    DatabaseFullError,
    DatabaseLockedError,
    DatabaseReadOnlyError,
    StoreError,
)

DEFAULT_URL = "sqlite:///orderledger.db"
DEFAULT_BUSY_TIMEOUT = 10.0
"""Seconds a SQLite writer waits for another process's write lock before giving up."""
SQLITE_OPTIONS = ("busy_timeout", "max_pages", "mode", "immutable")
SQLITE_MODES = ("ro", "rw", "rwc")
LEDGER_TABLE = "ledger_meta"
"""The table every OrderLedger database holds (store.py creates it first): its mark."""


class Tx(Protocol):
    """A transaction's cursor, the same for both backends."""

    dialect: str

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...
    def one(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]: ...


@dataclass(frozen=True)
class DatabaseUrl:
    """A parsed ``--db`` URL."""

    dialect: str  # "sqlite" or "postgresql"
    path: str  # sqlite file path, ":memory:" for memory://
    conninfo: str = ""  # postgresql conninfo (without the schema option)
    schema: str = "public"
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT  # sqlite: seconds to wait for the write lock
    max_pages: int | None = None  # sqlite: PRAGMA max_page_count (a size limit, in pages)
    mode: str = "rwc"  # sqlite: ro (read-only), rw (must exist) or rwc (created if missing)
    immutable: bool = False  # sqlite: a file on read-only media (implies read-only)
    lock_timeout: float | None = None  # postgresql: seconds to wait for a lock (None: no limit)

    @property
    def is_memory(self) -> bool:
        """True for ``memory://``."""
        return self.path == ":memory:"


def parse_url(url: str) -> DatabaseUrl:
    """Understand ``sqlite:///PATH[?options]``, ``memory://`` and ``postgresql://…[?schema=S]``."""
    if url in ("memory://", "memory:", "memory"):
        return DatabaseUrl("sqlite", ":memory:")
    if url.startswith("sqlite://"):
        path, _, query = url[len("sqlite://") :].partition("?")
        if path.startswith("/"):
            path = path[1:]  # sqlite:///rel.db → rel.db; sqlite:////abs.db → /abs.db
        if not path:
            raise ConfigurationError(f"database URL {url!r} names no file (use sqlite:///PATH)")
        return _sqlite_url(unquote(path), _query(query, url))
    if url.startswith(("postgresql://", "postgres://")):
        parsed = urlparse(url)
        options = _query(parsed.query, url)
        schema = options.pop("schema", "public")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", schema):
            raise ConfigurationError(f"schema {schema!r} is not a plain SQL identifier")
        lock_timeout = options.pop("lock_timeout", None)
        rest = "&".join(f"{k}={v}" for k, v in options.items())
        conninfo = parsed._replace(query=rest, scheme="postgresql").geturl()
        return DatabaseUrl(
            "postgresql",
            "",
            conninfo,
            schema,
            lock_timeout=None if lock_timeout is None else _seconds("lock_timeout", lock_timeout),
        )
    raise ConfigurationError(
        f"unsupported database URL {url!r}: use sqlite:///PATH, memory:// or postgresql://…"
    )


def _query(text: str, url: str) -> dict[str, str]:
    """``a=1&b=2`` as a dict (values still percent-encoded); a part without ``=`` is refused."""
    options: dict[str, str] = {}
    for part in filter(None, text.split("&")):
        key, sep, value = part.partition("=")
        if not sep:
            raise ConfigurationError(
                f"database URL option {part!r} in {redact(url)!r} has no value (NAME=VALUE)"
            )
        options[key] = value
    return options


def _sqlite_url(path: str, options: dict[str, str]) -> DatabaseUrl:
    unknown = [k for k in options if k not in SQLITE_OPTIONS]
    if unknown:
        raise ConfigurationError(
            f"unknown SQLite URL option {unknown[0]!r} (known: {', '.join(SQLITE_OPTIONS)})"
        )
    busy = _seconds("busy_timeout", options.get("busy_timeout", str(DEFAULT_BUSY_TIMEOUT)))
    max_pages = None
    if "max_pages" in options:
        text = options["max_pages"]
        if not text.isdigit() or int(text) < 1:
            raise ConfigurationError(f"max_pages must be a whole number of pages, 1 or more, not {text!r}")
        max_pages = int(text)
    mode = options.get("mode", "rwc")
    if mode not in SQLITE_MODES:
        raise ConfigurationError(f"mode must be one of {', '.join(SQLITE_MODES)}, not {mode!r}")
    flag = options.get("immutable", "0")
    if flag not in ("0", "1"):
        raise ConfigurationError(f"immutable must be 0 or 1, not {flag!r}")
    return DatabaseUrl(
        "sqlite", path, busy_timeout=busy, max_pages=max_pages, mode=mode, immutable=flag == "1"
    )


def _seconds(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 86_400:
        raise ConfigurationError(f"{name} must be a number of seconds from 0 to 86400, not {text!r}")
    return value


# SQLite's primary result codes for the faults a user can act on.
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


def describe_sqlite_error(error: BaseException, path: str, url: DatabaseUrl | None = None) -> str:
    """One line that tells a user what is wrong with the SQLite file (and what to do)."""
    text = str(error)
    fault = _sqlite_fault(error)
    if fault == "locked":
        waited = DEFAULT_BUSY_TIMEOUT if url is None else url.busy_timeout
        return (
            f"database {path!r} is locked by another process: waited {waited:g} s"
            f" (busy_timeout), then gave up: {text}"
        )
    if fault == "read-only":
        why = ""
        if url is not None and (url.mode == "ro" or url.immutable):
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


def sqlite_store_error(error: BaseException, path: str, url: DatabaseUrl | None = None) -> StoreError:
    """The typed StoreError for a SQLite driver error, with its one-line message."""
    fault = _sqlite_fault(error) or ""
    return _ERROR_CLASSES.get(fault, StoreError)(describe_sqlite_error(error, path, url))


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
    found = [str(r[0]) for r in tx.all(f"PRAGMA {pragma}") if not str(r[0]).startswith("*** in database")]
    if found != ["ok"]:
        raise DatabaseCorruptError(
            f"database {path!r} is corrupt (restore it from a backup; nothing was written):"
            f" PRAGMA {pragma} found {len(found)} problem{'s' if len(found) != 1 else ''}, the first:"
            f" {found[0] if found else 'no answer'}"
        )
    return pragma


class SqliteTx:
    """Cursor wrapper for sqlite3; remembers a resource fault, which dooms the transaction."""

    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.fault: sqlite3.Error | None = None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._run(lambda: self._conn.execute(sql, params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._run(lambda: self._conn.executemany(sql, rows))

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


class Database:
    """Base class: a connection source with read and write transactions."""

    def lock_log(self, tx: Tx) -> None:
        """Serialise writers of the log for the rest of ``tx`` (no-op where the database does)."""

    dialect: str = ""
    url: DatabaseUrl

    def write(self) -> contextlib.AbstractContextManager[Tx]:
        raise NotImplementedError

    def read(self) -> contextlib.AbstractContextManager[Tx]:
        raise NotImplementedError

    def snapshot(self) -> contextlib.AbstractContextManager[Tx]:
        """A read transaction in which every statement sees one committed state of the database;
        reads made inside it join it. (SQLite's read transactions already are such snapshots.)"""
        return self.read()

    def close(self) -> None:
        raise NotImplementedError

    def reopen(self, *, wait: float | None = None) -> Database:
        """Another connection to the same database (for a worker process); ``wait``: seconds to
        wait for SQLite's write lock instead of the URL's ``busy_timeout``."""
        raise NotImplementedError

    def table(self, name: str) -> str:
        """A table name qualified for this database (schema on PostgreSQL)."""
        return name


class SqliteDatabase(Database):
    """One connection per process, durable on commit (WAL, synchronous=FULL)."""

    dialect = "sqlite"

    def __init__(self, url: DatabaseUrl, *, create: bool = True) -> None:
        if not create and not url.is_memory and url.mode == "rwc":
            url = replace(url, mode="rw")  # never create the file: a typo must not become a new ledger
        self.url = url
        self._lock = threading.RLock()
        read_only = url.mode == "ro" or url.immutable
        if url.immutable:
            self._refuse_pending_wal(url.path)
        target = url.path
        if not url.is_memory and (url.mode != "rwc" or url.immutable):
            flags = "mode=ro&immutable=1" if url.immutable else f"mode={url.mode}"
            target = f"file:{quote(os.path.abspath(url.path))}?{flags}"
        conn: sqlite3.Connection | None = None
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
            if read_only:
                conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # is it a database at all?
            elif not url.is_memory:
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise StoreError(f"database {url.path!r}: cannot switch to WAL mode ({mode})")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=OFF")
        except BaseException as error:
            if conn is not None:
                conn.close()
            if isinstance(error, sqlite3.Error):
                raise sqlite_store_error(error, url.path, url) from None
            raise
        self._conn = conn
        self._depth = 0
        self._outer: SqliteTx | None = None  # the write transaction nested calls join
        # A damaged file is refused before the first write: SQLite writes onto damage it does not
        # read (an append touches few pages) and would extend a malformed database without a word.
        self._checked = url.is_memory

    @staticmethod
    def _refuse_pending_wal(path: str) -> None:
        """immutable=1 reads the main file only: committed writes still in the WAL would be missed."""
        wal = f"{path}-wal"
        if os.path.exists(wal) and os.path.getsize(wal) > 0:
            raise StoreError(
                f"database {path!r} has a write-ahead log {wal!r} not yet folded into it: immutable=1"
                " would not see those commits; open it once where it is writable (or drop immutable=1)"
            )

    @contextlib.contextmanager
    def write(self) -> Iterator[Tx]:
        with self._lock, self._translate():
            if self._depth:  # nested: join the outer transaction (a fault inside dooms it too)
                yield self._outer or SqliteTx(self._conn)
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            tx = self._outer = SqliteTx(self._conn)
            try:
                if not self._checked:  # once per process, under the write lock, before writing
                    check_sqlite_file(tx, self.url.path)
                    self._checked = True
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

    def _rollback(self) -> None:
        # SQLite may have rolled back already (disk full, I/O error): nothing left to undo then.
        with contextlib.suppress(sqlite3.Error):
            self._conn.rollback()

    @contextlib.contextmanager
    def read(self) -> Iterator[Tx]:
        with self._lock, self._translate():
            if self._depth:
                yield self._outer or SqliteTx(self._conn)
                return
            self._conn.execute("BEGIN")
            self._depth += 1
            try:
                yield SqliteTx(self._conn)
            finally:
                self._depth -= 1
                self._rollback()

    @contextlib.contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as error:
            raise sqlite_store_error(error, self.url.path, self.url) from None

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()

    def reopen(self, *, wait: float | None = None) -> SqliteDatabase:
        url = self.url if wait is None else replace(self.url, busy_timeout=max(wait, self.url.busy_timeout))
        other = SqliteDatabase(url, create=False)
        other._checked = self._checked  # the file was checked once already (by this process)
        return other


# SQLSTATEs (or their classes) of faults that doom a transaction: the resource, not the SQL.
_POSTGRES_FAULTS = ("53", "58", "XX", "08", "25006", "55P03", "57014", "57P")


def _postgres_fault(error: BaseException) -> bool:
    state = str(getattr(error, "sqlstate", "") or "")
    return bool(state) and any(state.startswith(prefix) for prefix in _POSTGRES_FAULTS)


def describe_postgres_error(error: BaseException, url: DatabaseUrl | None = None) -> str:
    """One line that tells a user what PostgreSQL refused, and why where it is a known fault."""
    text = str(error).strip()
    first = text.splitlines()[0] if text else type(error).__name__
    state = str(getattr(error, "sqlstate", "") or "")
    if state == "25006":
        return (
            "PostgreSQL: this session is read-only (default_transaction_read_only, or a standby),"
            f" so nothing was written: {first}"
        )
    if state == "55P03":
        waited = "" if url is None or url.lock_timeout is None else f" after {url.lock_timeout:g} s"
        return (
            f"PostgreSQL: gave up waiting for a lock{waited} (lock_timeout): another process holds it;"
            f" nothing was written: {first}"
        )
    if state == "57014":
        return f"PostgreSQL: statement canceled (statement_timeout, or by an operator): {first}"
    if state == "53100":
        return f"PostgreSQL: the server's disk is full; nothing was written: {first}"
    if state.startswith("53"):
        return f"PostgreSQL: the server is out of resources: {first}"
    if state.startswith("58"):
        return f"PostgreSQL: I/O error on the server: {first}"
    if state in ("XX001", "XX002"):
        return f"PostgreSQL: the server reports corrupt data (restore from a backup): {first}"
    return f"PostgreSQL error: {first}"


_POSTGRES_CLASSES: dict[str, type[StoreError]] = {
    "25006": DatabaseReadOnlyError,
    "55P03": DatabaseLockedError,
    "53100": DatabaseFullError,
    "XX001": DatabaseCorruptError,
    "XX002": DatabaseCorruptError,
}


def postgres_store_error(error: BaseException, url: DatabaseUrl | None = None) -> StoreError:
    """The typed StoreError for a psycopg error, with its one-line message."""
    state = str(getattr(error, "sqlstate", "") or "")
    return _POSTGRES_CLASSES.get(state, StoreError)(describe_postgres_error(error, url))


class PostgresTx:
    """Cursor wrapper for psycopg: converts ``?`` placeholders to ``%s``; remembers a fault."""

    dialect = "postgresql"

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._cur = conn.cursor()
        self.fault: BaseException | None = None

    @staticmethod
    def _sql(sql: str, params: Sequence[Any] | None) -> str:
        # psycopg reads placeholders only when parameters are passed.
        return sql.replace("%", "%%").replace("?", "%s") if params else sql

    def _run(self, statement: Any) -> Any:
        if self.fault is not None:  # the transaction cannot commit: do not go on writing in it
            raise self.fault
        try:
            return statement()
        except Exception as error:
            if _postgres_fault(error):
                self.fault = error
            raise

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        self._run(lambda: self._cur.execute(self._sql(sql, params), params or None))
        return self._cur

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._run(lambda: self._cur.executemany(self._sql(sql, rows[0] or [None]), rows))

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.execute(sql, params).fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return list(self.execute(sql, params).fetchall())


class PostgresDatabase(Database):
    """A psycopg 3 connection pool; every connection's search_path is the ledger's schema."""

    dialect = "postgresql"

    def __init__(
        self, url: DatabaseUrl, *, pool_size: int = 4, connect_timeout: float = 5.0, create: bool = True
    ) -> None:
        import psycopg
        from psycopg_pool import ConnectionPool

        self.url = url
        self._psycopg = psycopg
        schema = url.schema
        # The pool logs every failed attempt; the ledger reports failure once, in one line.
        logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)
        _quiet_pipeline_warnings()
        try:  # fail fast, with the server's own reason, before a pool starts retrying
            probe = psycopg.connect(url.conninfo, connect_timeout=int(connect_timeout), autocommit=True)
        except psycopg.Error as error:
            reason = " ".join(str(error).split())
            raise StoreError(f"cannot connect to PostgreSQL at {redact(url.conninfo)}: {reason}") from None
        try:
            with probe:
                exists = probe.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
                if not create:
                    if exists is None:
                        raise StoreError(
                            f"schema {schema!r} does not exist at {redact(url.conninfo)}"
                            " (nothing was created; check ?schema=)"
                        )
                    marked = probe.execute(
                        "SELECT to_regclass(%s)", (f'"{schema}".{LEDGER_TABLE}',)
                    ).fetchone()
                    if marked is None or marked[0] is None:
                        raise StoreError(
                            f"schema {schema!r} at {redact(url.conninfo)} is not an OrderLedger database"
                            " (it has no ledger tables)"
                        )
                elif exists is None:
                    # Two processes may create it at once: the loser's duplicate is harmless.
                    with contextlib.suppress(psycopg.errors.UniqueViolation, psycopg.errors.DuplicateSchema):
                        probe.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        except psycopg.Error as error:
            raise postgres_store_error(error, url) from None
        settings = [f'SET search_path TO "{schema}"']
        if url.lock_timeout is not None:
            settings.append(f"SET lock_timeout = {round(url.lock_timeout * 1000)}")

        def configure(conn: Any) -> None:
            conn.autocommit = True
            for statement in settings:
                conn.execute(statement)

        try:
            self._pool = ConnectionPool(
                url.conninfo,
                min_size=1,
                max_size=pool_size,
                configure=configure,
                kwargs={"connect_timeout": int(connect_timeout)},
                open=False,
            )
            self._pool.open(wait=True, timeout=connect_timeout)
        except Exception as error:  # psycopg_pool.PoolTimeout, OperationalError
            raise StoreError(f"cannot connect to PostgreSQL at {redact(url.conninfo)}: {error}") from None
        self._local = threading.local()

    @contextlib.contextmanager
    def _transaction(self, snapshot: bool = False) -> Iterator[Tx]:
        outer = getattr(self._local, "tx", None)
        if outer is not None:
            yield outer
            return
        psycopg = self._psycopg
        try:
            with self._pool.connection() as conn, conn.transaction():
                if snapshot:  # every statement of the transaction sees the same committed state
                    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                tx = PostgresTx(conn)
                self._local.tx = tx
                try:
                    yield tx
                finally:
                    self._local.tx = None
                if tx.fault is not None:  # contained by the caller, but the transaction is doomed
                    raise tx.fault
        except psycopg.errors.IntegrityError:
            raise
        except psycopg.errors.SerializationFailure:
            raise
        except psycopg.Error as error:
            raise postgres_store_error(error, self.url) from None

    def write(self) -> contextlib.AbstractContextManager[Tx]:
        return self._transaction()

    def reopen(self, *, wait: float | None = None) -> PostgresDatabase:
        return PostgresDatabase(self.url, pool_size=1, create=False)

    def lock_log(self, tx: Tx) -> None:
        """A transaction-scoped advisory lock per schema: insert order becomes commit order.

        An advisory lock needs no table privilege, so an application role without UPDATE,
        DELETE or TRUNCATE on the events table can still take it (LOCK TABLE could not).
        """
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || '.orderledger.log', 0))"
        )

    def read(self) -> contextlib.AbstractContextManager[Tx]:
        return self._transaction()

    def snapshot(self) -> contextlib.AbstractContextManager[Tx]:
        return self._transaction(snapshot=True)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._pool.close()


class _PipelineNoise(logging.Filter):
    """Drop psycopg's "error ignored terminating <Pipeline …>" warning.

    psycopg logs it when a batch insert fails (a unique-key conflict with another writer) and it
    re-raises the original error, which the ledger handles: a retry, or one line on failure.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("error ignored terminating")


def _quiet_pipeline_warnings() -> None:
    logger = logging.getLogger("psycopg")
    if not any(isinstance(f, _PipelineNoise) for f in logger.filters):
        logger.addFilter(_PipelineNoise())


def redact(conninfo: str) -> str:
    """A URL with its password replaced by ***."""
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", conninfo)


def open_database(url: str, *, create: bool = True) -> Database:
    """Open the database a URL names (the one place that knows the backends).

    ``create=False`` (read-only commands) never creates a file, a schema or tables: a missing
    database, or one without the ledger's tables, is an error instead.
    """
    parsed = parse_url(url)
    if parsed.dialect == "postgresql":
        return PostgresDatabase(parsed, create=create)
    return SqliteDatabase(parsed, create=create)


def is_integrity_error(error: BaseException) -> bool:
    """True for a unique-key conflict on either backend (another writer got there first)."""
    if isinstance(error, sqlite3.IntegrityError):
        return True
    try:
        import psycopg
    except ImportError:  # pragma: no cover
        return False
    return isinstance(error, psycopg.errors.IntegrityError | psycopg.errors.SerializationFailure)


def table_columns(tx: Tx, name: str) -> list[str]:
    """The column names of a table in definition order; empty when there is no such table."""
    if tx.dialect == "postgresql":
        rows = tx.all(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
            (name,),
        )
        return [str(r[0]) for r in rows]
    return [str(r[1]) for r in tx.all(f"PRAGMA table_info({name})")]
