"""A ledger written by the previous release opens with today's code, and nothing is lost.

``tests/fixtures/release_v2/`` holds a SQLite file written by that release (schema version 2:
the demo's 60 orders, then a parked fill, a duplicate, two rejected lines and a market order)
and what that release's own CLI printed for it. Today's code must print the same: every order,
trade, position, P&L line and journal line, the same chain head, and ``verify`` must pass.

The PostgreSQL case loads the same rows into a schema today's ledger created, as a release-2
database on PostgreSQL holds them, and asks the same questions.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from orderledger.infrastructure.application.ledger import OrderLedger
from tests.support.audit import orderledger, raw_sql

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "release_v2"
QUESTIONS = {
    "orders_json.out": ("orders", "--json"),
    "orders_open_json.out": ("orders", "--open", "--json"),
    "trades_json.out": ("trades", "--json"),
    "positions_json.out": ("positions", "--json"),
    "pnl_json.out": ("pnl", "--json"),
    "messages_json.out": ("messages", "--json"),
    "head.out": ("head",),
}


ADDED: dict[str, Any] = {"funding": {}, "mark_time": None, "fee_values": {}, "unvalued_fees": []}
"""Fields a position or P&L row gained since release 2, with what they say of a ledger that has
no cash flows, no marks and fees only in the P&L currency: the old fields must answer exactly as
they did."""
ORDER_ADDED: dict[str, Any] = {
    name: None
    for name in (
        "decision_price",
        "post_only",
        "terms",
    )
}
"""Fields an order gained since release 2, with what an order requested without them shows (its
stored request has no such key)."""


def _without_added(text: str, added: dict[str, Any] = ADDED) -> str:
    rows = json.loads(text)
    for row in rows:
        for name, empty in added.items():
            if name in row:
                assert row.pop(name) == empty, row
    return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"


def _answers_as_release_2(url: str) -> None:
    for name, args in QUESTIONS.items():
        run = orderledger(*args, db=url)
        assert run.code == 0, run.describe()
        answer = _without_added(run.stdout) if args[0] in ("positions", "pnl") else run.stdout
        if args[0] == "orders":
            answer = _without_added(run.stdout, ORDER_ADDED)
        if args == ("head",):
            # Today's head adds the journal's, which release 2 did not chain (chained on upgrade).
            answer, journal = answer.rstrip("\n").split(" journal ")
            answer += "\n"
            assert journal.startswith("260:")  # 260 lines in the journal, no settlement
        assert answer == (FIXTURE / name).read_text(), f"{' '.join(args)} differs from release 2"
    run = orderledger("verify", db=url)
    assert run.code == 0, run.describe()
    # 231 events: what release 2's `export events` wrote, one line each.
    assert run.stdout.startswith("ok: 231 events, hash chain intact, views equal the log;")
    assert len((FIXTURE / "events.jsonl").read_text().splitlines()) == 231


def test_a_release_2_sqlite_file_answers_as_it_did(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    shutil.copyfile(FIXTURE / "ledger.db", path)
    _answers_as_release_2(f"sqlite:///{path}")
    # The file still opens for writing: one more message is appended after the old chain.
    with contextlib.closing(OrderLedger(f"sqlite:///{path}")) as ledger:
        report = ledger.ingest_lines(
            ['{"type":"cancel_requested","client_order_id":"z-2","ts":"2026-11-20T11:00:04Z"}']
        )
    assert report.events == 1
    run = orderledger("verify", db=f"sqlite:///{path}")
    assert run.code == 0 and run.stdout.startswith("ok: 232 events"), run.describe()


def test_a_release_2_postgres_schema_answers_as_it_did(postgres_url: str) -> None:
    # Today's ledger creates the tables; the release-2 rows are then put in them as they are.
    OrderLedger(postgres_url).close()
    source = sqlite3.connect(FIXTURE / "ledger.db")
    try:
        tables = [
            str(r[0])
            for r in source.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        ]
        with raw_sql(postgres_url) as db:
            for table in tables:
                info = list(source.execute(f"PRAGMA table_info({table})"))
                columns = [str(r[1]) for r in info]
                rows = source.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
                today = [
                    str(r[0])
                    for r in db.all(
                        "SELECT column_name FROM information_schema.columns"
                        " WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
                        (table,),
                    )
                ]
                if today and today[: len(columns)] != columns:
                    # A view table whose columns have changed since release 2 (not one that only gained
                    # columns at its end, as the journal its hash): as release 2 made it
                    # (its view_versions row, copied below, has the ledger rebuild it on open).
                    types = {"INTEGER": "BIGINT", "BLOB": "BYTEA"}
                    db.execute(f"DROP TABLE {table}")
                    db.execute(
                        f"CREATE TABLE {table} ("
                        + ", ".join(f"{r[1]} {types.get(str(r[2]).upper(), 'TEXT')}" for r in info)
                        + ")"
                    )
                if table in ("ledger_meta", "view_versions", "view_tracking"):
                    db.execute(f"DELETE FROM {table}")
                marks = ", ".join("?" * len(columns))
                for row in rows:
                    db.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", row)
            # Views release 2 did not have are not in its schema: the ledger adds them on open.
            for (table,) in db.all(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
                " AND table_name LIKE '%\\_view' ESCAPE '\\'"
            ):
                if str(table) not in tables:
                    db.execute(f"DROP TABLE {table}")
    finally:
        source.close()
    _answers_as_release_2(postgres_url)


@pytest.mark.parametrize("name", sorted(QUESTIONS))
def test_the_fixture_answers_are_not_empty(name: str) -> None:
    """A golden file that is empty or an error would make the comparison above meaningless."""
    text = (FIXTURE / name).read_text()
    assert text.strip() and not text.startswith("orderledger:")


# ---------------------------------------------------------------------- schema 3: the events' key


def events_key(url: str) -> list[str]:
    """The columns of the events table's unique key (besides its position)."""
    with raw_sql(url) as db:
        if db.dialect == "postgresql":
            (definition,) = db.one(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conrelid = to_regclass('events') AND contype = 'u'"
            )
            return [c.strip() for c in str(definition).split("(", 1)[1].rstrip(")").split(",")]
        names = [r[1] for r in db.all("PRAGMA index_list(events)") if r[3] == "u"]
        keys = [[str(c[2]) for c in db.all(f"PRAGMA index_info({name})")] for name in names]
        return next(k for k in keys if k != ["notification_id"])


def event_rows(url: str) -> list[tuple[object, ...]]:
    with raw_sql(url) as db:
        return [tuple(r) for r in db.all("SELECT * FROM events ORDER BY notification_id")]


def test_opening_a_release_2_file_rekeys_its_events_and_keeps_every_row_as_it_was(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    shutil.copyfile(FIXTURE / "ledger.db", tmp_path / "ledger.db")
    before = event_rows(url)
    assert events_key(url) == ["originator_id", "originator_version"]

    OrderLedger(url).close()

    assert events_key(url) == ["client_order_id", "originator_id", "originator_version"]
    assert event_rows(url) == before  # every byte of every row: the hash chain is the same
    with raw_sql(url) as db:
        assert db.one("SELECT value FROM ledger_meta WHERE key = 'schema_version'") == ("6",)
        indexes = {str(r[1]) for r in db.all("PRAGMA index_list(events)")}
        assert "events_by_order" not in indexes and "events_by_type" in indexes
        # The append-only triggers came back with the table: REPLACE of an event is refused.
        with pytest.raises(sqlite3.IntegrityError, match="the events table is append-only: REPLACE refused"):
            db.execute("INSERT OR REPLACE INTO events SELECT * FROM events WHERE notification_id = 2")
        with pytest.raises(sqlite3.IntegrityError, match="the events table is append-only: UPDATE refused"):
            db.execute("UPDATE events SET account = 'mallory' WHERE notification_id = 2")


def test_a_file_with_rows_outside_the_chain_keeps_its_old_key_and_every_row(tmp_path: Path) -> None:
    # A first-release file could hold rows outside the chain; today's table refuses them, so the
    # events are not copied into it: the old key stays, and nothing is lost.
    path = tmp_path / "ledger.db"
    shutil.copyfile(FIXTURE / "ledger.db", path)
    url = f"sqlite:///{path}"
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as lite:
        (sql,) = lite.execute("SELECT sql FROM sqlite_master WHERE name = 'events'").fetchone()
        old = sql.replace(" CONSTRAINT events_chained CHECK (notification_id > 0)", "").replace(
            " CHECK (typeof(state) = 'blob')", ""
        )
        assert "CHECK" not in old
        lite.execute("PRAGMA writable_schema = ON")
        lite.execute("UPDATE sqlite_master SET sql = ? WHERE name = 'events'", (old,))
        lite.execute("PRAGMA writable_schema = OFF")
        lite.execute("DROP TRIGGER events_chained_only")
        lite.execute("UPDATE ledger_meta SET value = '1' WHERE key = 'schema_version'")
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as lite:  # the schema re-read
        lite.execute(
            "INSERT INTO events SELECT -1, originator_id, originator_version + 1000, topic, state,"
            " event_type, client_order_id, account, venue, instrument, ts_event, ts_recorded, source,"
            " message_id, hash FROM events WHERE notification_id = 5"
        )
    before = event_rows(url)

    OrderLedger(url).close()

    assert events_key(url) == ["originator_id", "originator_version"]
    assert event_rows(url) == before
    run = orderledger("verify", db=url)
    assert run.code == 1 and "1 row is outside the chain" in run.stderr, run.describe()


def test_upgrading_a_postgres_schema_rekeys_its_events_in_place(postgres_url: str) -> None:
    OrderLedger(postgres_url).close()  # today's tables, empty
    source = sqlite3.connect(FIXTURE / "ledger.db")
    try:
        columns = [str(r[1]) for r in source.execute("PRAGMA table_info(events)")]
        rows = source.execute(f"SELECT {', '.join(columns)} FROM events ORDER BY notification_id").fetchall()
    finally:
        source.close()
    with raw_sql(postgres_url) as db:  # the key and index as release 2 made them
        for (name,) in db.all(
            "SELECT conname FROM pg_constraint WHERE conrelid = to_regclass('events') AND contype = 'u'"
        ):
            db.execute(f'ALTER TABLE events DROP CONSTRAINT "{name}"')
        db.execute("ALTER TABLE events ADD UNIQUE (originator_id, originator_version)")
        db.execute("CREATE INDEX events_by_order ON events (client_order_id, notification_id)")
        db.execute("UPDATE ledger_meta SET value = '2' WHERE key = 'schema_version'")
        marks = ", ".join("?" * len(columns))
        for row in rows:
            db.execute(f"INSERT INTO events ({', '.join(columns)}) VALUES ({marks})", row)
    assert events_key(postgres_url) == ["originator_id", "originator_version"]
    before = event_rows(postgres_url)

    OrderLedger(postgres_url).close()

    assert events_key(postgres_url) == ["client_order_id", "originator_id", "originator_version"]
    assert event_rows(postgres_url) == before
    with raw_sql(postgres_url) as db:
        assert db.one("SELECT to_regclass('events_by_order')") == (None,)
        assert db.one("SELECT value FROM ledger_meta WHERE key = 'schema_version'") == ("6",)
