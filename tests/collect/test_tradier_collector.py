"""The Tradier collector (infrastructure/collect/tradier.py) with its real HTTP client (aiohttp)
against a loopback Tradier (tests/support/tradier_server.py) serving the published orders.

The venue moves through four steps: (A) 228175 AAPL partially filled, 20 @ 21.95; (B) filled,
50 @ 21.98; (C) a new day: 228749 (the SPY call, expired) appears; (D) another day: 229063 (the
combo, canceled) appears. The clean stream is the four intraday replies ingested from a file
(``--format tradier``). Each fault schedule ends with the same books: orders, trades (the fills
Tradier's cumulative figures imply: 20 @ 21.95, then (50 × 21.98 − 20 × 21.95) / 30 = 22 for the
other 30), positions, and nothing parked. The same schedules run on a second story, a reject
after the broker's acknowledgement: (A) 228175 ``pending`` (Tradier holds it), (B) ``rejected``
downstream, then (C) and (D): 228175 must end rejected, whether a poll, a stale reply or only
the backfill brings the reject. Every backend; time is a manual clock shared by the collector
and the venue (its rate limit window)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from orderledger.infrastructure.application.aio import AsyncOrderLedger
from orderledger.infrastructure.collect.runner import Collector
from orderledger.infrastructure.collect.source import CredentialsRejected, UnknownSymbol
from tests.support.clock import ManualClock
from tests.support.collect import books
from tests.support.tradier_collect import START, Run, clean, clean_books, collected, source
from tests.support.tradier_examples import ACCOUNT, REJECTION
from tests.support.tradier_server import REJECT_STEPS, STEPS, TOKEN, TradierVenue, step_a

pytestmark = pytest.mark.timeout(60)


async def disconnect_mid_stream(run: Run) -> None:
    run.venue.fault("drop")  # the next poll's connection is closed without a reply
    await run.next_poll()
    assert run.collector.status.state == "waiting"
    run.steps[1](run.venue)
    await run.reconnect()
    for step in run.steps[2:]:
        step(run.venue)
        await run.next_poll()


async def gap_only_the_backfill_fills(run: Run) -> None:
    # While the connection is down, 228175 fills (or is rejected) and the day turns: the intraday
    # reply no longer lists 228175 (created on 06-01); only the backfill (filter=all from 06-01)
    # reports its fill (its reject).
    run.venue.fault("drop")
    await run.next_poll()
    run.steps[1](run.venue)
    run.steps[2](run.venue)
    await run.reconnect()
    run.steps[3](run.venue)
    await run.next_poll()


async def duplicated_and_reordered(run: Run) -> None:
    stale = run.venue.reply({})  # step A's reply (``pending``: the broker's ack after the reject)
    run.steps[1](run.venue)
    await run.next_poll()
    run.venue.fault("stale", stale)  # an older reply after a newer one
    await run.next_poll()
    await run.next_poll()  # step B's again
    for step in run.steps[2:]:
        step(run.venue)
        await run.next_poll()


async def server_restart(run: Run) -> None:
    run.venue.stop()
    await run.next_poll()  # refused: the connection is lost
    assert run.collector.status.reconnects == 1
    run.steps[1](run.venue)
    run.venue.restart()
    await run.reconnect()
    for step in run.steps[2:]:
        step(run.venue)
        await run.next_poll()


async def throttled_429_retry_after(run: Run) -> None:
    run.venue.fault("status", 429, {"Retry-After": "12"})
    await run.next_poll()
    # full jitter would wait 0.5 × 0.5 = 0.25 s; the venue asked for 12
    assert 12.0 in run.clock.slept
    run.steps[1](run.venue)
    await run.clock.advance(12.0)
    await run.settle()
    for step in run.steps[2:]:
        step(run.venue)
        await run.next_poll()


async def slow_server(run: Run) -> None:
    run.venue.delay = 0.05  # every reply waits on the server (within the client's timeout)
    await clean(run)


SCHEDULES: dict[str, Callable[[Run], Awaitable[None]]] = {
    "clean": clean,
    "disconnect mid-stream": disconnect_mid_stream,
    "gap only the backfill fills": gap_only_the_backfill_fills,
    "duplicated and reordered replies": duplicated_and_reordered,
    "server restart": server_restart,
    "429 with Retry-After": throttled_429_retry_after,
    "slow server": slow_server,
}


def expected_books(story: str) -> dict[str, Any]:
    """The clean stream's books of a story, with what they must hold checked by hand."""
    expected = clean_books(STORIES[story])
    assert expected["parked"] == []
    if story == "fills":
        # 228175 filled 20 + 30 = 50, two trades; the SPY call and the combo's leg ended without
        # fills; one position, 50 AAPL.
        assert sorted(t[2:] for t in expected["trades"]) == [("20", "21.95"), ("30", "22")]
        assert expected["positions"] == [(ACCOUNT, "AAPL", "50", "0")]
    else:
        # 228175 held, then rejected: ended, nothing filled (50 ordered, 0 filled), no trade, no
        # position; the SPY call expired and the combo's leg was canceled as in the other story.
        assert expected["orders"] == [
            ("ext-tradier-228175", "rejected", "50", "0", ("228175",)),
            ("ext-tradier-228749", "expired", "1", "0", ("228749",)),
            ("ext-tradier-229064", "canceled", "100", "0", ("229064",)),
        ]
        assert expected["trades"] == [] and expected["positions"] == []
    return expected


STORIES = {"fills": STEPS, "reject after pending": REJECT_STEPS}


@pytest.mark.parametrize("story", list(STORIES))
@pytest.mark.parametrize("schedule", list(SCHEDULES))
def test_every_fault_schedule_ends_with_the_clean_streams_books(
    ledger_url: str, schedule: str, story: str
) -> None:
    expected = expected_books(story)

    async def scenario() -> tuple[dict[str, Any], list[Any]]:
        clock = ManualClock(start=START)
        with TradierVenue(now=clock.now) as venue:
            STORIES[story][0](venue)
            async with AsyncOrderLedger(ledger_url) as ledger:
                collector = Collector(
                    ledger, source(venue.url, clock), timing=clock.timing(), reconcile_every=None
                )
                task = asyncio.create_task(collector.run())
                run = Run(venue, clock, collector, STORIES[story])
                await run.settle()
                await SCHEDULES[schedule](run)
                collector.stop()
                figures = await task
                assert figures["parked"] == 0
                found = await asyncio.to_thread(books, ledger.ledger)
                return found, await asyncio.to_thread(ledger.ledger.audit.order_events, "ext-tradier-228175")

    found, events = asyncio.run(scenario())
    assert found == expected
    if story != "fills":  # held first, whatever brought the reject, and the reject's details kept
        assert [type(e).__name__ for e in events] == ["OrderRequested", "OrderHeld", "OrderRejected"]
        assert events[-1].reason == REJECTION


@pytest.mark.parametrize(
    ("token", "account", "fault", "line"),
    [
        ("wrong", ACCOUNT, CredentialsRejected, "tradier refused the token (HTTP 401)"),
        (TOKEN, "VA999", UnknownSymbol, "tradier does not know the account 'VA999' (HTTP 400)"),
    ],
)
def test_bad_credentials_and_an_unknown_account_stop_with_one_line(
    token: str, account: str, fault: type[Exception], line: str
) -> None:
    async def scenario() -> None:
        clock = ManualClock(start=START)
        with TradierVenue(now=clock.now) as venue:
            async with AsyncOrderLedger("memory://") as ledger:
                with pytest.raises(fault) as raised:
                    await Collector(
                        ledger, source(venue.url, clock, token, account), timing=clock.timing()
                    ).run()
        assert str(raised.value) == line and "wrong" not in str(raised.value)

    asyncio.run(scenario())


def test_a_permanent_fault_in_the_periodic_reconciliation_stops_the_collector_with_one_line() -> None:
    async def scenario() -> None:
        clock = ManualClock(start=START)
        with TradierVenue(now=clock.now) as venue:
            step_a(venue)
            async with AsyncOrderLedger("memory://") as ledger:
                # reconciling every 0.5 s: the first one after the start comes before any poll (2 s)
                collector = Collector(
                    ledger, source(venue.url, clock), timing=clock.timing(), reconcile_every=0.5
                )
                task = asyncio.create_task(collector.run())
                await collector.streaming()
                await clock.sleeping(3)  # the status loop, the poll and the reconciliation
                # When the venue refuses the token at the reconciliation's request
                venue.fault("status", 401, {})
                await clock.advance(0.5)
                # Then the collector stops with that one line, the lease given up
                with pytest.raises(CredentialsRejected) as raised:
                    await task
                assert str(raised.value) == "tradier refused the token (HTTP 401)"
                assert collector.status.state == "stopped"
                assert await ledger.upkeep.collectors() == []

    asyncio.run(scenario())


def test_polls_spread_the_rate_limit_windows_requests_over_it() -> None:
    async def nothing(run: Run) -> None:
        pass

    def window(venue: TradierVenue) -> None:
        venue.allowed, venue.window = 4, 60.0

    *_, clock = asyncio.run(collected(nothing, before=window))
    # The backfill and the reconciliation's poll used 2 of the window's 4 requests (60 s):
    # 2 are available for the 60 s left, so the next poll waits 60 / 2 = 30 s, not 2.
    assert [s for s in clock.slept if s != 1.0] == [30.0]  # the status loop sleeps 1 s
