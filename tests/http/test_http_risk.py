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
    ledger.risk_controls.set_limit("instrument", "BTC-USDT", "max_position", "1", set_by="alice",
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
    ledger.risk_controls.set_limit("account", "main", "max_gross_exposure", "150", set_by="alice",
                     ts=datetime(2025, 3, 3, 10, tzinfo=UTC))  # fmt: skip
    # Then a sale of 1 at 100 is allowed: on the sale's side |200 − 100| = 100, the other 200
    sale = secured.post(
        "/check", json={**ORDER, "side": "sell", "quantity": "1"}, headers=bearer(WRITE_TOKEN)
    )
    assert sale.json() == {"allowed": True, "state": "active", "breaches": []}, sale.text
    # While a purchase of 1 makes 200 + 100 = 300 > 150
    buy = secured.post("/check", json={**ORDER, "quantity": "1"}, headers=bearer(WRITE_TOKEN)).json()
    assert [(b["kind"], b["figure"]) for b in buy["breaches"]] == [("max_gross_exposure", "300")]


def _request(cid: str, **more: object) -> dict[str, object]:
    return {"type": "request", "client_order_id": cid, **ORDER, "ts": "2025-03-03T09:00:00Z", **more}


def test_post_messages_denies_a_request_of_ours_on_a_halted_account(
    client: TestClient, ledger: OrderLedger
) -> None:
    # Given the account halted by alice (POST /check says halted)
    ledger.risk_controls.set_trading_state("halted", account="main", set_by="alice", reason="flash crash")
    assert client.post("/check", json=ORDER).json()["state"] == "halted"
    # When a request of ours for it is posted
    response = client.post("/messages", json=_request("c-1"))
    # Then it is 403, denied with its breach, and no order was made; the journal says denied
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["detail"] == "line 1 denied: trading is halted (set by alice: flash crash) (1 of 1 denied)"
    [result] = body["results"]
    assert (result["outcome"], result["events"]) == ("denied", 0)
    assert result["breaches"] == [{"reason": "trading is halted (set by alice: flash crash)"}]
    assert list(ledger.orders()) == []
    assert [m.outcome for m in ledger.audit.messages(outcome="denied")] == ["denied"]


def test_post_orders_checks_and_records_in_one_transaction(client: TestClient, ledger: OrderLedger) -> None:
    # Given orders of at most 250 on account main
    ledger.risk_controls.set_limit("account", "main", "max_order_notional", "250", set_by="alice",
                     ts=datetime(2025, 3, 3, 8, tzinfo=UTC))  # fmt: skip
    # When 2 × 100 = 200 is placed: 201 with the order, open and requested
    placed = client.post("/orders", json={**ORDER, "client_order_id": "c-1"})
    assert placed.status_code == 201, placed.text
    order = placed.json()["order"]
    assert (order["client_order_id"], order["status"], order["quantity"]) == ("c-1", "requested", "2")
    # And 3 × 100 = 300 > 250: 403 with the breach and its figure, no order
    denied = client.post("/orders", json={**ORDER, "client_order_id": "c-2", "quantity": "3"})
    assert denied.status_code == 403, denied.text
    [breach] = denied.json()["breaches"]
    assert (breach["kind"], breach["value"], breach["figure"]) == ("max_order_notional", "250", "300")
    assert [o.client_order_id for o in ledger.orders()] == ["c-1"]
    # And the same client order ID for another order: 409, refused, nothing changed
    reused = client.post("/orders", json={**ORDER, "client_order_id": "c-1", "quantity": "1"})
    assert reused.status_code == 409, reused.text
    # And the same request again is 200 (recorded before), and a bad field is 400
    assert client.post("/orders", json={**ORDER, "client_order_id": "c-1"}).status_code == 200
    assert client.post("/orders", json={**ORDER, "quantity": "-1"}).status_code == 400
    # And an override lets 300 through, journaled with who and why
    override = {"by": "carol", "reason": "client hedge"}
    through = client.post(
        "/orders", json={**ORDER, "client_order_id": "c-3", "quantity": "3", "override": override}
    )
    assert through.status_code == 201, through.text
    assert through.json()["reason"] == (
        "risk override by carol (client hedge) of: max_order_notional 250 on account main: would be 300"
    )
    assert [o.client_order_id for o in ledger.orders()] == ["c-1", "c-3"]
