"""A loopback Tradier: ``GET /v1/accounts/{account}/orders`` over real HTTP (aiohttp), answering
from the published orders (tests/support/tradier_examples.py) as the test moves them on, with
the rate limit headers and a schedule of faults.

* ``orders``: the account's orders by id, as the venue reports them now (``set_order``);
* ``today``: the venue's day: the default reply lists the orders created that day (Tradier's
  intraday default), ``filter=all&start=DATE`` those created from ``start`` (paged by
  ``page``/``limit``);
* faults, one per coming request (``fault``): ``("status", code, headers)``, ``("drop",)`` (the
  connection is closed without a reply, and so is the client's one retry), ``("stale", reply)``
  (an older reply: reordered); the hostile ones: ``("headers", headers)`` (the true reply with
  these headers instead, e.g. an absurd ``X-Ratelimit-Expiry``), ``("html",)`` (200 with an HTML
  page), ``("huge", size)`` (200 with a JSON body of ``size`` bytes, its ``Content-Length``
  said), ``("endless",)`` (200 with a chunked body that never ends: ``sent`` counts what went
  out before the client hung up), ``("redirect", url)`` (302 to ``url``);
  ``delay``: seconds every reply waits (a slow server); ``restart()`` stops and starts it on the
  same port;
* rate limit: ``allowed`` requests per ``window`` seconds, ``X-Ratelimit-*`` on every reply,
  the window's end from ``now()`` (the test's clock); a request beyond them is answered 429 and
  counted in ``over_limit`` (what Tradier does to a client that ignores its headers).

Run on its own (docs/collect.md's example): ``python -m tests.support.tradier_server`` prints
its URL and serves the published orders until interrupted.
"""

from __future__ import annotations

import asyncio
import collections
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from tests.support.loopback import sites_of, stop_accepting
from tests.support.tradier_examples import AAPL, ACCOUNT, COMBO, PENDING, REJECTED, SPY_CALL, poll

TOKEN = "loopback-token"


def _now() -> datetime:
    return datetime.now(UTC)


class TradierVenue:
    """The venue's state and its HTTP face (aiohttp, in a thread of its own)."""

    def __init__(self, *, now: Callable[[], datetime] = _now, today: str = "2018-06-01") -> None:
        self.now = now
        self.today = today
        self.orders: dict[int, dict[str, Any]] = {}
        self.faults: collections.deque[tuple[Any, ...]] = collections.deque()
        self.delay = 0.0
        self.allowed = 120
        self.window = 60.0
        self.requests: list[dict[str, str]] = []
        self.times: list[datetime] = []
        """When (the test's clock) each request arrived."""
        self.over_limit = 0
        self.sent = 0
        """Bytes of an endless body written before the client hung up."""
        self._window_end: datetime | None = None
        self._used = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------------ the test's side

    def set_order(self, order: dict[str, Any]) -> None:
        self.orders[int(order["id"])] = dict(order)

    def fault(self, *fault: Any) -> None:
        self.faults.append(fault)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _call(self, work: Any) -> None:
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(work, self._loop).result(10)

    def start(self) -> TradierVenue:
        """Serve (in a thread with its own event loop) on a free loopback port."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._call(self._start())
        return self

    def stop(self) -> None:
        self._call(self._stop())

    def restart(self) -> None:
        self.stop()
        self._call(self._start())

    def close(self) -> None:
        if self._loop is None or self._thread is None:
            return
        if self._runner is not None:
            self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> TradierVenue:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ serving

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/v1/accounts/{account}/orders", self._orders)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _stop(self) -> None:
        if self._runner is not None:
            await stop_accepting(sites_of(self._runner))
            await self._runner.cleanup()
            self._runner = None

    def _limits(self) -> dict[str, str]:
        now = self.now()
        if self._window_end is None or now >= self._window_end:
            self._window_end, self._used = now + timedelta(seconds=self.window), 0
        self._used += 1
        return {
            "X-Ratelimit-Allowed": str(self.allowed),
            "X-Ratelimit-Used": str(self._used),
            "X-Ratelimit-Available": str(max(0, self.allowed - self._used)),
            "X-Ratelimit-Expiry": str(int(self._window_end.timestamp() * 1000)),
        }

    async def _orders(self, request: web.Request) -> web.StreamResponse:
        query = dict(request.query)
        self.requests.append(query)
        self.times.append(self.now())
        if self.delay:
            await asyncio.sleep(self.delay)  # the server's own pace (a slow server), not the test's
        headers = self._limits()
        if int(headers["X-Ratelimit-Used"]) > self.allowed:
            self.over_limit += 1
            return web.Response(status=429, text="Rate limit exceeded", headers=headers)
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.Response(status=401, text="Invalid Access Token", headers=headers)
        if request.match_info["account"] != ACCOUNT:
            return web.Response(status=400, text="Invalid account", headers=headers)
        fault = self.faults.popleft() if self.faults else None
        if fault is not None and fault[0] == "drop":
            if len(fault) == 1:  # aiohttp retries a GET once on a dropped connection: drop that too
                self.faults.appendleft(("drop", "retry"))
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        if fault is not None and fault[0] == "status":
            return web.Response(status=fault[1], text="fault", headers={**headers, **fault[2]})
        if fault is not None and fault[0] in HOSTILE:
            return await HOSTILE[fault[0]](self, request, fault, headers)
        if fault is not None and fault[0] == "headers":
            headers = {**headers, **fault[1]}
        body = fault[1] if fault is not None and fault[0] == "stale" else self.reply(query)
        return web.json_response(body, headers=headers)

    def reply(self, query: dict[str, str]) -> dict[str, Any]:
        """The orders reply for a query, as Tradier shapes it."""
        if query.get("filter") == "all":
            start = query.get("start", "0000")
            chosen = [o for o in self.orders.values() if o["create_date"][:10] >= start]
            limit, page = int(query.get("limit", "25")), int(query.get("page", "1"))
            chosen = chosen[(page - 1) * limit : page * limit]
        else:
            chosen = [o for o in self.orders.values() if o["create_date"][:10] == self.today]
        if not chosen:
            return {"orders": "null"}
        return {"orders": {"order": chosen[0] if len(chosen) == 1 else chosen}}


async def _html(
    venue: TradierVenue, request: web.Request, fault: tuple[Any, ...], headers: dict[str, str]
) -> web.StreamResponse:
    page = "<html><body><h1>Service temporarily unavailable</h1></body></html>"
    return web.Response(status=200, text=page, content_type="text/html", headers=headers)


async def _huge(
    venue: TradierVenue, request: web.Request, fault: tuple[Any, ...], headers: dict[str, str]
) -> web.StreamResponse:
    filler = "x" * (fault[1] - len('{"orders":{"order":[]},"pad":""}'))
    body = '{"orders":{"order":[]},"pad":"' + filler + '"}'
    return web.Response(status=200, text=body, content_type="application/json", headers=headers)


async def _endless(
    venue: TradierVenue, request: web.Request, fault: tuple[Any, ...], headers: dict[str, str]
) -> web.StreamResponse:
    response = web.StreamResponse(status=200, headers={**headers, "Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    chunk = b'{"orders":{"order":[' + b" " * 65_000
    try:
        while venue.sent < ENDLESS_LIMIT:  # a bound of the test's own, far beyond any collector's
            await response.write(chunk)
            venue.sent += len(chunk)
    except (ConnectionError, RuntimeError):
        pass  # the client hung up
    return response


async def _redirect(
    venue: TradierVenue, request: web.Request, fault: tuple[Any, ...], headers: dict[str, str]
) -> web.StreamResponse:
    return web.Response(status=302, headers={**headers, "Location": fault[1]})


ENDLESS_LIMIT = 200_000_000
HOSTILE = {"html": _html, "huge": _huge, "endless": _endless, "redirect": _redirect}
"""The hostile replies (``fault(name, ...)``), each answering one request."""


AAPL_PARTIAL = poll("partially_filled", "20", "21.95", "21.95", "20")["order"]
AAPL_FILLED = poll("filled", "50", "21.98", "22", "30")["order"]


def step_a(venue: TradierVenue) -> None:
    """228175 (AAPL) partially filled: 20 @ 21.95."""
    venue.set_order(AAPL_PARTIAL)


def step_b(venue: TradierVenue) -> None:
    """228175 filled: 50 @ 21.98 on average."""
    venue.set_order(AAPL_FILLED)


def step_c(venue: TradierVenue) -> None:
    """A new day: 228749 (the SPY call, expired) appears."""
    venue.today = "2018-06-06"
    venue.set_order(SPY_CALL)


def step_d(venue: TradierVenue) -> None:
    """Another day: 229063 (the combo, canceled) appears."""
    venue.today = "2018-06-12"
    venue.set_order(COMBO)


STEPS = (step_a, step_b, step_c, step_d)
"""The venue's steps in the collector tests; the clean stream is their four intraday replies."""


def step_pending(venue: TradierVenue) -> None:
    """228175 (AAPL) held by Tradier (``pending``): the exchange has not accepted it."""
    venue.set_order(PENDING["order"])


def step_rejected(venue: TradierVenue) -> None:
    """228175 refused downstream (``rejected``) after Tradier held it."""
    venue.set_order(REJECTED["order"])


REJECT_STEPS = (step_pending, step_rejected, step_c, step_d)
"""The same venue with a reject after the broker's acknowledgement in place of the fills."""


def clean_replies(steps: tuple[Callable[[TradierVenue], None], ...] = STEPS) -> list[str]:
    """The intraday reply after each step, as a file of polls holds them."""
    venue = TradierVenue()
    replies = []
    for step in steps:
        step(venue)
        replies.append(json.dumps(venue.reply({})))
    return replies


def published_venue(**options: Any) -> TradierVenue:
    """A venue holding the three published orders."""
    venue = TradierVenue(**options)
    for order in (AAPL, SPY_CALL, COMBO):
        venue.set_order(order)
    return venue


if __name__ == "__main__":  # docs/collect.md: python -m tests.support.tradier_server [PORT]
    import sys

    server = published_venue()
    server.port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server.start()
    sys.stdout.write(f"{server.url} account {ACCOUNT} token {TOKEN}\n")
    sys.stdout.flush()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.close()
