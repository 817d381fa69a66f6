"""Shared fixtures: the same tests run against every backend.

Backends: ``memory`` (SQLite in memory), ``sqlite`` (a file in tmp_path) and ``postgres``
(a real server; each test gets its own schema, dropped afterwards: ``tests/support/postgres.py``
says which server, and when an unreachable one skips or fails).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from orderledger.infrastructure.application.ledger import OrderLedger
from tests.support.postgres import private_schema, require_postgres

# pytest-xdist's workers set the terminal's size (COLUMNS=80, LINES=24); the commands the tests
# run would fit their tables to it. A test that wants a width sets COLUMNS itself.
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)

# The commands the tests run are Python processes that import the checkout's modules. Where the
# environment says to write no byte code (PYTHONDONTWRITEBYTECODE), each of them would compile
# every module again (a third of a read command's time). Their byte code is kept out of the
# checkout instead, in one cache of the temporary directory that every command of the run reads.
if os.environ.pop("PYTHONDONTWRITEBYTECODE", None) and not os.environ.get("PYTHONPYCACHEPREFIX"):
    os.environ["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "orderledger-tests-pycache")

# Hypothesis's per-example deadline (200 ms) times the machine, not the rule: a loaded machine
# that deschedules a worker for a moment would fail a correct example. Rules are checked with
# no deadline; a test that needs one says so.
settings.register_profile("orderledger", deadline=None)
settings.load_profile("orderledger")

BACKENDS = ("memory", "sqlite", "postgres")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database URL whose schema is private to this test."""
    require_postgres()
    with private_schema() as url:
        yield url


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend name; tests using ``ledger_url`` run once per backend."""
    return str(request.param)


@pytest.fixture
def ledger_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A database URL for the current backend, empty at the start of the test."""
    if backend == "memory":
        return "memory://"
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def file_ledger_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Like ``ledger_url`` but shareable between processes (SQLite file or PostgreSQL)."""
    if backend == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture
def make_ledger(ledger_url: str) -> Iterator[Callable[..., OrderLedger]]:
    """Open ledgers on the test's database; all are closed at the end."""
    opened: list[OrderLedger] = []

    def make(**kwargs: object) -> OrderLedger:
        ledger = OrderLedger(ledger_url, **kwargs)  # type: ignore[arg-type]
        opened.append(ledger)
        return ledger

    yield make
    for ledger in opened:
        ledger.close()


@pytest.fixture
def ledger(make_ledger: Callable[..., OrderLedger]) -> OrderLedger:
    """An empty ledger on the current backend."""
    return make_ledger()
