"""Ingesting JSON lines: every line gets an outcome, bad lines change nothing, batching is invisible.

Runs on every backend (memory, SQLite file, PostgreSQL) through the ``ledger`` fixtures.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderledger.domain.errors import OrderNotFoundError
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.reads.view_queries import (
    list_orders,
    list_positions,
    list_trades,
    parse_marks,
    pnl_by,
)
from orderledger.infrastructure.application.simulator import simulate
from orderledger.infrastructure.results.filter import Filter
from tests.support.integration import (
    event_count,
    event_signatures,
    fact,
    fill,
    journal,
    lines,
    opened,
    request,
    scrambled,
    separate_database,
    store_state,
    view_rows,
)

# ============================================================================= outcomes per line


def test_a_message_refused_after_its_implied_acknowledgement_leaves_nothing(ledger: OrderLedger) -> None:
    # Given an order of 10 the venue has not acknowledged yet
    ledger.ingest_lines(lines(request("A")))
    before = store_state(ledger)
    # When a fill names the venue's order ID (an implied acknowledgement, decided first) and then
    # overfills (12 of 10), followed by a good fill of 4
    results: list[Any] = []
    ledger.ingest_lines(
        lines(fill("A", "t1", "12", seconds=1, venue_order_id="V-1"), fill("A", "t2", "4", seconds=2)),
        on_batch=results.extend,
    )
    # Then the refused line recorded nothing, not even the acknowledgement; the next is applied
    assert [(r.outcome, len(r.events)) for r in results] == [("rejected", 0), ("applied", 1)]
    assert "overfill" in (results[0].reason or "")
    after = store_state(ledger)
    assert [(m[4], m[7]) for m in after["messages"][-2:]] == [("rejected", 0), ("applied", 1)]
    assert after["events"] == before["events"] + 1  # t2's fill alone
    assert after["identities"] == before["identities"]  # V-1 is no identity of A
    order = ledger.order("A").snapshot()
    assert (order["status"], order["filled_quantity"]) == ("partially_filled", "4")
    assert order["venue_order_ids"] == []


def test_every_line_gets_its_outcome(ledger: OrderLedger) -> None:
    report = ledger.ingest_lines(
        lines(
            request("A"),  # 1 applied
            fact("accepted", "A", seconds=1, venue_order_id="V-1"),  # 2 applied
            fact("accepted", "A", seconds=1, venue_order_id="V-1"),  # 3 duplicate
            fill("A", "t1", "10", seconds=2),  # 4 applied: the order is filled
            fact("canceled", "A", seconds=3),  # 5 ignored: filled outranks canceled
            fill("B", "t9", "1", seconds=4),  # 6 parked: no order B yet
            '{"type": "fill", "client_order_id": ',  # 7 rejected: malformed JSON
            fill("A", "t1", "10", seconds=2),  # 8 duplicate
            "",  # blank lines are skipped, not journaled
        ),
        origin="day1.jsonl",
    )

    assert report.counts == {"applied": 3, "duplicate": 2, "parked": 1, "ignored": 1, "rejected": 1}
    assert report.lines == 8
    assert report.events == 3
    assert report.stored is True
    assert [(r.line_no, r.reason) for r in report.rejected] == [(7, report.rejected[0].reason)]
    assert report.rejected[0].reason is not None and report.rejected[0].reason.startswith("malformed JSON")

    rows = journal(ledger)
    assert [(r.line_no, r.outcome, r.event_count) for r in rows] == [
        (1, "applied", 1),
        (2, "applied", 1),
        (3, "duplicate", 0),
        (4, "applied", 1),
        (5, "ignored", 0),
        (6, "parked", 0),
        (7, "rejected", 0),
        (8, "duplicate", 0),
    ]
    assert all(r.origin == "day1.jsonl" for r in rows)
    assert rows[4].reason == "filled outranks canceled"
    assert rows[5].reason is not None and "'B'" in rows[5].reason
    assert rows[6].raw == b'{"type": "fill", "client_order_id": '
    assert store_state(ledger)["parked"] == [rows[5].message_id]
    assert ledger.order("A").snapshot()["status"] == "filled"
    with pytest.raises(OrderNotFoundError):
        ledger.order("B")


def test_a_parked_fact_is_applied_when_its_request_arrives_in_a_later_ingest(ledger: OrderLedger) -> None:
    first = ledger.ingest_lines(
        lines(fill("B", "t9", "1", "50", seconds=4), fact("accepted", "B", seconds=5, venue_order_id="VB")),
        origin="day1.jsonl",
    )
    assert first.counts["parked"] == 2
    assert event_count(ledger) == 0

    second = ledger.ingest_lines(lines(request("B", quantity="5", price="50")), origin="day2.jsonl")

    assert second.counts["applied"] == 1
    assert second.events == 3  # the request, and the two facts that were waiting for it
    order = ledger.order("B").snapshot()
    assert (order["status"], order["filled_quantity"], order["venue_order_ids"]) == (
        "partially_filled",
        "1",
        ["VB"],
    )
    rows = journal(ledger)
    assert [(r.origin, r.line_no, r.outcome, r.client_order_id) for r in rows] == [
        ("day1.jsonl", 1, "applied", "B"),
        ("day1.jsonl", 2, "applied", "B"),
        ("day2.jsonl", 1, "applied", "B"),
    ]
    assert (rows[0].event_count, rows[1].event_count) == (1, 1)
    assert rows[0].reason == "was parked until its order was known"
    assert store_state(ledger)["parked"] == []
    # The fill's event points at the line that carried it, not at the request that released it.
    history = ledger.history("B")
    assert [(h.event.type_name(), h.message_origin, h.message_line) for h in history] == [
        ("OrderRequested", "day2.jsonl", 1),
        ("OrderFilled", "day1.jsonl", 1),
        ("OrderAccepted", "day1.jsonl", 2),
    ]
    assert ledger.views.positions() == dict.fromkeys(ledger.views.by_name, 3)
    assert list_trades(ledger.db, client_order_id="B")[0]["quantity"] == "1"


def test_a_fact_parked_and_released_in_the_same_ingest_reports_applied(ledger: OrderLedger) -> None:
    report = ledger.ingest_lines(lines(fill("C", "t1", "2", seconds=1), request("C")))
    assert report.counts == {"applied": 2, "duplicate": 0, "parked": 0, "ignored": 0, "rejected": 0}
    assert [r.outcome for r in journal(ledger)] == ["applied", "applied"]
    assert store_state(ledger)["parked"] == []
    assert ledger.order("C").snapshot()["filled_quantity"] == "2"


def test_journal_event_counts_match_the_events_each_message_produced(ledger: OrderLedger) -> None:
    ledger.ingest_lines(lines(fill("B", "t9", "1", seconds=4), fact("accepted", "B", venue_order_id="VB")))
    ledger.ingest_lines(lines(request("B"), fill("C", "t1", "1", seconds=1), request("C", seconds=2)))

    with ledger.db.read() as tx:
        produced = dict(tx.all("SELECT message_id, COUNT(*) FROM events GROUP BY message_id"))
    assert {r.message_id: r.event_count for r in journal(ledger)} == {
        r.message_id: produced.get(r.message_id, 0) for r in journal(ledger)
    }


# ============================================================================= identities


def test_facts_are_found_by_venue_order_id_and_by_alias(ledger: OrderLedger) -> None:
    report = ledger.ingest_lines(
        lines(
            request("A", aliases={"idx": "42"}),
            fact("accepted", "A", seconds=1, venue_order_id="V-1"),
            fill(None, "t1", "2", seconds=2, venue="V", venue_order_id="V-1"),
            fill(None, "t2", "3", seconds=3, venue="V", aliases={"idx": "42"}),
            # The same venue order ID at another venue is another order: it waits for it.
            fill(None, "t3", "1", seconds=4, venue="W", venue_order_id="V-1"),
            fact("canceled", None, seconds=5, venue="V", aliases={"idx": "42"}),
        )
    )

    assert report.counts == {"applied": 5, "duplicate": 0, "parked": 1, "ignored": 0, "rejected": 0}
    order = ledger.order("A").snapshot()
    assert (order["status"], order["filled_quantity"], order["venue_order_ids"], order["aliases"]) == (
        "canceled",
        "5",
        ["V-1"],
        {"idx": "42"},
    )
    assert [t["trade_id"] for t in list_trades(ledger.db, client_order_id="A")] == ["t1", "t2"]
    assert ledger.resolve("V-1") == "A"
    assert ledger.resolve("idx=42") == "A"
    assert ledger.resolve("V-1", venue="V") == "A"
    with pytest.raises(OrderNotFoundError):
        ledger.resolve("V-1", venue="W")


def test_a_fact_by_venue_order_id_waits_for_the_acknowledgement_that_names_it(ledger: OrderLedger) -> None:
    ledger.ingest_lines(lines(request("A")))
    early = ledger.ingest_lines(lines(fill(None, "t1", "4", seconds=2, venue="V", venue_order_id="V-7")))
    assert early.counts["parked"] == 1
    assert ledger.order("A").snapshot()["filled_quantity"] == "0"

    ack = ledger.ingest_lines(lines(fact("accepted", "A", seconds=1, venue_order_id="V-7")))

    assert ack.counts["applied"] == 1
    assert ack.events == 2
    order = ledger.order("A").snapshot()
    assert (order["status"], order["filled_quantity"]) == ("partially_filled", "4")
    assert store_state(ledger)["parked"] == []


def test_a_venue_order_id_that_belongs_to_another_order_is_refused(ledger: OrderLedger) -> None:
    ledger.ingest_lines(lines(request("A"), fact("accepted", "A", venue_order_id="V-1"), request("B")))
    before = event_count(ledger)
    report = ledger.ingest_lines(lines(fact("accepted", "B", seconds=1, venue_order_id="V-1")))
    assert report.counts["rejected"] == 1
    assert "already belongs to order 'A'" in (report.rejected[0].reason or "")
    assert event_count(ledger) == before


# ============================================================================= rejected lines


@pytest.mark.parametrize("batch_size", [1000, 2])
def test_a_rejected_line_does_not_block_or_roll_back_its_neighbours(
    make_ledger: Callable[..., OrderLedger], batch_size: int
) -> None:
    ledger = make_ledger(batch_size=batch_size)
    report = ledger.ingest_lines(
        lines(
            request("A"),
            fill("A", "t1", "4", seconds=1),
            fill("A", "t2", "20", seconds=2),  # overfill: refused
            fill("A", "t3", "2", seconds=3),
            '{"type": "teleport", "ts": "2026-11-20T10:00:00Z"}',
            request("B", seconds=4),
        )
    )

    assert report.counts == {"applied": 4, "duplicate": 0, "parked": 0, "ignored": 0, "rejected": 2}
    assert [r.line_no for r in report.rejected] == [3, 5]
    assert event_count(ledger) == 4
    assert ledger.order("A").snapshot()["filled_quantity"] == "6"
    assert ledger.order("B").snapshot()["status"] == "requested"
    rejected = [r for r in journal(ledger) if r.outcome == "rejected"]
    assert "overfill" in (rejected[0].reason or "")
    assert "unknown message type 'teleport'" in (rejected[1].reason or "")
    assert [t["trade_id"] for t in list_trades(ledger.db)] == ["t1", "t3"]


# ============================================================================= --strict


BASE = (
    request("A"),
    fact("accepted", "A", seconds=1, venue_order_id="V-1"),
    fill("A", "t1", "4", seconds=2),
)


def test_strict_stores_nothing_when_any_line_is_rejected(ledger: OrderLedger) -> None:
    ledger.ingest_lines(lines(*BASE))
    before = store_state(ledger)
    views_before = view_rows(ledger)
    order_before = ledger.order("A").snapshot()
    batch = lines(
        fill("A", "t2", "3", seconds=3),
        request("C", seconds=3),
        fact("accepted", "C", seconds=4, venue_order_id="V-9"),
        fill("D", "t7", "1", seconds=4),  # would be parked
        '{"type": "fill", "client_order_id": "A", "trade_id": "t3", "quantity": "NaN",'
        ' "price": "100", "ts": "2026-11-20T10:00:05Z"}',
        fill("A", "t4", "1", seconds=6),
    )

    report = ledger.ingest_lines(batch, strict=True)

    assert report.stored is False
    # The report counts what the ledger holds from the batch: nothing but the rejected line's refusal
    assert report.counts == {
        "applied": 0,
        "duplicate": 0,
        "parked": 0,
        "ignored": 0,
        "rejected": 1,
        "not stored": 5,
    }
    assert report.events == 0
    assert report.rejected[0].line_no == 5
    assert store_state(ledger) == before  # events, max notification ID, journal, identities, parked
    assert view_rows(ledger) == views_before
    assert ledger.order("A").snapshot() == order_before
    with pytest.raises(OrderNotFoundError):
        ledger.order("C")

    # The same lines without the bad one are stored in full.
    good = [line for number, line in enumerate(batch, start=1) if number != 5]
    report = ledger.ingest_lines(good, strict=True)
    assert report.stored is True
    assert report.counts == {"applied": 4, "duplicate": 0, "parked": 1, "ignored": 0, "rejected": 0}
    state = store_state(ledger)
    assert state["events"] == before["events"] + 4
    assert len(state["messages"]) == len(before["messages"]) + 5
    assert ledger.order("A").snapshot()["filled_quantity"] == "8"
    assert ledger.order("C").snapshot()["venue_order_ids"] == ["V-9"]


def test_a_strict_ingest_retried_after_a_refusal_records_its_venue_order_ids(ledger: OrderLedger) -> None:
    good = lines(request("C"), fact("accepted", "C", seconds=1, venue_order_id="V-9"))
    assert ledger.ingest_lines([*good, "not json"], strict=True).stored is False

    assert ledger.ingest_lines(good, strict=True).stored is True

    assert ledger.order("C").snapshot()["venue_order_ids"] == ["V-9"]
    assert ("V", "venue_order_id", "V-9", "C") in store_state(ledger)["identities"]
    assert ledger.resolve("V-9") == "C"


def test_after_a_refused_strict_ingest_a_fact_by_its_venue_order_id_is_parked(ledger: OrderLedger) -> None:
    refused = ledger.ingest_lines(
        lines(request("C"), fact("accepted", "C", seconds=1, venue_order_id="V-9"), "not json"), strict=True
    )
    assert refused.stored is False

    report = ledger.ingest_lines(lines(fill(None, "t1", "1", seconds=2, venue="V", venue_order_id="V-9")))

    assert report.counts["parked"] == 1


def test_after_a_refused_strict_ingest_its_venue_order_id_is_free(ledger: OrderLedger) -> None:
    ledger.ingest_lines(
        lines(request("C"), fact("accepted", "C", seconds=1, venue_order_id="V-9"), "not json"), strict=True
    )

    report = ledger.ingest_lines(lines(request("D"), fact("accepted", "D", seconds=1, venue_order_id="V-9")))

    assert report.counts == {"applied": 2, "duplicate": 0, "parked": 0, "ignored": 0, "rejected": 0}
    assert ledger.resolve("V-9") == "D"


# ============================================================================= re-ingesting


REPLAYABLE = (
    request("A"),
    fact("accepted", "A", seconds=1, venue_order_id="V-1"),
    fill("A", "t1", "4", seconds=2, fee="0.1", fee_currency="USDT"),
    fill(None, "t2", "6", "101", seconds=3, venue="V", venue_order_id="V-1"),
    request("B", seconds=4, side="sell"),
    fact("rejected", "B", seconds=5, reason="insufficient margin"),
    request("C", seconds=6),
    fact("accepted", "C", seconds=7, venue_order_id="V-3"),
    fact("expired", "C", seconds=8),
    request("D", seconds=9, quantity="5"),
    fact("accepted", "D", seconds=10, venue_order_id="V-4"),
    fill("D", "t3", "5", seconds=11),
    fact("fill_busted", "D", seconds=12, trade_id="t3"),
    fill("D", "t4", "2", seconds=13),
    fact("fill_corrected", "D", seconds=14, trade_id="t4", price="99"),
    request("E", seconds=15),
    fact("canceled", "E", seconds=16),
    fill("F", "t5", "1", seconds=17),  # parked (its request comes below)
    request("F", seconds=18),
)


def test_reingesting_a_file_is_all_duplicates_and_changes_nothing(ledger: OrderLedger) -> None:
    first = ledger.ingest_lines(lines(*REPLAYABLE))
    assert first.counts["rejected"] == first.counts["ignored"] == 0
    before = store_state(ledger)
    views_before = view_rows(ledger)

    again = ledger.ingest_lines(lines(*REPLAYABLE))

    assert again.counts == {
        "applied": 0,
        "duplicate": len(REPLAYABLE),
        "parked": 0,
        "ignored": 0,
        "rejected": 0,
    }
    after = store_state(ledger)
    assert (after["events"], after["max_notification_id"]) == (
        before["events"],
        before["max_notification_id"],
    )
    assert after["identities"] == before["identities"]
    assert after["messages"][: len(before["messages"])] == before["messages"]
    assert [m[4] for m in after["messages"][len(before["messages"]) :]] == ["duplicate"] * len(REPLAYABLE)
    assert view_rows(ledger) == views_before


def _assert_reingest_is_all_duplicates(ledger: OrderLedger, messages: list[dict[str, Any]]) -> None:
    first = ledger.ingest_lines(lines(*messages))
    assert first.counts["rejected"] == first.counts["ignored"] == 0, first.rejected
    events = event_count(ledger)
    views_before = view_rows(ledger)

    again = ledger.ingest_lines(lines(*messages))

    assert [(r.line_no, r.reason) for r in again.rejected] == []
    assert again.counts == {
        "applied": 0,
        "duplicate": len(messages),
        "parked": 0,
        "ignored": 0,
        "rejected": 0,
    }
    assert event_count(ledger) == events
    assert view_rows(ledger) == views_before


def test_reingesting_a_cancel_is_all_duplicates(ledger: OrderLedger) -> None:
    _assert_reingest_is_all_duplicates(
        ledger,
        [
            request("A"),
            fact("accepted", "A", seconds=1, venue_order_id="V-1"),
            fact("cancel_requested", "A", seconds=2),
            fact("canceled", "A", seconds=3),
        ],
    )


def test_reingesting_a_refused_cancel_appends_nothing(ledger: OrderLedger) -> None:
    _assert_reingest_is_all_duplicates(
        ledger,
        [
            request("A"),
            fact("accepted", "A", seconds=1, venue_order_id="V-1"),
            fact("cancel_requested", "A", seconds=2),
            fact("cancel_rejected", "A", seconds=3, reason="too late"),
        ],
    )


def test_reingesting_an_amendment_is_all_duplicates(ledger: OrderLedger) -> None:
    _assert_reingest_is_all_duplicates(
        ledger,
        [
            request("A"),
            fact("accepted", "A", seconds=1, venue_order_id="V-1"),
            fact("amend_requested", "A", seconds=2, price="101"),
            fact("amended", "A", seconds=3, price="101"),
        ],
    )


def test_reingesting_the_demo_session_is_all_duplicates(ledger: OrderLedger) -> None:
    _assert_reingest_is_all_duplicates(ledger, simulate(7, 60))


# ============================================================================= group commit


def _observed(ledger: OrderLedger) -> dict[str, Any]:
    """Everything a user can ask the ledger, except the recording clock."""
    orders = list_orders(ledger.db)
    marks = parse_marks(["BTC-USDT=64100", "ETH-USDT=3090", "BTC/USD=63900", "SOL/USD=150"])
    return {
        "events": event_signatures(ledger),
        "snapshots": {o["client_order_id"]: ledger.order(o["client_order_id"]).snapshot() for o in orders},
        "orders": orders,
        "open": list_orders(ledger.db, open_only=True),
        "trades": list_trades(ledger.db),
        "positions": list_positions(ledger.db, marks),
        "pnl": {
            by: pnl_by(ledger.db, by) for by in ("day", "account", "venue", "instrument", "tag:strategy")
        },
        "journal": [(r.line_no, r.outcome, r.client_order_id, r.event_count) for r in journal(ledger)],
        "parked": len(store_state(ledger)["parked"]),
    }


@pytest.mark.parametrize("disordered", [False, True], ids=["in-order", "scrambled"])
def test_group_commit_equals_one_at_a_time(backend: str, tmp_path: Path, disordered: bool) -> None:
    messages = simulate(11, 45)
    if disordered:
        messages = scrambled(messages, seed=6)
    session = lines(*messages)
    with (
        separate_database(backend, tmp_path, "grouped") as grouped_url,
        separate_database(backend, tmp_path, "single") as single_url,
        opened(grouped_url, batch_size=1000) as grouped,
        opened(single_url, batch_size=1) as single,
    ):
        grouped_report = grouped.ingest_lines(session)
        single_report = single.ingest_lines(session)

        assert grouped_report.events == single_report.events > 0
        if disordered:  # the scrambled session exercises parking and facts decided in the past too
            assert single_report.counts["parked"] > 0
            late = "arrived after later facts of its order: applied at its place in venue time"
            assert any(m.reason == late for m in single.audit.iter_messages(Filter()))
            assert single_report.counts["rejected"] == 0  # nothing valid refused for arriving early
        observed = _observed(grouped)
        assert observed == _observed(single)


@settings(max_examples=15, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**16),
    orders=st.integers(1, 40),
    batch_size=st.integers(2, 60),
    disorder=st.one_of(st.none(), st.integers(0, 2**16)),
)
def test_any_batch_size_gives_the_answers_of_one_at_a_time(
    seed: int, orders: int, batch_size: int, disorder: int | None
) -> None:
    messages = simulate(seed, orders)
    if disorder is not None:
        messages = scrambled(messages, disorder)
    session = lines(*messages)
    with opened("memory://", batch_size=batch_size) as grouped, opened("memory://", batch_size=1) as single:
        grouped.ingest_lines(session)
        single.ingest_lines(session)
        assert _observed(grouped) == _observed(single)


# ============================================================================= bad inputs

A_FILL = {
    "type": "fill",
    "client_order_id": "A",
    "trade_id": "t9",
    "price": "100",
    "ts": "2026-11-20T10:01:00Z",
}


def _with(**fields: Any) -> str:
    return json.dumps({**A_FILL, **fields})


BAD_LINES = [
    ("nan-json-literal", _with(quantity="1").replace('"1"', "NaN"), "NaN is not a number"),
    ("nan-string", _with(quantity="NaN"), "quantity must be finite"),
    ("infinity", _with(quantity="-Infinity"), "quantity must be finite"),
    ("negative-quantity", _with(quantity="-3"), "quantity must be positive"),
    ("zero-quantity", _with(quantity="0"), "quantity must be positive"),
    ("zero-price", _with(quantity="1", price="0"), "price must be positive"),
    ("naive-timestamp", _with(quantity="1", ts="2026-11-20T10:01:00"), "ts has no UTC offset"),
    ("bad-timestamp", _with(quantity="1", ts="yesterday"), "ts is not an ISO 8601 time"),
    ("unknown-type", json.dumps({"type": "teleport", "ts": "2026-11-20T10:00:00Z"}), "unknown message type"),
    ("unknown-field", _with(quantity="1", colour="red"), "unknown field 'colour'"),
    ("malformed-json", '{"type": "fill", "quantity": 1', "malformed JSON"),
    ("not-an-object", "[1, 2, 3]", "a message must be a JSON object"),
    ("duplicate-key", '{"type": "fill", "type": "fill"}', "duplicate key 'type'"),
    ("no-order-key", json.dumps({"type": "canceled", "ts": "2026-11-20T10:00:00Z"}), "needs client_order_id"),
    ("overfill", _with(quantity="7"), "overfill"),
    ("trade-id-conflict", _with(trade_id="t1", quantity="5"), "already booked with quantity 4"),
    (
        "reject-after-ack",
        json.dumps(fact("rejected", "A", seconds=9)),
        "only a requested or held order can be rejected",
    ),
    ("reused-client-order-id", json.dumps(request("A", quantity="11")), "different quantity"),
    ("reused-client-order-id-side", json.dumps(request("A", side="sell")), "different side"),
    ("limit-without-price", json.dumps(request("Z", price=None)), "price is required"),
]


@pytest.mark.parametrize(
    ("bad_line", "reason"), [(b, r) for _, b, r in BAD_LINES], ids=[n for n, _, _ in BAD_LINES]
)
def test_a_bad_input_leaves_the_store_unchanged(ledger: OrderLedger, bad_line: str, reason: str) -> None:
    ledger.ingest_lines(lines(*BASE))
    before = store_state(ledger)
    views_before = view_rows(ledger)
    order_before = ledger.order("A").snapshot()

    report = ledger.ingest_lines([bad_line], origin="bad.jsonl")

    assert report.counts["rejected"] == 1
    assert reason in (report.rejected[0].reason or ""), report.rejected[0].reason
    after = store_state(ledger)
    assert (after["events"], after["max_notification_id"]) == (
        before["events"],
        before["max_notification_id"],
    )
    assert (after["identities"], after["parked"]) == (before["identities"], before["parked"])
    assert after["messages"][:-1] == before["messages"]
    new = journal(ledger)[-1]
    assert (new.origin, new.line_no, new.raw, new.outcome, new.event_count) == (
        "bad.jsonl",
        1,
        bad_line.encode(),
        "rejected",
        0,
    )
    assert new.reason is not None and reason in new.reason
    assert view_rows(ledger) == views_before
    assert ledger.order("A").snapshot() == order_before


def test_record_refuses_a_bad_fact_with_a_reason_and_stores_only_its_journal_row(ledger: OrderLedger) -> None:
    assert ledger.record(request("A")).outcome == "applied"
    before = store_state(ledger)

    result = ledger.record(fill("A", "t1", "-1"))

    assert result.outcome == "rejected"
    assert result.reason == "quantity must be positive, not -1"
    after = store_state(ledger)
    assert after["events"] == before["events"]
    assert after["messages"][-1][1:3] == ("api", None)
    assert after["messages"][-1][4:6] == ("rejected", "quantity must be positive, not -1")


def test_record_refuses_a_message_that_cannot_be_encoded_with_a_typed_error(ledger: OrderLedger) -> None:
    """A lone surrogate cannot be written as UTF-8 JSON: a MessageError, and nothing is stored."""
    from orderledger.infrastructure.errors import MessageError

    before = store_state(ledger)
    with pytest.raises(MessageError, match="cannot be written as JSON"):
        ledger.record(request("bad\ud800"))
    assert store_state(ledger) == before
