"""Contract tests generated from the OpenAPI document (schemathesis): whatever is sent, the
API answers without a server error. Bounded: a few examples per operation, no deadline."""

from __future__ import annotations

import json
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.http.app import create_app
from orderledger.infrastructure.http.service import LedgerService
from tests.support.http_api import fill, request


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx: Any, value: Any) -> bytes:
    """A generated JSON-lines body: the string as it is, anything else as one JSON line."""
    return value.encode("utf-8", "surrogatepass") if isinstance(value, str) else json.dumps(value).encode()


_ledger = OrderLedger("memory://")
# Some state for the queries to find: an order with a fill, and a rejected line in the journal.
_ledger.ingest_lines([json.dumps(m) for m in (request(), fill(), fill("c-1", "t-2", "-1"))])
APP = create_app(LedgerService(_ledger))
# The stream never ends by itself: it has its own tests (test_http_stream.py).
# Without tokens the app answers loopback names only (guard.py), so every call is addressed so.
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, headers={"Host": "127.0.0.1"}).exclude(
    path="/stream"
)


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_no_request_gets_a_server_error(case: Any) -> None:
    case.call_and_validate(base_url="http://127.0.0.1", checks=[not_a_server_error])
