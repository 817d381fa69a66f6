"""A thin, uniform layer over SQLite (sqlite3) and PostgreSQL (psycopg 3 with a pool).

SQL is written once with ``?`` placeholders. Write transactions are exclusive where it
matters: SQLite takes the write lock at ``BEGIN IMMEDIATE``; on PostgreSQL the caller locks
what it needs (the events table in EXCLUSIVE mode, so that insert order is commit order).
Driver errors are translated into one-line :class:`StoreError` messages.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

from infrastructure.errors import ConfigurationError, StoreError

DEFAULT_URL = "sqlite:///orderledger.db"


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

    @property
    def is_memory(self) -> bool:
        """True for ``memory://``."""
        return self.path == ":memory:"


def parse_url(url: str) -> DatabaseUrl:
    """Understand ``sqlite:///PATH``, ``memory://`` and ``postgresql://…[?schema=S]``."""
    if url in ("memory://", "memory:", "memory"):
        return DatabaseUrl("sqlite", ":memory:")
    if url.startswith("sqlite://"):
        path = url[len("sqlite://") :]
        if path.startswith("/"):
            path = path[1:]  # sqlite:///rel.db → rel.db; sqlite:////abs.db → /abs.db
        if not path:
            raise ConfigurationError(f"database URL {url!r} names no file (use sqlite:///PATH)")
        return DatabaseUrl("sqlite", unquote(path))
    if url.startswith(("postgresql://", "postgres://")):
        parsed = urlparse(url)
        query = dict(part.split("=", 1) for part in parsed.query.split("&") if "=" in part)
        schema = query.pop("schema", "public")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", schema):
            raise ConfigurationError(f"schema {schema!r} is not a plain SQL identifier")
        rest = "&".join(f"{k}={v}" for k, v in query.items())
        conninfo = parsed._replace(query=rest, scheme="postgresql").geturl()
        return DatabaseUrl("postgresql", "", conninfo, schema)
    raise ConfigurationError(
        f"unsupported database URL {url!r}: use sqlite:///PATH, memory:// or postgresql://…"
    )


def describe_sqlite_error(error: BaseException, path: str) -> str:
    """One line that tells a user what is wrong with the SQLite file."""
    text = str(error)
    if "locked" in text or "busy" in text:
        return f"database {path!r} is locked by another process (waited, then gave up): {text}"
    if "readonly" in text or "read-only" in text:
        return f"database {path!r} is read-only: {text}"
    if "disk is full" in text or "full" in text:
        return f"database {path!r}: the disk or database is full: {text}"
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return f"database {path!r} is not a valid OrderLedger/SQLite database or is corrupt: {text}"
    if "unable to open" in text:
        return f"cannot open database {path!r}: {text}"
    return f"database {path!r}: {text}"


class SqliteTx:
    """Cursor wrapper for sqlite3."""

    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._conn.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._conn.executemany(sql, rows)

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._conn.execute(sql, params).fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self._conn.execute(sql, params).fetchall()


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

    def close(self) -> None:
        raise NotImplementedError

    def table(self, name: str) -> str:
        """A table name qualified for this database (schema on PostgreSQL)."""
        return name


class SqliteDatabase(Database):
    """One connection per process, durable on commit (WAL, synchronous=FULL)."""

    dialect = "sqlite"

    def __init__(self, url: DatabaseUrl, *, busy_timeout_ms: int = 10_000) -> None:
        self.url = url
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(
                url.path,
                isolation_level=None,
                check_same_thread=False,
                timeout=busy_timeout_ms / 1000,
            )
            self._conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            if not url.is_memory:
                mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise StoreError(f"database {url.path!r}: cannot switch to WAL mode ({mode})")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA foreign_keys=OFF")
        except sqlite3.Error as error:
            raise StoreError(describe_sqlite_error(error, url.path)) from None
        self._depth = 0

    @contextlib.contextmanager
    def write(self) -> Iterator[Tx]:
        with self._lock, self._translate():
            if self._depth:  # nested: join the outer transaction
                yield SqliteTx(self._conn)
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield SqliteTx(self._conn)
            except BaseException:
                self._depth -= 1
                self._conn.rollback()
                raise
            self._depth -= 1
            self._conn.commit()

    @contextlib.contextmanager
    def read(self) -> Iterator[Tx]:
        with self._lock, self._translate():
            if self._depth:
                yield SqliteTx(self._conn)
                return
            self._conn.execute("BEGIN")
            self._depth += 1
            try:
                yield SqliteTx(self._conn)
            finally:
                self._depth -= 1
                self._conn.rollback()

    @contextlib.contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as error:
            raise StoreError(describe_sqlite_error(error, self.url.path)) from None

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()


class PostgresTx:
    """Cursor wrapper for psycopg: converts ``?`` placeholders to ``%s``."""

    dialect = "postgresql"

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._cur = conn.cursor()

    @staticmethod
    def _sql(sql: str, params: Sequence[Any] | None) -> str:
        # psycopg reads placeholders only when parameters are passed.
        return sql.replace("%", "%%").replace("?", "%s") if params else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        self._cur.execute(self._sql(sql, params), params or None)
        return self._cur

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._cur.executemany(self._sql(sql, rows[0] or [None]), rows)

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        self._cur.execute(self._sql(sql, params), params or None)
        return self._cur.fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        self._cur.execute(self._sql(sql, params), params or None)
        return list(self._cur.fetchall())


class PostgresDatabase(Database):
    """A psycopg 3 connection pool; every connection's search_path is the ledger's schema."""

    dialect = "postgresql"

    def __init__(self, url: DatabaseUrl, *, pool_size: int = 4, connect_timeout: float = 5.0) -> None:
        import psycopg
        from psycopg_pool import ConnectionPool

        self.url = url
        self._psycopg = psycopg
        schema = url.schema
        # The pool logs every failed attempt; the ledger reports failure once, in one line.
        logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)
        try:  # fail fast, with the server's own reason, before a pool starts retrying
            psycopg.connect(url.conninfo, connect_timeout=int(connect_timeout)).close()
        except psycopg.Error as error:
            reason = " ".join(str(error).split())
            raise StoreError(f"cannot connect to PostgreSQL at {redact(url.conninfo)}: {reason}") from None

        def configure(conn: Any) -> None:
            conn.autocommit = True
            exists = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
            if exists is None:
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            conn.execute(f'SET search_path TO "{schema}"')

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
    def _transaction(self) -> Iterator[Tx]:
        outer = getattr(self._local, "tx", None)
        if outer is not None:
            yield outer
            return
        psycopg = self._psycopg
        try:
            with self._pool.connection() as conn, conn.transaction():
                tx = PostgresTx(conn)
                self._local.tx = tx
                try:
                    yield tx
                finally:
                    self._local.tx = None
        except psycopg.errors.IntegrityError:
            raise
        except psycopg.errors.SerializationFailure:
            raise
        except psycopg.Error as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise StoreError(f"PostgreSQL error: {first}") from None

    def write(self) -> contextlib.AbstractContextManager[Tx]:
        return self._transaction()

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

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._pool.close()


def redact(conninfo: str) -> str:
    """A URL with its password replaced by ***."""
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", conninfo)


def open_database(url: str) -> Database:
    """Open the database a URL names (the one place that knows the backends)."""
    parsed = parse_url(url)
    if parsed.dialect == "postgresql":
        return PostgresDatabase(parsed)
    return SqliteDatabase(parsed)


def is_integrity_error(error: BaseException) -> bool:
    """True for a unique-key conflict on either backend (another writer got there first)."""
    if isinstance(error, sqlite3.IntegrityError):
        return True
    try:
        import psycopg
    except ImportError:  # pragma: no cover
        return False
    return isinstance(error, psycopg.errors.IntegrityError | psycopg.errors.SerializationFailure)
