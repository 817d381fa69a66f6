"""The P&L reads (``GET /pnl``, ``/pnl/daily``, ``/pnl/series``): answered once per state of the log.

Each folds every P&L entry of the ledger: seconds of one core at 100,000 fills, where every other
read costs milliseconds. Run in the server's own process they would hold Python's one
interpreter lock for that long, and every other request (a page's next tab, ``/health``, a
write) would wait for its turns at it. So, over a database file or server, they run in a process
of their own (``limits.ReaderProcesses``; an in-memory ledger: in threads), one at a time, and
each answer is kept with the position of the log it was asked at:

- the same read at the same position is answered from what was kept (a page opened again, a
  second operator), and the same read asked again while it runs waits for that one run;
- a read at a later position runs again: nothing kept is ever older than the log the request
  saw (a run started at position N reads the log as it is then, N or later).

Only the latest answer of each read (method and parameters) is kept, and only the
``KEPT`` most recently asked reads.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any

from orderledger.infrastructure.http.limits import Runner

KEPT = 64
"""Reads (method and parameters) whose latest answer is kept; the least recently asked goes first."""

Key = tuple[str, tuple[tuple[str, Any], ...]]


class Folds:
    """Answers of whole-ledger folds, run by ``runner`` and kept per log position."""

    def __init__(self, runner: Runner, kept: int = KEPT) -> None:
        self.runner = runner
        self.kept = kept
        self.answers: OrderedDict[Key, tuple[int, Any]] = OrderedDict()
        self.running: dict[Key, tuple[int, asyncio.Future[Any]]] = {}
        self.runs = 0
        """Folds run so far (the others were answered from a kept or a running one)."""

    async def answer(self, head: int, method: str, kwargs: dict[str, Any]) -> Any:
        """``method(**kwargs)`` as of the log's position ``head`` or later."""
        key: Key = (method, tuple(sorted(kwargs.items())))
        known = self.answers.get(key)
        if known is not None and known[0] >= head:
            self.answers.move_to_end(key)
            return known[1]
        running = self.running.get(key)
        if running is None or running[0] < head:
            self.runs += 1
            task = asyncio.ensure_future(self.runner(method, kwargs))
            running = (head, task)
            self.running[key] = running
            task.add_done_callback(lambda done: self._ended(key, head, done))
        # shield: a client gone does not cancel the run, whose answer the next request can use
        return await asyncio.shield(running[1])

    def _ended(self, key: Key, head: int, task: asyncio.Future[Any]) -> None:
        if self.running.get(key, (None, None))[1] is task:
            del self.running[key]
        if task.cancelled() or task.exception() is not None:
            return  # an error is answered to those who waited, never kept
        known = self.answers.get(key)
        if known is None or known[0] <= head:
            self.answers[key] = (head, task.result())
            self.answers.move_to_end(key)
        while len(self.answers) > self.kept:
            self.answers.popitem(last=False)


__all__ = ["Folds"]
