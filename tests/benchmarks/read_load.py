"""Bounded list reads: `/health` and writes while 100 clients read the largest lists with the
largest page and `count=true`, against the same server idle in the same run, over a SQLite file
and over PostgreSQL.

    .venv/bin/python tests/benchmarks/read_load.py             # 120,000 events
    .venv/bin/python tests/benchmarks/read_load.py --quick     # 12,000 events
    .venv/bin/python tests/benchmarks/read_load.py --backend sqlite

`orderledger serve` (default list-read bounds) runs in its own process over a ledger the
simulator's session filled. A probe alternates `GET /health` and a one-message `POST /messages`
(each a new order), first with the server idle (the baseline), then while 100 readers in a
process of their own ask for `/events`, `/trades`, `/orders` and `/messages` (in turn) with
`limit=5000&count=true`, two readers a read token and a loopback address (50 of each): first
patient ones, which wait the `Retry-After` a refusal gives, then impatient ones, which ask again
at once. Issue 45: `/health` and writes answer within 1 s under any read load.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import httpx2  # noqa: E402

from orderledger.infrastructure.application.ledger import OrderLedger  # noqa: E402
from orderledger.infrastructure.application.simulator import simulate_lines  # noqa: E402
from tests.support.bench import p99, probe, serving  # noqa: E402
from tests.support.postgres import postgres_unavailable, private_schema  # noqa: E402

EVENTS_PER_ORDER = 3.78
"""About how many events the simulator books per order (7,561 for 2,000 orders at seed 7)."""
READERS = 100
KEYS = 50
"""Reader ``n`` uses read token ``n % KEYS`` from address 127.0.0.(2 + n % KEYS)."""
PATHS = ("/events", "/trades", "/orders", "/messages")
PROBES = 100
"""Requests of each kind (health, write) the probe makes per phase."""
WRITE_TOKEN = "bench-write-0123456789abcdef"
READ_TOKENS = tuple(f"bench-read-{n:02d}-0123456789abcdef" for n in range(KEYS))
LIMIT = 1.0
"""Seconds: issue 45's bound on `/health` and a write under any read load."""


def build(url: str, events: int) -> int:
    """Fill the ledger at ``url`` with the simulator's session of about ``events`` events."""
    with OrderLedger(url) as ledger:
        ledger.ingest_lines(simulate_lines(7, int(events / EVENTS_PER_ORDER) + 1))
        return ledger.log_position()


def _reader(number: int, url: str, patient: bool, stop: threading.Event, statuses: Counter[int]) -> None:
    transport = httpx2.HTTPTransport(local_address=f"127.0.0.{2 + number % KEYS}")
    headers = {"Authorization": f"Bearer {READ_TOKENS[number % KEYS]}"}
    with httpx2.Client(base_url=url, timeout=600, transport=transport, headers=headers) as client:
        while not stop.is_set():
            try:
                response = client.get(PATHS[number % len(PATHS)], params={"limit": 5000, "count": "true"})
            except httpx2.TransportError:
                return  # the server is stopping
            statuses[response.status_code] += 1  # this reader's own counter
            if patient and response.status_code in (429, 503):
                stop.wait(float(response.headers.get("retry-after", "1")))


def readers(url: str, patient: bool, started: Any, done: Any, out: Any) -> None:
    """In a process of its own (so that its threads never hold the probe's interpreter lock):
    READERS readers until ``done`` is set; puts their statuses on ``out``."""
    stop = threading.Event()
    counts: list[Counter[int]] = [Counter() for _ in range(READERS)]
    threads = [
        threading.Thread(target=_reader, args=(n, url, patient, stop, counts[n]), daemon=True)
        for n in range(READERS)
    ]
    for thread in threads:
        thread.start()
    started.set()
    done.wait()
    stop.set()
    out.put(dict(sum(counts, Counter())))


@contextmanager
def reading(url: str, patient: bool) -> Iterator[Counter[int]]:
    """READERS readers at work for the block; the statuses they were answered, filled at its end."""
    context = multiprocessing.get_context("spawn")
    started, done, out = context.Event(), context.Event(), context.Queue()
    process = context.Process(target=readers, args=(url, patient, started, done, out), daemon=True)
    process.start()
    statuses: Counter[int] = Counter()
    try:
        started.wait(120)
        time.sleep(1.0)  # let every reader get its first answer before the probe starts
        yield statuses
    finally:
        done.set()
        statuses.update(out.get(timeout=600))
        process.join(60)


@contextmanager
def ledger_url(backend: str, folder: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'ledger.db'}"
        return
    with private_schema("ol_read_load") as url:
        yield url


def measure(backend: str, events: int, folder: Path) -> list[str]:
    """The rows of one backend's table: idle, patient readers, impatient readers."""
    tokens = folder / "tokens"
    tokens.write_text(f"write {WRITE_TOKEN}\n" + "".join(f"read {t}\n" for t in READ_TOKENS))
    tokens.chmod(0o600)
    with ledger_url(backend, folder) as url:
        started = time.perf_counter()
        built = build(url, events)
        print(f"{backend}: built {built:,} events in {time.perf_counter() - started:.0f} s", flush=True)
        phases: list[tuple[str, dict[str, list[float]], Counter[int]]] = []
        auth = {"Authorization": f"Bearer {WRITE_TOKEN}"}
        with serving(url, "--tokens", str(tokens)) as served:
            phases.append(("idle (baseline)", probe(served, f"{backend}-idle", PROBES, auth), Counter()))
            for patient in (True, False):
                name = "patient" if patient else "impatient"
                with reading(served, patient) as statuses:
                    took = probe(served, f"{backend}-{name}", PROBES, auth)
                label = f"{READERS} readers, {'waiting Retry-After' if patient else 'asking again at once'}"
                phases.append((label, took, statuses))
    base = phases[0][1]
    return [row(f"{backend}: {label}", took, base, statuses) for label, took, statuses in phases]


def row(name: str, took: dict[str, list[float]], base: dict[str, list[float]], statuses: Counter[int]) -> str:
    cells = []
    for kind in ("health", "write"):
        cells.append(f"{statistics.median(took[kind]) * 1000:,.1f} ms")
        cells.append(f"{p99(took[kind]) * 1000:,.1f} ms")
        cells.append(f"{max(took[kind]) * 1000:,.0f} ms")
        cells.append(f"{p99(took[kind]) / p99(base[kind]):,.1f}×")
    answered = ", ".join(f"{count:,} × {status}" for status, count in sorted(statuses.items()))
    return f"| {name} | {' | '.join(cells)} | {answered} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="12,000 events instead of 120,000")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), action="append")
    args = parser.parse_args()
    target = args.events or (12_000 if args.quick else 120_000)
    backends = args.backend or ["sqlite", "postgres"]
    if "postgres" in backends and postgres_unavailable():
        print(f"skipping PostgreSQL: {postgres_unavailable()}")
        backends.remove("postgres")
    rows = []
    with tempfile.TemporaryDirectory(prefix="orderledger-read-load-") as tmp:
        for backend in backends:
            folder = Path(tmp) / backend
            folder.mkdir()
            rows += measure(backend, target, folder)
    lines = [
        f"Measured by `tests/benchmarks/read_load.py` on {time.strftime('%Y-%m-%d')}"
        f" ({os.cpu_count()} cores, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}),"
        f" about {target:,} events, {PROBES} requests of each kind per row:",
        "",
        "| server | /health p50 | /health p99 | /health max | p99 ÷ idle | write p50 | write p99 | write max"
        " | p99 ÷ idle | list reads answered meanwhile |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        *rows,
        "",
        f"Issue 45's bound: `/health` and writes within {LIMIT:g} s under any read load.",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
