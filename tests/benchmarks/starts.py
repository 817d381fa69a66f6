"""How fast the command starts, with two checkouts of the code alternated in one run.

    .venv/bin/python tests/benchmarks/starts.py BEFORE AFTER            # e.g. a worktree of main, and .
    .venv/bin/python tests/benchmarks/starts.py BEFORE AFTER --rounds 21 --orders 2000

Two figures per checkout, each the median of its rounds:

- ``imports``: the import time of the command's entry (``orderledger.infrastructure.cli.main``)
  and of what ``orderledger orders --open --json`` then imports to run, read from
  ``python -X importtime`` (the sum of the top-level imports after the interpreter's own start);
- ``restart → open orders``: the wall time of a whole ``orderledger --db sqlite:///… orders
  --open --json`` process on a ledger holding a simulated session, from its start to its exit
  (the interpreter's start included).

Each round runs BEFORE and AFTER (the order alternating from round to round) in fresh processes,
on one ledger written once by AFTER's code; byte code is written before the first round, so no
round pays for compiling. The verdict is the ratio AFTER / BEFORE beside the spread of each
checkout's rounds (slowest / fastest), which says how much of a ratio is noise: the machine is
shared, so compare the two in one run, never figures of separate runs.

Both checkouts must be importable as ``orderledger`` from their own trees: a checkout's
``scripts/layout.py`` writes the tree of links (``.layout/``) it is imported from.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.bench import checkout_command, package_root, spread, two_checkouts, user_environment  # noqa: E402

READ = ["orders", "--open", "--json"]


def run(root: Path, database: Path, *args: str, importtime: bool = False) -> tuple[float, str]:
    """One ``orderledger --db DATABASE ARGS`` process: its wall time, and its stderr."""
    flags = ("-X", "importtime") if importtime else ()
    command = checkout_command(root, "--db", f"sqlite:///{database}", *args, flags=flags)
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=user_environment(), check=False)
    spent = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} with {root} failed: {done.stderr.strip()[-300:]}")
    return spent, done.stderr


def import_seconds(stderr: str) -> float:
    """The cumulative time of the imports the command made (top-level entries of ``-X
    importtime`` after ``site``: the interpreter's own start is not the command's)."""
    total = 0
    seen_site = False
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _, cumulative, name = line.removeprefix("import time:").split("|")
        if name.startswith(" ") and not name.startswith("  "):  # a top-level import
            if seen_site:
                total += int(cumulative)
            seen_site = seen_site or name.strip() == "site"
    return total / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = two_checkouts(__doc__)
    parser.add_argument("--rounds", type=int, default=15, help="runs per checkout and figure (default 15)")
    parser.add_argument("--orders", type=int, default=2000, help="orders in the simulated session")
    args = parser.parse_args(argv)
    roots = {"before": package_root(args.before.resolve()), "after": package_root(args.after.resolve())}
    figures: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="starts-") as temporary:
        work = Path(temporary)
        session, database = work / "session.jsonl", work / "ledger.db"
        simulated = subprocess.run(
            checkout_command(roots["after"], "simulate", "--orders", str(args.orders)),
            capture_output=True,
            env=user_environment(),
            check=True,
        ).stdout
        session.write_bytes(simulated)
        run(roots["after"], database, "ingest", str(session))
        for which in ("before", "after"):  # byte code written, the file in the page cache
            run(roots[which], database, *READ)
        for round_no in range(args.rounds):
            order = ("before", "after") if round_no % 2 == 0 else ("after", "before")
            for which in order:
                _, stderr = run(roots[which], database, *READ, importtime=True)
                figures.setdefault(("imports", which), []).append(import_seconds(stderr))
                wall, _ = run(roots[which], database, *READ)
                figures.setdefault(("restart → open orders", which), []).append(wall)
    sys.stdout.write(
        f"median of {args.rounds} rounds, `orderledger {' '.join(READ)}` on {args.orders} simulated orders"
        f" (before: {args.before}, after: {args.after})\n"
    )
    sys.stdout.write(f"{'figure':24} {'before':>9} {'after':>9} {'after/before':>13} {'spread b/a':>11}\n")
    for name in ("imports", "restart → open orders"):
        before = statistics.median(figures[(name, "before")])
        after = statistics.median(figures[(name, "after")])
        spreads = "/".join(f"{spread(figures[(name, which)]):.2f}" for which in ("before", "after"))
        sys.stdout.write(f"{name:24} {before:8.3f}s {after:8.3f}s {after / before:12.3f}x {spreads:>11}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
