"""Check that two versions of the code store the same rows for the same input.

Usage (from the repository root, with the project's Python)::

    git worktree add --detach /tmp/before main       # the code to compare against
    python scripts/same_stored_rows.py /tmp/before .  # exit 1 and name the tables that differ
    python scripts/same_stored_rows.py /tmp/before . --batch 37 --orders 2000
    python scripts/same_stored_rows.py /tmp/before . --input docs/examples/ccxt-okx.jsonl \
        --format ccxt --venue okx --account acc1             # a file, through its adapter

Each tree ingests the same simulated session into a fresh SQLite file, in its own process, with
the ledger's clock fixed (each reading 137 µs after the last), so received and recorded times,
and with them the hash chain, are the same run to run. Then every table of the two files is
compared row by row, all columns included. With ``--input``, both trees ingest that file instead
(in the ``--format`` given, with its ``--venue`` and ``--account``): an adapter's path, or a file
of edge cases such as docs/examples/bad-lines.jsonl. A change to the hot path must leave every
table as it was: the stored payloads and hashes are what a release's databases are verified
against. A table that differs on purpose (``view_versions`` when a view's version is raised) is
named, like any other, for the reader to judge.
"""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

INGEST = r"""
import itertools, sys
from datetime import UTC, datetime, timedelta
sys.path.insert(0, sys.argv[1])
from orderledger.infrastructure.application import ledger as ledger_module
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.simulator import simulate_lines
# The code under comparison, not an installed checkout the import system found first.
assert ledger_module.__file__.startswith(sys.argv[1]), ledger_module.__file__
if sys.argv[5]:
    lines = open(sys.argv[5], "rb").read().splitlines()
else:
    lines = list(simulate_lines(3, int(sys.argv[4])))
fmt, venue, account = sys.argv[6:9]
start, tick = datetime(2026, 11, 25, tzinfo=UTC), itertools.count()
clock = lambda: start + timedelta(microseconds=137 * next(tick))
ledger = OrderLedger("sqlite:///" + sys.argv[2], batch_size=int(sys.argv[3]), clock=clock)
report = ledger.ingest_lines(lines, format=fmt, venue=venue or None, account=account or None)
ledger.close()
print(len(lines), "lines,", report.events, "events")
"""


def package_root(tree: Path) -> Path:
    """Where ``orderledger`` of ``tree`` imports from without an installation: the tree of links
    its ``scripts/layout.py`` writes (``pyproject.toml``'s package-dir maps the folders into the
    package), or the tree itself for a version whose ``orderledger/`` linked them."""
    layout = tree / "scripts" / "layout.py"
    if not layout.exists():
        return tree.resolve()
    subprocess.run([sys.executable, str(layout)], check=True)
    return (tree / ".layout").resolve()


def ingest(tree: Path, database: Path, args: argparse.Namespace) -> str:
    """Ingest the session (or ``args.input``) with the code of ``tree``; returns what it printed."""
    source = "" if args.input is None else str(args.input.resolve())
    command = [str(package_root(tree)), str(database), str(args.batch), str(args.orders), source]
    done = subprocess.run(
        [sys.executable, "-c", INGEST, *command, args.format, args.venue, args.account],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"ingest with {tree} failed: {done.stderr.strip().splitlines()[-1:]}")
    return done.stdout.strip()


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def differing_tables(first: Path, second: Path) -> list[tuple[str, int, int]]:
    """(table, rows in the first, rows in the second) of every table whose rows differ."""
    a, b = sqlite3.connect(first), sqlite3.connect(second)
    try:
        differ = []
        for table in sorted(_tables(a) | _tables(b)):
            rows = []
            for conn in (a, b):
                columns = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
                order = ", ".join(f'"{c}"' for c in columns)
                rows.append(
                    conn.execute(f'SELECT * FROM "{table}" ORDER BY {order}').fetchall() if columns else []
                )
            if rows[0] != rows[1]:
                differ.append((table, len(rows[0]), len(rows[1])))
        return differ
    finally:
        a.close()
        b.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("before", type=Path, help="the tree to compare against")
    parser.add_argument("after", type=Path, help="the tree under test")
    parser.add_argument("--batch", type=int, default=1000, help="messages per group commit (default 1000)")
    parser.add_argument("--orders", type=int, default=7000, help="orders in the simulated session")
    parser.add_argument("--input", type=Path, help="ingest this file instead of the simulated session")
    parser.add_argument("--format", default="ledger", help="the input's format (default ledger)")
    parser.add_argument("--venue", default="", help="the venue an adapter format needs")
    parser.add_argument("--account", default="", help="the account an adapter format needs")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="same-rows-"))
    for name, tree in (("before", args.before), ("after", args.after)):
        sys.stdout.write(f"{name}: {tree}: {ingest(tree, work / f'{name}.db', args)}\n")
    differ = differing_tables(work / "before.db", work / "after.db")
    for table, first, second in differ:
        sys.stdout.write(f"DIFFERENT: {table} ({first} rows before, {second} after)\n")
    sys.stdout.write(
        "every table holds the same rows\n" if not differ else f"{len(differ)} table(s) differ\n"
    )
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
