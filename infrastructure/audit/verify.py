"""Audit proof: ``verify`` recomputes the hash chain from the first event and refolds every
view from the log, so a changed, deleted or reordered row is found. Nothing here writes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.persistence import MapperDeserialisationError

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.events import InstrumentDefined, OrderEvent
from orderledger.domain.instrument import instrument_id_for
from orderledger.domain.order import Order, order_id_for
from orderledger.domain.outcomes import Outcome
from orderledger.infrastructure.audit.search import CHUNK, EVENT_COLUMNS, EventFilter, search_events
from orderledger.infrastructure.storage.chain import GENESIS, link
from orderledger.infrastructure.storage.db import Database
from orderledger.infrastructure.storage.mapper import LedgerMapper
from orderledger.infrastructure.storage.sqlite import check_sqlite_file
from orderledger.infrastructure.storage.store import foreign_triggers
from orderledger.projections import PROJECTIONS
from orderledger.projections.base import MemoryTable, Projection, fold
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

    @property
    def head_text(self) -> str | None:
        """The head as ``ID:HASH`` (None for an empty log)."""
        return None if self.head is None else f"{self.head[0]}:{self.head[1]}"

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


Heads = Mapping[int, str]
"""Heads recorded earlier: position → hash (hex). Each must still be in the chain."""


def verify(
    db: Database,
    mapper: LedgerMapper,
    *,
    expect_head: tuple[int, str] | None = None,
    heads: Heads | None = None,
    deep: bool = False,
) -> VerifyReport:
    """Check the storage, recompute the hash chain from the first event (each row's search columns
    against its payload), then check every view, the journal, the identities and the parked rows
    against the log.

    Everything is read in one snapshot, so writers committing meanwhile cannot make the log, the
    views' positions and their rows appear to disagree. A damaged database raises
    :class:`DatabaseCorruptError` (one line), like any other command that meets it.
    """
    expected = dict(heads or {})
    if expect_head is not None:
        expected = merge_heads(expected, [expect_head], "--expect-head")
    with db.snapshot():
        return _verify(db, mapper, expected, deep)


def _verify(db: Database, mapper: LedgerMapper, heads: Heads, deep: bool) -> VerifyReport:
    storage = check_storage(db, deep=deep)
    report = verify_chain(db, heads=heads, mapper=mapper)
    report.storage = storage
    last = report.head[0] if report.head else 0
    with db.read() as tx:
        tracking = {str(r[0]): int(r[1]) for r in tx.all("SELECT view, position FROM view_tracking")}
        report.schema_problems = [
            f"trigger {trigger} on table {table} was not created by the ledger: it runs with the"
            " rights of whoever writes next (`orderledger db init` as the owner removes it)"
            for table, trigger in foreign_triggers(tx)
        ]
    for name, position in sorted(tracking.items()):
        if position > last and report.broken is None:
            report.broken = (
                f"view {name} has folded events up to {position} but the log ends at {last}:"
                " events were deleted from the end of the log"
            )
    if report.broken is not None:
        return report
    orders: dict[str, Order] | None = None
    for projection_class in PROJECTIONS:
        projection = projection_class()
        position = tracking.get(projection.name, 0)
        tables = _fold_log(db, mapper, projection, position)
        report.view_problems += view_differences(db, projection, tables)
        if projection.name == "orders" and position == last:
            orders = tables[ORDERS_TABLE.name].rows
    if orders is None:
        orders = _fold_log(db, mapper, PROJECTIONS[0](), last)[ORDERS_TABLE.name].rows
    report.journal_problems = journal_differences(db, orders)
    return report


def check_storage(db: Database, *, deep: bool = False) -> dict[str, str]:
    """SQLite: ``PRAGMA quick_check`` (``integrity_check`` when deep), raising a one-line
    :class:`DatabaseCorruptError` when the file is damaged. PostgreSQL: its ``data_checksums``
    setting (with checksums off, a damaged page is read without complaint)."""
    with db.read() as tx:
        if tx.dialect == "postgresql":
            return {"data_checksums": str(tx.one("SHOW data_checksums")[0])}
        return {check_sqlite_file(tx, db.url.path, deep=deep): "ok"}


def merge_heads(heads: Heads, more: Iterable[tuple[int, str]], source: str) -> dict[int, str]:
    """``heads`` with ``more`` added; two different hashes for one position are refused."""
    merged = dict(heads)
    for position, digest in more:
        if merged.setdefault(position, digest) != digest:
            raise InvalidInputError(
                f"{source}: two different hashes recorded for event {position}"
                f" ({merged[position]} and {digest}): the record of heads itself was altered",
                field="heads",
            )
    return merged


def parse_head(text: str, source: str) -> tuple[int, str]:
    """``ID:HASH`` as ``orderledger head`` prints it."""
    position, sep, digest = text.strip().partition(":")
    if not sep or not position.isdigit() or int(position) < 1 or not re.fullmatch(r"[0-9a-fA-F]{64}", digest):
        raise InvalidInputError(
            f"{source} takes ID:HASH as printed by `orderledger head`, not {text.strip()[:80]!r}",
            field="heads",
        )
    return int(position), digest.lower()


def read_heads(path: Path) -> dict[int, str]:
    """The heads recorded in a file, one ``ID:HASH`` a line (blank lines and ``#`` comments skipped)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInputError(f"cannot read the heads file {str(path)!r}: {error}", field="heads") from None
    heads: dict[int, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip() and not line.lstrip().startswith("#"):
            source = f"heads file {str(path)!r} line {number}"
            heads = merge_heads(heads, [parse_head(line, source)], source)
    return heads


def stored_head(db: Database) -> tuple[int, str] | None:
    """The last chained event's position and hash as stored (``orderledger head``)."""
    with db.read() as tx:
        row = tx.one(
            "SELECT notification_id, hash FROM events WHERE notification_id > 0"
            " ORDER BY notification_id DESC LIMIT 1"
        )
    return None if row is None else (int(row[0]), bytes(row[1]).hex())


def verify_chain(
    db: Database,
    *,
    after: tuple[int, bytes] = (0, GENESIS),
    expect_head: tuple[int, str] | None = None,
    heads: Heads | None = None,
    mapper: LedgerMapper | None = None,
) -> VerifyReport:
    """Check the hash chain from the event after ``after`` (a position and its verified hash).

    From the start by default; given the head a previous check returned, only what was appended
    since is read (the link to that head proves the earlier part unchanged up to it). With the
    ``mapper``, each event's search columns are compared with its payload; from the start, the
    table's row count with the chain's length (a row outside the chain is found).
    """
    report = VerifyReport()
    expected = dict(heads or {})
    if expect_head is not None:
        expected = merge_heads(expected, [expect_head], "--expect-head")
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
    while report.broken is None:
        with db.read() as tx:
            rows = tx.all(
                f"SELECT {', '.join(EVENT_COLUMNS)} FROM events WHERE notification_id > ?"
                " ORDER BY notification_id LIMIT ?",
                (last, CHUNK),
            )
        for row in rows:
            report.broken = _check_row(row, expected_id, previous, mapper)
            if report.broken is not None:
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
    if report.broken is None and not after[0]:
        with db.read() as tx:
            rows_stored = int(tx.one("SELECT COUNT(*) FROM events")[0])
        if rows_stored != report.events:
            outside = rows_stored - report.events
            report.broken = (
                f"the events table holds {rows_stored} rows but the chain {report.events}: {outside}"
                f" row{'s are' if outside > 1 else ' is'} outside the chain (position 0, negative or"
                " NULL), inserted around the ledger"
            )
    return report


# The columns copied from an event's payload so that searches need not decode it.
_SEARCH_COLUMNS = EVENT_COLUMNS[EVENT_COLUMNS.index("event_type") : EVENT_COLUMNS.index("message_id")]


def _check_row(
    row: Sequence[Any], expected_id: int, previous: bytes, mapper: LedgerMapper | None
) -> str | None:
    """What is wrong with one event row of the chain (None when nothing is)."""
    position = row[0]
    if position != expected_id:
        return f"event {expected_id} is missing (the log jumps from {expected_id - 1} to {position})"
    values = [bytes(v) if isinstance(v, memoryview) else v for v in row[:-1]]
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
    indexed = mapper.to_stored_event(event)
    named = dict(zip(EVENT_COLUMNS, values, strict=False))
    if named["originator_id"] != str(aggregate_id(event)):
        return (
            f"event {position} ({row[5]} of {row[6]!r}) is stored under another order's ID than its"
            f" payload's {event.client_order_id!r}"
        )
    for column in _SEARCH_COLUMNS:
        if named[column] != getattr(indexed, column):
            return (
                f"event {position} ({row[5]} of {row[6]!r}): its {column} column says"
                f" {named[column]!r} but its payload says {getattr(indexed, column)!r}"
            )
    return None


def aggregate_id(event: OrderEvent) -> UUID:
    """The aggregate an event belongs to, derived from its payload: an instrument's or an order's."""
    if isinstance(event, InstrumentDefined):
        return instrument_id_for(event.venue, event.instrument)
    return order_id_for(event.client_order_id)


def _fold_log(
    db: Database, mapper: LedgerMapper, projection: Projection, position: int
) -> dict[str, MemoryTable[Any, Any]]:
    """The projection folded in memory from the log up to ``position``."""

    def events() -> Iterator[tuple[int, OrderEvent]]:
        for p, event, _ in search_events(db, mapper, EventFilter()):
            if p > position:
                return
            yield p, event

    return fold(projection, events())


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
            # A line some of whose messages still wait stays parked with the events of the rest.
            "SELECT DISTINCT m.message_id, m.outcome FROM messages m"
            " JOIN events e ON e.message_id = m.message_id"
            f" WHERE m.outcome NOT IN ('{Outcome.APPLIED}', '{Outcome.PARKED}')"
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
            (str(r[0]), str(r[1]), str(r[2])): str(r[3])
            for r in tx.all("SELECT venue, kind, value, client_order_id FROM identities")
        }
    recorded = {
        key: order.client_order_id
        for order in orders.values()
        for key in [
            *((order.venue, "venue_order_id", v) for v in order.venue_order_ids),
            *((order.venue, f"alias:{n}", v) for n, v in order.aliases.items()),
        ]
    }
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
    """How a view's stored tables differ from ``tables`` (a fold in memory); empty when equal."""
    problems = []
    for spec in projection.tables:
        table: MemoryTable[Any, Any] = tables[spec.name]
        expected = {spec.key_values(k): spec.to_row(v) for k, v in table.rows.items()}
        columns = ", ".join(c.name for c in spec.columns)
        with db.read() as tx:
            stored_rows = [tuple(r) for r in tx.all(f"SELECT {columns} FROM {spec.name}")]
        stored = {tuple(r[spec.columns.index(c)] for c in _key_columns(spec)): r for r in stored_rows}
        for key in sorted(set(expected) | set(stored), key=str):
            if key not in stored:
                problems.append(f"view {spec.name}: row {key} is missing")
            elif key not in expected:
                problems.append(f"view {spec.name}: row {key} is not explained by the log")
            elif _normal(stored[key]) != _normal(expected[key]):
                problems.append(f"view {spec.name}: row {key} differs from a fresh fold of the log")
            if len(problems) >= limit:
                return problems
    return problems


def _key_columns(spec: Any) -> list[Any]:
    names = [c.name for c in spec.columns]
    return [spec.columns[names.index(k)] for k in spec.key]


def _normal(row: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(int(v) if isinstance(v, bool) else v for v in row)
