"""Out of order at in-order speed: a simulated session ingested in order and reordered, side by side.

    .venv/bin/python tests/benchmarks/reordered.py                      # 100,000 orders, 3 rounds
    .venv/bin/python tests/benchmarks/reordered.py --orders 20000 --rounds 5

The session (``simulate_lines``) is written once in order and once with every line moved at
most ``--window`` places (30 by default: what WebSocket/REST races, reconnects and two writers
produce). Each round ingests both, alternating which goes first, each in a fresh process on a
fresh SQLite file with the ledger's default batching; a process reports the CPU time of the
ingest alone (``time.process_time``, after its imports) and its peak resident memory. The figure
of each is the median of its rounds; the verdict is reordered / in order, beside each one's
spread (slowest / fastest), which says how much of a ratio is noise. The target: within 1.5×
in time and memory. Both runs must end with the same books (the counts of orders by status,
trades and positions are compared) and nothing parked.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from orderledger.infrastructure.application.simulator import simulate_lines  # noqa: E402

CHILD = r"""
import json, resource, sys, time
from orderledger.infrastructure.application.ledger import OrderLedger
source, database = sys.argv[1:3]
ledger = OrderLedger("sqlite:///" + database)
lines = open(source, "rb").read().splitlines()
began = time.process_time()
report = ledger.ingest_lines(lines)
spent = time.process_time() - began
with ledger.db.read() as tx:
    statuses = dict(tx.all("SELECT status, COUNT(*) FROM orders_view GROUP BY status"))
    trades = tx.one("SELECT COUNT(*) FROM trades_view")[0]
    parked = tx.one("SELECT COUNT(*) FROM parked")[0]
positions = len(ledger.positions())
ledger.close()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": spent, "peak": peak, "books": [statuses, trades, positions], "parked": parked}))
"""


def reorder(lines: list[str], window: int, seed: int) -> list[str]:
    """Each line moved at most ``window`` places (sorted by position plus a draw in [0, window))."""
    rng = random.Random(seed)
    keyed = sorted((i + rng.uniform(0, window), i) for i in range(len(lines)))
    return [lines[i] for _, i in keyed]


def run(source: Path, work: Path) -> dict[str, object]:
    database = work / "ledger.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(source), str(database)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"ingest of {source.name} failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=100_000, help="orders in the session (default 100,000)")
    parser.add_argument("--window", type=int, default=30, help="how far a line may move (default 30)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each (default 3)")
    args = parser.parse_args(argv)
    lines = list(simulate_lines(seed=3, orders=args.orders))
    with tempfile.TemporaryDirectory(prefix="reordered-") as temporary:
        work = Path(temporary)
        sources = {"in order": work / "in-order.jsonl", "reordered": work / "reordered.jsonl"}
        sources["in order"].write_text("\n".join(lines) + "\n")
        sources["reordered"].write_text("\n".join(reorder(lines, args.window, seed=3)) + "\n")
        runs: dict[str, list[dict[str, object]]] = {name: [] for name in sources}
        for number in range(args.rounds):
            names = list(sources) if number % 2 == 0 else list(sources)[::-1]
            for name in names:
                runs[name].append(run(sources[name], work))
                print(f"round {number + 1} {name}: {runs[name][-1]['seconds']:.2f} s", file=sys.stderr)
    books = {
        name: [json.dumps(r["books"], sort_keys=True) for r in results] for name, results in runs.items()
    }
    same = len({*books["in order"], *books["reordered"]}) == 1
    parked = {name: max(int(r["parked"]) for r in results) for name, results in runs.items()}  # type: ignore[call-overload]
    print(
        f"{len(lines):,} lines ({args.orders:,} orders), lines moved at most {args.window} places, {args.rounds} rounds"
    )
    print(f"{'':10} {'in order':>10} {'reordered':>10} {'ratio':>7}  spread (in order / reordered)")
    for measure, unit, scale in (("seconds", "s", 1.0), ("peak", "MB", 1e-6)):
        figures = {name: [float(r[measure]) for r in results] for name, results in runs.items()}  # type: ignore[arg-type]
        first, second = (statistics.median(figures[n]) * scale for n in ("in order", "reordered"))
        spreads = " / ".join(f"{max(f) / min(f):.2f}" for f in figures.values())
        label = "CPU time" if measure == "seconds" else "peak RSS"
        print(f"{label:10} {first:>8.2f}{unit:>2} {second:>8.2f}{unit:>2} {second / first:>6.2f}×  {spreads}")
    print(
        f"same books: {'yes' if same else 'NO'}; parked at the end: {parked['in order']} / {parked['reordered']}"
    )
    return 0 if same and not any(parked.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
