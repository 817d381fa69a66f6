"""Queries a user runs: one order (now, at a version, as of a time), history, orders, trades,
positions and P&L. Expected figures are computed by hand in the comments.

Runs on every backend (memory, SQLite file, PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest

from orderledger.domain.errors import InvalidInputError, OrderNotFoundError
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.reads.view_queries import (
    list_orders,
    list_positions,
    list_trades,
    parse_marks,
    pnl_by,
)
from tests.support.integration import Clock, at, fact, fill, journal, lines, request, ts

R0 = at(3600)  # the ledger's clock when the first fact is recorded


def _recorded(ledger: OrderLedger, clock: Clock, steps: list[tuple[int, dict[str, Any]]]) -> None:
    """Ingest each message alone, with the ledger's clock at R0 + the given seconds."""
    for seconds, message in steps:
        clock.set(R0 + timedelta(seconds=seconds))
        report = ledger.ingest_lines(lines(message))
        assert report.counts["rejected"] == 0, report.rejected


# ============================================================================= one order


def test_an_order_now_at_a_version_and_as_of_a_recorded_time(make_ledger: Callable[..., OrderLedger]) -> None:
    clock = Clock()
    ledger = make_ledger(clock=clock)
    _recorded(
        ledger,
        clock,
        [
            (0, request("A")),
            (10, fact("accepted", "A", seconds=1, venue_order_id="V-1")),
            (20, fill("A", "t1", "4", seconds=2)),
            (30, fill("A", "t2", "6", "101", seconds=3)),
        ],
    )

    now = ledger.order("A").snapshot()
    # average price = (4 × 100 + 6 × 101) / 10 = 100.6
    assert (now["status"], now["filled_quantity"], now["average_price"], now["version"]) == (
        "filled",
        "10",
        "100.6",
        4,
    )

    v2 = ledger.order("A", version=2).snapshot()
    assert (v2["status"], v2["filled_quantity"], v2["venue_order_ids"], v2["version"]) == (
        "accepted",
        "0",
        ["V-1"],
        2,
    )
    v3 = ledger.order("A", version=3).snapshot()
    assert (v3["status"], v3["filled_quantity"], v3["leaves_quantity"]) == ("partially_filled", "4", "6")

    def as_of(seconds: float) -> dict[str, Any]:
        return ledger.order("A", as_of=R0 + timedelta(seconds=seconds)).snapshot()

    assert as_of(0) == ledger.order("A", version=1).snapshot()  # a fact recorded at T counts at T
    assert as_of(15) == v2
    assert as_of(20) == v3
    assert as_of(29.999999) == v3
    assert as_of(3600) == now
    with pytest.raises(OrderNotFoundError):
        ledger.order("A", as_of=R0 - timedelta(microseconds=1))
    with pytest.raises(OrderNotFoundError):
        ledger.order("nope")


def test_as_of_venue_time_differs_from_as_of_recorded_time(make_ledger: Callable[..., OrderLedger]) -> None:
    clock = Clock()
    ledger = make_ledger(clock=clock)
    _recorded(
        ledger,
        clock,
        [
            (0, request("A", seconds=0)),
            (10, fact("accepted", "A", seconds=1, venue_order_id="V-1")),
            (20, fill("A", "t2", "6", seconds=5)),  # the later trade reaches us first
            (30, fill("A", "t1", "4", seconds=3)),  # the earlier trade is delivered late
            (40, fact("fill_busted", "A", seconds=8, trade_id="t2")),
        ],
    )

    by_recorded = ledger.order("A", as_of=R0 + timedelta(seconds=25)).snapshot()
    assert (by_recorded["filled_quantity"], by_recorded["status"]) == ("6", "partially_filled")

    def by_venue(seconds: float) -> dict[str, Any]:
        return ledger.order("A", as_of=at(seconds), event_time=True).snapshot()

    assert by_venue(2)["status"] == "accepted"
    assert (by_venue(4)["filled_quantity"], by_venue(4)["status"]) == ("4", "partially_filled")
    assert (by_venue(6)["filled_quantity"], by_venue(6)["status"]) == ("10", "filled")
    assert (by_venue(9)["filled_quantity"], by_venue(9)["status"]) == ("4", "partially_filled")
    assert by_venue(9) == {**ledger.order("A").snapshot()}
    with pytest.raises(OrderNotFoundError):
        ledger.order("A", as_of=at(-1), event_time=True)


def test_as_of_venue_time_before_the_request_with_a_skewed_venue_clock(ledger: OrderLedger) -> None:
    ledger.ingest_lines(
        lines(
            request("A", seconds=10),
            fact("accepted", "A", seconds=9.99, venue_order_id="V-1"),  # venue clock 10 ms behind ours
            fill("A", "t1", "1", seconds=20),
        )
    )
    assert ledger.order("A", as_of=at(10), event_time=True).snapshot()["status"] == "accepted"

    with pytest.raises(OrderNotFoundError):
        ledger.order("A", as_of=at(9.995), event_time=True)


def test_history_pairs_each_event_with_its_message(ledger: OrderLedger) -> None:
    session = lines(
        request("A"),
        # A fill that names the venue order ID before any ack: an implied ack, then the fill.
        fill("A", "t1", "4", seconds=2, venue_order_id="V-1"),
        fill("A", "t1", "4", seconds=2, venue_order_id="V-1"),  # duplicate: no event
        fill("B", "t7", "1", seconds=3),  # parked until B exists
    )
    ledger.ingest_lines(session, origin="fix-drop.jsonl")
    ledger.ingest_lines(lines(request("B", seconds=4)), origin="late.jsonl")
    ledger.record(fact("canceled", "A", seconds=5, reason="user"))

    history = ledger.history("A")
    assert [(h.position, h.event.type_name(), h.message_origin, h.message_line) for h in history] == [
        (1, "OrderRequested", "fix-drop.jsonl", 1),
        (2, "OrderAccepted", "fix-drop.jsonl", 2),
        (3, "OrderFilled", "fix-drop.jsonl", 2),
        (6, "OrderCanceled", "api", None),
    ]
    assert [h.message_raw for h in history[:3]] == [
        session[0].encode(),
        session[1].encode(),
        session[1].encode(),
    ]
    assert history[1].message_id == history[2].message_id
    assert orjson.loads(history[3].message_raw or b"")["reason"] == "user"
    assert [h.event.originator_version for h in history] == [1, 2, 3, 4]

    b = ledger.history("B")
    assert [(h.event.type_name(), h.message_origin, h.message_line, h.message_raw) for h in b] == [
        ("OrderRequested", "late.jsonl", 1, lines(request("B", seconds=4))[0].encode()),
        ("OrderFilled", "fix-drop.jsonl", 4, session[3].encode()),
    ]
    # The journal knows the same message IDs.
    message_id = b[1].message_id
    assert message_id is not None
    assert {r.message_id: r.line_no for r in journal(ledger)}[message_id] == 4
    with pytest.raises(OrderNotFoundError):
        ledger.history("nope")


# ============================================================================= orders


def test_orders_open_filter_and_coordinates(ledger: OrderLedger) -> None:
    ledger.ingest_lines(
        lines(
            request("A", seconds=0),
            fact("accepted", "A", seconds=1, venue_order_id="VA"),  # accepted: open
            request("B", seconds=2),
            fill("B", "t1", "10", seconds=3),  # filled
            request("C", seconds=4),
            fact("canceled", "C", seconds=5),  # canceled
            request("D", seconds=6, account="other"),  # requested: open
            request("E", seconds=7, venue="W", instrument="ETH-USDT"),
            fill("E", "t2", "1", seconds=8),  # partially filled: open
            fact("cancel_requested", "E", seconds=9),  # pending cancel: open
            request("F", seconds=10),
            fact("rejected", "F", seconds=11),  # rejected
            request("G", seconds=12, venue="W"),
            fact("expired", "G", seconds=13),  # expired
        )
    )

    def ids(**filters: Any) -> list[str]:
        return [o["client_order_id"] for o in list_orders(ledger.db, **filters)]

    assert ids() == ["A", "B", "C", "D", "E", "F", "G"]
    assert ids(open_only=True) == ["A", "D", "E"]
    assert ids(open_only=True, account="acc") == ["A", "E"]
    assert ids(open_only=True, venue="W") == ["E"]
    assert ids(instrument="ETH-USDT") == ["E"]
    assert ids(venue="W") == ["E", "G"]
    assert ids(account="nobody") == []
    statuses = {o["client_order_id"]: o["status"] for o in list_orders(ledger.db)}
    assert statuses == {
        "A": "accepted",
        "B": "filled",
        "C": "canceled",
        "D": "requested",
        "E": "pending_cancel",
        "F": "rejected",
        "G": "expired",
    }
    # The view shows what the aggregate says.
    assert list_orders(ledger.db) == [ledger.order(c).snapshot() for c in "ABCDEFG"]


# ============================================================================= trades


def test_trades_filters(ledger: OrderLedger) -> None:
    ledger.ingest_lines(
        lines(
            request("A", seconds=0),
            fill("A", "a1", "1", seconds=10),
            fill("A", "a2", "2", seconds=20),
            request("B", seconds=0, account="beta", venue="W", instrument="ETH-USDT", side="sell"),
            fill("B", "b1", "3", "3000", seconds=15, fee="0.6", fee_currency="USDT", liquidity="maker"),
            request("C", seconds=0, venue="W"),
            fill("C", "c1", "4", seconds=30),
        )
    )

    def trades(**filters: Any) -> list[str]:
        return [t["trade_id"] for t in list_trades(ledger.db, **filters)]

    assert trades() == ["a1", "b1", "a2", "c1"]  # venue time order
    assert trades(account="beta") == ["b1"]
    assert trades(venue="W") == ["b1", "c1"]
    assert trades(instrument="BTC-USDT") == ["a1", "a2", "c1"]
    assert trades(client_order_id="A") == ["a1", "a2"]
    assert trades(since=ts(15)) == ["b1", "a2", "c1"]  # inclusive
    assert trades(until=ts(20)) == ["a1", "b1", "a2"]  # inclusive
    assert trades(since=ts(11), until=ts(29)) == ["b1", "a2"]
    assert trades(venue="W", since=ts(16)) == ["c1"]
    assert trades(account="alpha") == []
    b1 = list_trades(ledger.db, account="beta")[0]
    assert b1 == {
        "account": "beta",
        "venue": "W",
        "instrument": "ETH-USDT",
        "side": "sell",
        "client_order_id": "B",
        "venue_order_id": None,
        "trade_id": "b1",
        "quantity": "3",
        "price": "3000",
        "fee": "0.6",
        "fee_currency": "USDT",
        "liquidity": "maker",
        "ts_event": ts(15),
        "tags": {},
        "parent_id": None,
        "late": False,
    }


def test_a_late_fill_after_cancel_is_booked_and_flagged(ledger: OrderLedger) -> None:
    ledger.ingest_lines(
        lines(
            request("A"),
            fact("accepted", "A", seconds=1, venue_order_id="V-1"),
            fact("canceled", "A", seconds=2),
            fill(None, "t1", "10", seconds=3, venue="V", venue_order_id="V-1"),
        )
    )
    order = ledger.order("A").snapshot()
    assert (order["status"], order["filled_quantity"], order["anomalies"]) == (
        "canceled",
        "10",
        ["late_fill"],
    )
    assert [(t["trade_id"], t["late"]) for t in list_trades(ledger.db)] == [("t1", True)]
    assert list_positions(ledger.db)[0]["quantity"] == "10"


# ============================================================================= positions


def _positions(ledger: OrderLedger, *marks: str) -> dict[str, dict[str, Any]]:
    return {p["instrument"]: p for p in list_positions(ledger.db, parse_marks(list(marks)))}


def test_positions_with_marks(ledger: OrderLedger) -> None:
    ledger.ingest_lines(
        lines(
            # BTC-USDT: buy 10 @ 100, sell 4 @ 110 → realized (110 − 100) × 4 = 40; 6 left at 100.
            request("B1", seconds=0),
            fill("B1", "t1", "10", "100", seconds=1, fee="1", fee_currency="USDT"),
            request("S1", seconds=2, side="sell", quantity="4", price="110"),
            fill("S1", "t2", "4", "110", seconds=3, fee="0.5", fee_currency="USDT"),
            # ETH-USDT: a short of 5 @ 200, fee paid in ETH, the base coin → valued at the fill's price.
            request("S2", seconds=4, side="sell", instrument="ETH-USDT", quantity="5", price="200"),
            fill("S2", "t3", "5", "200", seconds=5, fee="0.01", fee_currency="ETH"),
            # XYZ has no quote currency in its name: no net figure either.
            request("B3", seconds=6, instrument="XYZ", quantity="2", price="7"),
            fill("B3", "t4", "2", "7", seconds=7),
        )
    )

    positions = _positions(ledger, "BTC-USDT=105", "ETH-USDT=190")

    btc = positions["BTC-USDT"]
    assert (btc["quantity"], Decimal(btc["average_price"])) == ("6", Decimal(100))
    assert Decimal(btc["realized_pnl"]) == Decimal(40)
    assert Decimal(btc["realized_pnl_net"]) == Decimal("38.5")  # 40 − 1 − 0.5, all in USDT
    assert Decimal(btc["unrealized_pnl"]) == Decimal(30)  # (105 − 100) × 6
    assert {k: Decimal(v) for k, v in btc["fees"].items()} == {"USDT": Decimal("1.5")}
    assert (btc["quote_currency"], btc["mark"], btc["account"], btc["venue"]) == ("USDT", "105", "acc", "V")

    eth = positions["ETH-USDT"]
    assert (eth["quantity"], Decimal(eth["average_price"])) == ("-5", Decimal(200))
    assert Decimal(eth["realized_pnl"]) == 0
    # The fee is in ETH, valued at the fill's price: 0.01 × 200 = 2 USDT; net 0 − 2 = −2
    assert (eth["fee_values"]["ETH"]["value"], eth["fee_values"]["ETH"]["source"]) == ("2.00", "fill")
    assert Decimal(eth["realized_pnl_net"]) == -2
    assert Decimal(eth["unrealized_pnl"]) == Decimal(50)  # (190 − 200) × −5

    xyz = positions["XYZ"]
    assert (xyz["quantity"], xyz["quote_currency"], xyz["realized_pnl_net"]) == ("2", None, None)
    assert xyz["unrealized_pnl"] is None and xyz["mark"] is None  # no mark given

    assert _positions(ledger)["BTC-USDT"]["unrealized_pnl"] is None
    with pytest.raises(InvalidInputError):
        parse_marks(["BTC-USDT"])
    with pytest.raises(InvalidInputError):
        parse_marks(["BTC-USDT=NaN"])


def test_a_position_through_zero_reopens_at_the_fill_price(ledger: OrderLedger) -> None:
    ledger.ingest_lines(
        lines(
            request("B", quantity="10", price="100"),
            fill("B", "t1", "10", "100", seconds=1),
            # sell 15 @ 120: closes 10 → realized (120 − 100) × 10 = 200; short 5 opens at 120.
            request("S", seconds=2, side="sell", quantity="15", price="120"),
            fill("S", "t2", "15", "120", seconds=3),
        )
    )
    btc = _positions(ledger, "BTC-USDT=110")["BTC-USDT"]
    assert (btc["quantity"], Decimal(btc["average_price"]), Decimal(btc["realized_pnl"])) == (
        "-5",
        Decimal(120),
        Decimal(200),
    )
    assert Decimal(btc["unrealized_pnl"]) == Decimal(50)  # (110 − 120) × −5


# ============================================================================= P&L


PNL_SESSION = (
    # alpha @ V, BTC-USDT (quote USDT)
    request("o1", seconds=0, account="alpha", tags={"strategy": "mm"}),
    fill("o1", "t1", "10", "100", seconds=1, fee="1", fee_currency="USDT"),  # opens 10 @ 100
    request(
        "o2", seconds=2, account="alpha", side="sell", quantity="4", price="110", tags={"strategy": "arb"}
    ),
    fill("o2", "t2", "4", "110", seconds=3, fee="0.5", fee_currency="USDT"),  # realizes +40
    request(
        "o3", seconds=86400, account="alpha", side="sell", quantity="6", price="95", tags={"strategy": "mm"}
    ),
    fill("o3", "t3", "6", "95", seconds=86401, fee="0.5", fee_currency="USDT"),  # next day: −30
    # beta @ W, ETH/USD (quote USD)
    request(
        "o4",
        seconds=4,
        account="beta",
        venue="W",
        instrument="ETH/USD",
        side="sell",
        quantity="2",
        price="3000",
        tags={"strategy": "arb"},
    ),
    fill("o4", "t4", "2", "3000", seconds=5, fee="0.2", fee_currency="USD"),  # opens short 2 @ 3000
    request("o5", seconds=86402, account="beta", venue="W", instrument="ETH/USD", quantity="2", price="2900"),
    fill("o5", "t5", "2", "2900", seconds=86403, fee="0.1", fee_currency="USD"),  # next day: +200
)


def _pnl(ledger: OrderLedger, by: str) -> list[tuple[Any, ...]]:
    def dec(value: str | None) -> Decimal | None:
        return None if value is None else Decimal(value)

    return [
        (
            row[by],
            row["quote_currency"],
            dec(row["realized_pnl"]),
            dec(row["realized_pnl_net"]),
            {k: Decimal(v) for k, v in row["fees"].items()},
            row["fills"],
        )
        for row in pnl_by(ledger.db, by)
    ]


def D(text: str) -> Decimal:
    return Decimal(text)


def test_pnl_grouped_by_day_account_venue_instrument_and_tag(ledger: OrderLedger) -> None:
    report = ledger.ingest_lines(lines(*PNL_SESSION))
    assert report.counts["applied"] == len(PNL_SESSION)

    assert _pnl(ledger, "day") == [
        ("2026-11-20", "USD", D("0"), D("-0.2"), {"USD": D("0.2")}, 1),
        ("2026-11-20", "USDT", D("40"), D("38.5"), {"USDT": D("1.5")}, 2),
        ("2026-11-21", "USD", D("200"), D("199.9"), {"USD": D("0.1")}, 1),
        ("2026-11-21", "USDT", D("-30"), D("-30.5"), {"USDT": D("0.5")}, 1),
    ]
    assert _pnl(ledger, "account") == [
        ("alpha", "USDT", D("10"), D("8"), {"USDT": D("2")}, 3),
        ("beta", "USD", D("200"), D("199.7"), {"USD": D("0.3")}, 2),
    ]
    assert _pnl(ledger, "venue") == [
        ("V", "USDT", D("10"), D("8"), {"USDT": D("2")}, 3),
        ("W", "USD", D("200"), D("199.7"), {"USD": D("0.3")}, 2),
    ]
    assert _pnl(ledger, "instrument") == [
        ("BTC-USDT", "USDT", D("10"), D("8"), {"USDT": D("2")}, 3),
        ("ETH/USD", "USD", D("200"), D("199.7"), {"USD": D("0.3")}, 2),
    ]
    assert _pnl(ledger, "tag:strategy") == [
        ("(none)", "USD", D("200"), D("199.9"), {"USD": D("0.1")}, 1),
        ("arb", "USD", D("0"), D("-0.2"), {"USD": D("0.2")}, 1),
        ("arb", "USDT", D("40"), D("39.5"), {"USDT": D("0.5")}, 1),
        ("mm", "USDT", D("-30"), D("-31.5"), {"USDT": D("1.5")}, 2),
    ]
    with pytest.raises(InvalidInputError):
        pnl_by(ledger.db, "colour")
    with pytest.raises(InvalidInputError):
        pnl_by(ledger.db, "tag:")


def test_net_pnl_is_null_when_a_fee_is_not_in_the_quote_currency(ledger: OrderLedger) -> None:
    ledger.ingest_lines(
        lines(
            request("o1"),
            fill("o1", "t1", "10", "100", seconds=1, fee="1", fee_currency="USDT"),
            request("o2", seconds=2, side="sell", quantity="10", price="101"),
            fill("o2", "t2", "10", "101", seconds=3, fee="0.001", fee_currency="BNB"),
        )
    )
    assert _pnl(ledger, "day") == [
        ("2026-11-20", "USDT", D("10"), None, {"BNB": D("0.001"), "USDT": D("1")}, 2),
    ]
    position = list_positions(ledger.db)[0]
    assert (Decimal(position["realized_pnl"]), position["realized_pnl_net"]) == (D("10"), None)


def test_a_bust_of_the_only_fill_reverses_it_everywhere(ledger: OrderLedger) -> None:
    ledger.ingest_lines(
        lines(
            request("A", tags={"strategy": "mm"}),
            fact("accepted", "A", seconds=1, venue_order_id="V-1"),
            fill("A", "t1", "10", "100", seconds=2, fee="1", fee_currency="USDT"),
        )
    )
    assert [t["trade_id"] for t in list_trades(ledger.db)] == ["t1"]

    ledger.ingest_lines(lines(fact("fill_busted", "A", seconds=3, trade_id="t1", reason="erroneous")))

    assert list_trades(ledger.db) == []
    order = ledger.order("A").snapshot()
    assert (order["status"], order["filled_quantity"], order["leaves_quantity"]) == ("accepted", "0", "10")
    position = _positions(ledger, "BTC-USDT=90")["BTC-USDT"]
    assert (position["quantity"], Decimal(position["realized_pnl"]), position["fees"]) == ("0", 0, {})
    assert Decimal(position["unrealized_pnl"]) == 0
    # The P&L report keeps both entries (the fill and its reversal) and they cancel out.
    # A busted trade did not happen: it moves no P&L, carries no fee and is not counted.
    assert _pnl(ledger, "tag:strategy") == [("mm", "USDT", D("0"), D("0"), {}, 0)]
    assert [o["client_order_id"] for o in list_orders(ledger.db, open_only=True)] == ["A"]


def _two_trades_then(ledger: OrderLedger, *after: dict[str, Any]) -> None:
    ledger.ingest_lines(
        lines(
            request("B", quantity="10", price="100"),
            fill("B", "t1", "10", "100", seconds=1),
            request("S", seconds=2, side="sell", quantity="4", price="110"),
            fill("S", "t2", "4", "110", seconds=3),
            *after,
        )
    )


def test_a_bust_of_a_closing_trade_reverses_its_realized_pnl(ledger: OrderLedger) -> None:
    _two_trades_then(ledger, fact("fill_busted", "S", seconds=5, trade_id="t2"))

    assert [t["trade_id"] for t in list_trades(ledger.db)] == ["t1"]
    position = _positions(ledger, "BTC-USDT=105")["BTC-USDT"]
    # As if the sell never happened: long 10 at 100, nothing realized, unrealized (105 − 100) × 10.
    assert (position["quantity"], Decimal(position["average_price"])) == ("10", D("100"))
    assert Decimal(position["realized_pnl"]) == 0
    assert Decimal(position["unrealized_pnl"]) == D("50")
    assert _pnl(ledger, "day")[0][2] == 0


def test_a_bust_keeps_the_total_pnl_of_the_remaining_trades(ledger: OrderLedger) -> None:
    _two_trades_then(ledger, fact("fill_busted", "S", seconds=5, trade_id="t2"))
    position = _positions(ledger, "BTC-USDT=105")["BTC-USDT"]
    # Only the buy of 10 at 100 remains: total P&L at 105 is (105 − 100) × 10 = 50.
    assert position["quantity"] == "10"
    assert Decimal(position["realized_pnl"]) + Decimal(position["unrealized_pnl"]) == D("50")
    assert [(o["client_order_id"], o["status"]) for o in list_orders(ledger.db, open_only=True)] == [
        ("S", "accepted")
    ]


def test_a_correction_of_the_only_fill_changes_trade_position_and_pnl(ledger: OrderLedger) -> None:
    ledger.ingest_lines(
        lines(
            request("B", quantity="10", price="100"),
            fill("B", "t1", "10", "100", seconds=1, fee="1", fee_currency="USDT"),
            fact("fill_corrected", "B", seconds=2, trade_id="t1", price="99", fee="0.9"),
        )
    )
    [trade] = list_trades(ledger.db)
    assert (trade["quantity"], trade["price"], trade["fee"], trade["ts_event"]) == ("10", "99", "0.9", ts(1))
    position = _positions(ledger, "BTC-USDT=105")["BTC-USDT"]
    assert (position["quantity"], Decimal(position["average_price"])) == ("10", D("99"))
    assert Decimal(position["unrealized_pnl"]) == D("60")  # (105 − 99) × 10
    assert {k: Decimal(v) for k, v in position["fees"].items()} == {"USDT": D("0.9")}
    assert Decimal(position["realized_pnl_net"]) == D("-0.9")
    order = ledger.order("B").snapshot()
    assert (order["filled_quantity"], order["average_price"]) == ("10", "99")

    # A smaller quantity reopens the order and shrinks the position.
    ledger.ingest_lines(lines(fact("fill_corrected", "B", seconds=3, trade_id="t1", quantity="6")))
    assert list_trades(ledger.db)[0]["quantity"] == "6"
    assert _positions(ledger)["BTC-USDT"]["quantity"] == "6"
    assert ledger.order("B").snapshot()["status"] == "partially_filled"


def test_a_correction_of_a_closing_trade_changes_its_realized_pnl(ledger: OrderLedger) -> None:
    _two_trades_then(ledger, fact("fill_corrected", "S", seconds=5, trade_id="t2", price="112"))

    assert [(t["trade_id"], t["price"]) for t in list_trades(ledger.db)] == [("t1", "100"), ("t2", "112")]
    position = _positions(ledger, "BTC-USDT=105")["BTC-USDT"]
    # buy 10 @ 100, sell 4 @ 112: realized (112 − 100) × 4 = 48; 6 left at 100.
    assert (position["quantity"], Decimal(position["average_price"])) == ("6", D("100"))
    assert Decimal(position["realized_pnl"]) == D("48")
    assert _pnl(ledger, "day")[0][2] == D("48")
