"""Proposal → order → trade linkage over HTTP: ``GET /orders?parent=``, ``GET /trades?parent=``
and ``GET /pnl?by=parent`` answer what the CLI and the query functions answer for the session
of tests/support/parent_linkage.py (its docstring works out every figure by hand):

  P1: orders A, B; trades tA, tB; realized 0 + 40 = 40, fees 1 + 0.5 = 1.5, net 38.5
  P2: orders C, E (E learns its parent after its fill); trades tC, tE; realized −30 + 0 = −30,
      fees 0.25 + 0.05 = 0.3, net −30.3
  (none): D; realized 0, fee 0.1, net −0.1
"""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from orderledger.infrastructure.application.ledger import OrderLedger
from tests.support.parent_linkage import EXPECTED_PNL, SESSION, pnl_rows, trade_rows


def test_orders_trades_and_pnl_by_parent(client: TestClient, ledger: OrderLedger) -> None:
    # Given the session, posted as JSON lines
    body = [json.loads(line) for line in SESSION]
    response = client.post("/messages", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["counts"]["applied"] == len(SESSION)

    def get(path: str, **params: str) -> list[dict[str, str]]:
        answer = client.get(path, params=params)
        assert answer.status_code == 200, answer.text
        rows: list[dict[str, str]] = answer.json()
        return rows

    # Then each parent lists its orders, E under P2 although it learned its parent after its fill
    assert [o["client_order_id"] for o in get("/orders", parent="P1")] == ["A", "B"]
    assert [o["client_order_id"] for o in get("/orders", parent="P2")] == ["C", "E"]
    assert get("/orders", parent="P3") == []
    # And the filter combines with the others (both P1 orders are filled: none is open)
    assert get("/orders", parent="P1", open="true") == []
    # And as of a time: the orders view as the log knew it then, filtered the same way
    assert [o["client_order_id"] for o in get("/orders", parent="P1", as_of="2099-01-01T00:00:00Z")] == [
        "A",
        "B",
    ]
    # And each parent's trades, each row naming the parent it was selected by
    assert trade_rows(get("/trades", parent="P1")) == [("A", "tA", "P1"), ("B", "tB", "P1")]
    assert trade_rows(get("/trades", parent="P2")) == [("C", "tC", "P2"), ("E", "tE", "P2")]
    assert trade_rows(get("/trades", parent="P1", order="B")) == [("B", "tB", "P1")]
    assert get("/trades", parent="P3") == []
    # And P&L by parent is the CLI's
    assert pnl_rows(get("/pnl", by="parent")) == EXPECTED_PNL


def test_the_parent_filters_are_described_in_the_openapi(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    for path in ("/orders", "/trades"):
        [parent] = [p for p in document["paths"][path]["get"]["parameters"] if p["name"] == "parent"]
        assert "parent" in parent["description"]
    [by] = [p for p in document["paths"]["/pnl"]["get"]["parameters"] if p["name"] == "by"]
    assert "parent" in by["description"]
