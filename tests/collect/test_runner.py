"""The collector's framework (infrastructure/collect/runner.py) against a scripted venue
(tests/support/collect.py): reconnect with backoff and full jitter, backfill after a gap,
journal and ingest every frame, reconcile on start, stop with what arrived committed, one
collector per venue and account. Every backend; time is a manual clock."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from orderledger.infrastructure.application.aio import AsyncOrderLedger
from orderledger.infrastructure.application.upkeep.collector_leases import CollectorBusyError
from orderledger.infrastructure.collect.bounds import MAX_WAIT
from orderledger.infrastructure.collect.runner import Collector
from orderledger.infrastructure.collect.source import CollectError, ConnectionLost, CredentialsRejected
from orderledger.infrastructure.collect.timing import Backoff
from tests.support.clock import ManualClock, until
from tests.support.collect import ScriptedSource

pytestmark = pytest.mark.timeout(60)


def request(cid: str, ts: str, quantity: str = "10") -> dict[str, Any]:
    return {
        "type": "request",
        "client_order_id": cid,
        "account": "acc1",
        "venue": "venueA",
        "instrument": "BTC-USDT",
        "side": "buy",
        "order_type": "limit",
        "quantity": quantity,
        "price": "100",
        "ts": ts,
    }


def fill(cid: str, trade: str, quantity: str, ts: str) -> dict[str, Any]:
    return {
        "type": "fill",
        "client_order_id": cid,
        "trade_id": trade,
        "quantity": quantity,
        "price": "100",
        "ts": ts,
    }


async def start(
    ledger: AsyncOrderLedger, source: ScriptedSource, clock: ManualClock, **options: Any
) -> tuple[Collector, asyncio.Task[Any]]:
    collector = Collector(ledger, source, timing=clock.timing(), reconcile_every=None, **options)
    return collector, asyncio.create_task(collector.run())


def test_a_gap_the_stream_lost_is_filled_by_the_backfill_after_the_reconnect(ledger_url: str) -> None:
    async def scenario() -> None:
        async with AsyncOrderLedger(ledger_url) as ledger:
            clock = ManualClock(chances=[0.5])
            source = ScriptedSource()
            collector, task = await start(ledger, source, clock, backoff=Backoff(base=1.0, cap=30.0))
            # (the start's backfill and reconciliation over: what follows comes by the stream, and
            # no catch-up of the start's reconciliation can read the history the test writes next)
            await collector.streaming()
            # Given an order and a first fill streamed live,
            source.publish(request("c-1", "2026-11-20T10:00:00Z"))
            source.publish(fill("c-1", "t-1", "3", "2026-11-20T10:00:01Z"))
            await collector.received(2)
            await collector.durable()
            # when the second fill is lost on the wire and the connection drops,
            source.publish(fill("c-1", "t-2", "4", "2026-11-20T10:00:02Z"), lose=True)
            source.disconnect()
            await clock.sleeping(2)  # the status loop's and the reconnect's
            # the collector waits the first backoff: full jitter, 0.5 × min(30, 1.0 × 2⁰) = 0.5 s,
            assert clock.slept[-1] == 0.5
            await clock.advance(0.5)
            # then backfills from the last booked venue time (10:00:01) less the 5-minute overlap:
            await collector.received(2 + 3)  # the backfill replays the whole history: 3 frames
            await collector.durable()
            assert source.backfills[-1] is not None
            assert source.backfills[-1].isoformat() == "2026-11-20T09:55:01+00:00"
            collector.stop()
            figures = await task
            assert figures["reconnects"] == 1
            assert figures["state"] == "stopped"
            # then the order holds both fills, 3 + 4 = 7, once each (the replayed ones are duplicates)
            assert (await ledger.order("c-1")).filled_quantity == Decimal(7)
            assert [t.trade_id for t in await ledger.trades()] == ["t-1", "t-2"]

    asyncio.run(scenario())


def test_a_retry_after_beyond_reason_is_capped_and_said(ledger_url: str) -> None:
    async def scenario() -> None:
        async with AsyncOrderLedger(ledger_url) as ledger:
            clock = ManualClock(chances=[0.5])
            source = ScriptedSource()
            collector, task = await start(ledger, source, clock)
            await collector.streaming()
            # Given a venue that drops the link asking for a wait of 1e30 s,
            source.disconnect(ConnectionLost("throttled", retry_after=1e30))
            await clock.sleeping(2)  # the status loop's and the reconnect's
            # then the collector waits MAX_WAIT (120 s), says so while waiting, and comes back.
            assert clock.slept[-1] == MAX_WAIT
            assert collector.figures()["error"] == "throttled (it asked for a wait of 1e+30 s: 120 s at most)"
            await clock.advance(MAX_WAIT)
            await collector.streaming()
            collector.stop()
            assert (await task)["reconnects"] == 1

    asyncio.run(scenario())


def test_a_second_collector_on_the_same_venue_and_account_is_refused(ledger_url: str) -> None:
    async def scenario() -> None:
        async with AsyncOrderLedger(ledger_url) as ledger:
            clock = ManualClock()
            first, task = await start(ledger, ScriptedSource(), clock)
            await clock.sleeping()
            with pytest.raises(CollectorBusyError, match="a collector already runs on venueA account acc1"):
                await Collector(ledger, ScriptedSource(), timing=clock.timing()).run()
            rows = await ledger.upkeep.collectors()
            assert [(r.venue, r.account, r.stale) for r in rows] == [("venueA", "acc1", False)]
            first.stop()
            await task
            assert await ledger.upkeep.collectors() == []

    asyncio.run(scenario())


def test_bad_credentials_stop_the_collector_with_one_line(ledger_url: str) -> None:
    async def scenario() -> None:
        async with AsyncOrderLedger(ledger_url) as ledger:
            source = ScriptedSource()
            source.refuse = CredentialsRejected("tradier refused the token (HTTP 401)")
            with pytest.raises(CredentialsRejected, match="refused the token"):
                await Collector(ledger, source, timing=ManualClock().timing()).run()
            assert await ledger.upkeep.collectors() == []  # the lease is given up

    asyncio.run(scenario())


def test_a_wait_for_streaming_ends_with_the_fault_that_stopped_the_collector(ledger_url: str) -> None:
    async def scenario() -> None:
        async with AsyncOrderLedger(ledger_url) as ledger:
            source = ScriptedSource()
            source.refuse = CredentialsRejected("tradier refused the token (HTTP 401)")
            collector = Collector(ledger, source, timing=ManualClock().timing())
            waiting = asyncio.create_task(collector.streaming())
            with pytest.raises(CredentialsRejected):
                await collector.run()
            with pytest.raises(
                CollectError, match=r"^the collector stopped: tradier refused the token \(HTTP 401\)$"
            ):
                await waiting

    asyncio.run(scenario())


def test_backoff_is_exponential_with_full_jitter_and_honours_retry_after() -> None:
    backoff = Backoff(base=0.5, cap=30.0)
    # attempt n waits chance × min(30, 0.5 × 2ⁿ): 0.25 × 0.5 = 0.125; 0.25 × 4 = 1; cap: 0.25 × 30 = 7.5
    assert backoff.delay(0, 0.25) == 0.125
    assert backoff.delay(3, 0.25) == 1.0
    assert backoff.delay(10, 0.25) == 7.5
    # a venue's Retry-After of 12 s wins over a shorter draw
    assert backoff.delay(0, 0.25, retry_after=12.0) == 12.0


def test_on_start_the_venues_open_orders_are_reconciled_with_explicit_corrections(ledger_url: str) -> None:
    async def scenario() -> None:
        async with AsyncOrderLedger(ledger_url) as ledger:
            # Given the ledger holds c-1 open (acknowledged as V-1), which the venue no longer has,
            await ledger.record(request("c-1", "2026-11-20T10:00:00Z"))
            await ledger.record(
                {
                    "type": "accepted",
                    "client_order_id": "c-1",
                    "venue_order_id": "V-1",
                    "ts": "2026-11-20T10:00:01Z",
                }
            )
            # and the venue has an open order V-9 the ledger never heard of,
            source = ScriptedSource()
            source.open = [
                {
                    "venue_order_id": "V-9",
                    "instrument": "ETH-USDT",
                    "side": "sell",
                    "order_type": "limit",
                    "quantity": "2",
                    "price": "3000",
                    "status": "open",
                }
            ]
            clock = ManualClock()
            collector = Collector(ledger, source, timing=clock.timing(), reconcile_every=None)
            task = asyncio.create_task(collector.run())
            await clock.sleeping(1)  # streaming: the status loop waits
            await until(lambda: collector.status.state == "streaming")
            collector.stop()
            await task
            # then c-1 is closed and V-9 booked, both by the reconciliation's explicit events
            orders = {o.client_order_id: o for o in await ledger.orders()}
            assert orders["c-1"].status.value == "canceled"
            (booked,) = [o for o in orders.values() if o.venue_order_ids == ("V-9",)]
            assert (booked.status.value, booked.quantity) == ("accepted", Decimal(2))
            sources = {e.source for e in await ledger.events(types=("OrderCanceled",))}
            assert sources == {"reconciliation"}

    asyncio.run(scenario())
