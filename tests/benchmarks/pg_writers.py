"""Writers that add up: 1, 2 and 4 `orderledger ingest` processes into one PostgreSQL schema.

    .venv/bin/python tests/benchmarks/pg_writers.py                         # 5,000 orders, 3 rounds
    .venv/bin/python tests/benchmarks/pg_writers.py --before /tmp/before --rounds 7   # beside main
    .venv/bin/python tests/benchmarks/pg_writers.py --profile               # where 2 writers' time goes

The simulator's session (``simulate``) is made once with its orders spread over four accounts
(each order's account gets a suffix, ``-1`` or ``-2``, by the parity of its number), then split
by account: one writer takes every line, two writers the lines of two accounts each, four
writers one account each. A line belongs to the order it names (by client order ID, or by the
venue order ID its acknowledgement gave). Each writer is an ``orderledger ingest`` process with
the ledger's default batching and views folded by the writers (``--no-project``: left to a
catch-up after them, untimed); all of a contender's writers start together on one fresh schema
(made by ``db init`` first). Its rate is every line over the time from the first writer's first
batch to the last writer's end (each reports its own ingest time; its start is its exit less
that), and its CPU a message is its writers' from their ingest's start (imports and opening left
out, as from the rate) plus their server backends' (read from ``/proc``: the server is on this
machine). Each round runs every contender, alternating the order; ``--before`` adds the same
contenders with another checkout's code (its ``scripts/layout.py`` tree). The figures of each
are the median of its rounds with their spread (slowest / fastest) and its fastest round, what
it does when the machine's other work disturbs it least. The target (issue 46): two writers ≥
1.4 × one, more writers never slower than one.

Every contender must end with the books of the first one-writer run (orders by status, trades,
positions), nothing parked, a log whose notification IDs run 1…N without a gap (what a follower
reading by ID relies on), every view at the log's end after a follower's catch-up
(``orderledger project``) and ``verify`` passing (the hash chains). ``--profile`` instead runs
one and two writers (of each checkout) with the write path timed inside each process (lock wait,
lock held, the views' catch-up after the commit, attempts and batches refused as stale) while a
sampler reads ``pg_stat_activity`` every 5 ms.

The server is ``ORDERLEDGER_TEST_POSTGRES_URL`` (default postgresql://postgres@127.0.0.1:5432/test)
with ``--database`` in place of its database name (default ``pgw``, created when missing:
the benchmark must not share a database with tests running meanwhile).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

from orderledger.infrastructure.application.simulator import simulate  # noqa: E402
from tests.support.bench import package_root  # noqa: E402
from tests.support.cli import cli_command, cli_env  # noqa: E402

TIME_LIMIT = 600.0
"""Seconds: the most one writer may take (the run is bounded whatever the machine)."""
SERVER = os.environ.get("ORDERLEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

CHECKOUT = r"""
import sys
root, out = sys.argv[1:3]
if root:
    sys.path.insert(0, root)  # that checkout's code (its package root, ``bench.package_root``)
"""

TIMED = r"""
import atexit, json, sys, time
from orderledger.infrastructure.application.writes import recording
ingest_inbound, began = recording.ingest_inbound, []
def timed(*args, **kwargs):
    if not began:
        began.append(time.process_time())
    return ingest_inbound(*args, **kwargs)
recording.ingest_inbound = timed
def dump():
    with open(out, "w") as f:
        json.dump({"ingest_cpu": time.process_time() - began[0] if began else 0.0}, f)
atexit.register(dump)
sys.argv = ["orderledger", *sys.argv[3:]]
from orderledger.infrastructure.cli import main
assert not root or main.__file__.startswith(root), main.__file__
main.main()
"""
"""An ``orderledger`` command (of this checkout, or of the one whose package root is given) that
writes the CPU time its process spent from the ingest's start to its exit: imports and the
opening of the ledger are left out, as they are of the ingest's own timing."""

PROFILED = r"""
import atexit, json, os, time
from orderledger.infrastructure.storage import store, views
from orderledger.infrastructure.storage.postgres import PostgresDatabase
from orderledger.infrastructure.ingest import processing
profile_out = os.environ["PG_WRITERS_PROFILE"]
spans = {"commit": [], "wait": [], "held": [], "catch_up": [], "attempts": 0, "stale": 0}
lock_log, commit, catch_up = PostgresDatabase.lock_log, store.LedgerRecorder.commit, views.Views.catch_up
attempt = processing.Processor._attempt
got = []
def timed_lock(self, tx):
    began = time.perf_counter()
    lock_log(self, tx)
    got.append(time.perf_counter())
    spans["wait"].append(got[-1] - began)
def timed_commit(self, batch, after=None):
    began = time.perf_counter()
    got.clear()
    try:
        return commit(self, batch, after)
    finally:
        ended = time.perf_counter()  # the transaction has committed (or rolled back) here
        spans["commit"].append(ended - began)
        if got:
            spans["held"].append(ended - got[-1])
def timed_catch_up(self, *args, **kwargs):
    began = time.perf_counter()
    try:
        return catch_up(self, *args, **kwargs)
    finally:
        spans["catch_up"].append(time.perf_counter() - began)
def counted_attempt(self, items, strict):
    spans["attempts"] += 1
    outcome = attempt(self, items, strict)
    spans["stale"] += outcome == "stale"
    return outcome
PostgresDatabase.lock_log = timed_lock
store.LedgerRecorder.commit = timed_commit
views.Views.catch_up = timed_catch_up
processing.Processor._attempt = counted_attempt
process_began = time.perf_counter()
def dump_spans():
    spans["process"] = time.perf_counter() - process_began
    with open(profile_out, "w") as f:
        json.dump(spans, f)
atexit.register(dump_spans)
"""
"""Hooks that time the write path of the process, then write what they measured: put before
``TIMED``."""


def four_accounts(orders: int) -> list[dict[str, Any]]:
    """The session with each order's account split in two by the parity of its number."""
    messages = simulate(seed=3, orders=orders)
    for message in messages:
        if message["type"] == "request":
            number = int(message["client_order_id"].rsplit("-", 1)[1])
            message["account"] = f"{message['account']}-{1 + number % 2}"
    return messages


def split(messages: list[dict[str, Any]], writers: int) -> list[list[str]]:
    """Each writer's lines, in session order: its accounts' orders' messages."""
    accounts = sorted({m["account"] for m in messages if m["type"] == "request"})
    if len(accounts) % writers:
        raise SystemExit(f"{len(accounts)} accounts do not split over {writers} writers")
    owner_of_account = {a: i * writers // len(accounts) for i, a in enumerate(accounts)}
    owner: dict[str, int] = {}  # client order ID → writer
    by_venue_order: dict[str, str] = {}  # venue order ID (unique in the session) → client order ID
    parts: list[list[str]] = [[] for _ in range(writers)]
    for message in messages:
        cid: str | None = message.get("client_order_id")
        if message["type"] == "request":
            owner[str(cid)] = owner_of_account[message["account"]]
        if cid is not None and message.get("venue_order_id"):
            by_venue_order[message["venue_order_id"]] = cid
        if cid is None:  # a fill or cancel names its order by the venue order ID its ack gave
            cid = by_venue_order[message["venue_order_id"]]
        parts[owner[cid]].append(json.dumps(message, separators=(",", ":")))
    return parts


def server_url(database: str) -> str:
    return re.sub(r"/[^/?]*(\?|$)", f"/{database}\\1", SERVER, count=1) if "/" in SERVER[13:] else SERVER


def ensure_database(database: str) -> None:
    """Create the server's database ``database`` unless it exists (the benchmark's own, kept)."""
    with psycopg.connect(server_url("postgres"), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def run(
    parts: list[list[str]],
    folder: Path,
    database: str,
    *,
    profile: bool = False,
    extra: tuple[str, ...] = (),
    code: Path | None = None,
) -> dict[str, Any]:
    """One contender: its writers together on a fresh schema; the rate and the checks."""
    schema = f"pgw_{uuid.uuid4().hex[:10]}"
    base = server_url(database)
    url = f"{base}{'&' if '?' in base else '?'}schema={schema}"
    env = cli_env()
    try:
        init = subprocess.run(
            cli_command("db", "init", db=url), env=env, capture_output=True, text=True, check=False
        )
        if init.returncode != 0:
            raise SystemExit(f"db init failed: {init.stderr.strip()}")
        sources = []
        for index, lines in enumerate(parts):
            source = folder / f"writer-{index}.jsonl"
            source.write_text("".join(line + "\n" for line in lines))
            sources.append(source)
        sampler = Sampler(base, states=profile)
        processes = []
        for index, source in enumerate(sources):
            if profile:
                env = cli_env(PG_WRITERS_PROFILE=str(folder / f"profile-{index}.json"))
            argv = [
                sys.executable,
                "-c",
                CHECKOUT + PROFILED + TIMED if profile else CHECKOUT + TIMED,
                str(code or ""),
                str(folder / f"cpu-{index}.json"),
                *("--db", url, "ingest", *extra, str(source)),
            ]
            processes.append(subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True))
        ends: list[tuple[float, str, int]] = [(0.0, "", 0)] * len(processes)

        def wait(index: int) -> None:
            out, _ = processes[index].communicate(timeout=TIME_LIMIT)
            ends[index] = (time.perf_counter(), out, processes[index].returncode)

        waiters = [threading.Thread(target=wait, args=(i,)) for i in range(len(processes))]
        for waiter in waiters:
            waiter.start()
        for waiter in waiters:
            waiter.join()
        samples = sampler.stop()
        written = [folder / f"cpu-{i}.json" for i in range(len(parts))]
        client_cpu = sum(json.loads(path.read_text())["ingest_cpu"] for path in written)
        starts = []
        for (end, said, exit_code), source in zip(ends, sources, strict=True):
            if exit_code not in (0, 1):
                raise SystemExit(f"ingest of {source.name} failed (exit {exit_code}): {said.strip()[-300:]}")
            seconds = re.search(r"events in ([0-9.]+) s", said)
            if seconds is None:
                raise SystemExit(f"ingest of {source.name} printed no time: {said.strip()[-300:]}")
            starts.append(end - float(seconds.group(1)))
        span = max(e for e, _, _ in ends) - min(starts)
        messages = sum(len(p) for p in parts)
        result: dict[str, Any] = {
            "rate": messages / span,
            "seconds": span,
            "cpu": (client_cpu + samples["server_cpu"]) / messages,  # seconds a message, all processes
            "books": books(url),
        }
        if profile:
            result["profile"] = [
                json.loads((folder / f"profile-{i}.json").read_text()) for i in range(len(parts))
            ]
            result["samples"] = samples
        return result
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def books(url: str) -> dict[str, Any]:
    """What the writers left: the books, and the checks every contender must pass."""
    base, schema = url.rsplit("?schema=", 1)
    # A follower's catch-up (nothing to do when the writers folded their views themselves).
    subprocess.run(cli_command("project", db=url), env=cli_env(), capture_output=True, check=True)
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        statuses = {
            str(s): int(n)
            for s, n in all_rows(conn, "SELECT status, COUNT(*) FROM orders_view GROUP BY status")
        }
        trades = one_row(conn, "SELECT COUNT(*), SUM(quantity::numeric) FROM trades_view")
        positions = all_rows(
            conn,
            "SELECT account, venue, instrument, quantity, cost, realized_pnl FROM positions_view"
            " ORDER BY account, venue, instrument",
        )
        parked = one_row(conn, "SELECT COUNT(*) FROM parked")[0]
        count, low, high = one_row(
            conn, "SELECT COUNT(*), MIN(notification_id), MAX(notification_id) FROM events"
        )
        tracking = {str(v): int(p) for v, p in all_rows(conn, "SELECT view, position FROM view_tracking")}
    verify = subprocess.run(
        cli_command("verify", "--json", db=url), env=cli_env(), capture_output=True, text=True, check=False
    )
    return {
        "books": [
            dict(sorted(statuses.items())),
            [trades[0], str(trades[1])],
            [[str(v) for v in row] for row in positions],
        ],
        "parked": parked,
        "gapless": count == 0 or (low == 1 and high == count),
        "views_at_end": all(p == high for v, p in tracking.items() if not v.startswith("_")),
        "verified": verify.returncode == 0,
        "verify": verify.stdout.strip()[-400:] if verify.returncode else "",
    }


def one_row(conn: psycopg.Connection[Any], sql: str) -> tuple[Any, ...]:
    row = conn.execute(sql).fetchone()
    assert row is not None
    return tuple(row)


def all_rows(conn: psycopg.Connection[Any], sql: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in conn.execute(sql).fetchall()]


class Sampler:
    """The schema's writers on the server, in a thread: the CPU time of their backends (from
    ``/proc``, the server being on this machine) and, with ``states``, their ``pg_stat_activity``
    state every 5 ms (active, idle in transaction, waiting on a lock …)."""

    def __init__(self, base: str, *, states: bool) -> None:
        self.base, self.states = base, states
        self.counts: dict[str, int] = {}
        self.samples = 0
        self.cpu: dict[int, float] = {}  # backend pid → its CPU seconds when last seen
        self._tick = os.sysconf("SC_CLK_TCK")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with psycopg.connect(self.base, autocommit=True) as conn:
            me = one_row(conn, "SELECT pg_backend_pid()")[0]
            while not self._stop.is_set():
                rows = conn.execute(
                    "SELECT pid, state, wait_event_type, wait_event FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> %s AND backend_type = 'client backend'",
                    (me,),
                ).fetchall()
                for pid, *_ in rows:
                    try:
                        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                    except OSError:
                        continue
                    self.cpu[pid] = (int(fields[11]) + int(fields[12])) / self._tick  # utime + stime
                if self.states:
                    busy = [r for r in rows if r[1] not in ("idle", None)]
                    self.samples += bool(busy)
                    for _, state, kind, event in busy:
                        name = f"{state} / {kind or '-'}:{event or '-'}"
                        self.counts[name] = self.counts.get(name, 0) + 1
                time.sleep(0.005 if self.states else 0.02)

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        self._thread.join()
        counts = dict(sorted(self.counts.items(), key=lambda kv: -kv[1]))
        return {"samples": self.samples, "counts": counts, "server_cpu": sum(self.cpu.values())}


def summary(profiles: list[dict[str, Any]]) -> str:
    """One line per writer: commits, lock wait and held (median, total), catch-up, stale."""
    out = []
    for index, p in enumerate(profiles):
        held, wait, commit, catch = p["held"], p["wait"], p["commit"], p["catch_up"]
        out.append(
            f"  writer {index}: {len(commit)} commits, process {p['process']:.2f} s;"
            f" lock held {sum(held):.2f} s (median {1000 * statistics.median(held or [0]):.1f} ms),"
            f" waited {sum(wait):.2f} s (median {1000 * statistics.median(wait or [0]):.1f} ms),"
            f" commit() {sum(commit):.2f} s, views' catch-up after it {sum(catch):.2f} s;"
            f" attempts {p['attempts']}, stale {p['stale']}"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=5000, help="orders in the session (default 5,000)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each contender (default 3)")
    parser.add_argument("--writers", default="1,2,4", help="the contenders (default 1,2,4)")
    parser.add_argument(
        "--before", type=Path, help="another checkout whose writers run alternated with these"
    )
    parser.add_argument("--database", default="pgw", help="the server's database to use (default pgw)")
    parser.add_argument("--profile", action="store_true", help="time two writers' write path instead")
    parser.add_argument(
        "--no-project", action="store_true", help="writers leave the views (caught up after them, not timed)"
    )
    args = parser.parse_args(argv)
    ensure_database(args.database)
    messages = four_accounts(args.orders)
    extra = ("--no-project",) if args.no_project else ()
    counts = [int(n) for n in args.writers.split(",")]
    codes: list[tuple[str, Path | None]] = [("this checkout", None)]
    if args.before is not None:
        codes.insert(0, ("before", package_root(args.before)))
    with tempfile.TemporaryDirectory(prefix="pg-writers-") as temporary:
        folder = Path(temporary)
        if args.profile:
            for _ in range(args.rounds):
                for (label, root), writers in itertools.product(codes, (1, 2)):
                    parts = split(messages, writers)
                    result = run(parts, folder, args.database, profile=True, extra=extra, code=root)
                    print(f"{label}, {writers} writer(s): {result['rate']:,.0f} msg/s")
                    print(summary(result["profile"]))
                    samples = result["samples"]
                    print(f"  pg_stat_activity, {samples['samples']} samples with a writer busy:")
                    for name, n in list(samples["counts"].items())[:8]:
                        print(f"    {n / max(samples['samples'], 1):6.1%}  {name}")
            return 0
        contenders = [(label, root, n) for n in counts for label, root in codes]
        rates: dict[tuple[str, int], list[float]] = {(c[0], c[2]): [] for c in contenders}
        cpu: dict[tuple[str, int], list[float]] = {(c[0], c[2]): [] for c in contenders}
        reference: Any = None
        for round_no in range(args.rounds):
            for label, root, writers in contenders if round_no % 2 == 0 else contenders[::-1]:
                result = run(split(messages, writers), folder, args.database, extra=extra, code=root)
                check = result["books"]
                if reference is None and writers == 1:
                    reference = check["books"]
                problems = [
                    name
                    for name, bad in (
                        ("parked", check["parked"] != 0),
                        ("a gap in the log", not check["gapless"]),
                        ("views behind the log", not check["views_at_end"]),
                        (f"verify failed: {check['verify']}", not check["verified"]),
                        (
                            "other books than one writer's",
                            reference is not None and check["books"] != reference,
                        ),
                    )
                    if bad
                ]
                if problems:
                    raise SystemExit(f"{label}, {writers} writers: {'; '.join(problems)}")
                rates[label, writers].append(result["rate"])
                cpu[label, writers].append(result["cpu"])
                print(
                    f"round {round_no + 1}: {label}, {writers} writer(s) {result['rate']:,.0f} msg/s,"
                    f" CPU {1e6 * result['cpu']:.0f} µs a message (writers and their server backends)",
                    flush=True,
                )
    print(f"\n{len(messages):,} messages ({args.orders:,} orders, 4 accounts), {args.rounds} rounds")
    print(
        "| code | writers | msg/s (median) | spread (slowest / fastest) | × one writer (median of rounds,"
        " range) | fastest round, msg/s | × one writer's fastest | CPU µs a message (writers + server) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for label, _ in codes:
        for n in counts:
            mine, ones = rates[label, n], rates[label, counts[0]]
            ratios = [r / o for r, o in zip(mine, ones, strict=True)]
            print(
                f"| {label} | {n} | {statistics.median(mine):,.0f} | {max(mine) / min(mine):.2f}"
                f" | {statistics.median(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f})"
                f" | {max(mine):,.0f} | {max(mine) / max(ones):.2f}"
                f" | {1e6 * statistics.median(cpu[label, n]):.0f} |"
            )
    for label, _ in codes:
        if 2 in counts and 1 in counts:
            two = statistics.median(r / o for r, o in zip(rates[label, 2], rates[label, 1], strict=True))
            print(f"{label}: two writers / one {two:.2f} (target ≥ 1.4)")
    if args.before is not None:
        for n in counts:
            after = [a / b for a, b in zip(rates[codes[1][0], n], rates["before", n], strict=True)]
            print(
                f"{n} writer(s): this checkout / before {statistics.median(after):.2f} ({min(after):.2f}–{max(after):.2f})"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
