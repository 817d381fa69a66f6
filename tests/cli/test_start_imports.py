"""A read command loads only what it uses: a process that lists the views, shows an order, its
positions or its trades never imports ingest (its adapters and message models), the HTTP API,
the collectors, reconciliation, the lake, rich or asyncio, nor the ledger's upkeep (exports,
verify, the schema's set-up), its risk controls or the collectors' leases. Those are what a start pays for
(``tests/benchmarks/starts.py`` times it; docs/benchmarks.md); the property is checked here,
untimed, so that a new module-level import cannot bring them back unnoticed.

Each command runs through the console entry point in a fresh interpreter (its ``sys.modules``
is its own), on a ledger written beforehand.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orderledger import OrderLedger
from tests.support.cli import through_entry_point
from tests.support.integration import fill, line, request

HEAVY = (
    "orderledger.infrastructure.ingest",
    "orderledger.infrastructure.adapters",
    "orderledger.infrastructure.messages",
    "orderledger.infrastructure.http",
    "orderledger.infrastructure.collect",
    "orderledger.infrastructure.application.writes.recording",
    "orderledger.infrastructure.application.upkeep.reconcile",
    "orderledger.infrastructure.application.analytics.lake",
    "orderledger.infrastructure.application.aio",
    "orderledger.infrastructure.cli.ingest",
    "orderledger.infrastructure.cli.admin",
    "orderledger.infrastructure.cli.audit",
    "orderledger.infrastructure.cli.collect",
    "rich",
    "asyncio",
    "fastapi",
    "uvicorn",
)
"""Packages and modules a read command does not use (a name covers its submodules)."""

LOG_LISTS_SPARE = tuple(name for name in HEAVY if name != "orderledger.infrastructure.cli.audit")
"""What the log's and the journal's lists (``events``, ``messages``: ``cli.audit``) do not load."""

UPKEEP = (
    "orderledger.infrastructure.application.command_requests",
    "orderledger.infrastructure.application.command_handlers",
    "orderledger.infrastructure.application.upkeep.maintenance",
    "orderledger.infrastructure.application.analytics.exports",
    "orderledger.infrastructure.audit.verify",
    "orderledger.infrastructure.audit.chain_check",
    "orderledger.infrastructure.audit.journal_check",
    "orderledger.infrastructure.audit.view_check",
    "orderledger.infrastructure.audit.storage_check",
    "orderledger.infrastructure.audit.anchors",
    "orderledger.infrastructure.audit.heads",
    "orderledger.infrastructure.storage.admin",
    "orderledger.infrastructure.application.risk.pretrade",
    "orderledger.infrastructure.application.risk.standing",
    "orderledger.infrastructure.application.risk.exposure_rows",
    "orderledger.infrastructure.application.reads.daily_pnl",
    "orderledger.infrastructure.application.upkeep.collector_leases",
    "orderledger.infrastructure.storage.collectors",
    "orderledger.domain.risk",
    "multiprocessing",
)
"""What opening a ledger and reading its views do not use either: the commands (their request
classes and handlers), the upkeep (the schema's set-up, exports, verify and its anchors, the
chains' heads), the risk controls, exposure, daily P&L, the collectors' leases, and the processes
of a parallel rebuild. Each is imported by the one dispatch (``application.bootstrap``) when a
request that needs it is first asked."""

NEVER_READ = (
    "fastapi",
    "starlette",
    "uvicorn",
    "pyarrow",
    "numpy",
    "pandas",
    "duckdb",
    "adbc_driver_manager",
    "ccxt",
    "psycopg",
    "psycopg_pool",
    "orderledger.infrastructure.http",
    "orderledger.infrastructure.collect",
    "orderledger.infrastructure.adapters",
    "orderledger.infrastructure.application.analytics.lake",
    "orderledger.infrastructure.application.analytics.lake_pnl",
    "orderledger.infrastructure.application.analytics.columnar",
    "orderledger.infrastructure.cli.analytics",
    "orderledger.infrastructure.cli.collect",
)
"""What no read command of a SQLite ledger imports, whatever it reads: the server and its
framework, the columnar and analytics libraries (the lake, the analytics extra), the venues'
client library and adapters, the collectors, and the PostgreSQL driver."""

COMMAND_LINE = (
    "typer",
    "click",
    "rich",
    "pydantic",
    "eventsourcing",
    "orderledger.domain",
    "orderledger.projections",
    "orderledger.infrastructure.application",
    "orderledger.infrastructure.cli.app",
    "orderledger.infrastructure.cli.command",
    "orderledger.infrastructure.cli.render",
)
"""What a list of orders as JSON (``orders --json``, ``orders --open --json``: ``cli.quick``) does
not import: the command line (typer and its click, rich), the message models' pydantic,
eventsourcing, the domain, the views' folds and the ledger (``OrderLedger`` and its reads)."""

READ_COMMANDS = (
    ["orders"],
    ["orders", "--open", "--json"],
    ["order", "c-1"],
    ["history", "c-1"],
    ["trades"],
    ["parents"],
    ["positions"],
    ["lots"],
    ["pnl"],
    ["exposure"],
    ["events"],
    ["messages"],
    ["instruments"],
    ["head"],
    ["limits"],
    ["state"],
    ["risk"],
)
"""Every command that only reads (each group's listing), as a person types it."""


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('starts') / 'ledger.db'}"
    with OrderLedger(url) as ledger:
        ledger.record(request("c-1", quantity="10"))
        ledger.record(fill("c-1", "t-1", "4"))
    return url


def loaded(database: str, *args: str) -> tuple[str, list[str]]:
    """What ``orderledger --db DATABASE ARGS`` printed, and the modules its process imported."""
    found = through_entry_point(database, *args)
    assert found["code"] in (0, None), found
    return found["out"], found["modules"]


def heavy(modules: list[str], named: tuple[str, ...] = HEAVY) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in named)]


@pytest.mark.parametrize(
    "args",
    [
        ["orders", "--open", "--json"],
        ["orders", "--open"],
        ["order", "c-1"],
        ["order", "c-1", "--json"],
        ["positions"],
        ["positions", "--json"],
        ["trades"],
        ["trades", "--json"],
    ],
    ids=" ".join,
)
def test_a_read_command_imports_no_write_path_server_or_collector(database: str, args: list[str]) -> None:
    out, modules = loaded(database, *args)
    assert "c-1" in out or "BTC-USDT" in out  # it did read the ledger
    assert heavy(modules) == []


@pytest.mark.parametrize(
    "args",
    [
        ["orders", "--json"],
        ["order", "c-1", "--json"],
        ["positions", "--json"],
        ["trades", "--json"],
    ],
    ids=" ".join,
)
def test_a_read_command_imports_no_upkeep_risk_or_collector_leases(database: str, args: list[str]) -> None:
    out, modules = loaded(database, *args)
    assert "c-1" in out or "BTC-USDT" in out
    assert heavy(modules, UPKEEP) == []


@pytest.mark.parametrize("args", [["orders", "--open", "--json"], ["orders", "--json"]], ids=" ".join)
def test_a_list_of_orders_as_json_imports_neither_the_command_line_nor_the_ledger(
    database: str, args: list[str]
) -> None:
    out, modules = loaded(database, *args)
    assert "c-1" in out
    assert heavy(modules, COMMAND_LINE) == []


@pytest.mark.parametrize("args", [["events", "--json"], ["messages", "--json"], ["events"]], ids=" ".join)
def test_the_logs_lists_import_no_write_path_reconciliation_server_or_collector(
    database: str, args: list[str]
) -> None:
    """``events`` and ``messages`` live beside ``reconcile`` and ``verify`` (``cli.audit``): they
    load the audit commands' module, not what reading a venue's snapshot needs (the message
    models and the adapters) nor anything else a write, the server or a collector loads."""
    out, modules = loaded(database, *args)
    assert "c-1" in out
    assert heavy(modules, (*LOG_LISTS_SPARE, "orderledger.infrastructure.application.upkeep.reconcile")) == []


def test_the_check_sees_the_commands_that_load_the_upkeep_and_risk(database: str) -> None:
    _, modules = loaded(database, "verify")
    assert "orderledger.infrastructure.audit.verify" in heavy(modules, UPKEEP)
    assert "orderledger.infrastructure.application.upkeep.maintenance" in heavy(modules, UPKEEP)
    _, modules = loaded(database, "limits")
    assert "orderledger.infrastructure.application.risk.pretrade" in heavy(modules, UPKEEP)
    _, modules = loaded(database, "ingest", "/dev/null")
    assert "orderledger.infrastructure.application.command_handlers" in heavy(modules, UPKEEP)
    # a write loads neither the simulator (``simulate``, ``demo``) nor the upkeep it does not run
    assert "orderledger.infrastructure.application.simulator" not in modules
    assert (
        heavy(modules, ("orderledger.infrastructure.application.upkeep.maintenance", "multiprocessing")) == []
    )


def test_the_check_sees_a_command_that_loads_them(database: str) -> None:
    # A write (ingest) loads ingest, its adapters and message models: the check above would see it.
    _, modules = loaded(database, "ingest", "/dev/null")
    assert "orderledger.infrastructure.ingest.processing" in heavy(modules)
    assert "orderledger.infrastructure.messages.models" in heavy(modules)


def test_an_ingest_into_a_ledger_that_never_read_a_snapshot_imports_no_snapshot_judge(tmp_path: Path) -> None:
    """After each commit, the snapshot streams judge the orders it named (``InputFormat.judges``);
    a ledger that never read one has nothing for them to judge, so the first acknowledgement does
    not wait for their module (the snapshot feed, reconciliation) to be imported."""
    lines = tmp_path / "one.jsonl"
    lines.write_text(line(request("c-9", quantity="1")) + "\n")
    out, modules = loaded(f"sqlite:///{tmp_path / 'ledger.db'}", "ingest", str(lines))
    assert "1 applied" in out
    judge = (
        "orderledger.infrastructure.application.feeds.snapshots",
        "orderledger.infrastructure.application.upkeep.reconcile",
    )
    assert heavy(modules, judge) == []


@pytest.mark.parametrize("args", READ_COMMANDS, ids=" ".join)
def test_no_read_command_imports_the_server_the_lake_the_venues_or_postgresql(
    database: str, args: list[str]
) -> None:
    """A bound on the set of modules each read command imports (not a time: what a start pays
    for is timed by ``tests/benchmarks/starts.py``)."""
    _, modules = loaded(database, *args)
    assert heavy(modules, NEVER_READ) == []


def test_the_bound_sees_a_command_that_imports_the_venues(database: str, tmp_path: Path) -> None:
    # Ingesting a venue's format loads its adapter: the bound above would see it.
    payload = tmp_path / "fix.log"
    payload.write_text("")
    _, modules = loaded(database, "ingest", "--format", "fix", "--venue", "desk1", str(payload))
    assert "orderledger.infrastructure.adapters" in heavy(modules, NEVER_READ)
