"""What the benchmark scripts (``tests/benchmarks/``) share: the simulated messages, the
arguments and spread of the side-by-side comparisons of two checkouts, the contenders several of
them measure the ledger against, a served ledger in its own process, and
the probe of `/health` and writes they measure it with.

The scripts import from ``tests`` only this support package, as the tests do: no benchmark
imports another.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx2
import psycopg

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.simulator import simulate_lines
from tests.support.cli import cli_command, cli_env
from tests.support.http_api import free_port, wait_answering
from tests.support.postgres import POSTGRES_URL as PG_URL

# ---------------------------------------------------------------------- two checkouts side by side


def package_root(tree: Path) -> Path:
    """Where ``orderledger`` of ``tree`` imports from: the tree of links its layout script writes."""
    subprocess.run([sys.executable, str(tree / "scripts" / "layout.py")], check=True, cwd=tree)
    return (tree / ".layout").resolve()


CHECKOUT_ENTRY = r"""
import sys
root = sys.argv[1]
sys.path.insert(0, root)
sys.argv = ["orderledger", *sys.argv[2:]]
from orderledger.infrastructure.cli import main
assert main.__file__.startswith(root), main.__file__  # this checkout's code
main.main()
"""
"""The console entry point, run with one checkout's code (its ``.layout`` first on the path)."""


def checkout_command(root: Path, *args: str, flags: tuple[str, ...] = ()) -> list[str]:
    """The argv of ``orderledger ARGS`` in a new interpreter (given ``flags``) that runs the code
    of the checkout whose package root (``package_root``) is ``root``."""
    return [sys.executable, *flags, "-c", CHECKOUT_ENTRY, str(root), *args]


def user_environment() -> dict[str, str]:
    """The environment of a command run as a user runs it: byte code written and read (a user's
    installation has it), and no ``ORDERLEDGER_*`` setting of the developer's."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ORDERLEDGER_")}
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    return environment


def spread(runs: list[float]) -> float:
    """The slowest run over the fastest."""
    return max(runs) / min(runs)


def two_checkouts(doc: str | None) -> argparse.ArgumentParser:
    """The arguments of a side-by-side benchmark: the checkout to compare against, and the one
    under test (``doc``: the benchmark's docstring, whose first line describes it)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument("before", type=Path, help="the checkout to compare against")
    parser.add_argument("after", type=Path, help="the checkout under test")
    return parser


# ---------------------------------------------------------------------- messages


def lines_for(events: int, seed: int = 3) -> list[str]:
    """About ``events`` events' worth of simulated messages (~4–6 messages per order)."""
    return list(simulate_lines(seed, max(10, int(events / 3.4))))


# ---------------------------------------------------------------------- contenders


def raw_sqlite(path: Path, lines: list[str], per_commit: int) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE raw (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")
    started = time.perf_counter()
    for start in range(0, len(lines), per_commit):
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO raw (body) VALUES (?)",
            [(line.encode(),) for line in lines[start : start + per_commit]],
        )
        conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    conn.close()
    return seconds


def mutable_table(path: Path, lines: list[str], per_commit: int) -> float:
    """What most bots do: one mutable row per order, an upsert per message, no history."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(
        "CREATE TABLE orders (client_order_id TEXT PRIMARY KEY, venue_order_id TEXT, account TEXT,"
        " instrument TEXT, side TEXT, quantity TEXT, price TEXT, status TEXT, filled TEXT)"
    )
    conn.execute("CREATE INDEX orders_voi ON orders (venue_order_id)")
    started = time.perf_counter()
    for start in range(0, len(lines), per_commit):
        conn.execute("BEGIN")
        for line in lines[start : start + per_commit]:
            m = json.loads(line, parse_float=Decimal)
            coid = m.get("client_order_id")
            if coid is None:
                row = conn.execute(
                    "SELECT client_order_id FROM orders WHERE venue_order_id = ?", (m["venue_order_id"],)
                ).fetchone()
                if row is None:
                    continue
                coid = row[0]
            kind = m["type"]
            if kind == "request":
                conn.execute(
                    "INSERT INTO orders VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                    (
                        coid,
                        None,
                        m["account"],
                        m["instrument"],
                        m["side"],
                        m["quantity"],
                        m.get("price"),
                        "requested",
                        "0",
                    ),
                )
            elif kind == "accepted":
                conn.execute(
                    "UPDATE orders SET venue_order_id = ?, status = 'accepted' WHERE client_order_id = ?",
                    (m["venue_order_id"], coid),
                )
            elif kind == "fill":
                row = conn.execute(
                    "SELECT filled, quantity FROM orders WHERE client_order_id = ?", (coid,)
                ).fetchone()
                if row:
                    filled = Decimal(row[0]) + Decimal(m["quantity"])
                    status = "filled" if filled >= Decimal(row[1]) else "partially_filled"
                    conn.execute(
                        "UPDATE orders SET filled = ?, status = ? WHERE client_order_id = ?",
                        (str(filled), status, coid),
                    )
            else:
                conn.execute("UPDATE orders SET status = ? WHERE client_order_id = ?", (kind, coid))
        conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    conn.close()
    return seconds


def raw_psycopg(lines: list[str], schema: str) -> float:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        conn.execute(f'CREATE TABLE "{schema}".raw (id BIGSERIAL PRIMARY KEY, body BYTEA NOT NULL)')
    with psycopg.connect(PG_URL) as conn:
        started = time.perf_counter()
        with conn.cursor() as cur:
            for start in range(0, len(lines), 1000):
                cur.executemany(
                    f'INSERT INTO "{schema}".raw (body) VALUES (%s)',
                    [(line.encode(),) for line in lines[start : start + 1000]],
                )
                conn.commit()
        return time.perf_counter() - started


def drop_schema(schema: str) -> None:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


# ---------------------------------------------------------------------- a served ledger


@contextmanager
def serving(db: Path | str, *options: str) -> Iterator[str]:
    """`orderledger serve` over the SQLite file ``db`` (or the database URL ``db``) in its own
    process; yields its URL once `/health` answers, and stops it afterwards."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    database = db if isinstance(db, str) else f"sqlite:///{db}"
    server = subprocess.Popen(
        cli_command("--db", database, "serve", "--host", "127.0.0.1", "--port", str(port), *options),
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_answering(server, url)
        yield url
    finally:
        server.terminate()
        server.wait(30)


# ---------------------------------------------------------------------- the probe


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def probe(url: str, tag: str, probes: int, headers: dict[str, str] | None = None) -> dict[str, list[float]]:
    """Alternate GET /health and a one-message POST /messages (each a new order) ``probes``
    times each; seconds per request of each kind."""
    took: dict[str, list[float]] = {"health": [], "write": []}
    with httpx2.Client(base_url=url, timeout=120, headers=headers) as client:
        for i in range(probes):
            started = time.perf_counter()
            assert client.get("/health").status_code == 200
            took["health"].append(time.perf_counter() - started)
            message: dict[str, Any] = {
                "type": "request",
                "client_order_id": f"probe-{tag}-{i}",
                "account": "probe",
                "venue": "probe",
                "instrument": "BTC-USDT",
                "side": "buy",
                "order_type": "limit",
                "quantity": "1",
                "price": "100",
                "ts": "2026-11-20T10:00:00Z",
            }
            started = time.perf_counter()
            response = client.post("/messages", json=message)
            took["write"].append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
            time.sleep(0.02)  # spread the samples over the load's run
    return took


def lot_ledger(folder: Path, orders: int, tail: int) -> tuple[Path, list[str], str]:
    """The lot reads' base ledger (``lot_reads.py``, ``pnl_by_group.py``): the simulator's
    session (seed 3) of ``orders`` ingested into a SQLite file in ``folder`` (built once), all
    but its last ``tail`` lines and one fill held back from near its end; with the tail's lines
    and the held-back fill's line."""
    lines = list(simulate_lines(seed=3, orders=orders))
    held_at = next(i for i in range(len(lines) - tail - 200, 0, -1) if json.loads(lines[i])["type"] == "fill")
    held = lines[held_at]
    kept = [line for i, line in enumerate(lines[: len(lines) - tail]) if i != held_at]
    base = folder / f"base-{orders}-{tail}.db"
    if not base.exists():
        partial = folder / "building.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{partial}{suffix}").unlink(missing_ok=True)
        with OrderLedger(f"sqlite:///{partial}") as ledger:
            ledger.ingest_lines(kept)
        os.replace(partial, base)
    return base, lines[len(lines) - tail :], held


@contextmanager
def copied_lot_ledger(orders: int, prefix: str) -> Iterator[tuple[OrderLedger, list[str]]]:
    """A copy of the lot reads' base ledger of ``orders`` (``lot_ledger``, under
    ``$ORDERLEDGER_BENCH_DIR``, 2,000 lines held back), open, with those 2,000 lines."""
    folder = Path(os.environ.get("ORDERLEDGER_BENCH_DIR", "/work/bench/lots"))
    folder.mkdir(parents=True, exist_ok=True)
    base, tail, _ = lot_ledger(folder, orders, 2_000)
    with tempfile.TemporaryDirectory(prefix=prefix) as temporary:
        db = Path(temporary) / "ledger.db"
        shutil.copyfile(base, db)
        with OrderLedger(f"sqlite:///{db}") as ledger:
            yield ledger, tail


def best_of(read: Callable[[], Any], rounds: int = 1) -> tuple[float, Any]:
    """The best wall time of ``rounds`` reads, in ms, and the last answer."""
    best, answer = float("inf"), None
    for _ in range(rounds):
        began = time.perf_counter()
        answer = read()
        best = min(best, time.perf_counter() - began)
    return best * 1000, answer
