"""The ``snapshot_*`` tables: what the journal's open-orders snapshots say, by stream, indexed.

Closing an order by absence from a stream of snapshots (``application.feeds.snapshots``) asks, of a
stream (venue, account): the time of its latest snapshot, the first two snapshot times after a
given one, when a venue order ID was last listed open and the earliest snapshot that lists it
closed. Answering from the journal means parsing every snapshot line in it; these tables keep the
answers instead, so each question is an index look-up and a process holds none of it in memory:

- ``snapshot_times``: each snapshot's ``as_of`` (canonical UTC text, whose order is time order),
  one row per time;
- ``snapshot_rows``: per venue order ID, the latest ``as_of`` that listed it open (``listed``) and
  the earliest that listed it closed (``closed``, with that row's status);
- ``snapshot_index``: the journal's message ID up to which the tables hold its lines (``seen``).

The journal is the source of truth: the tables are derived from its snapshot lines (those not
rejected) by :func:`catch_up`, which reads only the lines after ``seen``. Emptied or dropped,
they are rebuilt from the journal at the next catch-up; every process and restart reads the same.
Writes are idempotent (a time once, a later listing, an earlier closure), so two processes that
index the same lines at once agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from orderledger.domain.values import format_timestamp, parse_timestamp
from orderledger.infrastructure.storage.db import Tx, lock_schema, table_columns

TABLES = ("snapshot_times", "snapshot_rows", "snapshot_index")
CREATE = (
    "CREATE TABLE IF NOT EXISTS snapshot_times (venue TEXT NOT NULL, account TEXT NOT NULL,"
    " as_of TEXT NOT NULL, PRIMARY KEY (venue, account, as_of))",
    "CREATE TABLE IF NOT EXISTS snapshot_rows (venue TEXT NOT NULL, account TEXT NOT NULL,"
    " venue_order_id TEXT NOT NULL, listed TEXT, closed TEXT, closed_status TEXT,"
    " PRIMARY KEY (venue, account, venue_order_id))",
    "CREATE TABLE IF NOT EXISTS snapshot_index (name TEXT PRIMARY KEY, seen BIGINT NOT NULL)",
)
PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
"""What the application role may do to the tables (derived data, rebuilt from the journal)."""
_NAME = "snapshots"


@dataclass(frozen=True)
class Listing:
    """What one snapshot line says for the index: its stream, time, the venue order IDs it lists
    open, and those it lists closed with their status."""

    venue: str
    account: str
    as_of: datetime
    open_ids: tuple[str, ...]
    closed: tuple[tuple[str, str], ...]


def create(tx: Tx) -> None:
    """Create the tables if they are missing (``orderledger db init`` makes them for an
    application role that may create nothing)."""
    if not table_columns(tx, TABLES[-1]):
        lock_schema(tx)  # (two first catch-ups at once: one creates them)
        for statement in CREATE:
            tx.execute(statement)


def seen(tx: Tx) -> int:
    """The journal's message ID up to which the tables hold its snapshot lines."""
    found = tx.one("SELECT seen FROM snapshot_index WHERE name = ?", (_NAME,))
    return 0 if found is None else int(found[0])


def catch_up(tx: Tx, lines: Iterable[tuple[int, Listing | None]], head: int | None = None) -> None:
    """Index ``lines`` (the journal's snapshot lines after :func:`seen`, in message order, each
    with its message ID; None: a line that is not a snapshot) and move ``seen`` past them, or to
    ``head`` when every line up to it is among them (the journal's other lines after the last
    snapshot are then not read again). On PostgreSQL the watermark's row is locked first, so
    catch-ups of two processes take turns; writers of the log commit in message order
    (``PostgresDatabase.lock_log``), so no line below a head read in the transaction commits
    after it."""
    if tx.dialect == "postgresql":
        tx.execute("INSERT INTO snapshot_index (name, seen) VALUES (?, 0) ON CONFLICT DO NOTHING", (_NAME,))
        tx.execute("SELECT seen FROM snapshot_index WHERE name = ? FOR UPDATE", (_NAME,))
    last = None
    for message_id, listing in lines:
        last = message_id
        if listing is not None:
            add(tx, listing)
    if head is not None and (last is None or head > last):
        last = head
    if last is not None:
        tx.execute(
            "INSERT INTO snapshot_index (name, seen) VALUES (?, ?) ON CONFLICT (name) DO UPDATE"
            " SET seen = excluded.seen WHERE snapshot_index.seen < excluded.seen",
            (_NAME, last),
        )


def add(tx: Tx, listing: Listing) -> None:
    """Count one snapshot in."""
    stream = (listing.venue, listing.account)
    at = format_timestamp(listing.as_of)
    tx.execute(
        "INSERT INTO snapshot_times (venue, account, as_of) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        (*stream, at),
    )
    if listing.open_ids:
        tx.executemany(
            "INSERT INTO snapshot_rows (venue, account, venue_order_id, listed) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (venue, account, venue_order_id) DO UPDATE SET listed = excluded.listed"
            " WHERE snapshot_rows.listed IS NULL OR snapshot_rows.listed < excluded.listed",
            [(*stream, name, at) for name in listing.open_ids],
        )
    if listing.closed:
        tx.executemany(
            "INSERT INTO snapshot_rows (venue, account, venue_order_id, closed, closed_status)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (venue, account, venue_order_id) DO UPDATE"
            " SET closed = excluded.closed, closed_status = excluded.closed_status"
            " WHERE snapshot_rows.closed IS NULL OR excluded.closed < snapshot_rows.closed",
            [(*stream, name, at, status) for name, status in listing.closed],
        )


def latest(tx: Tx, venue: str, account: str) -> datetime | None:
    """The time of the stream's latest snapshot."""
    found = tx.one("SELECT MAX(as_of) FROM snapshot_times WHERE venue = ? AND account = ?", (venue, account))
    return None if found is None or found[0] is None else parse_timestamp(found[0])


def first_two(tx: Tx, venue: str, account: str, since: datetime, after: datetime | None) -> list[datetime]:
    """The stream's first two snapshot times at or after ``since`` and after ``after``."""
    rows = tx.all(
        "SELECT as_of FROM snapshot_times WHERE venue = ? AND account = ? AND as_of >= ? AND as_of > ?"
        " ORDER BY as_of LIMIT 2",
        (venue, account, format_timestamp(since), "" if after is None else format_timestamp(after)),
    )
    return [parse_timestamp(row[0]) for row in rows]


def rows_of(
    tx: Tx, venue: str, account: str, names: tuple[str, ...]
) -> tuple[dict[str, datetime], dict[str, tuple[datetime, str]]]:
    """When each of the venue order IDs ``names`` was last listed open, and the earliest closed
    row of each (its time and status), as far as the stream's snapshots say."""
    listed: dict[str, datetime] = {}
    closed: dict[str, tuple[datetime, str]] = {}
    if not names:
        return listed, closed
    marks = ", ".join("?" * len(names))
    for name, at, ended, status in tx.all(
        "SELECT venue_order_id, listed, closed, closed_status FROM snapshot_rows"
        f" WHERE venue = ? AND account = ? AND venue_order_id IN ({marks})",
        (venue, account, *names),
    ):
        if at is not None:
            listed[str(name)] = parse_timestamp(at)
        if ended is not None:
            closed[str(name)] = (parse_timestamp(ended), str(status))
    return listed, closed


__all__ = [
    "PRIVILEGES",
    "TABLES",
    "Listing",
    "add",
    "catch_up",
    "create",
    "first_two",
    "latest",
    "rows_of",
    "seen",
]
