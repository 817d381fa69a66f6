"""The order's ``decision_price``: the price when the order was decided, given on its ``request``
(docs/messages.md), stored in the ``OrderRequested`` payload only when given, and shown on the
order wherever an order is shown: ``Order``, ``OrderRow``, the orders view, ``--json`` and HTTP.
A bad one is refused in one line with nothing stored; an event stored without it reads as null."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from orderledger.domain.errors import InvalidInputError
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.http.app import create_app
from orderledger.infrastructure.http.service import LedgerService
from tests.support.cli import cli_json, run_cli
from tests.support.http_api import LOOPBACK

REQUEST: dict[str, Any] = {
    "type": "request",
    "client_order_id": "c-1",
    "account": "alpha",
    "venue": "binance",
    "instrument": "BTC-USDT",
    "side": "buy",
    "order_type": "limit",
    "quantity": "0.5",
    "price": "64010",
    "ts": "2026-11-20T10:00:00Z",
}


def _stored_payloads(ledger: OrderLedger) -> list[dict[str, Any]]:
    with ledger.db.read() as tx:
        return [json.loads(bytes(r[0])) for r in tx.all("SELECT state FROM events ORDER BY notification_id")]


def test_a_request_with_a_decision_price_shows_it_on_the_order(ledger: OrderLedger) -> None:
    # Given a request decided at 64000.5 (the mid the strategy acted on) and one that names none
    ledger.record({**REQUEST, "decision_price": "64000.5"}, strict=True)
    ledger.record({**REQUEST, "client_order_id": "c-2"}, strict=True)

    # Then the order holds it, as the log, the orders view and the past read it
    assert ledger.order("c-1").decision_price == Decimal("64000.5")
    assert ledger.order("c-2").decision_price is None
    rows = {row.client_order_id: row for row in ledger.orders()}
    assert rows["c-1"].decision_price == Decimal("64000.5")
    assert rows["c-2"].decision_price is None
    assert rows["c-1"].to_json()["decision_price"] == "64000.5"
    assert rows["c-2"].to_json()["decision_price"] is None
    then = ledger.orders(as_of=datetime.now(UTC))  # folded from the log, not the view
    assert [r.decision_price for r in then] == [Decimal("64000.5"), None]
    # And the stored payload holds the key only when it was given
    first, second = _stored_payloads(ledger)
    assert first["decision_price"] == "64000.5"
    assert "decision_price" not in second
    events = {e.client_order_id: e.payload for e in ledger.events(types=["OrderRequested"])}
    assert events["c-1"]["decision_price"] == "64000.5"
    assert "decision_price" not in events["c-2"]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("0", "decision_price must be positive, not 0"),
        (-1, "decision_price must be positive, not -1"),
        ("NaN", "decision_price must be finite, not NaN"),
        ("cheap", "decision_price is not a decimal number"),
    ],
)
def test_a_bad_decision_price_is_one_line_and_stores_nothing(
    ledger: OrderLedger, value: Any, reason: str
) -> None:
    # When a request names a decision price that is not a positive number
    with pytest.raises(InvalidInputError) as refused:
        ledger.record({**REQUEST, "decision_price": value}, strict=True)

    # Then the refusal is one line naming the field, and no order or event is stored
    assert str(refused.value).startswith(reason) and "\n" not in str(refused.value)
    assert ledger.log_position() == 0
    assert ledger.orders() == []


def test_the_command_and_http_show_the_decision_price(file_ledger_url: str, tmp_path: Path) -> None:
    # Given an order requested at a decision price, through the command
    path = tmp_path / "session.jsonl"
    path.write_text(json.dumps({**REQUEST, "decision_price": "64000.5"}) + "\n", encoding="utf-8")
    run = run_cli("ingest", str(path), db=file_ledger_url, cwd=tmp_path)
    assert run.returncode == 0, run.describe()

    # Then `orders --json` and `order --json` show it
    listed = cli_json("orders", db=file_ledger_url, cwd=tmp_path)
    assert [row["decision_price"] for row in listed] == ["64000.5"]
    assert cli_json("order", "c-1", db=file_ledger_url, cwd=tmp_path)["decision_price"] == "64000.5"
    # And so does HTTP, for the list and the one order
    with (
        OrderLedger(file_ledger_url) as ledger,
        TestClient(create_app(LedgerService(ledger)), base_url=LOOPBACK) as client,
    ):
        assert [row["decision_price"] for row in client.get("/orders").json()] == ["64000.5"]
        assert client.get("/orders/c-1").json()["decision_price"] == "64000.5"
