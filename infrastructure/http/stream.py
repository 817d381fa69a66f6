"""Server-Sent Events: the committed log (``GET /stream``), resumable with ``Last-Event-ID``,
and the limits' alerts (``GET /risk/stream``, read once for all its clients: ``RiskFeed``).

Each log event's ``id`` is its position in the global log (the notification ID), so a client that
reconnects with the last ID it saw misses nothing and sees nothing twice. The log is polled by
position: this process wakes its streams at once after its own commits, and writes by other
processes are seen at the next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from orderledger.infrastructure.application.reads.follow import Wakeup, follow_batches
from orderledger.infrastructure.application.risk.standing import Changes, StateChanges
from orderledger.infrastructure.http.service import LedgerService, LogEntry

HEARTBEAT_SECONDS = 15.0
SSE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}
}
"""The OpenAPI description of a Server-Sent Events answer."""
SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
"""Server-Sent Events that neither a cache nor a buffering proxy holds back."""
log = logging.getLogger("orderledger.http")


def sse(events: AsyncIterator[bytes]) -> StreamingResponse:
    """Server-Sent Events that neither a cache nor a buffering proxy holds back."""
    return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)


def frame(position: int, kind: str, data: dict[str, Any]) -> bytes:
    """One SSE event (orjson writes no newlines, so ``data`` is one line)."""
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (position, kind.encode(), orjson.dumps(data))


def alert(status: dict[str, Any]) -> bytes:
    """One limit's new status as an SSE event without an ``id``: a status is now, not a log
    position, so a client that reconnects is told every limit not ``ok`` again. It carries the
    time of the change (``changed_at``): the ledger's time of the look that found it."""
    return b"event: alert\ndata: %s\n\n" % orjson.dumps({**status, "changed_at": status.get("as_of")})


def breach(row: dict[str, Any]) -> bytes:
    """A breach the risk door recorded (``GET /denials``' row) as an SSE ``breach`` event, with
    the time of the change (``changed_at``: the ledger's time it was found)."""
    return b"event: breach\ndata: %s\n\n" % orjson.dumps({**row, "changed_at": row["ts"]})


def _unstamped(rows: Rows) -> Rows:
    """The statuses without the time they were worked out at: a look that finds the same
    statuses later changes nothing."""
    return [{k: v for k, v in row.items() if k != "as_of"} for row in rows]


Rows = list[dict[str, Any]]
"""The limits' statuses, as ``GET /risk`` answers them, or the trading states in force, as
``GET /state`` answers them."""


@dataclass(eq=False)
class _Statuses:
    """The statuses at one threshold as the feed last read them, and who follows them."""

    rows: Rows
    states: Rows = field(default_factory=list)
    """The trading states in force (``GET /state``'s rows but the scheduled ones)."""
    breaches: Rows = field(default_factory=list)
    """The latest breaches recorded (``GET /denials``' rows)."""
    version: int = 0
    """Counts the reads that changed ``rows``."""
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    """Set (and replaced) when ``rows`` change."""
    followers: int = 0
    reading: asyncio.Task[None] | None = None


class RiskFeed:
    """One reader of the limits' statuses and the trading states per threshold, shared by every
    ``/risk/stream`` client of that threshold: it looks again (``look``) after each commit of
    this process and every ``poll_seconds`` (other processes' commits, and what moves with time:
    the orders sent within an interval, a state that lifts itself), and wakes its clients only
    when the statuses or the states changed.
    So a client costs nothing while nothing changes (no read of its own, no turn of the event
    loop but a keep-alive every ``HEARTBEAT_SECONDS``), whatever the number of clients; the
    reader stops when its last client leaves. Only the event loop's thread uses it."""

    def __init__(
        self,
        look: Callable[[Decimal], Awaitable[tuple[Rows, Rows, Rows]]],
        wakeup: Wakeup,
        poll_seconds: float,
    ) -> None:
        self.look = look
        self.wakeup = wakeup
        self.poll_seconds = poll_seconds
        self.thresholds: dict[Decimal, _Statuses] = {}

    async def alerts(
        self, threshold: Decimal, first: Rows, first_states: Rows, after: int = 0
    ) -> AsyncGenerator[bytes, None]:
        """An ``alert`` each time a limit's status changes (``standing.Changes``), beginning with
        every limit not ``ok`` in ``first`` (the statuses read when the client came), a
        ``state`` each time an account's trading state changes (``standing.StateChanges``: set,
        lifted by time, set by a limit's response), beginning with every account not active,
        and a ``breach`` for each breach the risk door records after log position ``after``."""
        statuses = self.thresholds.get(threshold)
        if statuses is None:
            statuses = self.thresholds[threshold] = _Statuses(first, _in_force(first_states))
        statuses.followers += 1
        if statuses.reading is None:
            statuses.reading = asyncio.ensure_future(self._read(threshold, statuses))
        try:
            yield b"retry: 1000\n\n"
            changes, state_changes = Changes(), StateChanges()
            rows, states, version = first, _in_force(first_states), statuses.version
            breaches: Rows = []
            while True:
                for row in rows:
                    if changes.news((row["scope"], row["target"], row["kind"]), row["status"]):
                        yield alert(row)
                for change in state_changes.news(states):
                    yield b"event: state\ndata: %s\n\n" % orjson.dumps(change)
                for row in breaches:
                    if row["position"] > after:
                        after = row["position"]
                        yield breach(row)
                while statuses.version == version:
                    try:
                        await asyncio.wait_for(statuses.changed.wait(), HEARTBEAT_SECONDS)
                    except TimeoutError:
                        yield b": keep-alive\n\n"  # keeps proxies from closing an idle stream
                rows, states, version = statuses.rows, statuses.states, statuses.version
                breaches = statuses.breaches
        finally:
            statuses.followers -= 1
            if not statuses.followers:
                del self.thresholds[threshold]
                if statuses.reading is not None:
                    statuses.reading.cancel()

    async def _read(self, threshold: Decimal, statuses: _Statuses) -> None:
        while True:
            seen = self.wakeup.generation
            await self.wakeup.wait_async(self.poll_seconds, seen)
            try:
                rows, states, breaches = await self.look(threshold)
            except Exception:  # the next look may succeed (a lock, a connection): keep going
                log.exception("reading the limits' statuses for /risk/stream failed")
                continue
            states = _in_force(states)
            moved = _unstamped(rows) != _unstamped(statuses.rows) or breaches != statuses.breaches
            if moved or states != statuses.states:
                statuses.rows, statuses.states, statuses.breaches = rows, states, breaches
                statuses.version += 1
                changed, statuses.changed = statuses.changed, asyncio.Event()
                changed.set()


class HeldResponse(StreamingResponse):
    """Server-Sent Events that give back their place in a bound (``release``, once) when they
    end, however they end: finished, or closed when their client left or the server stops. The
    events are the place's measure: the response's own call may end before them (a middleware
    streams the body on), and a response never sent gives its place back when its call ends."""

    def __init__(self, events: AsyncIterator[bytes], release: Callable[[], None]) -> None:
        self.started = False
        self.released = False
        self._release = release
        super().__init__(self._held(events), media_type="text/event-stream", headers=SSE_HEADERS)

    def release(self) -> None:
        if not self.released:
            self.released = True
            self._release()

    async def _held(self, events: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        self.started = True
        try:
            async for chunk in events:
                yield chunk
        finally:
            self.release()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            if not self.started:
                self.release()


def _in_force(states: Rows) -> Rows:
    """The trading states in force among ``GET /state``'s rows (a scheduled one is not yet)."""
    return [row for row in states if not row.get("scheduled")]


async def log_events(
    request: Request, service: LedgerService, after: int, poll_seconds: float
) -> AsyncIterator[bytes]:
    """Every committed event after ``after``, then each new one as it is committed (the ledger's
    one follow loop, infrastructure/application/reads/follow.py)."""

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
