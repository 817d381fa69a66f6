"""Server-Sent Events: the committed log (``GET /stream``), resumable with ``Last-Event-ID``,
and the limits' alerts (``GET /risk/stream``).

Each log event's ``id`` is its position in the global log (the notification ID), so a client that
reconnects with the last ID it saw misses nothing and sees nothing twice. The log is polled by
position: this process wakes its streams at once after its own commits, and writes by other
processes are seen at the next poll.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import StreamingResponse

from orderledger.infrastructure.application.follow import Wakeup, follow_batches
from orderledger.infrastructure.application.watch import Changes, StateChanges
from orderledger.infrastructure.http.service import LedgerService, LogEntry

HEARTBEAT_SECONDS = 15.0
SSE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}
}
"""The OpenAPI description of a Server-Sent Events answer."""


def sse(events: AsyncIterator[bytes]) -> StreamingResponse:
    """Server-Sent Events that neither a cache nor a buffering proxy holds back."""
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def frame(position: int, kind: str, data: dict[str, Any]) -> bytes:
    """One SSE event (orjson writes no newlines, so ``data`` is one line)."""
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (position, kind.encode(), orjson.dumps(data))


def alert(status: dict[str, Any]) -> bytes:
    """One limit's new status as an SSE event without an ``id``: a status is now, not a log
    position, so a client that reconnects is told every limit not ``ok`` again."""
    return b"event: alert\ndata: %s\n\n" % orjson.dumps(status)


async def risk_alerts(
    request: Request,
    look: Callable[[], Awaitable[list[dict[str, Any]]]],
    first: list[dict[str, Any]],
    wakeup: Wakeup,
    poll_seconds: float,
    look_states: Callable[[], Awaitable[list[dict[str, Any]]]],
) -> AsyncIterator[bytes]:
    """An ``alert`` each time a limit's status changes (``watch.Changes``), beginning with every
    limit not ``ok`` in ``first``, and a ``state`` each time an account's trading state changes
    (``watch.StateChanges``: set, lifted by time, set by a limit's response), beginning with every
    account not active: the statuses and states are looked at again (``look``, ``look_states``)
    after each commit of this process and every ``poll_seconds`` (other processes' commits, and
    what moves with time: the orders sent within an interval, a state that lifts itself)."""
    yield b"retry: 1000\n\n"
    changes, states = Changes(), StateChanges()
    rows, idle = first, 0.0
    while True:
        seen = wakeup.generation
        for row in rows:
            if changes.news((row["scope"], row["target"], row["kind"]), row["status"]):
                yield alert(row)
        for change in states.news(await look_states()):
            yield b"event: state\ndata: %s\n\n" % orjson.dumps(change)
        if await request.is_disconnected():
            return
        if await wakeup.wait_async(poll_seconds, seen):
            idle = 0.0
        else:
            idle += poll_seconds
        if idle >= HEARTBEAT_SECONDS:
            yield b": keep-alive\n\n"
            idle = 0.0
        rows = await look()


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
