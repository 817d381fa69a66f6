"""Audit proof: ``verify`` recomputes the hash chain from the first event and refolds every
view from the log, so a changed, deleted or reordered row is found. Nothing here writes.

This module holds what ``verify`` found (``VerifyReport``), its progress file, and the one pass
that composes the checks: the storage and schema (``storage_check``), the log's chain and payloads
(``chain_check``), the journal's chain and cross-checks (``journal_check``), every view refolded
and compared (``view_check``), the lot rules' heads against a fold of the fills
(``lot_check``), from the first event or from an anchor (``anchors``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orderledger.domain.events import OrderEvent
from orderledger.infrastructure.audit.anchors import OVERLAP, Anchor, check_anchors, incremental_starts
from orderledger.infrastructure.audit.chain_check import Progress, verify_chain
from orderledger.infrastructure.audit.heads import Heads, head_text, merge_heads
from orderledger.infrastructure.audit.journal_check import journal_differences, verify_journal
from orderledger.infrastructure.audit.lot_check import LotFolds
from orderledger.infrastructure.audit.storage_check import check_storage, schema_problems
from orderledger.infrastructure.audit.view_check import Folds, view_differences
from orderledger.infrastructure.storage.chain import GENESIS
from orderledger.infrastructure.storage.db import Database
from orderledger.infrastructure.storage.mapper import LedgerMapper
from orderledger.infrastructure.storage.views import unfinished_rows
from orderledger.projections import PROJECTIONS


@dataclass
class VerifyReport:
    """What ``verify`` found: the first broken link, views that disagree with the log, journal,
    identity and parked rows the log does not explain, triggers the ledger did not create, and
    what was learnt of the storage."""

    events: int = 0
    head: tuple[int, str] | None = None
    broken: str | None = None
    view_problems: list[str] = field(default_factory=list)
    journal_problems: list[str] = field(default_factory=list)
    schema_problems: list[str] = field(default_factory=list)
    storage: dict[str, str] = field(default_factory=dict)
    heads_checked: int = 0  # heads recorded earlier that were checked against the chain
    journal_records: int = 0  # journal rows and settlements in the journal's chain
    views_behind: int = 0  # events of the log the slowest view has not folded (nor been compared on)
    views_unsettled: int = 0  # rows whose re-fold an ingest left for its end: their views not compared
    journal_head: tuple[int, str] | None = None
    full: bool = True  # the whole log checked and the views refolded (else: what is new since an anchor)
    since: int = 0  # the event after which the log was walked (0: from the first)
    anchored: int = 0  # the anchors (verified heads stored in the database) found in the chains

    @property
    def head_text(self) -> str | None:
        """The heads as ``orderledger head`` prints them: ``ID:HASH journal ID:HASH`` (None when
        the log and the journal are empty)."""
        return head_text(self.head, self.journal_head)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (what ``orderledger verify --json`` prints)."""
        return {
            "ok": self.ok,
            "events": self.events,
            "head": self.head_text,
            "broken": self.broken,
            "view_problems": self.view_problems,
            "journal_problems": self.journal_problems,
            "schema_problems": self.schema_problems,
            "storage": self.storage,
            "heads_checked": self.heads_checked,
            "journal_records": self.journal_records,
            "views_behind": self.views_behind,
            "views_unsettled": self.views_unsettled,
            "full": self.full,
            "since": self.since,
            "anchored": self.anchored,
        }

    @property
    def ok(self) -> bool:
        """True when the chain holds and every view, journal row and identity agrees with it."""
        return (
            self.broken is None
            and not self.view_problems
            and not self.journal_problems
            and not self.schema_problems
        )


def write_progress(path: str, checked: int, total: int) -> None:
    """Record ``checked`` of ``total`` events in ``path`` (replaced whole: never half-written)."""
    partial = f"{path}.partial"
    with open(partial, "w", encoding="ascii") as file:
        file.write(f"{checked} {total}")
    os.replace(partial, path)


def read_progress(path: Path) -> tuple[int, int]:
    """The figures ``write_progress`` last recorded ((0, 0) before the first)."""
    try:
        checked, total = path.read_text(encoding="ascii").split()
    except (OSError, ValueError):
        return 0, 0
    return int(checked), int(total)


def verify(
    db: Database,
    mapper: LedgerMapper,
    *,
    expect_head: tuple[int, str] | None = None,
    heads: Heads | None = None,
    journal_heads: Heads | None = None,
    deep: bool = False,
    since: Anchor | None = None,
    overlap: int = OVERLAP,
    progress: Progress | None = None,
) -> VerifyReport:
    """Check the storage, recompute the hash chain (each row's search columns against its
    payload), then check every view, the journal, the identities and the parked rows against the
    log, in one pass over the log that holds a chunk of it at a time.

    From the first event by default (a full verify). Given ``since`` (the anchor a passing
    verify stored), only the events and journal records after it are checked, with the last
    ``overlap`` records of each chain before it walked again to the anchored hashes: the views, the
    identities and the journal's cross-checks are refolded by a full verify only.

    Everything is read in one snapshot, so writers committing meanwhile cannot make the log, the
    views' positions and their rows appear to disagree. A damaged database raises
    :class:`DatabaseCorruptError` (one line), like any other command that meets it.
    """
    expected = dict(heads or {})
    if expect_head is not None:
        expected = merge_heads(expected, [expect_head], "`expect_head`")
    with db.snapshot():
        return _verify(db, mapper, expected, dict(journal_heads or {}), deep, since, overlap, progress)


def _verify(
    db: Database,
    mapper: LedgerMapper,
    heads: dict[int, str],
    journal_heads: dict[int, str],
    deep: bool,
    since: Anchor | None,
    overlap: int,
    progress: Progress | None,
) -> VerifyReport:
    storage = check_storage(db, deep=deep)
    anchors = check_anchors(db)
    with db.read() as tx:
        views = {p.name for p in PROJECTIONS}  # not the count of finished work (``views.SETTLES``)
        tracking = {
            str(r[0]): int(r[1]) for r in tx.all("SELECT view, position FROM view_tracking") if r[0] in views
        }
        schema = schema_problems(tx)
        top = int(tx.one("SELECT COALESCE(MAX(notification_id), 0) FROM events")[0])
        unsettled = {p.name: unfinished_rows(tx, p) for p in PROJECTIONS}
    folds = lots = None
    each: Callable[[int, OrderEvent], None] | None = None
    if since is None:
        # Every anchor is a head recorded earlier: each must still be in the chains.
        heads = {**anchors.events, **heads}
        journal_heads = {**anchors.journal, **journal_heads}
        folds, lots = Folds(tracking, top), LotFolds(db)
        each = _both(folds, lots) if lots.upto else folds
        after, journal_after = (0, GENESIS), (0, GENESIS)
    else:
        after, journal_after = incremental_starts(db, since, overlap, heads, journal_heads)
    chain = verify_chain(db, after=after, heads=heads, mapper=mapper, each=each, progress=progress, total=top)
    report = VerifyReport(events=chain.events, head=chain.head, broken=chain.broken)
    report.storage, report.schema_problems = storage, schema
    report.full, report.since, report.anchored = since is None, after[0], anchors.count
    if anchors.problems and report.broken is None:
        report.broken = anchors.problems[0]
    journal = verify_journal(db, journal_heads, after=journal_after)
    report.journal_records, report.journal_head = journal.records, journal.head
    report.journal_problems = list(journal.problems)
    last = report.head[0] if report.head else after[0]
    for name, position in sorted(tracking.items()):
        if position > last and report.broken is None:
            report.broken = (
                f"view {name} has folded events up to {position} but the log ends at {last}:"
                " events were deleted from the end of the log"
            )
    report.views_behind = last - min(tracking.get(p.name, 0) for p in PROJECTIONS)
    report.views_unsettled = sum(unsettled.values())
    if report.broken is not None or folds is None:
        return report
    orders = folds.orders()
    for projection, tables in folds.views():
        if not unsettled[projection.name]:  # else its rows are not final yet: compared with nothing
            report.view_problems += view_differences(db, projection, tables)
        tables.clear()  # compared: its rows are not needed any more
    report.journal_problems += journal_differences(db, orders)
    if lots is not None:
        report.view_problems += lots.differences(db)
    return report


def _both(*folds: Callable[[int, OrderEvent], None]) -> Callable[[int, OrderEvent], None]:
    def each(position: int, event: OrderEvent) -> None:
        for fold in folds:
            fold(position, event)

    return each
