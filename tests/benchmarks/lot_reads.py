"""Lots, positions under a lot rule and the daily P&L: what a read costs with the heads kept
between reads, beside the fold of the whole log that every such read made without them, in one run.

    .venv/bin/python tests/benchmarks/lot_reads.py                        # 100,000 orders, 3 rounds
    .venv/bin/python tests/benchmarks/lot_reads.py --orders 20000 --rounds 5

The simulator's session (seed 3) is ingested once into a SQLite file, kept under
``$ORDERLEDGER_BENCH_DIR`` (default ``/work/bench/lots``), all but its last ``--tail`` lines and one
fill held back from near its end. Each round copies that file and runs, each as a fresh
``orderledger`` process (its interpreter, imports, read and JSON), measuring its wall time and
CPU time:

- ``fold``: ``lots --cost-basis RULE --json`` on the copy, which holds no heads yet: the fold of
  every fill of the log that each read made before the heads were kept (it then stores them);
- ``stored``: the same command again: the heads as stored, nothing new to fold;
- ``positions``: ``positions --cost-basis RULE --json`` from the stored heads;
- ``pnl``: ``pnl --by account --cost-basis RULE --json`` from the stored heads' days;
- ``daily fold``: ``pnl --daily --json`` (by account, average cost), which finds no heads under
  average yet and folds every fill of the log (then stores them);
- ``daily stored``: the same again, from the stored heads' days;
- ``parent fold (ro)``: ``pnl --daily --by parent --json`` on a read-only connection (``mode=ro``)
  that finds no heads by parent: the fold of every P&L entry each such read makes without them;
- ``parent fold``: the same on the writable file, which holds no heads by parent yet: every fill
  of the log folded into each parent's books (then stored); ``parent stored``: the same again,
  from the stored heads' days; ``tag …``: the same three by ``tag:strategy`` (the simulator's);
- ``new fills``: the held-back tail ingested (not timed), then ``lots``: only the fills after the
  heads folded on; ``daily new fills``, ``parent new fills``, ``tag new fills``: the same for
  ``pnl --daily`` by account, parent and tag;
- ``late fill``: the held-back fill ingested (earlier in venue time than its book's latest), then
  ``lots``: its book folded again from the latest moment it was flat before that fill (its days
  from then counted again); ``daily late fill``, ``parent late fill``, ``tag late fill``: the same
  for ``pnl --daily`` by account, parent and tag;
- ``open orders``: ``orders --open --json``, a read of a view of the same ledger, for the
  command's own start and a read of rows as they are stored;
- on a second copy, ``lots --closed --cost-basis RULE --json``: ``closed fold``, read-only with no
  heads stored (the fold of every fill of the log, as ``--as-of`` and a connection that may not
  write still make it); ``closed first``, writable, which folds the heads and their closed lots
  and stores them; ``closed stored``, again; ``closed new fills`` and ``closed late fill``,
  after the tail and the held-back fill.

Each figure is the median of the rounds, beside its spread (slowest / fastest).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from orderledger.infrastructure.application.ledger import OrderLedger  # noqa: E402
from tests.support.bench import lot_ledger, spread  # noqa: E402

COMMAND = [sys.executable, "-m", "orderledger"]
GROUPED = (("parent", "parent"), ("tag", "tag:strategy"))
"""The daily P&L's groupings read from their own books' heads: (row name, ``--by``)."""


def run(args: list[str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and output bytes of one ``orderledger`` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    done = subprocess.run([*COMMAND, *args], capture_output=True, check=False)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr.decode().strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, len(done.stdout)


def _closed(work: Path, base: Path, rule: str, figures: dict[str, list[tuple[float, float, int]]]) -> None:
    """``lots --closed`` on a fresh copy of ``base``: folded read-only, folded and stored, read
    from the rows, then after the tail (``tail.jsonl``) and the late fill (``late.jsonl``)."""
    db = work / "closed.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(base, db)
    closed = ["lots", "--closed", "--cost-basis", rule, "--json"]
    figures.setdefault("closed fold", []).append(run(["--db", f"sqlite:///{db}?mode=ro", *closed]))
    url = ["--db", f"sqlite:///{db}"]
    figures.setdefault("closed first", []).append(run([*url, *closed]))
    figures.setdefault("closed stored", []).append(run([*url, *closed]))
    run([*url, "ingest", str(work / "tail.jsonl")])
    figures.setdefault("closed new fills", []).append(run([*url, *closed]))
    run([*url, "ingest", str(work / "late.jsonl")])
    figures.setdefault("closed late fill", []).append(run([*url, *closed]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=100_000, help="orders in the session (default 100,000)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each (default 3)")
    parser.add_argument(
        "--tail", type=int, default=2_000, help="lines ingested after the heads (default 2,000)"
    )
    parser.add_argument("--rule", default="fifo", help="fifo, lifo or hifo (default fifo)")
    args = parser.parse_args(argv)
    folder = Path(os.environ.get("ORDERLEDGER_BENCH_DIR", "/work/bench/lots"))
    folder.mkdir(parents=True, exist_ok=True)
    base, tail, held = lot_ledger(folder, args.orders, args.tail)
    figures: dict[str, list[tuple[float, float, int]]] = {}
    with tempfile.TemporaryDirectory(prefix="lot-reads-") as temporary:
        work = Path(temporary)
        for _ in range(args.rounds):
            db = work / "ledger.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
            shutil.copyfile(base, db)
            url = ["--db", f"sqlite:///{db}"]
            lots = [*url, "lots", "--cost-basis", args.rule, "--json"]
            figures.setdefault("fold", []).append(run(lots))
            figures.setdefault("stored", []).append(run(lots))
            figures.setdefault("positions", []).append(
                run([*url, "positions", "--cost-basis", args.rule, "--json"])
            )
            figures.setdefault("pnl", []).append(
                run([*url, "pnl", "--by", "account", "--cost-basis", args.rule, "--json"])
            )
            daily = [*url, "pnl", "--daily", "--json"]
            figures.setdefault("daily fold", []).append(run(daily))
            figures.setdefault("daily stored", []).append(run(daily))
            grouped = {name: ["pnl", "--daily", "--by", by, "--json"] for name, by in GROUPED}
            for name, read in grouped.items():
                figures.setdefault(f"{name} fold (ro)", []).append(
                    run(["--db", f"sqlite:///{db}?mode=ro", *read])
                )
                figures.setdefault(f"{name} fold", []).append(run([*url, *read]))
                figures.setdefault(f"{name} stored", []).append(run([*url, *read]))
            (work / "tail.jsonl").write_text("\n".join(tail) + "\n")
            run([*url, "ingest", str(work / "tail.jsonl")])
            figures.setdefault("new fills", []).append(run(lots))
            figures.setdefault("daily new fills", []).append(run(daily))
            for name, read in grouped.items():
                figures.setdefault(f"{name} new fills", []).append(run([*url, *read]))
            (work / "late.jsonl").write_text(held + "\n")
            run([*url, "ingest", str(work / "late.jsonl")])
            figures.setdefault("late fill", []).append(run(lots))
            figures.setdefault("daily late fill", []).append(run(daily))
            for name, read in grouped.items():
                figures.setdefault(f"{name} late fill", []).append(run([*url, *read]))
            figures.setdefault("open orders", []).append(run([*url, "orders", "--open", "--json"]))
            _closed(work, base, args.rule, figures)
    with OrderLedger(f"sqlite:///{base}?mode=ro") as ledger:
        events = ledger.log_position()
    print(
        f"{args.orders:,} orders, {events:,} events in the base ledger; rule {args.rule}; {args.rounds} rounds"
    )
    print(f"{'read':<18} {'wall s':>8} {'CPU s':>8} {'spread':>7} {'bytes':>10}  vs fold (CPU)")
    fold_cpu = statistics.median(c for _, c, _ in figures["fold"])
    for name, runs in figures.items():
        wall = statistics.median(w for w, _, _ in runs)
        cpu = statistics.median(c for _, c, _ in runs)
        size = runs[-1][2]
        print(
            f"{name:<18} {wall:>8.3f} {cpu:>8.3f} {spread([c for _, c, _ in runs]):>7.2f} {size:>10,}"
            f"  {cpu / fold_cpu:.3f}×"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
