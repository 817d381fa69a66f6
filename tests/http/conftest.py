"""Fixtures for the HTTP tests: the app over a throw-away ledger, in process.

``client`` drives the app in process (starlette's TestClient); tests that need a real socket
(streams, curl, the browser) use ``helpers.running_server``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.http.app import create_app
from orderledger.infrastructure.http.service import LedgerService
from tests.support.http_api import LOOPBACK, TOKENS


@pytest.fixture
def ledger() -> Iterator[OrderLedger]:
    instance = OrderLedger("memory://")
    yield instance
    instance.close()


@pytest.fixture
def client(ledger: OrderLedger) -> Iterator[TestClient]:
    """The app without tokens (as served on loopback), in process."""
    with TestClient(
        create_app(LedgerService(ledger)), base_url=LOOPBACK, raise_server_exceptions=False
    ) as test_client:
        yield test_client


@pytest.fixture
def secured(ledger: OrderLedger) -> Iterator[TestClient]:
    """The app with a read, a write and an admin token, and a 4,096-byte body bound."""
    app = create_app(LedgerService(ledger), TOKENS, max_body=4096)
    with TestClient(app, base_url=LOOPBACK, raise_server_exceptions=False) as test_client:
        yield test_client
