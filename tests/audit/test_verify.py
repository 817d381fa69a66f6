"""Tamper evidence: ``orderledger verify`` recomputes the hash chain and refolds every view.

After a demo-sized session (the simulator's seed 7, 40 orders) ``verify`` passes and prints the
head, which the test recomputes on its own from the formula in ``infrastructure/chain.py``. Then
the database is changed directly, the way someone with DDL rights could: the append-only
triggers are dropped (SQLite) or disabled (PostgreSQL: ``ALTER TABLE events DISABLE TRIGGER
USER``), and a row is altered, deleted, swapped with its neighbour, the tail is cut off, or a view
row is changed. Each time ``verify`` exits 1 and names the first broken link.

With the triggers in place, UPDATE and DELETE of events fail on both backends, and TRUNCATE fails
on PostgreSQL. What ``verify`` cannot see without a head recorded elsewhere (a consistent rewrite
of the chain, a truncation followed by a rebuild of the views) is shown too.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.simulator import simulate_lines
from tests.support.audit import (
    COLUMNS,
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

ALTERED = "it was altered, or rows were reordered"


@pytest.fixture(params=("sqlite", "postgres"))
def backend(request: pytest.FixtureRequest) -> str:
    """Tampering needs a database another connection can reach (SQLite file, PostgreSQL)."""
    return str(request.param)


def _ingest_demo(url: str) -> None:
    ledger = OrderLedger(url)
    try:
        report = ledger.ingest_lines(simulate_lines(7, 40), origin="demo:seed=7")
        assert report.counts["rejected"] == 0 and report.events > 100
    finally:
        ledger.close()


@pytest.fixture(scope="module")
def sqlite_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    _ingest_demo(f"sqlite:///{path}")
    return path


@pytest.fixture
def demo(backend: str, file_ledger_url: str, sqlite_demo: Path) -> str:
    """A ledger after a demo-sized session, private to this test."""
    if backend == "sqlite":
        target = Path(file_ledger_url.removeprefix("sqlite:///"))
        shutil.copyfile(sqlite_demo, target)
        return file_ledger_url
    _ingest_demo(file_ledger_url)
    return file_ledger_url


# ---------------------------------------------------------------------- the chain, by hand


def chain_by_hand(url: str) -> list[tuple[int, str]]:
    """Every (notification ID, hash) recomputed from the rows, as chain.py documents it:
    sha256(previous hash + the text columns joined by U+001F, NULL as U+0015 + U+001E + state)."""
    with raw_sql(url) as db:
        rows = db.all(f"SELECT {COLUMNS} FROM events ORDER BY notification_id")
    previous, result = b"\x00" * 32, []
    for row in rows:
        text = "\x1f".join("\x15" if v is None else str(v) for i, v in enumerate(row) if i != 4)
        previous = hashlib.sha256(previous + text.encode() + b"\x1e" + bytes(row[4])).digest()
        result.append((int(row[0]), previous.hex()))
    return result


def test_verify_passes_and_prints_the_head_of_an_untouched_log(demo: str) -> None:
    chain = chain_by_hand(demo)
    last, head = chain[-1]
    assert [p for p, _ in chain] == list(range(1, last + 1))
    with raw_sql(demo) as db:
        assert [
            (int(r[0]), bytes(r[1]).hex())
            for r in db.all("SELECT notification_id, hash FROM events ORDER BY notification_id")
        ] == chain

    journal = journal_by_hand(demo)
    assert [p for p, _ in journal] == list(range(1, len(journal) + 1))
    with raw_sql(demo) as db:
        assert [
            (int(r[0]), bytes(r[1]).hex())
            for r in db.all("SELECT message_id, hash FROM messages ORDER BY message_id")
        ] == journal  # the demo parks nothing: no settlements
    records, journal_head = journal[-1]

    run = orderledger("verify", db=demo)
    assert (run.code, run.stderr) == (0, ""), run.describe()
    storage = "quick_check ok" if demo.startswith("sqlite") else f"data_checksums {data_checksums(demo)}"
    assert run.stdout == (
        f"ok: {last} events, hash chain intact, views equal the log; {records} journal records, chain"
        f" intact; head {last}:{head} journal {records}:{journal_head}; storage: {storage}; 0 anchored"
        " heads: writes lost from the end of the log (a store replaced, rolled back or stripped of its"
        " write-ahead log) leave a sound, shorter chain, which only heads recorded outside the database"
        " can tell (`orderledger head >> heads.log`, `verify --heads-file`)\n"
    )
    # The verify above anchored its heads: one anchor, which the full verify finds in the chains
    assert orderledger("verify", "--full", "--json", db=demo).json() == {
        "ok": True,
        "events": last,
        "head": f"{last}:{head} journal {records}:{journal_head}",
        "broken": None,
        "view_problems": [],
        "journal_problems": [],
        "schema_problems": [],
        "storage": dict([storage.split(" ")]),
        "heads_checked": 0,
        "journal_records": records,
        "views_behind": 0,
        "views_unsettled": 0,
        "full": True,
        "since": 0,
        "anchored": 1,
    }
    again = orderledger("verify", "--full", "--expect-head", f"{last}:{head}", db=demo)
    unanchored = run.stdout.split("; 0 anchored heads:")[0]
    assert again.code == 0 and again.stdout == f"{unanchored}; 1 anchored head in the chain\n", (
        again.describe()
    )
    wrong = orderledger("verify", "--expect-head", "147", db=demo)
    assert "--expect-head takes ID:HASH as printed by `orderledger head`" in wrong.one_line_failure(2)


def data_checksums(url: str) -> str:
    """The server's own answer (on or off), read apart from the ledger."""
    with raw_sql(url) as db:
        return str(db.one("SHOW data_checksums")[0])


# ---------------------------------------------------------------------- tampering


def _row(db: Any, position: int) -> tuple[Any, ...]:
    row: tuple[Any, ...] = db.one(
        f"SELECT {COLUMNS}, hash FROM events WHERE notification_id = ?", (position,)
    )
    return row


def alter_quantity(db: Any, last: int) -> str:
    position, state, coid = db.one(
        "SELECT notification_id, state, client_order_id FROM events WHERE event_type = 'OrderFilled'"
        " ORDER BY notification_id LIMIT 1"
    )
    quantity = bytes(state).split(b'"last_qty":"', 1)[1].split(b'"', 1)[0]
    forged = bytes(state).replace(b'"last_qty":"' + quantity + b'"', b'"last_qty":"' + quantity + b'0"')
    assert forged != bytes(state)
    db.execute("UPDATE events SET state = ? WHERE notification_id = ?", (forged, position))
    return f"event {position} (OrderFilled of '{coid}') does not match its hash: {ALTERED}"


def alter_account(db: Any, last: int) -> str:
    row = _row(db, 10)
    db.execute("UPDATE events SET account = 'mallory' WHERE notification_id = 10")
    return f"event 10 ({row[5]} of '{row[6]}') does not match its hash: {ALTERED}"


def delete_middle(db: Any, last: int) -> str:
    db.execute("DELETE FROM events WHERE notification_id = 50")
    return "event 50 is missing (the log jumps from 49 to 51)"


def reorder(db: Any, last: int) -> str:
    a, b = _row(db, 60), _row(db, 61)
    db.execute("DELETE FROM events WHERE notification_id IN (60, 61)")
    insert = f"INSERT INTO events ({COLUMNS}, hash) VALUES ({', '.join('?' * 15)})"
    db.execute(insert, (60, *b[1:]))
    db.execute(insert, (61, *a[1:]))
    return f"event 60 ({b[5]} of '{b[6]}') does not match its hash: {ALTERED}"


def truncate_tail(db: Any, last: int) -> str:
    db.execute("DELETE FROM events WHERE notification_id > ?", (last - 3,))
    views = ("cash_flows", "marks", "orders", "positions", "trades")
    for view in views:  # every view had folded the whole log
        assert db.one("SELECT position FROM view_tracking WHERE view = ?", (view,)) == (last,)
    return (  # the first view by name is named
        f"view cash_flows has folded events up to {last} but the log ends at {last - 3}:"
        " events were deleted from the end of the log"
    )


TAMPERING: dict[str, Callable[[Any, int], str]] = {
    "alter a quantity in the payload": alter_quantity,
    "alter the account column": alter_account,
    "delete a row in the middle": delete_middle,
    "swap two rows": reorder,
    "delete the last rows": truncate_tail,
}


@pytest.mark.parametrize("tamper", list(TAMPERING))
def test_verify_names_the_first_broken_link(demo: str, tamper: str) -> None:
    last, head = stored_head(demo)
    with raw_sql(demo) as db:
        unprotect(db)
        expected = TAMPERING[tamper](db, last)
        reprotect(db)

    run = orderledger("verify", db=demo)
    assert (run.code, run.stdout) == (1, ""), run.describe()
    assert run.stderr == f"BROKEN: {expected}\n"
    report = orderledger("verify", "--json", db=demo)
    assert report.code == 1, report.describe()
    assert report.stdout.startswith("{")
    data = json.loads(report.stdout)
    assert (data["ok"], data["broken"], data["view_problems"], data["journal_problems"]) == (
        False,
        expected,
        [],
        [],
    )

    # Against the head recorded before the tampering, every kind is caught as well.
    pinned = orderledger("verify", "--expect-head", f"{last}:{head}", db=demo)
    assert pinned.code == 1 and pinned.stderr.startswith("BROKEN: "), pinned.describe()


def test_a_cut_tail_is_reported_against_the_recorded_head(demo: str) -> None:
    last, head = stored_head(demo)
    with raw_sql(demo) as db:
        unprotect(db)
        truncate_tail(db, last)
        reprotect(db)
    new_last, _new_head = stored_head(demo)
    assert new_last == last - 3
    run = orderledger("verify", "--expect-head", f"{last}:{head}", db=demo)
    assert run.code == 1 and run.stdout == "", run.describe()
    assert run.stderr == (
        f"BROKEN: the log ends at event {new_last}, before the recorded head {last}:{head}:"
        " events were deleted from the end\n"
    )


def test_a_changed_view_row_is_a_view_problem(demo: str) -> None:
    with raw_sql(demo) as db:
        account, venue, instrument, quantity = db.all(
            "SELECT account, venue, instrument, quantity FROM positions_view"
            " ORDER BY account, venue, instrument"
        )[0]
        db.execute(
            "UPDATE positions_view SET quantity = ? WHERE account = ? AND venue = ? AND instrument = ?",
            (quantity + "1", account, venue, instrument),
        )
    run = orderledger("verify", db=demo)
    problem = f"view positions_view: row {(account, venue, instrument)} differs from a fresh fold of the log"
    assert (run.code, run.stdout, run.stderr) == (1, "", f"VIEW: {problem}\n"), run.describe()
    data = orderledger("verify", "--json", db=demo)
    assert data.code == 1
    assert json.loads(data.stdout)["view_problems"] == [problem]
    assert json.loads(data.stdout)["broken"] is None


def test_the_real_command_exits_1_when_the_chain_is_broken(sqlite_demo: Path, tmp_path: Path) -> None:
    demo = f"sqlite:///{tmp_path / 'demo.db'}"
    shutil.copyfile(sqlite_demo, tmp_path / "demo.db")
    with raw_sql(demo) as db:
        unprotect(db)
        expected = alter_account(db, 0)
        reprotect(db)
    run = orderledger_process("verify", db=demo, cwd=tmp_path)
    assert (run.code, run.stdout, run.stderr) == (1, "", f"BROKEN: {expected}\n"), run.describe()


# ---------------------------------------------------------------------- what verify cannot see alone


def rechain(url: str, db: Any) -> None:
    """Rewrite every stored hash so that the chain is consistent again (no key is needed)."""
    for position, digest in chain_by_hand(url):
        db.execute("UPDATE events SET hash = ? WHERE notification_id = ?", (bytes.fromhex(digest), position))


def test_a_consistent_rewrite_is_caught_only_against_a_recorded_head(demo: str) -> None:
    last, head = stored_head(demo)
    with raw_sql(demo) as db:
        unprotect(db)
        alter_quantity(db, last)
        rechain(demo, db)
        reprotect(db)
    assert orderledger("rebuild", "--all", db=demo).code == 0  # the views now agree with the forgery
    run = orderledger("verify", db=demo)
    assert run.code == 0 and run.stdout.startswith(f"ok: {last} events"), run.describe()
    assert f"head {last}:{head}" not in run.stdout
    pinned = orderledger("verify", "--expect-head", f"{last}:{head}", db=demo)
    assert (
        pinned.code == 1
        and f"event {last} has hash" in pinned.stderr
        and f"not the recorded head {head}" in pinned.stderr
    ), pinned.describe()


def test_a_cut_tail_hidden_by_a_rebuild_is_caught_by_the_journal(demo: str) -> None:
    """The journal still counts the cut events: verify names the messages that lost theirs."""
    last, _head = stored_head(demo)
    with raw_sql(demo) as db:
        unprotect(db)
        cut = db.all(
            "SELECT message_id, COUNT(*) FROM events WHERE notification_id > ? GROUP BY message_id"
            " ORDER BY message_id",
            (last - 3,),
        )
        counts = {r[0]: r[1] for r in db.all("SELECT message_id, event_count FROM messages")}
        truncate_tail(db, last)
        reprotect(db)
    assert orderledger("rebuild", "--all", db=demo).code == 0
    run = orderledger("verify", "--json", db=demo)
    assert run.code == 1, run.describe()
    data = json.loads(run.stdout)
    assert data["broken"] is None and data["view_problems"] == []
    # Each message that produced a cut event counts more events than the log now holds for it.
    assert data["journal_problems"] == [
        f"message {m} says it produced {counts[m]} events but {counts[m] - n} events in the log name it"
        for m, n in cut
    ]


def test_a_cut_tail_hidden_by_a_rebuild_and_in_the_journal_is_caught_only_against_a_recorded_head(
    demo: str,
) -> None:
    last, head = stored_head(demo)
    with raw_sql(demo) as db:
        unprotect(db)
        unprotect_journal(db)
        lines = db.all("SELECT DISTINCT message_id FROM events WHERE notification_id > ?", (last - 3,))
        truncate_tail(db, last)
        for (message_id,) in lines:  # the lines that produced the cut events go too
            db.execute("DELETE FROM messages WHERE message_id = ?", (message_id,))
        reprotect(db)
    assert orderledger("rebuild", "--all", db=demo).code == 0
    assert orderledger("verify", db=demo).code == 0
    pinned = orderledger("verify", "--expect-head", f"{last}:{head}", db=demo)
    assert pinned.code == 1 and f"BROKEN: the log ends at event {last - 3}, before" in pinned.stderr, (
        pinned.describe()
    )


def unprotect_journal(db: Any) -> None:
    """What an attacker with DDL rights does to the journal: switch its triggers off."""
    if db.dialect == "postgresql":
        db.execute("ALTER TABLE messages DISABLE TRIGGER USER")
    else:
        for trigger in ("messages_no_delete", "messages_settle_only", "messages_no_replace"):
            db.execute(f"DROP TRIGGER {trigger}")


def test_the_journal_refuses_changes_and_verify_checks_it_against_the_log(demo: str) -> None:
    """The journal's triggers refuse DELETE and any UPDATE but the settling of a parked line; with
    them switched off, a relabelled line breaks the journal's chain, and verify checks each line's
    outcome and event count against the events too."""
    with raw_sql(demo) as db:
        for statement in (
            "UPDATE messages SET origin = 'elsewhere' WHERE message_id = 1",
            "UPDATE messages SET outcome = 'rejected' WHERE message_id = 1",
            "DELETE FROM messages WHERE message_id = 1",
        ):
            with pytest.raises(Exception, match="the messages table is append-only"):
                db.execute(statement)
        unprotect_journal(db)
        db.execute("UPDATE messages SET outcome = 'rejected' WHERE message_id = 1")
        reprotect(db)
    run = orderledger("verify", db=demo)
    assert (run.code, run.stdout) == (1, ""), run.describe()
    assert run.stderr == (
        "JOURNAL: message 1 (line 1 of 'demo:seed=7') does not match its hash: its text, origin, line,"
        " time, outcome, reason or parked messages were changed, or records were reordered\n"
        "JOURNAL: message 1 is marked rejected but events in the log name it\n"
    )


def test_an_earlier_head_still_verifies_after_more_events(demo: str) -> None:
    last, head = stored_head(demo)
    ledger = OrderLedger(demo)
    try:
        report = ledger.ingest_lines([line(request("extra-1", seconds=0))], origin="more.jsonl")
        assert report.events == 1
    finally:
        ledger.close()
    assert stored_head(demo)[0] > last
    run = orderledger("verify", "--expect-head", f"{last}:{head}", db=demo)
    assert run.code == 0, run.describe()


# ---------------------------------------------------------------------- the append-only promise


def test_the_database_refuses_update_delete_and_truncate_of_events(demo: str) -> None:
    with raw_sql(demo) as db:
        refused = (
            psycopg.errors.InsufficientPrivilege if db.dialect == "postgresql" else sqlite3.IntegrityError
        )
        statements = {
            "UPDATE": "UPDATE events SET account = 'mallory' WHERE notification_id = 10",
            "DELETE": "DELETE FROM events WHERE notification_id = 50",
        }
        if db.dialect == "postgresql":
            statements["TRUNCATE"] = "TRUNCATE events"
        else:
            statements["DELETE"] = "DELETE FROM events"  # SQLite's truncate is an unqualified DELETE
        for operation, statement in statements.items():
            with pytest.raises(refused) as caught:
                db.execute(statement)
            assert f"the events table is append-only: {operation} refused" in str(caught.value)
    assert orderledger("verify", db=demo).code == 0


def test_the_ledger_refuses_an_update_through_its_own_connection(demo: str) -> None:
    ledger = OrderLedger(demo)
    try:
        with pytest.raises(Exception, match="append-only: UPDATE refused"), ledger.db.write() as tx:
            tx.execute("UPDATE events SET account = 'mallory' WHERE notification_id = 1")
    finally:
        ledger.close()
