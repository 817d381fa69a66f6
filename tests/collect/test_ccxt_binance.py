"""``collect ccxt`` on Binance USDⓈ-M: ccxt.pro's real ``binanceusdm`` class (its WebSocket and
REST clients) against the loopback Binance (tests/support/binance_venue.py), run by the real
``Collector``.

What the collector must catch besides the stream: the orders and trades Binance lists only by
symbol (userTrades, where ccxt itself asks for one, and allOrders, which ccxt asks without one
and the venue refuses), asked for each market held, open or named; an order that expired or was
rejected while the collector was away; a funding fee paid while it streams (ccxt has no funding
channel: ``/fapi/v1/income`` is read every ``funding_every`` seconds); a 429, whose
``Retry-After`` holds every request of the source; and ``listenKeyExpired``, after which the
venue sends nothing more on the key and leaves the socket open. SQLite and PostgreSQL; the waits run on an
injected clock.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from orderledger.infrastructure.application.reads.view_queries import cash_flows_by
from orderledger.infrastructure.collect.runner import Collector
from orderledger.infrastructure.collect.venues.ccxt import end_of_stream
from tests.support import ccxt_flows as flows
from tests.support.binance_venue import (
    ACCOUNT_UPDATE,
    ADAUSDT_POSITION,
    KEYS,
    LISTEN_KEY_EXPIRED,
    LoopbackBinance,
    order,
    order_update,
)
from tests.support.ccxt_loopback import Scenario, ccxt_source, drained, kept_ledger, streaming
from tests.support.clock import START, ManualClock
from tests.support.collect import books
from tests.support.collect_books import ROUND, Rounds, until

pytestmark = pytest.mark.timeout(120)


async def on_binance(url: str, venue: LoopbackBinance, scenario: Scenario, **options: str) -> Any:
    return await streaming(url, venue, "binanceusdm", lambda: bool(venue.sockets), scenario, **options)


def asked_symbols(venue: LoopbackBinance, path: str) -> list[str | None]:
    return [query.get("symbol") for _, p, query in venue.requests if p == path]


def asked_pages(venue: LoopbackBinance) -> list[tuple[str | None, str | None]]:
    return [(q.get("symbol"), q.get("startTime")) for _, p, q in venue.requests if p == "/fapi/v1/userTrades"]


def test_the_backfill_asks_each_market_held_or_open_by_symbol(stored_url: str) -> None:
    # Given Binance holding the docs' ADAUSDT position, ccxt's quoted BTCUSDT order still open
    # (a buy of 0.001 at 25000) and, in BTCUSDT, the repository's published session: two orders
    # filled by three trades (userTrades and allOrders, which need a symbol),
    venue = LoopbackBinance(now=lambda: START)
    venue.positions.append(ADAUSDT_POSITION)
    trades, filled = flows.binanceusdm_rest_payloads()
    venue.trades.extend(trades)
    for entry in [*filled, order()]:
        venue.orders[entry["orderId"]] = entry

    async def scenario(venue: LoopbackBinance, collector: Collector, rounds: Rounds) -> Any:
        ledger = collector.ledger.ledger
        await until(collector, lambda: len(books(ledger)["trades"]) == 3)
        return books(ledger)

    found = asyncio.run(on_binance(stored_url, venue, scenario))
    # when the collector starts (its backfill), then allOrders is asked once without a symbol
    # (refused: -1102), then for each market held or open, and so is userTrades (ccxt asks for
    # a symbol itself),
    assert asked_symbols(venue, "/fapi/v1/allOrders") == [None, "ADAUSDT", "BTCUSDT"]
    # each paged from the last trade's time (1612095165362, the close's) until a page is empty:
    # ADAUSDT empty at once; BTCUSDT's three, the close again, then nothing from 1612095165363.
    assert asked_pages(venue) == [
        ("ADAUSDT", None),
        ("BTCUSDT", None),
        ("BTCUSDT", "1612095165362"),
        ("BTCUSDT", "1612095165363"),
    ]
    # and the session is booked: bot-open-1 filled 0.001 + 0.001 = 0.002, the close 0.001, the
    # open buy with nothing filled; the trades 458032600, 458032601 and 458032604.
    assert [(o[0], o[1], o[2], o[3]) for o in found["orders"]] == [
        ("bot-open-1", "filled", "0.002", "0.002"),
        ("pb2jD6ZQHpfzSdUac8VqMK", "filled", "0.001", "0.001"),
        ("web_pCCGp9AIHjziKLlpGpXI", "accepted", "0.001", "0"),
    ]
    assert sorted(t[0] for t in found["trades"]) == ["458032600", "458032601", "458032604"]


def test_a_market_named_is_read_though_nothing_shows_it(stored_url: str) -> None:
    # Given Binance holding only the filled session in BTCUSDT: no position, no open order, no
    # funding, nothing on the stream to show the market,
    venue = LoopbackBinance(now=lambda: START)
    trades, filled = flows.binanceusdm_rest_payloads()
    venue.trades.extend(trades)
    for entry in filled:
        venue.orders[entry["orderId"]] = entry

    async def scenario(venue: LoopbackBinance, collector: Collector, rounds: Rounds) -> Any:
        ledger = collector.ledger.ledger
        await until(collector, lambda: len(books(ledger)["trades"]) == 3)
        return books(ledger)

    # when the collector is told the market (-o symbols=BTC/USDT:USDT),
    found = asyncio.run(on_binance(stored_url, venue, scenario, symbols="BTC/USDT:USDT"))
    # then its orders and trades are asked by symbol and booked (2 orders, 3 trades).
    assert {symbol for symbol, _ in asked_pages(venue)} == {"BTCUSDT"}
    assert [(o[0], o[1]) for o in found["orders"]] == [
        ("bot-open-1", "filled"),
        ("pb2jD6ZQHpfzSdUac8VqMK", "filled"),
    ]
    assert len(found["trades"]) == 3


def test_orders_that_expired_or_were_rejected_while_away_are_booked(stored_url: str) -> None:
    # Given the collector streaming an order Binance announced (a GTC buy of 0.001 at 25000),
    placed = order(orderId=151007482393, clientOrderId="expires-while-away")
    rejected = order(orderId=151007482394, clientOrderId="rejected-while-away", status="REJECTED")

    async def scenario(venue: LoopbackBinance, collector: Collector, rounds: Rounds) -> Any:
        ledger = collector.ledger.ledger
        await venue.record(placed)
        await until(collector, lambda: bool(books(ledger)["orders"]))
        # then, while the stream is lost, the order expires and another is rejected,
        venue.quiet = True
        await venue.record(placed | {"status": "EXPIRED", "updateTime": placed["updateTime"] + 1000})
        await venue.record(rejected)
        venue.quiet = False
        await venue.drop()
        # when the collector reconnects and backfills,
        await until(collector, lambda: len(books(ledger)["orders"]) == 2 and collector.status.reconnects > 0)
        await until(collector, lambda: {o[1] for o in books(ledger)["orders"]} == {"expired", "rejected"})
        return books(ledger)["orders"]

    orders = asyncio.run(on_binance(stored_url, LoopbackBinance(now=lambda: START), scenario))
    # then both are booked from allOrders: 0.001 asked, nothing filled.
    assert [(o[0], o[1], o[2], o[3]) for o in orders] == [
        ("expires-while-away", "expired", "0.001", "0"),
        ("rejected-while-away", "rejected", "0.001", "0"),
    ]


def test_a_funding_fee_paid_while_streaming_is_booked(stored_url: str) -> None:
    # Given the collector streaming, and then ccxt's quoted FUNDING_FEE income (ETHUSDT,
    # +0.00134317 USDT), which Binance announces only as an ACCOUNT_UPDATE ccxt's watches ignore,
    async def scenario(venue: LoopbackBinance, collector: Collector, rounds: Rounds) -> Any:
        asked = venue.asked("/fapi/v1/income", incomeType="FUNDING_FEE")
        await venue.fund(flows.raw("binanceusdm", "rest_income_funding"))
        # when the funding is read while streaming (one funding_every later),
        await rounds.run()
        db = kept_ledger(collector).db
        await until(collector, lambda: bool(cash_flows_by(db, "instrument")))
        read = venue.asked("/fapi/v1/income", incomeType="FUNDING_FEE") > asked
        return read, collector.status.reconnects, cash_flows_by(db, "instrument")

    read, reconnects, found = asyncio.run(
        on_binance(stored_url, LoopbackBinance(now=lambda: START), scenario)
    )
    # then it is booked without a reconnect: 0.00134317 USDT received.
    assert read and reconnects == 0
    assert found == [("ETH/USDT:USDT", "USDT", Decimal("0.00134317"))]


def test_a_429_holds_every_request_until_its_retry_after() -> None:
    # Given Binance with an open BTCUSDT order, answering the backfill's userTrades with HTTP 429
    # and Retry-After: 2, and a reconciliation's openOrders asked while that wait runs,
    async def scenario() -> tuple[list[Any], list[float]]:
        clock = ManualClock()
        async with LoopbackBinance(now=clock.now) as venue:
            venue.orders[151007482392] = order()
            source = ccxt_source("binanceusdm", venue, clock.timing(), funding_every=str(ROUND))
            try:
                await source.connect()
                venue.limit_next["/fapi/v1/userTrades"] = 2.0
                backfill = asyncio.create_task(drained(source))
                await clock.sleeping(2)  # the funding poll's wait, the gate's
                reconcile = asyncio.create_task(source.open_orders())
                await clock.sleeping(3)  # and the reconciliation's, at the gate
                await clock.advance(2.0)
                await asyncio.wait_for(asyncio.gather(backfill, reconcile), 30)
            finally:
                await source.close()
            wanted = ("/fapi/v1/userTrades", "/fapi/v1/openOrders")
            return [(at, path) for at, path, _ in venue.requests if path in wanted], clock.slept

    requests, slept = asyncio.run(scenario())
    start = START.timestamp()
    # then the refused request is sent again 2 s on, and the reconciliation waits as long:
    # (the backfill reads the open orders first, at 0 s; userTrades is refused at 0 s).
    assert [(at - start, path) for at, path in requests] == [
        (0.0, "/fapi/v1/openOrders"),
        (0.0, "/fapi/v1/userTrades"),
        (2.0, "/fapi/v1/userTrades"),
        (2.0, "/fapi/v1/openOrders"),
    ]
    # each wait being the Retry-After, 2 s less the 0 s passed: 2.0.
    assert slept.count(2.0) == 2


# Binance's spot reference, "User Data Streams", "Event Stream Terminated": the payload example
# (developers.binance.com/docs/binance-spot-api-docs/user-data-stream).
EVENT_STREAM_TERMINATED = {"subscriptionId": 0, "event": {"e": "eventStreamTerminated", "E": 1728973001334}}


def test_the_end_of_stream_notices_are_read_from_the_published_events() -> None:
    # The USDⓈ-M docs' listenKeyExpired and the spot docs' eventStreamTerminated (inside its
    # subscription's event) end a stream; an order update and an account update do not.
    assert end_of_stream(LISTEN_KEY_EXPIRED) == "listenKeyExpired"
    assert end_of_stream(EVENT_STREAM_TERMINATED) == "eventStreamTerminated"
    assert end_of_stream(order_update(order())) is None
    assert end_of_stream(ACCOUNT_UPDATE) is None
    assert end_of_stream([LISTEN_KEY_EXPIRED]) is None  # (a list is no event)


def test_listen_key_expired_is_a_lost_connection_with_a_new_key_and_a_backfill(stored_url: str) -> None:
    # Given the collector streaming the published session's opening order, bot-open-1 (a buy
    # of 0.002 BTCUSDT, nothing filled yet: the stream's NEW),
    trades, (opened, closing) = flows.binanceusdm_rest_payloads()
    new = opened | {"status": "NEW", "executedQty": "0", "cumQty": "0", "cumQuote": "0", "avgPrice": "0"}

    async def scenario(venue: LoopbackBinance, collector: Collector, rounds: Rounds) -> Any:
        ledger = collector.ledger.ledger
        await venue.record(new | {"updateTime": new["time"]})
        await until(collector, lambda: len(books(ledger)["orders"]) == 1)
        # while Binance's stream says nothing (its pushes lost): bot-open-1 fills by two trades
        # and the closing order by a third,
        venue.quiet = True
        venue.orders[opened["orderId"]] = opened
        venue.orders[closing["orderId"]] = closing
        venue.trades.extend(trades)
        # when the venue pushes listenKeyExpired and then nothing, its socket left open (no
        # clock moves: only the frame can tell),
        await venue.expire()
        await until(collector, lambda: len(books(ledger)["trades"]) == 3, timeout=60)
        await venue.wait_for(lambda: len(venue.stream_keys) == 2 and len(venue.sockets) == 1)
        # and, on the new key, the venue's next order is pushed,
        venue.quiet = False
        await venue.record(order())
        await until(collector, lambda: len(books(ledger)["orders"]) == 3)
        return books(ledger), collector.figures(), venue

    found, figures, venue = asyncio.run(on_binance(stored_url, LoopbackBinance(now=lambda: START), scenario))
    # then the collector asked for a new key (two POSTs: the first key, then the docs' second),
    # streamed on it, and the expired key's socket was closed by the collector, not the venue;
    assert venue.asked("/fapi/v1/listenKey") == 2
    assert venue.stream_keys == list(KEYS)
    # the backfill booked what the silent stream lost: bot-open-1 filled 0.001 + 0.001 = 0.002,
    # the close 0.001, the three trades; and the new stream booked the order pushed on it;
    assert [(o[0], o[1], o[2], o[3]) for o in found["orders"]] == [
        ("bot-open-1", "filled", "0.002", "0.002"),
        ("pb2jD6ZQHpfzSdUac8VqMK", "filled", "0.001", "0.001"),
        ("web_pCCGp9AIHjziKLlpGpXI", "accepted", "0.001", "0"),
    ]
    assert sorted(t[0] for t in found["trades"]) == ["458032600", "458032601", "458032604"]
    # one reconnect, by the venue's end of the stream, said in the status.
    assert figures["reconnects"] == 1 and figures["reconnect_reasons"] == {"ended": 1}
    assert figures["state"] == "streaming" and figures["error"] is None
