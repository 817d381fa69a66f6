"""A read command loads only what it uses: a process that lists the views, shows an order, its
positions or its trades never imports ingest (its adapters and message models), the HTTP API,
the collectors, reconciliation, the lake, rich or asyncio. Those are what a start pays for
(``tests/benchmarks/starts.py`` times it; docs/benchmarks.md); the property is checked here,
untimed, so that a new module-level import cannot bring them back unnoticed.

Each command runs through the console entry point in a fresh interpreter (its ``sys.modules``
is its own), on a ledger written beforehand.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from orderledger import OrderLedger
from tests.support.integration import fill, request

HEAVY = (
    "orderledger.infrastructure.ingest",
    "orderledger.infrastructure.adapters",
    "orderledger.infrastructure.messages",
    "orderledger.infrastructure.http",
    "orderledger.infrastructure.collect",
    "orderledger.infrastructure.application.recording",
    "orderledger.infrastructure.application.reconcile",
    "orderledger.infrastructure.application.lake",
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

RUN = r"""
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


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('starts') / 'ledger.db'}"
    with OrderLedger(url) as ledger:
        ledger.record(request("c-1", quantity="10"))
        ledger.record(fill("c-1", "t-1", "4"))
    return url


def loaded(database: str, *args: str) -> tuple[str, list[str]]:
    """What ``orderledger --db DATABASE ARGS`` printed, and the modules its process imported."""
    done = subprocess.run(
        [sys.executable, "-c", RUN, "--db", database, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    found = json.loads(done.stderr.strip().splitlines()[-1])
    assert found["code"] in (0, None), found
    return found["out"], found["modules"]


def heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


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


def test_the_check_sees_a_command_that_loads_them(database: str) -> None:
    # A write (ingest) loads ingest, its adapters and message models: the check above would see it.
    _, modules = loaded(database, "ingest", "/dev/null")
    assert "orderledger.infrastructure.ingest.processing" in heavy(modules)
    assert "orderledger.infrastructure.messages.models" in heavy(modules)
