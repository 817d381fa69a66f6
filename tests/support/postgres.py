"""The PostgreSQL test server: its URL, whether it answers, and private schemas on it.

The server comes from ``ORDERLEDGER_TEST_POSTGRES_URL`` (default
postgresql://postgres@127.0.0.1:5432/test). When it is unreachable the PostgreSQL tests are
skipped with the reason, unless ``ORDERLEDGER_REQUIRE_POSTGRES=1`` (set by CI), which turns that
into a failure. ``tests/conftest.py`` builds its backend fixtures on these.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

POSTGRES_URL = os.environ.get("ORDERLEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("ORDERLEDGER_REQUIRE_POSTGRES") == "1"

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


@contextlib.contextmanager
def empty_database(kind: str, folder: Path, name: str) -> Iterator[str]:
    """An empty database of ``kind`` that several ledgers or processes can open at once: a
    SQLite file ``name`` in ``folder``, or a private PostgreSQL schema (dropped afterwards)."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / name}"
        return
    require_postgres()
    with private_schema() as url:
        yield url
