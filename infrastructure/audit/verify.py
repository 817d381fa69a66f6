"""Audit proof: ``verify`` recomputes the hash chain from the first event and refolds every
view from the log, so a changed, deleted or reordered row is found. Nothing here writes.
"""

from __future__ import annotations

import functools
import json
import operator
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.persistence import MapperDeserialisationError

from orderledger.domain.cash_flows import cash_flow_id_for, mark_id_for
from orderledger.domain.events import CashFlowRecorded, InstrumentDefined, MarkRecorded, OrderEvent
from orderledger.domain.identity import IdentityKey, identity_keys
from orderledger.domain.instrument import instrument_id_for
from orderledger.domain.order import Order, order_id_for
from orderledger.domain.outcomes import Outcome
from orderledger.infrastructure.audit.anchors import OVERLAP, Anchor, check_anchors, stored_hash
from orderledger.infrastructure.audit.heads import (
    Heads,
    head_text,
    merge_heads,
)
from orderledger.infrastructure.audit.search import CHUNK, EVENT_COLUMNS
from orderledger.infrastructure.storage.chain import GENESIS, journal_link, link, parked_digest
from orderledger.infrastructure.storage.db import Database, table_columns
from orderledger.infrastructure.storage.journal import (
    PARKED_ROWS,
    as_bytes,
    message_fields,
    parked_parts,
    settlement_fields,
)
from orderledger.infrastructure.storage.mapper import LedgerMapper
from orderledger.infrastructure.storage.schema import foreign_triggers, missing_protection
from orderledger.infrastructure.storage.sqlite import check_sqlite_file
from orderledger.infrastructure.storage.views import unfinished_rows
from orderledger.projections import PROJECTIONS
from orderledger.projections.base import MemoryTable, Projection
from orderledger.projections.orders import ORDERS_TABLE

# ---------------------------------------------------------------------- verify


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


Progress = Callable[[int, int], None]
"""Told, after each chunk of the log, how many events have been checked of how many."""


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
        schema_problems = missing_protection(tx) + [
            f"trigger {trigger} on table {table} was not created by the ledger: it runs with the"
            " rights of whoever writes next (`orderledger db init` as the owner removes it)"
            for table, trigger in foreign_triggers(tx)
        ]
        top = int(tx.one("SELECT COALESCE(MAX(notification_id), 0) FROM events")[0])
        unsettled = {p.name: unfinished_rows(tx, p) for p in PROJECTIONS}
    folds = None
    if since is None:
        # Every anchor is a head recorded earlier: each must still be in the chains.
        heads = {**anchors.events, **heads}
        journal_heads = {**anchors.journal, **journal_heads}
        folds = _Folds(tracking, top)
        after, journal_after = (0, GENESIS), (0, GENESIS)
    else:
        after, journal_after = _overlap(db, since, overlap, heads, journal_heads)
    report = verify_chain(
        db, after=after, heads=heads, mapper=mapper, each=folds, progress=progress, total=top
    )
    report.storage, report.schema_problems = storage, schema_problems
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
    return report


class _Folds:
    """Every view folded in memory in the one pass over the log, each up to the position its
    stored rows stand at; the orders also to the log's end, which the identities are checked
    against."""

    def __init__(self, tracking: Mapping[str, int], last: int) -> None:
        self.runs: list[tuple[Projection, int, dict[str, MemoryTable[Any, Any]]]] = []
        for projection_class in PROJECTIONS:
            projection = projection_class()
            self.runs.append((projection, tracking.get(projection.name, 0), _tables(projection)))
        self.orders_run = next(i for i, run in enumerate(self.runs) if run[0].name == "orders")
        if self.runs[self.orders_run][1] != last:
            projection = PROJECTIONS[self.orders_run]()
            self.runs.append((projection, last, _tables(projection)))
            self.orders_run = len(self.runs) - 1

    def __call__(self, position: int, event: OrderEvent) -> None:
        for projection, upto, tables in self.runs:
            if position <= upto:
                projection.apply(position, event, tables)

    def views(self) -> Iterator[tuple[Projection, dict[str, MemoryTable[Any, Any]]]]:
        """Each view's tables, folded and settled, in the order of ``PROJECTIONS``."""
        for projection, _, tables in self.runs:
            projection.settle(tables)
        for projection, _, tables in self.runs[: len(PROJECTIONS)]:
            yield projection, tables

    def orders(self) -> dict[str, Order]:
        return self.runs[self.orders_run][2][ORDERS_TABLE.name].rows


def _tables(projection: Projection) -> dict[str, MemoryTable[Any, Any]]:
    return {spec.name: MemoryTable() for spec in projection.tables}


def _overlap(
    db: Database, anchor: Anchor, overlap: int, heads: dict[int, str], journal_heads: dict[int, str]
) -> tuple[tuple[int, bytes], tuple[int, bytes]]:
    """Where an incremental verify starts each chain: ``overlap`` records before the anchor,
    at the hash stored there, with the anchored hash a head the walk must reach (so a change to
    the anchored region's last records, or to the anchor, breaks it). Heads recorded before the
    start are compared with the hashes stored at their positions (``heads`` keeps the others)."""
    starts = []
    for chain, anchored, recorded in (
        ("events", anchor.events, heads),
        ("journal", anchor.journal, journal_heads),
    ):
        position = max(0, anchored[0] - overlap) if anchored else 0
        for at in sorted(p for p in recorded if p <= position):
            if stored_hash(db, chain, at) != bytes.fromhex(recorded[at]):
                position = at - 1  # the walk starts before it, and reports it
                break
        for at in [p for p in recorded if p <= position]:
            del recorded[at]
        if anchored:
            recorded.setdefault(anchored[0], anchored[1])
        digest = stored_hash(db, chain, position) if position else GENESIS
        starts.append((position, GENESIS if digest is None else digest))
    return starts[0], starts[1]


def check_storage(db: Database, *, deep: bool = False) -> dict[str, str]:
    """SQLite: ``PRAGMA quick_check`` (``integrity_check`` when deep), raising a one-line
    :class:`DatabaseCorruptError` when the file is damaged. PostgreSQL: its ``data_checksums``
    setting (with checksums off, a damaged page is read without complaint)."""
    with db.read() as tx:
        if tx.dialect == "postgresql":
            return {"data_checksums": str(tx.one("SHOW data_checksums")[0])}
        return {check_sqlite_file(tx, db.url.path, deep=deep): "ok"}


def verify_chain(
    db: Database,
    *,
    after: tuple[int, bytes] = (0, GENESIS),
    expect_head: tuple[int, str] | None = None,
    heads: Heads | None = None,
    mapper: LedgerMapper | None = None,
    each: Callable[[int, OrderEvent], None] | None = None,
    progress: Progress | None = None,
    total: int = 0,
) -> VerifyReport:
    """Check the hash chain from the event after ``after`` (a position and its verified hash).

    From the start by default; given the head a previous check returned, only what was appended
    since is read (the link to that head proves the earlier part unchanged up to it). With the
    ``mapper``, each event's payload is read and validated as if it came from outside, and its
    search columns compared with it; ``each`` is then given every event, in log order. The
    table's row count must be the chain's length (a row outside the chain is found). The log is
    read a chunk at a time, ``progress`` told after each (``total``: the log's last position).
    """
    report = VerifyReport()
    expected = dict(heads or {})
    if expect_head is not None:
        expected = merge_heads(expected, [expect_head], "`expect_head`")
    last, previous = after
    expected_id = last + 1
    if last:
        with db.read() as tx:
            row = tx.one("SELECT hash FROM events WHERE notification_id = ?", (last,))
        if row is None or bytes(row[0]) != previous:
            report.broken = (
                f"event {last} is missing or no longer has the hash {previous.hex()} verified before"
            )
            return report
    select = (
        f"SELECT {', '.join(EVENT_COLUMNS)} FROM events WHERE notification_id > ?"
        " ORDER BY notification_id LIMIT ?"
    )
    while report.broken is None:
        with db.read() as tx:
            rows = tx.all(select, (last, CHUNK))
        for row in rows:
            checked = _check_row(row, expected_id, previous, mapper)
            if isinstance(checked, str):
                report.broken = checked
                break
            position, stored = row[0], bytes(row[-1])
            previous, expected_id, last = stored, position + 1, position
            report.events += 1
            if position in expected and stored.hex() != expected[position]:
                report.broken = (
                    f"event {position} has hash {stored.hex()}, not the recorded head {expected[position]}:"
                    " the log was rewritten up to there"
                )
                break
            if each is not None and checked is not None:
                each(position, checked)
        if progress is not None:
            progress(report.events, max(total - after[0], report.events))
        if len(rows) < CHUNK:
            break
    if report.broken is None and last:
        report.head = (last, previous.hex())
    if report.broken is None and expected and last < max(expected):
        # A head recorded earlier must still be in the chain; later events may follow it.
        position = max(expected)
        report.broken = (
            f"the log ends at event {last}, before the recorded head {position}:{expected[position]}:"
            " events were deleted from the end"
        )
    if report.broken is None:
        with db.read() as tx:
            rows_stored = int(tx.one("SELECT COUNT(*) FROM events")[0])
        # The chain numbers its events from 1 without a gap, so it holds as many as its last.
        if rows_stored != last:
            outside = rows_stored - last
            report.broken = (
                f"the events table holds {rows_stored} rows but the chain {last}: {outside}"
                f" row{'s are' if outside > 1 else ' is'} outside the chain (position 0, negative or"
                " NULL), inserted around the ledger"
            )
    return report


# The columns copied from an event's payload so that searches need not decode it.
_FIRST_SEARCHED = EVENT_COLUMNS.index("event_type")
_SEARCH_COLUMNS = EVENT_COLUMNS[_FIRST_SEARCHED : EVENT_COLUMNS.index("message_id")]
_searched = operator.itemgetter(*_SEARCH_COLUMNS)


def _aggregate_text(event: OrderEvent) -> str:
    """``aggregate_id`` as stored (text); an order's, which most events are, remembered for the
    orders met last (an order's events lie close together in the log)."""
    if isinstance(event, (InstrumentDefined, CashFlowRecorded, MarkRecorded)):
        return str(aggregate_id(event))
    return _order_id_text(event.client_order_id)


@functools.lru_cache(maxsize=4096)
def _order_id_text(client_order_id: str) -> str:
    return str(order_id_for(client_order_id))


def _check_row(
    row: Sequence[Any], expected_id: int, previous: bytes, mapper: LedgerMapper | None
) -> str | OrderEvent | None:
    """What is wrong with one event row of the chain (a sentence), else its event as its payload
    says (None without a ``mapper``: the payload is not read)."""
    position = row[0]
    if position != expected_id:
        return f"event {expected_id} is missing (the log jumps from {expected_id - 1} to {position})"
    values = list(row[:-1])
    if isinstance(values[4], memoryview):
        values[4] = bytes(values[4])
    if not isinstance(values[4], bytes):
        return (
            f"event {position} ({row[5]} of {row[6]!r}) has its payload stored as"
            f" {type(values[4]).__name__}, not bytes: it was written around the ledger"
        )
    if link(previous, values) != bytes(row[-1]):
        return (
            f"event {position} ({row[5]} of {row[6]!r}) does not match its hash:"
            " it was altered, or rows were reordered"
        )
    if mapper is None:
        return None
    try:
        event = mapper.decode(row[3], values[4], row[1], row[2], trusted=False)
    except MapperDeserialisationError as error:
        return f"event {position} ({row[5]} of {row[6]!r}) cannot be read: {error}"
    if values[1] != _aggregate_text(event):
        return (
            f"event {position} ({row[5]} of {row[6]!r}) is stored under another order's ID than its"
            f" payload's {event.client_order_id!r}"
        )
    indexed = _searched(mapper.to_stored_event(event).__dict__)
    if indexed != tuple(values[_FIRST_SEARCHED : _FIRST_SEARCHED + len(_SEARCH_COLUMNS)]):
        for column, stored, said in zip(_SEARCH_COLUMNS, values[_FIRST_SEARCHED:], indexed, strict=False):
            if stored != said:
                return (
                    f"event {position} ({row[5]} of {row[6]!r}): its {column} column says"
                    f" {stored!r} but its payload says {said!r}"
                )
    return event


@dataclass
class JournalChain:
    """What the check of the journal's chain found."""

    records: int = 0  # journal rows and settlements chained
    head: tuple[int, str] | None = None
    problems: list[str] = field(default_factory=list)


_SETTLEMENT_COLUMNS = (
    "position, message_id, parts, before_reason, before_client_order_id, before_event_count,"
    " outcome, reason, client_order_id, event_count, hash"
)


def verify_journal(
    db: Database, heads: Heads | None = None, limit: int = 20, *, after: tuple[int, bytes] = (0, GENESIS)
) -> JournalChain:
    """Recompute the journal's chain: every journal row and settlement record in position order,
    without a gap, each hash over the record as written (a settled line as it was before its
    first settlement, with the digests of all its parked parts), each settled line's row equal to
    its last settlement, and each journal head recorded earlier still in the chain.

    From the first record by default; given ``after`` (a position and its verified hash), the
    records after it, and the lines they settle."""
    found = JournalChain()
    start = after[0]
    with db.read() as tx:
        if "hash" not in table_columns(tx, "messages"):
            found.problems.append(
                "the journal is not chained: this database was written by an earlier release; open"
                " it once with write access (PostgreSQL: `orderledger db init` as the owner) to upgrade it"
            )
            return found
        # The settlements after the start, and every settlement of the lines they settle.
        settlements = [
            tuple(r)
            for r in tx.all(
                f"SELECT {_SETTLEMENT_COLUMNS} FROM settlements"
                + (
                    " WHERE message_id IN (SELECT message_id FROM settlements WHERE position > ?)"
                    if start
                    else ""
                )
                + " ORDER BY position",
                (start,) if start else (),
            )
        ]
        waiting = parked_parts(tx.all(PARKED_ROWS))
        stored = int(tx.one("SELECT COUNT(*) FROM messages")[0]) + int(
            tx.one("SELECT COUNT(*) FROM settlements")[0]
        )
    by_line: dict[int, list[tuple[Any, ...]]] = {}
    for record in settlements:
        by_line.setdefault(record[1], []).append(record)
    walk = _JournalWalk(found, dict(heads or {}), [r for r in settlements if r[0] > start], after)
    for row in _journal_rows(db, start or None):
        if row[0] is None:
            continue  # outside the numbering: counted below
        if not walk.settle_before(row[0]):
            break
        computed = journal_link(
            walk.previous,
            message_fields(_as_written(row, by_line, waiting), _parts(row[0], by_line, waiting)),
            as_bytes(row[5]),
        )
        if not walk.step(
            int(row[0]), bytes(row[10] or b""), computed, f"message {row[0]} (line {row[3]} of {row[2]!r})"
        ):
            break
        found.problems += _settled_line(row, by_line.get(row[0], []), waiting.get(row[0], {}))
    else:
        if walk.settle_before(None):
            walk.finish(stored)
    for row in _journal_rows(db, None, [line for line in sorted(by_line) if line <= start]):
        # Lines before the start that a settlement after it settled.
        found.problems += _settled_line(row, by_line[row[0]], waiting.get(row[0], {}))
    for message_id in sorted(set(by_line) - _lines_present(db, by_line)):
        found.problems.append(
            f"settlement {by_line[message_id][0][0]} settles message {message_id},"
            " which the journal does not hold"
        )
    del found.problems[limit:]
    return found


_JOURNAL_COLUMNS = (
    "message_id, received_at, origin, line_no, format, raw, outcome, reason, client_order_id,"
    " event_count, hash"
)


def _journal_rows(db: Database, after: int | None, only: Sequence[int] | None = None) -> Iterator[Any]:
    """The journal's rows after ``after`` (None: all, also those outside the numbering) in
    message order, a chunk per read transaction; ``only``: just the rows of those message IDs."""
    if only is not None:
        with db.read() as tx:
            for start in range(0, len(only), 500):
                chunk = only[start : start + 500]
                marks = ",".join("?" * len(chunk))
                yield from tx.all(
                    f"SELECT {_JOURNAL_COLUMNS} FROM messages WHERE message_id IN ({marks})"
                    " ORDER BY message_id",
                    chunk,
                )
        return
    last = after
    while True:
        with db.read() as tx:
            rows = tx.all(
                f"SELECT {_JOURNAL_COLUMNS} FROM messages"
                + ("" if last is None else " WHERE message_id > ?")
                + " ORDER BY message_id LIMIT ?",
                ((last,) if last is not None else ()) + (CHUNK,),
            )
        yield from rows
        if len(rows) < CHUNK:
            return
        last = rows[-1][0]


class _JournalWalk:
    """The journal's chain walked record by record: journal rows and settlements interleaved by
    position, each hash checked against the one before it and against recorded heads."""

    def __init__(
        self,
        found: JournalChain,
        expected: dict[int, str],
        settlements: list[tuple[Any, ...]],
        after: tuple[int, bytes],
    ):
        self.found = found
        self.expected = expected
        self.position, self.previous = after
        self._pending = iter(settlements)
        self._settlement = next(self._pending, None)

    def settle_before(self, message_id: int | None) -> bool:
        """Walk the settlements placed before journal row ``message_id`` (``None``: all that are
        left); False once the chain is broken."""
        while self._settlement is not None and (message_id is None or self._settlement[0] < message_id):
            record = self._settlement
            self._settlement = next(self._pending, None)
            computed = journal_link(self.previous, settlement_fields(record))
            if not self.step(
                int(record[0]),
                bytes(record[10] or b""),
                computed,
                f"settlement {record[0]} of message {record[1]}",
            ):
                return False
        return True

    def step(self, at: int, digest: bytes, computed: bytes, what: str) -> bool:
        """One record at position ``at``; False (with the problem recorded) when the chain breaks."""
        problems = self.found.problems
        if at <= self.position:
            problems.append(
                f"journal record {at} is out of place (the next is {self.position + 1}): it was inserted"
                " around the ledger"
            )
            return False
        if at != self.position + 1:
            problems.append(
                f"journal record {self.position + 1} is missing"
                f" (the journal jumps from {self.position} to {at})"
            )
            return False
        if digest != computed:
            problems.append(
                f"{what} does not match its hash: its text, origin, line, time, outcome, reason or"
                " parked messages were changed, or records were reordered"
            )
            return False
        if at in self.expected and digest.hex() != self.expected[at]:
            problems.append(
                f"journal record {at} has hash {digest.hex()}, not the recorded head {self.expected[at]}:"
                " the journal was rewritten up to there"
            )
            return False
        self.previous, self.position = digest, at
        self.found.records += 1
        return True

    def finish(self, stored: int) -> None:
        """The whole chain walked intact: its head, and what lies beyond or outside it."""
        found, position, expected = self.found, self.position, self.expected
        found.head = (position, self.previous.hex()) if position else None
        if expected and position < max(expected):
            at = max(expected)
            found.problems.append(
                f"the journal ends at record {position}, before the recorded head {at}:{expected[at]}:"
                " records were deleted from the end"
            )
        elif stored != position:
            found.problems.append(
                f"the journal holds {stored} records but its chain {position}: rows outside the"
                " chain were inserted around the ledger"
            )


def _as_written(
    row: Sequence[Any], by_line: Mapping[int, list[tuple[Any, ...]]], waiting: Any
) -> tuple[Any, ...]:
    """A journal row as it was inserted: a settled line as before its first settlement."""
    settled = by_line.get(row[0])
    if not settled:
        return tuple(row[:10])
    first = settled[0]
    return (*row[:6], Outcome.PARKED, first[3], first[4], first[5])


def _parts(message_id: int, by_line: Mapping[int, list[tuple[Any, ...]]], waiting: Any) -> list[list[Any]]:
    """The [part, digest] of every message of a line that was parked: those still waiting and
    those its settlements settled."""
    parts = {part: parked_digest(part, *w) for part, w in waiting.get(message_id, {}).items()}
    for record in by_line.get(message_id, []):
        try:
            settled = json.loads(record[2])
        except ValueError:
            settled = []
        for part, digest in settled:
            parts.setdefault(part, digest)
    return [[part, parts[part]] for part in sorted(parts)]


def _settled_line(
    row: Sequence[Any], settled: list[tuple[Any, ...]], waiting: Mapping[int, Any]
) -> list[str]:
    """How a line's row disagrees with its settlements (each starting where the one before ended,
    the row as the last left it, no settled part still parked)."""
    if not settled:
        return []
    problems = []
    state = (settled[0][3], settled[0][4], settled[0][5])
    for record in settled:
        if (record[3], record[4], record[5]) != state or record[0] < row[0]:
            problems.append(
                f"settlement {record[0]} of message {row[0]} does not follow from the line before it"
            )
        state = (record[7], record[8], record[9])
        try:
            parts = [p for p, _ in json.loads(record[2])]
        except ValueError:
            parts = []
        if any(p in waiting for p in parts):
            problems.append(f"message {row[0]}: a part settled by settlement {record[0]} is parked again")
    last = settled[-1]
    if (row[6], row[7], row[8], row[9]) != (last[6], last[7], last[8], last[9]):
        problems.append(
            f"message {row[0]} is marked {row[6]} ({row[7]!r}) but its last settlement {last[0]} says"
            f" {last[6]} ({last[7]!r}): the line was relabelled outside the ledger"
        )
    return problems


def _lines_present(db: Database, by_line: Mapping[int, Any]) -> set[int]:
    present: set[int] = set()
    ids = sorted(by_line)
    with db.read() as tx:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            present |= {
                int(r[0])
                for r in tx.all(f"SELECT message_id FROM messages WHERE message_id IN ({marks})", chunk)
            }
    return present


def aggregate_id(event: OrderEvent) -> UUID:
    """The aggregate an event belongs to, derived from its payload: an instrument's, a cash
    flow's, a mark's or an order's."""
    if isinstance(event, InstrumentDefined):
        return instrument_id_for(event.venue, event.instrument)
    if isinstance(event, CashFlowRecorded):
        return cash_flow_id_for(event.account, event.venue, event.instrument, event.flow_id)
    if isinstance(event, MarkRecorded):
        return mark_id_for(event.venue, event.instrument, event.ts_event, event.source)
    return order_id_for(event.client_order_id)


def journal_differences(db: Database, orders: Mapping[str, Order], limit: int = 20) -> list[str]:
    """Journal, identity and parked rows the log does not explain (empty when all agree).

    These tables are not chained; instead each is checked against the events: every event's
    message is in the journal, marked applied, for the same order, and counts the events that name
    it; each parked line has its parked rows and each parked row its line; the identities are
    exactly the venue order IDs and aliases the orders' events record.
    """
    checks = [
        (
            "SELECT e.notification_id, e.message_id FROM events e LEFT JOIN messages m"
            " ON m.message_id = e.message_id WHERE e.message_id IS NOT NULL AND m.message_id IS NULL"
            " ORDER BY e.notification_id",
            "event {0} names message {1}, which the journal does not hold",
        ),
        (
            "SELECT m.message_id, m.event_count, COUNT(e.notification_id) FROM messages m"
            " LEFT JOIN events e ON e.message_id = m.message_id AND e.notification_id > 0"
            " GROUP BY m.message_id, m.event_count HAVING m.event_count <> COUNT(e.notification_id)"
            " ORDER BY m.message_id",
            "message {0} says it produced {1} events but {2} events in the log name it",
        ),
        (
            # A line some of whose messages still wait stays parked with the events of the rest;
            # a line with a message refused is rejected with the events of those applied, which
            # its reason lists ("messages 1, 2 of 3 applied", fates.each_part).
            "SELECT DISTINCT m.message_id, m.outcome FROM messages m"
            " JOIN events e ON e.message_id = m.message_id"
            f" WHERE m.outcome NOT IN ('{Outcome.APPLIED}', '{Outcome.PARKED}')"
            f" AND NOT (m.outcome = '{Outcome.REJECTED}'"
            f" AND COALESCE(m.reason, '') LIKE '%of % {Outcome.APPLIED}%')"
            " ORDER BY m.message_id",
            "message {0} is marked {1} but events in the log name it",
        ),
        (
            # One input may hold facts of several orders (a list of trades): the order it is
            # recorded for must be one of them.
            "SELECT m.message_id, m.client_order_id, MIN(e.client_order_id) FROM messages m JOIN events e"
            " ON e.message_id = m.message_id GROUP BY m.message_id, m.client_order_id"
            # An instrument definition is no order's: its line names none, its event ''.
            " HAVING SUM(CASE WHEN e.client_order_id = COALESCE(m.client_order_id, '') THEN 1 ELSE 0 END) = 0"
            " ORDER BY m.message_id",
            "message {0} is recorded for order {1!r} but produced events of order {2!r}",
        ),
        (
            "SELECT DISTINCT p.message_id, m.outcome FROM parked p LEFT JOIN messages m"
            f" ON m.message_id = p.message_id WHERE m.outcome IS NULL OR m.outcome <> '{Outcome.PARKED}'"
            " ORDER BY p.message_id",
            "parked row of message {0} belongs to no parked line (outcome {1})",
        ),
        (
            f"SELECT m.message_id FROM messages m WHERE m.outcome = '{Outcome.PARKED}'"
            " AND NOT EXISTS (SELECT 1 FROM parked p WHERE p.message_id = m.message_id)"
            " ORDER BY m.message_id",
            "message {0} is marked parked but nothing waits for its order (no parked row)",
        ),
    ]
    problems: list[str] = []
    with db.read() as tx:
        for sql, text in checks:
            for row in tx.all(f"{sql} LIMIT ?", (limit,)):
                problems.append(text.format(*row))
        stored = {
            IdentityKey(str(r[0]), str(r[1]), str(r[2])): str(r[3])
            for r in tx.all("SELECT venue, kind, value, client_order_id FROM identities")
        }
    recorded = {key: order.client_order_id for order in orders.values() for key in identity_keys(order)}
    for key in sorted(set(stored) | set(recorded)):
        venue, kind, value = key
        if key not in stored:
            problems.append(
                f"identity {kind} {value!r} at venue {venue!r} of order {recorded[key]!r} is missing"
            )
        elif key not in recorded or recorded[key] != stored[key]:
            problems.append(
                f"identity {kind} {value!r} at venue {venue!r} names order {stored[key]!r},"
                " which the log does not explain"
            )
    return problems[:limit]


def view_differences(
    db: Database, projection: Projection, tables: dict[str, MemoryTable[Any, Any]], limit: int = 20
) -> list[str]:
    """How a view's stored tables differ from ``tables`` (a fold in memory); empty when equal.

    The stored rows are read a chunk at a time, each compared with the folded row of its key as
    it comes, so that neither side is copied whole."""
    found: list[tuple[int, str, str]] = []
    for number, spec in enumerate(projection.tables):
        table: MemoryTable[Any, Any] = tables[spec.name]
        folded = {spec.key_values(k): k for k in table.rows}  # each stored key → the fold's key
        places = [spec.columns.index(c) for c in _key_columns(spec)]
        columns = ", ".join(c.name for c in spec.columns)
        with db.read() as tx:
            cursor = tx.execute(f"SELECT {columns} FROM {spec.name}")
            while rows := cursor.fetchmany(CHUNK):
                for row in rows:
                    stored = tuple(row)
                    key = tuple(stored[i] for i in places)
                    if key not in folded:
                        found.append(
                            (number, str(key), f"view {spec.name}: row {key} is not explained by the log")
                        )
                        continue
                    expected = spec.to_row(table.rows[folded.pop(key)])
                    if stored != expected and _normal(stored) != _normal(expected):
                        found.append(
                            (
                                number,
                                str(key),
                                f"view {spec.name}: row {key} differs from a fresh fold of the log",
                            )
                        )
        found += [(number, str(key), f"view {spec.name}: row {key} is missing") for key in folded]
        if len(found) >= limit:
            break
    found.sort(key=lambda f: f[:2])  # table by table, each in the order of its keys
    return [text for _, _, text in found[:limit]]


def _key_columns(spec: Any) -> list[Any]:
    names = [c.name for c in spec.columns]
    return [spec.columns[names.index(k)] for k in spec.key]


def _normal(row: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(int(v) if isinstance(v, bool) else v for v in row)
