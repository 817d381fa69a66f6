"""POST /messages/{id}/settle: a parked message settled by hand over HTTP (admin only), recorded
in the journal with who and why (docs/http.md)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.support.http_api import ADMIN_TOKEN, WRITE_TOKEN, bearer, fill


def _parked_fill(client: TestClient) -> int:
    """A fill for order c-1, which no request names: parked. Its message ID."""
    response = client.post("/messages", json=fill(), headers=bearer(WRITE_TOKEN))
    assert response.status_code == 200 and response.json()["counts"]["parked"] == 1, response.text
    parked = client.get("/messages", params={"outcome": "parked"}, headers=bearer(ADMIN_TOKEN)).json()
    return int(parked[0]["message_id"])


def _settle(client: TestClient, message_id: Any, body: Any, token: str = ADMIN_TOKEN) -> Any:
    return client.post(f"/messages/{message_id}/settle", json=body, headers=bearer(token))


def test_an_admin_sets_a_parked_message_aside(secured: TestClient) -> None:
    parked_id = _parked_fill(secured)
    terms = {"reason": "fill of an order booked by hand elsewhere", "by": "dana"}
    # When a write token tries: refused, nothing settled
    assert _settle(secured, parked_id, terms, WRITE_TOKEN).status_code == 403
    # When an admin settles it
    response = _settle(secured, parked_id, terms)
    assert response.status_code == 200, response.text
    settled = response.json()
    assert settled["message_id"] == parked_id and settled["action"] == "set_aside"
    # Then nothing is parked; the journal holds the line, now ignored with who and why, and the
    # settlement line (origin: the client's address)
    journal = secured.get("/messages", headers=bearer(ADMIN_TOKEN)).json()
    assert [(m["message_id"], m["outcome"]) for m in journal] == [
        (parked_id, "ignored"),
        (settled["settled_by"], "applied"),
    ]
    assert journal[0]["reason"] == "set aside by dana: fill of an order booked by hand elsewhere"
    assert journal[1]["format"] == "settlement" and journal[1]["origin"].startswith("http:")


def test_bad_settlements_are_one_line_problems_and_change_nothing(secured: TestClient) -> None:
    parked_id = _parked_fill(secured)
    cases = [
        (parked_id, {"by": "dana"}, 400, "a settlement needs a reason"),
        (parked_id, {"reason": "x", "by": "dana", "book": "yes"}, 400, "book must be true or false"),
        (parked_id, {"reason": "x", "by": "dana", "color": "red"}, 400, "unknown field 'color'"),
        (parked_id, ["x"], 400, "the body must be a JSON object"),
        (parked_id, {"reason": "x", "by": "dana", "book": True}, 400, "states no order's details"),
        (999, {"reason": "x", "by": "dana"}, 400, "no message 999 in the journal"),
    ]
    for message_id, body, status, detail in cases:
        response = _settle(secured, message_id, body)
        assert response.status_code == status, (body, response.text)
        assert detail in response.json()["detail"], (body, response.text)
    journal = secured.get("/messages", headers=bearer(ADMIN_TOKEN)).json()
    assert [(m["message_id"], m["outcome"]) for m in journal] == [(parked_id, "parked")]
