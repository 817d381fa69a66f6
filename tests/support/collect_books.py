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
import contextlib
from collections.abc import Callable, Iterable
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


ROUND = 86400.0
"""The ``reconcile_every`` of a collector whose reconciliations the test runs (:class:`Rounds`)."""


class Rounds:
    """Reconciliations on the test's word: a collector made with ``reconcile_every=ROUND`` and
    ``timing=rounds.timing()`` reconciles once per ``await rounds.run()``, which returns when the
    collector has come back for the next round; every other wait is ``pace``'s."""

    def __init__(self, pace: Quick) -> None:
        self.pace = pace
        self.asked = 0
        """How many times the collector has waited for a round."""
        self.changed = asyncio.Condition()
        self.go = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        if seconds != ROUND:
            await self.pace.sleep(seconds)
            return
        async with self.changed:
            self.asked += 1
            self.changed.notify_all()
        await self.go.wait()
        self.go.clear()

    async def run(self) -> None:
        """One reconciliation round, from its start to the collector's wait for the next."""
        async with self.changed:
            await self.changed.wait_for(lambda: self.asked > 0)
            after = self.asked + 1
            self.go.set()
            await asyncio.wait_for(self.changed.wait_for(lambda: self.asked >= after), 30)

    def timing(self) -> Timing:
        return Timing(sleep=self.sleep, random=lambda: 0.5)


Books = dict[str, Any]
"""Orders, trades, positions and parked messages (``tests.support.collect.books``)."""


def clean_books(frames: Iterable[bytes], *, format: str, venue: str, account: str | None) -> Books:
    """The books of the clean stream ingested from a file, in a fresh ledger."""
    with OrderLedger("memory://") as ledger:
        ledger.ingest_lines(list(frames), format=format, venue=venue, account=account)
        return books(ledger)


async def until_books(
    collector: Collector, ledger: AsyncOrderLedger, expected: Books, timeout: float = 30
) -> Books:
    """Wait until the collector's ledger holds ``expected`` (checked after each durable frame);
    answers the books at the end (the expected ones, or what there was when time ran out)."""

    with contextlib.suppress(TimeoutError):
        await until(collector, lambda: books(ledger.ledger) == expected, timeout)
    return books(ledger.ledger)


async def until(collector: Collector, check: Callable[[], bool], timeout: float = 30) -> None:
    """Wait until ``check()`` holds, trying it after each durable frame (TimeoutError if it
    does not within ``timeout`` seconds)."""

    async def converge() -> None:
        while True:
            seen = collector.status.durable  # before the check: a frame durable during it counts
            if check():
                return
            await collector.durable(seen + 1)

    await asyncio.wait_for(converge(), timeout)


__all__ = ["ROUND", "Books", "Quick", "Rounds", "clean_books", "quick", "until", "until_books"]
