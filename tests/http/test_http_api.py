"""The HTTP API: the same answers as the CLI and the Python API, and a problem document for
every error (RFC 9457, one line of detail), with nothing stored when a request is refused."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from orderledger.infrastructure.application.ledger import OrderLedger
from tests.support.http_api import LOOPBACK, SNAPSHOT, assert_problem, fill, request


def post(client: TestClient, body: Any, **params: Any) -> Any:
    return client.post("/messages", json=body, params=params)


def session(client: TestClient) -> None:
    """Given: c-1 buys 2 @ 100 and is filled 1 @ 100 (10:00:01); c-2 sells 1 @ 110, filled at 10:00:05."""
    response = post(
        client,
        [
            request("c-1"),
            fill("c-1", "t-1", "1", "100"),
            request("c-2", side="sell", quantity="1", price="110", ts="2026-11-20T10:00:04Z"),
            fill("c-2", "t-2", "1", "110", ts="2026-11-20T10:00:05Z"),
        ],
    )
    assert response.status_code == 200, response.text


# ---------------------------------------------------------------------- POST /messages


def test_one_message_is_recorded_before_the_response(tmp_path: Any, client: TestClient) -> None:
    # Given a server over a SQLite file
    from orderledger.infrastructure.http.app import create_app
    from orderledger.infrastructure.http.service import LedgerService

    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    served = OrderLedger(url)
    with TestClient(create_app(LedgerService(served)), base_url=LOOPBACK) as file_client:
        # When one message is posted
        response = post(file_client, request("c-1"))
        # Then the answer says it was applied, with one event (OrderRequested)
        assert response.status_code == 200
        body = response.json()
        assert body["counts"]["applied"] == 1
        assert body["results"] == [
            {
                "line": 1,
                "outcome": "applied",
                "reason": None,
                "client_order_id": "c-1",
                "message_id": 1,
                "events": 1,
            }
        ]
        # And another process opening the file already sees it (durable before the response)
        other = OrderLedger(url)
        try:
            assert other.order("c-1").snapshot()["status"] == "requested"
        finally:
            other.close()
    served.close()


def test_a_batch_gets_one_outcome_per_message(client: TestClient) -> None:
    # When a batch of request, fill, and the same fill again is posted
    response = post(client, [request(), fill(), fill()])
    # Then applied 2, duplicate 1
    assert response.status_code == 200
    body = response.json()
    assert body["counts"] == {"applied": 2, "duplicate": 1, "parked": 0, "ignored": 0, "rejected": 0}
    assert [r["outcome"] for r in body["results"]] == ["applied", "applied", "duplicate"]


def test_json_lines_are_ingested_as_sent(client: TestClient) -> None:
    lines = "\n".join(json.dumps(m) for m in [request(), fill()]) + "\n"
    response = client.post("/messages", content=lines, headers={"content-type": "application/x-ndjson"})
    assert response.status_code == 200
    assert response.json()["counts"]["applied"] == 2
    # The journal keeps each line byte for byte
    journal = client.get("/messages").json()
    assert [m["raw"] for m in journal] == [json.dumps(request()), json.dumps(fill())]


def test_a_rejected_message_is_a_problem_and_is_journaled(client: TestClient) -> None:
    # When a batch holds a good request and a fill with a negative quantity
    response = post(client, [request(), fill(quantity="-1")])
    # Then 422: the detail names line 2; the good message is recorded
    body = assert_problem(response, 422, "line 2 rejected:")
    assert "1 of 2 rejected, 1 recorded" in body["detail"]
    assert body["counts"]["applied"] == 1 and body["counts"]["rejected"] == 1
    assert client.get("/orders/c-1").json()["filled_quantity"] == "0"
    # And the refused line is in the journal with its reason
    rejected = client.get("/messages", params={"outcome": "rejected"}).json()
    assert len(rejected) == 1 and rejected[0]["reason"] == body["results"][1]["reason"]


def test_strict_records_nothing_when_one_message_is_refused(client: TestClient, ledger: OrderLedger) -> None:
    response = post(client, [request(), fill(quantity="-1")], strict="true")
    body = assert_problem(response, 422, "strict: nothing was recorded")
    # The counts say what was stored, as the CLI's summary does: the request went with the fill
    assert body["counts"]["rejected"] == 1 and body["counts"]["not stored"] == 1
    assert body["counts"]["applied"] == 0 and body["events"] == 0
    assert client.get("/orders").json() == []
    assert ledger.recorder.max_notification_id() is None


def test_venue_payloads_go_through_their_adapters(client: TestClient) -> None:
    # A CCXT unified order (open, nothing filled) for venue bin, account a
    order = {
        "id": "4293153",
        "clientOrderId": "x-1",
        "timestamp": 1795168801000,
        "status": "open",
        "symbol": "BTC/USDT",
        "type": "limit",
        "side": "buy",
        "price": 64000.0,
        "amount": 1.0,
        "filled": 0.0,
    }
    response = post(client, order, format="ccxt", venue="bin", account="a")
    assert response.status_code == 200, response.text
    assert response.json()["counts"]["applied"] == 1
    booked = client.get("/orders/x-1").json()
    assert (booked["venue"], booked["account"], booked["quantity"], booked["price"]) == (
        "bin",
        "a",
        "1",
        "64000",
    )
    # A FIX acknowledgement of an order never requested is parked, exactly as `ingest` parks it
    fix = "8=FIX.4.4|35=8|150=0|11=f-1|37=F1|55=BTC-USD|54=1|38=2|44=100|40=2|59=1|60=20261120-10:00:00\n"
    response = client.post(
        "/messages",
        content=fix,
        params={"format": "fix", "venue": "fx"},
        headers={"content-type": "application/octet-stream"},
    )
    assert response.status_code == 200, response.text
    assert [r["outcome"] for r in response.json()["results"]] == ["parked"]
    assert_problem(post(client, order, format="fix", venue="fx"), 415, "application/octet-stream")


def test_unreadable_bodies_are_refused_and_nothing_is_stored(client: TestClient, ledger: OrderLedger) -> None:
    assert_problem(
        client.post("/messages", content=b"{not json", headers={"content-type": "application/json"}),
        400,
        "the body is not JSON",
    )
    assert_problem(
        client.post("/messages", content=b"  ", headers={"content-type": "application/x-ndjson"}),
        400,
        "empty",
    )
    assert_problem(
        client.post("/messages", content=b"<x/>", headers={"content-type": "application/xml"}),
        415,
        "application/xml",
    )
    assert_problem(post(client, request(), format="ccxt"), 400, "format ccxt needs venue and account")
    assert_problem(post(client, request(), format="csv"), 400, "query parameter format")
    with ledger.db.read() as tx:
        assert tx.one("SELECT COUNT(*) FROM messages")[0] == 0


# ---------------------------------------------------------------------- queries


def test_orders_and_one_order(client: TestClient) -> None:
    session(client)
    orders = client.get("/orders").json()
    assert [(o["client_order_id"], o["status"]) for o in orders] == [
        ("c-1", "partially_filled"),
        ("c-2", "filled"),
    ]
    assert [o["client_order_id"] for o in client.get("/orders", params={"open": "true"}).json()] == ["c-1"]
    assert client.get("/orders", params={"account": "beta"}).json() == []
    one = client.get("/orders/c-1").json()
    assert (one["filled_quantity"], one["leaves_quantity"], one["average_price"]) == ("1", "1", "100")
    # At version 1 (only the request) nothing was filled yet
    assert client.get("/orders/c-1", params={"version": 1}).json()["filled_quantity"] == "0"


def test_history_shows_the_raw_message_behind_each_event(client: TestClient) -> None:
    session(client)
    history = client.get("/orders/c-1/history").json()
    assert [h["type"] for h in history] == ["OrderRequested", "OrderFilled"]
    # The fill's event came from the second message of the batch, kept verbatim
    assert json.loads(history[1]["message"]["raw"]) == fill("c-1", "t-1", "1", "100")
    assert history[1]["payload"]["trade_id"] == "t-1"


def test_trades_filters(client: TestClient) -> None:
    session(client)
    assert [t["trade_id"] for t in client.get("/trades").json()] == ["t-1", "t-2"]
    assert [t["trade_id"] for t in client.get("/trades", params={"order": "c-2"}).json()] == ["t-2"]
    # since 10:00:03 leaves only the 10:00:05 fill
    since = client.get("/trades", params={"since": "2026-11-20T10:00:03Z"}).json()
    assert [t["trade_id"] for t in since] == ["t-2"]
    assert_problem(client.get("/trades", params={"since": "yesterday"}), 400, "since")
    # 00:00 at +01:00 on 1 January of year 1 is before year 1 in UTC: bad input, not a 500
    for path, name in (("/trades", "since"), ("/orders", "as_of")):
        assert_problem(
            client.get(path, params={name: "0001-01-01T00:00:00+01:00"}), 400, f"{name} is out of range"
        )


def test_positions_and_pnl(client: TestClient) -> None:
    session(client)
    # Bought 1 @ 100, sold 1 @ 110: flat, realized (110 - 100) × 1 = 10
    [position] = client.get("/positions").json()
    assert (position["quantity"], position["realized_pnl"]) == ("0", "10")
    [day] = client.get("/pnl", params={"by": "day"}).json()
    assert (day["day"], day["realized_pnl"], day["fills"]) == ("2026-11-20", "10", 2)
    assert_problem(client.get("/pnl", params={"by": "colour"}), 400, "use day, account")
    assert_problem(client.get("/positions", params={"mark": "BTC-USDT"}), 400, "expected INSTRUMENT=PRICE")
    # The detail names the query parameter, not the command line's option or a Python argument.
    detail = client.get("/positions", params={"mark": "BTC-USDT"}).json()["detail"]
    assert detail == "mark 'BTC-USDT': expected INSTRUMENT=PRICE"


def test_daily_pnl_with_funding(client: TestClient, ledger: OrderLedger) -> None:
    session(client)
    funding = {"type": "cash_flow", "kind": "funding", "account": "alpha", "venue": "venue-x",
               "instrument": "BTC-USDT", "flow_id": "f-1", "amount": "2", "currency": "USDT",
               "ts": "2026-11-20T16:00:00Z"}  # fmt: skip
    assert post(client, [funding]).status_code == 200
    # Realized (110 − 100) × 1 = 10, no fees, funding +2: net 12; flat at the day's end: 0 unrealized
    [day] = client.get("/pnl/daily").json()
    assert (day["day"], day["account"], day["realized_pnl"], day["funding"]) == (
        "2026-11-20",
        "alpha",
        "10",
        {"USDT": "2"},
    )
    assert (day["realized_pnl_net"], day["unrealized_pnl"]) == ("12", "0")
    # The route answers what the Python API does, with the places the page shows: USDT to cents
    shown = client.get("/pnl/daily", params={"by": "account"}).json()
    assert [row.pop("precision") for row in shown] == [
        {"price": 8, "quantity": 8, "money": 2, "currencies": {"USDT": 2}}
    ]
    assert shown == [r.to_json() for r in ledger.analytics.pnl_daily()]
    daily = client.get("/pnl/daily", params={"by": "day"})
    assert_problem(daily, 400, "groups by account, parent or tag:NAME")


def test_a_fee_in_bnb_is_valued_at_a_recorded_rate(client: TestClient, ledger: OrderLedger) -> None:
    # Given buy 1 @ 100 (fee 0.01 BNB) and sell 1 @ 110 (fee 0.1 USDT), and a BNB-USDT mark of
    # 600 at 10:00:00, before the buy's fill at 10:00:01
    rate = {"type": "mark", "venue": "venue-x", "instrument": "BNB-USDT", "source": "ticker",
            "price": "600", "ts": "2026-11-20T10:00:00Z"}  # fmt: skip
    body = [
        request("c-1"),
        fill("c-1", "t-1", "1", "100", fee="0.01", fee_currency="BNB"),
        request("c-2", side="sell", quantity="1", price="110", ts="2026-11-20T10:00:04Z"),
        fill("c-2", "t-2", "1", "110", ts="2026-11-20T10:00:05Z", fee="0.1", fee_currency="USDT"),
        rate,
    ]
    assert post(client, body).status_code == 200
    # Then realized (110 − 100) × 1 = 10; the BNB fee is 0.01 × 600 = 6 USDT; net 10 − 0.1 − 6 = 3.9
    [position] = client.get("/positions").json()
    [day] = client.get("/pnl", params={"by": "day"}).json()
    [daily] = client.get("/pnl/daily").json()
    for row in (position, day, daily):
        value = row["fee_values"]["BNB"]
        assert (value["value"], value["rate"], value["source"], row["realized_pnl_net"]) == (
            "6.00",
            "600",
            "mark",
            "3.90",
        ), row
    # And the routes answer what the Python API does, with the places the page shows (USDT to
    # cents, the BNB fee to 8 places)
    assert position.pop("precision")["currencies"] == {"USDT": 2, "BNB": 8}
    assert [position] == [r.to_json() for r in ledger.positions()]
    fifo = client.get("/pnl", params={"cost_basis": "fifo", "by": "day"}).json()
    assert [row.pop("precision")["currencies"] for row in fifo] == [{"USDT": 2, "BNB": 8}]
    assert fifo == [r.to_json() for r in ledger.pnl(by="day", cost_basis="fifo")]


def test_positions_under_a_cost_basis_and_lots(client: TestClient) -> None:
    session(client)
    # FIFO on buy 1 @ 100 (t-1) then sell 1 @ 110 (t-2): one closed lot, cost 100, proceeds 110,
    # realized (110 − 100) × 1 = 10, as the average rule gives; no open lot.
    [position] = client.get("/positions", params={"cost_basis": "fifo"}).json()
    assert (position["quantity"], position["realized_pnl"]) == ("0", "10")
    [lot] = client.get("/lots", params={"cost_basis": "fifo", "closed": "true"}).json()
    assert (
        lot["open_trade_id"],
        lot["close_trade_id"],
        lot["cost"],
        lot["proceeds"],
        lot["realized_pnl"],
    ) == (
        "t-1",
        "t-2",
        "100",
        "110",
        "10",
    )
    assert client.get("/lots").json() == []
    [day] = client.get("/pnl", params={"cost_basis": "lifo"}).json()
    assert (day["day"], day["realized_pnl"], day["fills"]) == ("2026-11-20", "10", 2)
    assert_problem(client.get("/lots", params={"cost_basis": "average"}), 400, "lots need a lot rule")
    assert_problem(client.get("/positions", params={"cost_basis": "fofi"}), 400, "cost basis 'fofi'")


def test_events_messages_verify_health(client: TestClient) -> None:
    session(client)
    fills = client.get("/events", params={"type": "OrderFilled"}).json()
    assert [(e["position"], e["client_order_id"]) for e in fills] == [(2, "c-1"), (4, "c-2")]
    assert len(client.get("/events", params={"limit": 3}).json()) == 3
    assert_problem(client.get("/events", params={"type": "Nope"}), 400, "unknown event type 'Nope'")
    assert [m["outcome"] for m in client.get("/messages").json()] == ["applied"] * 4
    assert client.get("/verify").json()["ok"] is True
    assert client.get("/health").json() == {
        "status": "ok",
        "head": 4,
        "cost_basis": "average",
        "collectors": [],  # no `orderledger collect` runs on this ledger
    }


def test_unknown_things_are_problem_documents(client: TestClient) -> None:
    assert_problem(client.get("/orders/nope"), 404, "no order 'nope'")
    assert_problem(client.get("/orders/nope/history"), 404, "no order 'nope'")
    assert_problem(client.get("/nowhere"), 404, "no such resource: /nowhere")
    assert_problem(client.delete("/orders"), 405, "DELETE is not allowed on /orders")
    assert_problem(client.get("/events", params={"limit": "many"}), 400, "query parameter limit")


# ---------------------------------------------------------------------- reconcile


def test_reconcile_is_a_dry_run_unless_asked(client: TestClient) -> None:
    # Given c-1 open with 1 filled, and a venue that lists no open order at all
    post(client, [request("c-1", ts="2026-11-20T10:00:00Z"), fill()])
    before = client.get("/health").json()["head"]
    dry = client.post("/reconcile", json=SNAPSHOT)
    assert dry.status_code == 200, dry.text
    assert dry.json()["applied"] is False
    kinds = [d["kind"] for d in dry.json()["differences"]]
    assert kinds, "the open order the venue does not list is a difference"
    assert client.get("/health").json()["head"] == before  # nothing recorded
    applied = client.post("/reconcile", json=SNAPSHOT, params={"apply": "true"})
    assert applied.json()["applied"] is True
    assert client.get("/health").json()["head"] > before
    assert_problem(client.post("/reconcile", json={"venue": "v"}), 400, "snapshot")


def test_a_fifo_ledger_answers_under_fifo(tmp_path: Any) -> None:
    from orderledger.infrastructure.http.app import create_app
    from orderledger.infrastructure.http.service import LedgerService
    from tests.support.cost_basis import SESSION

    served = OrderLedger(f"sqlite:///{tmp_path / 'ledger.db'}")
    served.upkeep.init_database(cost_basis="fifo")
    with TestClient(create_app(LedgerService(served)), base_url=LOOPBACK) as fifo:
        assert post(fifo, [json.loads(line) for line in SESSION]).status_code == 200
        assert fifo.get("/health").json()["cost_basis"] == "fifo"
        # Buys 1 @ 100, 140, 120, 110; sell 2 @ 130. FIFO closes 100 and 140: 30 − 10 = 20; left
        # 120 and 110 (average 115); at 125: (125 − 115) × 2 = 20.
        [row] = fifo.get("/positions", params={"mark": "ETH-USDT=125"}).json()
        assert (row["average_price"], row["realized_pnl"], row["unrealized_pnl"]) == ("115", "20", "20")
        # Under a query's rule: average (130 − 117.5) × 2 = 25; LIFO (130 − 110) + (130 − 120) = 30.
        [day] = fifo.get("/pnl", params={"cost_basis": "average"}).json()
        assert day["realized_pnl"] == "25"
        [daily] = fifo.get("/pnl/daily", params={"cost_basis": "lifo"}).json()
        assert daily["realized_pnl"] == "30"
