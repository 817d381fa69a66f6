"""What did the ledger know, and when: ``order``, ``orders --open`` and ``positions`` with ``--as-of``,
by recorded time (the ledger's clock) and with ``--event-time`` by venue time.

The session is recorded with a controlled clock, each fact at a chosen recorded time, and one
fill arrives late: trade t1 happened at the venue at T0+3 s but reached the ledger at T0+30 s.
So at T0+10 s the two clocks give different answers, worked out by hand below.

    recorded  venue  fact                                   event
    T0+0      T0+0   request A: buy 10 BTC-USD at 100        1
    T0+1      T0+1   accepted A (VO-A)                       2
    T0+5      T0+5   fill A t2: 6 at 101                     3
    T0+6      T0+6   request B: sell 5 BTC-USD at 110        4
    T0+7      T0+7   fill B t3: 2 at 110                     5
    T0+30     T0+3   fill A t1: 4 at 100 (arrives late)      6
    T0+31     T0+31  cancel requested B                      7
    T0+32     T0+32  canceled B                              8

Both orders are in one position (acc1, V1, BTC-USD), booked in log order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from orderledger.infrastructure.application.ledger import OrderLedger
from tests.support.audit import Clock, Recorder, fact, fill, orderledger, request, ts


@pytest.fixture(params=("sqlite", "postgres"))
def backend(request: pytest.FixtureRequest) -> str:
    """The commands run on the backends another process can share (SQLite file, PostgreSQL)."""
    return str(request.param)


def record_session(url: str) -> None:
    clock = Clock()
    ledger = OrderLedger(url, clock=clock)
    try:
        feed = Recorder(ledger, clock)
        feed.at(0, request("A", seconds=0))
        feed.at(1, fact("accepted", "A", seconds=1, venue_order_id="VO-A"))
        feed.at(5, fill("A", "t2", "6", "101", seconds=5))
        feed.at(6, request("B", seconds=6, side="sell", quantity="5", price="110"))
        feed.at(7, fill("B", "t3", "2", "110", seconds=7))
        feed.at(30, fill("A", "t1", "4", "100", seconds=3))
        feed.at(31, fact("cancel_requested", "B", seconds=31))
        feed.at(32, fact("canceled", "B", seconds=32, reason="user"))
        assert all(r.counts["applied"] == 1 and r.lines == 1 for r in feed.reports)
    finally:
        ledger.close()


@pytest.fixture
def session(file_ledger_url: str) -> Iterator[str]:
    record_session(file_ledger_url)
    yield file_ledger_url


def _order(db: str, client_order_id: str, *args: str) -> dict[str, Any]:
    order: dict[str, Any] = orderledger("order", client_order_id, *args, "--json", db=db).json()
    return order


def _brief(order: dict[str, Any]) -> tuple[Any, ...]:
    return (order["status"], order["filled_quantity"], order["average_price"], order["version"])


def test_order_as_of_recorded_time_is_what_the_ledger_knew(session: str) -> None:
    assert _brief(_order(session, "A", "--as-of", ts(0))) == ("requested", "0", None, 1)
    assert _brief(_order(session, "A", "--as-of", ts(4))) == ("accepted", "0", None, 2)
    # At T0+10 only t2 was known: 6 at 101.
    assert _brief(_order(session, "A", "--as-of", ts(10))) == ("partially_filled", "6", "101", 3)
    assert _brief(_order(session, "A", "--as-of", ts(29.999999))) == ("partially_filled", "6", "101", 3)
    # From T0+30 the late t1 is known: (6 × 101 + 4 × 100) / 10 = 100.6.
    assert _brief(_order(session, "A", "--as-of", ts(30))) == ("filled", "10", "100.6", 4)
    assert _order(session, "A", "--as-of", ts(3600)) == _order(session, "A")

    early = orderledger("order", "A", "--as-of", ts(-1), db=session)
    assert f"order 'A' did not exist at {ts(-1)}" in early.one_line_failure(2)


def test_order_as_of_venue_time_counts_the_late_fill_when_it_happened(session: str) -> None:
    # By venue time, t1 (4 at 100) happened at T0+3 and t2 at T0+5.
    assert _brief(_order(session, "A", "--as-of", ts(2), "--event-time")) == ("accepted", "0", None, 2)
    assert _brief(_order(session, "A", "--as-of", ts(4), "--event-time")) == (
        "partially_filled",
        "4",
        "100",
        4,
    )
    assert _brief(_order(session, "A", "--as-of", ts(10), "--event-time")) == ("filled", "10", "100.6", 4)
    # The same instant, two answers: the ledger did not know of t1 at T0+10.
    assert _order(session, "A", "--as-of", ts(10))["filled_quantity"] == "6"
    # By its venue order ID, and with an offset that names the same instant.
    assert _order(session, "VO-A", "--as-of", "2026-11-20T11:00:04+01:00", "--event-time")["version"] == 4


def _open(db: str, *args: str) -> list[tuple[str, str, str]]:
    rows = orderledger("orders", "--open", *args, "--json", db=db).json()
    return [(r["client_order_id"], r["status"], r["filled_quantity"]) for r in rows]


def test_open_orders_as_of_recorded_and_venue_time(session: str) -> None:
    assert _open(session, "--as-of", ts(0.5)) == [("A", "requested", "0")]
    assert _open(session, "--as-of", ts(5.5)) == [("A", "partially_filled", "6")]
    assert _open(session, "--as-of", ts(10)) == [
        ("A", "partially_filled", "6"),
        ("B", "partially_filled", "2"),
    ]
    assert _open(session, "--as-of", ts(30)) == [("B", "partially_filled", "2")]
    assert _open(session, "--as-of", ts(31)) == [("B", "pending_cancel", "2")]
    assert _open(session, "--as-of", ts(32)) == []
    assert _open(session, "--as-of", ts(3600)) == _open(session) == []

    # By venue time A was filled at T0+5, so at T0+10 only B was open.
    assert _open(session, "--as-of", ts(4), "--event-time") == [("A", "partially_filled", "4")]
    assert _open(session, "--as-of", ts(10), "--event-time") == [("B", "partially_filled", "2")]

    every = orderledger("orders", "--as-of", ts(10), "--json", db=session).json()
    assert [(r["client_order_id"], r["status"]) for r in every] == [
        ("A", "partially_filled"),
        ("B", "partially_filled"),
    ]
    assert orderledger("orders", "--as-of", ts(3600), "--json", db=session).json() == (
        orderledger("orders", "--json", db=session).json()
    )


def _position(db: str, *args: str) -> tuple[Any, ...]:
    rows = orderledger("positions", *args, "--json", db=db).json()
    assert [(r["account"], r["venue"], r["instrument"]) for r in rows] == [("acc1", "V1", "BTC-USD")]
    row = rows[0]
    return (row["quantity"], row["average_price"], row["realized_pnl"])


def test_positions_as_of_recorded_and_venue_time(session: str) -> None:
    assert orderledger("positions", "--as-of", ts(4), "--json", db=session).json() == []
    # Recorded time, T0+10: bought 6 at 101 (t2), sold 2 at 110 (t3): 4 left at 101,
    # realized (110 − 101) × 2 = 18.
    assert _position(session, "--as-of", ts(10)) == ("4", "101", "18")
    # From T0+30, t1 (buy 4 at 100 at T0+3) is folded in its place in venue time, before t2:
    # 10 at (4 × 100 + 6 × 101) / 10 = 100.6, then t3 realizes (110 − 100.6) × 2 = 18.8, and
    # 8 at 100.6 are left. The two answers are what the ledger reported before and after the
    # late fill arrived.
    assert _position(session, "--as-of", ts(30)) == ("8", "100.6", "18.8")
    assert orderledger("positions", "--as-of", ts(3600), "--json", db=session).json() == (
        orderledger("positions", "--json", db=session).json()
    )

    # Venue time: at T0+4 only t1 had happened (buy 4 at 100).
    assert _position(session, "--as-of", ts(4), "--event-time") == ("4", "100", "0")
    # At T0+10 all three trades had happened; the fold books them in venue time (t1, t2, t3),
    # so the answer is the same as by recorded time at T0+30.
    assert _position(session, "--as-of", ts(10), "--event-time") == ("8", "100.6", "18.8")
    marked = orderledger(
        "positions", "--as-of", ts(10), "--mark", "BTC-USD=105", "--json", db=session
    ).json()[0]
    assert (marked["unrealized_pnl"], marked["mark"]) == ("16", "105")  # (105 − 101) × 4


# ---------------------------------------------------------------------- a bust that precedes its fill


def record_early_bust(url: str) -> None:
    """A fill stamped T0+5 at the venue, busted with a venue time of T0+3 (the ledger accepts it)."""
    clock = Clock()
    ledger = OrderLedger(url, clock=clock)
    try:
        feed = Recorder(ledger, clock)
        feed.at(0, request("A", seconds=0))
        feed.at(5, fill("A", "t1", "4", "100", seconds=5))
        feed.at(6, fact("fill_busted", "A", seconds=3, trade_id="t1", reason="erroneous"))
        assert [r.counts["applied"] for r in feed.reports] == [1, 1, 1]
    finally:
        ledger.close()


def test_order_as_of_venue_time_before_the_fill_ignores_its_bust(file_ledger_url: str) -> None:
    record_early_bust(file_ledger_url)
    assert _brief(_order(file_ledger_url, "A", "--as-of", ts(4), "--event-time")) == (
        "requested",
        "0",
        None,
        1,
    )


def test_open_orders_as_of_venue_time_before_the_fill_ignore_its_bust(file_ledger_url: str) -> None:
    record_early_bust(file_ledger_url)
    assert _open(file_ledger_url, "--as-of", ts(4), "--event-time") == [("A", "requested", "0")]


def test_positions_as_of_venue_time_before_the_fill_ignore_its_bust(file_ledger_url: str) -> None:
    record_early_bust(file_ledger_url)
    assert (
        orderledger("positions", "--as-of", ts(4), "--event-time", "--json", db=file_ledger_url).json() == []
    )
