"""How soon `orderledger ingest - --acks` acknowledges its first line, with two checkouts of the
code alternated in one run.

    .venv/bin/python tests/benchmarks/first_ack.py BEFORE AFTER              # e.g. a worktree of main, and .
    .venv/bin/python tests/benchmarks/first_ack.py BEFORE AFTER --orders 20000 --rounds 9

Each figure is the wall time from launching ``orderledger --db sqlite:///… ingest - --acks`` (a
fresh interpreter: its start and every import count) to the first acknowledgement line on its
standard output, for one new order written into its standard input as soon as it is launched.
The pipe is kept open until the acknowledgement has come, so the line is committed because the
input paused, as a live feed's would be; then it is closed and the process must exit 0.

Beside it, the CPU time of the whole process (user and system, every thread, from its start to
its exit): steadier than wall time on a busy machine, it shows what the work costs, where the
wall time shows how much of it the first acknowledgement waits for (a check read on the other
core costs CPU time but not wall time, when a core is free).

Three ledgers, each figure the median of its rounds:

- ``large, restart``: a ledger holding a simulated session of ``--orders`` orders, last closed
  cleanly by the previous round's process (the usual restart of a writer);
- ``large, unknown file``: the same ledger with its ``-checked`` record deleted first, as a copy,
  a restored backup or a file written by something else is: the file has not been seen sound by
  a ledger process, and is checked before anything is written into it;
- ``new ledger``: a file that does not exist yet (the floor: nothing on disk to read).

Every round writes an order of its own (a client order ID named after the run, the round and the
checkout), so each line is new to the ledger and is applied, never a duplicate. The session is
ingested once, by AFTER's code, and the ledger kept in ``--cache`` (a 100,000-order session takes
over a minute to ingest); delete it there to build it again. Byte code is written and the file is
in the page cache before the first round.

The verdict is the ratio AFTER / BEFORE beside each checkout's spread (slowest / fastest round),
which says how much of a ratio is noise, and the ratio of each checkout's fastest round (what each
costs when nothing disturbs it): the machine is shared, so compare the two in one run, never the
figures of separate runs. Both checkouts must be importable as ``orderledger`` from
their own trees (``scripts/layout.py`` writes the ``.layout/`` they are imported from).
"""

from __future__ import annotations

import json
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

from orderledger.infrastructure.application.simulator import simulate_lines  # noqa: E402
from tests.support.bench import checkout_command, package_root, spread, two_checkouts, user_environment  # noqa: E402

LEDGERS = ("large, restart", "large, unknown file", "new ledger")
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "orderledger-first-ack"


def _order(client_order_id: str) -> bytes:
    message = {
        "type": "request",
        "client_order_id": client_order_id,
        "account": "first-ack",
        "venue": "venueA",
        "instrument": "BTC/USD",
        "side": "buy",
        "order_type": "limit",
        "quantity": "1",
        "price": "100",
        "ts": "2026-11-21T10:00:00Z",
    }
    return json.dumps(message).encode() + b"\n"


def first_ack(root: Path, database: Path, client_order_id: str) -> tuple[float, float]:
    """Seconds from the launch of ``ingest - --acks`` to its first acknowledgement line, and the
    CPU seconds (user and system, all its threads) of the whole process."""
    command = checkout_command(root, "--db", f"sqlite:///{database}", "ingest", "-", "--acks")
    spent = _children_cpu()
    began = time.perf_counter()
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=user_environment()
    ) as process:
        assert process.stdin is not None and process.stdout is not None and process.stderr is not None
        process.stdin.write(_order(client_order_id))
        process.stdin.flush()  # the pipe stays open: the line is committed because the input paused
        ack = process.stdout.readline()
        seconds = time.perf_counter() - began
        process.stdin.close()
        rest = process.stdout.read()
        error = process.stderr.read().decode(errors="replace")
    if process.returncode != 0 or not ack:
        raise SystemExit(f"ingest with {root} failed: {error.strip()[-300:]}")
    acknowledged = json.loads(ack)
    if acknowledged.get("outcome") != "applied" or acknowledged.get("client_order_id") != client_order_id:
        raise SystemExit(f"ingest with {root} acknowledged {ack!r} ({rest[-200:]!r})")
    return seconds, _children_cpu() - spent


def _children_cpu() -> float:
    """The CPU seconds of this process's ended children (one runs at a time)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def large_ledger(root: Path, cache: Path, orders: int) -> Path:
    """The ledger of a simulated session of ``orders`` orders, ingested once and kept in ``cache``."""
    cache.mkdir(parents=True, exist_ok=True)
    database = cache / f"ledger-{orders}.db"
    if database.exists():
        return database
    session = cache / f"session-{orders}.jsonl"
    with session.open("w", encoding="utf-8") as out:
        for line in simulate_lines(3, orders):
            out.write(line + "\n")
    building = cache / f"building-{orders}.db"
    for leftover in cache.glob(f"building-{orders}.db*"):
        leftover.unlink()
    sys.stdout.write(f"ingesting {orders} simulated orders into {database} (once; kept for later runs)\n")
    sys.stdout.flush()
    command = checkout_command(root, "--db", f"sqlite:///{building}", "ingest", str(session))
    subprocess.run(command, env=user_environment(), check=True, stdout=subprocess.DEVNULL)
    building.rename(database)
    Path(f"{building}-checked").unlink(missing_ok=True)  # (the warm-up's first run checks it)
    session.unlink()
    return database


def main(argv: list[str] | None = None) -> int:
    parser = two_checkouts(__doc__)
    parser.add_argument("--rounds", type=int, default=9, help="runs per checkout and ledger (default 9)")
    parser.add_argument(
        "--orders", type=int, default=100_000, help="orders in the large ledger (default 100000)"
    )
    parser.add_argument(
        "--cache", type=Path, default=DEFAULT_CACHE, help=f"where the large ledger is kept ({DEFAULT_CACHE})"
    )
    args = parser.parse_args(argv)
    roots = {"before": package_root(args.before.resolve()), "after": package_root(args.after.resolve())}
    database = large_ledger(roots["after"], args.cache.resolve(), args.orders)
    marker = Path(f"{database}-checked")
    run = f"{os.getpid()}-{int(time.time())}"
    walls: dict[tuple[str, str], list[float]] = {}
    cpus: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="first-ack-") as temporary:
        work = Path(temporary)
        for which in ("before", "after"):  # byte code written, the file in the page cache, checked once
            first_ack(roots[which], database, f"warm-{run}-{which}")
            shutil.copyfile(database, os.devnull)
        for round_no in range(args.rounds):
            order = ("before", "after") if round_no % 2 == 0 else ("after", "before")
            for which in order:
                name = f"{run}-{round_no}-{which}"
                paths = (database, database, work / f"new-{name}.db")
                for index, (ledger, path) in enumerate(zip(LEDGERS, paths, strict=True)):
                    if ledger == LEDGERS[1]:
                        marker.unlink(missing_ok=True)
                    wall, cpu = first_ack(roots[which], path, f"{index}-{name}")
                    walls.setdefault((ledger, which), []).append(wall)
                    cpus.setdefault((ledger, which), []).append(cpu)
    sys.stdout.write(
        f"median of {args.rounds} rounds, large ledger: {args.orders} simulated orders,"
        f" {database.stat().st_size / 1e6:,.0f} MB (before: {args.before}, after: {args.after};"
        f" load average {os.getloadavg()[0]:.1f})\n"
    )
    _table("launch → first acknowledgement, wall", walls)
    _table("the whole process, CPU (all threads)", cpus)
    return 0


def _table(title: str, figures: dict[tuple[str, str], list[float]]) -> None:
    sys.stdout.write(
        f"{title:38} {'before':>9} {'after':>9} {'after/before':>13} {'spread b/a':>11} {'fastest a/b':>12}\n"
    )
    for name in LEDGERS:
        runs = {which: figures[(name, which)] for which in ("before", "after")}
        before, after = (statistics.median(runs[which]) for which in ("before", "after"))
        spreads = "/".join(f"{spread(runs[which]):.2f}" for which in ("before", "after"))
        fastest = min(runs["after"]) / min(runs["before"])
        sys.stdout.write(
            f"  {name:36} {before:8.3f}s {after:8.3f}s {after / before:12.3f}x {spreads:>11} {fastest:11.3f}x\n"
        )


if __name__ == "__main__":
    sys.exit(main())
