"""A source's live stream as a queue: the tasks reading the venue put frames (or the fault that
ended them) on it; :func:`queued_frames` is the ``frames()`` a collector iterates."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from orderledger.infrastructure.collect.source import CollectError

Frames = asyncio.Queue[bytes | CollectError]
"""Frames as received, or the fault that ended the stream."""
QUEUED = 64
"""Frames a source's queue holds at most: a full queue holds its readers (back-pressure, on to
the venue's socket) until the collector takes more."""


async def queued_frames(queue: Frames) -> AsyncIterator[bytes]:
    """Each frame of ``queue`` as it comes; the first fault on it is raised."""
    while True:
        item = await queue.get()
        if isinstance(item, CollectError):
            raise item
        yield item


__all__ = ["QUEUED", "Frames", "queued_frames"]
