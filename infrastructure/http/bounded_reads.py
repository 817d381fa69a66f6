"""Bounded work: the reads that fold or hash the whole log run apart, few at a time and for so long.

``GET /verify`` and the reads ``as_of`` a past time cost in proportion to the whole log (seconds
to minutes on a large ledger), where every other request costs milliseconds. Run beside the
others they would take the cores, Python's one interpreter lock and the database connection
from ``/health`` and the writes. So, over a database file or server, they run in worker
processes of their own (``ReaderProcesses``: their own interpreter, their own connection), at
most ``concurrency`` at a time; one more is answered at once with 503 and ``Retry-After`` rather
than queued, because a queue of whole-log reads only moves the wait to the client while it holds
a connection open. An answer that takes longer than ``seconds`` is 503 too; the work itself is
not stopped half-way, so it keeps its place until it ends and the limit stays true. An in-memory
ledger has one connection, which no other process can open: there they run in threads, under
the same limits.

List reads (``/events``, ``/orders``, …) cost milliseconds to a few hundred each, but a crowd of
clients can keep them running back to back. They are bounded the same way (``list_limit``), per
token and per address besides, and run apart too: in ``ReaderProcesses`` of their own when
served over a file or a server, else in ``OwnThreads``. The clients of ``/risk/stream`` are held
to a bound of the same kind (``stream_limit``): a stream costs nothing while nothing changes
(stream.py, ``RiskFeed``), but each holds a connection and its memory for as long as it is open.
"""

from __future__ import annotations

import asyncio
import logging
import math
import multiprocessing
import os
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from starlette.concurrency import run_in_threadpool

from orderledger.domain.errors import LedgerError, argument_names
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.http.problems import Problem, parameter_name, status_for
from orderledger.infrastructure.http.service import Asked, LedgerService

CONCURRENCY = max(1, (os.cpu_count() or 2) // 2)
"""Default: expensive reads at once (``serve --expensive-reads``): half the cores, at least one.
Each takes a core for as long as it runs; the other half is left to ``/health`` and the writes."""
SECONDS = 300.0
"""Default: the longest an expensive read's answer is waited for (``serve --expensive-seconds``)."""
RETRY_AFTER = 5
"""Seconds a refused client is told to wait before it asks again."""
PARENT_POLL = 0.5
"""Seconds between a worker's checks that the server that started it still runs."""

Runner = Callable[[Asked], Awaitable[Any]]
"""Answers one request (``LedgerService.answer``) somewhere off the event loop."""
log = logging.getLogger("orderledger.http")


def in_threads(service: LedgerService) -> Runner:
    """A runner calling ``service`` in the event loop's thread pool."""

    async def run(asked: Asked) -> Any:
        return await run_in_threadpool(service.answer, asked)

    return run


LIST_THREADS = "orderledger-list"
"""The name (and number) of each thread of the list reads' own pool."""


class OwnThreads:
    """A runner calling ``service`` in a pool of ``workers`` threads of its own, apart from the
    event loop's (the one ``/health``, the writes and the other reads run in): work run here
    never takes one of that pool's threads, and never waits for one. The list reads' bound
    admits at most ``workers`` at once, a read past its time budget keeping its place and its
    thread, so a read admitted always finds a free thread. ``serve`` runs the list reads of a
    ledger over a file or a server in ``ReaderProcesses`` instead, where they do not hold this
    process's interpreter lock either; an in-memory ledger's run here."""

    def __init__(self, service: LedgerService, workers: int) -> None:
        self.service = service
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix=LIST_THREADS)

    async def __call__(self, asked: Asked) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.pool, self.service.answer, asked)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


_reader: LedgerService | None = None
"""The worker process's own service over its own connection (opened by ``_open_reader``)."""


def _open_reader(url: str, parent: int) -> None:
    global _reader
    _reader = LedgerService(OrderLedger(url, create=False))
    threading.Thread(target=_end_with, args=(parent,), name="orderledger-parent", daemon=True).start()


def _end_with(parent: int) -> None:
    """End this worker once the server that started it is gone, even in the middle of a read:
    its answer has no one to go to, and an orphan would hold a core for nothing."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL)
    os._exit(0)


def _in_reader(asked: Asked) -> tuple[int, Any]:
    """In a worker: (0, the answer) or (status, one-line reason); errors do not cross processes
    as exceptions, which may not survive pickling."""
    assert _reader is not None
    try:
        return 0, _reader.answer(asked)
    except LedgerError as error:
        return status_for(error), argument_names(error.message, parameter_name)  # as the server says it
    except ValueError as error:
        return 400, str(error) or "invalid value"


def _started() -> None:
    """Nothing: what a worker is given to run so that it starts (``ReaderProcesses.start``)."""


class ReaderProcesses:
    """A pool of ``workers`` processes, each with the ledger at ``url`` open for reading; ``what``
    they run names them in the one line a client gets when one ends abruptly."""

    def __init__(self, url: str, workers: int, what: str = "expensive reads") -> None:
        self.url = url
        self.workers = workers
        self.what = what
        self.pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        # spawn: a forked copy of a process running threads may inherit a lock held forever.
        return ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_open_reader,
            initargs=(self.url, os.getpid()),
        )

    def start(self) -> None:
        """Start a worker now, not in the first read that needs one: a worker's start (an
        interpreter, the ledger's modules, its connection) takes a core for a second or more."""
        self.pool.submit(_started)

    async def __call__(self, asked: Asked) -> Any:
        loop = asyncio.get_running_loop()
        pool = self.pool
        try:
            status, value = await loop.run_in_executor(pool, _in_reader, asked)
        except BrokenProcessPool:
            # A worker ended abruptly (killed, out of memory): the pool refuses all work from
            # then on, so the next read gets a new one rather than every read failing until
            # the server restarts.
            if self.pool is pool:
                pool.shutdown(wait=False, cancel_futures=True)
                self.pool = self._start()
            raise Problem(
                503,
                f"a process running {self.what} ended abruptly; a new one is started:"
                f" retry in {RETRY_AFTER} s",
                headers={"Retry-After": str(RETRY_AFTER)},
            ) from None
        if status:
            raise Problem(status, value)
        return value

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


LIST_READS = 4
"""Default: list reads (``/events``, ``/orders``, …) at once over all clients (``serve --list-reads``)."""
LIST_READS_PER_CLIENT = 2
"""Default: list reads at once per token and per client address (``serve --list-reads-per-client``)."""
LIST_SECONDS = 30.0
"""Default: the longest a list read's answer is waited for (``serve --list-seconds``)."""


class WorkLimit:
    """At most ``concurrency`` calls at once, each answered within ``seconds`` or refused; with
    ``per_client``, also at most that many at once per client key (a token, an address) a call
    names, one more answered at once with 429. ``what`` names the calls in a refusal and
    ``option`` the server option that sets ``seconds``."""

    def __init__(
        self,
        concurrency: int = CONCURRENCY,
        seconds: float = SECONDS,
        *,
        per_client: int | None = None,
        what: str = "expensive reads",
        options: tuple[str, str, str] = ("--expensive-reads", "--expensive-seconds", ""),
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"{options[0]} must be at least 1")
        if not seconds > 0:
            raise ValueError(f"{options[1]} must be more than 0")
        if per_client is not None and per_client < 1:
            raise ValueError(f"{options[2]} must be at least 1")
        self.concurrency = concurrency
        self.seconds = seconds
        self.per_client = per_client
        self.what = what
        self.option = options[1]
        self.running = 0
        """Calls started and not yet ended (their answers may have been given up)."""
        self.by_client: dict[str, int] = {}
        """Of those, the calls of each client key (a key with none is not kept)."""

    def take(self, what: str, clients: tuple[str, ...] = ()) -> None:
        """Admit one call of ``clients`` (raise its 429 or 503 when a bound is full); the caller
        gives the place back (``give_back``) when the call ends. Only the event loop's thread
        takes and gives back places: no lock is needed."""
        refused = self.refusal(what, clients)
        if refused is not None:
            raise refused
        self.running += 1
        for client in clients:
            self.by_client[client] = self.by_client.get(client, 0) + 1

    def give_back(self, clients: tuple[str, ...] = ()) -> None:
        """The place a call of ``clients`` took (``take``), free again."""
        self.running -= 1
        for client in clients:
            self.by_client[client] -= 1
            if not self.by_client[client]:
                del self.by_client[client]

    def _ended(self, task: asyncio.Future[Any], clients: tuple[str, ...]) -> None:
        self.give_back(clients)
        if not task.cancelled():
            task.exception()  # an answer given up: it was answered 503; its error is not logged

    def refusal(self, what: str, clients: tuple[str, ...]) -> Problem | None:
        """The 429 or 503 a call would get now, or None when it would be admitted."""
        retry = {"Retry-After": str(RETRY_AFTER)}
        for client in clients:
            if self.per_client is not None and self.by_client.get(client, 0) >= self.per_client:
                kind = client.split(":", 1)[0]
                return Problem(
                    429,
                    f"{what} is refused for now: this {kind} has {self.per_client} {self.what} running,"
                    f" the most one {kind} may run at once; retry in {RETRY_AFTER} s",
                    headers=retry,
                )
        if self.running >= self.concurrency:
            return Problem(
                503,
                f"{what} is refused for now: {self.running} {self.what} are running, the most"
                f" this server runs at once; retry in {RETRY_AFTER} s",
                headers=retry,
            )
        return None

    async def run(self, what: str, runner: Runner, asked: Asked, /, *, clients: tuple[str, ...] = ()) -> Any:
        """The answer to ``asked`` through ``runner``, within the limits; ``what`` names it and
        ``clients`` are the keys of who asks (a token's, an address's)."""
        self.take(what, clients)
        task = asyncio.ensure_future(runner(asked))
        task.add_done_callback(lambda done: self._ended(done, clients))
        try:
            # shield: a timeout or a client gone does not cancel the task, whose end frees the place
            return await asyncio.wait_for(asyncio.shield(task), self.seconds)
        except TimeoutError:
            raise Problem(
                503,
                f"{what} did not finish within {self.seconds:g} s (serve {self.option}); it"
                f" keeps one of the places for {self.what} until it ends",
                headers={"Retry-After": str(max(RETRY_AFTER, math.ceil(self.seconds)))},
            ) from None


def list_limit(
    concurrency: int = LIST_READS, per_client: int = LIST_READS_PER_CLIENT, seconds: float = LIST_SECONDS
) -> WorkLimit:
    """The bound on list reads (see ``LedgerContext.listed``)."""
    return WorkLimit(
        concurrency,
        seconds,
        per_client=per_client,
        what="list reads",
        options=("--list-reads", "--list-seconds", "--list-reads-per-client"),
    )


STREAMS = 256
"""Default: ``/risk/stream`` clients served at once over all clients (``serve --streams``)."""
STREAMS_PER_CLIENT = 32
"""Default: ``/risk/stream`` clients at once per token and per client address
(``serve --streams-per-client``)."""


def stream_limit(concurrency: int = STREAMS, per_client: int = STREAMS_PER_CLIENT) -> WorkLimit:
    """The bound on the ``/risk/stream`` clients, counted as list reads are (per token, per
    address and in all; 429 or 503 at once past a bound). A stream has no time budget: it is
    open until its client leaves, and its place is free again then."""
    return WorkLimit(
        concurrency,
        math.inf,
        per_client=per_client,
        what="risk streams",
        options=("--streams", "", "--streams-per-client"),
    )
