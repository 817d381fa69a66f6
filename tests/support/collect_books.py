"""What the venue collectors' tests compare: the books a collector kept (``tests.support.collect.books``)
against the books the clean stream gives when ingested from a file, and a pace for the collector
that never waits on the clock.

``clean_books(frames, ...)`` ingests the clean stream's frames into a fresh ledger (the file
route, ``OrderLedger.ingest_lines``); ``until_books`` waits, frame by durable frame, until a
running collector's ledger holds the expected books. ``quick()`` is a
:class:`~orderledger.infrastructure.collect.timing.Timing` whose short waits (backoff,
``Retry-After``) pass at once and whose long ones (pings every 50 s, reconciliations) never end, so a test
sees every wait it caused (``slept``) and none of the wall clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from orderledger.infrastructure.application.aio import AsyncOrderLedger
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.collect.runner import Collector
from orderledger.infrastructure.collect.timing import Timing
from tests.support.collect import books

SHORT = 40.0
"""Waits up to this many seconds pass at once under :func:`quick`; longer ones never end."""


@dataclass
class Quick:
    slept: list[float] = field(default_factory=list)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if seconds < SHORT:
            await asyncio.sleep(0)
            return
        await asyncio.Event().wait()  # a ping or a reconciliation far off: never within a test

    def timing(self) -> Timing:
        return Timing(sleep=self.sleep, random=lambda: 0.5)


def quick() -> Quick:
    return Quick()


Books = dict[str, Any]
"""Orders, trades, positions and parked messages (``tests.support.collect.books``)."""


def clean_books(frames: Iterable[bytes], *, fmt: str, venue: str, account: str | None) -> Books:
    """The books of the clean stream ingested from a file, in a fresh ledger."""
    with OrderLedger("memory://") as ledger:
        ledger.ingest_lines(list(frames), fmt=fmt, venue=venue, account=account)
        return books(ledger)


async def until_books(
    collector: Collector, ledger: AsyncOrderLedger, expected: Books, timeout: float = 30
) -> Books:
    """Wait until the collector's ledger holds ``expected`` (checked after each durable frame);
    answers the books at the end (the expected ones, or what there was when time ran out)."""

    async def converge() -> None:
        while books(ledger.ledger) != expected:
            await collector.durable(collector.status.durable + 1)

    try:
        await asyncio.wait_for(converge(), timeout)
    except TimeoutError:
        pass
    return books(ledger.ledger)


__all__ = ["Books", "Quick", "clean_books", "quick", "until_books"]
