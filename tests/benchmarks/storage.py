"""Bytes on disk per message: the ledger's SQLite file, table by table and index by index, beside
the input lines and a mutable orders table holding the same messages, in one run.

    .venv/bin/python tests/benchmarks/storage.py                  # 20,000 orders
    .venv/bin/python tests/benchmarks/storage.py --orders 5000

The simulator's session (``simulate_lines(seed=3)``) is ingested into a fresh SQLite file, which
is then checkpointed and vacuumed, so its pages hold rows and no free space. SQLite's ``dbstat``
table gives each table's and index's bytes on disk (its pages, headers and free space within them
included). The contender is ``run.py``'s mutable orders table (``tests.support.bench:
mutable_table``: one row per order, an upsert per message, no history) fed the same lines, its
file vacuumed the same way.

Each row of the table is one table or index: its bytes, its bytes per message (one input line),
and that over the input line's mean bytes. The total of the ledger is the figure issue 46's
"storage that a year fits in" puts at 3× the input at most.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import uuid
import zlib
from pathlib import Path

import orjson
import psycopg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from orderledger.infrastructure.application.ledger import OrderLedger  # noqa: E402
from orderledger.infrastructure.application.simulator import simulate_lines  # noqa: E402
from tests.support.bench import PG_URL, drop_schema, mutable_table  # noqa: E402

TARGET = 3.0
"""Issue 46: bytes per message at most 3× the input line."""

HEADER = ("ts_recorded", "ts_event", "source", "client_order_id", "account", "venue", "instrument")
"""The fields an event's payload holds that its row also holds as search columns."""


def compact(path: Path) -> None:
    """Fold the write-ahead log into the file and drop its free pages: the bytes a copy keeps."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.execute("VACUUM")
    connection.close()


def breakdown(path: Path) -> list[tuple[str, str, int]]:
    """(table, object, bytes on disk) of every table and index of the SQLite file at ``path``,
    largest first. An object is "rows" (the table's own b-tree: its rows, or for a table
    ``WITHOUT ROWID`` its rows in its key's order) or an index, named with its columns (a key's
    index, which SQLite makes for a PRIMARY KEY or UNIQUE that is not the rowid, as "key")."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    owners = dict(
        connection.execute("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')")
    )
    rows = connection.execute(
        "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY SUM(pgsize) DESC, name"
    ).fetchall()
    found = []
    for name, size in rows:
        table = owners.get(name, name)
        if name == table:
            label = "rows"
        else:
            columns = ", ".join(str(r[2]) for r in connection.execute(f"PRAGMA index_info({name})"))
            label = f"{'key' if name.startswith('sqlite_autoindex') else 'index'} ({columns})"
        found.append((table, label, int(size)))
    connection.close()
    return found


def contents(path: Path, count: int) -> list[tuple[str, float]]:
    """What the record's rows hold, in bytes per message: the events' payloads as stored (and,
    of their JSON, the part that repeats the search columns), the rest of an event row's columns,
    the journal's raw lines and the rest of its columns; and what compressing each payload's JSON
    or line by itself with zlib (level 6) leaves of it."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    payloads = repeated = packed = 0
    for (state,) in connection.execute("SELECT state FROM events"):
        payloads += len(state)
        payload = bytes(state) if state[:1] == b"{" else zlib.decompress(state)  # (--compressor)
        fields = orjson.loads(payload)
        for name in HEADER:
            fields.pop(name, None)
        repeated += len(payload) - len(orjson.dumps(fields))
        packed += len(zlib.compress(payload, 6))
    other = "originator_id, topic, event_type, client_order_id, account, venue, instrument, ts_event, ts_recorded, source"
    (columns,) = connection.execute(
        f"SELECT SUM({' + '.join(f'LENGTH({c})' for c in other.split(', '))}) FROM events"
    ).fetchone()
    (hashes,) = connection.execute("SELECT SUM(LENGTH(hash)) FROM events").fetchone()
    lines = raw_packed = 0
    for (raw,) in connection.execute("SELECT raw FROM messages"):
        lines += len(raw)
        raw_packed += len(zlib.compress(bytes(raw), 6))
    (journal,) = connection.execute(
        "SELECT SUM(LENGTH(received_at) + LENGTH(origin) + LENGTH(format) + LENGTH(outcome)"
        " + COALESCE(LENGTH(reason), 0) + COALESCE(LENGTH(client_order_id), 0)) FROM messages"
    ).fetchone()
    (journal_hashes,) = connection.execute("SELECT SUM(LENGTH(hash)) FROM messages").fetchone()
    connection.close()
    return [
        ("events: payload (`state`)", payloads / count),
        ("… of which fields the row's search columns hold too", repeated / count),
        ("… the payload compressed by itself (zlib)", packed / count),
        ("events: text columns (UUID, topic, type, IDs, names, times, source)", columns / count),
        ("events: chain hash", hashes / count),
        ("messages: the line as received (`raw`)", lines / count),
        ("… the line compressed by itself (zlib)", raw_packed / count),
        ("messages: text columns (time received, origin, format, outcome, reason, order)", journal / count),
        ("messages: chain hash", journal_hashes / count),
    ]


def postgres_breakdown(url: str) -> list[tuple[str, str, int]]:
    """(table, object, bytes on disk) of every table and index in the PostgreSQL schema ``url``
    names, largest first, after ``VACUUM FULL`` of each table: a table's heap with its TOAST
    (``pg_table_size``), an index's own pages (``pg_relation_size``)."""
    schema = url.rsplit("schema=", 1)[1]
    with psycopg.connect(PG_URL, autocommit=True) as connection:
        tables = connection.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = %s::regnamespace AND relkind = 'r'", (schema,)
        ).fetchall()
        for (table,) in tables:
            connection.execute(f'VACUUM FULL "{schema}"."{table}"')
        rows = connection.execute(
            "SELECT relname, 'rows', pg_table_size(oid) FROM pg_class"
            " WHERE relnamespace = %s::regnamespace AND relkind = 'r'"
            " UNION ALL SELECT t.relname, pg_get_indexdef(x.oid), pg_relation_size(x.oid) FROM pg_index i"
            " JOIN pg_class x ON x.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid"
            " WHERE t.relnamespace = %s::regnamespace ORDER BY 3 DESC, 1, 2",
            (schema, schema),
        ).fetchall()
    found = []
    for table, definition, size in rows:
        label = str(definition)
        if label != "rows":
            unique = " UNIQUE " in label
            label = f"{'key' if unique else 'index'} ({label.split('(', 1)[1].rstrip(')')})"
        found.append((str(table), label, int(size)))
    return found


def show(objects: list[tuple[str, str, int]], count: int, line_bytes: int, mutable: int, every: bool) -> int:
    """Print the table of ``objects`` (empty ones folded into one row unless ``every``) with
    their total and the contender's; return the total."""
    total = sum(size for _, _, size in objects)
    print("| table | object | bytes | bytes / message | ÷ input line |")
    print("|---|---|---:|---:|---:|")
    page = min(size for _, _, size in objects)
    for table, name, size in objects:
        if size <= page and not every:
            continue  # an empty table or index: one page
        print(f"| {table} | {name} | {size:,} | {size / count:.1f} | {size / line_bytes:.2f}× |")
    small = [size for _, _, size in objects if size <= page]
    if small and not every:
        print(
            f"| {len(small)} empty tables and indexes | | {sum(small):,} | {sum(small) / count:.1f} | "
            f"{sum(small) / line_bytes:.2f}× |"
        )
    print(
        f"| **ledger, total** | | **{total:,}** | **{total / count:.1f}** | **{total / line_bytes:.2f}×** |"
    )
    print(
        f"| mutable orders table (contender) | | {mutable:,} | {mutable / count:.1f} | {mutable / line_bytes:.2f}× |"
    )
    print()
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--all", action="store_true", help="list empty tables too (one page each)")
    parser.add_argument(
        "--compressor",
        metavar="TOPIC",
        help="the ledger's COMPRESSOR_TOPIC (eventsourcing.compressor:ZlibCompressor: every payload compressed)",
    )
    parser.add_argument("--postgres", action="store_true", help="the same session in PostgreSQL too")
    options = parser.parse_args()
    lines = list(simulate_lines(seed=3, orders=options.orders))
    count = len(lines)
    line_bytes = sum(len(line.encode()) + 1 for line in lines)  # with its newline, as in a file
    per_line = line_bytes / count
    env = {"COMPRESSOR_TOPIC": options.compressor} if options.compressor else None
    with tempfile.TemporaryDirectory() as directory:
        ledger_path = Path(directory) / "ledger.db"
        with OrderLedger(f"sqlite:///{ledger_path}", env=env) as ledger:
            report = ledger.ingest_lines(line.encode() for line in lines)
            events = ledger.audit.head().position  # type: ignore[union-attr]
        compact(ledger_path)
        objects = breakdown(ledger_path)
        held = contents(ledger_path, count)
        mutable_path = Path(directory) / "mutable.db"
        mutable_table(mutable_path, lines, 1000)
        compact(mutable_path)
        mutable = sum(size for _, _, size in breakdown(mutable_path))
        ledger_file = ledger_path.stat().st_size
    counts = ", ".join(f"{n:,} {outcome}" for outcome, n in sorted(report.counts.items()) if n)
    print(
        f"{options.orders:,} orders: {count:,} messages ({counts}), {events:,} events;"
        f" input {line_bytes:,} bytes, {per_line:.1f} per line"
    )
    print()
    print("SQLite:")
    print()
    total = show(objects, count, line_bytes, mutable, options.all)
    print("| what the record's rows hold | bytes / message | ÷ input line |")
    print("|---|---:|---:|")
    for what, share in held:
        print(f"| {what} | {share:.1f} | {share / per_line:.2f}× |")
    print()
    verdict = "holds" if total / line_bytes <= TARGET else "does not hold"
    print(
        f"file {ledger_file:,} bytes; target ≤ {TARGET:.0f}× the input: {verdict}"
        f" ({total / line_bytes:.2f}×); the ledger is {total / mutable:.1f}× the mutable table"
    )
    if options.postgres:
        schema = f"ol_storage_{uuid.uuid4().hex[:12]}"
        url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}schema={schema}"
        try:
            with OrderLedger(url, env=env) as ledger:
                ledger.ingest_lines(line.encode() for line in lines)
            found = postgres_breakdown(url)
        finally:
            drop_schema(schema)
        print()
        print("PostgreSQL:")
        print()
        total = show(found, count, line_bytes, mutable, options.all)
        verdict = "holds" if total / line_bytes <= TARGET else "does not hold"
        print(f"target ≤ {TARGET:.0f}× the input: {verdict} ({total / line_bytes:.2f}×)")


if __name__ == "__main__":
    main()
