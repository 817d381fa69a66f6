"""GET /limits, GET and POST /state, POST /check (docs/risk.md)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from orderledger import OrderLedger
from tests.support.http_api import READ_TOKEN, RISK_TOKEN, WRITE_TOKEN, bearer

ORDER = {"venue": "x", "account": "main", "instrument": "BTC-USDT", "side": "buy", "order_type": "limit",
         "quantity": "2", "price": "100"}  # fmt: skip


def test_limits_state_and_check_over_http(secured: TestClient, ledger: OrderLedger) -> None:
    # Given a position limit of 1 on the instrument since 08:00
    ledger.set_limit("instrument", "BTC-USDT", "max_position", "1", set_by="alice",
                     ts=datetime(2025, 3, 3, 8, tzinfo=UTC))  # fmt: skip
    [limit] = secured.get("/limits", headers=bearer(READ_TOKEN)).json()
    assert (limit["kind"], limit["value"], limit["ts_event"]) == (
        "max_position",
        "1",
        "2025-03-03T08:00:00.000000Z",
    )
    assert (
        secured.get("/limits", params={"as_of": "2025-03-03T07:00:00Z"}, headers=bearer(READ_TOKEN)).json()
        == []
    )
    # Then an order for 2 is denied: 0 + 2 = 2 > 1
    checked = secured.post("/check", json=ORDER, headers=bearer(WRITE_TOKEN)).json()
    assert checked["allowed"] is False and [b["figure"] for b in checked["breaches"]] == ["2"]
    # When a read or a write token tries to halt: refused; the risk token (rita's) halts every account
    halt = {"state": "halted", "reason": "venue incident"}
    assert secured.post("/state", json=halt, headers=bearer(READ_TOKEN)).status_code == 403
    assert secured.post("/state", json=halt, headers=bearer(WRITE_TOKEN)).status_code == 403
    states = secured.post("/state", json=halt, headers=bearer(RISK_TOKEN)).json()
    assert [(s["account"], s["state"], s["set_by"]) for s in states] == [("", "halted", "rita")]
    assert secured.get("/state", headers=bearer(READ_TOKEN)).json() == states
    # And an order for 1 is now denied for the halt alone
    one = secured.post("/check", json={**ORDER, "quantity": "1"}, headers=bearer(WRITE_TOKEN)).json()
    assert one["breaches"] == [{"reason": "trading is halted (set by rita: venue incident)"}]
    # And bad bodies are one-line problems that change nothing
    for body, detail in (
        ({"state": "paused"}, "state must be one of active|reduce_only|halted"),
        ({"set_by": "rita"}, "a state needs state"),
        ({"state": "active", "color": "red"}, "unknown field 'color'"),
    ):
        response = secured.post("/state", json=body, headers=bearer(RISK_TOKEN))
        assert response.status_code == 400 and detail in response.json()["detail"], response.text
    assert secured.get("/state", headers=bearer(READ_TOKEN)).json() == states


def test_a_sale_that_shrinks_a_long_passes_a_breached_gross_limit_over_http(
    secured: TestClient, ledger: OrderLedger
) -> None:
    # Given long 2 bought at 100 and marked at 100 (gross 2 × 100 = 200), and a gross limit of 150
    nine = "2025-03-03T09:00:00Z"
    for message in (
        {"type": "request", "client_order_id": "b1", **ORDER, "ts": nine},
        {
            "type": "fill",
            "client_order_id": "b1",
            "trade_id": "t1",
            "quantity": "2",
            "price": "100",
            "ts": nine,
        },
        {"type": "mark", "venue": "x", "instrument": "BTC-USDT", "price": "100", "ts": nine},
    ):
        ledger.record(message, strict=True)
    ledger.set_limit("account", "main", "max_gross_exposure", "150", set_by="alice",
                     ts=datetime(2025, 3, 3, 10, tzinfo=UTC))  # fmt: skip
    # Then a sale of 1 at 100 is allowed: on the sale's side |200 − 100| = 100, the other 200
    sale = secured.post(
        "/check", json={**ORDER, "side": "sell", "quantity": "1"}, headers=bearer(WRITE_TOKEN)
    )
    assert sale.json() == {"allowed": True, "state": "active", "breaches": []}, sale.text
    # While a purchase of 1 makes 200 + 100 = 300 > 150
    buy = secured.post("/check", json={**ORDER, "quantity": "1"}, headers=bearer(WRITE_TOKEN)).json()
    assert [(b["kind"], b["figure"]) for b in buy["breaches"]] == [("max_gross_exposure", "300")]
