"""A manual clock for collectors and their sources: time moves only when a test says so.

``ManualClock.timing()`` is the :class:`~orderledger.infrastructure.collect.timing.Timing` a
collector is given: its ``sleep`` waits until the test has advanced the clock past the wake-up
time (``advance``), its ``random`` is fixed (or scripted), so backoffs are exact and no test
waits on the wall clock.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from orderledger.infrastructure.collect.timing import Timing

START = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


class ManualClock:
    """Monotonic seconds from 0 and the matching UTC time from ``START``."""

    def __init__(self, chances: Iterable[float] = (), *, start: datetime = START) -> None:
        self.seconds = 0.0
        self.start = start
        self.slept: list[float] = []
        self._chances = iter(chances)
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._wakeup = asyncio.Event()

    def clock(self) -> float:
        return self.seconds

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.seconds)

    def chance(self) -> float:
        return next(self._chances, 0.5)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.seconds + seconds, next(self._order), future))
        self._wakeup.set()
        await future

    def timing(self) -> Timing:
        return Timing(clock=self.clock, sleep=self.sleep, random=self.chance, now=self.now)

    async def sleeping(self, count: int = 1) -> None:
        """Wait (on the event loop, not the wall clock) until ``count`` sleeps are pending."""
        while len([s for s in self._sleepers if not s[2].done()]) < count:
            self._wakeup.clear()
            await self._wakeup.wait()

    async def advance(self, seconds: float) -> None:
        """Move time on by ``seconds``, waking every sleeper due, earliest first."""
        until = self.seconds + seconds
        while self._sleepers and self._sleepers[0][0] <= until:
            due, _, future = heapq.heappop(self._sleepers)
            self.seconds = max(self.seconds, due)
            if not future.done():
                future.set_result(None)
            for _ in range(5):
                await asyncio.sleep(0)
        self.seconds = until


async def until(condition: Callable[[], bool], *, tick: Callable[[], object] | None = None) -> None:
    """Yield to the event loop until ``condition()`` holds (the work runs in other tasks and
    threads: each turn gives them the loop; the test's own timeout bounds it)."""
    while not condition():
        if tick is not None:
            tick()
        await asyncio.sleep(0.001)
