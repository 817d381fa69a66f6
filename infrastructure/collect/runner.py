"""The :class:`Collector`: one :class:`~.source.Source` kept current in an ``AsyncOrderLedger``.

    collector = Collector(ledger, source, reconcile_every=300)
    status = await collector.run()      # until stop(), a permanent fault, or cancellation

What it does, in order, and again after every reconnect:

1. ``connect``; the backfill's start is the venue time last booked for the venue and account
   (``OrderLedger.venues.last_venue_time``) minus ``overlap`` (duplicates are harmless: ingest
   deduplicates by trade ID and event identity); with nothing booked yet, ``since`` (None: the
   source's own first start, e.g. Tradier's ``days`` back);
2. ``backfill(since)``, every payload ingested like a live frame;
3. on the first connect (and every ``reconcile_every`` seconds while streaming) the venue's
   open orders are reconciled against the ledger with ``apply`` (``OrderLedger.venues.reconcile``), so
   its corrections are explicit events; an order the ledger heard of after the venue's view was
   read is not judged by it, and corrections wait until a backfill has brought the venue's own
   record of what the view no longer shows (``_reconcile``);
4. ``frames()``: each frame is handed to the ingest as it arrives.

The ingest is one ``OrderLedger.ingest_lines`` call for the collector's whole life, in a thread
of its own, fed from a queue bounded by back-pressure (reading waits while ``MAX_BACKLOG``
frames, or ``MAX_BACKLOG_BYTES``, are received and not yet durable; a frame or reply refused
for its bounds, ``ConnectionLost.refused``, is journaled with its reason): the same path as
``orderledger ingest --format X -`` (a stateful format's feed keeps its state across
reconnects), committing whenever the queue runs dry, so a frame is journaled and durable moments
after it arrives. A ``ConnectionLost`` closes the source and waits (exponential backoff with
full jitter, at least the venue's ``Retry-After``, at most ``bounds.MAX_WAIT`` of it) before
step 1. ``stop()`` (SIGINT/SIGTERM in the command) or cancelling the task stops the reading,
commits everything received and releases the lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import socket
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

import orjson

from orderledger.domain.errors import LedgerError
from orderledger.domain.outcomes import Outcome
from orderledger.domain.values import format_timestamp
from orderledger.infrastructure.collect.bounds import MAX_WAIT
from orderledger.infrastructure.collect.source import (
    CollectError,
    ConnectionLost,
    Reports,
    Source,
)
from orderledger.infrastructure.collect.status import Status
from orderledger.infrastructure.collect.timing import Backoff, Timing
from orderledger.infrastructure.ingest.inbound import Result

OVERLAP = timedelta(minutes=5)
"""How far before the last booked venue time a backfill starts."""
STATUS_EVERY = 1.0
"""Seconds between status figures (and lease heartbeats)."""
RECONCILE_EVERY = 300.0
"""Seconds between reconciliations of open orders against the venue (None: on start only)."""
MAX_BACKLOG = 1000
"""Frames received and not yet durable at most: reading waits while this many are held, so a
venue faster than the ledger is slowed at its socket (TCP back-pressure) instead of growing
the collector's memory, and a stop commits at most this many frames before it ends."""
MAX_BACKLOG_BYTES = 16_000_000
"""Bytes of frames received and not yet durable at most (the same back-pressure, by size)."""

_STOP = object()


def owner_name() -> str:
    """Who a collector is: ``host:pid:nonce`` (the host lets a restart see a dead holder)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Ingesting(Protocol):
    """The ingest a collector feeds: ``OrderLedger.ingest_lines``, one call for its whole life."""

    def ingest_lines(
        self,
        lines: Iterable[str | bytes | None],
        *,
        origin: str = ...,
        on_batch: Callable[[list[Result]], None] | None = ...,
        format: str = ...,
        venue: str | None = ...,
        account: str | None = ...,
        options: Mapping[str, Any] | None = ...,
    ) -> object: ...


class Corrected(Protocol):
    """A difference of a reconciliation: the corrections it calls for."""

    @property
    def corrections(self) -> Sequence[object]: ...


class Reconciled(Protocol):
    """A reconciliation's report (``application.upkeep.reconcile.ReconcileReport``): its differences."""

    @property
    def differences(self) -> Sequence[Corrected]: ...


class KeptUpkeep(Protocol):
    """The collectors' leases (``AsyncOrderLedger.upkeep``)."""

    async def collector_lease(
        self, venue: str, account: str | None, owner: str, pid: int, *, stale_after: timedelta | None = None
    ) -> None: ...

    async def collector_heartbeat(
        self, venue: str, account: str | None, owner: str, figures: dict[str, Any]
    ) -> None: ...

    async def collector_release(self, venue: str, account: str | None, owner: str) -> None: ...


class KeptVenues(Protocol):
    """Where a backfill resumes, and reconciliation (``AsyncOrderLedger.venues``)."""

    async def last_venue_time(self, venue: str, account: str | None) -> datetime | None: ...

    async def reconcile(
        self,
        snapshot: bytes,
        *,
        apply: bool = False,
        origin: str = "reconcile",
        known_at: int | None = None,
    ) -> Reconciled: ...


class KeptLedger(Protocol):
    """What a collector asks of the ledger it keeps current. ``AsyncOrderLedger`` is the one
    (its ``collect`` runs a ``Collector``); the collector sits below the application, which
    starts it, so it names the ledger by what it does."""

    @property
    def ledger(self) -> Ingesting: ...

    @property
    def upkeep(self) -> KeptUpkeep: ...

    @property
    def venues(self) -> KeptVenues: ...

    async def log_position(self) -> int: ...


class Collector:
    """Runs one ``source`` against ``ledger`` (see the module's text); ``on_status`` hears the
    figures every ``status_every`` seconds, at every change of state, and once more at the end."""

    def __init__(
        self,
        ledger: KeptLedger,
        source: Source,
        *,
        reconcile_every: float | None = RECONCILE_EVERY,
        status_every: float = STATUS_EVERY,
        overlap: timedelta = OVERLAP,
        backoff: Backoff | None = None,
        timing: Timing | None = None,
        on_status: Callable[[dict[str, Any]], None] | None = None,
        stale_after: timedelta | None = None,
        since: datetime | None = None,
    ) -> None:
        self.ledger = ledger
        self.source = source
        self.reconcile_every = reconcile_every
        self.status_every = status_every
        self.overlap = overlap
        self.backoff = backoff or Backoff()
        self.timing = timing or Timing()
        self.on_status = on_status
        self.stale_after = stale_after
        self.since = since
        self.status = Status()
        self.owner = owner_name()
        self.origin = f"collect:{source.venue}" + ("" if source.account is None else f":{source.account}")
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._arrivals: deque[tuple[float, int]] = deque()  # (arrival, bytes) of each frame not yet durable
        self.held_bytes = 0
        self.max_backlog = MAX_BACKLOG
        self.max_backlog_bytes = MAX_BACKLOG_BYTES
        self._progress = asyncio.Event()
        self._arrived = asyncio.Event()
        self._moved = asyncio.Event()
        self._stopping = asyncio.Event()
        self._session: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        reports = getattr(source, "reports", None)
        if isinstance(reports, Reports):
            reports.listener = self._report

    # ------------------------------------------------------------------ the public face

    def stop(self) -> None:
        """Stop reading; ``run`` then commits what has arrived and returns (safe from a signal handler)."""
        self._stopping.set()
        if self._session is not None:
            self._session.cancel()

    def _report(self, line: str) -> None:
        """A source's report of an anomaly it worked around: the status's error until the next."""
        self.status.error = line

    def figures(self) -> dict[str, Any]:
        """The status figures now."""
        return self.status.figures(self.timing.clock())

    async def run(self) -> dict[str, Any]:
        """Collect until ``stop()``, a permanent fault (raised, after committing what arrived) or
        cancellation (what arrived is committed, then the cancellation goes on). Answers the
        final figures."""
        source, ledger = self.source, self.ledger
        self._loop = asyncio.get_running_loop()
        await ledger.upkeep.collector_lease(
            source.venue, source.account, self.owner, os.getpid(), stale_after=self.stale_after
        )
        ingest = asyncio.ensure_future(asyncio.to_thread(self._ingest))
        beats = asyncio.ensure_future(self._beats())
        reconciles = asyncio.ensure_future(self._reconciles())
        self._session = asyncio.ensure_future(self._sessions())
        # The periodic reconciliation (with its backfill) can meet a permanent fault too; without
        # one it has nothing to watch (it returns at once).
        watched = [self._session, ingest, beats] + ([reconciles] if self.reconcile_every is not None else [])
        failure: BaseException | None = None
        try:
            done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
            for task in watched:
                if task in done and not task.cancelled() and task.exception() is not None:
                    failure = task.exception()
                    break
        except asyncio.CancelledError:
            failure = asyncio.CancelledError()
        finally:
            await asyncio.shield(self._finish(ingest, beats, reconciles, failure))
        if failure is not None:
            raise failure
        return self.status.figures(self.timing.clock())

    # ------------------------------------------------------------------ the session

    async def _sessions(self) -> None:
        """Connect, backfill, (reconcile,) stream; after a lost connection, wait and start over."""
        attempt = 0
        first = True
        while not self._stopping.is_set():
            try:
                self._enter("connecting")
                await self.source.connect()
                await self._backfill()
                if first:
                    await self._reconcile()
                first = False
                attempt = 0
                self._enter("streaming")
                self.status.error = None
                await self._feed(self.source.frames())
                raise ConnectionLost("the venue ended the stream", ended=True)
            except ConnectionLost as lost:
                await self._journal_refusal(lost)
                self.status.reconnects += 1
                reasons = self.status.reconnect_reasons
                reasons[lost.reason] = reasons.get(lost.reason, 0) + 1
                self.status.error = lost.message
                retry = lost.retry_after
                if retry is not None and not retry <= MAX_WAIT:  # (NaN too) a venue cannot stall it
                    self.status.error += f" (it asked for a wait of {retry:g} s: {MAX_WAIT:g} s at most)"
                    retry = MAX_WAIT
                self._enter("waiting")
                delay = self.backoff.delay(attempt, self.timing.random(), retry)
                attempt += 1
                await self.source.close()
                await self.timing.sleep(delay)

    async def _backfill(self) -> None:
        self._enter("backfilling")
        await self._catch_up()

    async def _catch_up(self) -> None:
        """The venue's record since the last booked venue time (less the overlap), received; on a
        first start (nothing booked yet) since ``since``, else the source's own first start."""
        await self.durable()  # the last booked time includes everything received so far
        last = await self.ledger.venues.last_venue_time(self.source.venue, self.source.account)
        await self._feed(self.source.backfill(self.since if last is None else last - self.overlap))

    async def _feed(self, frames: AsyncIterator[bytes]) -> None:
        async with contextlib.aclosing(frames):  # type: ignore[type-var]
            async for frame in frames:
                await self._receive(frame)

    async def _receive(self, frame: bytes) -> None:
        now = self.timing.clock()
        self.status.last_frame_at = now
        if not frame.strip():
            return  # a keep-alive: nothing to journal
        await self._room()
        self.status.frames += 1
        self.held_bytes += len(frame)
        self._arrivals.append((now, len(frame)))
        self._queue.put(frame)
        self._arrived.set()

    async def _room(self) -> None:
        """Back-pressure: wait while the backlog is at its bound (frames or bytes), so the source
        stops reading and the venue's socket fills instead of the collector's memory."""
        status = self.status
        while status.frames - status.durable >= self.max_backlog or self.held_bytes >= self.max_backlog_bytes:
            self._progress.clear()
            await self._progress.wait()

    async def _journal_refusal(self, lost: ConnectionLost) -> None:
        """A frame or reply refused for its bounds (``bounds.refused``) is journaled with its reason."""
        if lost.refused is not None:
            self.status.refused += 1
            await self._receive(lost.refused)

    async def durable(self, frames: int | None = None) -> None:
        """Wait until ``frames`` frames (default: every frame received so far) are durable."""
        wanted = self.status.frames if frames is None else frames
        while self.status.durable < wanted:
            self._progress.clear()
            await self._progress.wait()

    async def streaming(self) -> None:
        """Wait until the collector is streaming (connected, backfilled, reconciled on start);
        ``CollectError`` with the collector's last error once it has stopped instead."""
        while self.status.state != "streaming":
            if self.status.state == "stopped":
                raise CollectError(f"the collector stopped: {self.status.error or 'asked to stop'}")
            self._moved.clear()
            await self._moved.wait()

    def _enter(self, state: str) -> None:
        changed = state != self.status.state
        self.status.state = state
        self._moved.set()
        if changed and state != "stopped" and self.on_status is not None:
            self.on_status(self.status.figures(self.timing.clock()))  # a line per state change

    async def received(self, frames: int) -> None:
        """Wait until ``frames`` frames have arrived (keep-alives not counted)."""
        while self.status.frames < frames:
            self._arrived.clear()
            await self._arrived.wait()

    # ------------------------------------------------------------------ reconciliation

    async def _reconciles(self) -> None:
        if self.reconcile_every is None:
            return
        while True:
            await self.timing.sleep(self.reconcile_every)
            if self.status.state == "streaming":
                try:
                    await self._reconcile()
                except ConnectionLost as lost:  # the stream will notice and reconnect
                    await self._journal_refusal(lost)
                    self.status.error = f"reconciliation: {lost.message}"

    async def _reconcile(self) -> None:
        """The venue's open orders against the ledger, corrections applied as explicit events.

        A venue's open-orders view runs ahead of its streams: an order it no longer lists may
        still have fills on the way, and one the ledger learned of after the view was read cannot
        be in it. So the log position is noted before the view is read (orders first heard of
        after it are not judged absent), and when a dry run finds corrections to make, the
        venue's record (the backfill) is received and made durable first: what it explains is
        booked as the venue's own facts (a fill, a cancel), and only what it leaves standing is
        corrected."""
        source = self.source
        if not getattr(source, "reconciles", True) or source.account is None:
            return  # a source that cannot say what is open (a FIX log)
        state = self.status.state
        self._enter("reconciling")
        try:
            await self.durable()
            known_at = await self.ledger.log_position()
            rows = await source.open_orders()
            snapshot = orjson.dumps(
                {
                    "venue": source.venue,
                    "account": source.account,
                    "as_of": format_timestamp(self.timing.now()),
                    "open_orders": rows,
                }
            )
            await self.durable()
            dry = await self.ledger.venues.reconcile(snapshot, known_at=known_at, origin=self.origin)
            if any(difference.corrections for difference in dry.differences):
                await self._catch_up()
                await self.durable()
            await self.ledger.venues.reconcile(snapshot, apply=True, known_at=known_at, origin=self.origin)
        except CollectError:
            raise
        except LedgerError as error:  # a row the reconciliation refuses: said, and collecting goes on
            self.status.error = f"reconciliation: {error.message}"
        finally:
            if self.status.state == "reconciling":  # (a reconnect meanwhile has its own state)
                self._enter(state)

    # ------------------------------------------------------------------ ingest, in its own thread

    def _lines(self) -> Any:
        """The frames as ``ingest_lines`` reads them: a ``None`` (commit what is held) whenever
        the queue runs dry, then wait for the next."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                yield None
                item = self._queue.get()
            if item is _STOP:
                return
            yield item

    def _ingest(self) -> object:
        source = self.source
        return self.ledger.ledger.ingest_lines(
            self._lines(),
            origin=self.origin,
            format=source.format,
            venue=source.venue,
            account=source.account,
            options=source.options,
            on_batch=self._durable,
        )

    def _durable(self, results: list[Result]) -> None:
        """A batch is committed (in the ingest thread): count it, time it, wake the waiters."""
        now = self.timing.clock()
        status = self.status
        for result in results:
            arrived, size = self._arrivals.popleft()
            self.held_bytes -= size
            status.latencies.append(now - arrived)
            status.events += len(result.events)
            status.parked += result.outcome is Outcome.PARKED
        status.durable += len(results)
        self._wake()

    def _wake(self) -> None:
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
                self._loop.call_soon_threadsafe(self._progress.set)

    # ------------------------------------------------------------------ status, lease, the end

    async def _beats(self) -> None:
        while True:
            await self.timing.sleep(self.status_every)
            await self._publish()

    async def _publish(self) -> None:
        figures = self.status.figures(self.timing.clock())
        source = self.source
        if self.on_status is not None:  # before the heartbeat's await: a state entered meanwhile
            self.on_status(figures)  # is said after these figures, never before them
        await self.ledger.upkeep.collector_heartbeat(source.venue, source.account, self.owner, figures)

    async def _finish(
        self,
        ingest: asyncio.Future[object],
        beats: asyncio.Future[None],
        reconciles: asyncio.Future[None],
        failure: BaseException | None,
    ) -> None:
        """Stop reading, commit what arrived, publish the last figures, give the lease up."""
        for task in (self._session, beats, reconciles):
            if task is not None and not task.done():
                task.cancel()
        for task in (self._session, beats, reconciles):
            if task is not None:
                with contextlib.suppress(BaseException):
                    await task
        with contextlib.suppress(Exception):
            await self.source.close()
        self._queue.put(_STOP)
        with contextlib.suppress(BaseException):
            await ingest
        self._enter("stopped")
        if isinstance(failure, Exception):
            self.status.error = str(getattr(failure, "message", None) or failure)
        source = self.source
        with contextlib.suppress(Exception):
            if self.on_status is not None:
                self.on_status(self.status.figures(self.timing.clock()))
            await self.ledger.upkeep.collector_release(source.venue, source.account, self.owner)


__all__ = [
    "OVERLAP",
    "RECONCILE_EVERY",
    "STATUS_EVERY",
    "Collector",
    "Corrected",
    "Ingesting",
    "KeptLedger",
    "Reconciled",
    "owner_name",
]
