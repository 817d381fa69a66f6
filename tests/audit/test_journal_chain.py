"""The journal under a hash chain: every change to it is found, even with its triggers off.

The journal (``messages``) and the settlements of parked lines share one numbering and one chain
(``tests.support.audit.journal_by_hand`` recomputes it as docs/audit.md states it). An attacker
with the file (SQLite) or DDL rights (PostgreSQL) switches the append-only triggers off, changes
the journal, and switches them back on, as the ledger made them, so that nothing looks missing:
``verify`` must still name the change. A cut at the end of the journal is caught against a head
recorded earlier (``orderledger head``), and missing or disabled triggers are a failure on their own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.storage.schema import ledger_triggers
from tests.support.audit import fill, journal_by_hand, line, orderledger, raw_sql, reprotect, request

# Journal positions, worked out by hand from the batches below (a batch's new lines are numbered
# first, then the settlements it makes):
#  1 request c-1 | 2 fill c-1 | 3 fill c-2, parked (c-2 unknown) | 4 "not json", rejected
#  5 request c-2 | 6 settlement of line 3 (c-2 is now known: its fill applies)
#  7 fill c-9, parked (never released) | 8 "{bad", rejected | 9 "[]", rejected
FIRST = [
    line(request("c-1", seconds=0, venue_order_id="V-1")),
    line(fill("c-1", "t-1", "4", "100", seconds=1)),
    line(fill("c-2", "t-2", "1", "101", seconds=2)),
    "not json",
]
SECOND = [line(request("c-2", seconds=3))]
THIRD = [line(fill("c-9", "t-9", "1", "99", seconds=5)), "{bad", "[]"]
CHANGED = (
    "its text, origin, line, time, outcome, reason or parked messages were changed, or records were reordered"
)


def _ingest(url: str, lines: list[str]) -> None:
    with contextlib.closing(OrderLedger(url)) as ledger:
        ledger.ingest_lines(lines, origin="desk.jsonl")


@pytest.fixture
def journal(file_ledger_url: str) -> str:
    for batch in (FIRST, SECOND, THIRD):
        _ingest(file_ledger_url, batch)
    with raw_sql(file_ledger_url) as db:
        assert db.all("SELECT message_id, line_no, outcome FROM messages ORDER BY message_id") == [
            (1, 1, "applied"),
            (2, 2, "applied"),
            (3, 3, "applied"),
            (4, 4, "rejected"),
            (5, 1, "applied"),
            (7, 1, "parked"),
            (8, 2, "rejected"),
            (9, 3, "rejected"),
        ]
        assert db.all("SELECT position, message_id, outcome FROM settlements") == [(6, 3, "applied")]
        stored = sorted(
            [(int(r[0]), bytes(r[1]).hex()) for r in db.all("SELECT message_id, hash FROM messages")]
            + [(int(r[0]), bytes(r[1]).hex()) for r in db.all("SELECT position, hash FROM settlements")]
        )
    assert stored == journal_by_hand(file_ledger_url)  # the chain is the documented one
    run = orderledger("verify", db=file_ledger_url)
    assert run.code == 0 and "; 9 journal records, chain intact;" in run.stdout, run.describe()
    return file_ledger_url


def unprotect(db: Any) -> None:
    """Switch every append-only trigger off (SQLite: drop them; PostgreSQL: disable them)."""
    if db.dialect == "postgresql":
        for table in ("events", "messages", "identities", "settlements", "verified"):
            db.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
    else:
        for name in sorted(ledger_triggers("sqlite")):
            db.execute(f"DROP TRIGGER {name}")


def _set(column: str, value: str, message_id: int) -> Callable[[Any], None]:
    return lambda db: db.execute(f"UPDATE messages SET {column} = {value} WHERE message_id = {message_id}")


# Each change and a line verify must print for it (other JOURNAL lines may follow from it).
CHANGES: dict[str, tuple[Callable[[Any], None], str]] = {
    "raw bytes": (
        lambda db: db.execute("UPDATE messages SET raw = raw || ? WHERE message_id = 4", (b" ",)),
        f"message 4 (line 4 of 'desk.jsonl') does not match its hash: {CHANGED}",
    ),
    "origin": (
        _set("origin", "'elsewhere'", 1),
        f"message 1 (line 1 of 'elsewhere') does not match its hash: {CHANGED}",
    ),
    "line number": (
        _set("line_no", "12", 2),
        f"message 2 (line 12 of 'desk.jsonl') does not match its hash: {CHANGED}",
    ),
    "time received": (
        _set("received_at", "'2026-11-20T09:00:00.000000Z'", 8),
        f"message 8 (line 2 of 'desk.jsonl') does not match its hash: {CHANGED}",
    ),
    "outcome": (
        _set("outcome", "'ignored'", 9),
        f"message 9 (line 3 of 'desk.jsonl') does not match its hash: {CHANGED}",
    ),
    "reason": (
        _set("reason", "'fine'", 4),
        f"message 4 (line 4 of 'desk.jsonl') does not match its hash: {CHANGED}",
    ),
    "a line deleted": (
        lambda db: db.execute("DELETE FROM messages WHERE message_id = 4"),
        "journal record 4 is missing (the journal jumps from 3 to 5)",
    ),
    "a line inserted outside the numbering": (
        lambda db: db.execute(
            "INSERT INTO messages SELECT 0, received_at, origin, line_no, format, raw, outcome, reason,"
            " client_order_id, event_count, hash FROM messages WHERE message_id = 4"
        ),
        "journal record 0 is out of place (the next is 1): it was inserted around the ledger",
    ),
    "a line appended with a made-up hash": (
        lambda db: db.execute(
            "INSERT INTO messages SELECT 10, received_at, origin, 4, format, raw, outcome, reason,"
            " client_order_id, event_count, hash FROM messages WHERE message_id = 9"
        ),
        f"message 10 (line 4 of 'desk.jsonl') does not match its hash: {CHANGED}",
    ),
    "a settled line relabelled": (
        lambda db: db.execute(
            "UPDATE messages SET outcome = 'rejected', reason = 'no such order' WHERE message_id = 3"
        ),
        "message 3 is marked rejected ('no such order') but its last settlement 6 says applied"
        " ('was parked until its order was known'): the line was relabelled outside the ledger",
    ),
    "a settlement deleted": (
        lambda db: db.execute("DELETE FROM settlements"),
        f"message 3 (line 3 of 'desk.jsonl') does not match its hash: {CHANGED}",
    ),
    "a settlement altered": (
        lambda db: db.execute("UPDATE settlements SET reason = 'was parked; fine'"),
        f"settlement 6 of message 3 does not match its hash: {CHANGED}",
    ),
    "a parked message altered": (
        lambda db: db.execute("UPDATE parked SET message = message || ?", (b" ",)),
        f"message 7 (line 1 of 'desk.jsonl') does not match its hash: {CHANGED}",
    ),
    "a parked row deleted": (
        lambda db: db.execute("DELETE FROM parked"),
        f"message 7 (line 1 of 'desk.jsonl') does not match its hash: {CHANGED}",
    ),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_each_change_to_the_journal_is_found_with_the_triggers_off(journal: str, change: str) -> None:
    tamper, expected = CHANGES[change]
    with raw_sql(journal) as db:
        unprotect(db)
        tamper(db)
        reprotect(db)  # nothing looks missing
    run = orderledger("verify", db=journal)
    assert (run.code, run.stdout) == (1, ""), run.describe()
    assert f"JOURNAL: {expected}" in run.stderr.splitlines(), run.describe()
    assert "SCHEMA" not in run.stderr and "BROKEN" not in run.stderr


def test_a_cut_at_the_end_of_the_journal_is_found_against_a_recorded_head(
    journal: str, tmp_path: Path
) -> None:
    """Lines that produced no event, cut from the end: nothing else in the ledger names them, so
    only a head recorded earlier shows the cut (as for the events' tail)."""
    heads = tmp_path / "heads.txt"
    heads.write_text(orderledger("head", db=journal).stdout)
    (position, digest), *_ = reversed(journal_by_hand(journal))
    assert heads.read_text().endswith(f" journal 9:{digest}\n") and position == 9
    with raw_sql(journal) as db:
        unprotect(db)
        db.execute("DELETE FROM messages WHERE message_id > 7")
        reprotect(db)
    # Alone, the anchor the fixture's verify stored is such a head: the cut is found against it
    alone = orderledger("verify", db=journal)
    assert (alone.code, alone.stdout) == (1, ""), alone.describe()
    run = orderledger("verify", "--heads-file", str(heads), db=journal)
    assert (run.code, run.stdout) == (1, ""), run.describe()
    assert run.stderr == (
        f"JOURNAL: the journal ends at record 7, before the recorded head 9:{digest}:"
        " records were deleted from the end\n"
    )
    pinned = orderledger("verify", "--expect-head", heads.read_text().strip(), db=journal)
    assert pinned.code == 1 and pinned.stderr == run.stderr == alone.stderr, pinned.describe()


def test_missing_or_disabled_triggers_are_a_failure(journal: str) -> None:
    with raw_sql(journal) as db:
        unprotect(db)
    run = orderledger("verify", db=journal)
    assert (run.code, run.stdout) == (1, ""), run.describe()
    state = "disabled" if journal.startswith("postgresql") else "missing"
    dialect = "postgresql" if journal.startswith("postgresql") else "sqlite"
    assert run.stderr.splitlines() == [
        f"SCHEMA: the append-only trigger {name} is {state}" for name in sorted(ledger_triggers(dialect))
    ]
    with raw_sql(journal) as db:
        reprotect(db)
    assert orderledger("verify", db=journal).code == 0


def test_a_trigger_replaced_by_one_of_the_same_name_is_a_failure(journal: str) -> None:
    with raw_sql(journal) as db:
        if db.dialect == "postgresql":
            db.execute(
                "CREATE FUNCTION pass_through() RETURNS trigger LANGUAGE plpgsql"
                " AS $$ BEGIN RETURN NEW; END $$"
            )
            db.execute(
                "CREATE OR REPLACE TRIGGER messages_settle_only BEFORE UPDATE ON messages"
                " FOR EACH ROW EXECUTE FUNCTION pass_through()"
            )
        else:
            db.execute("DROP TRIGGER messages_settle_only")
            db.execute(
                "CREATE TRIGGER messages_settle_only BEFORE UPDATE ON messages WHEN 0 BEGIN SELECT 1; END"
            )
    run = orderledger("verify", db=journal)
    assert (
        run.code == 1
        and "SCHEMA: the append-only trigger messages_settle_only is not the ledger's own\n" in (run.stderr)
    ), run.describe()
