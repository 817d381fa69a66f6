"""The command and the HTTP API are shells over the Python API: what ``--json`` prints and what
the HTTP API answers are the typed rows' ``to_json()``, on the same stored ledger.

The session is the one of ``tests/support/api_session.py`` (A bought 4 at 100, B sold 3 at 110, C open).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from orderledger import OrderLedger
from orderledger.infrastructure.http.app import create_app
from orderledger.infrastructure.http.service import LedgerService
from tests.support.api_session import SESSION
from tests.support.audit import orderledger
from tests.support.integration import fill, lines


@pytest.fixture
def stored(file_ledger_url: str) -> Iterator[OrderLedger]:
    with OrderLedger(file_ledger_url) as ledger:
        ledger.ingest_lines(lines(*SESSION))
        ledger.record(fill("Z", "z1", "1", seconds=20))  # parked: no order Z
        yield ledger


def cli_json(url: str, *args: str) -> Any:
    return orderledger(*args, "--json", db=url).json()


def cli_json_lines(url: str, *args: str) -> list[Any]:
    return orderledger(*args, "--json", db=url).json_lines()


def test_the_command_prints_the_rows_to_json(stored: OrderLedger) -> None:
    url = stored.url

    assert cli_json(url, "orders") == [r.to_json() for r in stored.orders()]
    assert cli_json(url, "orders", "--open", "--sort", "newest") == [
        r.to_json() for r in stored.orders(open=True, newest=True)
    ]
    assert cli_json(url, "trades", "--order", "A") == [r.to_json() for r in stored.trades(order="A")]
    assert cli_json(url, "positions", "--mark", "BTC-USDT=120") == [
        r.to_json() for r in stored.positions(marks={"BTC-USDT": Decimal("120")})
    ]
    assert cli_json(url, "pnl", "--by", "account") == [r.to_json() for r in stored.pnl(by="account")]
    assert cli_json(url, "history", "A") == [h.to_json() for h in stored.history("A")]
    assert cli_json_lines(url, "events", "--type", "OrderFilled") == [
        r.to_json() for r in stored.events(types=["OrderFilled"])
    ]
    assert cli_json_lines(url, "messages", "--parked") == [
        r.to_json() for r in stored.audit.messages(parked=True)
    ]
    verified = cli_json(url, "verify")
    assert verified == stored.audit.verify().to_json() and verified["ok"] is True


def test_the_http_api_answers_the_same_rows(stored: OrderLedger) -> None:
    with TestClient(create_app(LedgerService(stored)), base_url="http://127.0.0.1") as client:

        def get(path: str, **params: Any) -> Any:
            response = client.get(path, params=params)
            assert response.status_code == 200, response.text
            return response.json()

        def get_shown(path: str, **params: Any) -> Any:
            """The rows the page tables: each with one field more, the places it shows figures
            to (no instrument here is defined: 8 places; USDT money to cents)."""
            rows = get(path, **params)
            assert all(
                set(row.pop("precision")) == {"price", "quantity", "money", "currencies"} for row in rows
            )
            return rows

        assert get_shown("/orders") == [r.to_json() for r in stored.orders()]
        assert get_shown("/trades", since="2026-11-20T10:00:02Z") == [
            r.to_json() for r in stored.trades(order="B")
        ]
        assert get_shown("/positions", mark="BTC-USDT=120") == [
            r.to_json() for r in stored.positions(marks={"BTC-USDT": Decimal("120")})
        ]
        assert get_shown("/pnl", by="instrument") == [r.to_json() for r in stored.pnl(by="instrument")]
        assert get("/events", type="OrderRequested") == [
            json.loads(json.dumps(r.to_json())) for r in stored.events(types=["OrderRequested"])
        ]
        assert get("/messages", outcome="parked") == [
            r.to_json() for r in stored.audit.messages(outcome="parked")
        ]
        assert get("/orders/A/history") == [h.to_log_json() for h in stored.history("A")]
