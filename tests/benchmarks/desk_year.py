"""A desk's year in one run: every benchmark behind the table "A desk's year: where each read
stands" (docs/benchmarks.md), each at the desk's size and each printing its figures beside its
contender, one after the other on this machine.

    .venv/bin/python tests/benchmarks/desk_year.py            # the desk's size (hours); prints
    .venv/bin/python tests/benchmarks/desk_year.py --write    # and puts every output in the docs
    .venv/bin/python tests/benchmarks/desk_year.py --quick    # small sizes, prints only
    .venv/bin/python tests/benchmarks/desk_year.py --only series,verify

The desk's size is the simulator's 100,000-order session (lists, lots, the P&L, as-of reads, the
series, verify, a restart on a large ledger) and a 10M-event history (the lake); the writers on
PostgreSQL and the bytes per message are measured on the sessions their sections name. Each step
is its own process (a benchmark's imports and caches never time another's), and its output goes
to the terminal as it comes. With ``--write`` the outputs, the machine and each step's minutes
replace what lies between the markers ``<!-- desk-year -->`` and ``<!-- /desk-year -->`` of
docs/benchmarks.md; the table's verdicts are read from them, as each section says.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "benchmarks.md"
MARKERS = ("<!-- desk-year -->", "<!-- /desk-year -->")


@dataclass(frozen=True)
class Step:
    """One benchmark: its name, the table's rows it measures, and its arguments at the desk's
    size and at a small one."""

    name: str
    rows: str
    script: str
    desk: tuple[str, ...]
    quick: tuple[str, ...]


HERE = str(ROOT)
STEPS = (
    Step(
        "lists",
        "lists; the first page of any list",
        "list_reads.py",
        ("--orders", "100000", "--rounds", "1"),
        ("--orders", "2000", "--rounds", "1"),
    ),
    Step(
        "lots",
        "`lots`, `positions --cost-basis`, `pnl --cost-basis`, `pnl --daily`, `lots --closed`",
        "lot_reads.py",
        ("--orders", "100000", "--rounds", "3"),
        ("--orders", "2000", "--rounds", "1", "--tail", "200"),
    ),
    Step(
        "by-group",
        "`pnl` by parent or tag, `pnl --daily` by parent or tag",
        "pnl_by_group.py",
        ("--orders", "100000"),
        ("--orders", "2000", "--rounds", "1"),
    ),
    Step(
        "as-of",
        "`lots --as-of`, `positions --cost-basis RULE --as-of`, `lots --closed --as-of`",
        "lots_as_of.py",
        ("--orders", "100000"),
        ("--orders", "2000", "--rounds", "1"),
    ),
    Step(
        "series",
        "the P&L tab's series",
        "pnl_series.py",
        ("--orders", "100000", "--points", "500", "50"),
        ("--orders", "2000", "--rounds", "1", "--points", "50"),
    ),
    Step(
        "verify",
        "full verify",
        "verify.py",
        ("--orders", "100000", "--new", "2000", "--rounds", "1"),
        ("--orders", "2000", "--new", "200", "--rounds", "1"),
    ),
    Step(
        "lake",
        "`export lake` at 10M events",
        "analytics.py",
        ("--events", "10000000"),
        ("--events", "100000", "--rounds", "1"),
    ),
    Step("storage", "bytes per message", "storage.py", ("--orders", "20000"), ("--orders", "2000")),
    Step(
        "writers",
        "two PostgreSQL writers owning different accounts",
        "pg_writers.py",
        ("--orders", "5000", "--rounds", "7"),
        ("--orders", "500", "--rounds", "1"),
    ),
    Step(
        "starts",
        "imports of a read command; restart → open orders",
        "starts.py",
        (HERE, HERE, "--rounds", "15", "--orders", "100000"),
        (HERE, HERE, "--rounds", "3", "--orders", "500"),
    ),
    Step(
        "first-ack",
        "first `ingest -` acknowledgement",
        "first_ack.py",
        (HERE, HERE, "--orders", "100000"),
        (HERE, HERE, "--orders", "2000", "--rounds", "3", "--cache", "/tmp/orderledger-first-ack-quick"),
    ),
)


def run(step: Step, quick: bool) -> tuple[str, float, int]:
    """The step's output (as it printed it, here too), its minutes and its exit status."""
    command = [
        sys.executable,
        str(ROOT / "tests" / "benchmarks" / step.script),
        *(step.quick if quick else step.desk),
    ]
    print(f"\n== {step.name}: {step.rows}\n$ {' '.join(command[1:])}", flush=True)
    began = time.monotonic()
    lines: list[str] = []
    with subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            print(line, end="", flush=True)
            lines.append(line)
    return "".join(lines), (time.monotonic() - began) / 60, process.returncode


def section(outputs: list[tuple[Step, str, float, int]], began: datetime) -> str:
    """The docs' section between the markers: the machine, then each step's command and output."""
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    parts = [
        MARKERS[0],
        f"Run of {began:%Y-%m-%d} at commit {commit or 'unknown'} ({platform.machine()}, {os.cpu_count()} cores,"
        f" Python {platform.python_version()}; load average at the end {load}), each step in a process of its own:",
        "",
    ]
    for step, text, minutes, code in outputs:
        status = "" if code == 0 else f", exit status {code}"
        parts += [
            f"**{step.name}** ({step.rows}; {minutes:.1f} min{status}): `tests/benchmarks/{step.script}"
            f" {' '.join(a for a in step.desk if a != HERE)}`",
            "",
            "```text",
            text.rstrip(),
            "```",
            "",
        ]
    parts.append(MARKERS[1])
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes; prints only")
    parser.add_argument("--write", action="store_true", help="put the outputs in docs/benchmarks.md")
    parser.add_argument(
        "--only", default="", help=f"some steps, comma-separated: {', '.join(s.name for s in STEPS)}"
    )
    args = parser.parse_args(argv)
    wanted = [name for name in args.only.split(",") if name]
    unknown = [name for name in wanted if name not in {s.name for s in STEPS}]
    if unknown:
        parser.error(f"no step is named {unknown[0]!r}: the steps are {', '.join(s.name for s in STEPS)}")
    if args.write and (args.quick or wanted):
        parser.error("--write takes the whole run at the desk's size (not --quick or --only)")
    began = datetime.now(UTC)
    outputs = [(step, *run(step, args.quick)) for step in STEPS if not wanted or step.name in wanted]
    failed = [step.name for step, _, _, code in outputs if code]
    print(
        f"\n{len(outputs)} steps in {sum(o[2] for o in outputs):.1f} min"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    if args.write and not failed:
        text = DOCS.read_text(encoding="utf-8")
        start, end = text.index(MARKERS[0]), text.index(MARKERS[1]) + len(MARKERS[1])
        DOCS.write_text(text[:start] + section(outputs, began) + text[end:], encoding="utf-8")
        print(f"wrote {DOCS.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
