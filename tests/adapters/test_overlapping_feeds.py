"""Overlapping feeds: a REST poll and a websocket stream deliver the same orders and trades.

A collector polls ``fetch_open_orders``/``fetch_my_trades``/``fetch_orders`` while it also
listens to ``watch_orders``/``watch_my_trades``; both paths go through the CCXT adapter into
one ledger, interleaved in any order. Trades must count once, statuses must come out right,
and every interleaving must converge on the same orders, trades and positions.

The session (tests/adapters/fixtures/binance_spot.json), on BTC/USDT:
c-1 buys 1 @ 64000 in two trades (1001, 1002) → filled; c-2 sells 2 @ 65000, trade 1003 of 0.5,
then canceled; c-3 market-buys 0.1 (trade 1004, fee in BNB) → filled; c-4 IOC expires.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderledger.domain.values import Status
from orderledger.infrastructure.adapters.ccxt.payloads import payload_messages
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.reads.view_queries import list_positions, list_trades
from tests.support.adapters import check_valid

VENUE = "binance"
ACCOUNT = "acc1"
Payload = tuple[str, Any]  # (which feed, what fetch_*/watch_* returned)

EXPECTED = {
    "c-1": (Status.FILLED, Decimal("1"), ["4293153"]),
    "c-2": (Status.CANCELED, Decimal("0.5"), ["4293160"]),
    "c-3": (Status.FILLED, Decimal("0.1"), ["4293170"]),
    "c-4": (Status.EXPIRED, Decimal("0"), ["4293181"]),
}


def build_feeds(ccxt: Any, pro: Any, raw: dict[str, Any]) -> tuple[list[Payload], list[Payload]]:
    """The REST poll's payloads and the websocket stream's, each in its own time order."""
    rest = ccxt.binance()
    ws = pro.binance()
    for exchange in (rest, ws):
        exchange.set_markets([exchange.safe_market_structure(raw["market"])])
    poll: list[Payload] = [
        ("fetch_open_orders", [rest.parse_order(o) for o in raw["rest_open_orders_t1"]]),
        ("fetch_my_trades", [rest.parse_trade(t) for t in raw["rest_my_trades_t1"]]),
        ("fetch_orders", [rest.parse_order(o) for o in raw["rest_all_orders_t2"]]),
        ("fetch_my_trades", [rest.parse_trade(t) for t in raw["rest_my_trades_t2"]]),
    ]
    stream: list[Payload] = []
    for report in raw["ws_execution_reports"]:
        stream.append(("watch_orders", [ws.parse_ws_order(report)]))
        if report["x"] == "TRADE":
            stream.append(("watch_my_trades", [ws.parse_ws_trade(report)]))
    return poll, stream


@pytest.fixture
def feeds(
    ccxt_lib: Any, ccxt_pro: Any, fixture_json: Callable[[str], Any]
) -> tuple[list[Payload], list[Payload]]:
    return build_feeds(ccxt_lib, ccxt_pro, fixture_json("binance_spot.json"))


def interleave(poll: list[Payload], stream: list[Payload], seed: int) -> list[Payload]:
    """A random merge that keeps each feed's own order (as a real collector sees them)."""
    rng = random.Random(seed)
    a, b = list(poll), list(stream)
    out: list[Payload] = []
    while a or b:
        source = a if (a and (not b or rng.random() < len(a) / (len(a) + len(b)))) else b
        out.append(source.pop(0))
    return out


def ingest(ledger: OrderLedger, deliveries: list[Payload]) -> dict[str, int]:
    """Translate every payload and ingest each message as a line; returns outcome counts."""
    counts: dict[str, int] = {}
    for _name, payload in deliveries:
        messages = check_valid(payload_messages(payload, venue=VENUE, account=ACCOUNT))
        report = ledger.ingest_lines([json.dumps(m) for m in messages], origin=_name)
        for outcome, n in report.counts.items():
            counts[outcome] = counts.get(outcome, 0) + n
    return counts


def final_state(ledger: OrderLedger) -> dict[str, Any]:
    """What must not depend on the interleaving."""
    orders = {
        cid: (o.status, o.filled_quantity, o.venue_order_ids, o.average_price)
        for cid in EXPECTED
        for o in [ledger.order(cid)]
    }
    trades = sorted(
        (t["trade_id"], t["quantity"], t["price"], t["fee"], t["fee_currency"])
        for t in list_trades(ledger.db)
    )
    positions = [(p["instrument"], p["quantity"]) for p in list_positions(ledger.db)]
    return {"orders": orders, "trades": trades, "positions": positions}


def assert_session_right(ledger: OrderLedger, counts: dict[str, int]) -> None:
    assert counts.get("rejected", 0) == 0
    for client_id, (status, filled, venue_order_ids) in EXPECTED.items():
        order = ledger.order(client_id)
        assert (order.status, order.filled_quantity, order.venue_order_ids) == (
            status,
            filled,
            venue_order_ids,
        ), client_id
    trades = list_trades(ledger.db)
    assert sorted(t["trade_id"] for t in trades) == ["1001", "1002", "1003", "1004"]  # each once
    assert [(p["instrument"], Decimal(p["quantity"])) for p in list_positions(ledger.db)] == [
        # +1 (trades 1001, 1002) − 0.0004 − 0.0006 (their fees, paid in the BTC they bought:
        # docs/semantics.md, spot fees in the received coin) − 0.5 (1003, its fee in USDT leaves
        # the BTC alone) + 0.1 (1004, its fee in BNB)
        ("BTC/USDT", Decimal("0.599"))
    ]


def test_both_feeds_in_time_order_count_every_trade_once(feeds: tuple[list[Payload], list[Payload]]) -> None:
    poll, stream = feeds
    ledger = OrderLedger("memory://")
    try:
        counts = ingest(ledger, interleave(poll, stream, seed=0))
        assert_session_right(ledger, counts)
        assert counts["duplicate"] > 0  # the second feed's copies were recognised
    finally:
        ledger.close()


def ledger_order_of(venue_order_id: str) -> str:
    """The session's client order ID for a venue order ID (see EXPECTED)."""
    return next(cid for cid, (_s, _f, ids) in EXPECTED.items() if venue_order_id in ids)


def test_same_order_and_trade_translate_identically_on_both_paths(
    feeds: tuple[list[Payload], list[Payload]],
) -> None:
    poll, stream = feeds
    polled = [m for _n, p in poll for m in check_valid(payload_messages(p, venue=VENUE, account=ACCOUNT))]
    streamed = [m for _n, p in stream for m in check_valid(payload_messages(p, venue=VENUE, account=ACCOUNT))]
    fills = {m["trade_id"]: m for m in polled if m["type"] == "fill"}
    for fill in (m for m in streamed if m["type"] == "fill"):
        # The stream's trade knows its client order ID (executionReport "c"), the poll's
        # (GET /api/v3/myTrades) does not: otherwise identical, and one order either way.
        assert fill.pop("client_order_id") == ledger_order_of(fill["venue_order_id"])
        assert fill == fills[fill["trade_id"]]
    endings = {(m["type"], m["client_order_id"]): m for m in polled if m["type"] in ("canceled", "expired")}
    for ending in (m for m in streamed if m["type"] in ("canceled", "expired")):
        assert ending == endings[(ending["type"], ending["client_order_id"])]
    requests = {m["client_order_id"]: m for m in polled if m["type"] == "request"}
    for request in (m for m in streamed if m["type"] == "request"):
        assert request == requests[request["client_order_id"]]


def test_stream_replayed_after_the_poll_and_poll_repeated_change_nothing(
    feeds: tuple[list[Payload], list[Payload]],
) -> None:
    poll, stream = feeds
    ledger = OrderLedger("memory://")
    try:
        ingest(ledger, poll)
        before = final_state(ledger)
        again = ingest(ledger, stream + poll)  # a reconnect replays the stream, a poll repeats
        assert again.get("applied", 0) == 0
        assert final_state(ledger) == before
        assert_session_right(ledger, {})
    finally:
        ledger.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(min_value=0, max_value=2**32 - 1), shuffle=st.booleans())
def test_every_interleaving_converges(
    feeds: tuple[list[Payload], list[Payload]], seed: int, shuffle: bool
) -> None:
    poll, stream = feeds
    deliveries = interleave(poll, stream, seed)
    if shuffle:  # not even each feed's own order kept: a trade before its order, a cancel first …
        random.Random(seed).shuffle(deliveries)
    ledger = OrderLedger("memory://")
    try:
        counts = ingest(ledger, deliveries)
        assert_session_right(ledger, counts)
        reference = OrderLedger("memory://")
        try:
            ingest(reference, poll + stream)
            assert final_state(ledger) == final_state(reference)
        finally:
            reference.close()
    finally:
        ledger.close()


# ---------------------------------------------------------------------- without ccxt


def _order(status: str, filled: float, updated: int) -> dict[str, Any]:
    return {
        "id": "V-9",
        "clientOrderId": "c-9",
        "timestamp": 1795168800000,
        "datetime": "2026-11-20T10:00:00.000Z",
        "lastUpdateTimestamp": updated,
        "lastTradeTimestamp": None,
        "status": status,
        "symbol": "ETH/USDT",
        "type": "limit",
        "timeInForce": "GTC",
        "side": "sell",
        "price": 3000.5,
        "average": None,
        "amount": 3.0,
        "filled": filled,
        "remaining": 3.0 - filled,
        "cost": filled * 3000.5,
        "trades": [],
        "fee": None,
        "fees": [],
        "info": {},
    }


def _trade(trade_id: str, amount: float, at: int) -> dict[str, Any]:
    return {
        "id": trade_id,
        "order": "V-9",
        "timestamp": at,
        "datetime": None,
        "symbol": "ETH/USDT",
        "side": "sell",
        "takerOrMaker": "taker",
        "price": 3000.5,
        "amount": amount,
        "cost": amount * 3000.5,
        "fee": {"cost": 0.3, "currency": "USDT"},
        "fees": [],
        "info": {},
    }


def test_unified_payloads_on_two_paths_converge(ledger: OrderLedger) -> None:
    """The same check on hand-written unified structures (runs without ccxt)."""
    poll: list[Payload] = [
        ("fetch_open_orders", [_order("open", 1.0, 1795168801000)]),
        ("fetch_my_trades", [_trade("e-1", 1.0, 1795168801000), _trade("e-2", 2.0, 1795168802000)]),
        ("fetch_closed_orders", [_order("closed", 3.0, 1795168802000)]),
    ]
    stream: list[Payload] = [
        ("watch_orders", [_order("open", 0.0, 1795168800000)]),
        ("watch_my_trades", [_trade("e-1", 1.0, 1795168801000)]),
        ("watch_orders", [_order("open", 1.0, 1795168801000)]),
        ("watch_my_trades", [_trade("e-2", 2.0, 1795168802000)]),
        ("watch_orders", [_order("closed", 3.0, 1795168802000)]),
    ]
    counts = ingest(
        ledger, [stream[0], poll[0], stream[1], poll[1], stream[2], stream[3], poll[2], stream[4]]
    )
    assert counts.get("rejected", 0) == 0
    order = ledger.order("c-9")
    assert (order.status, order.filled_quantity, order.venue_order_ids) == (
        Status.FILLED,
        Decimal(3),
        ["V-9"],
    )
    assert sorted(t["trade_id"] for t in list_trades(ledger.db)) == ["e-1", "e-2"]


def test_a_poll_that_fetches_trades_before_orders_books_no_late_fill(
    feeds: tuple[list[Payload], list[Payload]],
) -> None:
    """c-2's trade happened before its cancel: polled trades-first, it is not flagged late."""
    poll, _stream = feeds
    open_t1, trades_t1, orders_t2, trades_t2 = poll
    ledger = OrderLedger("memory://")
    try:
        counts = ingest(ledger, [open_t1, trades_t1, trades_t2, orders_t2])
        assert_session_right(ledger, counts)
        assert all(ledger.order(cid).anomalies == [] for cid in EXPECTED)
    finally:
        ledger.close()
