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
import shutil
import sqlite3
from pathlib import Path

import pytest

from orderledger.infrastructure.application.ledger import OrderLedger
from tests.audit.helpers import orderledger, raw_sql

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


def _answers_as_release_2(url: str) -> None:
    for name, args in QUESTIONS.items():
        run = orderledger(*args, db=url)
        assert run.code == 0, run.describe()
        assert run.stdout == (FIXTURE / name).read_text(), f"{' '.join(args)} differs from release 2"
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
                if today and today != columns:
                    # A view table whose columns have changed since release 2: as release 2 made it
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
    finally:
        source.close()
    _answers_as_release_2(postgres_url)


@pytest.mark.parametrize("name", sorted(QUESTIONS))
def test_the_fixture_answers_are_not_empty(name: str) -> None:
    """A golden file that is empty or an error would make the comparison above meaningless."""
    text = (FIXTURE / name).read_text()
    assert text.strip() and not text.startswith("orderledger:")
