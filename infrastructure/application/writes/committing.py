"""The decide, commit and project stages of the write path (``application.bootstrap`` lists them
all): one batch decided and committed by the writer
(``ingest.processing.Processor.decide_and_commit``, each message as ``ingest.batch.DECISIONS``
says), the views brought to the commit (``OrderLedger._after_commit``), then what the formats'
earlier lines decide of the orders it named (their verdicts), recorded after it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from orderledger.infrastructure.adapters.declared import load
from orderledger.infrastructure.adapters.venue_registry import formats
from orderledger.infrastructure.ingest.inbound import Inbound, Result, read_ledger_line
from orderledger.infrastructure.storage.db import table_columns

if TYPE_CHECKING:
    from orderledger.domain.events import OrderEvent
    from orderledger.infrastructure.application.ledger_protocol import LedgerParts
    from orderledger.infrastructure.ingest.processing import Processor


MAX_JUDGED = 3
"""Rounds of verdicts after a commit (a verdict closes or reopens an order and names none, so the
second round finds nothing)."""


def committed(
    ledger: LedgerParts,
    batch: list[Inbound],
    *,
    strict: bool = False,
    first: Callable[[], None] | None = None,
) -> list[Result]:
    """One batch decided and committed (under the ledger's write lock; ``first``, the door, run
    under the log lock before it is decided, as ``Processor.decide_and_commit`` says), the views
    brought to it, then what the formats' earlier lines decide of the orders it named, recorded
    after it."""
    results, events = _commit_and_project(ledger, batch, strict=strict, first=first)
    for _ in range(MAX_JUDGED):
        verdicts = _verdicts(ledger, events) if events else []
        if not verdicts:
            break
        _, events = _commit_and_project(ledger, verdicts)
    return results


def _commit_and_project(
    ledger: LedgerParts,
    batch: list[Inbound],
    *,
    strict: bool = False,
    first: Callable[[], None] | None = None,
) -> tuple[list[Result], list[tuple[int, OrderEvent]]]:
    """One batch decided and committed, and the views brought to it (read-your-writes)."""
    processor: Processor = ledger.processor
    results, events = processor.decide_and_commit(batch, strict=strict, first=first)
    ledger._after_commit(events, processor.decided)
    return results, events


def _verdicts(ledger: LedgerParts, events: list[tuple[int, OrderEvent]]) -> list[Inbound]:
    """What each format that judges (``InputFormat.judges``) decides of the committed events: only
    a format whose lines this ledger holds (``InputFormat.judged_table``) has anything to judge."""
    judging = {d.name: d.judges for d in formats().values() if d.judges is not None}
    tables = {d.name: d.judged_table for d in formats().values() if d.name in judging and d.judged_table}
    if tables:
        with ledger.db.read() as tx:
            for name, table in tables.items():
                if not table_columns(tx, table):
                    del judging[name]
    return [
        verdict(name, message) for name, judge in judging.items() for message in load(judge)(ledger, events)
    ]


def verdict(fmt: str, message: dict[str, Any]) -> Inbound:
    """A message a format's recorded lines decide, journaled as a ledger line of its own."""
    item = read_ledger_line(orjson.dumps(message), f"{fmt}:verdict", None)
    item.notes.append(f"decided by the {fmt} lines already recorded, of an order named since")
    return item


__all__ = ["MAX_JUDGED", "committed", "verdict"]
