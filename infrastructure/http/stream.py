"""Server-Sent Events from the committed log, resumable with ``Last-Event-ID``.

Each event's ``id`` is its position in the global log (the notification ID), so a client that
reconnects with the last ID it saw misses nothing and sees nothing twice. The log is polled by
position: this process wakes its streams at once after its own commits, and writes by other
processes are seen at the next poll.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from orderledger.infrastructure.application.follow import follow_batches
from orderledger.infrastructure.http.service import LedgerService, LogEntry

HEARTBEAT_SECONDS = 15.0


def frame(position: int, kind: str, data: dict[str, Any]) -> bytes:
    """One SSE event (orjson writes no newlines, so ``data`` is one line)."""
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (position, kind.encode(), orjson.dumps(data))


async def log_events(
    request: Request, service: LedgerService, after: int, poll_seconds: float
) -> AsyncIterator[bytes]:
    """Every committed event after ``after``, then each new one as it is committed (the ledger's
    one follow loop, infrastructure/application/follow.py)."""

    async def read(position: int, limit: int) -> list[LogEntry]:
        return await run_in_threadpool(service.log_after, position, limit)

    yield b"retry: 1000\n\n"
    idle = 0.0
    batches = follow_batches(read, service.ledger.committed, after, poll_seconds=poll_seconds)
    async with contextlib.aclosing(batches):
        async for batch in batches:
            for entry in batch:
                yield frame(entry.position, entry.type, entry.record)
            idle = 0.0 if batch else idle + poll_seconds
            if idle >= HEARTBEAT_SECONDS:
                # A comment line keeps proxies from closing an idle stream.
                yield b": keep-alive\n\n"
                idle = 0.0
            if await request.is_disconnected():
                return
