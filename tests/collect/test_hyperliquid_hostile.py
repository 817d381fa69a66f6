"""``collect hyperliquid`` against a hostile loopback Hyperliquid (tests/support/hyperliquid_venue.py:
``push_raw``, ``flood``): a frame nested 100,000 deep, a 20 MiB frame, a flood faster than the
ledger books. The collector journals what it refuses with its reason, never stops reading
silently, holds at most its bounded backlog, and a stop commits at most that backlog. Bounds are
checked as counts (frames held, frames committed after the stop), never as times or memory."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from orderledger.infrastructure.application.aio import AsyncOrderLedger
from orderledger.infrastructure.collect.bounds import MAX_FRAME_BYTES, MAX_WAIT
from orderledger.infrastructure.collect.queued import QUEUED
from orderledger.infrastructure.collect.runner import Collector
from orderledger.infrastructure.collect.timing import Timing
from orderledger.infrastructure.collect.venues.hyperliquid import HyperliquidSource, Info
from tests.support.collect_books import Books, clean_books, quick, until, until_books
from tests.support.hyperliquid_venue import USER, LoopbackHyperliquid, session, source_config

pytestmark = pytest.mark.timeout(120)

CHANNELS = ("orderUpdates", "userFills", "userFundings")


def clean() -> Books:
    """The session's push frames, ingested from a file."""
    frames = [json.dumps(u.frame()).encode() for u in session()]
    return clean_books(frames, format="hyperliquid", venue="hyperliquid", account=USER)


BACKLOG = 16
"""The collectors' backlog bound in these tests (small, so a flood meets it at once)."""


class Watched(Collector):
    """A collector that notes the most frames it ever held received and not yet durable."""

    peak = 0

    async def _receive(self, frame: bytes) -> None:
        await super()._receive(frame)
        self.peak = max(self.peak, self.status.frames - self.status.durable)


def rejected(ledger: AsyncOrderLedger) -> list[Any]:
    return [m for m in ledger.ledger.audit.messages() if m.outcome.value == "rejected"]


async def hostile(frame: str, *, stream_after: bool) -> tuple[Any, dict[str, Any], list[Any]]:
    """The session with ``frame`` pushed before its last update (the liquidation fill): the books,
    the figures and the journal's rejected messages once the books are the clean stream's."""
    pace = quick()
    updates = session()
    async with LoopbackHyperliquid() as venue, AsyncOrderLedger("memory://") as ledger:
        source = HyperliquidSource(source_config(venue, pace.timing()))
        collector = Collector(ledger, source, timing=pace.timing(), reconcile_every=None, status_every=3600)
        task = asyncio.create_task(collector.run())
        await venue.connected(CHANNELS)
        await collector.streaming()  # backfilled and reconciled: what follows comes by the stream
        for update in updates[:-1]:
            await venue.publish(update)
        await venue.push_raw(frame)
        if not stream_after:  # the client hangs up on the frame: back on a fresh connection
            await venue.wait_for(lambda: venue.dials == 2)
            await venue.connected(CHANNELS)
        await venue.publish(updates[-1])
        found = await until_books(collector, ledger, clean())
        await until(collector, lambda: len(rejected(ledger)) == 1)
        figures = collector.figures()
        collector.stop()
        await task
        return found, figures, rejected(ledger)


def test_a_frame_nested_100000_deep_is_journaled_rejected_and_the_stream_goes_on() -> None:
    # Given a frame nested 100,000 deep on the user's channel, then the liquidation fill,
    deep = '{"channel":"userFills","data":' + "[" * 100_000 + "]" * 100_000 + "}"
    found, figures, refused = asyncio.run(hostile(deep, stream_after=True))
    # then the fill after it is booked on the same connection (the reader did not stop),
    assert found == clean()
    assert figures["reconnects"] == 0 and figures["state"] == "streaming" and figures["error"] is None
    # and the deep frame is journaled, rejected with its reason.
    assert [m.reason for m in refused] == ["JSON is nested deeper than 64 levels"]


def test_a_20_mib_frame_is_refused_unread_journaled_and_the_link_dialled_again() -> None:
    # Given a 20 MiB frame (far beyond MAX_FRAME_BYTES), then the liquidation fill,
    huge = '{"channel":"userFills","data":"' + "x" * (20 * 2**20) + '"}'
    found, figures, refused = asyncio.run(hostile(huge, stream_after=False))
    # then the frame is refused at its header (not read), journaled with the reason, the link
    # dialled again, and the fill booked (by the new connection's backfill or stream):
    assert found == clean()
    assert figures["refused"] == 1 and figures["reconnects"] == 1
    reason = f"hyperliquid: a frame longer than {MAX_FRAME_BYTES} bytes, refused unread (close 1009)"
    assert [(m.reason, m.raw) for m in refused] == [(reason, "(not read)")]


async def flooded(count: int | None, stop_at: int) -> tuple[Watched, HyperliquidSource, int, int]:
    """A collector under a flood of ``count`` frames (None: endless); stopped once ``stop_at``
    frames are durable. Answers it, its source, and its received and durable counts at the stop."""
    pace = quick()
    frame = session()[0].frame()  # the published funding: a duplicate each time after the first
    async with LoopbackHyperliquid() as venue, AsyncOrderLedger("memory://") as ledger:
        source = HyperliquidSource(source_config(venue, pace.timing()))
        collector = Watched(ledger, source, timing=pace.timing(), reconcile_every=None, status_every=3600)
        collector.max_backlog = BACKLOG
        task = asyncio.create_task(collector.run())
        await venue.connected(CHANNELS)
        venue.flood(frame, count)
        await until(collector, lambda: collector.status.durable >= stop_at)
        received, durable = collector.status.frames, collector.status.durable
        collector.stop()
        await task
        return collector, source, received, durable


def test_a_flood_is_held_to_the_bounded_backlog_and_every_frame_journaled() -> None:
    # Given a venue sending 2,000 frames as fast as the connection takes them,
    collector, source, _, _ = asyncio.run(flooded(2000, stop_at=2000 + 2))  # + the two snapshots
    # then the collector never held more than its bound received and not yet durable (the
    # source's queue is bounded too: reading waits, the venue's socket fills),
    assert 0 < collector.peak <= BACKLOG
    assert source.connections.queue.maxsize == QUEUED
    # and nothing was dropped: every frame is durable, one journal entry each.
    assert collector.status.frames == collector.status.durable >= 2002


def test_a_stop_under_an_endless_flood_commits_at_most_the_backlog_and_reads_nothing_more() -> None:
    # Given an endless flood, when the collector is stopped (what SIGTERM does),
    collector, _, received, durable = asyncio.run(flooded(None, stop_at=300))
    # then at the stop at most the backlog was waiting to be committed, nothing was read after
    # it, and everything read is durable: the stop's work is bounded whatever the load.
    assert received - durable <= BACKLOG
    assert collector.status.frames == received == collector.status.durable
    assert collector.status.state == "stopped"


def test_an_absurd_retry_after_is_capped_reported_and_holds_every_request() -> None:
    # Given the venue answering one info request 429 with Retry-After: 1e30,
    async def scenario() -> tuple[list[float], list[str], float]:
        slept: list[float] = []

        async def sleep(seconds: float) -> None:
            slept.append(seconds)

        async with LoopbackHyperliquid() as venue:
            venue.throttle, venue.retry_after = 1, "1e30"
            config = source_config(venue, Timing(sleep=sleep, clock=lambda: 0.0))
            heard: list[str] = []
            config.reports.listener = heard.append
            info = Info(config)
            try:
                await info.ask({"type": "historicalOrders", "user": USER})
            finally:
                await info.close()
            return slept, heard, info.gate.ready_at

    slept, heard, ready_at = asyncio.run(scenario())
    # then the request is tried again after MAX_WAIT (not 1e30 s), the cap is reported, and the
    # source's gate holds every other request until then.
    assert slept[0] == MAX_WAIT and ready_at == MAX_WAIT
    assert heard == ["hyperliquid's Retry-After asks for a wait of 1e+30 s: waiting 120 s at most"]
