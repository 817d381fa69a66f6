"""Helpers for the resource-fault and contention tests (issue 8, items 5 and 6).

Sessions whose identifiers never collide, the checks that a database holds only whole group
commits, waiting on a file instead of sleeping, and two child-process roles run as
``python -m tests.support.faults ROLE …``:

- ``reader URL STOP``: queries the ledger over and over until the file STOP exists; after each
  read it prints one JSON line with what one read transaction saw (counts, and how many journal
  rows disagree with their events, which must be none);
- ``ingest URL INPUT BATCH``: ingests INPUT in group commits of BATCH messages (the command always
  commits up to 1,000 at once; small commits make writers interleave many times);
- ``stall URL INPUT READY RELEASE``: ingests INPUT, but inside its first group commit, holding the
  write lock (SQLite) or the log lock (PostgreSQL), creates READY and waits until RELEASE exists.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.reads.view_queries import list_orders, list_positions, list_trades
from orderledger.infrastructure.application.simulator import simulate_lines
from orderledger.infrastructure.audit.verify import verify
from orderledger.infrastructure.storage.db import Database
from tests.support.cli import ROOT, cli_env

WAIT = 60.0
"""Seconds any awaited condition may take before the test fails."""

# Journal rows whose event_count differs from the events that point at them (a torn commit).
TORN_JOURNAL = (
    "SELECT COUNT(*) FROM messages m LEFT JOIN"
    " (SELECT message_id, COUNT(*) AS n FROM events GROUP BY message_id) e"
    " ON e.message_id = m.message_id WHERE COALESCE(e.n, 0) != m.event_count"
)
ORPHAN_EVENTS = (
    "SELECT COUNT(*) FROM events WHERE message_id IS NULL"
    " OR message_id NOT IN (SELECT message_id FROM messages)"
)
ORPHAN_IDENTITIES = (
    "SELECT COUNT(*) FROM identities i"
    " WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.client_order_id = i.client_order_id)"
)
ORPHAN_PARKED = (
    "SELECT COUNT(*) FROM parked p WHERE NOT EXISTS"
    " (SELECT 1 FROM messages m WHERE m.message_id = p.message_id AND m.outcome = 'parked')"
)


def tagged_session(seed: int, orders: int, tag: str) -> list[str]:
    """A simulated session whose identifiers carry ``tag``, so that sessions never collide."""
    return list(simulate_lines(seed, orders, tag))


def write_session(path: Path, lines: Sequence[str]) -> Path:
    """Write JSON lines to a file."""
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Poll a condition (a file appearing, a process ending) until it holds; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.01)


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def wal_bytes(path: Path) -> int:
    """Size of a SQLite database's write-ahead log (0 when there is none)."""
    wal = Path(f"{path}-wal")
    return wal.stat().st_size if wal.exists() else 0


@dataclass(frozen=True)
class Snapshot:
    """What one read transaction sees: sizes of the journal and log, and the views' positions."""

    journal: int
    events: int
    last_event: int
    views_low: int
    views_high: int
    torn: int

    @property
    def views_current(self) -> bool:
        """Every view has folded exactly up to the last event."""
        return self.views_low == self.views_high == self.last_event


def snapshot(db: Database) -> Snapshot:
    """Read the sizes and the torn-journal count in one statement (one snapshot, even at READ COMMITTED)."""
    with db.read() as tx:
        row = tx.one(
            "SELECT (SELECT COUNT(*) FROM messages), (SELECT COUNT(*) FROM events),"
            " (SELECT COALESCE(MAX(notification_id), 0) FROM events),"
            " (SELECT COALESCE(MIN(position), 0) FROM view_tracking),"
            f" (SELECT COALESCE(MAX(position), 0) FROM view_tracking), ({TORN_JOURNAL})"
        )
    return Snapshot(*(int(value) for value in row))


def torn_commit_problems(db: Database) -> list[str]:
    """Rows that only part of a group commit would leave behind (empty when there are none)."""
    problems = []
    with db.read() as tx:
        for name, sql in (
            ("journal rows whose events are missing or extra", TORN_JOURNAL),
            ("events whose message is not journaled", ORPHAN_EVENTS),
            ("identities of orders with no events", ORPHAN_IDENTITIES),
            ("parked rows without a parked journal row", ORPHAN_PARKED),
        ):
            count = tx.one(sql)[0]
            if count:
                problems.append(f"{count} {name}")
    return problems


def whole_commit_problems(ledger: OrderLedger) -> list[str]:
    """Why the database does not hold only whole group commits (empty when it does)."""
    problems = torn_commit_problems(ledger.db)
    state = snapshot(ledger.db)
    if not state.views_current:
        problems.append(f"views at {state.views_low}..{state.views_high}, log ends at {state.last_event}")
    report = verify(ledger.db, ledger.mapper)
    if not report.ok:
        problems.append(f"verify: {report.broken or report.view_problems}")
    return problems


def journal_outcomes(ledger: OrderLedger) -> list[tuple[str, str]]:
    """(raw line, outcome) of every journal row, in journal order."""
    with ledger.db.read() as tx:
        rows = tx.all("SELECT raw, outcome FROM messages ORDER BY message_id")
    return [(bytes(r[0]).decode(), str(r[1])) for r in rows]


def query_state(ledger: OrderLedger) -> dict[str, Any]:
    """What the views answer: orders, trades and positions."""
    return {
        "orders": list_orders(ledger.db),
        "trades": list_trades(ledger.db),
        "positions": list_positions(ledger.db),
    }


def clean(lines: Sequence[str], batch_size: int = 50) -> OrderLedger:
    """An in-memory ledger that ingested ``lines`` without any fault (the reference)."""
    ledger = OrderLedger("memory://", batch_size=batch_size)
    ledger.ingest_lines(lines)
    return ledger


def helper_process(*args: str) -> subprocess.Popen[str]:
    """Start one of this module's roles in a child process (stdout captured)."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.faults", *args],
        cwd=ROOT,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# ---------------------------------------------------------------------- child-process roles


def _reader(url: str, stop: Path) -> None:
    ledger = OrderLedger(url)
    try:
        while True:
            last = stop.exists()
            state = snapshot(ledger.db)
            orders = len(list_orders(ledger.db))
            trades = len(list_trades(ledger.db))
            print(json.dumps({**state.__dict__, "orders": orders, "trades": trades}), flush=True)
            if last:  # one full read after the writers are done
                return
            time.sleep(0.02)  # pacing, not synchronisation: leave the writers some CPU
    finally:
        ledger.close()


def _ingest(url: str, source: Path, batch: int) -> None:
    ledger = OrderLedger(url, batch_size=batch)
    try:
        with source.open("rb") as handle:
            report = ledger.ingest_lines(handle, origin=str(source))
        print(json.dumps(report.counts), flush=True)
    finally:
        ledger.close()


def _stall(url: str, source: Path, ready: Path, release: Path) -> None:
    ledger = OrderLedger(url)
    lock_log = ledger.db.lock_log
    stalled = False

    def stalling_lock(tx: Any) -> None:
        nonlocal stalled
        lock_log(tx)
        if not stalled:
            stalled = True
            ready.touch()
            wait_for(release.exists, "the release file", timeout=120)

    ledger.db.lock_log = stalling_lock  # type: ignore[method-assign]
    try:
        with source.open("rb") as handle:
            report = ledger.ingest_lines(handle, origin=str(source))
        print(json.dumps(report.counts), flush=True)
    finally:
        ledger.close()


if __name__ == "__main__":
    role, *rest = sys.argv[1:]
    if role == "reader":
        _reader(rest[0], Path(rest[1]))
    elif role == "ingest":
        _ingest(rest[0], Path(rest[1]), int(rest[2]))
    elif role == "stall":
        _stall(rest[0], Path(rest[1]), Path(rest[2]), Path(rest[3]))
    else:
        raise SystemExit(f"unknown role {role!r}")
