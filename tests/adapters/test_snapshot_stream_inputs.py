"""A snapshot stream beside the other inputs of its venue and account, and beside other writers.

Closing an order by absence from a stream of snapshots (docs/reconciliation.md) is a function
of the stream's snapshots and the order's facts, whatever their arrival: an order the ledger
learns of from another input after the snapshots that lack it is judged by them when it is
learnt, and a writer whose snapshot commits after another writer's order is judged again.

The stream is of a venue ``hl`` and account ``main``; the order is a SOL buy of 0.1 at 60 (the
instrument and figures of ccxt's recorded Hyperliquid open order, tests/adapters/test_snapshot_stream.py).
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderledger.domain.values import Status
from orderledger.infrastructure.adapters.snapshots import feed
from orderledger.infrastructure.application.ledger import OrderLedger
from tests.support.books import all_books

REQUEST = {"type": "request", "client_order_id": "c-1", "ts": "2024-03-05T14:00:00Z", "venue": "hl",
           "account": "main", "instrument": "SOL", "side": "buy", "order_type": "limit",
           "quantity": "0.1", "price": "60"}  # fmt: skip
ACCEPTED = {
    "type": "accepted",
    "client_order_id": "c-1",
    "ts": "2024-03-05T14:00:01Z",
    "venue_order_id": "V-1",
}
ORDER_LINES = [json.dumps(REQUEST), json.dumps(ACCEPTED)]


def snapshot(minute: int, *rows: dict[str, Any]) -> str:
    return json.dumps({"venue": "hl", "account": "main", "as_of": f"2024-03-05T14:{minute:02d}:00Z",
                       "open_orders": list(rows), "closed_orders": []})  # fmt: skip


# c-1 is created at 14:00:00; with the 60 s grace window, the first snapshots that may close it
# are those from 14:01:00 on. The 14:02 and 14:03 snapshots lack V-1: it is closed at the second.
SNAPSHOTS = [snapshot(2), snapshot(3)]
CLOSED_AT_3 = (
    "absent from two consecutive snapshots of the venue's open orders, the second at "
    "2024-03-05T14:03:00.000000Z (reconciliation)"
)


def _in_order() -> dict[str, object]:
    with OrderLedger("memory://") as reference:
        assert reference.ingest_lines(ORDER_LINES).counts["rejected"] == 0
        assert reference.ingest_lines(SNAPSHOTS, format="snapshots").counts["rejected"] == 0
        order = reference.order("c-1")
        assert (order.status, order.reason, order.updated_at.isoformat()) == (
            Status.CANCELED,
            CLOSED_AT_3,
            "2024-03-05T14:03:00+00:00",
        )
        return all_books(reference)


def test_an_order_learnt_after_the_snapshots_that_lack_it_is_closed_by_them(stored_url: str) -> None:
    """The snapshots first, then the order's lines in a later ingest of a new process: the order
    is judged by the stream's snapshots when it is learnt, and closed at 14:03 as in order."""
    expected = _in_order()
    with OrderLedger(stored_url) as ledger:
        assert ledger.ingest_lines(SNAPSHOTS, format="snapshots").counts["rejected"] == 0
    with OrderLedger(stored_url) as ledger:  # another process: the snapshots are only journaled
        assert ledger.ingest_lines(ORDER_LINES).counts["rejected"] == 0
        order = ledger.order("c-1")
        assert (order.status, order.reason) == (Status.CANCELED, CLOSED_AT_3)
        assert all_books(ledger) == expected
        # Both lines again: known, nothing new, and nothing judged again.
        assert ledger.ingest_lines(ORDER_LINES).counts["applied"] == 0
        assert all_books(ledger) == expected


def test_each_arrival_of_the_order_and_the_snapshots_gives_the_books_in_order() -> None:
    """Every interleaving of the order's two lines and the two snapshots, one line per ingest
    (the order's lines in their own order: a request first), ends as in order."""
    expected = _in_order()
    lines = [("ledger", ORDER_LINES[0]), ("ledger", ORDER_LINES[1])]
    shots = [("snapshots", SNAPSHOTS[0]), ("snapshots", SNAPSHOTS[1])]
    for places in ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)):
        arrival: list[tuple[str, str]] = []
        order_lines, snaps = iter(lines), iter(shots)
        for position in range(4):
            arrival.append(next(order_lines) if position in places else next(snaps))
        with OrderLedger("memory://") as ledger:
            for fmt, line in arrival:
                assert ledger.ingest_lines([line], format=fmt).counts["rejected"] == 0
            assert all_books(ledger) == expected, arrival


def test_a_snapshot_committed_after_another_writers_order_judges_it(
    stored_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writer A reads the 14:03 snapshot while writer B records the order: B judges the order by
    the snapshots committed then (14:02 only: not closed), A's snapshot was judged before the
    order existed. A sees after its commit that another writer committed meanwhile and judges
    the stream again: closed at 14:03, as in order."""
    expected = _in_order()
    with OrderLedger(stored_url) as writer_a, OrderLedger(stored_url) as writer_b:
        assert writer_a.ingest_lines(SNAPSHOTS[:1], format="snapshots").counts["rejected"] == 0
        judge = feed.SnapshotFeed.messages

        def judged_then_b_writes(self: feed.SnapshotFeed, raw: bytes, notes: list[str]) -> Any:
            found = judge(self, raw, notes)
            if self.ledger is writer_a:
                assert writer_b.ingest_lines(ORDER_LINES).counts["rejected"] == 0
                assert writer_b.order("c-1").status is Status.ACCEPTED  # 14:02 alone closes nothing
            return found

        monkeypatch.setattr(feed.SnapshotFeed, "messages", judged_then_b_writes)
        assert writer_a.ingest_lines(SNAPSHOTS[1:], format="snapshots").counts["rejected"] == 0
    with OrderLedger(stored_url) as ledger:
        order = ledger.order("c-1")
        assert (order.status, order.reason) == (Status.CANCELED, CLOSED_AT_3)
        assert all_books(ledger) == expected


# The same order listed by the venue under both its IDs (a venue that reports the client order
# ID on its open orders): listed at 14:02 and 14:03, then missing from 14:05 and 14:06, so
# closed by absence at 14:06 (both past the 60 s grace window after its last listing).
LISTED = {"venue_order_id": "V-1", "client_order_id": "c-1", "instrument": "SOL", "side": "buy",
          "order_type": "limit", "quantity": "0.1", "price": "60", "filled_quantity": "0",
          "status": "open", "created_at": "2024-03-05T14:00:00Z"}  # fmt: skip
LISTED_SESSION = [
    ("ledger", ORDER_LINES[0]),
    ("ledger", ORDER_LINES[1]),
    ("snapshots", snapshot(2, LISTED)),
    ("snapshots", snapshot(3, LISTED)),
    ("snapshots", snapshot(5)),
    ("snapshots", snapshot(6)),
]


def _listed_in_order() -> dict[str, object]:
    with OrderLedger("memory://") as reference:
        for fmt, line in LISTED_SESSION:
            assert reference.ingest_lines([line], format=fmt).counts["rejected"] == 0
        order = reference.order("c-1")
        assert (order.status, order.external, order.updated_at.isoformat()) == (
            Status.CANCELED,
            False,  # our request
            "2024-03-05T14:06:00+00:00",
        )
        assert order.reason == CLOSED_AT_3.replace("14:03", "14:06")
        return all_books(reference)


def test_our_request_after_the_venue_listed_the_order_makes_it_ours() -> None:
    """The acceptance, then a snapshot listing the order (the venue reports it before the
    ledger has our request: an external order c-1), then our request: the order is ours, not
    external, as when the request comes first; the history says so with an
    ``OrderDetailsAdded`` of ``external`` false."""
    expected = _listed_in_order()
    arrival = [LISTED_SESSION[1], LISTED_SESSION[2], LISTED_SESSION[0], *LISTED_SESSION[3:]]
    with OrderLedger("memory://") as ledger:
        for fmt, line in arrival:
            assert ledger.ingest_lines([line], format=fmt).counts["rejected"] == 0
        added = [e.event for e in ledger.history("c-1") if type(e.event).__name__ == "OrderDetailsAdded"]
        assert [getattr(e, "external", None) for e in added] == [False]
        assert ledger.order("c-1").external is False
        assert all_books(ledger) == expected


@settings(
    max_examples=60 if os.environ.get("ORDERLEDGER_SOAK") else 12,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(arrival=st.permutations(LISTED_SESSION))
def test_any_arrival_of_our_lines_and_the_snapshots_gives_the_books_in_order(
    arrival: list[tuple[str, str]],
) -> None:
    """Our two lines and four snapshots, one per ingest, in any order: the books in order."""
    expected = _listed_in_order()
    with OrderLedger("memory://") as ledger:
        for fmt, line in arrival:
            assert ledger.ingest_lines([line], format=fmt).counts["rejected"] == 0
        assert all_books(ledger) == expected
