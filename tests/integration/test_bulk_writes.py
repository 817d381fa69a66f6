"""Many rows written at once: a multi-row INSERT on SQLite; on PostgreSQL COPY, and for upserts
COPY into a temporary table and one statement from it. Given rows, when they are written as one
batch, then the table holds exactly what one statement per row would have left, and a taken key
still fails the batch as an integrity error."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from orderledger.infrastructure.storage.backends import open_database
from orderledger.infrastructure.storage.db import insert_shape, is_integrity_error

UPSERT = (
    "INSERT INTO bulk (k, note, n) VALUES (?, ?, ?)"
    " ON CONFLICT (k) DO UPDATE SET note = excluded.note, n = excluded.n"
)
KEEP_FIRST = "INSERT INTO bulk (k, note, n) VALUES (?, ?, ?) ON CONFLICT (k) DO NOTHING"
PLAIN = "INSERT INTO bulk (k, note, n) VALUES (?, ?, ?)"


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{request.getfixturevalue('tmp_path') / 'bulk.db'}"
    return str(request.getfixturevalue("postgres_url"))


def _table(url: str) -> list[tuple[str, str, int]]:
    db = open_database(url)
    try:
        with db.read() as tx:
            return [
                (str(r[0]), str(r[1]), int(r[2])) for r in tx.all("SELECT k, note, n FROM bulk ORDER BY k")
            ]
    finally:
        db.close()


def _write(url: str, sql: str, rows: list[tuple[object, ...]]) -> None:
    db = open_database(url)
    try:
        with db.write() as tx:
            tx.execute(
                "CREATE TABLE IF NOT EXISTS bulk (k TEXT PRIMARY KEY, note TEXT NOT NULL, n INTEGER NOT NULL)"
            )
            tx.executemany(sql, rows)
    finally:
        db.close()


def test_the_insert_shape_names_table_columns_and_conflict_clause() -> None:
    shape = insert_shape(UPSERT)
    assert shape is not None
    assert (shape.table, shape.columns, shape.width) == ("bulk", "k, note, n", 3)
    assert shape.tail.startswith(" ON CONFLICT (k)")
    assert insert_shape("UPDATE bulk SET n = ?") is None


def test_upserts_with_repeated_keys_leave_the_last_row_like_one_statement_each(url: str) -> None:
    # Given 20 rows over 10 keys, each key written twice (a note, then its correction)
    rows: list[tuple[object, ...]] = [(f"k{i % 10:02d}", f"note {i}", i) for i in range(20)]
    # When they are upserted as one batch
    _write(url, UPSERT, rows)
    # Then each key holds its second row: k00 → row 10, …, k09 → row 19
    assert _table(url) == [(f"k{i:02d}", f"note {i + 10}", i + 10) for i in range(10)]


def test_do_nothing_keeps_the_first_row_of_a_key(url: str) -> None:
    rows: list[tuple[object, ...]] = [(f"k{i % 10:02d}", f"note {i}", i) for i in range(20)]
    _write(url, KEEP_FIRST, rows)
    assert _table(url) == [(f"k{i:02d}", f"note {i}", i) for i in range(10)]


def test_two_batches_of_upserts_into_one_table_in_one_transaction_each_land_once(url: str) -> None:
    # Given a transaction that upserts 20 keys, then 10 of them again (each batch long enough to
    # be staged on PostgreSQL): both pass through the same temporary table, which must be empty
    # again for the second
    db = open_database(url)
    try:
        with db.write() as tx:
            tx.execute(
                "CREATE TABLE IF NOT EXISTS bulk (k TEXT PRIMARY KEY, note TEXT NOT NULL, n INTEGER NOT NULL)"
            )
            tx.executemany(UPSERT, [(f"k{i:02d}", "first", i) for i in range(20)])
            tx.executemany(UPSERT, [(f"k{i:02d}", "second", 100 + i) for i in range(0, 20, 2)])
    finally:
        db.close()
    # Then the even keys hold the second batch's rows and the odd ones the first's
    assert _table(url) == [
        (f"k{i:02d}", "second", 100 + i) if i % 2 == 0 else (f"k{i:02d}", "first", i) for i in range(20)
    ]


def test_the_stage_of_a_long_lived_session_stays_empty_between_transactions(postgres_url: str) -> None:
    # Rows deleted from a temporary table stay as dead pages (autovacuum never visits one), and
    # every later batch would read them: the stage is emptied at each commit instead.
    from orderledger.infrastructure.storage.db import parse_url
    from orderledger.infrastructure.storage.postgres import PostgresDatabase, _stage_name

    db = PostgresDatabase(parse_url(postgres_url), pool_size=1)  # one connection: one session
    try:
        with db.write() as tx:
            tx.execute("CREATE TABLE bulk (k TEXT PRIMARY KEY, note TEXT NOT NULL, n INTEGER NOT NULL)")
        for batch in range(30):
            with db.write() as tx:
                tx.executemany(UPSERT, [(f"k{i:03d}", f"batch {batch}", batch) for i in range(200)])
        with db.read() as tx:
            stage = f"pg_temp.{_stage_name('bulk', 'k, note, n')}"
            assert tx.one("SELECT pg_relation_size(to_regclass(?))", [stage]) == (0,)
            assert tx.one("SELECT count(*), min(n), max(n) FROM bulk") == (200, 29, 29)
    finally:
        db.close()


# A database on which TEMP is revoked from PUBLIC: made on the first run against a server and kept
# (CREATE DATABASE copies a template and takes up to minutes on a busy server); each run works in
# its own role and schema there, and drops both.
NO_TEMP_DATABASE = "orderledger_test_no_temp"


def test_a_role_that_may_not_create_temporary_tables_upserts_all_the_same(postgres_url: str) -> None:
    # An administrator may revoke TEMP on the database from PUBLIC: the ledger's role then cannot
    # stage rows in a temporary table. Its upserts must still land, in the same transaction.
    import psycopg
    import psycopg.conninfo

    from orderledger.infrastructure.storage.db import parse_url

    name = f"ol_notemp_{uuid.uuid4().hex[:10]}"
    admin = parse_url(postgres_url).conninfo
    server = postgres_url.split("@", 1)[1].split("/", 1)[0]
    with psycopg.connect(admin, autocommit=True) as conn:
        if (
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (NO_TEMP_DATABASE,)).fetchone()
            is None
        ):
            try:
                conn.execute(f'CREATE DATABASE "{NO_TEMP_DATABASE}"')
            except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
                pass  # another run made it first
        conn.execute(f'REVOKE TEMPORARY ON DATABASE "{NO_TEMP_DATABASE}" FROM PUBLIC')
        conn.execute(f'CREATE ROLE "{name}" LOGIN')
        conn.execute(f'GRANT CREATE ON DATABASE "{NO_TEMP_DATABASE}" TO "{name}"')
    try:
        url = f"postgresql://{name}@{server}/{NO_TEMP_DATABASE}?schema={name}"
        with (
            psycopg.connect(f"postgresql://{name}@{server}/{NO_TEMP_DATABASE}") as conn,
            pytest.raises(psycopg.errors.InsufficientPrivilege),
        ):
            conn.execute("CREATE TEMPORARY TABLE t (k INTEGER)")
        rows: list[tuple[object, ...]] = [(f"k{i % 10:02d}", f"note {i}", i) for i in range(20)]
        _write(url, UPSERT, rows)
        assert _table(url) == [(f"k{i:02d}", f"note {i + 10}", i + 10) for i in range(10)]
    finally:
        there = psycopg.conninfo.make_conninfo(admin, dbname=NO_TEMP_DATABASE)
        with psycopg.connect(there, autocommit=True) as conn:
            # The role's schema and tables, and its CREATE on the database, go with DROP OWNED.
            conn.execute(f'DROP OWNED BY "{name}" CASCADE')
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{name}"')


def test_decimal_values_are_written_as_their_text(postgres_url: str) -> None:
    # PostgreSQL only: psycopg writes a Decimal as its text, trailing zeros kept (SQLite's driver
    # takes none; the ledger hands it text).
    url = postgres_url
    rows: list[tuple[object, ...]] = [(f"k{i:02d}", Decimal("0.10") * i, i) for i in range(12)]
    _write(url, UPSERT, rows)
    # 0.10 × 3 = 0.30 exactly: the trailing zero of the Decimal's text is kept
    assert _table(url)[3] == ("k03", "0.30", 3)


def test_a_taken_key_fails_a_plain_batch_as_an_integrity_error_and_writes_none_of_it(url: str) -> None:
    _write(url, PLAIN, [("k00", "first", 0)])
    rows: list[tuple[object, ...]] = [(f"k{i:02d}", "again", i) for i in range(12)]  # k00 is taken
    with pytest.raises(Exception) as caught:
        _write(url, PLAIN, rows)
    assert is_integrity_error(caught.value)
    assert _table(url) == [("k00", "first", 0)]


@pytest.mark.parametrize("count", [2, 3, 5, 17, 255, 256, 257, 341, 1000, 1001])
def test_every_row_of_a_batch_of_any_length_is_written_once_in_order(tmp_path: Path, count: int) -> None:
    # Given a batch whose length is no multiple of the row groups, with a key repeated at its end
    url = f"sqlite:///{tmp_path / 'bulk.db'}"
    rows: list[tuple[object, ...]] = [(f"k{i:05d}", f"note {i}", i) for i in range(count)]
    rows.append(("k00000", "last word", -1))
    # When it is upserted as one batch
    _write(url, UPSERT, rows)
    # Then every key holds its last row, as one statement per row would have left it
    expected = {str(k): (str(k), str(note), int(str(n))) for k, note, n in rows}
    assert _table(url) == sorted(expected.values())


def test_sqlite_prepares_a_handful_of_statements_per_table_whatever_the_batch_lengths(tmp_path: Path) -> None:
    # Given a table written in batches of many different lengths
    from orderledger.infrastructure.storage import sqlite

    sqlite._grouped.cache_clear()
    db = open_database(f"sqlite:///{tmp_path / 'bulk.db'}")
    try:
        with db.write() as tx:
            tx.execute("CREATE TABLE bulk (k TEXT PRIMARY KEY, note TEXT NOT NULL, n INTEGER NOT NULL)")
            start = 0
            for length in range(2, 400, 7):
                tx.executemany(PLAIN, [(f"k{i:06d}", "n", i) for i in range(start, start + length)])
                start += length
        # Then the multi-row statements used are one per group size, not one per length
        made = sqlite._grouped.cache_info().currsize
        assert 0 < made <= len(sqlite._GROUPS) - 1
        with db.read() as tx:
            assert tx.one("SELECT COUNT(*), COUNT(DISTINCT k) FROM bulk") == (start, start)
    finally:
        db.close()
