"""PostgreSQL storage: a psycopg 3 connection pool, every connection in the ledger's schema.

The caller serialises writers of the log (:meth:`PostgresDatabase.lock_log`, an advisory lock)
so that insert order is commit order. A batch's plain inserts (journal, events, identities) go
by COPY, and its view upserts by COPY into a temporary table and one ``INSERT … SELECT … ON
CONFLICT`` from it: on the ledger's batches both beat psycopg's pipelined ``executemany`` (which
measured faster than multi-row INSERTs), and the staged upsert took half the server time of one
``INSERT … SELECT`` over a JSON document of the rows. Small writes still go through
``executemany``, as do upserts where the role may not create temporary tables.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import weakref
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from orderledger.infrastructure.errors import (
    DatabaseCorruptError,
    DatabaseFullError,
    DatabaseLockedError,
    DatabaseReadOnlyError,
    StoreError,
)
from orderledger.infrastructure.storage.db import (
    LEDGER_TABLE,
    Database,
    DatabaseUrl,
    InsertShape,
    Tx,
    insert_shape,
    redact,
)

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


COPY_FROM = 8
"""Rows from which a plain INSERT is sent as COPY (below it, statements cost no more)."""


_CONFLICT = re.compile(r"\s*ON\s+CONFLICT\s*\(([^)]*)\)\s*DO\s+(UPDATE\s+SET\s.*|NOTHING)\s*", re.S | re.I)


def _merged(shape: InsertShape, rows: Sequence[Sequence[Any]]) -> list[Sequence[Any]] | None:
    """An upsert's rows as one statement may take them, or None when its shape is not known.

    One statement cannot touch a row twice, so rows sharing a key are merged first as one
    statement per row would have left them: the last one for DO UPDATE, the first for DO NOTHING.
    """
    conflict = _CONFLICT.fullmatch(shape.tail)
    if conflict is None or shape.columns is None:
        return None
    names = [c.strip() for c in shape.columns.split(",")]
    try:
        at = [names.index(k.strip()) for k in conflict[1].split(",")]
    except ValueError:
        return None
    last_wins = conflict[2][:1].upper() == "U"
    unique: dict[tuple[Any, ...], Sequence[Any]] = {}
    for row in rows:
        key = tuple(row[i] for i in at)
        if last_wins or key not in unique:
            unique[key] = row
    return list(unique.values())


_STAGING: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()
"""Per connection: whether its role may create temporary tables (absent: not yet tried)."""


def _stage_name(table: str, columns: str) -> str:
    """The temporary table that stages rows of ``columns`` for ``table`` (one per table and column
    list; a name of fixed length, well under PostgreSQL's 63 characters whatever the table's)."""
    return f"orderledger_stage_{zlib.crc32(f'{table}({columns})'.encode()):08x}"


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
        if not rows:
            return
        shape = insert_shape(sql) if len(rows) >= COPY_FROM else None
        if shape is not None and shape.table is not None and shape.columns is not None:
            if not shape.tail.strip():
                # Plain inserts of a batch's rows (journal, events, identities) go by COPY: one
                # stream instead of a statement per row. Row triggers and constraints still run.
                self._run(lambda: self._copy(f"COPY {shape.table} ({shape.columns}) FROM STDIN", rows))
                return
            merged = _merged(shape, rows)
            if merged is not None and self._run(self._can_stage):
                # A view's upserts: the rows go by COPY into a temporary table of this session,
                # then one statement takes them out of it into the table.
                self._run(lambda: self._staged_upsert(shape, merged))
                return
        self._run(lambda: self._cur.executemany(self._sql(sql, rows[0] or [None]), rows))

    def _can_stage(self) -> bool:
        """Whether this session may create temporary tables (TEMP on the database: PostgreSQL
        grants it to every role unless an administrator revoked it). Tried once a connection,
        in a savepoint, so that a refusal leaves the transaction as it was."""
        known = _STAGING.get(self._conn)
        if known is None:
            try:
                with self._conn.transaction():
                    self._cur.execute("CREATE TEMPORARY TABLE orderledger_stage_probe (k INTEGER)")
                    self._cur.execute("DROP TABLE pg_temp.orderledger_stage_probe")
                known = True
            except psycopg.errors.InsufficientPrivilege:
                known = False
            _STAGING[self._conn] = known
        return known

    def _staged_upsert(self, shape: InsertShape, rows: Sequence[Sequence[Any]]) -> None:
        table, columns = shape.table, shape.columns
        assert table is not None and columns is not None
        name = _stage_name(table, columns)
        stage = f"pg_temp.{name}"
        # Made when missing: the first time in a session, and again if the transaction that made
        # it rolled back. Emptied at every commit (ON COMMIT DELETE ROWS truncates it): rows only
        # deleted would stay as dead pages, which nothing vacuums in a temporary table, and every
        # later batch would read them all.
        self._cur.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {name} ON COMMIT DELETE ROWS"
            f" AS SELECT {columns} FROM {table} WITH NO DATA"
        )
        self._copy(f"COPY {stage} ({columns}) FROM STDIN", rows)
        # Emptied also by the statement that reads it: a second batch for the table in the same
        # transaction finds the stage empty.
        self._cur.execute(
            f"WITH staged AS (DELETE FROM {stage} RETURNING {columns})"
            f" INSERT INTO {table} ({columns}) SELECT {columns} FROM staged{shape.tail}"
        )

    def _copy(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._cur.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)

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
        # No JIT: the ledger's statements are key lookups, inserts and index walks, which run in
        # well under a millisecond, while compiling one costs 5-10 ms. Before a table has
        # statistics the planner overestimates a batch's lookups enough to compile every one.
        settings = [f'SET search_path TO "{schema}"', "SET jit = off"]
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

    def write(self, *, wait: bool = True) -> contextlib.AbstractContextManager[Tx]:
        return self._transaction()

    def reopen(self, *, wait: float | None = None, checked: bool = False) -> PostgresDatabase:
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
