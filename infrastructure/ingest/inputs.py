"""Reading input lines from files and pipes, in bounded memory.

``read_lines`` splits a byte stream into lines itself instead of trusting the file object's
``readline``, for two reasons:

- **Bounded memory.** A line longer than :data:`infrastructure.messages.exact_json.MAX_LINE_BYTES` is not
  held whole: its first ``MAX_LINE_BYTES + 1`` bytes are passed on (they are journaled, and the
  line is rejected as too long) and the rest is skipped up to the next newline.
- **Durability for live feeds.** Group commits take up to ``batch_size`` lines. From a pipe or a
  terminal, a connector may send a few messages and then wait; they must not sit uncommitted
  until more arrive. When ``pauses`` is set, :data:`PAUSE` is yielded whenever the input has
  nothing more to read at once, and the ledger commits what it holds.
"""

from __future__ import annotations

import os
import select
import stat
from collections.abc import Iterator
from typing import BinaryIO, Final

from orderledger.infrastructure.messages.exact_json import MAX_LINE_BYTES

PAUSE: Final = None
"""Yielded by ``read_lines`` when a live input has nothing more to read right now."""

CHUNK = 1 << 16


class Refused(bytes):
    """An input refused before it was read whole (a collector's frame or reply beyond its bounds):
    the bytes read of it, at most a short head, and ``reason``. ``ingest_lines`` journals it as
    rejected with that reason, never reading it."""

    reason: str

    def __new__(cls, head: bytes, reason: str) -> Refused:
        refused = super().__new__(cls, head or b"(not read)")
        refused.reason = reason
        return refused


def is_live(stream: BinaryIO) -> bool:
    """True for a pipe, socket or terminal (input that may pause), False for a regular file."""
    try:
        return not stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError):
        return False


def read_lines(
    stream: BinaryIO, *, pauses: bool = False, limit: int = MAX_LINE_BYTES, chunk: int = CHUNK
) -> Iterator[bytes | None]:
    """Lines of ``stream`` (with their line ending), over-long ones cut; :data:`PAUSE` when it waits.

    A line whose content (without ``\n`` or ``\r\n``) is longer than ``limit`` comes out as its
    first ``limit + 1`` bytes, however the input was chunked, and the rest of it is skipped.
    """
    fd = stream.fileno()
    buffer = bytearray()
    start = 0  # where the next line begins in ``buffer``
    skipping = False  # inside the rest of an over-long line
    while True:
        newline = buffer.find(b"\n", start)
        if newline >= 0:
            end = newline + 1
            content = newline - start - (1 if newline > start and buffer[newline - 1] == 0x0D else 0)
            if skipping:
                skipping = False
            elif content > limit:
                yield bytes(buffer[start : start + limit + 1])
            else:
                yield bytes(buffer[start:end])
            start = end
            continue
        del buffer[:start]
        start = 0
        if len(buffer) > limit + 1:  # too long already, even if a \r ends it
            if not skipping:
                yield bytes(buffer[: limit + 1])
                skipping = True
            buffer.clear()
        if pauses and not _ready(fd):
            yield PAUSE
        data = os.read(fd, chunk)
        if not data:
            break
        buffer += data
    if buffer and not skipping:
        content = len(buffer) - (1 if buffer.endswith(b"\r") else 0)
        yield bytes(buffer[: limit + 1]) if content > limit else bytes(buffer)


def _ready(fd: int) -> bool:
    """True when reading ``fd`` would not block."""
    try:
        readable, _, _ = select.select([fd], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)
