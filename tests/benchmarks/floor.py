"""How much of batched ingest is the durable work itself, with nothing decided.

    .venv/bin/python tests/benchmarks/floor.py            # 125k simulated messages
    .venv/bin/python tests/benchmarks/floor.py --events 30000 --postgres

The same messages go, in one run, through three writers, 1,000 messages a commit, each into a
new SQLite file with WAL and synchronous FULL:

- the mutable-table contender of ``run.py`` (one upsert per message, no history);
- "durable work only": each line read and validated at the edge (``message_from_line``), its
  journal row, one event per message (its payload written by orjson, its search columns and its
  link in the hash chain), both rows inserted into the ledger's own ``messages`` and ``events``
  tables (their indexes and append-only triggers), and nothing decided: no order looked up, no
  rule applied, no view;
- the ledger itself, with ``--no-project`` and with its views in the same transaction.

Then 3,000 of them one message a transaction, through the ledger and through raw single-row
commits, and with ``--postgres`` (or ``--postgres-only``) the durable work and the ledger, with
and without its views, on PostgreSQL beside raw psycopg. It prints microseconds a message for
each, with the time spent inside SQLite's calls; on PostgreSQL, the client's CPU and its waiting
for the server, and what the server's time for the ledger's own reads and view writes leaves of
the budget. The
difference between the ledger and "durable work only" is what deciding, identities, parking,
results and the glue between them cost; the budget a target leaves is its ratio's inverse times
the contender's time. docs/benchmarks.md uses these figures.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from orderledger.domain.order import order_id_for  # noqa: E402
from orderledger.domain.values import format_decimal, format_timestamp  # noqa: E402
from orderledger.infrastructure.application.ledger import OrderLedger  # noqa: E402
from orderledger.infrastructure.messages.models import message_from_line  # noqa: E402
from orderledger.infrastructure.storage.chain import GENESIS, link  # noqa: E402
from orderledger.infrastructure.storage.schema import schema  # noqa: E402
from tests.support.bench import PG_URL, drop_schema, lines_for, mutable_table, raw_psycopg, raw_sqlite  # noqa: E402

_JOURNAL = (
    "INSERT INTO messages (message_id, received_at, origin, line_no, format, raw, outcome, reason,"
    " client_order_id, event_count) VALUES (?,?,?,?,?,?,?,?,?,?)"
)
_EVENTS = (
    "INSERT INTO events (notification_id, originator_id, originator_version, topic, state,"
    " event_type, client_order_id, account, venue, instrument, ts_event, ts_recorded, source,"
    " message_id, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


class TimedConnection:
    """A sqlite3 connection whose calls into SQLite are timed."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self.seconds = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def _timed(self, call: Callable[..., Any], *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return call(*args)
        finally:
            self.seconds += time.perf_counter() - started

    def execute(self, *args: Any) -> Any:
        return self._timed(self._conn.execute, *args)

    def executemany(self, *args: Any) -> Any:
        return self._timed(self._conn.executemany, *args)

    def commit(self) -> Any:
        return self._timed(self._conn.commit)


SEARCH_INDEXES = tuple(
    found.group(1)
    for statement in schema("sqlite")
    if (found := re.search(r"INDEX IF NOT EXISTS (events_by_\w+)", statement))
)
"""The events table's indexes for ``orderledger events`` filters, as the ledger's schema names them."""


def time_sql(ledger: OrderLedger, url: str) -> TimedConnection:
    """Time the ledger's calls into SQLite from now on (on PostgreSQL nothing is timed: 0 s)."""
    timed = TimedConnection(getattr(ledger.db, "_conn", None))
    if url.startswith("sqlite"):
        ledger.db._conn = timed  # type: ignore[attr-defined]
    return timed


@dataclass(frozen=True)
class Timing:
    """Microseconds a message: in all, inside SQLite's calls (0 on PostgreSQL, whose calls are
    not timed), and on this process's CPU. On PostgreSQL the client waits while the server works
    (one connection, one statement at a time), so ``all - cpu`` is the server's share."""

    all: float
    sql: float
    cpu: float

    @property
    def waiting(self) -> float:
        return self.all - self.cpu


class Clock:
    """Started when made; ``stop`` gives the Timing a message since then."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self, timed: TimedConnection, count: int) -> Timing:
        wall, cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu
        return Timing(wall / count * 1e6, timed.seconds / count * 1e6, cpu / count * 1e6)


def durable_work_only(url: str, lines: list[bytes], *, search: bool = True) -> Timing:
    """The time to journal and append one event per line, nothing decided. ``search=False``:
    without the search indexes, as if a follower kept them."""
    ledger = OrderLedger(url, project=False)  # the ledger's own tables
    if not search:
        with ledger.db.write() as tx:
            for name in SEARCH_INDEXES:
                tx.execute(f"DROP INDEX {name}")
    timed = time_sql(ledger, url)
    versions: dict[str, int] = {}
    previous, position, message_id = GENESIS, 0, 0
    clock = Clock()
    for start in range(0, len(lines), 1000):
        received = format_timestamp(datetime.now(UTC))
        journal: list[tuple[Any, ...]] = []
        events: list[tuple[Any, ...]] = []
        for raw in lines[start : start + 1000]:
            message = message_from_line(raw)
            message_id += 1
            client_order_id = message.client_order_id or message.venue_order_id or ""
            journal.append(
                (
                    message_id,
                    received,
                    "floor",
                    message_id,
                    "ledger",
                    raw,
                    "applied",
                    None,
                    client_order_id,
                    1,
                )
            )
            fields = message.__dict__
            state = {k: v for k, v in fields.items() if v is not None and k != "type"}
            for name in ("quantity", "price", "fee"):
                if name in state:
                    state[name] = format_decimal(state[name])
            payload = orjson.dumps(state, option=orjson.OPT_UTC_Z)
            version = versions[client_order_id] = versions.get(client_order_id, 0) + 1
            position += 1
            row = (
                position,
                str(order_id_for(client_order_id)),
                version,
                f"domain.events:{message.type}",
                payload,
                message.type,
                client_order_id,
                fields.get("account") or "",
                fields.get("venue") or "",
                fields.get("instrument") or "",
                format_timestamp(message.ts),
                received,
                "floor",
                message_id,
            )
            previous = link(previous, row)
            events.append((*row, previous))
        with ledger.db.write() as tx:
            tx.executemany(_JOURNAL, journal)
            tx.executemany(_EVENTS, events)
    timing = clock.stop(timed, len(lines))
    ledger.close()
    return timing


def ledger_ingest(url: str, lines: list[bytes], *, project: bool = False, batch: int = 1000) -> Timing:
    """The ledger ingesting ``lines`` after a first 1,000 (the file made and checked before the
    clock starts), ``batch`` messages a transaction."""
    ledger = OrderLedger(url, project=project, batch_size=batch)
    ledger.ingest_lines(lines[:1000])
    timed = time_sql(ledger, url)
    clock = Clock()
    ledger.ingest_lines(lines[1000:])
    timing = clock.stop(timed, len(lines) - 1000)
    ledger.close()
    return timing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000, help="about how many events' messages")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="also on PostgreSQL (ORDERLEDGER_TEST_POSTGRES_URL, as the tests)",
    )
    parser.add_argument("--postgres-only", action="store_true", help="only on PostgreSQL")
    args = parser.parse_args()
    text = lines_for(args.events)
    lines = [line.encode() for line in text]
    if not args.postgres_only:
        on_sqlite(text, lines)
    if args.postgres or args.postgres_only:
        on_postgres(text, lines)


def on_sqlite(text: list[str], lines: list[bytes]) -> None:
    work = Path(tempfile.mkdtemp(prefix="ol-floor-"))
    contender = mutable_table(work / "mutable.db", text, 1000) / len(lines) * 1e6
    bare = durable_work_only(f"sqlite:///{work / 'bare.db'}", lines)
    unsearched = durable_work_only(f"sqlite:///{work / 'unsearched.db'}", lines, search=False)
    ledger = ledger_ingest(f"sqlite:///{work / 'ledger.db'}", lines)
    views = ledger_ingest(f"sqlite:///{work / 'views.db'}", lines, project=True)
    one = lines[:4000]  # the first 1,000 in a batch, then 3,000 one message a transaction
    single = ledger_ingest(f"sqlite:///{work / 'single.db'}", one, project=True, batch=1)
    raw_single = raw_sqlite(work / "raw1.db", text[:3000], 1) / 3000 * 1e6
    print(f"{len(lines):,} messages, microseconds a message:")
    print(f"  mutable-table contender               {contender:6.1f}")
    print(f"  durable work only, nothing decided    {bare.all:6.1f}  (inside SQLite {bare.sql:.1f})")
    print(
        f"  the same without the search indexes   {unsearched.all:6.1f}  (inside SQLite {unsearched.sql:.1f})"
    )
    print(f"  ledger, --no-project                  {ledger.all:6.1f}  (inside SQLite {ledger.sql:.1f})")
    print(f"  ledger, views in the transaction      {views.all:6.1f}  (inside SQLite {views.sql:.1f})")
    for ratio in (0.3, 0.2):
        print(f"  the budget at {ratio}x the contender: {contender / ratio:.1f}")
    print("One message per transaction (3,000), microseconds a message:")
    print(f"  raw sqlite3, one row per commit       {raw_single:6.1f}")
    print(f"  ledger, views in the transaction      {single.all:6.1f}  (inside SQLite {single.sql:.1f})")
    print(f"  the budget at 0.5x raw: {raw_single / 0.5:.1f}")


def on_postgres(text: list[str], lines: list[bytes]) -> None:
    """The same on PostgreSQL, each writer's time split into the client's CPU and its waiting
    for the server; then what the ledger's own reads and view writes cost the server, beside the
    durable work, against the budget."""
    schema = f"floor_{int(time.time())}"
    names = [schema, *(f"{schema}_{end}" for end in ("bare", "ledger", "views"))]
    try:
        raw = (raw_psycopg(text, schema) or 0.0) / len(lines) * 1e6
        bare = durable_work_only(f"{PG_URL}?schema={names[1]}", lines)
        ledger = ledger_ingest(f"{PG_URL}?schema={names[2]}", lines)
        views = ledger_ingest(f"{PG_URL}?schema={names[3]}", lines, project=True)
    finally:
        for name in names:
            drop_schema(name)
    budget = raw / 0.2
    print("PostgreSQL, microseconds a message (all = the client's CPU + waiting for the server):")
    print(f"  raw psycopg executemany               {raw:6.1f}")
    for name, timing in (
        ("durable work only, nothing decided", bare),
        ("ledger, --no-project", ledger),
        ("ledger, views in the transaction", views),
    ):
        print(f"  {name:<37} {timing.all:6.1f}  (client {timing.cpu:.1f}, server {timing.waiting:.1f})")
    reads = ledger.waiting - bare.waiting
    writes = views.waiting - ledger.waiting
    floor = bare.all + reads + writes
    print(f"  the budget at 0.2x raw psycopg: {budget:.1f}")
    print(
        f"  the server's time for the ledger's reads and identities {reads:.1f}, for its view writes {writes:.1f}"
    )
    print(
        f"  durable work + that server time: {floor:.1f}, leaving {budget - floor:.1f} of the budget for"
        f" deciding and building the views' rows (the ledger's client spends {views.cpu - bare.cpu:.1f} on them)"
    )


if __name__ == "__main__":
    main()
