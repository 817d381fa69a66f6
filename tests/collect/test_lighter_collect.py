"""``orderledger collect lighter`` keeps the books straight through faults: the framework's
``Collector`` runs the real Lighter source (``websockets``, ``aiohttp``) against the loopback
Lighter (tests/support/lighter_server.py) under each fault schedule, and the books it keeps
(orders, trades, positions) must equal those of the clean stream ingested from a file, with
nothing parked. The collector reconciles open orders on start and every 30 s of the manual
clock (one second a turn), so the corrections it would make join every schedule. Every backend;
time is a manual clock (the backoff never waits on the wall)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderledger import OrderLedger
from orderledger.infrastructure.application.aio import AsyncOrderLedger
from orderledger.infrastructure.collect.bounds import MAX_FRAME_BYTES
from orderledger.infrastructure.collect.runner import Collector
from orderledger.infrastructure.collect.source import CredentialsRejected
from orderledger.infrastructure.collect.timing import Backoff
from orderledger.infrastructure.collect.venues.lighter import LighterSource
from tests.support.clock import ManualClock
from tests.support.collect import books
from tests.support.lighter_server import (
    ACCOUNT,
    TOKEN,
    Event,
    LighterServer,
    LighterVenue,
    Plan,
    clean_stream,
    scenario,
)

pytestmark = pytest.mark.timeout(120)


async def clean_book(url: str, events: list[Event]) -> dict[str, Any]:
    """The books of the clean stream: every frame as the venue published it, from a file."""
    async with AsyncOrderLedger(url) as ledger:
        await ledger.ingest_lines(clean_stream(events), format="lighter", venue="lighter", account=ACCOUNT)
        return books(ledger.ledger)


async def collected(
    url: str,
    events: list[Event],
    plans: list[Plan],
    *,
    expected: dict[str, Any],
    throttle: tuple[str, ...] = (),
    restart: bool = False,
) -> tuple[dict[str, Any], ManualClock, LighterServer]:
    """Collect from a loopback Lighter under ``plans`` until the books equal ``expected`` (at
    most ``TURNS`` turns), then stop; answers the books, the clock (its sleeps) and the server
    (its counts)."""
    clock = ManualClock(chances=[0.5] * 100)
    server = LighterServer(LighterVenue(events), plans=plans)
    server.throttle.extend(throttle)
    await server.start()
    async with AsyncOrderLedger(url) as ledger:
        source = LighterSource(account=ACCOUNT, auth=TOKEN, endpoint=server.url, timing=clock.timing())
        collector = Collector(
            ledger,
            source,
            timing=clock.timing(),
            reconcile_every=30.0,
            status_every=3600.0,
            backoff=Backoff(base=0.5, cap=2.0),
        )
        task = asyncio.create_task(collector.run())
        reconnected = 0  # with a restart asked: the connections the collector must have made first
        try:
            for _ in range(TURNS):
                # Done when the books are the clean ones, and a restart asked for has happened and
                # the collector has dialled again (it may have booked everything before either).
                found = books(ledger.ledger)
                if found == expected and not restart and server.connections >= reconnected:
                    break
                if task.done():
                    task.result()  # a permanent fault: raise it
                if restart and server.venue.published > len(events) // 2:
                    reconnected = server.connections + 1
                    await server.restart()  # every connection dropped, then listening again
                    restart = False
                await clock.advance(1.0)  # wakes a pending backoff (at most 2 s)
                await asyncio.sleep(0.005)  # the collector's turn (the condition is the books)
        finally:
            collector.stop()
            await asyncio.gather(task, return_exceptions=True)
            await server.stop()
        return found, clock, server


TURNS = 2000
"""Turns of the event loop a collector gets to reach the clean books (far more than it needs)."""

SCHEDULES = {
    "clean": [],
    "disconnect mid-stream": [Plan(send=4), Plan(send=3)],
    "duplicated frames": [Plan(duplicate=True)],
    "reordered frames": [Plan(reorder=True)],
    "a gap only the backfill fills": [Plan(send=3, silent=5)],
    "slow server": [Plan(delay=0.002)],
}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_every_fault_schedule_keeps_the_books_of_the_clean_stream(ledger_url: str, name: str) -> None:
    # Given 6 orders of account 1077 (16 events: open, trade, then canceled or still open)
    events = scenario(6)

    async def run() -> None:
        expected = await clean_book("memory://", events)
        # Then the clean stream books 6 orders, 6 trades of 10.2304, nothing parked, and a flat
        # ETH position (3 sells and 3 buys of 10.2304: 0 left)
        assert len(expected["orders"]) == 6 and len(expected["trades"]) == 6 and expected["parked"] == []
        assert [Decimal(p[2]) for p in expected["positions"]] == [0]
        found, _, server = await collected(ledger_url, events, list(SCHEDULES[name]), expected=expected)
        assert found == expected
        assert server.connections == 1 + sum(1 for p in SCHEDULES[name] if p.send is not None)

    asyncio.run(run())


def test_a_server_restart_and_a_429_with_retry_after(ledger_url: str) -> None:
    events = scenario(6)

    async def run() -> None:
        expected = await clean_book("memory://", events)
        # Given the first REST call answered 429 with Retry-After: 3, and the server restarted
        # once half the events are out
        found, clock, server = await collected(
            ledger_url, events, [], expected=expected, throttle=("3",), restart=True
        )
        # Then the books are the clean stream's, and the collector waited at least the 3 s the
        # venue asked (its own backoff: 0.5 × min(2, 0.5 × 2⁰) = 0.25 s, less than 3)
        assert found == expected
        assert 3.0 in clock.slept
        assert server.connections >= 2

    asyncio.run(run())


def test_a_market_listed_while_collecting_is_learnt_and_booked(ledger_url: str) -> None:
    # Given 6 orders, the last three on market 1 (BTC), listed only when they start: the map
    # the collector loads on connect names market 0 only
    events = scenario(6, late_market_from=3)

    async def run() -> None:
        expected = await clean_book("memory://", events)
        found, _, server = await collected(ledger_url, events, [], expected=expected)
        # Then the map is loaded again when market 1 appears, and everything books as clean
        assert found == expected and expected["parked"] == []
        assert server.requests.count("/api/v1/orderBookDetails") >= 2
        assert {row[1] for row in found["positions"]} == {"ETH/USDC:USDC", "BTC/USDC:USDC"}

    asyncio.run(run())


def test_a_refused_token_stops_the_collector_with_nothing_booked(ledger_url: str) -> None:
    async def run() -> None:
        async with LighterServer(LighterVenue(scenario(2))) as server, AsyncOrderLedger(ledger_url) as ledger:
            source = LighterSource(account=ACCOUNT, auth="1767139200:1077:255:forged", endpoint=server.url)
            clock = ManualClock()
            collector = Collector(ledger, source, timing=clock.timing(), reconcile_every=None)
            with pytest.raises(CredentialsRejected, match="code 20013: invalid auth"):
                await collector.run()
            assert await ledger.orders() == [] and server.connections == 1

    asyncio.run(run())


plans = st.lists(
    st.builds(
        Plan,
        send=st.integers(min_value=1, max_value=12),
        silent=st.integers(min_value=0, max_value=4),
        duplicate=st.booleans(),
        reorder=st.booleans(),
    ),
    max_size=3,
)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(schedule=plans, orders=st.integers(min_value=1, max_value=6))
def test_any_schedule_of_drops_gaps_duplicates_and_reorders_keeps_the_books(
    tmp_path_factory: pytest.TempPathFactory, schedule: list[Plan], orders: int
) -> None:
    # Given any few connections, each dropped after some events with some published unseen,
    # its frames duplicated or pairwise swapped (SQLite: a fresh file per example)
    events = scenario(orders)
    url = f"sqlite:///{tmp_path_factory.mktemp('lighter') / 'ledger.db'}"

    async def run() -> None:
        expected = await clean_book("memory://", events)
        found, _, _ = await collected(url, events, schedule, expected=expected)
        # Then the books are the clean stream's and nothing is parked
        assert found == expected and expected["parked"] == []

    asyncio.run(run())


DEEP = (
    '{"channel":"account_all_orders:1077","type":"update/account_all_orders","orders":'
    + "[" * 100_000
    + "]" * 100_000
    + "}"
)
HUGE = (
    '{"channel":"account_all_orders:1077","type":"update/account_all_orders","pad":"'
    + "x" * (20 * 2**20)
    + '"}'
)


@pytest.mark.parametrize(
    ("frame", "plans", "journaled", "dials"),
    [
        (DEEP, [Plan(hostile=DEEP)], ("JSON is nested deeper than 64 levels", DEEP), 1),
        (
            HUGE,
            [Plan(hostile=HUGE), Plan()],
            (
                f"lighter: a frame longer than {MAX_FRAME_BYTES} bytes, refused unread (close 1009)",
                "(not read)",
            ),
            2,
        ),
    ],
    ids=["nested 100000 deep", "20 MiB"],
)
def test_a_hostile_frame_is_journaled_with_its_reason_and_the_books_are_the_clean_ones(
    tmp_path: Any, frame: str, plans: list[Plan], journaled: tuple[str, str], dials: int
) -> None:
    # Given the venue's stream opening with a frame nested 100,000 deep (kept on the link) or
    # 20 MiB long (refused on its header: the link dialled again),
    events = scenario(2)
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    expected = asyncio.run(clean_book("memory://", events))
    found, _, server = asyncio.run(collected(url, events, plans, expected=expected))
    # then the books are the clean stream's, the link is kept (deep) or dialled once more (huge),
    # and the frame is journaled rejected with its reason.
    assert found == expected
    assert server.connections == dials
    with OrderLedger(url) as ledger:
        refused = [(m.reason, m.raw) for m in ledger.audit.messages(outcome="rejected")]
    assert refused == [journaled]
