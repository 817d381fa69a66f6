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
from orderledger.infrastructure.application.feeds import snapshots
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


ARRIVALS = settings(
    max_examples=60 if os.environ.get("ORDERLEDGER_SOAK") else 12,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
"""Arrivals drawn per test (every one of a session's 720 is in the soak's reach)."""


def _ingest_each(ledger: OrderLedger, lines: list[tuple[str, str]]) -> None:
    """Each line in its own ingest, in the given order: none rejected."""
    for fmt, line in lines:
        assert ledger.ingest_lines([line], format=fmt).counts["rejected"] == 0, (fmt, line)


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
        judge = snapshots.SnapshotFeed.messages

        def judged_then_b_writes(self: snapshots.SnapshotFeed, raw: bytes, notes: list[str]) -> Any:
            found = judge(self, raw, notes)
            if self.ledger is writer_a:
                assert writer_b.ingest_lines(ORDER_LINES).counts["rejected"] == 0
                assert writer_b.order("c-1").status is Status.ACCEPTED  # 14:02 alone closes nothing
            return found

        monkeypatch.setattr(snapshots.SnapshotFeed, "messages", judged_then_b_writes)
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
        _ingest_each(reference, LISTED_SESSION)
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
        _ingest_each(ledger, arrival)
        added = [e.event for e in ledger.history("c-1") if type(e.event).__name__ == "OrderDetailsAdded"]
        assert [getattr(e, "external", None) for e in added] == [False]
        assert ledger.order("c-1").external is False
        assert all_books(ledger) == expected


@ARRIVALS
@given(arrival=st.permutations(LISTED_SESSION))
def test_any_arrival_of_our_lines_and_the_snapshots_gives_the_books_in_order(
    arrival: list[tuple[str, str]],
) -> None:
    """Our two lines and four snapshots, one per ingest, in any order: the books in order."""
    expected = _listed_in_order()
    with OrderLedger("memory://") as ledger:
        _ingest_each(ledger, arrival)
        assert all_books(ledger) == expected


# The venue lists the order by its venue order ID alone (no client order ID on its rows): a
# snapshot read before our acknowledgement finds no order of ours with V-1 and keeps an external
# order for it (ext-hl-V-1); the acknowledgement then merges that order into c-1.
BY_VENUE_ID = {k: v for k, v in LISTED.items() if k != "client_order_id"}
BY_VENUE_ID_SESSION = [
    ("ledger", ORDER_LINES[0]),
    ("ledger", ORDER_LINES[1]),
    ("snapshots", snapshot(2, BY_VENUE_ID)),
    ("snapshots", snapshot(3, BY_VENUE_ID)),
    ("snapshots", snapshot(5)),
    ("snapshots", snapshot(6)),
]


def _by_venue_id_in_order() -> dict[str, object]:
    with OrderLedger("memory://") as reference:
        _ingest_each(reference, BY_VENUE_ID_SESSION)
        order = reference.order("c-1")
        assert (order.status, order.external, order.venue_order_ids) == (Status.CANCELED, False, ["V-1"])
        assert order.reason == CLOSED_AT_3.replace("14:03", "14:06")
        assert [o.client_order_id for o in reference.orders()] == ["c-1"]
        return all_books(reference)


def test_an_order_listed_by_its_venue_id_before_our_acknowledgement_is_merged_into_ours(
    stored_url: str,
) -> None:
    """The request, the 14:02 snapshot (V-1 unknown: an external order), then the acceptance
    c-1 → V-1, each line by a process of its own: the external order is merged into c-1, leaves
    the books and leads to c-1; the later snapshots find c-1 by V-1."""
    expected = _by_venue_id_in_order()
    arrival = [
        BY_VENUE_ID_SESSION[0],
        BY_VENUE_ID_SESSION[2],
        BY_VENUE_ID_SESSION[1],
        *BY_VENUE_ID_SESSION[3:],
    ]
    for line in arrival:
        with OrderLedger(stored_url) as writer:
            _ingest_each(writer, [line])
    with OrderLedger(stored_url) as ledger:
        kinds = [type(e.event).__name__ for e in ledger.history("ext-hl-V-1")]
        assert kinds == ["OrderRequested", "OrderAccepted", "OrderMerged"]
        assert ledger.resolve("V-1", venue="hl") == "c-1"
        assert all_books(ledger) == expected


@ARRIVALS
@given(arrival=st.permutations(BY_VENUE_ID_SESSION))
def test_any_arrival_of_an_order_listed_by_its_venue_id_gives_the_books_in_order(
    arrival: list[tuple[str, str]],
) -> None:
    """Our two lines and four snapshots that name the order by its venue order ID only, one per
    ingest, in any order: the books in order (an external order kept meanwhile is merged)."""
    expected = _by_venue_id_in_order()
    with OrderLedger("memory://") as ledger:
        _ingest_each(ledger, arrival)
        assert all_books(ledger) == expected


# The same order filling: the venue's totals are 0.02 at an average of 60 (14:02), then 0.05 at
# 59.88 (14:03: 0.03 more at (0.05 × 59.88 − 0.02 × 60) / 0.03 = (2.994 − 1.2) / 0.03 = 59.8),
# then it is listed closed, canceled, at 14:05. Inferred fills: 0.02 @ 60 at 14:02 and
# 0.03 @ 59.8 at 14:03; the order ends canceled with 0.05 filled at 59.88.
def _closed_snapshot(minute: int, row: dict[str, Any]) -> str:
    return json.dumps({"venue": "hl", "account": "main", "as_of": f"2024-03-05T14:{minute:02d}:00Z",
                       "open_orders": [], "closed_orders": [row]})  # fmt: skip


FILLING_SESSION = [
    ("ledger", ORDER_LINES[0]),
    ("ledger", ORDER_LINES[1]),
    ("snapshots", snapshot(2, dict(BY_VENUE_ID, filled_quantity="0.02", average_price="60"))),
    ("snapshots", snapshot(3, dict(BY_VENUE_ID, filled_quantity="0.05", average_price="59.88"))),
    (
        "snapshots",
        _closed_snapshot(
            5, dict(BY_VENUE_ID, filled_quantity="0.05", average_price="59.88", status="canceled")
        ),
    ),
]


def _filling_in_order() -> dict[str, object]:
    with OrderLedger("memory://") as reference:
        _ingest_each(reference, FILLING_SESSION)
        order = reference.order("c-1")
        assert (order.status, str(order.filled_quantity), str(order.average_price)) == (
            Status.CANCELED,
            "0.05",
            "59.88",
        )
        trades = sorted((str(t.quantity), str(t.price), t.ts_event.isoformat()) for t in reference.trades())
        assert trades == [
            ("0.02", "60", "2024-03-05T14:02:00+00:00"),
            ("0.03", "59.8", "2024-03-05T14:03:00+00:00"),
        ]
        return all_books(reference)


@ARRIVALS
@given(arrival=st.permutations(FILLING_SESSION))
def test_an_external_order_merged_into_ours_brings_its_fills_and_its_end(
    arrival: list[tuple[str, str]],
) -> None:
    """The filling order's lines and snapshots in any order, one per ingest: its fills and its
    closure end on c-1 as in order, whatever was booked on an external order meanwhile."""
    expected = _filling_in_order()
    with OrderLedger("memory://") as ledger:
        _ingest_each(ledger, arrival)
        assert all_books(ledger) == expected


def test_a_merged_fill_our_order_has_no_room_for_is_named_in_the_acknowledgements_journal_row() -> None:
    """c-1 (0.1) filled whole by our own fill T-9 (0.1 @ 60 at 14:01:30); the 14:02 snapshot,
    before our acknowledgement, lists V-1 with 0.02 filled: an external order with an inferred
    fill of 0.02. The acknowledgement merges it into c-1, which has no room for it
    (0.1 + 0.02 = 0.12 of 0.1): the fill stays busted on the external order, and the
    acknowledgement's journal row says so (it said nothing of it)."""
    fill = json.dumps({"type": "fill", "client_order_id": "c-1", "trade_id": "T-9", "quantity": "0.1",
                       "price": "60", "ts": "2024-03-05T14:01:30Z"})  # fmt: skip
    filled = snapshot(2, dict(BY_VENUE_ID, filled_quantity="0.02", average_price="60"))
    with OrderLedger("memory://") as ledger:
        _ingest_each(ledger, [("ledger", ORDER_LINES[0]), ("ledger", fill), ("snapshots", filled)])
        acknowledged = ledger.record(ACCEPTED)
        assert acknowledged.outcome.value == "applied"
        assert acknowledged.reason is not None
        said = acknowledged.reason.split("; ")[-1]
        assert said.startswith("the merged order's fill 'inferred-"), said
        assert said.endswith("would fill 0.12 of quantity 0.1 (overfill)"), said
        order = ledger.order("c-1")
        assert (order.status, str(order.filled_quantity)) == (Status.FILLED, "0.1")
        assert [(str(t.quantity), str(t.price)) for t in ledger.trades()] == [("0.1", "60")]
        history = [
            (type(e.event).__name__, getattr(e.event, "reason", None)) for e in ledger.history("ext-hl-V-1")
        ]
        assert history[-2:] == [("FillBusted", "merged into order 'c-1'"), ("OrderMerged", None)]
