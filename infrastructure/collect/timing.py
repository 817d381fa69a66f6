"""Time and chance as a collector and its sources see them: injected, so tests never wait on the
wall clock (``tests/support/clock.py`` drives a manual one) and the backoff's jitter is repeatable."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Timing:
    """``clock``: monotonic seconds (rates, ages, latencies); ``sleep``: waits that many seconds;
    ``random``: a float in [0, 1) (the backoff's jitter); ``now``: the UTC time (snapshots' ``as_of``)."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    random: Callable[[], float] = field(default=random.random)
    now: Callable[[], datetime] = _now


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: before reconnect attempt ``n`` (0 first) wait a
    uniformly random time in [0, min(cap, base × 2ⁿ)) seconds, and at least what the venue asked
    (``Retry-After``). Full jitter spreads many clients' reconnects after a venue-wide drop."""

    base: float = 0.5
    cap: float = 30.0

    def delay(self, attempt: int, chance: float, retry_after: float | None = None) -> float:
        ceiling = min(self.cap, self.base * 2 ** min(attempt, 32))
        return max(chance * ceiling, retry_after or 0.0)


__all__ = ["Backoff", "Timing"]
