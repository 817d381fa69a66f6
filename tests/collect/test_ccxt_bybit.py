"""``collect ccxt`` on Bybit: ccxt.pro's real ``bybit`` class (its WebSocket and REST clients)
against the loopback Bybit v5 (tests/support/bybit_venue.py), run by the real ``Collector``.

What the collector must catch besides the stream: a funding payment made while it streams (Bybit
and ccxt have no funding channel: the funding history is read every ``funding_every`` seconds),
an order the venue rejected while the collector was away (the backfill reads every terminal
state, not Filled and Cancelled only), and Bybit's rate-limit reply (``retCode`` 10006: no request
before the window's end in ``X-Bapi-Limit-Reset-Timestamp``). SQLite and PostgreSQL; the waits
run on an injected clock.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from orderledger.infrastructure.application.reads.view_queries import cash_flows_by
from orderledger.infrastructure.collect.runner import Collector
from orderledger.infrastructure.collect.timing import Timing
from orderledger.infrastructure.collect.venues.ccxt import CcxtSource
from tests.support import ccxt_flows as flows
from tests.support.bybit_venue import LoopbackBybit, rejected_order
from tests.support.ccxt_loopback import Scenario, ccxt_source, drained, kept_ledger, streaming
from tests.support.clock import START, ManualClock
from tests.support.collect import books
from tests.support.collect_books import ROUND, Rounds, until

pytestmark = pytest.mark.timeout(120)

TOPICS = ("order", "execution")
"""What ccxt.pro's bybit watch_orders and watch_my_trades subscribe on /v5/private."""


def bybit_source(venue: LoopbackBybit, timing: Timing, **options: str) -> CcxtSource:
    return ccxt_source("bybit", venue, timing, **options)


async def on_bybit(url: str, scenario: Scenario) -> Any:
    venue = LoopbackBybit(now=lambda: START)
    return await streaming(url, venue, "bybit", lambda: all(t in venue.subscribed for t in TOPICS), scenario)


def test_a_funding_paid_while_streaming_is_booked(stored_url: str) -> None:
    # Given the collector streaming, and then Bybit's published funding execution (a short
    # XMRUSDT position received funding: execFee −0.10232512), which no topic pushes,
    async def scenario(venue: LoopbackBybit, collector: Collector, rounds: Rounds) -> Any:
        asked = venue.asked("/v5/execution/list", execType="Funding")
        await venue.record("execution", flows.raw("bybit", "rest_execution_funding"))
        # when the funding history is read while streaming (one funding_every later),
        await rounds.run()
        db = kept_ledger(collector).db
        await until(collector, lambda: bool(cash_flows_by(db, "instrument")))
        read = venue.asked("/v5/execution/list", execType="Funding") > asked
        return read, collector.status.reconnects, cash_flows_by(db, "instrument")

    read, reconnects, found = asyncio.run(on_bybit(stored_url, scenario))
    # then it is booked without a reconnect: received −(−0.10232512) = 0.10232512 USDT.
    assert read and reconnects == 0
    assert found == [("XMR/USDT:USDT", "USDT", Decimal("0.10232512"))]


def test_an_order_rejected_while_away_is_booked(stored_url: str) -> None:
    # Given the collector streaming, and an order Bybit rejected while the stream was lost
    # (recorded, never pushed), then the connection dropped,
    order = rejected_order()

    async def scenario(venue: LoopbackBybit, collector: Collector, rounds: Rounds) -> Any:
        venue.quiet = True
        await venue.record("order", order)
        venue.quiet = False
        await venue.drop()
        ledger = collector.ledger.ledger
        # when the collector reconnects and backfills,
        await until(collector, lambda: any(o[0] == order["orderLinkId"] for o in books(ledger)["orders"]))
        return books(ledger)["orders"], venue.asked("/v5/order/history")

    orders, history = asyncio.run(on_bybit(stored_url, scenario))
    # then the order is booked rejected: 0.001 BTC asked, nothing filled,
    assert [(o[0], o[1], o[2], o[3]) for o in orders] == [("rejected-while-away", "rejected", "0.001", "0")]
    # from the order history asked without a status (every terminal state), on start and after.
    assert history == 2


def test_a_rate_limit_reply_holds_every_request_until_the_window_ends() -> None:
    # Given Bybit answering the backfill's order history with retCode 10006 and the window's end
    # one second after its clock (X-Bapi-Limit-Reset-Timestamp), then the reconciliation's open
    # orders likewise,
    async def scenario() -> tuple[list[Any], list[float]]:
        clock = ManualClock()
        async with LoopbackBybit(now=clock.now) as venue:
            source = bybit_source(venue, clock.timing(), funding_every=str(ROUND))
            try:
                await source.connect()
                venue.limit_next = "/v5/order/history"
                backfill = asyncio.create_task(drained(source))
                await clock.sleeping(2)  # the funding poll's wait, the gate's
                await clock.advance(1.0)
                await asyncio.wait_for(backfill, 30)
                venue.limit_next = "/v5/order/realtime"
                reconcile = asyncio.create_task(source.open_orders())
                await clock.sleeping(2)
                await clock.advance(1.0)
                await asyncio.wait_for(reconcile, 30)
            finally:
                await source.close()
            wanted = ("/v5/order/history", "/v5/order/realtime")
            return [(at, path) for at, path, _ in venue.requests if path in wanted], clock.slept

    requests, slept = asyncio.run(scenario())
    start = START.timestamp()
    # then each refused request is sent again once the window has ended (1 s on, not before),
    # (the backfill reads the open orders first, at 0 s, then the history, refused at 0 s).
    assert [(at - start, path) for at, path in requests] == [
        (0.0, "/v5/order/realtime"),
        (0.0, "/v5/order/history"),
        (1.0, "/v5/order/history"),
        (1.0, "/v5/order/realtime"),
        (2.0, "/v5/order/realtime"),
    ]
    # each wait being the window's end less the venue's time: 1000 ms = 1.0 s.
    assert slept.count(1.0) == 2
