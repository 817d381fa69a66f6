"""Following the log: every committed event after a position, in order, then each new one live.

One implementation serves the Python API (``OrderLedger.follow``, ``AsyncOrderLedger.follow``),
the CLI (``orderledger follow``) and the HTTP event stream (``GET /stream``).

How it stays exact. Followers poll the events table by position (``notification_id > p``,
ascending). The store assigns positions under the log lock (``LedgerRecorder._lock``), which is
held until the transaction commits, and each position is the last one plus one: so positions
become visible in ascending order, a lower position never commits after a higher one, and a write
that rolls back leaves no hole (its positions are taken by the next writer). A reader that has
seen position ``p`` has therefore seen everything at or below ``p``, on SQLite and PostgreSQL
alike. A gap (rows outside the chain in an old database, which ``verify`` reports) is stepped
over, never waited on.

How it stays live. Writes by this process wake its followers at once (``Wakeup``); writes by
other processes are seen at the next poll. There is no notification to lose: PostgreSQL's
LISTEN/NOTIFY is not used, so nothing can stall a follower except the database itself.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from orderledger.domain.events import OrderEvent
from orderledger.infrastructure.audit.search import event_record

if TYPE_CHECKING:
    import asyncio

    from orderledger.infrastructure.application.ledger_protocol import LedgerParts

CHUNK = 500
"""Most events read per poll: a follower far behind catches up in chunks, without waiting."""
POLL_SECONDS = 0.5
"""How long a follower waits for news before looking at the log again (other processes' writes)."""


@dataclass(frozen=True)
class CommittedEvent:
    """One committed event and its position in the global log (resume with ``since=position``)."""

    position: int
    event: OrderEvent


def read_after(ledger: LedgerParts, position: int, limit: int = CHUNK) -> list[CommittedEvent]:
    """Up to ``limit`` committed events after ``position``, in log order (blocking)."""
    notifications = ledger.recorder.select_notifications(position, limit, inclusive_of_start=False)
    decode = ledger.mapper.decode
    return [
        CommittedEvent(n.id, decode(n.topic, n.state, n.originator_id, n.originator_version))
        for n in notifications
    ]


def log_record(committed: CommittedEvent) -> dict[str, Any]:
    """A followed event as JSON-ready data (``orderledger follow``): the record of ``orderledger
    events --json`` without ``message_id``, which the log's notification lacks (the HTTP stream
    reads it with each event: ``OrderLedger.audit.events_after``)."""
    record = event_record(committed.position, committed.event, None)
    del record["message_id"]
    return record


class Wakeup:
    """Wakes this process's followers (threads and asyncio tasks) as soon as it commits.

    ``generation`` counts commits: a follower notes it before reading the log, and its wait
    returns at once if a commit happened in between, so no wake-up falls between read and wait.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self.generation = 0
        self._tasks: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def notify(self) -> None:
        """Something was committed: wake every waiting follower (callable from any thread)."""
        with self._condition:
            self.generation += 1
            self._condition.notify_all()
            tasks = list(self._tasks)
        for loop, event in tasks:
            with contextlib.suppress(RuntimeError):  # that loop has closed: nobody waits there
                loop.call_soon_threadsafe(event.set)

    def wait(self, timeout: float, seen: int) -> bool:
        """Block until a commit after generation ``seen``, or ``timeout`` seconds (then False)."""
        with self._condition:
            return self._condition.wait_for(lambda: self.generation != seen, timeout)

    async def wait_async(self, timeout: float, seen: int) -> bool:
        """The coroutine twin of ``wait``: the event loop is free meanwhile."""
        # start-up cost: asyncio is loaded by the async API; a synchronous reader never needs it
        import asyncio

        event = asyncio.Event()
        waiter = (asyncio.get_running_loop(), event)
        with self._condition:
            if self.generation != seen:
                return True
            self._tasks.add(waiter)
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return self.generation != seen
        finally:
            with self._condition:
                self._tasks.discard(waiter)
        return True


def follow(
    ledger: LedgerParts,
    since: int = 0,
    *,
    poll_seconds: float = POLL_SECONDS,
    stop: threading.Event | None = None,
    chunk: int = CHUNK,
    read: Callable[[int, int], list[CommittedEvent]] | None = None,
) -> Iterator[CommittedEvent]:
    """Every committed event after position ``since``, then each new one as it is committed.

    Blocks between polls; ends when ``stop`` is set (checked after each wait) or when the caller
    stops iterating. ``read(position, limit)`` reads the log between the waits (default
    :func:`read_after`; ``OrderLedger.follow`` asks its ``CommittedAfter`` request).
    """
    position = since
    while True:
        seen = ledger.committed.generation
        entries = read_after(ledger, position, chunk) if read is None else read(position, chunk)
        for entry in entries:
            position = entry.position
            yield entry
        if len(entries) == chunk:
            continue  # more is waiting: read it before waiting
        if stop is not None and stop.is_set():
            return
        ledger.committed.wait(poll_seconds, seen)
        if stop is not None and stop.is_set():
            return


class Positioned(Protocol):
    """Anything read from the log at a position (a ``CommittedEvent``, a stream's entry)."""

    @property
    def position(self) -> int: ...


Entry = TypeVar("Entry", bound=Positioned)


async def follow_batches(
    read: Callable[[int, int], Awaitable[list[Entry]]],
    wakeup: Wakeup,
    since: int = 0,
    *,
    poll_seconds: float = POLL_SECONDS,
    chunk: int = CHUNK,
) -> AsyncGenerator[list[Entry]]:
    """The asyncio form of ``follow``, a list at a time: ``read(position, limit)`` reads the log
    off the event loop (in a worker thread; ``read_after``, or a form of it). An empty list means
    a wait ended without news (a stream may send a keep-alive then)."""
    position = since
    while True:
        seen = wakeup.generation
        entries = await read(position, chunk)
        if entries:
            position = entries[-1].position
            yield entries
        if len(entries) == chunk:
            continue
        if not await wakeup.wait_async(poll_seconds, seen):
            yield []


__all__ = [
    "CHUNK",
    "POLL_SECONDS",
    "CommittedEvent",
    "Wakeup",
    "follow",
    "follow_batches",
    "log_record",
    "read_after",
]
