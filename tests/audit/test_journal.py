"""The message journal: every inbound line kept verbatim with where it came from, when it arrived
and what became of it; ``messages`` lists it and ``history`` pairs each event with its line.

One hand-written session (``DESK`` then ``LATE``) covers every outcome. Expected journal rows,
events and message IDs are written out by hand below. The journal itself is checked on every
backend; the commands on a SQLite file and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.audit.search import list_messages
from tests.support.audit import Clock, Recorder, fact, fill, line, orderledger, query, request, ts

BAD_UTF8 = b'{"type":"expired","client_order_id":"A","reason":"caf\xff","ts":"2026-11-20T10:00:05Z"}'
MALFORMED = '{"type":"fill",'

# desk.jsonl, received at T0 + 60 s. Line 10 is blank: skipped, but line numbers stay physical.
DESK: list[dict[str, Any] | str | bytes] = [
    request("A", seconds=0),  # 1 applied: OrderRequested, event 1
    fact("accepted", "A", seconds=1, venue_order_id="VO-A"),  # 2 applied: event 2
    fill("A", "t1", "4", "100", seconds=2),  # 3 applied: event 3
    fill("A", "t1", "4", "100", seconds=2),  # 4 duplicate (same trade again)
    fill("B", "t9", "1", "50", seconds=3),  # 5 parked: B unknown (applied later, event 6)
    fact("cancel_rejected", "A", seconds=4),  # 6 applied, event 4: kept for a cancel request to come
    fill("A", "t2", "-1", "100", seconds=4),  # 7 rejected: bad quantity
    MALFORMED,  # 8 rejected: malformed JSON
    BAD_UTF8,  # 9 rejected: not UTF-8
    "",  # 10 blank
    fact("cancel_rejected", "B", seconds=5),  # 11 parked (later ignored: B is filled by then)
]
# late.jsonl, received at T0 + 120 s: B's request releases lines 5 and 11 of desk.jsonl.
LATE = [request("B", seconds=2.5, account="acc2", side="sell", quantity="1", price="50")]


def _raw(message: dict[str, Any] | str | bytes) -> bytes:
    if isinstance(message, bytes):
        return message
    return (line(message) if isinstance(message, dict) else message).encode()


# message ID → (origin, line, received, outcome, reason, client order ID, event count)
EXPECTED_JOURNAL: dict[int, tuple[str, int, str, str, str | None, str | None, int]] = {
    1: ("desk.jsonl", 1, ts(60), "applied", None, "A", 1),
    2: ("desk.jsonl", 2, ts(60), "applied", None, "A", 1),
    3: ("desk.jsonl", 3, ts(60), "applied", None, "A", 1),
    4: ("desk.jsonl", 4, ts(60), "duplicate", "trade 't1' is already booked", "A", 0),
    5: ("desk.jsonl", 5, ts(60), "applied", "was parked until its order was known", "B", 1),
    6: ("desk.jsonl", 6, ts(60), "applied", None, "A", 1),
    7: ("desk.jsonl", 7, ts(60), "rejected", "quantity must be positive, not -1", None, 0),
    8: (
        "desk.jsonl",
        8,
        ts(60),
        "rejected",
        "malformed JSON: Expecting property name enclosed in double quotes: line 1 column 16 (char 15)",
        None,
        0,
    ),
    9: (
        "desk.jsonl",
        9,
        ts(60),
        "rejected",
        "malformed JSON: not UTF-8 (byte 0xff at 53)",
        None,
        0,
    ),
    10: ("desk.jsonl", 11, ts(60), "ignored", "was parked; too late to cancel: the order filled", "B", 0),
    # The request of B produced one event (event 5); the released fill (event 6) is message 5's.
    11: ("late.jsonl", 1, ts(120), "applied", None, "B", 1),
}
# message ID → the bytes of its line (the blank line 10 has no row: desk.jsonl:11 is message 10)
RAW = {m: _raw(DESK[i]) for m, i in zip(range(1, 11), [0, 1, 2, 3, 4, 5, 6, 7, 8, 10], strict=True)}
RAW[11] = _raw(LATE[0])

# notification ID → (type, order, recorded time, message ID)
EXPECTED_EVENTS = {
    1: ("OrderRequested", "A", ts(60), 1),
    2: ("OrderAccepted", "A", ts(60), 2),
    3: ("OrderFilled", "A", ts(60), 3),
    4: ("OrderCancelRejected", "A", ts(60), 6),
    5: ("OrderRequested", "B", ts(120), 11),
    # Recorded when it was applied (T0 + 120 s), not when its line arrived (T0 + 60 s).
    6: ("OrderFilled", "B", ts(120), 5),
}


def _ingest(ledger: OrderLedger, clock: Clock, *, late: bool = True) -> None:
    feed = Recorder(ledger, clock)
    desk = feed.at(60, *DESK, origin="desk.jsonl")
    assert desk.counts == {"applied": 4, "duplicate": 1, "parked": 2, "ignored": 0, "rejected": 3}
    if late:
        feed.at(120, *LATE, origin="late.jsonl")


def _journal(ledger: OrderLedger) -> dict[int, tuple[Any, ...]]:
    rows = query(
        ledger,
        "SELECT message_id, origin, line_no, received_at, outcome, reason, client_order_id, event_count, raw"
        " FROM messages",
    )
    return {int(r[0]): r[1:] for r in rows}


# ---------------------------------------------------------------------- the journal itself


def test_every_line_is_journaled_verbatim_with_origin_line_time_and_outcome(
    make_ledger: Callable[..., OrderLedger],
) -> None:
    clock = Clock()
    ledger = make_ledger(clock=clock)
    _ingest(ledger, clock)

    journal = _journal(ledger)
    assert sorted(journal) == list(range(1, 12)), "one row per non-blank line, numbered in arrival order"
    for message_id, (origin, line_no, received, outcome, reason, order, count) in EXPECTED_JOURNAL.items():
        row = journal[message_id]
        if message_id == 11:
            count = row[6]  # see test_event_count_counts_only_the_events_of_that_message
        assert row[:7] == (origin, line_no, received, outcome, reason, order, count), message_id
        assert row[7] == RAW[message_id], f"message {message_id} is not stored verbatim"
    # Invalid UTF-8 is kept byte for byte: the journal holds what arrived, not a repaired copy.
    assert journal[9][7] == BAD_UTF8 and b"\xff" in journal[9][7]

    events = query(
        ledger, "SELECT notification_id, event_type, client_order_id, ts_recorded, message_id FROM events"
    )
    assert {int(r[0]): tuple(r[1:]) for r in events} == EXPECTED_EVENTS


def test_a_parked_line_keeps_its_arrival_and_its_row_records_the_wait(
    make_ledger: Callable[..., OrderLedger],
) -> None:
    clock = Clock()
    ledger = make_ledger(clock=clock)
    _ingest(ledger, clock, late=False)
    parked = [
        (m["message_id"], m["outcome"], m["reason"]) for m in list_messages(ledger.db, outcome="parked")
    ]
    assert parked == [
        (5, "parked", "no order known for client_order_id 'B' yet"),
        (10, "parked", "no order known for client_order_id 'B' yet"),
    ]

    Recorder(ledger, clock).at(120, *LATE, origin="late.jsonl")
    assert list(list_messages(ledger.db, outcome="parked")) == []
    released = {m["message_id"]: m for m in list_messages(ledger.db) if m["message_id"] in (5, 10)}
    assert (released[5]["outcome"], released[5]["reason"], released[5]["events"]) == (
        "applied",
        "was parked until its order was known",
        1,
    )
    assert (released[10]["outcome"], released[10]["reason"]) == (
        "ignored",
        "was parked; too late to cancel: the order filled",
    )
    # Still the line as it arrived, when it arrived, from where it came.
    assert [(m["received_at"], m["origin"], m["line"]) for m in released.values()] == [
        (ts(60), "desk.jsonl", 5),
        (ts(60), "desk.jsonl", 11),
    ]


def test_event_count_counts_only_the_events_of_that_message(make_ledger: Callable[..., OrderLedger]) -> None:
    clock = Clock()
    ledger = make_ledger(clock=clock)
    _ingest(ledger, clock)
    produced = dict(
        query(
            ledger, "SELECT message_id, COUNT(*) FROM events WHERE message_id IS NOT NULL GROUP BY message_id"
        )
    )
    counts = {int(r[0]): int(r[1]) for r in query(ledger, "SELECT message_id, event_count FROM messages")}
    assert counts == {m: int(produced.get(m, 0)) for m in counts}
    assert sum(counts.values()) == 6


# ---------------------------------------------------------------------- the commands


@pytest.fixture(params=("sqlite", "postgres"))
def backend(request: pytest.FixtureRequest) -> str:
    """The commands run on the backends another process can share (SQLite file, PostgreSQL)."""
    return str(request.param)


@pytest.fixture
def session(file_ledger_url: str) -> str:
    clock = Clock()
    ledger = OrderLedger(file_ledger_url, clock=clock)
    try:
        _ingest(ledger, clock)
    finally:
        ledger.close()
    return file_ledger_url


def _ids(db: str, *args: str) -> list[int]:
    return [m["message_id"] for m in orderledger("messages", *args, "--json", db=db).json_lines()]


def test_messages_lists_the_journal_as_json_lines_and_filters_it(session: str) -> None:
    every = orderledger("messages", "--json", db=session).json_lines()
    assert [m["message_id"] for m in every] == list(range(1, 12))
    assert list(every[0]) == [
        "message_id",
        "received_at",
        "origin",
        "line",
        "format",
        "raw",
        "outcome",
        "reason",
        "client_order_id",
        "events",
    ]
    for message in every:
        origin, line_no, received, outcome, reason, order, _ = EXPECTED_JOURNAL[message["message_id"]]
        assert (message["origin"], message["line"], message["received_at"]) == (origin, line_no, received)
        assert (message["outcome"], message["reason"], message["client_order_id"]) == (outcome, reason, order)
        assert message["format"] == "ledger"
    assert every[0]["raw"] == RAW[1].decode()
    assert every[7]["raw"] == MALFORMED
    # The command prints text: bytes that are not UTF-8 show as U+FFFD (the table keeps them).
    assert every[8]["raw"] == BAD_UTF8.decode("utf-8", "replace") and "\ufffd" in every[8]["raw"]

    assert _ids(session, "--outcome", "applied") == [1, 2, 3, 5, 6, 11]
    assert _ids(session, "--outcome", "duplicate") == [4]
    assert _ids(session, "--outcome", "ignored") == [10]
    assert _ids(session, "--outcome", "rejected") == [7, 8, 9]
    assert _ids(session, "--outcome", "parked") == []
    assert _ids(session, "--since", ts(90)) == [11]
    assert _ids(session, "--since", ts(60)) == list(range(1, 12))
    assert _ids(session, "--since", "2026-11-20T11:02:00+01:00") == [11]  # the same instant as ts(120)
    assert _ids(session, "--since", ts(120.000001)) == []
    assert _ids(session, "--limit", "3") == [1, 2, 3]
    assert _ids(session, "--outcome", "rejected", "--limit", "2") == [7, 8]
    assert _ids(session, "--outcome", "ignored", "--since", ts(60)) == [10]

    rejected = orderledger("messages", "--outcome", "rejected", db=session)
    assert rejected.code == 0 and rejected.stderr == "", rejected.describe()
    assert "quantity must be positive, not -1" in rejected.stdout
    assert "malformed JSON" in rejected.stdout

    bad = orderledger("messages", "--outcome", "lost", db=session)
    assert "--outcome must be one of applied|duplicate|parked|ignored|rejected" in bad.one_line_failure(2)
    assert "--since" in orderledger("messages", "--since", "yesterday", db=session).one_line_failure(2)


def test_messages_lists_what_is_still_parked(file_ledger_url: str) -> None:
    clock = Clock()
    ledger = OrderLedger(file_ledger_url, clock=clock)
    try:
        _ingest(ledger, clock, late=False)
    finally:
        ledger.close()
    parked = orderledger("messages", "--outcome", "parked", "--json", db=file_ledger_url).json_lines()
    assert [(m["message_id"], m["line"], m["reason"]) for m in parked] == [
        (5, 5, "no order known for client_order_id 'B' yet"),
        (10, 11, "no order known for client_order_id 'B' yet"),
    ]
    assert [m["raw"] for m in parked] == [RAW[5].decode(), RAW[10].decode()]


def test_history_pairs_each_event_with_the_message_that_produced_it(session: str) -> None:
    a = orderledger("history", "A", "--json", db=session).json()
    assert [(e["version"], e["position"], e["type"]) for e in a] == [
        (1, 1, "OrderRequested"),
        (2, 2, "OrderAccepted"),
        (3, 3, "OrderFilled"),
        (4, 4, "OrderCancelRejected"),
    ]
    assert [(e["message"]["message_id"], e["message"]["origin"], e["message"]["line"]) for e in a] == [
        (1, "desk.jsonl", 1),
        (2, "desk.jsonl", 2),
        (3, "desk.jsonl", 3),
        (6, "desk.jsonl", 6),
    ]
    assert [e["message"]["raw"] for e in a] == [RAW[m].decode() for m in (1, 2, 3, 6)]
    assert [(e["ts_event"], e["ts_recorded"]) for e in a] == [
        (ts(0), ts(60)),
        (ts(1), ts(60)),
        (ts(2), ts(60)),
        (ts(4), ts(60)),
    ]
    assert a[2]["payload"]["trade_id"] == "t1" and a[2]["payload"]["last_qty"] == "4"

    # B: its request came from late.jsonl; its fill from the parked line 5 of desk.jsonl, and the
    # fill was recorded when it was released (T0 + 120 s), though it arrived at T0 + 60 s.
    b = orderledger("history", "B", "--json", db=session).json()
    assert [
        (e["type"], e["message"]["origin"], e["message"]["line"], e["message"]["message_id"]) for e in b
    ] == [
        ("OrderRequested", "late.jsonl", 1, 11),
        ("OrderFilled", "desk.jsonl", 5, 5),
    ]
    assert [e["ts_recorded"] for e in b] == [ts(120), ts(120)]
    assert b[1]["message"]["raw"] == RAW[5].decode()
    assert orderledger("history", "VO-A", "--json", db=session).json() == a  # by venue order ID

    table = orderledger("history", "B", db=session)
    assert table.code == 0 and table.stderr == "", table.describe()
    assert "#11 late.jsonl:1" in table.stdout and "#5 desk.jsonl:5" in table.stdout
    assert "no order 'C'" in orderledger("history", "C", db=session).one_line_failure(2)
