"""A limit's response over HTTP on a real server (SQLite and PostgreSQL): a mark posted to the
server passes a drawdown limit, the account is halted at once, and `/risk/stream` says so in a
`state` frame; a cooldown set through `POST /state` lifts itself, a frame too (docs/risk.md,
"Responses"). Waits on the stream's frames, never on the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.http_api import fill, request, running_server, stream_frames

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(params=("sqlite", "postgres"))
def backend(request: pytest.FixtureRequest) -> str:
    """A server's ledger on a file backend (overrides tests/conftest.py's, which adds memory)."""
    return str(request.param)


def mark(price: str, ts: str) -> dict[str, Any]:
    return {"type": "mark", "venue": "venue-x", "instrument": "BTC-USDT", "price": price, "ts": ts}


def test_a_mark_through_the_server_halts_and_the_stream_says_so(file_ledger_url: str) -> None:
    now = [NOW]
    with running_server(file_ledger_url, clock=lambda: now[0]) as server:
        client = server.client
        # Given at most 40 of drawdown on alpha, answered by a halt (set through a message)
        limit = {"type": "limit_set", "ts": "2026-11-20T08:00:00Z", "scope": "account", "target": "alpha"}
        limit |= {"kind": "max_drawdown", "value": "40", "response": "halt", "set_by": "alice"}
        assert client.post("/messages", json=limit).status_code == 200
        [row] = client.get("/limits").json()
        assert (row["kind"], row["response"]) == ("max_drawdown", "halt")
        # And 10 BTC bought at 100, marked at 106: the day's P&L is (106 − 100) × 10 = 60, its high
        bought = [request(quantity="10"), fill(quantity="10"), mark("106", "2026-11-20T10:30:00Z")]
        assert client.post("/messages", json=bought).status_code == 200
        with client.stream("GET", "/risk/stream") as response:
            lines = response.iter_lines()
            # When a mark of 101 is posted: P&L (101 − 100) × 10 = 10, a drawdown of 60 − 10 = 50 > 40
            assert client.post("/messages", json=mark("101", "2026-11-20T11:00:00Z")).status_code == 200
            # Then alpha is halted at once, by the limit, and the stream says so with its time
            [halted] = stream_frames(lines, "state", 1)
            assert (halted["account"], halted["state"], halted["set_by"]) == (
                "alpha",
                "halted",
                "max_drawdown",
            )
            assert halted["changed_at"] == "2026-11-20T12:00:00.000000Z"
            assert halted["reason"].endswith(": is 50")
            # When beta is halted for a cooldown until 12:30 through POST /state
            cooldown = {
                "account": "beta",
                "state": "halted",
                "set_by": "ops",
                "until": "2026-11-20T12:30:00Z",
            }
            answer = client.post("/state", json=cooldown).json()
            assert [(r["account"], r["state"], r.get("until")) for r in answer] == [
                ("alpha", "halted", None),
                ("beta", "halted", "2026-11-20T12:30:00.000000Z"),
            ]
            [beta] = stream_frames(lines, "state", 1)
            assert (beta["account"], beta["state"], beta["until"]) == (
                "beta",
                "halted",
                "2026-11-20T12:30:00.000000Z",
            )
            # And the clock reaches 12:30: the cooldown lifts itself, a frame at its end (seen at a poll)
            now[0] = NOW + timedelta(minutes=30)
            [lifted] = stream_frames(lines, "state", 1)
            assert (lifted["account"], lifted["state"], lifted["changed_at"]) == (
                "beta",
                "active",
                "2026-11-20T12:30:00.000000Z",
            )


@pytest.mark.parametrize(("response", "state"), [("reduce_only", "reduce_only"), ("halt", "halted")])
def test_a_daily_loss_through_the_server_sets_the_response_it_names(
    file_ledger_url: str, response: str, state: str
) -> None:
    now = [NOW]
    with running_server(file_ledger_url, clock=lambda: now[0]) as server:
        client = server.client
        # Given at most 50 lost a day on alpha (the log's first event), answered by its response
        limit = {"type": "limit_set", "ts": "2026-11-20T08:00:00Z", "scope": "account", "target": "alpha"}
        limit |= {"kind": "max_daily_loss", "value": "50", "response": response, "set_by": "alice"}
        assert client.post("/messages", json=limit).status_code == 200
        cites = (
            "max_daily_loss 50 on account alpha (limit event 1, set by alice at 2026-11-20T08:00:00.000000Z)"
        )
        cites += ": is 60"
        # When 10 BTC bought at 100 and sold at 94 are posted, as the venue reports them: realized
        # (94 − 100) × 10 = −60, a loss of 60 > 50
        loss = [
            request("b1", quantity="10", external=True),
            fill("b1", "t-b1", quantity="10"),
            request("s1", side="sell", price="94", quantity="10", external=True, ts="2026-11-20T10:05:00Z"),
            fill("s1", "t-s1", quantity="10", price="94", ts="2026-11-20T10:05:01Z"),
        ]
        assert client.post("/messages", json=loss).status_code == 200
        # Then the sale's commit set alpha to the response, citing the limit's event
        [row] = client.get("/state").json()
        assert (row["account"], row["state"], row["set_by"], row["reason"]) == (
            "alpha",
            state,
            "max_daily_loss",
            cites,
        )
        # When a person resumes alpha a minute later, still past the limit, and a minute later an
        # order that adds is checked
        now[0] = NOW + timedelta(minutes=1)
        resumed = client.post("/state", json={"account": "alpha", "state": "active", "set_by": "bob"})
        assert resumed.status_code == 200, resumed.text
        now[0] = NOW + timedelta(minutes=2)
        spec = {k: v for k, v in request().items() if k not in ("type", "client_order_id", "ts")}
        answer = client.post("/check", json=spec).json()
        # Then it is denied, and the daily loss rule sets the response again, citing the event
        assert (answer["allowed"], answer["state"]) == (False, state)
        [row] = client.get("/state").json()
        assert (row["state"], row["set_by"], row["reason"]) == (state, "max_daily_loss", cites)
