"""The garbage collector's young-generation threshold, raised while a writer ingests
(``fewer_collections``)."""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

__all__ = ["YOUNG_THRESHOLD", "fewer_collections"]

YOUNG_THRESHOLD = 50_000
"""Allocations between young-generation collections while ingesting (Python's default: 700)."""
_collections_lock = threading.Lock()
_ingesting = 0
_saved_thresholds: tuple[int, int, int] | None = None


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Collect the young generation less often while ingesting, then restore the thresholds.

    A batch allocates many short-lived objects (messages, events, rows) while the ledger's caches
    keep many long-lived ones, so the default threshold (700) has the collector walk survivors
    over and over: about 30 µs per message, measured. The threshold is process-wide, so it is
    raised only while some thread is ingesting, never lowered, and put back as it was.
    """
    global _ingesting, _saved_thresholds
    with _collections_lock:
        if _ingesting == 0:
            current = gc.get_threshold()
            if current[0] and current[0] < YOUNG_THRESHOLD:  # 0: the user disabled collection
                _saved_thresholds = current
                gc.set_threshold(YOUNG_THRESHOLD, *current[1:])
        _ingesting += 1
    try:
        yield
    finally:
        with _collections_lock:
            _ingesting -= 1
            if _ingesting == 0 and _saved_thresholds is not None:
                gc.set_threshold(*_saved_thresholds)
                _saved_thresholds = None
