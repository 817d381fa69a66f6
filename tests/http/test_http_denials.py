"""GET /denials and the ``breach`` frames of GET /risk/stream on a real server over SQLite and
PostgreSQL (docs/risk.md, "Denials and breaches"): each breach the risk door records, with the
time of the change, waiting on the stream's frames, never on the clock."""

from __future__ import annotations

import pytest

from tests.support.http_api import (
    READ_TOKEN,
    TOKENS,
    WRITE_TOKEN,
    assert_problem,
    bearer,
    request,
    running_server,
    stream_frames,
)


@pytest.fixture(params=("sqlite", "postgres"))
def backend(request: pytest.FixtureRequest) -> str:
    """A server's ledger on a file backend (overrides tests/conftest.py's, which adds memory)."""
    return str(request.param)


def test_denials_and_the_breach_frames_say_what_the_door_found_and_when(file_ledger_url: str) -> None:
    with running_server(file_ledger_url, tokens=TOKENS) as server:
        client = server.client
        read = bearer(READ_TOKEN)
        # Given orders of at most 150 on alpha (the request: 2 × 100 = 200 > 150)
        server.ledger.risk_controls.set_limit("account", "alpha", "max_order_notional", "150", set_by="alice")
        with client.stream("GET", "/risk/stream", headers=read) as stream:
            lines = stream.iter_lines()
            assert next(lines) == "retry: 1000"
            # When a request of ours is posted, and the venue reports an order placed elsewhere
            denied = client.post("/messages", json=request("c-1"), headers=bearer(WRITE_TOKEN))
            venue = request("v-1", external=True, venue_order_id="9")
            flagged = client.post("/messages", json=venue, headers=bearer(WRITE_TOKEN))
            assert [r["outcome"] for r in denied.json()["results"] + flagged.json()["results"]] == [
                "denied",
                "applied",
            ]
            assert flagged.json()["results"][0]["flagged"] == 1
            # Then each is a breach frame, with the time of the change
            first, second = stream_frames(lines, "breach", 2)
        assert [(f["action"], f["client_order_id"]) for f in (first, second)] == [
            ("denied", "c-1"),
            ("flagged", "v-1"),
        ]
        assert all(f["changed_at"] == f["ts"] for f in (first, second))
        # And GET /denials answers the same rows, filtered by account and limit, to a read token
        rows = client.get("/denials", headers=read).json()
        assert rows == [{k: v for k, v in f.items() if k != "changed_at"} for f in (first, second)]
        assert rows[0]["breaches"][0]["figure"] == "200" and rows[0]["breaches"][0]["value"] == "150"
        kind = {"limit": "max_order_notional", "account": "alpha"}
        assert client.get("/denials", params=kind, headers=read).json() == rows
        assert client.get("/denials", params={"limit": "trading_state"}, headers=read).json() == []
        assert [
            r["client_order_id"] for r in client.get("/denials", params={"last": 1}, headers=read).json()
        ] == ["v-1"]
        assert client.get("/denials").status_code == 401
        assert_problem(client.get("/denials", params={"last": 0}, headers=read), 400, "last")
