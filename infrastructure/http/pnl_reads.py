"""The P&L reads (``GET /pnl``, ``/pnl/daily``, ``/pnl/series``): answered once per state of the ledger.

Each may fold every P&L entry of the ledger (the first read with no heads or sums kept, a rule
asked for the first time, the whole series): seconds of one core at 100,000 fills, where every
other read costs milliseconds. Run in the server's own process they would hold Python's one
interpreter lock for that long, and every other request (a page's next tab, ``/health``, a
write) would wait for its turns at it. So, over a database file or server, they run in a process
of their own, one at a time (``limits.ReaderProcesses`` with one worker); an in-memory ledger,
which no other process can open, runs them in the server's thread pool, several at once. Each
answer is kept with the state of the ledger it was asked in: the log's last position, the
views' and the ledger's cost-basis rule (``LedgerService.views_at``; a follower folding what
``ingest --no-project`` stored moves the views, not the log; ``db cost-basis`` changes the rule of
a read that names none, and neither):

- the same read in the same state is answered from what was kept (a page opened again, a second
  operator), and the same read asked again while it runs waits for that one run;
- a read in another state runs again: nothing kept is answered once the log or the views moved
  or the rule changed.

Only the latest answer of each read (its request, a value) is kept, and no more than
``KEPT_ROWS`` rows in all, the most recently asked first: an answer longer than that (the whole
series of a large ledger, asked without ``points``) is answered, not kept.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any

from orderledger.infrastructure.http.bounded_reads import Runner
from orderledger.infrastructure.http.service import Asked

KEPT_ROWS = 20_000
"""Rows of the answers kept, in all (each a few hundred bytes); the least recently asked go first."""

At = tuple[int, int, int, str]
"""A state of the ledger: the log's last position, the views' and its cost-basis rule
(``LedgerService.views_at``)."""


class Folds:
    """Answers of whole-ledger folds, run by ``runner`` and kept per state of the ledger."""

    def __init__(self, runner: Runner, kept_rows: int = KEPT_ROWS) -> None:
        self.runner = runner
        self.kept_rows = kept_rows
        self.answers: OrderedDict[Asked, tuple[At, list[Any]]] = OrderedDict()
        self.running: dict[Asked, tuple[At, asyncio.Future[Any]]] = {}

    async def answer(self, at: At, key: Asked) -> Any:
        """The answer to the request ``key`` with the ledger in the state ``at``."""
        known = self.answers.get(key)
        if known is not None and known[0] == at:
            self.answers.move_to_end(key)
            return known[1]
        running = self.running.get(key)
        if running is None or running[0] != at:
            task = asyncio.ensure_future(self.runner(key))
            running = (at, task)
            self.running[key] = running
            task.add_done_callback(lambda done: self._ended(key, at, done))
        # shield: a client gone does not cancel the run, whose answer the next request can use
        return await asyncio.shield(running[1])

    def _ended(self, key: Asked, at: At, task: asyncio.Future[Any]) -> None:
        if self.running.get(key, (None, None))[1] is task:
            del self.running[key]
        if task.cancelled() or task.exception() is not None:
            return  # an error is answered to those who waited, never kept
        known = self.answers.get(key)
        if known is not None and known[0][:2] > at[:2]:
            return  # runs may end out of order: the later positions stay
        self.answers.pop(key, None)
        rows = task.result()
        if len(rows) > self.kept_rows:
            return
        self.answers[key] = (at, rows)
        while sum(len(answer) for _, answer in self.answers.values()) > self.kept_rows:
            self.answers.popitem(last=False)


__all__ = ["At", "Folds"]
