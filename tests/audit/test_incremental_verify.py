"""Incremental verify: after a full verify anchored the heads, the next checks what is new since.

A ledger holds a first session (seed 11, 10 orders), verified in full and anchored, then a second
(seed 12, 5 orders, its own order IDs): the new region. Someone with DDL rights then changes,
deletes, inserts or reorders one event or one journal row anywhere (triggers dropped, then put
back as the ledger made them). Whatever the tamper, a full verify finds it; and wherever a full
verify finds one in the new region (or in the last ``overlap`` records before the anchor, which
an incremental verify walks again), the incremental verify finds it too.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderledger.domain.order_requests import order_id_for
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.simulator import simulate_lines
from orderledger.infrastructure.audit.anchors import Anchor, check_anchors
from orderledger.infrastructure.audit.search import EVENT_COLUMNS
from orderledger.infrastructure.audit.verify import VerifyReport, verify
from orderledger.infrastructure.storage.chain import link
from orderledger.infrastructure.storage.schema import append_only, ledger_triggers
from tests.support.audit import orderledger

OVERLAP = 3  # records walked again before the anchor (the ledger's default is 1,000)


@pytest.fixture(scope="module")
def anchored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """The two sessions, the first anchored by a full verify; and where each chain's anchor is."""
    path = tmp_path_factory.mktemp("incremental") / "ledger.db"
    with contextlib.closing(OrderLedger(f"sqlite:///{path}")) as ledger:
        ledger.ingest_lines(simulate_lines(seed=11, orders=10, tag="one"), origin="one")
        first = ledger.audit.verify(anchor=True)
        assert first.ok and first.full and first.anchored == 1
        ledger.ingest_lines(simulate_lines(seed=12, orders=5, tag="two"), origin="two")
        anchor = check_anchors(ledger.db).last
        assert anchor is not None and anchor.events is not None and anchor.journal is not None
        # Given: the anchor is the first session's heads, and the second appended to both chains
        assert (anchor.events[0], anchor.journal[0]) == (first.head[0], first.journal_head[0])  # type: ignore[index]
        assert ledger.audit.head().position > anchor.events[0]  # type: ignore[union-attr]
    with contextlib.closing(sqlite3.connect(path)) as db:
        last_event = db.execute("SELECT MAX(notification_id) FROM events").fetchone()[0]
        last_message = db.execute("SELECT MAX(message_id) FROM messages").fetchone()[0]
    return path, {
        "events": anchor.events[0],
        "messages": anchor.journal[0],
        "last events": last_event,
        "last messages": last_message,
    }


@contextlib.contextmanager
def copy_of(path: Path) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as directory:
        target = Path(directory) / "ledger.db"
        shutil.copyfile(path, target)
        yield target


def tamper(path: Path, table: str, kind: str, at: int) -> None:
    """One change to row ``at`` of ``table`` (events or messages), as someone with DDL rights
    makes it: the triggers dropped, the row changed, the triggers put back as the ledger made them."""
    key = "notification_id" if table == "events" else "message_id"
    with contextlib.closing(sqlite3.connect(path)) as db:
        for name in sorted(ledger_triggers("sqlite")):
            db.execute(f"DROP TRIGGER {name}")
        if kind == "change":
            column = "account" if table == "events" else "origin"
            db.execute(f"UPDATE {table} SET {column} = {column} || 'x' WHERE {key} = ?", (at,))
        elif kind == "delete":
            db.execute(f"DELETE FROM {table} WHERE {key} = ?", (at,))
        elif kind == "insert" and table == "events":
            # A copy of the row appended after the end, hash and all (another version: the
            # events' unique key allows it).
            db.execute(
                "INSERT INTO events SELECT (SELECT MAX(notification_id) + 1 FROM events), originator_id,"
                " originator_version + 1000, topic, state, event_type, client_order_id, account, venue,"
                " instrument, ts_event, ts_recorded, source, message_id, hash FROM events"
                " WHERE notification_id = ?",
                (at,),
            )
        elif kind == "insert":
            # A copy of the line outside the numbering (no message ID).
            db.execute(
                "INSERT INTO messages SELECT NULL, received_at, origin, line_no, format, raw, outcome,"
                " reason, client_order_id, event_count, hash FROM messages WHERE message_id = ?",
                (at,),
            )
        else:  # reorder: the row and the next swap places
            db.execute(f"UPDATE {table} SET {key} = 999999 WHERE {key} = ?", (at,))
            db.execute(f"UPDATE {table} SET {key} = ? WHERE {key} = ?", (at, at + 1))
            db.execute(f"UPDATE {table} SET {key} = ? WHERE {key} = 999999", (at + 1,))
        for statement in append_only("sqlite"):
            db.execute(statement)
        db.commit()


def found(report: VerifyReport) -> bool:
    return not report.ok


def check(path: Path, anchor: Anchor | None) -> VerifyReport:
    with contextlib.closing(OrderLedger(f"sqlite:///{path}")) as ledger:
        return verify(ledger.db, ledger.mapper, since=anchor, overlap=OVERLAP)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    table=st.sampled_from(["events", "messages"]),
    kind=st.sampled_from(["change", "delete", "insert", "reorder"]),
    where=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_incremental_verify_finds_every_tamper_a_full_one_finds_in_the_new_region(
    anchored: tuple[Path, dict[str, int]], table: str, kind: str, where: float
) -> None:
    path, at = anchored
    # Any row but the last (a reorder swaps it with the next; a line cut from the very end of
    # the journal leaves a shorter, sound chain that only a recorded head shows)
    row = 1 + int(where * (at[f"last {table}"] - 1))
    with copy_of(path) as copy:
        with contextlib.closing(OrderLedger(f"sqlite:///{copy}")) as ledger:
            anchor = check_anchors(ledger.db).last
        # Given: before the tamper, both verifies pass
        assert check(copy, None).ok and check(copy, anchor).ok
        # When the row is tampered with
        tamper(copy, table, kind, row)
        full, incremental = check(copy, None), check(copy, anchor)
    # Then the full verify finds it, wherever it is
    assert found(full), (table, kind, row)
    # And the incremental one too, where it walks: after the anchor, less the overlap
    if row > at[table] - OVERLAP:
        assert found(incremental), (table, kind, row, full.broken, full.journal_problems)
    assert not incremental.full and full.full


def test_a_tamper_before_the_anchor_is_found_by_a_full_verify_only(
    anchored: tuple[Path, dict[str, int]],
) -> None:
    path, at = anchored
    with copy_of(path) as copy:
        with contextlib.closing(OrderLedger(f"sqlite:///{copy}")) as ledger:
            anchor = check_anchors(ledger.db).last
        # When an event well before the anchor (and its overlap) is changed
        tamper(copy, "events", "change", 1)
        full, incremental = check(copy, None), check(copy, anchor)
    # Then the full verify names it; the incremental one, which starts at the overlap, passes
    assert full.broken is not None and full.broken.startswith("event 1 ")
    assert incremental.ok and incremental.since == at["events"] - OVERLAP


def test_the_anchor_itself_is_checked(anchored: tuple[Path, dict[str, int]]) -> None:
    path, _ = anchored
    with copy_of(path) as copy:
        # When the anchor's stored hash is changed (its row's triggers dropped first)
        with contextlib.closing(sqlite3.connect(copy)) as db:
            for name in sorted(ledger_triggers("sqlite")):
                db.execute(f"DROP TRIGGER {name}")
            db.execute("UPDATE verified SET event_hash = zeroblob(32)")
            for statement in append_only("sqlite"):
                db.execute(statement)
            db.commit()
        with contextlib.closing(OrderLedger(f"sqlite:///{copy}")) as ledger:
            report = ledger.audit.verify(incremental=True)
            full = ledger.audit.verify()
    # Then the anchors' own chain is broken, for both
    assert report.broken == full.broken == "anchor 1 does not match its hash: it was altered"


def test_the_cli_verifies_what_is_new_since_the_anchor_unless_told_full(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with contextlib.closing(OrderLedger(url)) as ledger:
        ledger.ingest_lines(simulate_lines(seed=11, orders=300, tag="one"), origin="one")
    # Given: the first verify of the ledger, with no anchor yet, is a full one, and anchors
    first = orderledger("verify", "--json", db=url).json()
    assert (first["ok"], first["full"], first["since"], first["anchored"]) == (True, True, 0, 1)
    anchored = int(first["head"].split(":")[0])
    assert anchored > 1_000  # longer than the overlap an incremental verify walks again
    with contextlib.closing(OrderLedger(url)) as ledger:
        ledger.ingest_lines(simulate_lines(seed=12, orders=5, tag="two"), origin="two")
    # When event 1, long before the anchor, is changed
    tamper(Path(url.removeprefix("sqlite:///")), "events", "change", 1)
    # Then `verify` walks from 1,000 events before the anchor: it passes, and says so
    run = orderledger("verify", db=url)
    assert run.code == 0, run.describe()
    assert f"checked from event {anchored - 1_000 + 1}, 1,000 before the last anchor;" in run.stdout
    assert "views not refolded (`verify --full` checks the whole log and the views)" in run.stdout
    # And `verify --full` finds the change
    full = orderledger("verify", "--full", db=url)
    assert full.code == 1 and full.stderr.startswith("BROKEN: event 1 ("), full.describe()


# A rewrite whose hashes were recomputed from the changed event on (someone with DDL rights and
# the ledger's code): the chain holds, so only the payload check finds it. Each kind of change
# that check finds, made to the first fill after the anchor: (what is changed, the finding).
PAYLOAD_TAMPERS: dict[str, Callable[[dict[str, Any]], str]] = {}


def payload_tamper(name: str) -> Callable[[Callable[[dict[str, Any]], str]], Callable[[dict[str, Any]], str]]:
    def register(change: Callable[[dict[str, Any]], str]) -> Callable[[dict[str, Any]], str]:
        PAYLOAD_TAMPERS[name] = change
        return change

    return register


def _payload(row: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads(row["state"])
    return loaded


def _named(row: dict[str, Any]) -> str:
    return f"event {row['notification_id']} ({row['event_type']} of {row['client_order_id']!r})"


@payload_tamper("a payload's quantity made not finite")
def _not_finite(row: dict[str, Any]) -> str:
    state = _payload(row)
    state["last_qty"] = "NaN"
    row["state"] = orjson.dumps(state)
    return f"{_named(row)} cannot be read: cannot decode stored event 'domain.events:OrderFilled'"


@payload_tamper("a field the event does not have added to its payload")
def _extra_field(row: dict[str, Any]) -> str:
    state = _payload(row)
    state["rebate"] = "1"
    row["state"] = orjson.dumps(state)
    return f"{_named(row)} cannot be read: cannot decode stored event 'domain.events:OrderFilled'"


@payload_tamper("a payload that is not JSON")
def _not_json(row: dict[str, Any]) -> str:
    row["state"] = row["state"][:-1]
    return f"{_named(row)} cannot be read: cannot decode stored event 'domain.events:OrderFilled'"


@payload_tamper("a payload's price changed to a number")
def _price_as_number(row: dict[str, Any]) -> str:
    state = _payload(row)
    state["last_px"] = 1.5
    row["state"] = orjson.dumps(state)
    return f"{_named(row)} cannot be read: cannot decode stored event 'domain.events:OrderFilled'"


@payload_tamper("a search column changed")
def _column(row: dict[str, Any]) -> str:
    said = row["account"]
    row["account"] = "mallory"
    return f"{_named(row)}: its account column says 'mallory' but its payload says {said!r}"


@payload_tamper("a payload's time moved to another zone")
def _time_zone(row: dict[str, Any]) -> str:
    state = _payload(row)
    moment = datetime.fromisoformat(state["ts_event"])
    state["ts_event"] = moment.astimezone(timezone(timedelta(hours=1))).isoformat()
    row["state"] = orjson.dumps(state)
    return ""  # the same time: found by nothing, and rightly so


@payload_tamper("a payload's time changed")
def _time(row: dict[str, Any]) -> str:
    state = _payload(row)
    stored = row["ts_event"]
    state["ts_event"] = "2001-01-01T00:00:00Z"
    row["state"] = orjson.dumps(state)
    return (
        f"{_named(row)}: its ts_event column says {stored!r} but its payload says"
        " '2001-01-01T00:00:00.000000Z'"
    )


@payload_tamper("an event moved under another order")
def _aggregate(row: dict[str, Any]) -> str:
    row["originator_id"] = str(order_id_for("someone-else"))
    return f"{_named(row)} is stored under another order's ID than its payload's {row['client_order_id']!r}"


@payload_tamper("a payload's order changed")
def _order(row: dict[str, Any]) -> str:
    state = _payload(row)
    state["client_order_id"] = "someone-else"
    row["state"] = orjson.dumps(state)
    return f"{_named(row)} is stored under another order's ID than its payload's 'someone-else'"


def rewrite_from(path: Path, position: int, change: Callable[[dict[str, Any]], str]) -> str:
    """Change event ``position`` and recompute the hashes from it to the end (triggers dropped
    and put back as the ledger made them); the finding ``change`` says to expect."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        for name in sorted(ledger_triggers("sqlite")):
            db.execute(f"DROP TRIGGER {name}")
        select = f"SELECT {', '.join(EVENT_COLUMNS)} FROM events WHERE notification_id >= ? ORDER BY 1"
        rows = [dict(zip(EVENT_COLUMNS, r, strict=True)) for r in db.execute(select, (position,))]
        expected = change(rows[0])
        (previous,) = db.execute(
            "SELECT hash FROM events WHERE notification_id = ?", (position - 1,)
        ).fetchone()
        for row in rows:
            row["hash"] = previous = link(previous, [row[c] for c in EVENT_COLUMNS[:-1]])
            places = ", ".join(f"{c} = ?" for c in EVENT_COLUMNS[1:])
            db.execute(
                f"UPDATE events SET {places} WHERE notification_id = ?",
                [row[c] for c in EVENT_COLUMNS[1:]] + [row["notification_id"]],
            )
        for statement in append_only("sqlite"):
            db.execute(statement)
        db.commit()
    return expected


@pytest.mark.parametrize("kind", list(PAYLOAD_TAMPERS))
def test_a_payload_tamper_under_recomputed_hashes_is_found_by_both_verifies(
    anchored: tuple[Path, dict[str, int]], kind: str
) -> None:
    path, at = anchored
    with copy_of(path) as copy:
        with contextlib.closing(OrderLedger(f"sqlite:///{copy}")) as ledger:
            anchor = check_anchors(ledger.db).last
        with contextlib.closing(sqlite3.connect(copy)) as db:
            (fill,) = db.execute(
                "SELECT MIN(notification_id) FROM events"
                " WHERE event_type = 'OrderFilled' AND notification_id > ?",
                (at["events"],),
            ).fetchone()
        # When the first fill after the anchor is changed and the chain rehashed from it
        expected = rewrite_from(copy, fill, PAYLOAD_TAMPERS[kind])
        full, incremental = check(copy, None), check(copy, anchor)
    if not expected:
        # Then a change that keeps the event what it was is no finding
        assert full.broken is None and incremental.broken is None
        return
    # Then the full and the incremental verify both name the event, in the same words
    assert full.broken is not None and full.broken.startswith(expected), full.broken
    assert incremental.broken == full.broken
