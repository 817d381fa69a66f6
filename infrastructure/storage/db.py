"""A thin, uniform layer over SQLite (sqlite3) and PostgreSQL (psycopg 3 with a pool).

This module holds what both backends share: the transaction protocol (:class:`Tx`), the
:class:`Database` base and URL parsing. Each backend lives in its own module
(``storage/sqlite.py``, ``storage/postgres.py``); ``storage/backends.py`` opens the one a URL names.

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

import abc
import contextlib
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlparse

from eventsourcing.persistence import IntegrityError

from orderledger.infrastructure.errors import (
    ConfigurationError,
    StoreError,
)
from orderledger.infrastructure.storage.early_check import sqlite_target

DEFAULT_BUSY_TIMEOUT = 10.0
"""Seconds a SQLite writer waits for another process's write lock before giving up."""
SQLITE_OPTIONS = ("busy_timeout", "max_pages", "mode", "immutable")
SQLITE_MODES = ("ro", "rw", "rwc")
LEDGER_TABLE = "ledger_meta"
"""The table every OrderLedger database holds (store.py creates it first): its mark."""


@dataclass(frozen=True)
class InsertShape:
    """An ``INSERT INTO table (columns) VALUES (?, …) tail`` statement taken apart: what a backend
    needs to write many rows at once (a multi-row INSERT on SQLite, COPY on PostgreSQL)."""

    head: str  # up to and including VALUES
    values: str  # one row's placeholders: "(?,?,…)"
    tail: str  # an upsert's ON CONFLICT clause, or ""
    width: int  # placeholders per row
    table: str | None  # the table and its columns, when the head names them
    columns: str | None


_INSERT = re.compile(r"(INSERT\s.*?\sVALUES\s*)(\(\?(?:\s*,\s*\?)*\))(.*)", re.S | re.I)
_INTO = re.compile(r"INSERT\s+INTO\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(([A-Za-z0-9_,\s]+)\)\s*VALUES\s*", re.I)
_SHAPES: dict[str, InsertShape | None] = {}


def insert_shape(sql: str) -> InsertShape | None:
    """The parts of a one-row ``INSERT … VALUES (?, …)`` statement, or None for any other."""
    if sql not in _SHAPES:
        match = _INSERT.fullmatch(sql)
        shape = None
        if match is not None and "?" not in match[3]:
            into = _INTO.fullmatch(match[1])
            shape = InsertShape(
                match[1],
                match[2],
                match[3],
                match[2].count("?"),
                into[1] if into else None,
                into[2] if into else None,
            )
        _SHAPES[sql] = shape
    return _SHAPES[sql]


def select_by_keys(
    table: str,
    columns: Sequence[str],
    key: Sequence[str],
    keys: Sequence[Sequence[Any]],
    dialect: str,
    where: str = "",
) -> tuple[str, list[Any]]:
    """A SELECT of ``columns`` from ``table`` for the rows of several ``keys`` (each a tuple of
    values in ``key``'s column order), and its parameters: answered by a lookup per key in an
    index on both backends. ``where`` (a condition on the table's columns, no parameters) narrows
    the rows.

    On SQLite a one-column key is an ``IN`` list, and a wider key is joined to a ``VALUES`` list:
    SQLite reads a row-value ``(a, b) IN (VALUES …)`` by scanning the whole table, which made
    every batch's lookups grow with the history. On PostgreSQL the keys are arrays, one per key
    column (one statement text whatever their number: psycopg parses it once), and each key's
    rows are a ``LATERAL`` subquery that the planner may not flatten (``OFFSET 0``), so it stays
    a lookup in the key's index even before the table has statistics (autovacuum's ``ANALYZE``
    comes a minute or more after a burst of inserts): until then the planner answered a list of
    keys by scanning the whole table once per batch, slower with every event in the log.
    ``where`` is applied outside that subquery, where it cannot draw the planner to another index.
    A key given twice finds its rows twice on PostgreSQL (once on SQLite).
    """
    if not keys:
        raise ValueError("select_by_keys needs at least one key")
    if dialect == "postgresql":
        arrays = [list(values) for values in zip(*keys, strict=True)]
        names = ", ".join(f"k{i}" for i in range(len(key)))
        unnest = ", ".join(f"?::{_array_type(values)}" for values in arrays)
        on = " AND ".join(f"{name} = v.k{i}" for i, name in enumerate(key))
        sql = (
            f"SELECT {', '.join(f't.{c}' for c in columns)} FROM unnest({unnest}) AS v({names})"
            f" CROSS JOIN LATERAL (SELECT * FROM {table} WHERE {on} OFFSET 0) AS t"
        )
        return sql + (f" WHERE {where}" if where else ""), arrays
    narrowed = f" AND {where}" if where else ""
    params = [value for values in keys for value in values]
    if len(key) == 1:
        marks = ", ".join("?" * len(keys))
        return f"SELECT {', '.join(columns)} FROM {table} WHERE {key[0]} IN ({marks}){narrowed}", params
    rows = ", ".join(["(" + ", ".join("?" * len(key)) + ")"] * len(keys))
    on = " AND ".join(f"t.{name} = v.column{i}" for i, name in enumerate(key, 1))
    return (
        f"SELECT {', '.join(f't.{c}' for c in columns)} FROM (VALUES {rows}) AS v"
        f" JOIN {table} AS t ON {on}{narrowed}",
        params,
    )


KEYS_AT_ONCE = 500
"""Keys one statement of ``rows_by_keys`` looks up."""


def rows_by_keys(
    tx: Tx, table: str, columns: Sequence[str], key: Sequence[str], keys: Sequence[Sequence[Any]]
) -> list[Any]:
    """The rows of ``table`` for ``keys`` (``select_by_keys``), ``KEYS_AT_ONCE`` keys a statement:
    a statement's parameters stay few whatever the number of keys."""
    rows: list[Any] = []
    for start in range(0, len(keys), KEYS_AT_ONCE):
        rows += tx.all(*select_by_keys(table, columns, key, keys[start : start + KEYS_AT_ONCE], tx.dialect))
    return rows


def _array_type(values: Sequence[Any]) -> str:
    """The PostgreSQL array type of a key column's ``values``: by the first that is not None (a
    view's key columns are TEXT, INTEGER or BOOLEAN; a NULL key matches no row)."""
    value = next((v for v in values if v is not None), "")
    if isinstance(value, bool):
        return "boolean[]"
    return "bigint[]" if isinstance(value, int) else "text[]"


def upsert_sql(table: str, columns: Sequence[str], key: Sequence[str], fixed: Sequence[str] = ()) -> str:
    """An INSERT of one row of ``columns`` that, when a row with the same ``key`` exists, updates
    it instead: every column but the key's and the ``fixed`` ones, which keep the values the row
    was inserted with. An UPDATE that sets no column of an index leaves that index untouched
    (SQLite decides by the columns it sets, whatever their values)."""
    kept = {*key, *fixed}
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in kept)
    head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    if not updates:
        return f"{head} ON CONFLICT DO NOTHING"
    return f"{head} ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"


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

    @property
    def read_only(self) -> bool:
        """True for a SQLite file opened ``mode=ro`` or ``immutable=1``."""
        return self.mode == "ro" or self.immutable


def parse_url(url: str) -> DatabaseUrl:
    """Understand ``sqlite:///PATH[?options]``, ``memory://`` and ``postgresql://…[?schema=S]``."""
    if url in ("memory://", "memory:", "memory"):
        return DatabaseUrl("sqlite", ":memory:")
    target = sqlite_target(url)
    if target is not None:
        path, query = target
        if not path:
            raise ConfigurationError(f"database URL {url!r} names no file (use sqlite:///PATH)")
        return _sqlite_url(path, _query(query, url))
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


class Database(abc.ABC):
    """Base class: a connection source with read and write transactions."""

    @abc.abstractmethod
    def lock_log(self, tx: Tx) -> None:
        """Serialise writers of the log for the rest of ``tx``."""

    dialect: str = ""
    url: DatabaseUrl

    @abc.abstractmethod
    def write(self, *, wait: bool = True) -> contextlib.AbstractContextManager[Tx]:
        """A write transaction (nested calls join the outer one). ``wait=False``: if another
        process holds the write lock (SQLite), raise :class:`DatabaseLockedError` at once instead
        of waiting for it (PostgreSQL has no such lock: the same transaction)."""

    @abc.abstractmethod
    def read(self) -> contextlib.AbstractContextManager[Tx]:
        """A read transaction (nested calls join the outer one)."""

    def page_cache(self, kib: int) -> contextlib.AbstractContextManager[None]:
        """Use a page cache of ``kib`` KiB inside the block, then the usual one (SQLite; the
        PostgreSQL server manages its own buffers)."""
        return contextlib.nullcontext()

    def unsynced(self) -> contextlib.AbstractContextManager[None]:
        """This thread's commits inside the block are not each synced to disk (SQLite in WAL
        mode: ``synchronous=NORMAL``, which cannot corrupt the file; a power failure may lose the
        last of them); other threads' commits meanwhile are synced as ever. For writes that are
        of no use until a later, synced commit: a rebuild's new tables, which its swap makes
        durable. PostgreSQL: no change."""
        return contextlib.nullcontext()

    def check_ahead(self) -> None:
        """Start now, beside the caller's work, the check this process makes of the database
        before its first write; that write then waits for the verdict (and raises it if the
        check failed), so nothing is ever written before a passing check. For work that reads
        for a while before it writes, such as a rebuild's fold. SQLite: ``PRAGMA quick_check``
        of the whole file, on a read connection of its own, in a thread (it reads every page:
        ~1.4 s for a 1.1M-event file). PostgreSQL: nothing to check."""
        return None  # (the server checks its own pages)

    def writable(self) -> bool:
        """Whether this connection may write at all (False for a SQLite file opened read-only,
        or one this user may not write): a read that would keep derived rows asks first."""
        return not self.url.read_only

    def failure(self) -> StoreError | None:
        """The fault that keeps this database from taking writes for good, or None. SQLite: the
        file it has open is no longer the one at its path (deleted or replaced). PostgreSQL: none
        (a server's faults are answered by each statement)."""
        return None

    def snapshot(self) -> contextlib.AbstractContextManager[Tx]:
        """A read transaction in which every statement sees one committed state of the database;
        reads made inside it join it. (SQLite's read transactions already are such snapshots.)"""
        return self.read()

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection(s)."""

    @abc.abstractmethod
    def reopen(self, *, wait: float | None = None, checked: bool = False) -> Database:
        """Another connection to the same database (for a worker process); ``wait``: seconds to
        wait for SQLite's write lock instead of the URL's ``busy_timeout``; ``checked``: the
        caller vouches that the file passed the check before a first write (another process
        made it), so the new connection does not make it again."""

    def table(self, name: str) -> str:
        """A table name qualified for this database (schema on PostgreSQL)."""
        return name


def redact(conninfo: str) -> str:
    """A URL with its password replaced by ***."""
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", conninfo)


def is_integrity_error(error: BaseException) -> bool:
    """True for a unique-key conflict on either backend (another writer got there first)."""
    if isinstance(error, sqlite3.IntegrityError):
        return True
    try:  # start-up cost: psycopg loads only in a process that uses PostgreSQL (see backends)
        import psycopg
    except ImportError:  # pragma: no cover
        return False
    return isinstance(error, psycopg.errors.IntegrityError | psycopg.errors.SerializationFailure)


def is_write_race(error: BaseException) -> bool:
    """True for a unique-key conflict, as the driver or eventsourcing raises it: a write that
    raced another process's (the shells answer it with ``errors.WRITE_RACE``)."""
    return is_integrity_error(error) or isinstance(error, IntegrityError)


def lock_schema(tx: Tx) -> None:
    """Make ``tx`` the only one creating or altering the ledger's tables until it ends, so that
    processes starting together on a new database create each table once: the others wait here,
    then find the tables made. PostgreSQL: a transaction-scoped advisory lock per schema (two
    ``CREATE TABLE IF NOT EXISTS`` of one table at once conflict in the catalogue); SQLite: the
    write transaction's ``BEGIN IMMEDIATE`` already is that lock."""
    if tx.dialect == "postgresql":
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || '.orderledger.schema', 0))"
        )


def table_exists(tx: Tx, name: str) -> bool:
    """True when the table ``name`` exists, as committed when the statement starts. PostgreSQL:
    read from the catalogue's rows, not through ``to_regclass``, whose cache may still say
    "no such table" after waiting in ``lock_schema`` for another process that has since made it."""
    if tx.dialect == "postgresql":
        found = tx.one(
            "SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relname = ?",
            (name,),
        )
        return found is not None
    return tx.one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)) is not None


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
