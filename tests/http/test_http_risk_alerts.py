"""GET /risk and GET /risk/stream on a real server over SQLite and PostgreSQL: how close each
limit stands, and an SSE ``alert`` each time a limit's status changes (docs/risk.md, "Watching
the limits"), commits of another process included, waiting on the stream's frames, never on the
clock."""

from __future__ import annotations

from typing import Any

import pytest

from orderledger import OrderLedger
from tests.support.http_api import (
    READ_TOKEN,
    TOKENS,
    assert_problem,
    bearer,
    fill,
    request,
    running_server,
    stream_frames,
)


@pytest.fixture(params=("sqlite", "postgres"))
def backend(request: pytest.FixtureRequest) -> str:
    """A server's ledger on a file backend (overrides tests/conftest.py's, which adds memory)."""
    return str(request.param)


def canceled(cid: str) -> dict[str, Any]:
    return {"type": "canceled", "client_order_id": cid, "ts": "2026-11-20T10:00:09Z"}


def test_risk_answers_each_limits_status_and_the_stream_each_change(file_ledger_url: str) -> None:
    with running_server(file_ledger_url) as server:
        client = server.client
        # Given at most 10 BTC-USDT on the instrument, orders of at most 1,000 on alpha, and 8 bought
        server.ledger.risk_controls.set_limit("instrument", "BTC-USDT", "max_position", "10", set_by="alice")
        server.ledger.risk_controls.set_limit("account", "alpha", "max_order_notional", "1000", set_by="bob")
        # (the orders as a venue reports them: facts the risk door records whatever the limits)
        bought = [request(quantity="8", external=True), fill(quantity="8")]
        assert client.post("/messages", json=bought).status_code == 200
        # Then 8 of 10 is 80%: near at the default threshold; the order notional limit has no figure
        rows = client.get("/risk").json()
        assert [(r["status"], r["kind"], r.get("figure"), r["set_by"]) for r in rows] == [
            ("per_order", "max_order_notional", None, "bob"),
            ("near", "max_position", "8", "alice"),
        ]
        # And at a threshold of 0.9 it is ok (8 < 0.9 × 10 = 9)
        assert [r["status"] for r in client.get("/risk", params={"threshold": "0.9"}).json()] == [
            "per_order",
            "ok",
        ]
        with client.stream("GET", "/risk/stream") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.iter_lines()
            # The stream begins with each limit not ok: the near position
            [first] = stream_frames(lines, "alert", 1)
            assert (first["status"], first["scope"], first["target"], first["figure"]) == (
                "near",
                "instrument",
                "BTC-USDT",
                "8",
            )
            # When an order for 1 more is open, the worst case is 8 + 1 = 9: still near, no alert;
            # then 2 more bought make 10 held + 1 open = 11 > 10: breached
            client.post("/messages", json=request("c-2", quantity="1", external=True))
            more = [request("c-3", quantity="2", external=True), fill("c-3", "t-3", quantity="2")]
            client.post("/messages", json=more)
            [breach] = stream_frames(lines, "alert", 1)
            assert (breach["status"], breach["figure"]) == ("breached", "11")
            # And once the open order is canceled: 10 of 10 is not past it, near again
            client.post("/messages", json=canceled("c-2"))
            [back] = stream_frames(lines, "alert", 1)
            assert (back["status"], back["figure"]) == ("near", "10")
            # When another process raises the limit to 20: 10 of 20 is 50%, ok (seen at a poll)
            with OrderLedger(file_ledger_url) as other:
                other.risk_controls.set_limit("instrument", "BTC-USDT", "max_position", "20", set_by="carol")
            [ok] = stream_frames(lines, "alert", 1)
            assert (ok["status"], ok["value"], ok["figure"], ok["set_by"]) == ("ok", "20", "10", "carol")


def test_a_bad_threshold_is_a_problem_before_any_stream() -> None:
    with running_server() as server:
        client = server.client
        for path in ("/risk", "/risk/stream"):
            for threshold in ("0", "1.5"):
                assert_problem(
                    client.get(path, params={"threshold": threshold}),
                    400,
                    "threshold must be a share above 0 and at most 1",
                )
            assert_problem(client.get(path, params={"threshold": "most"}), 400, "threshold")


def test_risk_and_its_stream_need_a_read_token() -> None:
    with running_server(tokens=TOKENS) as server:
        client = server.client
        assert client.get("/risk").status_code == 401
        assert client.get("/risk/stream").status_code == 401
        assert client.get("/risk", headers=bearer(READ_TOKEN)).json() == []
        with client.stream("GET", "/risk/stream", headers=bearer(READ_TOKEN)) as response:
            assert response.status_code == 200
