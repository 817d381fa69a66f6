"""Fixtures for the adapter tests: a real in-memory ledger fed with adapter output.

Every message an adapter produces in these tests passes through ``feed`` or ``valid``, both of
which read it back with ``parse_message`` first (``tests.support.adapters.check_valid``), so a
test cannot pass on a message the ledger would refuse to read.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from orderledger.infrastructure.application.ledger import IngestReport, OrderLedger
from tests.support.adapters import FIXTURES, Feed, Stated, Valid, check_valid


@pytest.fixture
def valid() -> Valid:
    """``valid(messages)``: assert each message parses, return them."""
    return check_valid


@pytest.fixture
def ledger() -> Iterator[OrderLedger]:
    """A fresh in-memory ledger."""
    book = OrderLedger("memory://")
    try:
        yield book
    finally:
        book.close()


@pytest.fixture(params=["sqlite", "postgres"])
def stored_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A SQLite file, then a private PostgreSQL schema: a database the real command (or a
    ledger) opens, for the stateful feeds, whose later lines read what earlier ones recorded."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def stored_ledger(stored_url: str) -> Iterator[OrderLedger]:
    """A ledger on ``stored_url`` (a SQLite file, then a private PostgreSQL schema)."""
    book = OrderLedger(stored_url)
    try:
        yield book
    finally:
        book.close()


@pytest.fixture
def feed(ledger: OrderLedger) -> Feed:
    """``feed(messages)``: validate, then ingest as JSON lines (one line per message)."""

    def ingest(messages: Iterable[Stated]) -> IngestReport:
        lines = [json.dumps(m) for m in check_valid(messages)]
        return ledger.ingest_lines(lines, origin="adapter-test")

    return ingest


@pytest.fixture
def fixture_json() -> Callable[[str], Any]:
    """``fixture_json(name)``: a JSON document from tests/adapters/fixtures/."""

    def load(name: str) -> Any:
        return json.loads((FIXTURES / name).read_text(encoding="utf-8"))

    return load


@pytest.fixture
def ccxt_lib() -> Any:
    """The ccxt package, or a skip with the reason when it is not installed."""
    return pytest.importorskip("ccxt", reason="ccxt is not installed (pip install -e '.[dev]')")


@pytest.fixture
def ccxt_pro() -> Any:
    """ccxt's websocket parsers (ccxt.pro, shipped with ccxt), or a skip with the reason."""
    pytest.importorskip("ccxt", reason="ccxt is not installed (pip install -e '.[dev]')")
    return pytest.importorskip("ccxt.pro", reason="ccxt.pro is not available in this ccxt")
