"""The stored lots view against the fold at read time it replaces, side by side in one run.

    .venv/bin/python tests/benchmarks/lot_views.py BEFORE AFTER                  # 20,000 orders
    .venv/bin/python tests/benchmarks/lot_views.py BEFORE AFTER --orders 100000

BEFORE is a checkout without the view (e.g. a worktree of main), AFTER the one under test. The
simulator's session of ``--orders`` orders is ingested once (AFTER's code: ingest does not fold
the lots view); each round then copies that file and, in a fresh process per checkout:

- BEFORE: ``rebuild`` of every view, then ``lots --cost-basis fifo`` (the log folded at read
  time), twice;
- AFTER: ``rebuild`` of every view (which empties the lots view, as an upgrade does), then the
  first ``lots`` read (far behind: answered by folding the log, the view brought up by a thread
  after it), the same read while that thread works, the wait until the view is at the log's end
  (its CPU, and the longest chunk held under the write lock), and a read from the view.

Each figure is CPU time of the reading thread (``time.thread_time``) beside wall time; the
verdict is the ratio AFTER / BEFORE of the medians over ``--rounds``.
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
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.bench import package_root  # noqa: E402

BUILD = r"""
import sys
sys.path.insert(0, sys.argv[1])
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.simulator import simulate_lines
with OrderLedger("sqlite:///" + sys.argv[2]) as ledger:
    ledger.ingest_lines(simulate_lines(7, int(sys.argv[3])))
    print(ledger.log_position())
"""

CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from orderledger.infrastructure.application import ledger as ledger_module
from orderledger.infrastructure.application.ledger import OrderLedger
assert ledger_module.__file__.startswith(sys.argv[1]), ledger_module.__file__  # this checkout's code
task, database = sys.argv[2:4]
out = {}

def timed(name, read):
    cpu, wall = time.thread_time(), time.perf_counter()
    rows = read()
    out[name] = [time.thread_time() - cpu, time.perf_counter() - wall, len(rows)]

ledger = OrderLedger("sqlite:///" + database)
lots = lambda: ledger.lots(cost_basis="fifo")
if task == "before":
    ledger.rebuild()  # as AFTER does before its first read: the same process state
    timed("first", lots)
    timed("again", lots)
else:
    from orderledger.infrastructure.storage import views
    held = []
    bring_up = views.Views.bring_up
    def measured(self, names, **kw):
        cpu, wall = time.thread_time(), time.perf_counter()
        try:
            return bring_up(self, names, **kw)
        finally:
            held.append((time.thread_time() - cpu, time.perf_counter() - wall))
    views.Views.bring_up = measured
    ledger.rebuild()
    timed("first", lots)
    timed("again", lots)
    upkeep = vars(ledger).get("_lots_upkeep")
    thread = None if upkeep is None else upkeep.thread
    wall = time.perf_counter()
    if thread is not None:
        thread.join()
    out["upkeep"] = [sum(c for c, _ in held), time.perf_counter() - wall, len(held)]
    out["longest_chunk"] = [max((c for c, _ in held), default=0.0), max((w for _, w in held), default=0.0)]
    timed("stored", lots)
ledger.close()
print(json.dumps(out))
"""


def run(root: Path, task: str, database: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(root), task, str(database)], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"{task} with {root} failed: {done.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("before", type=Path, help="a checkout without the lots view")
    parser.add_argument("after", type=Path, help="the checkout under test")
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    before, after = package_root(args.before), package_root(args.after)
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder) / "session.db"
        built = subprocess.run(
            [sys.executable, "-c", BUILD, str(after), str(base), str(args.orders)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        print(f"{args.orders:,} orders, {int(built.stdout.split()[-1]):,} events")
        runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
        for round_no in range(args.rounds):
            for task, root in (("before", before), ("after", after))[:: 1 if round_no % 2 == 0 else -1]:
                copy = Path(folder) / f"{task}-{round_no}.db"
                shutil.copy(base, copy)
                runs[task].append(run(root, task, copy))
                copy.unlink()

    def median(task: str, name: str, at: int) -> float:
        return float(statistics.median(r[name][at] for r in runs[task]))

    main_read = median("before", "first", 0)
    print(f"{'read':<44}{'CPU s':>8}{'wall s':>8}{'/ main':>8}")
    rows = [
        ("main: lots, folded at read time", "before", "first"),
        ("main: lots again", "before", "again"),
        ("view: first lots after rebuild (folded)", "after", "first"),
        ("view: lots while the view comes up", "after", "again"),
        ("view: lots from the view", "after", "stored"),
    ]
    for label, task, name in rows:
        cpu = median(task, name, 0)
        print(f"{label:<44}{cpu:>8.2f}{median(task, name, 1):>8.2f}{cpu / main_read:>7.2f}x")
    upkeep = [statistics.median(r["upkeep"][at] for r in runs["after"]) for at in (0, 1)]
    chunks = statistics.median(r["upkeep"][2] for r in runs["after"])
    longest = [max(r["longest_chunk"][at] for r in runs["after"]) for at in (0, 1)]
    print(
        f"view brought up in the background: {upkeep[0]:.2f} CPU-s in all ({upkeep[1]:.1f} s wall"
        f" after the second read), {chunks:.0f} chunks under the write lock, the longest"
        f" {longest[0]:.2f} CPU-s ({longest[1]:.2f} s wall)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
