"""Audit reads: search the log, read the journal, look back in time, export.

Nothing here writes to the ledger.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import chain, islice
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.events import EVENT_TYPES_BY_NAME, OrderEvent
from orderledger.domain.order import Order
from orderledger.domain.outcomes import Outcome
from orderledger.domain.values import PLAIN_NUMBER_FORM, format_timestamp
from orderledger.infrastructure.audit.columns import COLUMN_TYPES, arrow_type, typed_value
from orderledger.infrastructure.listing import Ordering, Page, ordering, read_page
from orderledger.infrastructure.results.filter import Filter
from orderledger.infrastructure.results.log import EventRecord, MessageRecord, shown_stored
from orderledger.infrastructure.results.orders import OrderRow
from orderledger.infrastructure.results.rows import lazy_reader, lazy_rows
from orderledger.infrastructure.storage import cursors
from orderledger.infrastructure.storage.db import Database
from orderledger.infrastructure.storage.mapper import LedgerMapper
from orderledger.infrastructure.storage.paging import Keyset
from orderledger.projections import PROJECTIONS
from orderledger.projections.base import fold
from orderledger.projections.book import PnlEntry, Position
from orderledger.projections.orders import ORDERS_TABLE
from orderledger.projections.positions import PNL_TABLE, POSITIONS_TABLE

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


EVENT_SELECT = "originator_id, originator_version, topic, state, message_id, notification_id"


def event_keyset(db: Database, wanted: EventFilter, order: Ordering | None = None) -> Keyset:
    """The log's rows ``wanted`` selects, in ``order`` (default: log order)."""
    clauses, params = wanted.where()
    if order is None:
        keys: tuple[str, ...] = ("notification_id",)
        return Keyset(EVENT_SELECT, "events", (" AND ".join(clauses), params), keys)
    where = (" AND ".join(clauses), params)
    return Keyset(EVENT_SELECT, "events", where, order.keys, order.descending, order.start)


def decoded_events(
    mapper: LedgerMapper, rows: Iterable[Sequence[Any]]
) -> Iterator[tuple[int, OrderEvent, int | None]]:
    """Stored event rows (``EVENT_SELECT``) as (notification ID, event, message ID)."""
    for r in rows:
        yield r[5], mapper.decode(r[2], bytes(r[3]), r[0], r[1]), r[4]


def event_records(mapper: LedgerMapper) -> Callable[[Iterable[Sequence[Any]]], list[EventRecord]]:
    """Stored event rows (``EVENT_SELECT``) → records of the log (``EventRecord``), each holding
    its stored row until a field is first read (then its event is decoded); until then its
    ``to_json`` is read straight from the stored state (``results.log.shown_stored``), or, for
    a state stored at an older class version, from the decoded event."""

    def record(r: Sequence[Any]) -> EventRecord:
        return EventRecord.of(r[5], mapper.decode(r[2], bytes(r[3]), r[0], r[1]), r[4])

    def fill(row: EventRecord, r: Sequence[Any]) -> None:
        row.__dict__.update(record(r).__dict__)

    def render(r: Sequence[Any]) -> dict[str, Any]:
        found = mapper.current_state(r[2], r[3])  # (not copied: orjson reads a buffer as it is)
        shown = None if found is None else shown_stored(r[5], found[0], r[1], found[1], r[4])
        return record(r).to_json() if shown is None else shown

    return lazy_rows(EventRecord, fill, render)


def search_records(
    db: Database,
    mapper: LedgerMapper,
    wanted: EventFilter,
    *,
    newest: bool = False,
    order: Ordering | None = None,
) -> Iterator[EventRecord]:
    """The events :func:`search_events` reads, as records of the log (:func:`event_records`)."""
    if order is None:
        keyset = replace(event_keyset(db, wanted), newest=newest, start=None if newest else (0,))
    else:
        keyset = event_keyset(db, wanted, order)
    return chain.from_iterable(keyset.pages(db, CHUNK, event_records(mapper)))


def search_events(
    db: Database,
    mapper: LedgerMapper,
    wanted: EventFilter,
    *,
    chunk: int = CHUNK,
    newest: bool = False,
    order: Ordering | None = None,
) -> Iterator[tuple[int, OrderEvent, int | None]]:
    """Matching events in log order (``newest``: reversed; ``order``: that sort instead), read in
    chunks: (notification ID, event, message ID)."""
    if order is None:
        keyset = replace(event_keyset(db, wanted), newest=newest, start=None if newest else (0,))
    else:
        keyset = event_keyset(db, wanted, order)
    return decoded_events(mapper, chain.from_iterable(keyset.pages(db, chunk)))


def event_page(
    db: Database, mapper: LedgerMapper, wanted: EventFilter, where: Filter, *, count: bool | int = False
) -> Page[EventRecord]:
    """One page of the log's events ``wanted`` selects: ``where.limit`` (None: all) in its sort
    after its cursor, with the next page's cursor."""
    order = ordering(
        "events", where, db.dialect, seal=cursors.seal(db), types=wanted.types, event_time=wanted.event_time
    )
    keyset = event_keyset(db, wanted, order)
    return read_page(db, keyset, order, where.limit, event_records(mapper), count=count)


def events_after(
    db: Database, mapper: LedgerMapper, position: int, limit: int
) -> list[tuple[int, OrderEvent, int | None]]:
    """Up to ``limit`` committed events after log ``position``, in log order: (notification ID,
    event, message ID), as :func:`search_events` reads them."""
    keyset = replace(event_keyset(db, EventFilter()), start=(position,))
    rows, _ = keyset.page(db, limit)
    return list(decoded_events(mapper, rows))


def event_record(position: int, event: OrderEvent, message_id: int | None) -> dict[str, Any]:
    """One event as JSON-ready data: header fields first, then its payload."""
    return EventRecord.of(position, event, message_id).to_json()


# ---------------------------------------------------------------------- the journal


MESSAGE_OUTCOMES = tuple(Outcome)


def message_keyset(db: Database, where: Filter, *, outcome: str | None = None) -> tuple[Keyset, Ordering]:
    """The journal's rows ``where`` selects (``since``/``until``: time received), in its sort
    (arrival order unless it names another); ``outcome``: only those (``parked``: the parked)."""
    if outcome is not None and outcome not in MESSAGE_OUTCOMES:
        raise InvalidInputError(
            f"`outcome` must be one of {'|'.join(MESSAGE_OUTCOMES)}, not {outcome!r}", field="outcome"
        )
    clauses: list[str] = []
    params: list[Any] = []
    if outcome is not None:
        clauses.append("outcome = ?")
        params.append(outcome)
    if where.since is not None:
        clauses.append("received_at >= ?")
        params.append(where.since_text)
    if where.until is not None:
        clauses.append("received_at <= ?")
        params.append(where.until_text)
    listing = "parked" if outcome == Outcome.PARKED else "messages"
    order = ordering(listing, where, db.dialect, seal=cursors.seal(db), outcome=outcome)
    columns = (
        "message_id, received_at, origin, line_no, format, raw, outcome, reason, client_order_id, event_count"
    )
    where_clause = (" AND ".join(clauses), params)
    return Keyset(columns, "messages", where_clause, order.keys, order.descending, order.start), order


def _raw_text(raw: Any) -> str:
    """A message's raw bytes as text (invalid UTF-8 replaced)."""
    return bytes(raw).decode("utf-8", "replace")


_message_rows = lazy_reader(MessageRecord, [None, None, None, None, None, _raw_text])
"""The journal's rows (``message_keyset``'s columns, the fields' order) as typed rows, each read
when a field is first asked for, and shown as JSON from its stored values."""


def iter_messages(db: Database, where: Filter, *, outcome: str | None = None) -> Iterator[MessageRecord]:
    """Journal rows in arrival order (``where.newest``: reversed; ``where.sort``: that sort),
    read a page at a time: each inbound message verbatim, with its outcome."""
    keyset, _ = message_keyset(db, where, outcome=outcome)
    return islice(chain.from_iterable(keyset.pages(db, CHUNK, _message_rows)), where.limit)


def message_page(
    db: Database, where: Filter, *, outcome: str | None = None, count: bool | int = False
) -> Page[MessageRecord]:
    """One page of the journal: ``where.limit`` rows (None: all) after its cursor, with the next
    page's cursor."""
    keyset, order = message_keyset(db, where, outcome=outcome)
    return read_page(db, keyset, order, where.limit, _message_rows, count=count)


def list_messages(
    db: Database,
    *,
    outcome: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
    newest: bool = False,
) -> Iterator[dict[str, Any]]:
    """Journal rows as JSON-ready data (see :func:`iter_messages`)."""
    where = Filter(since=since, until=until, limit=limit, newest=newest)
    return (row.to_json() for row in iter_messages(db, where, outcome=outcome))


# ---------------------------------------------------------------------- as of a time


def _events_until(
    db: Database, mapper: LedgerMapper, as_of: datetime, event_time: bool
) -> Iterator[tuple[int, OrderEvent]]:
    for position, event, _ in search_events(db, mapper, EventFilter(until=as_of, event_time=event_time)):
        yield position, event


def orders_as_of(
    db: Database, mapper: LedgerMapper, as_of: datetime, *, event_time: bool = False, open_only: bool = False
) -> list[OrderRow]:
    """Every order as the ledger knew it at ``as_of`` (recorded time, or venue time), oldest first."""
    tables = fold(PROJECTIONS[0](), _events_until(db, mapper, as_of, event_time))
    orders: Iterable[Order] = tables[ORDERS_TABLE.name].rows.values()
    rows = [OrderRow.from_json(o.snapshot()) for o in orders if not open_only or o.status.is_open]
    return sorted(rows, key=lambda r: (r.created_at, r.client_order_id))


def positions_as_of(
    db: Database, mapper: LedgerMapper, as_of: datetime, *, event_time: bool = False
) -> tuple[list[Position], list[PnlEntry]]:
    """Positions as they stood at ``as_of``, folded from the log, and their P&L entries."""
    tables = fold(PROJECTIONS[2](), _events_until(db, mapper, as_of, event_time))
    positions: dict[Any, Position] = tables[POSITIONS_TABLE.name].rows
    entries: dict[int, PnlEntry] = tables[PNL_TABLE.name].rows
    return [positions[k] for k in sorted(positions)], [entries[k] for k in sorted(entries)]


# ---------------------------------------------------------------------- export


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a CSV cell as a formula (OWASP, CSV injection)."""
_PLAIN_NUMBER = re.compile(PLAIN_NUMBER_FORM)


def spreadsheet_safe(value: Any) -> Any:
    """A CSV cell a spreadsheet will not evaluate: text starting with a FORMULA_STARTS character
    gets a leading ``'`` (shown as text, not run). A number as the ledger writes it (``-12.5``)
    is kept as it is: it is a number to the spreadsheet too, with nothing to run, and stays exact
    in the file."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


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


def _parquet_value(column: str, value: Any, text: bool) -> Any:
    """A cell for a Parquet column: typed when declared (``columns.COLUMN_TYPES``), else text or as is."""
    if column in COLUMN_TYPES:
        return typed_value(column, value)
    return str(value) if text and value is not None else value


def export_rows(rows: Iterable[dict[str, Any]], fmt: str, out: Path | BinaryIO, *, raw: bool = False) -> int:
    """Write rows as csv, jsonl or parquet (decimals exact: text in csv and jsonl, DECIMAL with
    its column's scale in parquet, ``columns.py``) to a file or a binary
    stream; returns the count. CSV cells are made spreadsheet-safe (:func:`spreadsheet_safe`)
    unless ``raw``."""
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
                if not raw:
                    flat = {k: spreadsheet_safe(v) for k, v in flat.items()}
                if writer is None:
                    writer = csv.DictWriter(handle, fieldnames=list(flat))
                    writer.writeheader()
                writer.writerow(flat)
                count += 1
        return count
    if fmt == "parquet":
        try:  # an optional dependency (the parquet extra), loaded only for a parquet export
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

        def column_type(name: str, values: list[Any]) -> Any:
            if name in COLUMN_TYPES:  # decimals and times, as the lake types them
                return arrow_type(COLUMN_TYPES[name])
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
                schema = pa.schema([(k, column_type(k, [r.get(k) for r in flat])) for k in flat[0]])
                writer_pq = pq.ParquetWriter(str(out) if isinstance(out, Path) else out, schema)
            try:
                typed = [
                    {k: _parquet_value(k, v, schema.field(k).type == pa.string()) for k, v in r.items()}
                    for r in flat
                ]
            except ValueError as error:
                raise InvalidInputError(f"cannot write parquet: {error}", field="format") from None
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
    raise InvalidInputError(f"`format` must be csv, jsonl or parquet, not {fmt!r}", field="format")
