"""Who may set limits and trading states over HTTP, and who they are recorded as set by: the
``risk`` role, apart from ``write`` (the key a bot trades with does not raise its limits or
resume it), on every route that writes them (``POST /state``, and ``limit_set``,
``limit_cleared`` and ``trading_state`` messages through ``POST /messages``); the token's name is
the fact's ``set_by`` and is in the journal's origin (docs/http.md, "Access")."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.http.app import create_app
from orderledger.infrastructure.http.auth import tokens
from orderledger.infrastructure.http.service import LedgerService
from tests.support.cli import cli_command, cli_env
from tests.support.http_api import BOUND, LOOPBACK, assert_problem, bearer, free_port, request, wait_answering

BOT = "bot-token-0123456789ab"  # write: the bot's key
RITA = "rita-token-0123456789a"  # risk: the risk officer's
DESK = "desk-token-0123456789a"  # write and risk in one token
READ = "read-token-0123456789a"
TOKENS = tokens((BOT, "bot=write"), (RITA, "rita=risk"), (DESK, "desk=write+risk"), (READ, "read"))


def limit(set_by: str, value: str = "5", **fields: Any) -> dict[str, Any]:
    """At most 5 BTC-USDT on account alpha from 09:00."""
    return {"type": "limit_set", "ts": "2026-11-20T09:00:00Z", "scope": "account", "target": "alpha",
            "kind": "max_position", "value": value, "set_by": set_by, **fields}  # fmt: skip


def state(set_by: str, account: str | None = "alpha", value: str = "halted") -> dict[str, Any]:
    message = {"type": "trading_state", "ts": "2026-11-20T09:00:00Z", "state": value, "set_by": set_by}
    return message if account is None else {**message, "account": account}


@pytest.fixture
def app(ledger: OrderLedger) -> Iterator[TestClient]:
    with TestClient(create_app(LedgerService(ledger), TOKENS), base_url=LOOPBACK) as client:
        yield client


def journal(ledger: OrderLedger) -> list[tuple[str, str]]:
    return [(m.origin, m.outcome.value) for m in ledger.audit.messages()]


def test_a_write_token_sets_no_limit_and_no_state_by_any_route(app: TestClient, ledger: OrderLedger) -> None:
    cleared = {**limit("bot"), "type": "limit_cleared"}
    del cleared["value"]
    # When the bot's write token posts a limit, a clearing, a trading state (one, or in a batch
    # with an order, or with its type spelled with an escape) or sets a state
    for body in (limit("bot"), cleared, state("bot"), [request(), limit("bot")]):
        refused = app.post("/messages", json=body, headers=bearer(BOT))
        assert_problem(refused, 403, "this token's role is write; Ingest needs risk")
    raw = (
        b'{"type":"limit\\u005fset","ts":"2026-11-20T09:00:00Z","scope":"account","target":"alpha",'
        b'"kind":"max_position","value":"500","set_by":"bot"}'
    )
    refused = app.post("/messages", content=raw, headers={**bearer(BOT), "content-type": "application/json"})
    assert_problem(refused, 403, "this token's role is write; Ingest needs risk")
    assert_problem(
        app.post("/state", json={"state": "active"}, headers=bearer(BOT)),
        403,
        "this token's role is write; SetTradingState needs risk",
    )
    # Then nothing is stored: no limit, no state, not even a journal line
    assert (
        ledger.risk_controls.limits() == []
        and ledger.risk_controls.trading_states() == []
        and ledger.audit.messages() == []
    )
    # And it still trades: an order is recorded, journaled as from the bot
    assert app.post("/messages", json=request(), headers=bearer(BOT)).status_code == 200
    assert journal(ledger) == [("http:bot@testclient", "applied")]
    # And a read token may do neither
    assert_problem(
        app.post("/messages", json=limit("x"), headers=bearer(READ)), 403, "Ingest needs write or risk"
    )


def test_a_risk_token_sets_them_as_its_name_and_trades_nothing(app: TestClient, ledger: OrderLedger) -> None:
    # When rita's risk token posts a limit signed with her name, and halts alpha
    assert app.post("/messages", json=limit("rita"), headers=bearer(RITA)).status_code == 200
    states = app.post(
        "/state", json={"account": "alpha", "state": "halted", "reason": "review"}, headers=bearer(RITA)
    )
    assert states.status_code == 200, states.text
    # Then both are set by rita, the state though it named no one, as the page and the CLI show
    [set_limit] = app.get("/limits", headers=bearer(READ)).json()
    assert (set_limit["kind"], set_limit["value"], set_limit["set_by"]) == ("max_position", "5", "rita")
    assert [(s["account"], s["state"], s["set_by"]) for s in states.json()] == [("alpha", "halted", "rita")]
    assert [(s.account, s.set_by) for s in ledger.risk_controls.trading_states()] == [("alpha", "rita")]
    # And the journal records who sent each, by the token's name
    assert journal(ledger) == [("http:rita@testclient", "applied")] * 2
    # When she signs a fact with another name (the page's field, a message's set_by): refused,
    # nothing stored: a fact written over HTTP is set by the token that sends it
    for refused in (
        app.post("/messages", json=limit("alice", "9"), headers=bearer(RITA)),
        app.post("/messages", json=[limit("rita", "7"), state("alice")], headers=bearer(RITA)),
        app.post("/state", json={"state": "active", "set_by": "alice"}, headers=bearer(RITA)),
    ):
        assert_problem(refused, 403, "set_by 'alice' is not this token's name 'rita'")
    assert [r.value for r in ledger.risk_controls.limits()] == [5] and len(ledger.audit.messages()) == 2
    # And her token records no order: that is write's
    assert_problem(
        app.post("/messages", json=request(), headers=bearer(RITA)), 403, "role is risk; Ingest needs write"
    )
    assert_problem(
        app.post("/messages", json=[request(), limit("rita")], headers=bearer(RITA)),
        403,
        "role is risk; Ingest needs write",
    )


def test_a_token_holding_write_and_risk_may_send_both_in_one_batch(
    app: TestClient, ledger: OrderLedger
) -> None:
    answer = app.post("/messages", json=[request(), limit("desk"), state("desk", None)], headers=bearer(DESK))
    assert answer.status_code == 200 and answer.json()["counts"]["applied"] == 3, answer.text
    assert [(r.set_by, r.target) for r in ledger.risk_controls.limits()] == [("desk", "alpha")]
    assert [(s.account, s.state, s.set_by) for s in ledger.risk_controls.trading_states()] == [
        ("", "halted", "desk")
    ]


def test_without_tokens_the_name_given_is_recorded_and_the_address(
    client: TestClient, ledger: OrderLedger
) -> None:
    """Loopback only, with no tokens: whoever can reach the server may do anything, so a fact is
    set by the name the client gives, and the journal says from where."""
    assert_problem(client.post("/state", json={"state": "halted"}), 400, "a state needs set_by")
    assert client.post("/state", json={"state": "halted", "set_by": "carol"}).status_code == 200
    assert client.post("/messages", json=limit("dave")).status_code == 200
    assert [(s.account, s.set_by) for s in ledger.risk_controls.trading_states()] == [("", "carol")]
    assert [r.set_by for r in ledger.risk_controls.limits()] == ["dave"]
    assert journal(ledger) == [("http:testclient", "applied")] * 2


def test_the_state_in_force_is_shown_after_a_global_halt(app: TestClient, ledger: OrderLedger) -> None:
    # Given alpha resumed by its own state, then every account halted by rita
    for body in ({"account": "alpha", "state": "active"}, {"state": "halted", "reason": "venue incident"}):
        assert app.post("/state", json=body, headers=bearer(RITA)).status_code == 200
    # Then GET /state says alpha is halted, from the global state, its own being active
    rows = app.get("/state", headers=bearer(READ)).json()
    assert [(r["account"], r["state"], r["effective_state"], r["effective_from"]) for r in rows] == [
        ("", "halted", "halted", "global"),
        ("alpha", "active", "halted", "global"),
    ]
    # And an order of alpha is denied for it
    check = app.post(
        "/check", json={k: v for k, v in request().items() if k not in ("type", "ts")}, headers=bearer(BOT)
    )
    assert check.json()["state"] == "halted" and not check.json()["allowed"]


def test_serve_takes_named_tokens_of_several_roles_from_its_file(tmp_path: Path) -> None:
    """The real ``orderledger serve --tokens FILE``: a line ``NAME=ROLE+ROLE TOKEN`` names who
    holds the token and every role it holds."""
    path = tmp_path / "tokens"
    path.write_text(f"# the desk\nbot=write {BOT}\nrita=risk {RITA}\ndesk=write+risk {DESK}\n")
    path.chmod(0o600)
    port = free_port()
    command = cli_command(
        "serve", "--port", str(port), "--tokens", str(path), db=f"sqlite:///{tmp_path / 'l.db'}"
    )
    server = subprocess.Popen(
        command, cwd=tmp_path, env=cli_env(), stderr=subprocess.PIPE, stdout=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_answering(server, url)
        # (another account than the order's: a halted account's order is denied at the door)
        halt = {"state": "halted", "account": "beta", "reason": "venue incident"}
        refused = httpx2.post(f"{url}/state", json=halt, headers=bearer(BOT))
        assert_problem(refused, 403, "this token's role is write; SetTradingState needs risk")
        assert httpx2.post(f"{url}/state", json=halt, headers=bearer(RITA)).status_code == 200
        both = [request(), limit("desk")]
        assert httpx2.post(f"{url}/messages", json=both, headers=bearer(DESK)).status_code == 200
        states = httpx2.get(f"{url}/state", headers=bearer(BOT)).json()
        limits = httpx2.get(f"{url}/limits", headers=bearer(BOT)).json()
        assert [(s["account"], s["set_by"]) for s in states] == [("beta", "rita")]
        assert [(r["target"], r["set_by"]) for r in limits] == [("alpha", "desk")]
    finally:
        server.terminate()
        server.wait(BOUND)
        server.stdout and server.stdout.close()
        server.stderr and server.stderr.close()
