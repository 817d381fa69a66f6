"""The Lighter collector's source: the account channels over Lighter's WebSocket, REST backfill
and the market map (docs/collect.md, "Lighter"; the venue's facts: docs/venue-facts.md, "Lighter").

* **Connect.** The market map first (``GET /api/v1/orderBookDetails``: market index → symbol,
  size and price decimals), then the WebSocket: the server's ``{"type":"connected"}`` greeting
  is awaited before anything is sent, then ``account_all_orders/{ACCOUNT}`` and
  ``account_all_trades/{ACCOUNT}`` are subscribed, each with the auth token as ``"auth"``
  (Lighter's docs require it on both; ccxt sends none on the trades channel), and both
  ``subscribed/…`` replies (the channels' full state) are awaited, so a refused token is known
  at connect. The greeting and the replies are each awaited at most the ``timeout`` option
  (30 s): a server that accepts the link and says nothing is a lost connection, dialled again.
  An error frame in reply is classified: a rate limit (codes 23000-23003) is passing,
  an invalid channel (30005) means the account is unknown, anything else refuses the token.
* **Frames.** Every frame is yielded as received, except the keepalive: a server
  ``{"type":"ping"}`` is answered ``{"type":"pong"}`` and not yielded, and the source pings the
  server itself every ``ping_interval`` seconds (the SDK's 30 s).
* **The market map** is how the ``lighter`` format names instruments (``adapters/lighter/payloads.py``
  learns it from the ``order_book_details`` reply, one ingest line): it is yielded before the
  first backfill payload or frame after each connect, and loaded again (and yielded again)
  whenever a frame names a market index the map lacks (a market listed since).
* **Backfill** (``since``: the collector's start, the last booked venue time less its overlap):
  inactive orders
  (``accountInactiveOrders``), the open ones (``accountActiveOrders``) and the account's trades
  (``trades``, newest first), each paged by ``next_cursor`` until a page lies wholly before the
  floor; pages are yielded oldest first, orders before trades, as the venue sent them.
  Lighter documents neither the order of ``accountInactiveOrders`` nor the format of its
  ``between_timestamps``, so the floor is applied to the pages, never to the query.
* **Open orders** for reconciliation: ``accountActiveOrders``, as snapshot rows through the
  ``lighter`` format's own reading of an order (one mapping of Lighter's fields).

REST calls send the token in the ``Authorization`` header. HTTP 401/403 refuse the token;
429 and 5xx are passing with their ``Retry-After``, which closes the source's rate-limit gate
(``gate.RateGate``) until then: every request (the market map, a backfill page, a
reconciliation's read, the stream's dial) waits at the gate. A connection refused or reset is
passing (a restarting server), a URL that cannot be used is permanent. No message here holds
the token.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Iterable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI, WebSocketException

from orderledger.domain.errors import LedgerError
from orderledger.infrastructure.adapters.lighter.payloads import LighterAdapter
from orderledger.infrastructure.collect import bounds
from orderledger.infrastructure.collect.gate import RateGate, retry_after
from orderledger.infrastructure.collect.source import (
    CollectError,
    ConnectionLost,
    CredentialsRejected,
    Reports,
    SourceConfig,
    UnknownSymbol,
    Unreachable,
)
from orderledger.infrastructure.collect.timing import Timing
from orderledger.infrastructure.messages.exact_json import decode_json

CHANNELS = ("account_all_orders", "account_all_trades")
"""The account channels subscribed, each ``<name>/<account index>`` with the auth token."""
PAGE_LIMIT = 100
"""Items per REST page (Lighter's maximum)."""
PING = 30.0
"""Seconds between the source's own pings (the SDK's ``ping_interval``)."""
TIMEOUT = 30.0
"""Seconds a REST reply or the stream's opening may take before the link counts as lost."""
MAX_PAGES = 50
"""Pages read per backfill query at most (a bound on a first start's history)."""
RATE_LIMITED = frozenset({"23000", "23001", "23002", "23003"})
"""Lighter's error codes for too many requests, subscriptions, accounts or connections."""
INVALID_CHANNEL = "30005"
ALREADY_SUBSCRIBED = "30003"


def lighter_endpoint(endpoint: str) -> tuple[str, str]:
    """(WebSocket URL, REST base) of an endpoint URL: an ``http(s)://`` base (how the registry
    names mainnet and testnet) streams from ``ws(s)://<same>/stream``; a ``ws(s)://`` URL is the
    stream, and its REST base is the same host over ``http(s)``."""
    parts = urlsplit(endpoint)
    if parts.scheme in ("http", "https") and parts.netloc:
        base = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
        ws = "wss" if parts.scheme == "https" else "ws"
        return urlunsplit((ws, parts.netloc, parts.path.rstrip("/") + "/stream", "", "")), base
    if parts.scheme in ("ws", "wss") and parts.netloc:
        http = "https" if parts.scheme == "wss" else "http"
        return endpoint, urlunsplit((http, parts.netloc, "", "", ""))
    raise Unreachable(f"the lighter endpoint must be an http(s) or ws(s) URL, not {endpoint[:80]!r}")


def lighter_source(config: SourceConfig) -> LighterSource:
    """The source ``orderledger collect lighter`` runs (the registry's factory)."""
    token = config.credentials.get("auth_token")
    return LighterSource(
        account=config.account or "",
        auth="" if token is None else token.reveal(),
        endpoint=config.endpoint,
        venue=config.venue,
        ping_interval=config.seconds("ping", PING),
        timeout=config.seconds("timeout", TIMEOUT),
        timing=config.timing,
        reports=config.reports,
    )


class LighterSource:
    """One Lighter account's connection (see the module docstring)."""

    format = "lighter"
    reconciles = True

    def __init__(
        self,
        *,
        account: str,
        auth: str,
        endpoint: str,
        venue: str = "lighter",
        ping_interval: float = PING,
        timeout: float = TIMEOUT,
        timing: Timing | None = None,
        reports: Reports | None = None,
    ) -> None:
        if not account.isdigit():
            raise UnknownSymbol(f"lighter account must be the account index (a number), not {account[:40]!r}")
        if not auth:
            raise CredentialsRejected("lighter needs the account's auth token")
        self.venue = venue
        self.account: str | None = account
        self.options: dict[str, Any] = {}
        self.ws_url, self.rest_url = lighter_endpoint(endpoint)
        self._auth = auth
        self._ping_interval = ping_interval
        self._timeout = timeout
        self.timing = timing or Timing()
        self.reports = reports or Reports()
        self.gate = RateGate(self.timing, self.reports)  # every request of the source waits on it
        self._http: aiohttp.ClientSession | None = None
        self._ws: ClientConnection | None = None
        self._pinger: asyncio.Task[None] | None = None
        self._pending: deque[bytes] = deque()
        self._markets: frozenset[str] = frozenset()
        self._market_map = b""
        self._map_due = True

    def __repr__(self) -> str:  # never the token
        return f"LighterSource(account={self.account!r}, ws={self.ws_url!r})"

    # ------------------------------------------------------------------ the Source protocol

    async def connect(self) -> None:
        await self._load_markets()
        await self.gate.wait()
        try:
            self._ws = await bounds.ws_connect(self.ws_url, open_timeout=self._timeout)
        except InvalidURI as error:
            raise Unreachable(f"lighter stream URL cannot be used: {error}") from None
        except InvalidStatus as error:
            raise self._http_fault(error.response.status_code, error.response.headers, "the stream") from None
        except (OSError, TimeoutError, WebSocketException) as error:
            raise ConnectionLost(f"lighter stream {self.ws_url} not reached: {_reason(error)}") from None
        await self._within("greet", self._greeting())
        await self._within("acknowledge the account channels", self._subscribe())
        self._pinger = asyncio.create_task(self._keep_alive())

    async def _within(self, what: str, step: Awaitable[None]) -> None:
        """``step`` of the opening, bounded by the ``timeout`` option: a venue that accepts the
        connection and then says nothing counts as a lost connection, not a collector hung."""
        try:
            async with asyncio.timeout(self._timeout):
                await step
        except TimeoutError:
            raise ConnectionLost(f"lighter stream did not {what} within {self._timeout:g} s") from None

    async def _greeting(self) -> None:
        while (await self._next())["type"] != "connected":
            pass  # anything before the greeting is kept for frames()

    async def _subscribe(self) -> None:
        for name in CHANNELS:
            request = {"type": "subscribe", "channel": f"{name}/{self.account}", "auth": self._auth}
            await self._send(request)
        acknowledged = 0
        while acknowledged < len(CHANNELS):
            if str((await self._next())["type"]).startswith("subscribed/"):
                acknowledged += 1

    async def frames(self) -> AsyncIterator[bytes]:
        if self._map_due:
            self._map_due = False
            yield self._market_map
        while True:
            if not self._pending:
                await self._next()
                continue
            raw = self._pending.popleft()
            async for frame in self._with_markets(raw):
                yield frame

    async def backfill(self, since: datetime | None) -> AsyncIterator[bytes]:
        if self._map_due:
            self._map_due = False
            yield self._market_map
        floor = None if since is None else int(since.timestamp() * 1000)
        account = {"account_index": self.account}
        inactive = self._pages("accountInactiveOrders", account, "orders", floor, _order_ms)
        for page in reversed([page async for page in inactive]):
            async for frame in self._with_markets(page):
                yield frame
        async for frame in self._with_markets(await self._get("accountActiveOrders", account)):
            yield frame
        query = account | {"sort_by": "timestamp", "sort_dir": "desc"}
        trades = self._pages("trades", query, "trades", floor, _trade_ms)
        for page in reversed([page async for page in trades]):
            async for frame in self._with_markets(page):
                yield frame

    async def open_orders(self) -> list[dict[str, Any]]:
        reply = await self._get("accountActiveOrders", {"account_index": self.account})
        assert self.account is not None
        adapter = LighterAdapter(venue=self.venue, account=self.account)
        try:
            adapter.messages(decode_json(self._market_map), [])
            return adapter.order_rows(decode_json(reply))
        except LedgerError as error:
            raise ConnectionLost(f"lighter open orders unreadable: {error}") from None

    async def close(self) -> None:
        if self._pinger is not None:
            self._pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._pinger
            self._pinger = None
        if self._ws is not None:
            # Dropped, not closed by handshake: the frames still queued are not wanted, and a
            # full queue (reading paused) would hold a handshake up to its timeout.
            self._ws.transport.abort()
            self._ws = None
        if self._http is not None:
            with contextlib.suppress(Exception):
                await self._http.close()
            self._http = None
        self._pending.clear()
        self._map_due = True

    # ------------------------------------------------------------------ the stream

    async def _next(self) -> dict[str, Any]:
        """Receive one frame: the keepalive is answered, an error frame raised as its fault,
        anything else kept for ``frames()``; returns the frame's object."""
        assert self._ws is not None, "connect() first"
        try:
            data = await self._ws.recv()
        except ConnectionClosed as error:
            if bounds.too_big(error):
                raise bounds.refused("lighter", bounds.FRAME_REFUSED) from None
            code = error.rcvd.code if error.rcvd is not None else "none"
            raise ConnectionLost(f"lighter stream closed (close code {code})") from None
        except (OSError, WebSocketException) as error:
            raise ConnectionLost(f"lighter stream failed: {_reason(error)}") from None
        raw = data.encode() if isinstance(data, str) else bytes(data)
        found = bounds.peek(raw)  # None for a frame that is not JSON or nests too deep: the ingest says why
        frame = found if isinstance(found, dict) else {}
        kind = str(frame.get("type", ""))
        if kind == "ping":
            await self._send({"type": "pong"})
        elif isinstance(frame.get("error"), dict):
            _stream_fault(frame["error"])  # raises but for "already subscribed", which is harmless
        elif kind != "pong":
            self._pending.append(raw)
        return {"type": kind, **frame}

    async def _send(self, request: dict[str, Any]) -> None:
        assert self._ws is not None
        try:
            await self._ws.send(json.dumps(request))
        except ConnectionClosed:
            raise ConnectionLost("lighter stream closed while sending") from None

    async def _keep_alive(self) -> None:
        while self._ws is not None:
            await self.timing.sleep(self._ping_interval)
            with contextlib.suppress(Exception):
                await self._send({"type": "ping"})

    async def _with_markets(self, raw: bytes) -> AsyncIterator[bytes]:
        """The frame, preceded by a freshly loaded market map when it names a market the map lacks."""
        if (b'"orders"' in raw or b'"trades"' in raw) and markets_named(bounds.peek(raw)) - self._markets:
            await self._load_markets()
            yield self._market_map
        yield raw

    # ------------------------------------------------------------------ REST

    async def _load_markets(self) -> None:
        reply = await self._get("orderBookDetails", {}, private=False)
        found = bounds.peek(reply)  # a JSON object: _get checked it
        books = [
            book
            for key in ("order_book_details", "order_books")
            for book in (found.get(key) or [] if isinstance(found, dict) else [])
            if isinstance(book, dict)
        ]
        self._markets = frozenset(str(book.get("market_id")) for book in books)
        self._market_map = reply

    async def _pages(
        self, path: str, query: dict[str, Any], key: str, floor: int | None, stamp: Any
    ) -> AsyncIterator[bytes]:
        """The reply's pages, newest first, until one lies wholly before ``floor`` (ms)."""
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            params = query | {"limit": PAGE_LIMIT} | ({"cursor": cursor} if cursor else {})
            page = await self._get(path, params)
            yield page
            found = bounds.peek(page)  # _get checked it is a JSON object
            items = [i for i in found.get(key) or [] if isinstance(i, dict)]
            cursor = found.get("next_cursor") or None
            if not items or cursor is None:
                return
            if floor is not None and all((stamp(i) or 0) < floor for i in items):
                return

    async def _get(self, path: str, params: dict[str, Any], *, private: bool = True) -> bytes:
        await self.gate.wait()
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout))
        url = f"{self.rest_url}/api/v1/{path}"
        headers = {"Authorization": self._auth} if private else {}
        query = {k: str(v) for k, v in params.items()}
        what = f"lighter {path}"
        try:
            async with self._http.get(url, params=query, headers=headers, allow_redirects=False) as response:
                if 300 <= response.status < 400:
                    raise bounds.redirect(response.status, response.headers, url, what)
                if response.status != 200:
                    raise self._http_fault(response.status, response.headers, path)
                body = await bounds.read_body(response, what)
        except aiohttp.InvalidURL as error:
            raise Unreachable(f"lighter REST URL cannot be used: {error}") from None
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            raise ConnectionLost(f"lighter {path} not reached: {_reason(error)}") from None
        found = bounds.json_reply(body, what)
        if not isinstance(found, dict):
            raise bounds.refused(what, "answered 200 with a reply that is not a JSON object", body)
        code = str(found.get("code", "200"))
        if code != "200":
            _venue_fault(code, str(found.get("message", "")), path)
        return body

    def _http_fault(self, status: int, headers: Any, what: str) -> CollectError:
        """A refusal of ``what`` (HTTP ``status``) as its fault; a 429's or 5xx's ``Retry-After``
        closes the gate until then."""
        if status == 429 or status >= 500:
            retry = retry_after(headers.get("Retry-After") if headers is not None else None)
            after = self.gate.hold(retry, "lighter's Retry-After")
            return ConnectionLost(f"lighter answered HTTP {status} on {what}", retry_after=after)
        if status in (401, 403):
            return CredentialsRejected(f"lighter refused the auth token (HTTP {status} on {what})")
        if status == 404:
            return Unreachable(f"lighter {what} not found (HTTP 404): is the endpoint a Lighter server?")
        return ConnectionLost(f"lighter answered HTTP {status} on {what}")


def markets_named(payload: Any) -> set[str]:
    """The market indexes a Lighter payload names (keys of by-market containers, and each order's
    ``market_index`` or trade's ``market_id``)."""
    found: set[str] = set()
    if not isinstance(payload, dict):
        return found
    for key in ("orders", "trades"):
        value = payload.get(key)
        groups: Iterable[Any] = value.values() if isinstance(value, dict) else [value]
        if isinstance(value, dict):
            found |= {str(market) for market in value}
        for group in groups:
            for item in group if isinstance(group, list) else []:
                if isinstance(item, dict):
                    market = item.get("market_index", item.get("market_id"))
                    if market is not None:
                        found.add(str(market))
    return found


def _order_ms(order: dict[str, Any]) -> int | None:
    value = order.get("updated_at") or order.get("timestamp")
    return int(value) * 1000 if isinstance(value, int) else None  # seconds on orders


def _trade_ms(trade: dict[str, Any]) -> int | None:
    value = trade.get("timestamp")
    return value if isinstance(value, int) else None  # milliseconds on trades


def _venue_fault(code: str, message: str, what: str) -> None:
    text = " ".join(message.split())[:160]
    if code in RATE_LIMITED:
        raise ConnectionLost(f"lighter rate limit on {what} (code {code}: {text})")
    if code == INVALID_CHANNEL:
        raise UnknownSymbol(f"lighter does not know the account's channel {what} (code {code}: {text})")
    if code == ALREADY_SUBSCRIBED:
        return
    raise CredentialsRejected(f"lighter refused {what} (code {code}: {text})")


def _stream_fault(error: dict[str, Any]) -> None:
    _venue_fault(str(error.get("code", "")), str(error.get("message", "")), "the account channels")


def _reason(error: BaseException) -> str:
    return " ".join(str(error).split())[:160] or type(error).__name__


__all__ = ["CHANNELS", "LighterSource", "lighter_endpoint", "lighter_source", "markets_named"]
