"""The page's verify: a full verify run in the background, its progress and its result.

``POST /verify`` starts one (or, while one runs, answers with it); ``GET /verify/progress`` tells
how far it is (events checked of how many) and, once done, its report. The verify runs where the
server's other whole-log reads run, under their bound (bounded_reads.py: over a database file or server,
in a worker process of its own), so the server goes on answering every other request meanwhile.
The worker tells its progress through a small file the server chose, rewritten whole after each
chunk of the log: no channel but the file system crosses the process boundary, and a reader of
the file sees either the last figures or the ones before.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from orderledger.infrastructure.audit.verify import read_progress
from orderledger.infrastructure.http.problems import Problem


class BackgroundVerify:
    """The one background verify of a server: running, finished (its report kept until the next
    starts) or never started."""

    def __init__(self) -> None:
        self.task: asyncio.Task[Any] | None = None
        self.progress = Path(os.devnull)  # (no verify yet: reads as nothing checked)

    def start(self, run: Callable[[str], Coroutine[Any, Any, Any]]) -> dict[str, Any]:
        """Start ``run(progress_file)`` (the verify, writing its figures there) unless one runs."""
        if self.task is None or self.task.done():
            handle, name = tempfile.mkstemp(prefix="orderledger-verify-")
            os.close(handle)
            self.progress = Path(name)
            self.task = asyncio.get_running_loop().create_task(run(name))
            self.task.add_done_callback(lambda task: self._forget(task, Path(name)))
        return self.state()

    @staticmethod
    def _forget(task: asyncio.Task[Any], path: Path) -> None:
        """The verify ended: its report carries the last figures, the file is no longer needed;
        a failure is kept for ``state`` to tell (taken here, it is not logged as unseen)."""
        if not task.cancelled():
            task.exception()
        for stale in (path, Path(f"{path}.partial")):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()

    def state(self) -> dict[str, Any]:
        """``state`` (idle, running, done or failed), ``checked`` of ``total`` events, and the
        ``report`` (done) or the ``error`` (failed)."""
        checked, total = read_progress(self.progress)
        answer: dict[str, Any] = {
            "state": "idle",
            "checked": checked,
            "total": total,
            "report": None,
            "error": None,
        }
        if self.task is None:
            return answer
        if not self.task.done():
            return {**answer, "state": "running"}
        if self.task.cancelled():  # the server stopping
            return {**answer, "state": "failed", "error": "the verify was stopped with the server"}
        error = self.task.exception()
        if error is None:
            report = self.task.result()
            return {
                **answer,
                "state": "done",
                "checked": report["events"],
                "total": report["events"],
                "report": report,
            }
        detail = error.detail if isinstance(error, Problem) else str(error) or type(error).__name__
        return {**answer, "state": "failed", "error": detail}
