"""HTTP load, bounded and on loopback only: batched POST /messages from several clients against
`orderledger serve`, beside `orderledger ingest` of the same messages in the same run.

    .venv/bin/python tests/benchmarks/http_load.py             # writes its section of docs/benchmarks.md
    .venv/bin/python tests/benchmarks/http_load.py --quick     # small, prints only

Each contender gets a fresh SQLite file (WAL, synchronous=FULL, as every SQLite figure on that
page). The messages are the simulator's; each client posts the messages of its own orders, in
order, so every contender books the same facts. Target (issue 17): HTTP ≥ 0.7 × the CLI.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import httpx2  # noqa: E402

from orderledger.infrastructure.application.simulator import simulate_lines  # noqa: E402
from tests.support.bench import serving  # noqa: E402
from tests.support.cli import cli_command, cli_env  # noqa: E402

START = "<!-- http-load -->"
END = "<!-- /http-load -->"
TIME_LIMIT = 300.0
"""Seconds: the most any one contender may take (the run is bounded whatever the machine)."""


def run_cli_ingest(lines: list[str], folder: Path) -> dict[str, float]:
    source = folder / "messages.jsonl"
    source.write_text("".join(line + "\n" for line in lines))
    started = time.perf_counter()
    done = subprocess.run(
        cli_command("--db", f"sqlite:///{folder / 'cli.db'}", "ingest", str(source)),
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT,
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"ingest failed: {done.stderr.strip()}")
    reported = re.search(r"events in ([0-9.]+) s", done.stdout)
    seconds = float(reported.group(1)) if reported else wall
    return {"messages": len(lines), "seconds": seconds, "wall": wall, "rate": len(lines) / seconds}


def partition(lines: list[str], clients: int) -> list[list[str]]:
    """Each client gets whole orders (so no order's facts race each other), in their order."""
    parts: list[list[str]] = [[] for _ in range(clients)]
    owner: dict[str, str] = {}  # venue order ID → client order ID, as the acknowledgements tell
    for line in lines:
        message = json.loads(line)
        key = message.get("client_order_id") or owner.get(message.get("venue_order_id") or "", "")
        if message.get("client_order_id") and message.get("venue_order_id"):
            owner[message["venue_order_id"]] = message["client_order_id"]
        parts[sum(key.encode()) % clients].append(line)
    return parts


def run_http(lines: list[str], folder: Path, clients: int, batch: int) -> dict[str, float]:
    with serving(folder / "http.db") as url:
        latencies: list[float] = []
        failures: list[str] = []
        lock = threading.Lock()

        def post_all(part: list[str]) -> None:
            with httpx2.Client(base_url=url, timeout=TIME_LIMIT) as client:
                for i in range(0, len(part), batch):
                    body = "".join(line + "\n" for line in part[i : i + batch])
                    sent = time.perf_counter()
                    response = client.post(
                        "/messages", content=body, headers={"content-type": "application/x-ndjson"}
                    )
                    took = time.perf_counter() - sent
                    with lock:
                        latencies.append(took)
                        if response.status_code not in (200, 422):
                            failures.append(f"{response.status_code} {response.text[:200]}")

        threads = [threading.Thread(target=post_all, args=(p,)) for p in partition(lines, clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(TIME_LIMIT)
        seconds = time.perf_counter() - started
        if failures:
            raise SystemExit(f"{len(failures)} posts failed, first: {failures[0]}")
    ordered = sorted(latencies)
    return {
        "messages": len(lines),
        "seconds": seconds,
        "rate": len(lines) / seconds,
        "posts": len(ordered),
        "p50": statistics.median(ordered),
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
    }


def journal_counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        return dict(conn.execute("SELECT outcome, COUNT(*) FROM messages GROUP BY outcome").fetchall())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run, print only")
    parser.add_argument("--orders", type=int, default=None)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    orders = args.orders or (500 if args.quick else 5_000)
    lines = [line.rstrip("\n") for line in simulate_lines(11, orders)]
    with tempfile.TemporaryDirectory(prefix="orderledger-http-load-") as tmp:
        folder = Path(tmp)
        cli_result = run_cli_ingest(lines, folder)
        http_result = run_http(lines, folder, args.clients, args.batch)
        counts = (journal_counts(folder / "cli.db"), journal_counts(folder / "http.db"))
        same = counts[0] == counts[1]
        print("journal outcomes, cli vs http:", *counts)
    ratio = http_result["rate"] / cli_result["rate"]
    report = [
        START,
        "## HTTP load",
        "",
        f"Measured by `tests/benchmarks/http_load.py` on {time.strftime('%Y-%m-%d')} on this project's machine"
        f" ({os.cpu_count()} cores, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}),"
        " loopback only: `orderledger serve` in its own process, "
        f"{args.clients} clients each posting batches of {args.batch} JSON lines (their own orders, in order),"
        " against `orderledger ingest` of the same messages in the same run, each on a fresh SQLite file.",
        "",
        "| contender | messages | seconds | messages/s | p50 per post | p99 per post |",
        "|---|---:|---:|---:|---:|---:|",
        f"| `orderledger ingest` (its own reported time; {cli_result['wall']:.2f} s wall with start-up) |"
        f" {cli_result['messages']:,} | {cli_result['seconds']:.2f} | {cli_result['rate']:,.0f} | | |",
        f"| `POST /messages`, {args.clients} clients × batches of {args.batch} | {http_result['messages']:,} |"
        f" {http_result['seconds']:.2f} | {http_result['rate']:,.0f} | {http_result['p50'] * 1000:,.0f} ms |"
        f" {http_result['p99'] * 1000:,.0f} ms |",
        "",
        f"HTTP ÷ CLI: **{ratio:.2f}** (target ≥ 0.7: **{'met' if ratio >= 0.7 else 'not met'}**)."
        f" Both journals hold the same outcomes: {'yes' if same else 'NO'}.",
        "Writes are serialised inside the one shared `OrderLedger`, so several clients do not add"
        " throughput; they queue, and the p99 is a batch's wait behind the others.",
        END,
    ]
    text = "\n".join(report) + "\n"
    print(text)
    if args.quick:
        return
    page = ROOT / "docs" / "benchmarks.md"
    existing = page.read_text()
    if START in existing:
        before, rest = existing.split(START, 1)
        after = rest.split(END, 1)[1].lstrip("\n") if END in rest else ""
        page.write_text(before + text + ("\n" + after if after else ""))
    else:
        # After the analysis marker: tests/benchmarks/run.py keeps everything from there on.
        page.write_text(existing.rstrip("\n") + "\n\n" + text)
    print(f"wrote {page.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
