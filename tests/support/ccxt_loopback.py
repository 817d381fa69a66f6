"""The ccxt collector against a loopback exchange (tests/support/loopback_venue.py): ccxt.pro's
real class for the exchange, pointed at the loopback, run by the real ``Collector``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from orderledger.infrastructure.application.aio import AsyncOrderLedger
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.collect.credentials import Credentials, Secret
from orderledger.infrastructure.collect.runner import Collector
from orderledger.infrastructure.collect.source import SourceConfig
from orderledger.infrastructure.collect.timing import Timing
from orderledger.infrastructure.collect.venues.ccxt import CcxtSource
from tests.support.collect_books import ROUND, Rounds, quick
from tests.support.loopback_venue import LoopbackVenue


def ccxt_source(exchange: str, venue: LoopbackVenue, timing: Timing, **options: str) -> CcxtSource:
    """A source for ccxt.pro's ``exchange`` pointed at ``venue``, with loopback keys. ccxt's own
    limiter spaces requests by wall-clock time: off, the loopback has no limit of its own."""
    return CcxtSource(
        SourceConfig(
            venue=exchange,
            account="acc1",
            endpoint=venue.base,
            options={"exchange": exchange, "rate_limit": "off", **options},
            credentials=Credentials({"apiKey": Secret("loopback-key"), "secret": Secret("loopback-secret")}),
            timing=timing,
        )
    )


Scenario = Callable[[Any, Collector, Rounds], Awaitable[Any]]
"""What a test plays against the venue while the collector streams: (venue, collector, rounds)."""


async def streaming(
    url: str,
    venue: LoopbackVenue,
    exchange: str,
    ready: Callable[[], bool],
    scenario: Scenario,
    **options: str,
) -> Any:
    """Run a collector on ``venue`` (its funding read once per ``rounds.run()``) until the venue
    is ``ready`` (subscribed), then play ``scenario``; answers what the scenario answers."""
    rounds = Rounds(quick())
    async with venue, AsyncOrderLedger(url) as ledger:
        source = ccxt_source(exchange, venue, rounds.timing(), funding_every=str(ROUND), **options)
        collector = Collector(ledger, source, timing=rounds.timing(), reconcile_every=None, status_every=3600)
        task = asyncio.create_task(collector.run())
        try:
            await collector.streaming()
            await venue.wait_for(ready)
            return await scenario(venue, collector, rounds)
        finally:
            collector.stop()
            await task


def kept_ledger(collector: Collector) -> OrderLedger:
    """The ledger a collector keeps current (the runner names it by what it asks of it)."""
    ledger = collector.ledger.ledger
    assert isinstance(ledger, OrderLedger)
    return ledger


async def drained(source: CcxtSource) -> None:
    """Run one backfill of ``source`` to its end."""
    async for _ in source.backfill(None):
        pass


__all__ = ["Scenario", "ccxt_source", "drained", "streaming"]
