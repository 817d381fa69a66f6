"""What a SQLite ledger stores once: a position (an event's, a journal record's) is its table's
rowid, not a column beside a hidden rowid with an index of its own, and the venue identities are
their key's index alone (docs/storage.md). A file whose tables were created before keeps them as
they are, and opens, takes new lines and verifies."""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.simulator import simulate_lines
from orderledger.infrastructure.storage import schema as schema_module
from orderledger.infrastructure.storage import store
from tests.support.integration import fact, fill, lines, request

POSITIONS = {
    "events": "notification_id",
    "messages": "message_id",
    "settlements": "position",
    "verified": "anchor",
}


def session(*orders: str) -> list[str]:
    return lines(
        *(
            message
            for coid in orders
            for message in (
                request(coid, venue="V"),
                fact("accepted", coid, venue_order_id=f"V-{coid}"),
                fill(coid, f"T-{coid}", "1"),
            )
        )
    )


def position_indexes(path: Path) -> dict[str, list[str]]:
    """Per table, the indexes whose only column is the table's position."""
    with contextlib.closing(sqlite3.connect(path)) as lite:
        return {
            table: [
                str(index[1])
                for index in lite.execute(f"PRAGMA index_list({table})")
                if [r[2] for r in lite.execute(f"PRAGMA index_info({index[1]})")] == [column]
            ]
            for table, column in POSITIONS.items()
        }


def stored_objects(path: Path, table: str) -> list[str]:
    """The b-trees on disk that hold ``table``'s rows or an index of them."""
    with contextlib.closing(sqlite3.connect(path)) as lite:
        names = [table, *(str(r[1]) for r in lite.execute(f"PRAGMA index_list({table})"))]
        return sorted({str(r[0]) for r in lite.execute("SELECT name FROM dbstat") if r[0] in names})


def test_a_position_is_its_rows_key_stored_once(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with OrderLedger(f"sqlite:///{path}") as ledger:
        ledger.ingest_lines(session("c-1", "c-2"))
        assert ledger.audit.verify().ok
    assert position_indexes(path) == {table: [] for table in POSITIONS}
    with contextlib.closing(sqlite3.connect(path)) as lite:
        for table, column in POSITIONS.items():
            plan = " ".join(
                str(r[-1])
                for r in lite.execute(
                    f"EXPLAIN QUERY PLAN SELECT * FROM {table} WHERE {column} > 1 ORDER BY {column}"
                )
            )
            assert plan == f"SEARCH {table} USING INTEGER PRIMARY KEY (rowid>?)", plan
    assert stored_objects(path, "identities") == ["identities"]
    with contextlib.closing(sqlite3.connect(path)) as lite:
        plan = " ".join(
            str(r[-1])
            for r in lite.execute(
                "EXPLAIN QUERY PLAN SELECT client_order_id FROM identities WHERE venue = ? AND kind = ?"
                " AND value = ?",
                ("V", "venue_order_id", "V-c-1"),
            )
        )
        assert plan == "SEARCH identities USING PRIMARY KEY (venue=? AND kind=? AND value=?)", plan


@pytest.mark.parametrize("position", [None, 0, -1, "x"])
def test_an_event_without_a_positive_position_is_still_refused(tmp_path: Path, position: object) -> None:
    # A NULL key of a rowid table would be given the next rowid: the trigger refuses it first.
    path = tmp_path / "ledger.db"
    with OrderLedger(f"sqlite:///{path}") as ledger:
        ledger.ingest_lines(session("c-1"))
    with contextlib.closing(sqlite3.connect(path)) as lite, pytest.raises(sqlite3.IntegrityError):
        lite.execute(
            "INSERT INTO events SELECT ?, originator_id, originator_version + 10, topic, state, event_type,"
            " client_order_id, account, venue, instrument, ts_event, ts_recorded, source, message_id, hash"
            " FROM events WHERE notification_id = 1",
            (position,),
        )
    with contextlib.closing(sqlite3.connect(path)) as lite:
        assert lite.execute("SELECT COUNT(*) FROM events").fetchone() == (3,)


def test_a_file_whose_positions_have_their_own_index_opens_takes_lines_and_verifies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its tables as files created before this layout have them: the position a BIGINT column.
    def created_before(dialect: str) -> list[str]:
        return [
            statement.replace(f"{column} INTEGER", f"{column} BIGINT").replace(" WITHOUT ROWID", "")
            for statement in schema_module.schema(dialect)
            for column in [next((c for c in POSITIONS.values() if f"{c} INTEGER" in statement), "")]
        ]

    path = tmp_path / "ledger.db"
    url = f"sqlite:///{path}"
    with monkeypatch.context() as patched:
        patched.setattr(store, "schema", created_before)
        with OrderLedger(url) as ledger:
            ledger.ingest_lines(session("c-1", "c-2"))
            assert ledger.audit.verify(anchor=True).ok
    before = position_indexes(path)
    assert all(len(names) == 1 for names in before.values()), before
    assert len(stored_objects(path, "identities")) == 2

    with OrderLedger(url) as ledger:
        ledger.ingest_lines(session("c-3"))
        report = ledger.audit.verify()
        assert report.ok and report.events == 9
        assert [type(e.event).__name__ for e in ledger.history("c-3")] == [
            "OrderRequested",
            "OrderAccepted",
            "OrderFilled",
        ]
    assert position_indexes(path) == before  # kept as it was
    assert len(stored_objects(path, "identities")) == 2


T = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
READS: dict[str, Callable[[OrderLedger], object]] = {
    "history": lambda ledger: ledger.history("b-000001"),
    "events by type": lambda ledger: ledger.events(types=["OrderFilled"], limit=5),
    "events of an account": lambda ledger: ledger.events(account="alpha", limit=5),
    "events of a venue": lambda ledger: ledger.events(venue="venueA", limit=5),
    "events of an instrument": lambda ledger: ledger.events(instrument="BTC-USDT", limit=5),
    "events by recording time": lambda ledger: ledger.events(sort="recorded", limit=5),
    "events by venue time": lambda ledger: ledger.events(since=T, until=T, event_time=True, limit=5),
    "messages by outcome": lambda ledger: ledger.audit.messages(outcome="duplicate", limit=5),
    "messages by time received": lambda ledger: ledger.audit.messages(sort="received", limit=5),
}


def test_every_index_of_the_log_and_the_journal_is_walked_by_a_read(tmp_path: Path) -> None:
    # Each index costs bytes and a write per row: one that no read walks has no place.
    path = tmp_path / "ledger.db"
    statements: list[str] = []
    with OrderLedger(f"sqlite:///{path}") as ledger:
        ledger.ingest_lines(simulate_lines(seed=3, orders=30))
        ledger.db._conn.set_trace_callback(statements.append)  # type: ignore[attr-defined]
        for read in READS.values():
            read(ledger)
    walked = set()
    with contextlib.closing(sqlite3.connect(path)) as lite:
        for statement in statements:
            if statement.startswith("SELECT"):
                for row in lite.execute("EXPLAIN QUERY PLAN " + statement):
                    walked.update(re.findall(r"USING (?:COVERING )?INDEX (\w+)", str(row[-1])))
        indexes = {
            str(r[1]) for table in ("events", "messages") for r in lite.execute(f"PRAGMA index_list({table})")
        }
    assert indexes - walked == set()
