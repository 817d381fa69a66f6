"""Helpers for the command-line tests: run the real ``orderledger`` command and read what it says.

The command runs as ``python -m orderledger`` with this checkout first on PYTHONPATH, so the
tests exercise the code beside them whichever virtualenv runs them. Every run has a timeout, a
working directory of the test's choosing and an environment without ``ORDERLEDGER_*`` variables
(a developer's own database URL must never leak into a test).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support import forked_cli
from tests.support.postgres import private_schema, require_postgres

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120.0
"""Seconds any single command may take before the test fails."""

STATUSES = frozenset(
    {
        "requested",
        "held",
        "accepted",
        "partially_filled",
        "filled",
        "pending_cancel",
        "pending_amend",
        "canceled",
        "rejected",
        "expired",
    }
)
"""Every status, spelled as in docs/semantics.md."""
OPEN_STATUSES = STATUSES - {"filled", "canceled", "rejected", "expired"}

PNL_GROUPINGS = ("day", "account", "venue", "instrument", "tag:strategy")


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for one command: this checkout importable, no ORDERLEDGER_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERLEDGER_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


def cli_command(*args: str, db: str | None = None) -> list[str]:
    """The argv of one ``orderledger`` command (``--db`` goes before the subcommand)."""
    return [sys.executable, "-m", "orderledger", *(("--db", db) if db else ()), *args]


@dataclass(frozen=True)
class Run:
    """One finished command."""

    args: Sequence[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def stderr_lines(self) -> list[str]:
        """Every line written to stderr, blank ones included."""
        return self.stderr.splitlines()

    def json(self) -> Any:
        """The stdout parsed as JSON, after checking that the command succeeded quietly."""
        assert self.returncode == 0, self.describe()
        assert self.stderr == "", self.describe()
        return json.loads(self.stdout)

    def describe(self) -> str:
        """What ran and what it said, for assertion messages."""
        return (
            f"$ orderledger {' '.join(self.args)}\nexit {self.returncode}\n"
            f"--- stdout\n{self.stdout[-3000:]}\n--- stderr\n{self.stderr[-3000:]}"
        )


def run_cli(
    *args: str,
    db: str | None,
    cwd: Path,
    stdin: str | bytes | None = None,
    env: dict[str, str] | None = None,
    timeout: float = TIMEOUT,
    fresh: bool = False,
) -> Run:
    """Run one command to completion and capture what it printed: in a process forked from one
    that has imported the command line (``tests.support.forked_cli``), or a new interpreter
    (``fresh``: one whose start is part of what the test measures)."""
    data = stdin.encode() if isinstance(stdin, str) else stdin
    shown = [*(("--db", db) if db else ()), *args]
    if not (fresh or forked_cli.fresh()):
        code, out, err = forked_cli.run(
            shown,
            cwd=cwd,
            env=env if env is not None else cli_env(),
            stdin=data,
            timeout=timeout,
            root=ROOT,
            server_env=cli_env(),
        )
        return Run(shown, code, out.decode(), err.decode())
    done = subprocess.run(
        cli_command(*args, db=db),
        cwd=cwd,
        env=env if env is not None else cli_env(),
        input=data,
        stdin=None if data is not None else subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    return Run(shown, done.returncode, done.stdout.decode(), done.stderr.decode())


_ENTRY_POINT = r"""
import contextlib, io, json, sys
sys.argv = ["orderledger", *sys.argv[1:]]
from orderledger.infrastructure.cli.main import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        main()
    except SystemExit as done:
        code = done.code
sys.stderr.write(json.dumps({"code": code, "out": out.getvalue(), "modules": sorted(sys.modules)}))
"""


def through_entry_point(db: str, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """``orderledger --db DB ARGS`` run by the console entry point in a fresh interpreter (its
    ``sys.modules`` its own): its exit code (``code``), what it printed (``out``), the lines it
    wrote on stderr (``warnings``) and the modules it imported (``modules``)."""
    done = subprocess.run(
        [sys.executable, "-c", _ENTRY_POINT, "--db", db, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=TIMEOUT,
    )
    *warnings, last = done.stderr.strip().splitlines()
    found: dict[str, Any] = json.loads(last)
    found["warnings"] = warnings
    return found


def start_piped(argv: Sequence[str], cwd: Path) -> subprocess.Popen[bytes]:
    """A running process of ``argv`` in the commands' environment, stdin, stdout and stderr piped
    (unbuffered)."""
    return subprocess.Popen(
        argv,
        cwd=cwd,
        env=cli_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
    )


def live_ingest(db: str, cwd: Path) -> subprocess.Popen[bytes]:
    """A running ``orderledger ingest - --acks``: write lines to its stdin (unbuffered), read one
    JSON acknowledgement per line from its stdout."""
    return start_piped(cli_command("ingest", "-", "--acks", db=db), cwd)


def cli_json(*args: str, db: str | None, cwd: Path) -> Any:
    """Run a query with ``--json`` and return the parsed output (it must succeed, silently)."""
    return run_cli(*args, "--json", db=db, cwd=cwd).json()


def assert_one_line_failure(run: Run, code: int | None = None) -> str:
    """The contract for every failure: non-zero exit, one line on stderr, no traceback.

    Returns that line.
    """
    assert run.returncode != 0, run.describe()
    if code is not None:
        assert run.returncode == code, run.describe()
    assert "Traceback" not in run.stderr + run.stdout, run.describe()
    assert len(run.stderr_lines) == 1, run.describe()
    assert run.stdout == "", run.describe()
    line = run.stderr_lines[0]
    assert line.startswith("orderledger: "), run.describe()
    return line


# ---------------------------------------------------------------------- ingest's summary

_SUMMARY = re.compile(
    r"^(?P<lines>\d+) lines: (?P<counts>[^;]*); (?P<events>\d+) events in (?P<seconds>[\d.]+) s"
    r" \((?P<rate>[\d,]+) events/s\)$"
)
OUTCOMES = ("applied", "duplicate", "parked", "ignored", "rejected")


@dataclass(frozen=True)
class IngestSummary:
    """The closing line of ``ingest``: lines read, a count per outcome, events and time."""

    lines: int
    counts: dict[str, int]
    events: int
    seconds: float
    rate: int


def parse_ingest(stdout: str) -> IngestSummary:
    """Read the summary line ``ingest`` prints (the last line of its stdout)."""
    text = stdout.strip().splitlines()
    assert text, "ingest printed nothing on stdout"
    found = _SUMMARY.match(text[-1])
    assert found is not None, f"not an ingest summary: {text[-1]!r}"
    counts = {}
    for part in found["counts"].split(", "):
        number, outcome = part.split(" ", 1)
        counts[outcome] = int(number)
    return IngestSummary(
        lines=int(found["lines"]),
        counts=counts,
        events=int(found["events"]),
        seconds=float(found["seconds"]),
        rate=int(found["rate"].replace(",", "")),
    )


def ingest(
    path: Path | str, *, db: str, cwd: Path, strict: bool = False, fresh: bool = False
) -> tuple[Run, IngestSummary]:
    """Ingest a file and read the summary line (for standard input, use run_cli with stdin)."""
    run = run_cli("ingest", str(path), *(("--strict",) if strict else ()), db=db, cwd=cwd, fresh=fresh)
    assert "Traceback" not in run.stderr, run.describe()
    return run, parse_ingest(run.stdout)


def write_lines(path: Path, lines: Iterable[str]) -> Path:
    """Write JSON lines to a file, one per line."""
    with path.open("w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(line.rstrip("\n") + "\n")
    return path


def jsonl(*messages: dict[str, Any]) -> list[str]:
    """Messages as compact JSON lines, in the ledger's format."""
    return [json.dumps(m, separators=(",", ":")) for m in messages]


# ---------------------------------------------------------------------- whole-ledger snapshots


def run_many(commands: Sequence[Sequence[str]], *, db: str | None, cwd: Path) -> list[Run]:
    """Run independent commands (queries) a few at a time; results in the order given."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda args: run_cli(*args, db=db, cwd=cwd), commands))


def json_many(commands: Sequence[Sequence[str]], *, db: str | None, cwd: Path) -> list[Any]:
    """``cli_json`` for several queries at once."""
    return [run.json() for run in run_many([(*args, "--json") for args in commands], db=db, cwd=cwd)]


def view_outputs(
    db: str, cwd: Path, marks: Sequence[str] = (), groupings: Sequence[str] = PNL_GROUPINGS
) -> dict[str, Any]:
    """What the queries print as JSON: orders, open orders, trades, positions, P&L by each group."""
    queries = {
        "orders": ("orders",),
        "orders --open": ("orders", "--open"),
        "trades": ("trades",),
        "positions": ("positions", *(part for mark in marks for part in ("--mark", mark))),
        **{f"pnl --by {by}": ("pnl", "--by", by) for by in groupings},
    }
    return dict(zip(queries, json_many(list(queries.values()), db=db, cwd=cwd), strict=True))


def assert_same_outputs(actual: dict[str, Any], expected: dict[str, Any], what: str) -> None:
    """Compare two ``view_outputs`` query by query, naming the first difference."""
    assert actual.keys() == expected.keys()
    for query in expected:
        got, want = actual[query], expected[query]
        if got == want:
            continue
        detail = f"{len(got)} rows vs {len(want)}" if isinstance(got, list) else ""
        if isinstance(got, list) and isinstance(want, list):
            for index, (a, b) in enumerate(zip(got, want, strict=False)):
                if a != b:
                    detail += f"; first difference at row {index}:\n  got  {a}\n  want {b}"
                    break
        raise AssertionError(f"{what}: `{query} --json` differs ({detail})")


def stored_facts(url: str) -> Counter[tuple[str, str, str]]:
    """(client order ID, event type, trade ID) of every event in the log, with multiplicity."""
    from orderledger.infrastructure.application.ledger import OrderLedger

    ledger = OrderLedger(url)
    try:
        facts: Counter[tuple[str, str, str]] = Counter()
        for notification in ledger.recorder.select_notifications(1, 100_000_000):
            event = ledger.mapper.decode(
                notification.topic,
                notification.state,
                notification.originator_id,
                notification.originator_version,
            )
            facts[(event.client_order_id, event.type_name(), str(getattr(event, "trade_id", "") or ""))] += 1
        return facts
    finally:
        ledger.close()


@dataclass(frozen=True)
class Progress:
    """Where a ledger database stands: journal rows, events, last event, the slowest view's position."""

    journal: int
    events: int
    last_event: int
    views_at: int

    @property
    def views_behind(self) -> bool:
        """True when the log holds events some view has not folded yet."""
        return self.views_at < self.last_event


def progress_of(url: str) -> Progress:
    """Read the journal size, event count, last notification ID and slowest view position.

    Zeros for tables that do not exist yet (a run killed before creating them).
    """
    from orderledger.infrastructure.errors import StoreError
    from orderledger.infrastructure.storage.backends import open_database

    db = open_database(url)
    try:
        counts = []
        for sql in (
            "SELECT COUNT(*) FROM messages",
            "SELECT COUNT(*) FROM events",
            "SELECT MAX(notification_id) FROM events",
            "SELECT MIN(position) FROM view_tracking",
        ):
            try:
                with db.read() as tx:
                    row = tx.one(sql)
            except StoreError:  # killed before its tables were created
                row = None
            counts.append(int(row[0] or 0) if row else 0)
        return Progress(*counts)
    finally:
        db.close()


@contextlib.contextmanager
def private_postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose schema is private to the caller and dropped afterwards.

    For module-scoped databases (the ``postgres_url`` fixture is per test); skips like it does
    when the server is unreachable, and fails instead under ORDERLEDGER_REQUIRE_POSTGRES=1.
    """
    require_postgres()
    with private_schema("ol_cli") as url:
        yield url
