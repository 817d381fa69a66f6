"""``verify``'s check of the lot rules' heads (``storage.lot_heads``): each stored head against
a fold of the log's fills up to the position the heads stand at, under each grouping kept (by
parent, each order's parent as the log had it there).

The heads are derived data like the views: a changed, added or removed row would make ``lots``
and ``positions --cost-basis`` answer from it, so a full verify folds the fills again (collected
in its one pass over the log) and compares what a read takes from a head: its position's
figures, its open lots, its latest fill, its fills paying fees in another currency (each with
its group), its days (the daily P&L's figures; under ``in:parent`` or ``in:tag:NAME`` with each
day's sums per group, which ``pnl`` by parent or tag reads) and each mark it keeps (where a
later read may start a fold over), and the closed lots kept beside it (what ``lots --closed``
reads), each in its place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orderledger.domain.events import (
    FillBusted,
    FillCorrected,
    InstrumentDefined,
    OrderDetailsAdded,
    OrderEvent,
    OrderFilled,
    OrderRequested,
)
from orderledger.infrastructure.storage import lot_heads as stored
from orderledger.infrastructure.storage.db import Database
from orderledger.infrastructure.storage.paging import collector_paused
from orderledger.projections.book import PositionKey
from orderledger.projections.lots import (
    ACCOUNT,
    CLOSED,
    ClosedLot,
    CostBasis,
    Fill,
    LotHead,
    Mark,
    account_books,
    fills_by_group,
    fills_of,
    fold_head,
)

_KINDS = (OrderFilled, FillBusted, FillCorrected, InstrumentDefined)


class LotFolds:
    """The fill events of the log up to the furthest position any rule's heads stand at, kept in
    the one pass; what each rule's heads must then equal."""

    def __init__(self, db: Database) -> None:
        with db.read() as tx:
            self.seen: dict[tuple[CostBasis, str], int] = {
                (rule, grouping): at for rule, grouping, at in stored.kept(tx)
            }
        self.upto = max(self.seen.values(), default=0)
        self.events: list[tuple[int, OrderEvent]] = []
        self.parents: list[tuple[int, str, str]] = []  # (position, order, parent) as orders learn them

    def __call__(self, position: int, event: OrderEvent) -> None:
        if position > self.upto:
            return
        if isinstance(event, _KINDS):
            self.events.append((position, event))
        elif isinstance(event, OrderRequested | OrderDetailsAdded) and event.parent_id is not None:
            self.parents.append((position, event.client_order_id, event.parent_id))

    def differences(self, db: Database, limit: int = 20) -> list[str]:
        """How the stored heads differ from the fold (empty when they agree)."""
        with collector_paused():  # (the folds and the stored lots: many objects, no cycle)
            return self._differences(db)[:limit]

    def _differences(self, db: Database) -> list[str]:
        found: list[str] = []
        fills: dict[int, list[Fill]] = {}  # the fills as they stand at a position
        for (rule, grouping), at in sorted(self.seen.items()):
            if at not in fills:  # (the rules' heads mostly stand at one position: one pass)
                fills[at] = fills_of(e for e in self.events if e[0] <= at)
            parents = {order: parent for position, order, parent in self.parents if position <= at}
            books = fills_by_group(fills[at], grouping, parents)
            lots = grouping == CLOSED  # (the one grouping whose books keep their closed lots)
            with db.read() as tx:
                heads = stored.load(tx, rule, grouping)
                closed_books: set[PositionKey] = stored.closed_books(tx, rule) if lots else set()
            which = {ACCOUNT: rule, CLOSED: f"{rule} with closed lots"}.get(grouping, f"{rule} by {grouping}")
            # One book at a time, folded and read: its closed lots are the whole of its history.
            for key in sorted(set(heads) | set(books) | {("", *book) for book in closed_books}):
                own = books.get(key)
                folded = None if own is None else fold_head(key[1:], own, rule, closed=lots)
                with db.read() as tx:
                    marks = stored.marks(tx, rule, key, grouping) if key in heads else []
                    closed = (
                        stored.closed(tx, rule, key[1:]).get(key[1:], []) if key[1:] in closed_books else []
                    )
                problem = _difference(heads.get(key), marks, folded)
                if lots and not problem:
                    problem = _closed_difference(closed, [] if folded is None else folded.closed)
                if problem:
                    book = "/".join(key[1:] if account_books(grouping) else key)
                    found.append(f"lot heads {which}: book {book} {problem}")
        return found


def _difference(head: LotHead | None, marks: list[Mark], folded: LotHead | None) -> str:
    if folded is None:
        return "is stored but the log has no fill of it"
    if head is None:
        return "is missing: the log has fills of it"
    p, q = head.position, folded.position
    figures = ("quantity", "cost", "realized_pnl", "fees", "quote_currency", "terms")
    for name in figures:
        if getattr(p, name) != getattr(q, name):
            return f"has {name} {getattr(p, name)!r}, the log folds to {getattr(q, name)!r}"
    if head.open != folded.open:
        return "has other open lots than the log folds to"
    if head.last != folded.last:
        return "has another latest fill than the log"
    if head.paid != folded.paid:
        return "has other fills paying fees in another currency than the log"
    for day, expected in zip(head.days, folded.days, strict=False):
        if day.day != expected.day:
            return f"has a day {day.day} where the log folds to day {expected.day}"
        if day != expected:
            return f"has other figures for day {day.day} than the log folds to"
    if len(head.days) != len(folded.days):
        return f"has {len(head.days)} days of fills, the log folds to {len(folded.days)}"
    every: Mapping[Any, Any] = {mark.n: mark for mark in folded.marks}
    for mark in marks:
        if every.get(mark.n) != mark:
            return f"has a mark after fill {mark.key[1]!r} that the log does not give"
    if len(marks) != len(folded.marks) or head.marked != folded.marked:
        return f"keeps {len(marks)} marks (counts {head.marked}), the log folds to {len(folded.marks)}"
    if head.made != folded.made:
        return f"counts {head.made} closed lots, the log folds to {folded.made}"
    return ""


def _closed_difference(kept: list[ClosedLot], folded: list[ClosedLot]) -> str:
    for n, (lot, expected) in enumerate(zip(kept, folded, strict=False)):
        if lot != expected:
            return (
                f"has a closed lot {n} (closed by fill {lot.closed.trade_id!r}) other than the log folds to"
            )
    if len(kept) != len(folded):
        return f"has {len(kept)} closed lots stored, the log folds to {len(folded)}"
    return ""
