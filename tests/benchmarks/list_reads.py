"""Reads cost what they return: each list command against its rows straight from SQLite, side by side.

    .venv/bin/python tests/benchmarks/list_reads.py                     # 20,000 orders, 3 rounds
    .venv/bin/python tests/benchmarks/list_reads.py --orders 100000 --rounds 1

The simulated session (``simulate_lines``, seed 7) is ingested once into a SQLite file. Then,
each round, every list is read in a fresh process two ways, alternating which goes first:

- **ours**: ``orderledger LIST --json`` (the whole command: the interpreter, its imports, the
  read and the rendering, written to a file);
- **contender**: a Python process that reads the same table's rows (every column) with one
  plain ``SELECT`` through ``sqlite3`` and writes each as a JSON object with orjson (a stored
  JSON column parsed first, so that it is written as JSON, not as text).

Both are wall times of the whole process (the machine's quiet is what makes them comparable;
the spread of the rounds says how quiet it was). As ``starts.py`` does, the processes run with
their byte code written (``PYTHONDONTWRITEBYTECODE`` unset: a user's installation has it), and
each list is read once before the first round, so no round compiles the command's modules. Beside them, the first page of each list (50
rows): the whole command (``--limit 50``), and the read alone through the Python API on a ledger
already open (the median of five). The target (issue 46, item 1): every list within 2x of its
contender, and a first page under 100 ms at any history size.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from orderledger.infrastructure.application.ledger import OrderLedger  # noqa: E402
from orderledger.infrastructure.application.simulator import simulate_lines  # noqa: E402

PAGES: dict[str, Callable[[OrderLedger], Sequence[Any]]] = {  # its first page through the Python API
    "orders": lambda ledger: ledger.orders(limit=50),
    "orders --open": lambda ledger: ledger.orders(open=True, limit=50),
    "trades": lambda ledger: ledger.trades(limit=50),
    "events": lambda ledger: ledger.events(limit=50),
    "messages": lambda ledger: ledger.audit.messages(limit=50),
}
LISTS = {  # the command's arguments → the contender's query, and its stored JSON columns
    "orders": ("SELECT * FROM orders_view", ()),
    "orders --open": ("SELECT * FROM orders_view WHERE is_open = 1", ()),
    "trades": ("SELECT * FROM trades_view", ("tags",)),
    "events": ("SELECT * FROM events ORDER BY notification_id", ("state",)),
    "messages": ("SELECT * FROM messages ORDER BY message_id", ()),
}

CONTENDER = r"""
import sqlite3, sys, orjson
database, query, parsed = sys.argv[1], sys.argv[2], set(sys.argv[3].split(",")) - {""}
db = sqlite3.connect(database)
cursor = db.execute(query)
names = [d[0] for d in cursor.description]
sink = sys.stdout.buffer
if True:
    for row in cursor:
        item = dict(zip(names, row))
        for name in parsed:
            item[name] = orjson.loads(item[name])
        for name, value in item.items():
            if isinstance(value, bytes):
                item[name] = value.decode("utf-8", "replace")
        sink.write(orjson.dumps(item) + b"\n")
"""


def _environment() -> dict[str, str]:
    environment = dict(os.environ)
    environment.pop("PYTHONDONTWRITEBYTECODE", None)  # a user's installation has its byte code
    return environment


def timed(argv: list[str], out: Path) -> float:
    """The wall time of one process, its stdout written to ``out``."""
    with out.open("wb") as sink:
        began = time.perf_counter()
        done = subprocess.run(argv, stdout=sink, stderr=subprocess.PIPE, env=_environment(), check=False)
        spent = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:6])}… failed: {done.stderr.decode()[-500:]}")
    return spent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="list-reads-") as scratch:
        folder = Path(scratch)
        database = folder / "ledger.db"
        ledger = OrderLedger(f"sqlite:///{database}")
        report = ledger.ingest_lines(list(simulate_lines(7, args.orders)))
        ledger.close()
        ledger = OrderLedger(f"sqlite:///{database}")
        api: dict[str, float] = {}
        for name, read in PAGES.items():
            spent: list[float] = []
            for _ in range(5):
                began = time.perf_counter()
                [row.to_json() for row in read(ledger)]
                spent.append(time.perf_counter() - began)
            api[name] = statistics.median(spent)
        ledger.close()
        print(f"{args.orders:,} orders: {report.events:,} events")
        command = [sys.executable, "-m", "orderledger", "--db", f"sqlite:///{database}"]
        times: dict[str, dict[str, list[float]]] = {
            name: {"ours": [], "contender": [], "page": []} for name in LISTS
        }
        for name in LISTS:  # byte code written, the file in the page cache
            timed([*command, *name.split(), "--json", "--limit", "50"], folder / "page.json")
        for number in range(args.rounds):
            for name, (query, parsed) in LISTS.items():
                ours = [*command, *name.split(), "--json"]
                theirs = [sys.executable, "-c", CONTENDER, str(database), query, ",".join(parsed)]
                pair = [("ours", ours), ("contender", theirs)]
                for which, run in pair if number % 2 == 0 else reversed(pair):
                    times[name][which].append(timed(run, folder / f"{which}.json"))
                first = [*command, *name.split(), "--json", "--limit", "50"]
                times[name]["page"].append(timed(first, folder / "page.json"))
            print(f"round {number + 1}/{args.rounds} done", file=sys.stderr)
    print(f"\nwall seconds, median of {args.rounds} rounds (each a fresh process)")
    heading = f"{'list':16} {'ours':>8} {'contender':>10} {'ours/contender':>15} {'spread o/c':>12}"
    print(f"{heading} {'first page':>11} {'its read':>9}")
    for name, got in times.items():
        mine, other, page = (statistics.median(got[key]) for key in ("ours", "contender", "page"))
        spread = "/".join(f"{max(got[key]) / min(got[key]):.2f}" for key in ("ours", "contender"))
        print(
            f"{name:16} {mine:8.2f} {other:10.2f} {mine / other:14.2f}x {spread:>12}"
            f" {page * 1000:8.0f} ms {api[name] * 1000:6.1f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
