"""Rebuild of the positions view: this checkout's fold beside another revision's, in one run.

    .venv/bin/python tests/benchmarks/positions_rebuild.py [--orders 20000] [--rounds 3] [--rev main]

Ingests the simulated session of ``--orders`` orders into a fresh SQLite file once, then
rebuilds the positions view alternately with the fold of ``--rev`` (``projections/positions.py``
as ``git show`` has it: the baseline) and with this checkout's, and prints each round's seconds
and the ratio of the medians (this checkout / baseline; below 1 is faster).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.simulator import simulate_lines
from orderledger.projections.positions import PositionsProjection

ROOT = Path(__file__).resolve().parents[2]


def baseline_class(rev: str) -> Any:
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:projections/positions.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(source)
    spec = importlib.util.spec_from_file_location("baseline_positions", handle.name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["baseline_positions"] = module
    spec.loader.exec_module(module)
    return module.PositionsProjection


def rebuild_with(ledger: OrderLedger, projection: Any) -> float:
    views = ledger.views
    views.by_name["positions"] = projection
    views.projections = [projection if p.name == "positions" else p for p in views.projections]
    started = time.perf_counter()
    views.rebuild(["positions"])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rev", default="main")
    args = parser.parse_args()
    old = baseline_class(args.rev)()
    new = PositionsProjection()
    with tempfile.TemporaryDirectory() as folder:
        ledger = OrderLedger(f"sqlite:///{Path(folder) / 'bench.db'}")
        try:
            report = ledger.ingest_lines(simulate_lines(7, args.orders))
            with ledger.db.read() as tx:
                fills = tx.one("SELECT COUNT(*) FROM events WHERE event_type = 'OrderFilled'")
            print(f"{args.orders} orders, {report.counts['applied']} messages applied, fill events: {fills}")
            times: dict[str, list[float]] = {"baseline": [], "this": []}
            for round_ in range(args.rounds):
                times["baseline"].append(rebuild_with(ledger, old))
                times["this"].append(rebuild_with(ledger, new))
                print(
                    f"round {round_ + 1}: baseline ({args.rev}) {times['baseline'][-1]:.2f} s,"
                    f" this checkout {times['this'][-1]:.2f} s"
                )
            base, this = statistics.median(times["baseline"]), statistics.median(times["this"])
            print(f"median: baseline {base:.2f} s, this checkout {this:.2f} s, ratio {this / base:.3f}")
        finally:
            ledger.close()


if __name__ == "__main__":
    main()
