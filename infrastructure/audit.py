"""Audit: search the log, read the journal, look back in time, export, and verify.

Nothing here writes to the ledger. ``verify`` recomputes the hash chain from the first event
and refolds every view from the log, so a changed, deleted or reordered row is found.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, TextIO
from uuid import UUID

from eventsourcing.persistence import MapperDeserialisationError

from domain.errors import InvalidInputError
from domain.events import EVENT_TYPES_BY_NAME, InstrumentDefined, OrderEvent
from domain.instrument import instrument_id_for
from domain.order import Order, order_id_for
from domain.values import format_timestamp
from infrastructure.chain import GENESIS, link
from infrastructure.db import Database, check_sqlite_file
from infrastructure.mapper import LedgerMapper
from infrastructure.store import foreign_triggers
from projections import PROJECTIONS
from projections.base import MemoryTable, Projection, fold
from projections.orders import ORDERS_TABLE
from projections.positions import POSITIONS_TABLE, Position

CHUNK = 2_000
EVENT_COLUMNS = (
    "notification_id",
    "originator_id",
    "originator_version",
    "topic",
    "state",
    "event_type",
    "client_order_id",
    "account",
    "venue",
    "instrument",
    "ts_event",
    "ts_recorded",
    "source",
    "message_id",
    "hash",
)


# ---------------------------------------------------------------------- event search


@dataclass(frozen=True)
class EventFilter:
    """What ``orderledger events`` selects; every field is optional."""

    types: Sequence[str] = ()
    account: str | None = None
    venue: str | None = None
    instrument: str | None = None
    client_order_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    event_time: bool = False

    def where(self) -> tuple[list[str], list[Any]]:
        """SQL conditions and parameters (each served by an index, see docs/audit.md)."""
        clauses: list[str] = []
        params: list[Any] = []
        unknown = [t for t in self.types if t not in EVENT_TYPES_BY_NAME]
        if unknown:
            raise InvalidInputError(
                f"unknown event type {unknown[0]!r} (known: {', '.join(EVENT_TYPES_BY_NAME)})", field="type"
            )
        if self.types:
            clauses.append(f"event_type IN ({','.join('?' * len(self.types))})")
            params.extend(self.types)
        for column in ("account", "venue", "instrument", "client_order_id"):
            value = getattr(self, column)
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        time_column = "ts_event" if self.event_time else "ts_recorded"
        if self.since is not None:
            clauses.append(f"{time_column} >= ?")
            params.append(format_timestamp(self.since))
        if self.until is not None:
            clauses.append(f"{time_column} <= ?")
            params.append(format_timestamp(self.until))
        return clauses, params


def search_events(
    db: Database, mapper: LedgerMapper, wanted: EventFilter, *, chunk: int = CHUNK, newest: bool = False
) -> Iterator[tuple[int, OrderEvent, int | None]]:
    """Matching events in log order (``newest``: reversed), read in chunks: (notification ID,
    event, message ID)."""
    from infrastructure.queries import paged

    clauses, params = wanted.where()
    select = "SELECT originator_id, originator_version, topic, state, message_id, notification_id FROM events"
    for r in paged(
        db,
        select,
        (" AND ".join(clauses), params),
        ("notification_id",),
        newest=newest,
        page=chunk,
        start=None if newest else (0,),
    ):
        yield r[5], mapper.decode(r[2], bytes(r[3]), r[0], r[1]), r[4]


def event_record(position: int, event: OrderEvent, message_id: int | None) -> dict[str, Any]:
    """One event as JSON-ready data: header fields first, then its payload."""
    data = event.model_dump(mode="json", exclude={"originator_id", "originator_version"})
    return {
        "position": position,
        "type": event.type_name(),
        "client_order_id": data.pop("client_order_id"),
        "version": event.originator_version,
        "ts_event": data.pop("ts_event"),
        "ts_recorded": data.pop("ts_recorded"),
        "source": data.pop("source"),
        "account": data.pop("account"),
        "venue": data.pop("venue"),
        "instrument": data.pop("instrument"),
        "message_id": message_id,
        "payload": data,
    }


# ---------------------------------------------------------------------- the journal


MESSAGE_OUTCOMES = ("applied", "duplicate", "parked", "ignored", "rejected")


def list_messages(
    db: Database,
    *,
    outcome: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
    newest: bool = False,
) -> Iterator[dict[str, Any]]:
    """Journal rows in arrival order (``newest``: reversed), read a page at a time: each
    inbound message verbatim, with its outcome. ``since``/``until`` bound the time received."""
    from infrastructure.queries import paged

    if outcome is not None and outcome not in MESSAGE_OUTCOMES:
        raise InvalidInputError(
            f"--outcome must be one of {'|'.join(MESSAGE_OUTCOMES)}, not {outcome!r}", field="outcome"
        )
    clauses, params = [], []
    if outcome is not None:
        clauses.append("outcome = ?")
        params.append(outcome)
    if since is not None:
        clauses.append("received_at >= ?")
        params.append(format_timestamp(since))
    if until is not None:
        clauses.append("received_at <= ?")
        params.append(format_timestamp(until))
    select = (
        "SELECT received_at, origin, line_no, format, raw, outcome, reason, client_order_id, event_count,"
        " message_id FROM messages"
    )
    rows = paged(db, select, (" AND ".join(clauses), params), ("message_id",), newest=newest, page=CHUNK)
    for sent, r in enumerate(rows):
        if limit is not None and sent >= limit:
            return
        yield {
            "message_id": r[9],
            "received_at": r[0],
            "origin": r[1],
            "line": r[2],
            "format": r[3],
            "raw": bytes(r[4]).decode("utf-8", "replace"),
            "outcome": r[5],
            "reason": r[6],
            "client_order_id": r[7],
            "events": r[8],
        }


# ---------------------------------------------------------------------- as of a time


def _events_until(
    db: Database, mapper: LedgerMapper, as_of: datetime, event_time: bool
) -> Iterator[tuple[int, OrderEvent]]:
    for position, event, _ in search_events(db, mapper, EventFilter(until=as_of, event_time=event_time)):
        yield position, event


def orders_as_of(
    db: Database, mapper: LedgerMapper, as_of: datetime, *, event_time: bool = False, open_only: bool = False
) -> list[dict[str, Any]]:
    """Every order as the ledger knew it at ``as_of`` (recorded time, or venue time)."""
    tables = fold(PROJECTIONS[0](), _events_until(db, mapper, as_of, event_time))
    orders: Iterable[Order] = tables[ORDERS_TABLE.name].rows.values()
    rows = [o.snapshot() for o in orders if not open_only or o.status.is_open]
    return sorted(rows, key=lambda r: (r["created_at"], r["client_order_id"]))


def positions_as_of(
    db: Database, mapper: LedgerMapper, as_of: datetime, *, event_time: bool = False
) -> list[Position]:
    """Positions as they stood at ``as_of``, folded from the log."""
    tables = fold(PROJECTIONS[2](), _events_until(db, mapper, as_of, event_time))
    positions: dict[Any, Position] = tables[POSITIONS_TABLE.name].rows
    return [positions[k] for k in sorted(positions)]


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
        event = mapper.decode(row[3], values[4], row[1], row[2])
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
            "SELECT DISTINCT m.message_id, m.outcome FROM messages m JOIN events e"
            " ON e.message_id = m.message_id WHERE m.outcome NOT IN ('applied', 'parked')"
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
            " ON m.message_id = p.message_id WHERE m.outcome IS NULL OR m.outcome <> 'parked'"
            " ORDER BY p.message_id",
            "parked row of message {0} belongs to no parked line (outcome {1})",
        ),
        (
            "SELECT m.message_id FROM messages m WHERE m.outcome = 'parked'"
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


# ---------------------------------------------------------------------- export


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: json.dumps(v, ensure_ascii=False, sort_keys=True) if isinstance(v, dict | list) else v
        for k, v in row.items()
    }


@contextlib.contextmanager
def _text(out: Path | BinaryIO, newline: str | None = None) -> Iterator[TextIO]:
    """A text handle on a file path, or on a binary stream left open afterwards (stdout)."""
    if isinstance(out, Path):
        with out.open("w", encoding="utf-8", newline=newline) as handle:
            yield handle
        return
    handle = io.TextIOWrapper(out, encoding="utf-8", newline=newline, write_through=True)
    try:
        yield handle
        handle.flush()
    finally:
        handle.detach()


def export_rows(rows: Iterable[dict[str, Any]], fmt: str, out: Path | BinaryIO) -> int:
    """Write rows as csv, jsonl or parquet (decimals stay exact strings) to a file or a binary
    stream; returns the count."""
    if fmt == "jsonl":
        count = 0
        with _text(out) as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
        return count
    if fmt == "csv":
        count = 0
        with _text(out, newline="") as handle:
            writer: csv.DictWriter[str] | None = None
            for row in rows:
                flat = _flat(row)
                if writer is None:
                    writer = csv.DictWriter(handle, fieldnames=list(flat))
                    writer.writeheader()
                writer.writerow(flat)
                count += 1
        return count
    if fmt == "parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise InvalidInputError(
                "parquet export needs pyarrow: pip install 'orderledger[parquet]'", field="format"
            ) from None
        schema = None
        writer_pq = None
        count = 0
        batch: list[dict[str, Any]] = []

        def column_type(values: list[Any]) -> Any:
            present = [v for v in values if v is not None]
            if present and all(isinstance(v, bool) for v in present):
                return pa.bool_()
            if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
                return pa.int64()
            return pa.string()  # decimals and times stay exact text

        def flush() -> None:
            nonlocal schema, writer_pq
            if not batch:
                return
            flat = [_flat(r) for r in batch]
            if schema is None:
                schema = pa.schema([(k, column_type([r.get(k) for r in flat])) for k in flat[0]])
                writer_pq = pq.ParquetWriter(str(out) if isinstance(out, Path) else out, schema)
            typed = [
                {k: (v if v is None or schema.field(k).type != pa.string() else str(v)) for k, v in r.items()}
                for r in flat
            ]
            assert writer_pq is not None
            writer_pq.write_table(pa.Table.from_pylist(typed, schema=schema))
            batch.clear()

        for row in rows:
            batch.append(row)
            count += 1
            if len(batch) >= 10_000:
                flush()
        flush()
        if writer_pq is not None:
            writer_pq.close()
        else:
            pq.write_table(pa.table({}), str(out) if isinstance(out, Path) else out)
        return count
    raise InvalidInputError(f"--format must be csv, jsonl or parquet, not {fmt!r}", field="format")
