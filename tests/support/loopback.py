"""Closing a loopback venue's listening sockets without leaving a client hanging.

CPython 3.11's ``asyncio`` gives a connection that was accepted but not yet set up when its
server closes no transport (``Server._attach`` asserts the server is still open and the error is
swallowed): the socket is neither served nor closed, and a collector dialling at that moment
waits for its own timeout (30 s) instead of seeing a refused or dropped connection. A loopback
venue's restart is exactly that moment, so every loopback server closes through
:func:`stop_accepting` first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from aiohttp import web


async def stop_accepting(servers: Iterable[Any]) -> None:
    """Stop accepting on ``servers`` (``asyncio`` or ``websockets`` servers, or ``None`` for a
    site not started), then give the connections already accepted their transport
    (one loop turn) and their protocol (another). Connections still queued in the kernel are
    refused once the listening sockets close."""
    loop = asyncio.get_running_loop()
    for server in servers:
        for sock in getattr(server, "sockets", None) or ():
            loop.remove_reader(sock.fileno())
    for _ in range(2):
        await asyncio.sleep(0)


def sites_of(runner: web.BaseRunner) -> list[asyncio.AbstractServer | None]:
    """The listening servers of an aiohttp runner's sites."""
    return [site._server for site in runner.sites]  # aiohttp keeps the server private
