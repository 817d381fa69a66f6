"""Bounded work: `/health` and writes while eight clients keep asking for `GET /verify` of a
large ledger, against the same server idle in the same run.

    .venv/bin/python tests/benchmarks/expensive_reads.py             # 100,000 events
    .venv/bin/python tests/benchmarks/expensive_reads.py --quick     # 10,000 events

`orderledger serve` runs in its own process over a SQLite file the simulator's session filled.
A probe alternates `GET /health` and a one-message `POST /messages` (each a new order), first
with the server idle (the baseline), then while eight clients each ask for `/verify` again as
soon as they have an answer (after a 503, once the Retry-After it gives has passed). The same is then measured with the limit raised to eight,
so that every verify runs. Target (issue 32): p99 of `/health` and of writes under 100 ms under
the default limit.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import httpx2  # noqa: E402

from orderledger.infrastructure.application.ledger import OrderLedger  # noqa: E402
from orderledger.infrastructure.application.simulator import simulate_lines  # noqa: E402
from orderledger.infrastructure.http.bounded_reads import CONCURRENCY  # noqa: E402
from tests.support.bench import p99, probe, serving  # noqa: E402

EVENTS_PER_ORDER = 3.78
"""About how many events the simulator books per order (7,561 for 2,000 orders at seed 7)."""
VERIFIERS = 8
PROBES = 150
"""Requests of each kind (health, write) the probe makes per phase."""


def build(db: Path, events: int) -> int:
    """Fill ``db`` with the simulator's session of about ``events`` events; returns how many."""
    ledger = OrderLedger(f"sqlite:///{db}")
    try:
        ledger.ingest_lines(simulate_lines(7, int(events / EVENTS_PER_ORDER) + 1))
        return ledger.log_position()
    finally:
        ledger.close()


def under_verifies(url: str, tag: str) -> tuple[dict[str, list[float]], Counter[int]]:
    """The probe while VERIFIERS clients keep asking for /verify; the verifies' statuses."""
    stop = threading.Event()
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def verifier() -> None:
        with httpx2.Client(base_url=url, timeout=600) as client:
            while not stop.is_set():
                try:
                    response = client.get("/verify")
                except httpx2.TransportError:
                    return  # the server is stopping
                with lock:
                    statuses[response.status_code] += 1
                if response.status_code == 503:
                    stop.wait(float(response.headers.get("retry-after", "1")))

    threads = [threading.Thread(target=verifier, daemon=True) for _ in range(VERIFIERS)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # let the verifies get going before the probe starts
    try:
        return probe(url, tag, PROBES), statuses
    finally:
        stop.set()


def row(name: str, took: dict[str, list[float]], base: dict[str, list[float]], note: str) -> str:
    cells = []
    for kind in ("health", "write"):
        cells.append(f"{statistics.median(took[kind]) * 1000:,.1f} ms")
        cells.append(f"{p99(took[kind]) * 1000:,.1f} ms")
        cells.append(f"{p99(took[kind]) / p99(base[kind]):,.1f}×")
    return f"| {name} | {' | '.join(cells)} | {note} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 events instead of 100,000")
    parser.add_argument("--events", type=int, default=None)
    args = parser.parse_args()
    target = args.events or (10_000 if args.quick else 100_000)
    with tempfile.TemporaryDirectory(prefix="orderledger-expensive-") as tmp:
        db = Path(tmp) / "ledger.db"
        started = time.perf_counter()
        events = build(db, target)
        print(f"built {events:,} events in {time.perf_counter() - started:.0f} s", flush=True)
        with serving(db) as url:
            idle = probe(url, "idle", PROBES)
            bounded, bounded_statuses = under_verifies(url, "bounded")
        with serving(db, "--expensive-reads", str(VERIFIERS), "--expensive-seconds", "3600") as url:
            unbounded, unbounded_statuses = under_verifies(url, "unbounded")

    def note(statuses: Counter[int]) -> str:
        return (
            ", ".join(f"{count} × {status}" for status, count in sorted(statuses.items()))
            or "none answered yet"
        )

    ok = p99(bounded["health"]) < 0.1 and p99(bounded["write"]) < 0.1
    lines = [
        f"Measured by `tests/benchmarks/expensive_reads.py` on {time.strftime('%Y-%m-%d')}"
        f" ({os.cpu_count()} cores, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}),"
        f" a ledger of {events:,} events, {PROBES} requests of each kind per row:",
        "",
        "| server | /health p50 | /health p99 | p99 ÷ idle | write p50 | write p99 | p99 ÷ idle | verify answers meanwhile |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
        row("idle (baseline)", idle, idle, ""),
        row(
            f"{VERIFIERS} clients asking for `/verify`, default limit ({CONCURRENCY})",
            bounded,
            idle,
            note(bounded_statuses),
        ),
        row(f"the same, limit raised to {VERIFIERS}", unbounded, idle, note(unbounded_statuses)),
        "",
        f"Target p99 < 100 ms for `/health` and writes under the default limit: **{'met' if ok else 'not met'}**.",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
