"""Shared fixtures: the same tests run against every backend.

Backends: ``memory`` (SQLite in memory), ``sqlite`` (a file in tmp_path) and ``postgres``
(a real server; each test gets its own schema, dropped afterwards). The server comes from
``ORDERLEDGER_TEST_POSTGRES_URL`` (default postgresql://postgres@127.0.0.1:5432/test). When it
is unreachable the PostgreSQL tests are skipped with the reason, unless
``ORDERLEDGER_REQUIRE_POSTGRES=1`` (set by CI), which turns that into a failure.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from orderledger.infrastructure.application.ledger import OrderLedger

POSTGRES_URL = os.environ.get("ORDERLEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("ORDERLEDGER_REQUIRE_POSTGRES") == "1"
BACKENDS = ("memory", "sqlite", "postgres")

_pg_reason: str | None = None
_pg_checked = False


def postgres_unavailable() -> str | None:
    """Why PostgreSQL cannot be used, or None when it can."""
    global _pg_checked, _pg_reason
    if not _pg_checked:
        _pg_checked = True
        try:
            import psycopg

            with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
        except Exception as error:  # unreachable, auth, missing database …
            _pg_reason = f"PostgreSQL at {POSTGRES_URL} is unreachable: {str(error).splitlines()[0]}"
    return _pg_reason


def require_postgres() -> None:
    """Skip when the server is unreachable, or fail under ORDERLEDGER_REQUIRE_POSTGRES=1."""
    reason = postgres_unavailable()
    if reason:
        if REQUIRE_POSTGRES:
            pytest.fail(reason + " (ORDERLEDGER_REQUIRE_POSTGRES=1)")
        pytest.skip(reason)


@contextlib.contextmanager
def private_schema(prefix: str = "ol_test") -> Iterator[str]:
    """A URL of the test server whose schema is new and private to the caller, dropped afterwards."""
    import psycopg

    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        yield f"{POSTGRES_URL}{'&' if '?' in POSTGRES_URL else '?'}schema={schema}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


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
