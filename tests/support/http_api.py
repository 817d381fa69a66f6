"""Helpers for the HTTP tests: messages, tokens, a real server on loopback, bounded waits."""

from __future__ import annotations

import json
import queue
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx2
import pytest

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.http.app import create_app
from orderledger.infrastructure.http.auth import Tokens, tokens
from orderledger.infrastructure.http.service import LedgerService

READ_TOKEN = "read-token-0123456789"
WRITE_TOKEN = "write-token-0123456789"
ADMIN_TOKEN = "admin-token-0123456789"
RISK_TOKEN = "risk-token-0123456789"
"""The risk officer's: named ``rita``, holding ``risk`` (limits and trading states) alone."""
TOKENS = tokens(
    (READ_TOKEN, "read"), (WRITE_TOKEN, "write"), (ADMIN_TOKEN, "admin"), (RISK_TOKEN, "rita=risk")
)
LOOPBACK = "http://127.0.0.1"
"""Where the in-process client addresses the app: without tokens it answers loopback names only."""
BOUND = 60.0
"""Seconds: the most any test waits for a condition before it fails. A condition normally holds
within milliseconds; the bound is a guard against a hang, generous because a loaded machine can
take seconds to start a process (a server, its P&L worker, a collector)."""


def request(cid: str = "c-1", **fields: Any) -> dict[str, Any]:
    """A limit buy of 2 BTC-USDT at 100 for account alpha on venue-x at 10:00:00."""
    return {
        "type": "request",
        "client_order_id": cid,
        "account": "alpha",
        "venue": "venue-x",
        "instrument": "BTC-USDT",
        "side": "buy",
        "order_type": "limit",
        "quantity": "2",
        "price": "100",
        "ts": "2026-11-20T10:00:00Z",
        **fields,
    }


def fill(
    cid: str = "c-1", trade_id: str = "t-1", quantity: str = "1", price: str = "100", **fields: Any
) -> dict[str, Any]:
    """A fill of the order, at 10:00:01 unless told."""
    return {
        "type": "fill",
        "client_order_id": cid,
        "trade_id": trade_id,
        "quantity": quantity,
        "price": price,
        "ts": "2026-11-20T10:00:01Z",
        **fields,
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wait_until(condition: Callable[[], Any], what: str, bound: float = BOUND) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``bound`` seconds."""
    deadline = time.monotonic() + bound
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {bound} s waiting for {what}")
        time.sleep(0.01)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def said_listening(process: subprocess.Popen[bytes], what: str) -> tuple[str, str]:
    """The URL and the access (``tokens on``, ...) of the line ``orderledger: WHAT at URL (ACCESS)``
    a listening command says on stderr, read line by line until it comes (the lines before it,
    uvicorn's or a collector's status, are passed over); fails if the process ends first, or
    says nothing of the kind within ``BOUND`` (a guard against a hang)."""
    assert process.stderr is not None
    stderr, lines, prefix = process.stderr, queue.SimpleQueue[bytes](), f"orderledger: {what} at "

    def read() -> None:  # until the line (the rest is left to the test) or the end
        for line in iter(stderr.readline, b""):
            lines.put(line)
            if line.startswith(prefix.encode()):
                return

    threading.Thread(target=read, daemon=True).start()
    heard: list[str] = []
    deadline = time.monotonic() + BOUND
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic())).decode().rstrip("\n")
        except queue.Empty:
            raise AssertionError(f"it did not say where it listens: {heard}") from None
        heard.append(line)
        if line.startswith(prefix):
            url, _, access = line.removeprefix(prefix).partition(" (")
            return url, access.removesuffix(")")


def wait_answering(server: subprocess.Popen[Any], url: str) -> None:
    """Wait until the ``orderledger serve`` process ``server`` answers ``GET /health`` at
    ``url``; fail at once if it exits."""

    def answers() -> bool:
        try:
            return httpx2.get(url + "/health").status_code == 200
        except httpx2.TransportError:
            assert server.poll() is None, "the server exited"
            return False

    wait_until(answers, "the server to answer on its port")


@dataclass
class Server:
    """A real uvicorn server on loopback over its own ledger, and a client of it (each request
    bounded by ``BOUND``)."""

    url: str
    ledger: OrderLedger
    client: httpx2.Client


@contextmanager
def running_server(
    url: str = "memory://",
    tokens: Tokens | None = None,
    clock: Callable[[], datetime] | None = None,
    **options: Any,
) -> Iterator[Server]:
    """Serve the app on 127.0.0.1 at a free port in a thread; stop it afterwards. ``clock`` is the
    ledger's; ``options`` go to ``create_app``."""
    import uvicorn

    ledger = OrderLedger(url, clock=clock)
    app = create_app(LedgerService(ledger), tokens, poll_seconds=0.05, **options)
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started or not thread.is_alive(), "the server to start")
        if not server.started:
            pytest.fail("the server did not start")
        url = f"http://127.0.0.1:{port}"
        with httpx2.Client(base_url=url, timeout=BOUND) as client:
            yield Server(url, ledger, client)
    finally:
        server.should_exit = True
        thread.join(BOUND)
        ledger.close()


def stream_frames(lines: Iterator[str], kind: str, count: int) -> list[dict[str, Any]]:
    """The data of the next ``count`` frames of ``kind`` on an open event stream, other frames and
    keep-alives passed over (within BOUND seconds, each read bounded by the client's timeout: a
    guard against a hang, not a timing)."""
    found: list[dict[str, Any]] = []
    event = ""
    deadline = time.monotonic() + BOUND
    for line in lines:
        if time.monotonic() > deadline:
            break
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == kind:
            found.append(json.loads(line[6:]))
            if len(found) == count:
                return found
    raise AssertionError(f"the stream ended after {len(found)} {kind} frames")


PROBLEM = "application/problem+json"


def assert_problem(response: Any, status: int, detail_contains: str) -> dict[str, Any]:
    """A problem document with this status and a one-line detail containing the text."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert body["type"] == "about:blank"
    assert body["title"]
    assert "\n" not in body["detail"]
    assert detail_contains in body["detail"], body["detail"]
    return dict(body)


# A venue snapshot of venue-x/alpha that lists nothing at all.
SNAPSHOT = {
    "venue": "venue-x",
    "account": "alpha",
    "as_of": "2026-11-20T11:00:00Z",
    "open_orders": [],
    "closed_orders": [],
    "fills": [],
    "positions": [],
}
