"""A read that should take its figures from the lot heads alone (``application.lot_heads``):
which fill events it reads from the log, and that it neither folds the log's fills nor reads
the P&L entries."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from orderledger.infrastructure.application import lot_heads as lot_heads_application
from orderledger.infrastructure.application import reads


def watched(patch: pytest.MonkeyPatch) -> list[int]:
    """The log positions of the fill events the heads read from now on (filled as they are
    read); a fold of the log's fills or a read of the P&L entries fails the test."""
    read_events: list[int] = []
    every = lot_heads_application._events

    def counted(*args: Any, **kwargs: Any) -> Iterator[Any]:
        for position, event in every(*args, **kwargs):
            read_events.append(position)
            yield position, event

    def no_fold(*args: Any) -> Any:
        raise AssertionError("the log's fills or the P&L entries were read")

    patch.setattr(lot_heads_application, "_events", counted)
    patch.setattr(reads, "rule_books", no_fold)
    patch.setattr(reads, "pnl_rows", no_fold)
    return read_events
