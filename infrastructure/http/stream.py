"""Server-Sent Events from the committed log, resumable with ``Last-Event-ID``.

Each event's ``id`` is its position in the global log (the notification ID), so a client that
reconnects with the last ID it saw misses nothing and sees nothing twice. The log is polled by
position: this process wakes its streams at once after its own commits, and writes by other
processes are seen at the next poll.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from orderledger.infrastructure.http.service import LedgerService

CHUNK = 500
HEARTBEAT_SECONDS = 15.0


class Notifier:
    """Wakes every waiting stream when this process has committed something."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait(self, timeout: float) -> bool:
        """True when woken by a commit, False when ``timeout`` seconds passed first."""
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            return False
        return True


def frame(position: int, kind: str, data: dict[str, Any]) -> bytes:
    """One SSE event (orjson writes no newlines, so ``data`` is one line)."""
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (position, kind.encode(), orjson.dumps(data))


async def log_events(
    request: Request, service: LedgerService, notifier: Notifier, after: int, poll_seconds: float
) -> AsyncIterator[bytes]:
    """Every committed event after ``after``, then each new one as it is committed."""
    position = after
    yield b"retry: 1000\n\n"
    idle = 0.0
    while not await request.is_disconnected():
        entries = await run_in_threadpool(service.log_after, position, CHUNK)
        for entry in entries:
            yield frame(entry.position, entry.type, entry.record)
            position = entry.position
        if len(entries) == CHUNK:
            continue  # more is waiting: send it before sleeping
        if entries:
            idle = 0.0
        woken = await notifier.wait(poll_seconds)
        idle = 0.0 if woken else idle + poll_seconds
        if idle >= HEARTBEAT_SECONDS:
            # A comment line keeps proxies from closing an idle stream.
            yield b": keep-alive\n\n"
            idle = 0.0
