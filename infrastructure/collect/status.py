"""A collector's status figures, updated as it runs.

The same figures are the terminal's status line, each ``--json`` line, the lease row's status
(``serve``'s ``/health`` and page) and what ``AsyncOrderLedger.collect`` hands ``on_status``:

* ``state``: connecting, backfilling, reconciling, streaming, waiting (to reconnect), stopped;
* ``frames_per_second`` / ``events_per_second``: since the previous figures;
* ``last_frame_age``: seconds since the last frame arrived (None before the first);
* ``backlog``: frames received and not yet durable;
* ``reconnects``, and ``reconnect_reasons``: the same by why (``source.REASONS``: lost, ended,
  throttled, refused; those met so far); ``refused`` (frames and replies refused for the
  collector's bounds, journaled),
  ``parked`` (frames whose messages wait in the journal), ``frames``, ``events``;
* ``latency_p50`` / ``latency_p99``: seconds from a frame's arrival to its commit (recent frames);
* ``error``: the last fault's one line (None while all is well).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

LATENCY_WINDOW = 10_000
"""How many recent frames the latency percentiles are taken over."""


def percentile(values: list[float], share: float) -> float | None:
    """The value at ``share`` (0.5, 0.99) of the sorted values (nearest rank), None for none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))
    return ordered[rank]


@dataclass
class Status:
    """The running counts; :meth:`figures` turns them into the published figures."""

    state: str = "connecting"
    frames: int = 0
    durable: int = 0
    events: int = 0
    parked: int = 0
    reconnects: int = 0
    reconnect_reasons: dict[str, int] = field(default_factory=dict)
    refused: int = 0
    last_frame_at: float | None = None
    error: str | None = None
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_WINDOW))
    _mark: tuple[float, int, int] | None = None

    def figures(self, now: float) -> dict[str, Any]:
        """The figures at monotonic time ``now``; the rates are since the previous call."""
        frames_rate = events_rate = 0.0
        if self._mark is not None and now > self._mark[0]:
            elapsed = now - self._mark[0]
            frames_rate = (self.frames - self._mark[1]) / elapsed
            events_rate = (self.events - self._mark[2]) / elapsed
        self._mark = (now, self.frames, self.events)
        recent = list(self.latencies)
        return {
            "state": self.state,
            "frames_per_second": round(frames_rate, 3),
            "events_per_second": round(events_rate, 3),
            "last_frame_age": None if self.last_frame_at is None else round(now - self.last_frame_at, 3),
            "backlog": self.frames - self.durable,
            "reconnects": self.reconnects,
            "reconnect_reasons": dict(self.reconnect_reasons),
            "refused": self.refused,
            "parked": self.parked,
            "frames": self.frames,
            "events": self.events,
            "latency_p50": percentile(recent, 0.5),
            "latency_p99": percentile(recent, 0.99),
            "error": self.error,
        }


def status_line(figures: dict[str, Any]) -> str:
    """The figures as one short line for a terminal."""
    age = figures["last_frame_age"]
    reasons = figures.get("reconnect_reasons") or {}
    why = f" ({', '.join(f'{reason} {count}' for reason, count in reasons.items())})" if reasons else ""
    return (
        f"{figures['state']}: {figures['frames_per_second']:g} frames/s,"
        f" {figures['events_per_second']:g} events/s,"
        f" last frame {'—' if age is None else f'{age:.1f}s ago'}, backlog {figures['backlog']},"
        f" reconnects {figures['reconnects']}{why}, refused {figures['refused']}, parked {figures['parked']}"
        + ("" if figures["error"] is None else f"; {figures['error']}")
    )


__all__ = ["Status", "percentile", "status_line"]
