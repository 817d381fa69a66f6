"""The ``collectors`` table: one row per running ``orderledger collect`` (its lease).

A collector holds the row of its venue and account while it runs: who it is (``owner``, ``pid``),
when it started, its last heartbeat and its status figures (JSON). A second collector on the same
venue and account is refused while the row's heartbeat is fresh, and takes the row over once it
is stale (the holder died without releasing it). The table is created by the first lease, so a
ledger that never collected has none (and :func:`read_collectors` answers nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from orderledger.domain.values import format_timestamp, parse_timestamp
from orderledger.infrastructure.storage.db import (
    Database,
    Tx,
    is_integrity_error,
    lock_schema,
    table_columns,
)

TABLE = "collectors"
CREATE = (
    "CREATE TABLE IF NOT EXISTS collectors (venue TEXT NOT NULL, account TEXT NOT NULL,"
    " owner TEXT NOT NULL, pid INTEGER NOT NULL, started TEXT NOT NULL, heartbeat TEXT NOT NULL,"
    " status TEXT NOT NULL, PRIMARY KEY (venue, account))"
)
PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
"""What the application role may do to the table (its rows are leases, not facts)."""
NO_ACCOUNT = ""
"""How a collector without an account (a FIX log names its accounts itself) is keyed."""


@dataclass(frozen=True)
class LeaseRow:
    """One stored lease."""

    venue: str
    account: str
    owner: str
    pid: int
    started: datetime
    heartbeat: datetime
    status: dict[str, Any]


def create(tx: Tx) -> None:
    """Create the table if it is missing (an application role that may create nothing finds it
    made by ``orderledger db init``, which grants it the rows)."""
    if not table_columns(tx, TABLE):
        lock_schema(tx)  # (two first leases at once: one creates it)
        if not table_columns(tx, TABLE):
            tx.execute(CREATE)


def _row(found: Any) -> LeaseRow:
    return LeaseRow(
        str(found[0]),
        str(found[1]),
        str(found[2]),
        int(found[3]),
        parse_timestamp(found[4]),
        parse_timestamp(found[5]),
        orjson.loads(found[6]),
    )


def _holder(tx: Tx, venue: str, account: str) -> LeaseRow | None:
    found = tx.one(
        "SELECT venue, account, owner, pid, started, heartbeat, status FROM collectors"
        " WHERE venue = ? AND account = ?",
        (venue, account),
    )
    return None if found is None else _row(found)


def take_lease(
    db: Database,
    venue: str,
    account: str,
    owner: str,
    pid: int,
    now: datetime,
    gone: Callable[[LeaseRow], bool],
) -> LeaseRow | None:
    """Take the lease of ``venue``/``account`` for ``owner``; answer the holder instead (and take
    nothing) when another owner holds it and is not ``gone``."""
    try:
        with db.write() as tx:
            create(tx)
            held = _holder(tx, venue, account)
            if held is not None and held.owner != owner and not gone(held):
                return held
            stamp = format_timestamp(now)
            tx.execute("DELETE FROM collectors WHERE venue = ? AND account = ?", (venue, account))
            tx.execute(
                "INSERT INTO collectors (venue, account, owner, pid, started, heartbeat, status)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (venue, account, owner, pid, stamp, stamp, "{}"),
            )
    except Exception as error:
        if not is_integrity_error(error):
            raise
        # Another process inserted the row between our read and our write: it holds the lease.
        with db.read() as tx:
            return _holder(tx, venue, account)
    return None


def beat(db: Database, venue: str, account: str, owner: str, now: datetime, status: dict[str, Any]) -> bool:
    """Record a heartbeat and the status figures; False when ``owner`` no longer holds the lease."""
    with db.write() as tx:
        held = _holder(tx, venue, account)
        if held is None or held.owner != owner:
            return False
        tx.execute(
            "UPDATE collectors SET heartbeat = ?, status = ? WHERE venue = ? AND account = ? AND owner = ?",
            (format_timestamp(now), orjson.dumps(status).decode(), venue, account, owner),
        )
    return True


def release(db: Database, venue: str, account: str, owner: str) -> None:
    """Give the lease up (nothing when another owner has taken it over meanwhile)."""
    with db.write() as tx:
        tx.execute(
            "DELETE FROM collectors WHERE venue = ? AND account = ? AND owner = ?", (venue, account, owner)
        )


def read_collectors(db: Database) -> list[LeaseRow]:
    """Every lease, by venue and account (none when no collector ever ran on this ledger)."""
    with db.read() as tx:
        if not table_columns(tx, TABLE):
            return []
        rows = tx.all(
            "SELECT venue, account, owner, pid, started, heartbeat, status FROM collectors"
            " ORDER BY venue, account"
        )
    return [_row(r) for r in rows]


__all__ = [
    "NO_ACCOUNT",
    "PRIVILEGES",
    "LeaseRow",
    "beat",
    "create",
    "read_collectors",
    "release",
    "take_lease",
]
