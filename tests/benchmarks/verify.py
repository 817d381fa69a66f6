"""Verify's speed beside its contender, and an incremental verify after new events, in one run.

    .venv/bin/python tests/benchmarks/verify.py                       # 20,000 orders, 3 rounds
    .venv/bin/python tests/benchmarks/verify.py --orders 100000 --new 2000 --rounds 1
    .venv/bin/python tests/benchmarks/verify.py --trees /work/base_NAME .   # another checkout's code too

A simulated session (``simulate_lines(seed=3)``) is ingested once into a SQLite file. Each round
then runs, each in a fresh process with the code of each checkout of ``--trees`` in turn (its CPU
time after its imports, ``time.process_time``, with that of any process it started and waited
for, so a check made in a second process is counted; its wall time; and its peak resident
memory):

* contender: the event rows read with one plain ``SELECT`` in log order and each hashed with
  hashlib (``chain.link``) against the hash before it, in one loop: the floor of any check of
  the chain in Python;
* chain: ``verify_chain`` with the mapper: the same hashes, plus each payload read and validated
  as if it came from outside and its search columns compared with it (those of its later part in
  a second process, on a long walk);
* full verify: ``OrderLedger.verify()``: the storage, the chain and payloads, every view refolded
  and compared, the journal's chain and cross-checks;
* chain, validated and full, validated: the same, with every payload validated as input from
  outside (``_check_row(fast=False)``), as ``verify`` checked each before ``payload_check``,
  all in one process: the figures the proven payloads are compared with;
* incremental: after a full verify anchored the heads and a second session (``--new`` orders)
  was appended, ``verify(incremental=True)``: what is new since the anchor, and the 1,000
  records of each chain before it.

The figures are medians of the rounds, with events per CPU second and per wall second for each
and the ratio to the contender (per CPU second), one table per checkout.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from orderledger.infrastructure.application.ledger import OrderLedger  # noqa: E402
from orderledger.infrastructure.application.simulator import simulate_lines  # noqa: E402

CHILD = r"""
import importlib.util, json, resource, sqlite3, sys, time
what, database, tree = sys.argv[1:4]
# The checkout's own code, whatever checkout the interpreter's editable install names
sys.meta_path[:] = [f for f in sys.meta_path if "Editable" not in repr(f)]
spec = importlib.util.spec_from_file_location(
    "orderledger", f"{tree}/orderledger/__init__.py", submodule_search_locations=[f"{tree}/orderledger", tree]
)
sys.modules["orderledger"] = module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.audit.search import CHUNK, EVENT_COLUMNS
from orderledger.infrastructure.audit.chain_check import verify_chain
from orderledger.infrastructure.storage.chain import GENESIS, link
from orderledger.infrastructure.audit import chain_check
assert chain_check.__file__.startswith(tree), chain_check.__file__
if what.endswith("validated"):
    import functools
    chain_check._check_row = functools.partial(chain_check._check_row, fast=False)
    chain_check.BESIDE_FROM = 10**12  # every payload validated in this process, as patched
    what = what.split(",")[0]
result = {}
def children():
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime
if what == "contender":
    began, wall, spawned = time.process_time(), time.perf_counter(), children()
    connection = sqlite3.connect(database)
    cursor = connection.execute(f"SELECT {', '.join(EVENT_COLUMNS)} FROM events ORDER BY notification_id")
    previous, events = GENESIS, 0
    while rows := cursor.fetchmany(CHUNK):
        for row in rows:
            if link(previous, row[:-1]) != row[-1]:
                raise SystemExit(f"event {row[0]} does not match its hash")
            previous = row[-1]
        events += len(rows)
    spent = time.process_time() - began + children() - spawned
    wall = time.perf_counter() - wall
    ok = True
else:
    ledger = OrderLedger("sqlite:///" + database, create=False)
    began, wall, spawned = time.process_time(), time.perf_counter(), children()
    if what == "chain":
        report = verify_chain(ledger.db, mapper=ledger.mapper)
    elif what == "full":
        report = ledger.verify()
    else:
        report = ledger.verify(incremental=True)
    spent = time.process_time() - began + children() - spawned
    wall = time.perf_counter() - wall
    events, ok = report.events, report.ok and report.broken is None
    ledger.close()
# The peak of this process's own memory (VmHWM: ru_maxrss would keep the parent's across exec)
peak = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"seconds": spent, "wall": wall, "events": events, "ok": ok, "peak": peak}))
"""

KINDS = ("contender", "chain", "chain,validated", "full", "full,validated", "incremental")


def run(kind: str, database: Path, tree: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, kind, str(database), str(tree)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    answer: dict[str, float] = json.loads(done.stdout)
    if not answer["ok"]:
        raise SystemExit(f"{kind}: the ledger does not verify")
    return answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument(
        "--new", type=int, default=1_000, help="orders of the session appended after the anchor"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--trees",
        nargs="+",
        type=Path,
        default=[ROOT],
        help="checkouts whose code runs each kind, in turn in each round (default: this one)",
    )
    options = parser.parse_args()
    trees = [tree.resolve() for tree in options.trees]
    with tempfile.TemporaryDirectory() as directory:
        base = Path(directory) / "base.db"
        anchored = Path(directory) / "anchored.db"
        with OrderLedger(f"sqlite:///{base}") as ledger:
            ledger.ingest_lines(simulate_lines(seed=3, orders=options.orders))
        shutil.copyfile(base, anchored)
        with OrderLedger(f"sqlite:///{anchored}") as ledger:
            assert ledger.verify(anchor=True).ok
            ledger.ingest_lines(simulate_lines(seed=4, orders=options.new, tag="new"))
            new = ledger.head().position - ledger.verify(incremental=True).since  # type: ignore[union-attr]
        figures: dict[tuple[Path, str], list[dict[str, float]]] = {(t, k): [] for t in trees for k in KINDS}
        for _ in range(options.rounds):
            for kind in KINDS:
                for tree in trees:
                    database = anchored if kind == "incremental" else base
                    figures[tree, kind].append(run(kind, database, tree))
    print(f"{options.orders:,} orders; incremental: {new:,} events after the anchor's overlap start")
    for tree in trees:
        report(tree, {kind: figures[tree, kind] for kind in KINDS})


def report(tree: Path, figures: dict[str, list[dict[str, float]]]) -> None:
    """One checkout's table: CPU seconds of its processes (a second one's included), wall
    seconds, events per CPU and per wall second, the ratio to the contender per CPU second."""
    contender = statistics.median(f["events"] / f["seconds"] for f in figures["contender"])
    print(f"\n{tree}")
    print(
        f"{'':16} {'events':>9} {'CPU s':>7} {'wall s':>7} {'events/s':>10} {'wall ev/s':>10}"
        f" {'÷ contender':>12} {'peak MB':>8}"
    )
    for kind, rounds in figures.items():
        seconds = statistics.median(f["seconds"] for f in rounds)
        wall = statistics.median(f["wall"] for f in rounds)
        events = rounds[0]["events"]
        rate = statistics.median(f["events"] / f["seconds"] for f in rounds)
        walled = statistics.median(f["events"] / f["wall"] for f in rounds)
        peak = statistics.median(f["peak"] for f in rounds) / 2**20
        print(
            f"{kind.replace(',', ', '):16} {events:>9,.0f} {seconds:>7.2f} {wall:>7.2f} {rate:>10,.0f}"
            f" {walled:>10,.0f} {rate / contender:>11.2f}× {peak:>8.0f}"
        )


if __name__ == "__main__":
    main()
