"""Property: whatever the stream does (frames lost, repeated, delivered late, connections
dropped), a collector ends with the books of the clean stream and nothing parked that it
booked. The venue is the scripted one (tests/support/collect.py); time is a manual clock."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderledger import OrderLedger
from orderledger.infrastructure.application.aio import AsyncOrderLedger
from orderledger.infrastructure.collect.runner import Collector
from tests.support.clock import ManualClock, until
from tests.support.collect import ScriptedSource, books


def session() -> list[dict[str, Any]]:
    """Two orders, each requested, acknowledged and filled twice (3 + 2 of 5), within a minute."""
    out: list[dict[str, Any]] = []
    for n, cid in enumerate(("c-1", "c-2")):
        at = f"2026-11-20T10:00:{n * 20:02d}"
        out.append(
            {
                "type": "request", "client_order_id": cid, "account": "acc1", "venue": "venueA",
                "instrument": "BTC-USDT", "side": "buy", "order_type": "limit", "quantity": "5",
                "price": "100", "ts": f"{at}Z",
            }
        )  # fmt: skip
        out.append({"type": "accepted", "client_order_id": cid, "venue_order_id": f"V-{n}", "ts": f"{at}.1Z"})
        for k, quantity in enumerate(("3", "2")):
            out.append(
                {
                    "type": "fill", "client_order_id": cid, "trade_id": f"{cid}-t{k}", "quantity": quantity,
                    "price": "100", "ts": f"{at}.{k + 2}Z",
                }
            )  # fmt: skip
    return out


def clean() -> dict[str, Any]:
    import orjson

    with OrderLedger("memory://") as ledger:
        ledger.ingest_lines([orjson.dumps(m) for m in session()])
        return books(ledger)


ACTIONS = st.sampled_from(["deliver", "lose", "repeat", "late", "drop connection"])


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ACTIONS, min_size=8, max_size=8))
def test_any_fault_schedule_ends_with_the_clean_streams_books(actions: list[str]) -> None:
    async def scenario() -> dict[str, Any]:
        async with AsyncOrderLedger("memory://") as ledger:
            clock = ManualClock()
            source = ScriptedSource()
            source.venue_ids = {"c-1": "V-0", "c-2": "V-1"}
            collector = Collector(ledger, source, timing=clock.timing(), reconcile_every=None)
            task = asyncio.create_task(collector.run())
            held: list[dict[str, Any]] = []

            async def reconnect() -> None:
                source.disconnect()
                await until(lambda: collector.status.state == "waiting")
                await clock.advance(30.0)  # beyond any backoff: 0.5 × min(30, 0.5 × 2ⁿ) ≤ 15 s
                await until(lambda: collector.status.state == "streaming")

            for message, action in zip(session(), actions, strict=True):
                if action == "late":  # delivered after the next one: reordered
                    source.history.append(message)
                    held.append(message)
                    continue
                source.publish(message, lose=action == "lose")
                if action == "repeat":
                    source.repeat(message)
                for late in held:
                    source.repeat(late)
                held.clear()
                if action == "drop connection":
                    await reconnect()
            for late in held:
                source.repeat(late)
            await reconnect()  # the last gap, if any, is filled by a backfill
            await collector.durable()
            collector.stop()
            figures = await task
            assert figures["parked"] >= 0
            return await asyncio.to_thread(books, ledger.ledger)

    assert asyncio.run(scenario()) == clean()
