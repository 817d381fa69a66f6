"""What every loopback exchange the ccxt collector's tests run against shares: an aiohttp server
on 127.0.0.1, the venue's clock (the test's), the REST requests it heard, the WebSocket
connections it holds, and a switch that keeps what it records from being pushed.

A venue (tests/support/bybit_venue.py, tests/support/binance_venue.py) adds its routes
(:meth:`LoopbackVenue.routes`), its records and its replies.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from tests.support.loopback import sites_of, stop_accepting


class LoopbackVenue:
    """The server and what it heard; :meth:`routes` is the venue's."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self.now = now
        """The venue's clock (the test's): replies' times and rate-limit windows."""
        self.quiet = False
        """True: what is recorded is not pushed (the collector is away, or the push was lost)."""
        self.requests: list[tuple[float, str, dict[str, str]]] = []
        """(the venue's clock in seconds, path, query) of every REST request."""
        self.sockets: list[web.WebSocketResponse] = []
        self.changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Any:
        app = web.Application()
        self.routes(app)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._runner is not None:
            await stop_accepting(sites_of(self._runner))
            await self.drop()
            await self._runner.cleanup()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(predicate), timeout)

    async def notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    def asked(self, path: str, **query: str) -> int:
        """How many REST requests for ``path`` had every parameter of ``query``."""
        return sum(p == path and all(q.get(k) == v for k, v in query.items()) for _, p, q in self.requests)

    async def heard(self, request: web.Request, path: str) -> dict[str, str]:
        """Note a REST request (its query answered) and wake the test's waits."""
        query = dict(request.query)
        self.requests.append((self.now().timestamp(), path, query))
        await self.notify()
        return query

    async def push(self, frame: dict[str, Any]) -> None:
        """Send ``frame`` on every open connection, unless :attr:`quiet`."""
        if self.quiet:
            return
        for socket in list(self.sockets):
            if not socket.closed:
                await socket.send_str(json.dumps(frame))

    async def drop(self) -> None:
        for socket in list(self.sockets):
            await socket.close()

    async def held(self, request: web.Request) -> web.WebSocketResponse:
        """An accepted connection, kept in :attr:`sockets` (its handler removes it)."""
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        self.sockets.append(socket)
        await self.notify()
        return socket

    async def released(self, socket: web.WebSocketResponse) -> None:
        self.sockets.remove(socket)
        await self.notify()


class VenueThread:
    """A loopback venue on an event loop of its own thread, for a test that runs the real command
    in a subprocess: ``call(venue.record, entry)`` runs a venue coroutine there. The venue is
    started and stopped by :meth:`start` and :meth:`stop` (a :class:`LoopbackVenue`'s own
    ``async with``; another venue's class says its own)."""

    def __init__(self, venue: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.venue = venue

    async def start(self) -> None:
        await self.venue.__aenter__()

    async def stop(self) -> None:
        await self.venue.__aexit__(None, None, None)

    def call(self, function: Callable[..., Any], *args: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(function(*args), self.loop).result(60)

    def __enter__(self) -> Any:
        self.thread.start()
        self.call(self.start)
        return self

    def __exit__(self, *_: object) -> None:
        self.call(self.stop)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)
        self.loop.close()


__all__ = ["LoopbackVenue", "VenueThread"]
