"""``ingest --format snapshots``: consecutive open-orders snapshots through reconciliation.

Each line is a reconcile snapshot document (docs/reconciliation.md). The rows are the
published Hyperliquid open order of ccxt's recorded ``fetchOpenOrders`` "open orders" reply
(SOL, oid 6928553534, buy 0.1 at 60; ccxt/ccxt ts/src/test/static/response/hyperliquid.json)
in the reconcile row shape, on a venue named ``hl``.
"""

from __future__ import annotations

import itertools
import json
import os
import random
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderledger.domain.values import Status
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.reads.view_queries import list_trades
from tests.support.books import all_books
from tests.support.totals import totals

ROW = {"venue_order_id": "6928553534", "instrument": "SOL", "side": "buy", "order_type": "limit",
       "quantity": "0.1", "price": "60", "filled_quantity": "0", "status": "open"}  # fmt: skip


def snapshot(minute: int, *rows: dict[str, Any], closed: tuple[dict[str, Any], ...] = ()) -> str:
    return json.dumps({"venue": "hl", "account": "main", "as_of": f"2024-03-05T14:{minute:02d}:00Z",
                       "open_orders": list(rows), "closed_orders": list(closed)})  # fmt: skip


@pytest.fixture
def ledger(stored_ledger: OrderLedger) -> OrderLedger:
    """This module's ledgers are stored ones (tests/adapters/conftest.py)."""
    return stored_ledger


def ingest(ledger: OrderLedger, *lines: str) -> dict[str, int]:
    return ledger.ingest_lines(list(lines), format="snapshots").counts


def test_new_updated_and_closed_orders_through_reconciliation(ledger: OrderLedger) -> None:
    # Snapshot 1: the order appears → external order, acknowledged.
    # Snapshot 2: 0.04 filled at an average of 60 → an inferred fill of 0.04 at 60.
    # Snapshot 3: listed as canceled with 0.04 filled → closed, nothing more filled.
    stream = [
        snapshot(0, ROW),
        snapshot(1, dict(ROW, filled_quantity="0.04", average_price="60", status="partially_filled")),
        snapshot(2, closed=(dict(ROW, filled_quantity="0.04", average_price="60", status="canceled"),)),
    ]
    counts = ingest(ledger, *stream)
    assert counts["applied"] == 3 and counts["rejected"] == 0
    order = ledger.order("ext-hl-6928553534")
    assert (order.status, order.filled_quantity, order.price) == (
        Status.CANCELED,
        Decimal("0.04"),
        Decimal("60"),
    )
    ((trade_id, quantity, price),) = [
        (t["trade_id"], t["quantity"], t["price"]) for t in list_trades(ledger.db)
    ]
    assert (trade_id[:9], quantity, price) == ("inferred-", "0.04", "60")
    # The same stream again records nothing new.
    again = ingest(ledger, *stream)
    assert again["applied"] == 0 and again["rejected"] == 0


def test_a_gap_never_closes_an_order_missing_once(ledger: OrderLedger) -> None:
    # The order is seen at 14:00, missing at 14:05 (a snapshot cut short), back at 14:06.
    ingest(ledger, snapshot(0, ROW), snapshot(5), snapshot(6, ROW))
    assert ledger.order("ext-hl-6928553534").status is Status.ACCEPTED
    # Missing from two consecutive snapshots (past the 60 s grace window): closed as canceled.
    ingest(ledger, snapshot(10), snapshot(11))
    assert ledger.order("ext-hl-6928553534").status is Status.CANCELED


# The order's creation time in ccxt's recorded reply (``timestamp`` 1709643776949).
CREATED = "2024-03-05T13:02:56.949Z"
GROWING = [
    snapshot(0, dict(ROW, created_at=CREATED)),
    snapshot(1, dict(ROW, created_at=CREATED, filled_quantity="0.02", average_price="60")),
    snapshot(2, dict(ROW, created_at=CREATED, filled_quantity="0.05", average_price="59.88")),
    snapshot(3, closed=(dict(ROW, created_at=CREATED, filled_quantity="0.1", average_price="59.9",
                             status="filled"),)),
]  # fmt: skip
GROWING_FILLS = [
    # (order, quantity, price, venue time): one fill per total, at the snapshot that shows it.
    ("ext-hl-6928553534", "0.02", "60", "2024-03-05T14:01:00.000000Z"),
    # (0.05 × 59.88 − 0.02 × 60) / 0.03 = (2.994 − 1.2) / 0.03 = 1.794 / 0.03 = 59.8
    ("ext-hl-6928553534", "0.03", "59.8", "2024-03-05T14:02:00.000000Z"),
    # (0.1 × 59.9 − 2.994) / 0.05 = (5.99 − 2.994) / 0.05 = 2.996 / 0.05 = 59.92
    ("ext-hl-6928553534", "0.05", "59.92", "2024-03-05T14:03:00.000000Z"),
]


def _fills(ledger: OrderLedger) -> list[tuple[str, str, str, str]]:
    return sorted(
        (t["client_order_id"], t["quantity"], t["price"], t["ts_event"]) for t in list_trades(ledger.db)
    )


def test_snapshots_read_in_any_order_give_the_fills_of_venue_time(stored_url: str) -> None:
    """Each total a snapshot shows is one inferred fill at its time, whatever order the
    snapshots are read in: a snapshot read after later ones re-splits the fills they inferred
    (``adapters.tradier.cumulative``), and the order is stamped when the venue created it, not when
    a snapshot first listed it. Every order of the four snapshots, one per ingest of a reopened
    ledger, gives the fills, the order and the position of the stream read in order."""
    with OrderLedger("memory://") as reference:
        counts = ingest(reference, *GROWING)
        assert counts["rejected"] == 0
        assert _fills(reference) == GROWING_FILLS
        order = reference.order("ext-hl-6928553534")
        assert (order.status, order.filled_quantity) == (Status.FILLED, Decimal("0.1"))
        assert order.created_at.isoformat() == "2024-03-05T13:02:56.949000+00:00"
        expected = all_books(reference)
    for number, arrival in enumerate(itertools.permutations(GROWING)):
        url = stored_url if number in (0, 23) else "memory://"  # the last: reversed
        with OrderLedger(url) as ledger:
            for line in arrival:
                assert ingest(ledger, line)["rejected"] == 0
            assert _fills(ledger) == GROWING_FILLS, arrival
            assert all_books(ledger) == expected, arrival
        if url == stored_url and number == 0:
            with OrderLedger(url) as ledger:  # the same stream again, reopened: nothing new
                assert ingest(ledger, *GROWING)["applied"] == 0


REPEATED = [
    snapshot(0, dict(ROW, created_at=CREATED)),
    snapshot(4, dict(ROW, created_at=CREATED, filled_quantity="0.01", average_price="60")),
    snapshot(7, dict(ROW, created_at=CREATED, filled_quantity="0.01", average_price="60")),
]
"""The order listed at 14:00, 0.01 filled at an average of 60 by 14:04, the same 0.01 at 14:07."""


def test_a_later_snapshot_repeating_a_total_leaves_the_order_changed_at_the_first(stored_url: str) -> None:
    """The 14:07 snapshot adds nothing to the 14:04 one: in order, one fill of 0.01 @ 60 at
    14:04, the order last changed then. Read first (a reopened ledger per snapshot), 14:07 books
    the fill at 14:07; 14:04 read next busts it (its ID names a time it did not happen at) and
    books it at 14:04. The busted fill's time is not one at which anything happened: once it is
    busted, the order is restated as last changed when it was acknowledged (13:02:56.949), and
    the fill at 14:04 then makes it 14:04, as in order."""
    with OrderLedger("memory://") as reference:
        assert ingest(reference, *REPEATED)["rejected"] == 0
        assert _fills(reference) == [("ext-hl-6928553534", "0.01", "60", "2024-03-05T14:04:00.000000Z")]
        assert reference.order("ext-hl-6928553534").updated_at.isoformat() == "2024-03-05T14:04:00+00:00"
        expected = all_books(reference)
    for line in (REPEATED[0], REPEATED[2], REPEATED[1]):
        with OrderLedger(stored_url) as ledger:
            assert ingest(ledger, line)["rejected"] == 0
    with OrderLedger(stored_url) as ledger:
        events = [
            (type(e).__name__, e.ts_event.isoformat()) for e in ledger.audit.order_events("ext-hl-6928553534")
        ]
        assert events == [
            ("OrderRequested", "2024-03-05T13:02:56.949000+00:00"),
            ("OrderAccepted", "2024-03-05T13:02:56.949000+00:00"),
            ("OrderFilled", "2024-03-05T14:07:00+00:00"),
            ("FillBusted", "2024-03-05T14:07:00+00:00"),
            ("OrderRestated", "2024-03-05T14:07:00+00:00"),
            ("OrderFilled", "2024-03-05T14:04:00+00:00"),
        ]
        restated = ledger.audit.order_events("ext-hl-6928553534")[4]
        assert restated.updated_at.isoformat() == "2024-03-05T13:02:56.949000+00:00"  # type: ignore[attr-defined]
        assert ledger.order("ext-hl-6928553534").updated_at.isoformat() == "2024-03-05T14:04:00+00:00"
        assert all_books(ledger) == expected


def test_a_real_execution_waiting_for_its_order_counts_in_the_snapshot_that_creates_it(
    ledger: OrderLedger,
) -> None:
    """The execution of 0.04 @ 60 (trade real-1) is recorded before any snapshot: no order has
    venue order ID 6928553534, so it waits. The 14:01 snapshot creates the order (releasing it)
    and shows 0.04 filled: 0.04 booked already, it infers nothing. One trade, 0.04 filled."""
    fill = {"type": "fill", "venue": "hl", "venue_order_id": "6928553534", "trade_id": "real-1",
            "quantity": "0.04", "price": "60", "ts": "2024-03-05T14:00:30Z"}  # fmt: skip
    assert ledger.record(fill).outcome.value == "parked"
    ingest(
        ledger, snapshot(1, dict(ROW, filled_quantity="0.04", status="partially_filled", average_price="60"))
    )
    order = ledger.order(ledger.resolve("6928553534", "hl"))
    assert (order.filled_quantity, order.status) == (Decimal("0.04"), Status.PARTIALLY_FILLED)
    assert [(t["trade_id"], t["quantity"]) for t in list_trades(ledger.db)] == [("real-1", "0.04")]


def test_a_total_that_falls_books_the_fills_of_the_highest_so_far_in_any_order(stored_url: str) -> None:
    """14:01 shows 0.04 filled at 60, 14:02 only 0.02 (a bust the ledger lacks: reported, not
    booked). In order, one fill of 0.04 at 14:01 and 14:02 changes nothing; read reversed,
    14:02 books 0.02 at 14:02, then 14:01 re-splits it: the same one fill of 0.04 at 14:01."""
    at_01 = snapshot(1, dict(ROW, filled_quantity="0.04", status="partially_filled", average_price="60"))
    at_02 = snapshot(2, dict(ROW, filled_quantity="0.02", status="partially_filled", average_price="60"))
    for lines in ([at_01, at_02], [at_02, at_01]):
        with OrderLedger("memory://") as ledger:
            for line in lines:
                ingest(ledger, line)
            assert [(t["ts_event"], t["quantity"], t["price"]) for t in list_trades(ledger.db)] == [
                ("2024-03-05T14:01:00.000000Z", "0.04", "60")
            ], lines
            assert ledger.order(ledger.resolve("6928553534", "hl")).filled_quantity == Decimal("0.04")


def test_a_created_at_after_the_snapshot_is_refused(ledger: OrderLedger) -> None:
    late = snapshot(0, dict(ROW, created_at="2024-03-05T14:00:01Z"))
    report = ledger.ingest_lines([late], format="snapshots")
    assert report.counts["rejected"] == 1
    (result,) = report.rejected
    assert result.reason == (
        "open_orders[0].created_at 2024-03-05T14:00:01.000000Z is after the snapshot's as_of "
        "2024-03-05T14:00:00.000000Z"
    )


def test_a_stream_fed_one_snapshot_per_ingest_closes_an_order_missing_twice(ledger: OrderLedger) -> None:
    # Each snapshot its own ingest (a job that takes the latest list every few minutes): the
    # order seen at 14:00, missing at 14:10 and 14:11 (past the 60 s grace window) is closed at
    # the second absence, as one ingest of all three closes it; missing once, it stays open.
    ingest(ledger, snapshot(0, ROW))
    ingest(ledger, snapshot(10))
    assert ledger.order("ext-hl-6928553534").status is Status.ACCEPTED
    ingest(ledger, snapshot(11))
    order = ledger.order("ext-hl-6928553534")
    assert order.status is Status.CANCELED
    assert order.updated_at.isoformat() == "2024-03-05T14:11:00+00:00"


# Two orders of one stream. A (the recorded SOL buy) fills 0.04 at 60 by 14:01 and is gone
# from 14:05 on. B, a sell of 1 at 70 created at 14:00:30, is missing from the 14:05 and 14:06
# snapshots (cut short, say) and listed again from 14:10, with 0.5 filled at 70 at 14:11.
B_ROW = {"venue_order_id": "7000000001", "instrument": "SOL", "side": "sell", "order_type": "limit",
         "quantity": "1", "price": "70", "filled_quantity": "0", "status": "open",
         "created_at": "2024-03-05T14:00:30Z"}  # fmt: skip
A_ROW = dict(ROW, created_at=CREATED)
VANISHING = [
    snapshot(0, A_ROW),
    snapshot(1, dict(A_ROW, filled_quantity="0.04", average_price="60"), B_ROW),
    snapshot(5),
    snapshot(6),
    snapshot(10, B_ROW),
    snapshot(11, dict(B_ROW, filled_quantity="0.5", average_price="70", status="partially_filled")),
]
A_ID, B_ID = "ext-hl-6928553534", "ext-hl-7000000001"
ABSENT_AT_6 = (
    "absent from two consecutive snapshots of the venue's open orders, the second at "
    "2024-03-05T14:06:00.000000Z (reconciliation)"
)


def _orders(ledger: OrderLedger) -> list[tuple[str, Status, Decimal, tuple[str, ...], str | None, str]]:
    return [
        (
            o.client_order_id,
            o.status,
            o.filled_quantity,
            tuple(o.anomalies),
            o.reason,
            o.updated_at.isoformat(),
        )
        for o in (ledger.order(A_ID), ledger.order(B_ID))
    ]


VANISHING_ORDERS = [
    # A: after its last listing (14:01) the 14:05 and 14:06 snapshots lack it, both past the
    # 60 s grace window: closed at the second, 14:06, with the 0.04 it filled.
    (A_ID, Status.CANCELED, Decimal("0.04"), (), ABSENT_AT_6, "2024-03-05T14:06:00+00:00"),
    # B: listed at 14:11, after every snapshot that lacks it: open, 0.5 of 1 filled, and no
    # late fill; its last fact is that fill at 14:11.
    (B_ID, Status.PARTIALLY_FILLED, Decimal("0.5"), (), None, "2024-03-05T14:11:00+00:00"),
]


def test_an_order_missing_from_two_snapshots_closes_at_the_second_in_venue_time_whatever_the_arrival(
    stored_url: str,
) -> None:
    """Closing by absence is a function of the stream's snapshots as a set: in order in one
    ingest, reversed one per ingest of a reopened ledger, shuffled in one ingest and shuffled
    one per ingest, the orders (status, filled, anomalies, reason, last venue time), trades and
    positions are the same."""
    with OrderLedger("memory://") as reference:
        assert ingest(reference, *VANISHING)["rejected"] == 0
        assert _orders(reference) == VANISHING_ORDERS
        assert _fills(reference) == [
            (A_ID, "0.04", "60", "2024-03-05T14:01:00.000000Z"),
            (B_ID, "0.5", "70", "2024-03-05T14:11:00.000000Z"),
        ]
        expected = all_books(reference)
    shuffled = VANISHING[:]
    random.Random(3).shuffle(shuffled)
    arrivals = [[[line] for line in reversed(VANISHING)], [shuffled], [[line] for line in shuffled]]
    for chunk in arrivals[0]:
        with OrderLedger(stored_url) as ledger:  # a new process for each ingest
            assert ingest(ledger, *chunk)["rejected"] == 0
    with OrderLedger(stored_url) as ledger:
        assert _orders(ledger) == VANISHING_ORDERS
        assert all_books(ledger) == expected
        assert ingest(ledger, *VANISHING)["applied"] == 0  # everything known: nothing new
    for chunks in arrivals[1:]:
        with OrderLedger("memory://") as ledger:
            for chunk in chunks:
                assert ingest(ledger, *chunk)["rejected"] == 0
            assert _orders(ledger) == VANISHING_ORDERS, chunks
            assert all_books(ledger) == expected, chunks


def test_a_closure_a_later_listing_contradicts_is_withdrawn_and_both_stay_in_the_history(
    ledger: OrderLedger,
) -> None:
    # Read in order, one per ingest: at 14:06 B has been missing twice, so it is closed there;
    # the 14:10 snapshot lists it again, which withdraws that closure, and 14:11's fill books
    # on a working order, not as a late fill.
    for line in VANISHING[:4]:
        ingest(ledger, line)
    closed = ledger.order(B_ID)
    assert (closed.status, closed.reason) == (Status.CANCELED, ABSENT_AT_6)
    for line in VANISHING[4:]:
        ingest(ledger, line)
    assert _orders(ledger) == VANISHING_ORDERS
    events = [
        (type(e.event).__name__, e.event.ts_event.isoformat(), getattr(e.event, "reason", None))
        for e in ledger.history(B_ID)
    ]
    assert events == [
        # External, stamped at its created_at; acknowledged as venue order 7000000001.
        ("OrderRequested", "2024-03-05T14:00:30+00:00", None),
        ("OrderAccepted", "2024-03-05T14:00:30+00:00", None),
        ("OrderCanceled", "2024-03-05T14:06:00+00:00", ABSENT_AT_6),
        (
            "OrderReinstated",
            "2024-03-05T14:06:00+00:00",
            "closure by absence at 2024-03-05T14:06:00.000000Z withdrawn: the venue lists it open at "
            "2024-03-05T14:10:00.000000Z (reconciliation)",
        ),
        # The order as its other facts make it: accepted, last changed when it was acknowledged.
        ("OrderRestated", "2024-03-05T14:06:00+00:00", None),
        ("OrderFilled", "2024-03-05T14:11:00+00:00", None),
    ]
    restated = ledger.history(B_ID)[4].event
    assert (restated.base_status, restated.updated_at.isoformat()) == (  # type: ignore[attr-defined]
        Status.ACCEPTED,
        "2024-03-05T14:00:30+00:00",
    )


def test_a_snapshot_read_late_between_two_absences_moves_the_closure_earlier(ledger: OrderLedger) -> None:
    # A is listed at 14:01, then the 14:06 and 14:10 snapshots lack it: closed at 14:10. The
    # 14:05 snapshot, read last, lacks it too: the second snapshot without it is now 14:06, so
    # the closure at 14:10 is withdrawn and the order is closed at 14:06, as in order.
    for line in (VANISHING[0], VANISHING[1], snapshot(6), snapshot(10)):
        ingest(ledger, line)
    assert ledger.order(A_ID).updated_at.isoformat() == "2024-03-05T14:10:00+00:00"
    ingest(ledger, snapshot(5))
    order = ledger.order(A_ID)
    assert (order.status, order.reason, order.updated_at.isoformat()) == (
        Status.CANCELED,
        ABSENT_AT_6,
        "2024-03-05T14:06:00+00:00",
    )
    withdrawn = [e.event for e in ledger.history(A_ID) if type(e.event).__name__ == "OrderReinstated"]
    assert [(w.canceled_at.isoformat(), w.reason) for w in withdrawn] == [  # type: ignore[attr-defined]
        (
            "2024-03-05T14:10:00+00:00",
            "closure by absence at 2024-03-05T14:10:00.000000Z withdrawn: the stream's snapshots "
            "close it at 2024-03-05T14:06:00.000000Z (reconciliation)",
        )
    ]


@st.composite
def streams(draw: st.DrawFn) -> list[str]:
    """A stream of 3 to 6 snapshots (minutes 0 to 15 past 14:00) of two orders, each listed in
    any of them (with gaps), its filled total growing, repeated or never off zero (``totals``),
    created at its first listing or before the first snapshot, and perhaps listed as canceled
    after its last listing."""
    minutes = sorted(draw(st.lists(st.integers(0, 15), min_size=3, max_size=6, unique=True)))
    shown: dict[int, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {m: ([], []) for m in minutes}
    for name, side in (("O1", "buy"), ("O2", "sell")):
        listed = [m for m in minutes if draw(st.booleans())]
        if not listed:
            continue
        early = draw(st.booleans())
        created = "2024-03-05T13:59:30Z" if early else f"2024-03-05T14:{listed[0]:02d}:00Z"
        shown_filled = draw(totals(len(listed), Decimal("0.01")))
        row = dict(ROW, venue_order_id=name, side=side, created_at=created)
        for minute, filled in zip(listed, shown_filled, strict=True):
            row = dict(row, filled_quantity=str(filled), **({"average_price": "60"} if filled else {}))
            shown[minute][0].append(row)
        later = [m for m in minutes if m > listed[-1]]
        closes = draw(st.booleans())
        if later and closes:
            shown[draw(st.sampled_from(later))][1].append(dict(row, status="canceled"))
    return [snapshot(m, *rows, closed=tuple(closed)) for m, (rows, closed) in shown.items()]


@settings(
    max_examples=40 if os.environ.get("ORDERLEDGER_SOAK") else 8,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(lines=streams(), data=st.data())
def test_any_arrival_and_split_of_a_stream_gives_the_books_of_the_stream_in_order(
    tmp_path_factory: pytest.TempPathFactory, lines: list[str], data: st.DataObject
) -> None:
    """The snapshots permuted at random and cut into ingests, the ledger reopened before some of
    them (separate processes): the books of the stream read in order in one ingest."""
    with OrderLedger("memory://") as reference:
        assert ingest(reference, *lines)["rejected"] == 0
        expected = all_books(reference)
    arrival = data.draw(st.permutations(lines), label="arrival")
    cuts = sorted(data.draw(st.sets(st.integers(1, len(lines) - 1)), label="cuts"))
    chunks = [arrival[a:b] for a, b in itertools.pairwise([0, *cuts, len(lines)])]
    reopen = data.draw(st.lists(st.booleans(), min_size=len(chunks), max_size=len(chunks)), label="reopen")
    url = f"sqlite:///{tmp_path_factory.mktemp('stream') / 'ledger.db'}"
    ledger = OrderLedger(url)
    try:
        for chunk, again in zip(chunks, reopen, strict=True):
            if again:
                ledger.close()
                ledger = OrderLedger(url)
            ingest(ledger, *chunk)
        assert all_books(ledger) == expected
    finally:
        ledger.close()


def test_a_closed_row_read_late_replaces_a_closure_by_absence_with_the_venues(ledger: OrderLedger) -> None:
    # A, last listed at 14:01, is missing at 14:05 and 14:06: closed by absence at 14:06. The
    # 14:12 snapshot, read last, lists it as canceled: the venue's word ends it, so the closure
    # by absence is withdrawn and the order is canceled at 14:12, as in order.
    gone = dict(A_ROW, filled_quantity="0.04", average_price="60", status="canceled")
    for line in (*VANISHING[:4], snapshot(12, closed=(gone,))):
        ingest(ledger, line)
    order = ledger.order(A_ID)
    assert (order.status, order.filled_quantity, order.reason, order.updated_at.isoformat()) == (
        Status.CANCELED,
        Decimal("0.04"),
        "canceled at the venue (reconciliation 2024-03-05T14:12:00.000000Z)",
        "2024-03-05T14:12:00+00:00",
    )
    assert [type(e.event).__name__ for e in ledger.history(A_ID)][-4:] == [
        "OrderCanceled",  # by absence, at 14:06
        "OrderReinstated",
        "OrderRestated",
        "OrderCanceled",  # at the venue, at 14:12
    ]


def test_the_streams_index_is_the_journals_and_is_rebuilt_from_it(stored_url: str) -> None:
    """What closing by absence reads of a stream is an index of the journal's snapshot lines,
    kept in the database (a process holds none of it): after VANISHING, one snapshot per ingest
    of a reopened ledger and 14:12, it holds the seven times, A last listed at 14:01, B at 14:11.
    Emptied, the next snapshot rebuilds it from the journal: the 14:12 and 14:13 snapshots that
    lack B (listed last at 14:11) then close it at 14:13, the second of them, as before."""
    for line in VANISHING:
        with OrderLedger(stored_url) as ledger:
            assert ingest(ledger, line)["rejected"] == 0
    with OrderLedger(stored_url) as ledger:
        ingest(ledger, snapshot(12))  # indexed once committed, as each line before it
        with ledger.db.read() as tx:
            times = [r[0] for r in tx.all("SELECT as_of FROM snapshot_times ORDER BY as_of")]
            rows = tx.all("SELECT venue_order_id, listed, closed FROM snapshot_rows ORDER BY venue_order_id")
        assert times == [f"2024-03-05T14:{m:02d}:00.000000Z" for m in (0, 1, 5, 6, 10, 11, 12)]
        assert [tuple(r) for r in rows] == [
            ("6928553534", "2024-03-05T14:01:00.000000Z", None),
            ("7000000001", "2024-03-05T14:11:00.000000Z", None),
        ]
        with ledger.db.write() as tx:
            for table in ("snapshot_times", "snapshot_rows", "snapshot_index"):
                tx.execute(f"DELETE FROM {table}")
    with OrderLedger(stored_url) as ledger:
        assert ledger.order(B_ID).status is Status.PARTIALLY_FILLED  # absent once, at 14:12
        ingest(ledger, snapshot(13))
        order = ledger.order(B_ID)
        assert (order.status, order.reason) == (Status.CANCELED, ABSENT_AT_6.replace("14:06", "14:13"))
        with ledger.db.read() as tx:
            # Rebuilt: the seven lines before 14:13 (at the catch-up before it was judged), then
            # 14:13 once committed.
            assert tx.one("SELECT COUNT(*) FROM snapshot_times")[0] == 8


def test_a_long_ingest_indexes_its_snapshots_as_it_goes(stored_url: str) -> None:
    """A process holds only the snapshot it is reading: each committed line is indexed before
    the next is judged, so after one ingest of VANISHING's six the index holds the six times,
    and the ingest decides what it decides with every snapshot at once."""
    with OrderLedger(stored_url) as ledger:
        assert ingest(ledger, *VANISHING)["rejected"] == 0
        with ledger.db.read() as tx:
            assert tx.one("SELECT COUNT(*) FROM snapshot_times")[0] == 6
        assert _orders(ledger) == VANISHING_ORDERS
