"""The loopback venues' restarts (tests/support/loopback.py): a client dialling while a venue
restarts is answered, closed or refused once the restart returns, never left hanging. A hanging
connection makes a collector wait for its own timeout (30 s), longer than a test waits for it to
be back, so a fault schedule with a restart would fail by the luck of the scheduler."""

from __future__ import annotations

import asyncio
import select
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.support.hyperliquid_venue import USER, LoopbackHyperliquid
from tests.support.lighter_server import LighterServer, LighterVenue, scenario

WS_UPGRADE = (
    b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
INFO = b'{"type": "frontendOpenOrders", "user": "%s"}' % USER.encode()


def _lighter() -> tuple[Any, bytes]:
    request = b"GET /api/v1/orderBookDetails HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    return LighterServer(LighterVenue(scenario(1))), request


def _hyperliquid_info() -> tuple[Any, bytes]:
    head = b"POST /info HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    return LoopbackHyperliquid(), head + b"Content-Length: %d\r\n\r\n" % len(INFO) + INFO


def _hyperliquid_ws() -> tuple[Any, bytes]:
    return LoopbackHyperliquid(), WS_UPGRADE


SERVERS: dict[str, Callable[[], tuple[Any, bytes]]] = {
    "lighter": _lighter,
    "hyperliquid-info": _hyperliquid_info,
    "hyperliquid-ws": _hyperliquid_ws,
}


def run(test: Callable[[], Awaitable[bytes]]) -> bytes:
    return asyncio.run(test())  # type: ignore[arg-type]


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize("turns", range(5))
def test_a_restart_answers_or_refuses_a_connection_it_was_accepting(server: str, turns: int) -> None:
    # A client dials while the loopback venue restarts: its connection is still queued in the
    # kernel (0 turns of the loop), or accepted and not yet set up (1), or being served (2-4) when
    # the restart begins. Once the restart returns, the client has been answered, closed or
    # refused.
    async def dial() -> bytes:
        venue, request = SERVERS[server]()
        await venue.start()
        client = socket.create_connection(("127.0.0.1", venue.port))
        try:
            client.sendall(request)
            client.shutdown(socket.SHUT_WR)  # all it asks: the server closes once it has answered
            for _ in range(turns):
                await asyncio.sleep(0)
            await venue.restart()
            # (what the venue sent or closed is on its way over loopback: 5 s bounds a hang)
            readable, _, _ = await asyncio.to_thread(select.select, [client], [], [], 5)
            if not readable:
                return b"hanging"  # neither answered nor closed
            try:
                return client.recv(64) or b"closed"
            except ConnectionResetError:
                return b"refused"
        finally:
            client.close()
            await venue.stop()

    reply = run(dial)
    assert reply in (b"refused", b"closed") or reply.startswith((b"HTTP/1.1 200", b"HTTP/1.1 101")), reply


@pytest.mark.parametrize("turns", range(12))
def test_a_websocket_opening_while_the_venue_restarts_is_closed_with_the_rest(turns: int) -> None:
    # A collector's WebSocket client opens its connection while the loopback Hyperliquid restarts,
    # at every step of the opening handshake. Once the restart returns (it does not wait for the
    # client to leave), the connection is closed or was never opened: a collector left on the old
    # server's socket would see nothing of what the venue publishes after the restart.
    async def dial() -> bytes:
        venue = LoopbackHyperliquid()
        await venue.start()

        async def open_() -> ClientConnection:
            return await connect(venue.ws_url, open_timeout=None)

        opening = asyncio.create_task(open_())
        try:
            for _ in range(turns):
                await asyncio.sleep(0)
            # (a loopback restart takes milliseconds: 5 s is a bound on a hang, such as a close
            # handshake the stopping server can no longer read the reply of, 10 s)
            await asyncio.wait_for(venue.restart(), 5)
            # (the client's own task reads what the restart sent: 5 s bounds a hang)
            await asyncio.wait({opening}, timeout=5)
            if not opening.done():
                opening.cancel()
                return b"still opening"
            if opening.exception() is not None:
                return b"refused"
            client = opening.result()
            await asyncio.wait_for(client.wait_closed(), 30)
            return b"closed"
        finally:
            if opening.done() and opening.exception() is None:
                await opening.result().close()
            await venue.stop()

    assert run(dial) in (b"refused", b"closed")
