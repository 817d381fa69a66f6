"""Issue 18: every stored event is in the chain, ``verify`` sees everything, and storage faults are
refused, on a SQLite file and on PostgreSQL (as the administrator; the application role's own
limits are in test_app_role.py).

A small session is ingested first: order c-1 (venue order V-1) filled 4 @ 100, and a fill for c-2
that arrives before c-2's request and is parked. Two events: c-1 requested (with its venue order
ID), c-1 filled; none for the parked fill. Three journal lines.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.storage.chain import link
from tests.support.audit import (
    COLUMNS,
    KEY,
    damage_an_old_page,
    fill,
    journal_by_hand,
    line,
    orderledger,
    orderledger_process,
    raw_sql,
    reprotect,
    request,
    stored_head,
    unprotect,
)

SESSION = [
    line(request("c-1", seconds=0, venue_order_id="V-1")),
    line(fill("c-1", "t-1", "4", "100", seconds=1)),
    line(fill("c-2", "t-2", "1", "101", seconds=2)),
]
LATER = [line(request("c-3", seconds=4))]
ALL_COLUMNS = f"{COLUMNS}, hash"


@pytest.fixture(params=("sqlite", "postgres"))
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _ingest(url: str, lines: list[str], env: dict[str, str] | None = None) -> None:
    with contextlib.closing(OrderLedger(url, env=env)) as ledger:
        report = ledger.ingest_lines(lines, origin="desk.jsonl")
        assert report.counts["rejected"] == 0


@pytest.fixture
def ledger_db(file_ledger_url: str) -> str:
    _ingest(file_ledger_url, SESSION)
    return file_ledger_url


def refused(db: Any) -> Any:
    return psycopg.Error if db.dialect == "postgresql" else sqlite3.IntegrityError


def copy_of_the_fill(position: str, state: str = "state") -> str:
    """SQL that stores a second copy of c-1's fill (as a new version) at ``position``."""
    return (
        f"INSERT INTO events ({ALL_COLUMNS}) SELECT {position}, originator_id, originator_version + 100,"
        f" topic, {state}, event_type, client_order_id, account, venue, instrument, ts_event, ts_recorded,"
        " source, message_id, hash FROM events WHERE event_type = 'OrderFilled'"
    )


# ---------------------------------------------------------------------- outside the chain


def test_positions_outside_the_chain_are_refused(ledger_db: str) -> None:
    with raw_sql(ledger_db) as db:
        for position in ("0", "-1", "NULL"):
            with pytest.raises(refused(db)):
                db.execute(copy_of_the_fill(position))
        assert db.one("SELECT COUNT(*) FROM events") == (2,)
    assert orderledger("order", "c-1", "--json", db=ledger_db).json()["filled_quantity"] == "4"


def test_sqlite_refuses_insert_or_replace(tmp_path: Path) -> None:
    """REPLACE deletes the row it replaces without firing a DELETE trigger: it is refused first."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    _ingest(url, SESSION)
    _ingest(url, [line(request("c-2", seconds=3))])  # settles the parked fill: a settlement record
    with raw_sql(url) as db:
        statements = {
            "events": f"INSERT OR REPLACE INTO events ({ALL_COLUMNS}) SELECT notification_id, originator_id,"
            " originator_version, topic, state, event_type, client_order_id, 'mallory', venue, instrument,"
            " ts_event, ts_recorded, source, message_id, hash FROM events WHERE notification_id = 2",
            "identities": "REPLACE INTO identities SELECT venue, kind, value, 'c-9' FROM identities",
            "messages": "REPLACE INTO messages SELECT message_id, received_at, origin, line_no, format,"
            " X'7B7D', outcome, reason, client_order_id, event_count, hash FROM messages"
            " WHERE message_id = 1",
            "settlements": "REPLACE INTO settlements SELECT position, message_id, parts, before_reason,"
            " before_client_order_id, before_event_count, 'rejected', reason, client_order_id, event_count,"
            " hash FROM settlements",
        }
        for table, statement in statements.items():
            with pytest.raises(
                sqlite3.IntegrityError, match=f"the {table} table is append-only: REPLACE refused"
            ):
                db.execute(statement)
        assert db.one("SELECT account FROM events WHERE notification_id = 2") == ("acc1",)
    assert orderledger("verify", db=url).code == 0


# ---------------------------------------------------------------------- search columns, payloads


def rehash_last(db: Any) -> None:
    """Recompute the hash of the last event from its row (the head: nothing links to it)."""
    rows = db.all(f"SELECT {ALL_COLUMNS} FROM events ORDER BY notification_id DESC LIMIT 2")
    last, before = rows[0], rows[1]
    digest = link(bytes(before[-1]), list(last[:-1]))
    db.execute("UPDATE events SET hash = ? WHERE notification_id = ?", (digest, last[0]))


def test_a_search_column_that_disagrees_with_the_payload_is_broken(ledger_db: str) -> None:
    """An altered search column whose row was re-hashed passes the chain; not the payload check."""
    with raw_sql(ledger_db) as db:
        unprotect(db)
        db.execute("UPDATE events SET account = 'mallory' WHERE notification_id = 2")
        rehash_last(db)
        reprotect(db)
    run = orderledger("verify", db=ledger_db)
    assert (run.code, run.stdout) == (1, ""), run.describe()
    assert run.stderr == (
        "BROKEN: event 2 (OrderFilled of 'c-1'): its account column says 'mallory'"
        " but its payload says 'acc1'\n"
    )


def test_a_payload_stored_as_text_is_one_line(tmp_path: Path) -> None:
    """SQLite stores any type in any column; a writer around the ledger can put text in ``state``."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    _ingest(url, SESSION)
    as_first_release(url)  # today the CHECK refuses it, and quick_check reports a row that breaks it
    with raw_sql(url) as db:
        db.execute(
            f"INSERT INTO events ({ALL_COLUMNS}) SELECT 3, originator_id, 3, topic, CAST(state AS TEXT),"
            " event_type, client_order_id, account, venue, instrument, ts_event, ts_recorded, source,"
            " message_id, hash FROM events WHERE notification_id = 2"
        )
    run = orderledger_process("verify", db=url, cwd=tmp_path)
    assert (run.code, run.stdout) == (1, ""), run.describe()
    assert run.stderr == (
        "BROKEN: event 3 (OrderFilled of 'c-1') has its payload stored as str, not bytes:"
        " it was written around the ledger\n"
    )
    order = orderledger_process("order", "c-1", db=url, cwd=tmp_path)
    assert "an event's payload is stored as str, not bytes" in order.one_line_failure(2)


# ---------------------------------------------------------------------- an older database


def as_first_release(url: str) -> None:
    """Make the database look as the first release (schema 1) wrote it: no CHECK on positions or
    payloads, append-only triggers on the events only."""
    with raw_sql(url) as db:
        if db.dialect == "postgresql":
            db.execute("ALTER TABLE events DROP CONSTRAINT events_chained")
            for table in ("identities", "messages"):
                db.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            for table, trigger in db.all(
                "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                " WHERE c.relname IN ('identities', 'messages') AND NOT t.tgisinternal"
                " AND c.relnamespace = current_schema()::regnamespace"
            ):
                db.execute(f"DROP TRIGGER {trigger} ON {table}")
            db.execute("DROP FUNCTION orderledger_settle_only()")
            # The events' key as it was before schema 3: led by the order's UUID.
            for (name,) in db.all(
                "SELECT conname FROM pg_constraint WHERE conrelid = to_regclass('events') AND contype = 'u'"
            ):
                db.execute(f'ALTER TABLE events DROP CONSTRAINT "{name}"')
            db.execute("ALTER TABLE events ADD UNIQUE (originator_id, originator_version)")
            db.execute("CREATE INDEX events_by_order ON events (client_order_id, notification_id)")
        else:
            (sql,) = db.one("SELECT sql FROM sqlite_master WHERE name = 'events'")
            old = re.sub(
                r"NOT NULL PRIMARY KEY\s+CONSTRAINT events_chained CHECK \(notification_id > 0\)",
                "PRIMARY KEY",
                sql,
            )
            old = old.replace(" CHECK (typeof(state) = 'blob')", "")
            assert old != sql and "CHECK" not in old
            db.execute("PRAGMA writable_schema = ON")
            db.execute("UPDATE sqlite_master SET sql = ? WHERE name = 'events'", (old,))
            db.execute("PRAGMA writable_schema = OFF")
            for (name,) in db.all("SELECT name FROM sqlite_master WHERE type = 'trigger'"):
                if name not in ("events_no_update", "events_no_delete"):
                    db.execute(f"DROP TRIGGER {name}")
        db.execute("UPDATE ledger_meta SET value = '1' WHERE key = 'schema_version'")


def everything(url: str) -> dict[str, list[tuple[Any, ...]]]:
    tables = ("events", "messages", "identities", "parked", "orders_view", "trades_view", "positions_view")
    with raw_sql(url) as db:
        return {t: sorted(db.all(f"SELECT * FROM {t}"), key=repr) for t in tables}


def test_a_database_of_the_first_release_is_upgraded_and_loses_nothing(ledger_db: str) -> None:
    as_first_release(ledger_db)
    with raw_sql(ledger_db) as db:
        db.execute(copy_of_the_fill("-1"))  # what the first release let through
    before = everything(ledger_db)
    assert len(before["events"]) == 3

    assert orderledger("order", "c-1", "--json", db=ledger_db).json()["filled_quantity"] == "4"  # upgrades
    assert everything(ledger_db) == before
    with raw_sql(ledger_db) as db:
        assert db.one("SELECT value FROM ledger_meta WHERE key = 'schema_version'") == ("6",)
        with pytest.raises(refused(db)):
            db.execute(copy_of_the_fill("-2"))
        with pytest.raises(refused(db), match="the messages table is append-only: DELETE refused"):
            db.execute("DELETE FROM messages")
    run = orderledger("verify", db=ledger_db)
    assert (run.code, run.stdout) == (1, ""), run.describe()
    assert run.stderr == (
        "BROKEN: the events table holds 3 rows but the chain 2: 1 row is outside the chain"
        " (position 0, negative or NULL), inserted around the ledger\n"
    )
    _ingest(ledger_db, LATER)  # writers go on appending to the chain
    assert stored_head(ledger_db)[0] == 3


def test_a_plaintext_row_outside_the_chain_does_not_stop_an_encrypted_ledger(tmp_path: Path) -> None:
    key = KEY
    url = f"sqlite:///{tmp_path / 'secret.db'}"
    _ingest(url, SESSION, env={"CIPHER_KEY": key})
    as_first_release(url)
    with raw_sql(url) as db:
        db.execute(copy_of_the_fill("-1", state="CAST('{}' AS BLOB)"))  # a plaintext payload
    run = orderledger_process("order", "c-1", "--json", db=url, cwd=tmp_path, env={"CIPHER_KEY": key})
    assert run.code == 0, run.describe()


# ---------------------------------------------------------------------- storage


def test_a_damaged_sqlite_file_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    url = f"sqlite:///{path}"
    _ingest(url, [line(request(f"o-{i}", seconds=i)) for i in range(200)])  # a journal of several pages
    damage_an_old_page(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    (tmp_path / "more.jsonl").write_text("\n".join(LATER) + "\n")

    run = orderledger_process("ingest", "more.jsonl", db=url, cwd=tmp_path)
    failure = run.one_line_failure(2)
    assert failure.startswith(
        f"orderledger: database {str(path)!r} is corrupt (restore it from a backup;"
        " nothing was written): PRAGMA quick_check found"
    ), failure
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    for deep in ((), ("--deep",)):
        check = orderledger_process("verify", *deep, db=url, cwd=tmp_path)
        pragma = "integrity_check" if deep else "quick_check"
        assert f"PRAGMA {pragma} found" in check.one_line_failure(2)


def test_a_lost_wal_is_caught_against_the_recorded_heads(tmp_path: Path) -> None:
    """The last commit lives only in the WAL until a checkpoint; losing that file loses it silently,
    except against a head recorded after it (``orderledger head >> heads.txt``)."""
    path = tmp_path / "ledger.db"
    url = f"sqlite:///{path}"
    heads = tmp_path / "heads.txt"
    _ingest(url, SESSION)
    heads.write_text(orderledger_process("head", db=url, cwd=tmp_path).stdout)
    with contextlib.closing(sqlite3.connect(path)) as reader:  # keeps the WAL from being folded in
        reader.execute("SELECT 1 FROM events").fetchall()
        _ingest(url, LATER)
        with heads.open("a") as handle:
            handle.write(orderledger_process("head", db=url, cwd=tmp_path).stdout)
        lost = tmp_path / "lost.db"
        lost.write_bytes(path.read_bytes())  # the file without its -wal
    assert re.fullmatch(
        r"2:[0-9a-f]{64} journal 3:[0-9a-f]{64}\n3:[0-9a-f]{64} journal 4:[0-9a-f]{64}\n", heads.read_text()
    )
    lost_url = f"sqlite:///{lost}"
    assert orderledger_process("verify", db=lost_url, cwd=tmp_path).code == 0  # nothing to see alone
    run = orderledger_process("verify", "--heads-file", str(heads), db=lost_url, cwd=tmp_path)
    assert (run.code, run.stdout) == (1, ""), run.describe()
    head_3, journal_4 = heads.read_text().splitlines()[1].split(" journal ")
    assert run.stderr == (
        f"BROKEN: the log ends at event 2, before the recorded head {head_3}:"
        " events were deleted from the end\n"
        f"JOURNAL: the journal ends at record 3, before the recorded head {journal_4}:"
        " records were deleted from the end\n"
    )
    assert orderledger_process("verify", "--heads-file", str(heads), db=url, cwd=tmp_path).code == 0


def test_head_and_the_heads_file(ledger_db: str, tmp_path: Path) -> None:
    position, digest = stored_head(ledger_db)
    (record, journal), *_ = reversed(journal_by_hand(ledger_db))
    assert orderledger("head", db=ledger_db).stdout == f"{position}:{digest} journal {record}:{journal}\n"
    assert orderledger("head", "--json", db=ledger_db).json() == {
        "position": 2,
        "hash": digest,
        "journal": f"3:{journal}",  # three lines: a request, a fill, a parked fill
        "head": f"2:{digest} journal 3:{journal}",
    }
    heads = tmp_path / "heads.txt"
    _ingest(ledger_db, LATER)
    # A head recorded before the journal was chained has no journal part: it is checked alone.
    heads.write_text(f"# published daily\n2:{digest}\n\n{orderledger('head', db=ledger_db).stdout}")
    data = orderledger("verify", "--json", "--heads-file", str(heads), db=ledger_db).json()
    assert (data["ok"], data["heads_checked"]) == (True, 3)

    forged = "0" * 64
    heads.write_text(f"2:{digest}\n2:{forged}\n")
    clash = orderledger("verify", "--heads-file", str(heads), db=ledger_db).one_line_failure(2)
    assert f"line 2: two different hashes recorded for event 2 ({digest} and {forged})" in clash
    heads.write_text(f"2:{forged}\n")
    run = orderledger("verify", "--heads-file", str(heads), db=ledger_db)
    assert run.code == 1 and run.stderr == (
        f"BROKEN: event 2 has hash {digest}, not the recorded head {forged}:"
        " the log was rewritten up to there\n"
    ), run.describe()
    heads.write_text(f"journal 3:{forged}\n")
    run = orderledger("verify", "--heads-file", str(heads), db=ledger_db)
    assert run.code == 1 and run.stderr == (
        f"JOURNAL: journal record 3 has hash {journal}, not the recorded head {forged}:"
        " the journal was rewritten up to there\n"
    ), run.describe()
    for wrong in ("2\n", f"2:{digest} journal 3\n"):
        heads.write_text(wrong)
        assert "takes ID:HASH as printed by `orderledger head`" in orderledger(
            "verify", "--heads-file", str(heads), db=ledger_db
        ).one_line_failure(2)


# ---------------------------------------------------------------------- journal, identities, parked


def test_identities_and_parked_rows_are_checked_against_the_log(ledger_db: str) -> None:
    with raw_sql(ledger_db) as db:
        assert db.all("SELECT venue, kind, value, client_order_id FROM identities") == [
            ("V1", "venue_order_id", "V-1", "c-1")
        ]
        (parked_line,) = db.one("SELECT message_id FROM messages WHERE outcome = 'parked'")
        with pytest.raises(refused(db), match="the identities table is append-only: UPDATE refused"):
            db.execute("UPDATE identities SET client_order_id = 'c-2'")
        if db.dialect == "postgresql":
            db.execute("ALTER TABLE identities DISABLE TRIGGER USER")
        else:
            db.execute("DROP TRIGGER identities_no_update")
        db.execute("UPDATE identities SET client_order_id = 'c-2'")
        db.execute("DELETE FROM parked")
        reprotect(db)
    run = orderledger("verify", db=ledger_db)
    assert (run.code, run.stdout) == (1, ""), run.describe()
    assert run.stderr.splitlines() == [
        # The line's hash covers the messages it parked: a deleted parked row breaks it.
        f"JOURNAL: message {parked_line} (line 3 of 'desk.jsonl') does not match its hash: its text,"
        " origin, line, time, outcome, reason or parked messages were changed, or records were reordered",
        f"JOURNAL: message {parked_line} is marked parked but nothing waits for its order (no parked row)",
        "JOURNAL: identity venue_order_id 'V-1' at venue 'V1' names order 'c-2',"
        " which the log does not explain",
    ]


def test_a_trigger_the_ledger_did_not_create_is_reported(ledger_db: str) -> None:
    with raw_sql(ledger_db) as db:
        if db.dialect == "postgresql":
            db.execute(
                "CREATE FUNCTION evil() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$"
            )
            db.execute(
                "CREATE TRIGGER evil BEFORE UPDATE ON orders_view FOR EACH ROW EXECUTE FUNCTION evil()"
            )
        else:
            db.execute("CREATE TRIGGER evil BEFORE UPDATE ON orders_view BEGIN SELECT 1; END")
    run = orderledger("verify", db=ledger_db)
    assert (run.code, run.stdout) == (1, ""), run.describe()
    assert run.stderr == (
        "SCHEMA: trigger evil on table orders_view was not created by the ledger: it runs with the rights"
        " of whoever writes next (`orderledger db init` as the owner removes it)\n"
    )


# ---------------------------------------------------------------------- one-line errors


def test_cipher_topic_without_cipher_key_is_one_line(tmp_path: Path) -> None:
    OrderLedger(f"sqlite:///{tmp_path / 'l.db'}").close()  # an existing ledger (queries create none)
    run = orderledger_process(
        "orders",
        db=f"sqlite:///{tmp_path / 'l.db'}",
        cwd=tmp_path,
        env={"CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher"},
    )
    assert run.one_line_failure(2) == (
        "orderledger: CIPHER_TOPIC is set but CIPHER_KEY is not: set the key the ledger's events are"
        " encrypted with (or unset CIPHER_TOPIC)"
    )
