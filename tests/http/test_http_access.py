"""Access: bearer tokens with roles, loopback only without tokens, bounded bodies; a refused
request is a problem document and stores nothing."""

from __future__ import annotations

import hashlib
import socket
import subprocess
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.errors import ConfigurationError
from orderledger.infrastructure.http.auth import check_bind, load_tokens
from tests.support.cli import assert_one_line_failure, cli_command, cli_env, run_cli
from tests.support.http_api import (
    ADMIN_TOKEN,
    BOUND,
    READ_TOKEN,
    SNAPSHOT,
    WRITE_TOKEN,
    assert_problem,
    bearer,
    free_port,
    request,
    said_listening,
    wait_answering,
)


def stored(ledger: OrderLedger) -> int:
    with ledger.db.read() as tx:
        return int(tx.one("SELECT COUNT(*) FROM messages")[0])


def test_missing_or_unknown_token_is_401_and_nothing_is_stored(
    secured: TestClient, ledger: OrderLedger
) -> None:
    missing = secured.post("/messages", json=request())
    assert_problem(missing, 401, "a bearer token is required")
    assert missing.headers["www-authenticate"] == "Bearer"
    assert_problem(secured.post("/messages", json=request(), headers=bearer("x" * 20)), 401, "not known")
    assert_problem(secured.get("/orders", headers={"Authorization": "Basic dXNlcjpwYXNz"}), 401, "required")
    assert stored(ledger) == 0


def test_roles_include_the_ones_below(secured: TestClient, ledger: OrderLedger) -> None:
    # read may read but not write
    assert secured.get("/orders", headers=bearer(READ_TOKEN)).status_code == 200
    assert_problem(
        secured.post("/messages", json=request(), headers=bearer(READ_TOKEN)),
        403,
        "role is read; Ingest needs write",
    )
    assert stored(ledger) == 0
    # write may write and read
    assert secured.post("/messages", json=request(), headers=bearer(WRITE_TOKEN)).status_code == 200
    assert secured.get("/orders/c-1", headers=bearer(WRITE_TOKEN)).status_code == 200
    # applying a reconciliation needs admin; a dry run only read
    assert secured.post("/reconcile", json=SNAPSHOT, headers=bearer(READ_TOKEN)).status_code == 200
    head = secured.get("/health").json()["head"]
    assert_problem(
        secured.post("/reconcile", json=SNAPSHOT, params={"apply": "true"}, headers=bearer(WRITE_TOKEN)),
        403,
        "role is write; Reconcile needs admin",
    )
    assert secured.get("/health").json()["head"] == head
    applied = secured.post("/reconcile", json=SNAPSHOT, params={"apply": "true"}, headers=bearer(ADMIN_TOKEN))
    assert applied.status_code == 200


def test_the_page_and_health_need_no_token(secured: TestClient) -> None:
    page = secured.get("/")
    assert page.status_code == 200 and "<title>OrderLedger</title>" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert secured.get("/health").status_code == 200


def test_bodies_are_bounded(secured: TestClient, ledger: OrderLedger) -> None:
    # The bound is 4,096 bytes: a batch of 5,000 bytes is refused whole
    body = b"".join([b" " * 99 + b"\n"] * 50)  # 50 × (99 + 1) = 5,000 bytes
    assert len(body) == 5_000
    response = secured.post(
        "/messages", content=body, headers={**bearer(WRITE_TOKEN), "content-type": "application/x-ndjson"}
    )
    assert_problem(response, 413, "the body is 5,000 bytes; the limit is 4,096")
    # A body sent without a length (chunked) is cut off at the bound as well
    chunks = (b"x" * 1000 for _ in range(5))
    response = secured.post(
        "/messages", content=chunks, headers={**bearer(WRITE_TOKEN), "content-type": "application/x-ndjson"}
    )
    assert_problem(response, 413, "larger than the limit of 4,096 bytes")
    assert stored(ledger) == 0


def test_tokens_come_from_a_file_and_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text(
        "# operators\nread  r-000000000000000001\nadmin a-000000000000000001\n"
        "rita=risk k-000000000000000001\nbot-1=write+risk b-000000000000000001\n"
    )
    path.chmod(0o600)
    environ = {"ORDERLEDGER_TOKENS": "write:w-000000000000000001,sam=risk+read:s-000000000000000001"}
    tokens = load_tokens(str(path), environ=environ)

    def held(token: str) -> tuple[str, set[str]] | None:
        holder = tokens.holder_of(token)
        return None if holder is None else (holder.name, set(holder.roles))

    # a token given no name is known by the first 8 hex digits of its SHA-256
    digest = hashlib.sha256(b"r-000000000000000001").hexdigest()[:8]
    assert held("r-000000000000000001") == (f"token:{digest}", {"read"})
    assert held("a-000000000000000001")[1] == {"admin"}  # type: ignore[index]
    assert held("w-000000000000000001")[1] == {"write"}  # type: ignore[index]
    # a name before "=", several roles joined by "+", from the file and the environment alike
    assert held("k-000000000000000001") == ("rita", {"risk"})
    assert held("b-000000000000000001") == ("bot-1", {"write", "risk"})
    assert held("s-000000000000000001") == ("sam", {"risk", "read"})
    assert held("r-000000000000000002") is None
    with pytest.raises(ConfigurationError, match="role 'root' is not one of read, write, admin, risk"):
        load_tokens(None, environ={"ORDERLEDGER_TOKENS": "root:r-000000000000000001"})
    with pytest.raises(ConfigurationError, match="role 'root' is not one of"):
        load_tokens(None, environ={"ORDERLEDGER_TOKENS": "ann=write+root:r-000000000000000001"})
    with pytest.raises(ConfigurationError, match="name 'a b' is not letters"):
        load_tokens(None, environ={"ORDERLEDGER_TOKENS": "a b=risk:r-000000000000000001"})
    with pytest.raises(ConfigurationError, match="at least 16 characters"):
        load_tokens(None, environ={"ORDERLEDGER_TOKENS": "read:short"})
    with pytest.raises(ConfigurationError, match="the same token is given two different names or roles"):
        load_tokens(
            None,
            environ={"ORDERLEDGER_TOKENS": "ann=risk:r-000000000000000001,bob=risk:r-000000000000000001"},
        )


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602], ids=lambda mode: f"{mode:04o}")
def test_serve_refuses_a_tokens_file_others_may_open(tmp_path: Path, mode: int) -> None:
    """A tokens file readable or writable by group or others holds keys anyone may take (or add
    to): `serve` refuses it in one line, before it opens the ledger or binds a port."""
    path = tmp_path / "tokens"
    path.write_text("admin a-000000000000000001\n")
    path.chmod(mode)
    # A ledger that cannot be opened: were the tokens accepted, `serve` would fail on it instead.
    db = f"sqlite:///{tmp_path / 'no such folder' / 'l.db'}"
    line = assert_one_line_failure(run_cli("serve", "--tokens", str(path), db=db, cwd=tmp_path), 2)
    assert f"tokens file {str(path)!r} is open to group or others (mode {mode:04o})" in line, line
    assert "chmod 600" in line, line
    with pytest.raises(ConfigurationError, match="open to group or others"):
        load_tokens(None, environ={"ORDERLEDGER_TOKENS_FILE": str(path)})
    path.chmod(0o600)
    assert load_tokens(str(path), environ={}).holder_of("a-000000000000000001").roles == {"admin"}  # type: ignore[union-attr]


def test_without_tokens_only_loopback_may_be_bound() -> None:
    no_tokens = load_tokens(None, environ={})
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        check_bind(host, no_tokens)
    for host in ("0.0.0.0", "192.168.1.5", "::", "example.org"):
        with pytest.raises(ConfigurationError, match=f"refusing to listen on {host} without tokens"):
            check_bind(host, no_tokens)
    check_bind("0.0.0.0", load_tokens(None, environ={"ORDERLEDGER_TOKENS": "read:r-000000000000000001"}))


def test_serve_refuses_a_public_address_without_tokens(tmp_path: Path) -> None:
    run = run_cli("serve", "--host", "0.0.0.0", db=f"sqlite:///{tmp_path / 'l.db'}", cwd=tmp_path)
    assert run.returncode == 2
    assert run.stderr.strip().startswith("orderledger: refusing to listen on 0.0.0.0 without tokens")
    assert len(run.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("port", ["99999", "0", "65536"])
def test_serve_refuses_a_port_out_of_range(tmp_path: Path, port: str) -> None:
    run = run_cli("serve", "--port", port, db=f"sqlite:///{tmp_path / 'l.db'}", cwd=tmp_path)
    assert (run.returncode, run.stderr) == (2, f"orderledger: --port must be from 1 to 65535, not {port}\n")


def test_serve_on_a_port_in_use_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = run_cli("serve", "--port", str(port), db=f"sqlite:///{tmp_path / 'l.db'}", cwd=tmp_path)
    assert run.returncode == 2, run.describe()
    assert run.stderr_lines == [f"orderledger: cannot listen on 127.0.0.1:{port}: Address already in use"]


def test_serve_listens_on_its_port_and_lets_an_allowed_origin_write(tmp_path: Path) -> None:
    port = free_port()
    command = cli_command(
        "serve",
        "--port",
        str(port),
        "--allow-origin",
        "https://desk.example",
        db=f"sqlite:///{tmp_path / 'l.db'}",
    )
    server = subprocess.Popen(
        command, cwd=tmp_path, env=cli_env(), stderr=subprocess.PIPE, stdout=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"

    try:
        wait_answering(server, url)
        allowed = httpx2.post(url + "/messages", json=request(), headers={"Origin": "https://desk.example"})
        other = httpx2.post(
            url + "/messages", json=request("c-2"), headers={"Origin": "https://other.example"}
        )
        assert (allowed.status_code, other.status_code) == (200, 403), other.text
    finally:
        server.terminate()
        server.wait(BOUND)
        server.stdout and server.stdout.close()
        server.stderr and server.stderr.close()


def test_serve_refuses_an_allowed_origin_that_is_not_an_origin(tmp_path: Path) -> None:
    run = run_cli(
        "serve", "--allow-origin", "desk.example", db=f"sqlite:///{tmp_path / 'l.db'}", cwd=tmp_path
    )
    assert (run.returncode, run.stderr_lines) == (
        2,
        ["orderledger: --allow-origin 'desk.example': give an origin as scheme://host[:port]"],
    )


@pytest.mark.parametrize("tokens", [None, f"read:{READ_TOKEN}"])
def test_serve_says_where_it_listens_in_one_line(tmp_path: Path, tokens: str | None) -> None:
    # Given `serve` started on a free port, without tokens and with a read token,
    port = free_port()
    command = cli_command("serve", "--port", str(port), db=f"sqlite:///{tmp_path / 'l.db'}")
    env = cli_env(**({} if tokens is None else {"ORDERLEDGER_TOKENS": tokens}))
    server = subprocess.Popen(command, cwd=tmp_path, env=env, stderr=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        # when its start-up line is read,
        url, access = said_listening(server, "the API and the page")
        # then it names the URL it listens on and whether tokens are on,
        assert url == f"http://127.0.0.1:{port}/"
        assert access == ("tokens off: loopback names only" if tokens is None else "tokens on")
        # and that URL answers: the page, and /health beside it.
        page = httpx2.get(url, timeout=BOUND)
        health = httpx2.get(url + "health", timeout=BOUND)
        assert (page.status_code, health.status_code) == (200, 200), health.text
        assert "text/html" in page.headers["content-type"]
    finally:
        server.terminate()
        server.wait(BOUND)
        server.stdout and server.stdout.close()
        server.stderr and server.stderr.close()
