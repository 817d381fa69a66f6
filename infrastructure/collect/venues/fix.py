"""The ``fix`` collector: follow a FIX engine's message log as it grows (a drop copy from the log
the engine already writes).

QuickFIX/J's ``FileLog`` and QuickFIX C++'s (also the Python ``quickfix`` package) append one
message per line, SOH delimiters kept, optionally after a time stamp; C++ rotates with
``backup()`` (the file renamed to ``….messages.backup.N.log``, a fresh ``….current.log``
created) and both truncate with ``clear()`` (docs/venue-facts.md, "FIX engines' message logs"). The follower:

* tracks the open file by (device, inode) and its offset;
* on a rename (the path now names another inode) drains the old file to its end, then opens
  the new one from its start;
* on a truncation (the file shorter than the offset) starts again at 0;
* hands over complete lines only: a partial last line waits for its newline (a renamed file's
  unterminated last line is handed over when the file is drained: the engine has let it go);
* keeps each line's bytes as written (SOH, a time stamp prefix): the FIX adapter reads the
  prefix, and splits two messages written on one line.

Its "backfill" is the file as it stands at the first connect (read from the start: a restarted
collector reads it again and ingest finds it booked); there is no venue to ask for open orders
(``reconciles = False``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import datetime
from typing import IO, Any

from orderledger.infrastructure.adapters.declared import declared_options
from orderledger.infrastructure.adapters.fix.venue import FixOptions
from orderledger.infrastructure.collect.source import ConnectionLost, SourceConfig, Unreachable

POLL = 0.2
"""Seconds between looks at a file with nothing new."""
CHUNK = 4 << 20
"""Most bytes read at one look (a large file is handed over in parts)."""


class FixLogSource:
    """A FIX engine's messages log, followed across rotation and truncation."""

    format = "fix"
    reconciles = False

    def __init__(self, config: SourceConfig) -> None:
        self.venue = config.venue
        self.account = config.account
        self.path = config.options["path"]
        self.timing = config.timing
        self.poll = config.seconds("poll", POLL, zero=True)
        self.options: dict[str, Any] = {
            o.name: int(config.number(o.name, 0, zero=True))
            for o in declared_options(FixOptions)
            if config.options.get(o.name)
        }
        self._file: IO[bytes] | None = None
        self._identity: tuple[int, int] | None = None
        self._offset = 0
        self._partial = b""
        self._started = False

    async def connect(self) -> None:
        folder = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(folder):
            raise Unreachable(f"fix: no folder {folder!r} for the log {self.path!r}")

    async def backfill(self, since: datetime | None) -> AsyncIterator[bytes]:
        """The file as it stands, on the first connect only (the follower keeps its place)."""
        if self._started:
            return
        self._started = True
        while lines := self._read():
            for line in lines:
                yield line

    async def frames(self) -> AsyncIterator[bytes]:
        while True:
            lines = self._read()
            for line in lines:
                yield line
            if not lines:
                await self.timing.sleep(self.poll)

    async def open_orders(self) -> list[dict[str, Any]]:
        return []

    async def close(self) -> None:
        """Close the file; its identity and the offset are kept, so the next look resumes there
        when the path still names the same file."""
        if self._file is not None:
            self._file.close()
            self._file = None

    # ------------------------------------------------------------------ following the file

    def _read(self) -> list[bytes]:
        """Every complete line added since the last look, across a rename or a truncation."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return self._drain_old() if self._file is not None else []  # renamed, new one not yet made
        except OSError as error:
            raise ConnectionLost(f"fix: cannot read {self.path!r}: {error.strerror}") from None
        identity = (stat.st_dev, stat.st_ino)
        out: list[bytes] = []
        if self._file is not None and identity != self._identity:
            out += self._drain_old()
        if self._file is None:
            self._open(resume=identity == self._identity)
        elif stat.st_size < self._offset:
            self._offset, self._partial = 0, b""  # truncated: the engine started the file again
        return out + self._lines(final=False)

    def _open(self, *, resume: bool) -> None:
        try:
            self._file = open(self.path, "rb")  # noqa: SIM115 (kept open while followed)
        except FileNotFoundError:
            return
        except OSError as error:
            raise Unreachable(f"fix: cannot open {self.path!r}: {error.strerror}") from None
        found = os.fstat(self._file.fileno())  # the file opened (it may be newer than the stat)
        if resume and (found.st_dev, found.st_ino) == self._identity and found.st_size >= self._offset:
            return  # reopened after close(): go on where it was
        self._identity = (found.st_dev, found.st_ino)
        self._offset, self._partial = 0, b""

    def _drain_old(self) -> list[bytes]:
        """The rest of the file the path named before (renamed away), then let it go."""
        out = self._lines(final=True)
        if self._file is not None:
            self._file.close()
        self._file, self._identity = None, None
        return out

    def _lines(self, *, final: bool) -> list[bytes]:
        if self._file is None:
            return []
        self._file.seek(self._offset)
        data = self._file.read() if final else self._file.read(CHUNK)
        self._offset += len(data)
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()
        if final and self._partial:
            lines.append(self._partial)
            self._partial = b""
        return [line for line in lines if line.strip()]


__all__ = ["FixLogSource"]
