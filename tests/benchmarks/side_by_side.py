"""Ingest and rebuild with two checkouts of the code, alternated in one run: is a change slower?

    .venv/bin/python tests/benchmarks/side_by_side.py BEFORE AFTER            # e.g. a worktree of main, and .
    .venv/bin/python tests/benchmarks/side_by_side.py BEFORE AFTER --rounds 3 --orders 2000   # quicker
    .venv/bin/python tests/benchmarks/side_by_side.py BEFORE AFTER --only ledger,rebuild --rounds 15

Every workload is written to a file once, then each round runs it with BEFORE's code and with
AFTER's code (the order of the two alternating from round to round), each in a fresh process on a
fresh SQLite file, so neither checkout profits from a warm cache the other paid for. A process
times only the work (``time.process_time`` around ``ingest_lines`` or ``rebuild``: CPU time,
which a busy machine disturbs far less than wall time), after its imports (those the ingest or
the rebuild makes on first use included: one line is ingested into, or the views rebuilt of, a
throw-away ledger first). The figure of a
workload is the median of its rounds; the verdict is the ratio AFTER / BEFORE, beside the
spread of each checkout's rounds (slowest / fastest), which says how much of a ratio is noise,
and the ratio of the two fastest rounds (what each checkout costs when nothing disturbs it: on a
machine whose spread is wide, the steadier of the two verdicts).

``--instructions`` counts instead the instructions each workload executes (valgrind's
cachegrind, without its cache simulation, and the same hash seed in every process): each run is
made twice, once doing everything but the work, and the difference is the work's. A count does
not depend on what else the machine does, so one round settles what timings on a busy machine
leave to the spread; it does not see what costs time without instructions (waiting on the disk,
cache misses), which the timed rounds do. A run takes 30 to 60 times longer under valgrind: use
fewer orders (``--orders 1000``).

Workloads:

- ``ledger``: a simulated session (``simulate_lines``) in the ledger's JSON-lines format;
- ``rebuild``: every view of that ledger refolded from its log;
- ``reads``: the Python API's list reads of that ledger (orders, trades, events, messages: a
  counted page of 5,000 rows and a page of 50 each), its open orders and its positions;
- ``fix``: a FIX session log (tests/support/fixlog.py), through the FIX adapter;
- ``ccxt``: the published ccxt examples of docs/examples/ (ccxt-*.jsonl), each copied with its
  order and trade IDs renamed per copy, through the ccxt adapter;
- ``tradier``: polls of the Tradier Orders reference's order (tests/support/tradier_examples.py),
  one new order per poll, through the Tradier adapter.

Both checkouts must be importable as ``orderledger`` from their own trees: a checkout's
``scripts/layout.py`` writes the tree of links (``.layout/``) it is imported from.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from orderledger.infrastructure.application.simulator import simulate_lines  # noqa: E402
from tests.support.bench import package_root, spread, two_checkouts  # noqa: E402
from tests.support.fixlog import session_lines  # noqa: E402
from tests.support.tradier_examples import AAPL  # noqa: E402

CCXT_EXAMPLES = {  # file → (venue, account), as docs/venues.md ingests them
    "ccxt-binance.jsonl": ("binanceusdm", "acc1"),
    "ccxt-okx.jsonl": ("okx", "acc1"),
    "ccxt-bybit.jsonl": ("bybit", "acc1"),
    "ccxt-kraken.jsonl": ("kraken", "acc1"),
    "ccxt-hyperliquid.jsonl": ("hyperliquid", "0x5c902b2eb0e1d9eb9a232014824ae6247df0a480"),
}
LEDGER_WORK = ("ledger", "rebuild", "reads")
"""The workloads on the one ledger the ``ledger`` workload writes (in this order in a round)."""
ID_KEYS = ("id", "order", "clientOrderId")
"""The unified structures' identifiers a copy renames (wherever the same value appears)."""

CHILD = r"""
import inspect, itertools, json, os, sys, time
from datetime import UTC, datetime, timedelta
sys.path.insert(0, sys.argv[1])
from orderledger.infrastructure.application import ledger as ledger_module
from orderledger.infrastructure.application.ledger import OrderLedger
assert ledger_module.__file__.startswith(sys.argv[1]), ledger_module.__file__  # this checkout's code
task, database, source, fmt, venue, account = sys.argv[2:8]
start, tick = datetime(2026, 11, 25, tzinfo=UTC), itertools.count()
clock = lambda: start + timedelta(microseconds=137 * next(tick))
ledger = OrderLedger("sqlite:///" + database, batch_size=1000, clock=clock)
skip = os.environ.get("SIDE_BY_SIDE_SKIP_WORK") == "1"  # everything but the work (--instructions)
if task == "rebuild":
    with OrderLedger("memory://") as warm:  # what a rebuild imports on first use, as for the ingest below
        # (a checkout from before the calls were grouped by concern has them on the ledger)
        getattr(warm, "upkeep", warm).rebuild()
    began = time.process_time()
    events, _ = (0, 0) if skip else getattr(ledger, "upkeep", ledger).rebuild()
    spent = time.process_time() - began
    counts = {"events": events}
elif task == "reads":
    began = time.process_time()
    counts = {}
    for listed in () if skip else ("orders", "trades", "events", "messages"):
        read = getattr(getattr(ledger, "audit", ledger) if listed == "messages" else ledger, listed)
        # A checkout from before pages were counted reads its first page without the count
        # (less work than the count asks of a checkout that has it).
        counted = "count" in inspect.signature(read).parameters
        first = read(limit=5000, count=True) if counted else read(limit=5000)
        small = read(limit=50)
        counts[listed] = [len(first), len(small)]
        if counted:
            counts[listed + " total"] = first.total
    if not skip:
        counts["open"] = len(ledger.orders(open=True, limit=5000))
        counts["positions"] = len(ledger.positions())
    spent = time.process_time() - began
else:
    lines = open(source, "rb").read().splitlines()
    # What the ingest imports or builds on first use is done before the timing, as every import
    # is: the first line of each message type into a throw-away ledger (a checkout that imports
    # the ingest path lazily, or builds a message model when its first message comes, would
    # otherwise count that as work).
    # A checkout from before the keyword was named ``format`` names it ``fmt``.
    named = "format" if "format" in inspect.signature(ledger.ingest_lines).parameters else "fmt"
    given = {named: fmt, "venue": venue or None, "account": account or None}
    kinds = {}
    for line in lines:
        try:
            kinds.setdefault(json.loads(line).get("type"), line)
        except (ValueError, AttributeError):
            pass  # (not a JSON object: another format, warmed by its first line)
    with OrderLedger("memory://") as warm:
        warm.ingest_lines([lines[0], *kinds.values()], **given)
    began = time.process_time()
    report = None if skip else ledger.ingest_lines(lines, **given)
    spent = time.process_time() - began
    counts = {} if report is None else {"lines": len(lines), "events": report.events,
              **{str(k.value): v for k, v in report.counts.items() if v}}
ledger.close()
print(json.dumps({"seconds": spent, "counts": counts}))
"""


def _renamed(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _renamed(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v, names) for v in value]
    if isinstance(value, str):
        return names.get(value, value)
    if isinstance(value, int) and not isinstance(value, bool) and str(value) in names:
        return int(names[str(value)])
    return value


def _ids(value: Any, found: set[str]) -> None:
    """The identifiers of the unified structures in a payload (an order, a trade or a list)."""
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, dict):
            found.update(str(item[k]) for k in ID_KEYS if item.get(k) not in (None, ""))


def ccxt_copies(path: Path, copies: int) -> list[bytes]:
    """``copies`` of a ccxt example file, copy ``n``'s identifiers suffixed with ``n`` (digits)."""
    payloads = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    found: set[str] = set()
    for payload in payloads:
        _ids(payload, found)
    out: list[bytes] = []
    for n in range(copies):
        names = {name: f"{name}{n:06d}" for name in found}
        out.extend(json.dumps(_renamed(p, names), separators=(",", ":")).encode() for p in payloads)
    return out


def tradier_polls(count: int) -> list[bytes]:
    """Polls of the Orders reference's order, each reply a new order (id 500000 + n)."""
    return [
        json.dumps({"orders": {"order": dict(AAPL, id=500_000 + n, status="open")}}).encode()
        for n in range(count)
    ]


def workloads(orders: int, work: Path) -> list[dict[str, str]]:
    """Each workload's input written to a file: (name, task, file, format, venue, account)."""

    def written(name: str, lines: list[bytes]) -> str:
        path = work / f"{name}.input"
        path.write_bytes(b"\n".join(lines) + b"\n")
        return str(path)

    ledger_lines = [line.encode() if isinstance(line, str) else line for line in simulate_lines(3, orders)]
    items = [
        {"name": "ledger", "task": "ingest", "file": written("ledger", ledger_lines), "format": "ledger"},
        {"name": "rebuild", "task": "rebuild", "file": "", "format": ""},
        {"name": "reads", "task": "reads", "file": "", "format": ""},
        {
            "name": "fix",
            "task": "ingest",
            "file": written("fix", session_lines(orders // 2)),
            "format": "fix",
            "venue": "desk1",
        },
        {
            "name": "tradier",
            "task": "ingest",
            "file": written("tradier", tradier_polls(orders)),
            "format": "tradier",
            "venue": "tradier",
            "account": "VA000000",
        },
    ]
    for file, (venue, account) in CCXT_EXAMPLES.items():
        lines = ccxt_copies(ROOT / "docs" / "examples" / file, max(1, orders // 20))
        name = file.removesuffix(".jsonl")
        items.append({"name": name, "task": "ingest", "file": written(name, lines), "format": "ccxt",
                      "venue": venue, "account": account})  # fmt: skip
    return items


def run_one(
    root: Path, item: dict[str, str], database: Path, *, instructions: bool = False
) -> dict[str, Any]:
    command = [str(root), item["task"], str(database), item["file"], item["format"],
               item.get("venue", ""), item.get("account", "")]  # fmt: skip
    if not instructions:
        return _child(item, [sys.executable, "-c", CHILD, *command], {})
    # Everything but the work first (on a scratch file for an ingest, which would otherwise
    # create the ledger the work then finds made), then the work: the difference is the work's.
    scratch = database.with_name(database.name + ".scratch") if item["task"] == "ingest" else database
    counted = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
    setup = _child(item, [*counted, sys.executable, "-c", CHILD, *command[:2], str(scratch), *command[3:]],
                   {"SIDE_BY_SIDE_SKIP_WORK": "1"})  # fmt: skip
    if scratch != database:
        _remove(scratch)
    result = _child(item, [*counted, sys.executable, "-c", CHILD, *command], {})
    result["instructions"] = result["instructions"] - setup["instructions"]
    return result


def _remove(database: Path) -> None:
    """A SQLite ledger's file and its write-ahead log, if there."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)


def _child(item: dict[str, str], command: list[str], env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONHASHSEED": "0", **env},
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise SystemExit(f"{item['name']} ({' '.join(command[-7:-5])}) failed: {last}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    counted = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if counted is not None:
        result["instructions"] = int(counted.group(1).replace(",", ""))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = two_checkouts(__doc__)
    parser.add_argument(
        "--rounds", type=int, default=7, help="runs of each workload per checkout (default 7)"
    )
    parser.add_argument("--orders", type=int, default=7000, help="orders in the simulated session")
    parser.add_argument("--only", default="", help="comma-separated workloads to run (default: all)")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count each workload's instructions (valgrind) instead of timing it",
    )
    args = parser.parse_args(argv)
    if args.instructions and shutil.which("valgrind") is None:
        parser.error("--instructions counts with valgrind, which is not installed")
    roots = {"before": package_root(args.before.resolve()), "after": package_root(args.after.resolve())}
    with tempfile.TemporaryDirectory(prefix="side-by-side-") as temporary:
        work = Path(temporary)
        items = workloads(args.orders, work)
        if args.only:
            wanted = {name for name in args.only.split(",") if name}
            unknown = wanted - {item["name"] for item in items}
            if unknown:
                parser.error(
                    f"no workload {', '.join(sorted(unknown))}; there are {', '.join(i['name'] for i in items)}"
                )
            if wanted & {"rebuild", "reads"}:
                wanted.add("ledger")  # the rebuild refolds, and the reads read, the ledger workload's file
            items = [item for item in items if item["name"] in wanted]
        seconds: dict[tuple[str, str], list[float]] = {}
        counts: dict[tuple[str, str], Any] = {}
        for round_no in range(args.rounds):
            order = ("before", "after") if round_no % 2 == 0 else ("after", "before")
            for which in order:
                ledger_db = work / f"{which}-{round_no}-ledger.db"
                for item in items:
                    database = ledger_db if item["name"] in LEDGER_WORK else work / f"{which}-x.db"
                    if item["name"] not in LEDGER_WORK:
                        _remove(database)
                    result = run_one(roots[which], item, database, instructions=args.instructions)
                    figure = result["instructions"] / 1e6 if args.instructions else result["seconds"]
                    seconds.setdefault((item["name"], which), []).append(figure)
                    counts[(item["name"], which)] = result["counts"]
                _remove(ledger_db)
            sys.stdout.write(f"round {round_no + 1}/{args.rounds} done\n")
            sys.stdout.flush()
    unit = "Millions of instructions" if args.instructions else "CPU seconds"
    sys.stdout.write(
        f"\n{unit}, median of {args.rounds} rounds (before: {args.before}, after: {args.after})\n"
    )
    sys.stdout.write(
        f"{'workload':24} {'before':>9} {'after':>9} {'after/before':>13} {'spread b/a':>13} {'fastest a/b':>12}  outcomes\n"
    )
    for item in items:
        name = item["name"]
        before = statistics.median(seconds[(name, "before")])
        after = statistics.median(seconds[(name, "after")])
        same = "" if _same(counts[(name, "before")], counts[(name, "after")]) else "  OUTCOMES DIFFER"
        spreads = "/".join(f"{spread(seconds[(name, which)]):.2f}" for which in ("before", "after"))
        fastest = min(seconds[(name, "after")]) / min(seconds[(name, "before")])
        sys.stdout.write(
            f"{name:24} {before:9.3f} {after:9.3f} {after / before:12.3f}x {spreads:>13} {fastest:11.3f}x"
            f"  {counts[(name, 'after')]}{same}\n"
        )
    differ = [
        i["name"] for i in items if not _same(counts[(i["name"], "before")], counts[(i["name"], "after")])
    ]
    return 1 if differ else 0


def _same(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Whether two runs of a workload report the same outcomes, on what both report (a checkout
    from before pages were counted reports no totals)."""
    reported_once = before.keys() ^ after.keys()
    shared = before.keys() & after.keys()
    return all(k.endswith(" total") for k in reported_once) and all(before[k] == after[k] for k in shared)


if __name__ == "__main__":
    sys.exit(main())
