"""The Tradier collector's test harness: a collector with its real HTTP client against the
loopback Tradier (tests/support/tradier_server.py) on a manual clock shared with the venue (its
rate-limit window), driven step by step (:class:`Run`), and the books of the clean stream."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from orderledger import OrderLedger
from orderledger.infrastructure.application.aio import AsyncOrderLedger
from orderledger.infrastructure.collect.credentials import Credentials, Secret
from orderledger.infrastructure.collect.registry import configure
from orderledger.infrastructure.collect.runner import Collector
from orderledger.infrastructure.collect.venues.tradier import TradierSource
from tests.support.clock import ManualClock
from tests.support.collect import books
from tests.support.tradier_examples import ACCOUNT, VENUE
from tests.support.tradier_server import STEPS, TOKEN, TradierVenue, clean_replies, step_a

POLL = 2.0
START = datetime(2018, 6, 1, 13, 0, tzinfo=UTC)


Steps = tuple[Callable[[TradierVenue], None], ...]


def clean_books(steps: Steps = STEPS) -> dict[str, Any]:
    """The four intraday replies, ingested from a file."""
    with OrderLedger("memory://") as ledger:
        ledger.ingest_lines(clean_replies(steps), format="tradier", venue=VENUE, account=ACCOUNT)
        return books(ledger)


def source(url: str, clock: ManualClock, token: str = TOKEN, account: str = ACCOUNT) -> TradierSource:
    _, config = configure(
        "tradier",
        account=account,
        endpoint=url,
        options={"poll": str(POLL)},
        credentials=Credentials({"token": Secret(token)}),
        timing=clock.timing(),
    )
    return TradierSource(config)


class Run:
    """One collector against the venue, driven step by step."""

    def __init__(
        self, venue: TradierVenue, clock: ManualClock, collector: Collector, steps: Steps = STEPS
    ) -> None:
        self.venue, self.clock, self.collector = venue, clock, collector
        self.steps = steps
        """The venue's story (``STEPS``, ``REJECT_STEPS``): its first step is set before the start."""

    async def settle(self) -> None:
        """Until the collector waits on the clock again (status loop + poll or backoff) with
        everything it received durable."""
        await self.clock.sleeping(2)
        await self.collector.durable()

    async def next_poll(self) -> None:
        await self.clock.advance(POLL)
        await self.settle()

    async def reconnect(self) -> None:
        """Let the backoff pass (0.5 × min(30, 0.5 × 2ⁿ) ≤ 7.5 s), then the first poll."""
        await self.clock.advance(8.0)
        await self.settle()


async def clean(run: Run) -> None:
    for step in run.steps[1:]:
        step(run.venue)
        await run.next_poll()


async def collected(
    schedule: Callable[[Run], Awaitable[None]],
    *,
    before: Callable[[TradierVenue], None] = lambda v: None,
    reconcile_every: float | None = None,
) -> tuple[dict[str, Any], list[Any], dict[str, Any], TradierVenue, ManualClock]:
    """The collector through ``schedule`` (``before``: the venue set up before it starts): its
    books, the journal's rejected messages, its final figures, the venue and the clock."""
    clock = ManualClock(start=START)
    with TradierVenue(now=clock.now) as venue:
        step_a(venue)
        before(venue)
        async with AsyncOrderLedger("memory://") as ledger:
            collector = Collector(
                ledger, source(venue.url, clock), timing=clock.timing(), reconcile_every=reconcile_every
            )
            task = asyncio.create_task(collector.run())
            run = Run(venue, clock, collector)
            await run.settle()
            await schedule(run)
            collector.stop()
            figures = await task
            journal = await asyncio.to_thread(ledger.ledger.audit.messages)
            rejected = [m for m in journal if m.outcome.value == "rejected"]
            return await asyncio.to_thread(books, ledger.ledger), rejected, figures, venue, clock
