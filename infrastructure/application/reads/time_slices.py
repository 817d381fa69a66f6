"""Equal slices of venue time, as the realized P&L series in slices cuts it (``pnl_series``,
``pnl_run_slices``): slice ``k`` of ``points`` from the first time to the last holds the times ``t``
with ``min(points - 1, int((t - first) / width))`` equal to ``k`` (seconds since 1970, ``width``
the span over ``points``), and begins at its first microsecond, whose text (``isoformat()`` of a
UTC time, as the views write venue times) every later time's text sorts after.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def slicer(first: float, last: float, points: int) -> Callable[[float], int]:
    """The slice of a venue time (``datetime.timestamp``: seconds since 1970) among ``points``
    equal slices from ``first`` to ``last``: ``min(points - 1, int((t - first) / width))``, which
    never decreases as the time grows."""
    width = (last - first) / points or 1.0

    def slice_at(moment: float) -> int:
        return min(points - 1, int((moment - first) / width))

    return slice_at


def slice_start_texts(first: str, last: str, points: int) -> list[str | None]:
    """For each slice ``k`` from 1 to ``points - 1`` of ``points`` equal slices of venue time from
    ``first`` to ``last`` (the view's texts), the text of its first microsecond: the first whose
    slice is ``k`` or more (``slicer``), found by bisection near where ``k / points`` of the span
    falls; None for a slice after the last time's. An entry is in slice ``k`` or later exactly
    when its text is not before that one. (``datetime.timestamp`` of an aware time is its
    microseconds since 1970 divided by 10⁶, rounded once: what ``us / 1_000_000`` gives.)"""
    first_us, last_us = micros(first), micros(last)
    in_seconds = slicer(first_us / 1_000_000, last_us / 1_000_000, points)

    def slice_at(us: int) -> int:
        return in_seconds(us / 1_000_000)

    top = slice_at(last_us)
    texts: list[str | None] = []
    for k in range(1, points):
        if k > top:
            texts.append(None)
            continue
        start = _first_at(slice_at, k, first_us + (k * (last_us - first_us) + points - 1) // points, last_us)
        texts.append((EPOCH + start * MICROSECOND).isoformat())
    return texts


def _first_at(slice_at: Callable[[int], int], k: int, near: int, last_us: int) -> int:
    """The first microsecond whose slice is ``k`` or more (``slice_at(last_us)`` is), by bisection
    between bounds widened from ``near`` until they hold it (the span's first microsecond is in
    slice 0, and ``k`` is 1 or more)."""
    reach = 4
    while slice_at(near - reach) >= k or slice_at(min(near + reach, last_us)) < k:
        reach *= 4
    low = near - reach
    return low + bisect_left(range(low, min(near + reach, last_us) + 1), k, key=slice_at)


def micros(stamp: str) -> int:
    """Microseconds since 1970 of a venue time as the view wrote it."""
    return (datetime.fromisoformat(stamp) - EPOCH) // MICROSECOND
