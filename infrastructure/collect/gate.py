"""A source's rate-limit gate: one per source, passed by every request the source sends.

A venue says how long to wait in its rate-limit replies (``Retry-After`` on a 429 or 503, a used-up
window's end). :meth:`RateGate.hold` closes the gate until then, at most ``bounds.MAX_WAIT``
ahead (a longer wait is capped and reported), and :meth:`RateGate.wait` (awaited before each
request: a poll, a backfill page, a reconciliation's read, a dial) sleeps until it opens. So a
request that meets a limit holds back the source's other requests too, whichever task sends
them: the collector's reconnect, its periodic reconciliation, a reload of a market map.
"""

from __future__ import annotations

import math

from orderledger.infrastructure.collect.bounds import capped
from orderledger.infrastructure.collect.source import Reports
from orderledger.infrastructure.collect.timing import Timing


class RateGate:
    """Closed until ``ready_at`` (the timing's monotonic clock); open from the start."""

    def __init__(self, timing: Timing, reports: Reports) -> None:
        self.timing = timing
        self.reports = reports
        self.ready_at = -math.inf

    def left(self) -> float:
        """Seconds until the gate opens (0 when it is open)."""
        return max(0.0, self.ready_at - self.timing.clock())

    async def wait(self) -> None:
        """Sleep until the gate opens (at once when it is open)."""
        left = self.left()
        if left > 0:
            await self.timing.sleep(left)

    def hold(self, seconds: float | None, what: str) -> float | None:
        """Close the gate for ``seconds`` from now (None: leave it as it is); a wait longer than
        ``bounds.MAX_WAIT`` (or no number) is capped and reported as ``what`` asking for it.
        Answers the wait kept."""
        kept = capped(seconds, what, self.reports)
        if kept is not None:
            self.ready_at = max(self.ready_at, self.timing.clock() + kept)
        return kept


def retry_after(value: object) -> float | None:
    """A ``Retry-After`` header's seconds (never below 0); None when absent or an HTTP date (the
    collector's backoff decides then)."""
    try:
        return None if value is None else max(0.0, float(str(value)))
    except ValueError:
        return None


__all__ = ["RateGate", "retry_after"]
