"""Hyperliquid, natively: the WebSocket channels of one user and the info endpoint (``POST /info``).

:class:`HyperliquidSource` subscribes ``orderUpdates``, ``userFills`` (whose first message is
the recent fills' snapshot, ``isSnapshot: true``) and ``userFundings`` for the user's address on
one connection (``websockets``), skips the plain-text greeting, keeps the link alive with
``{"method": "ping"}`` (the venue closes a connection silent for 60 s; a ping unanswered by the
next one counts as a lost link), and yields every other frame exactly as received, in the
``hyperliquid`` input format. Its backfill asks the info endpoint (``aiohttp``) for
``historicalOrders`` (the 2000 most recent orders, no time parameter), then ``userFillsByTime``
and ``userFunding`` from ``since``, each paged by the last timestamp returned (the venue's
times are inclusive, so pages overlap by one timestamp and ingest drops the repeats). Its open
orders are ``frontendOpenOrders`` as reconciliation rows.

:class:`HyperliquidWatchSource` follows other traders: ``webData2`` for each address, spread
over connections of at most :data:`USERS_PER_CONNECTION` users, at most
:data:`MAX_CONNECTIONS` connections (docs/venue-facts.md, "Hyperliquid": plan for 10 connections per IP and 10
distinct users). Each ``webData2`` frame is the trader's complete open orders; it is ingested
as a reconciliation snapshot of the account named by the address (``snapshots`` format:
:func:`~orderledger.infrastructure.adapters.hyperliquid.web_data_snapshot`), so new orders,
changed ones (fills inferred from the size left) and closed ones are recorded.

The venue's faults become the collector's: a closed socket, a refused dial after the first
connect, a reply (or the WebSocket's opening) slower than the ``timeout`` option (30 s), a 5xx or
a 429 (with its ``Retry-After``) are :class:`ConnectionLost`; an endpoint
never reached is :class:`Unreachable`; an address the venue cannot read (HTTP 422, an
``error`` frame about a subscription) is :class:`CredentialsRejected`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import aiohttp
import websockets
from websockets.asyncio.client import ClientConnection

from orderledger.infrastructure.adapters.hyperliquid.payloads import (
    ADDRESS,
    SpotNames,
    open_order_row,
    web_data_snapshot,
)
from orderledger.infrastructure.collect import bounds
from orderledger.infrastructure.collect.gate import RateGate, retry_after
from orderledger.infrastructure.collect.queued import QUEUED, Frames, queued_frames
from orderledger.infrastructure.collect.source import (
    CollectError,
    ConnectionLost,
    CredentialsRejected,
    SourceConfig,
    Unreachable,
)
from orderledger.infrastructure.errors import ConfigurationError

MAINNET = "https://api.hyperliquid.xyz"
TESTNET = "https://api.hyperliquid-testnet.xyz"
USER_CHANNELS = ("orderUpdates", "userFills", "userFundings")
USERS_PER_CONNECTION = 10
MAX_CONNECTIONS = 10
PING_EVERY = 50.0
"""Seconds between pings (``options`` ping; the venue closes a connection it has not heard from
in 60 s)."""
TIMEOUT = 30.0
"""Seconds a reply (an info request, the WebSocket's opening) may take before the connection
counts as lost (``options`` timeout)."""
SILENT = frozenset({"pong", "subscriptionResponse"})
"""Channels that are the protocol's own, not the venue's news: never yielded."""
INFO_RETRIES = 5
"""How many 429 replies in a row one info request waits out before the link counts as lost."""
CLOSE_TIMEOUT = 2.0
"""Seconds the WebSocket's closing handshake may take (a stop never waits on a flooding venue)."""


def ws_url(base: str) -> str:
    """The WebSocket URL of an info base URL, as the venue's SDK derives it: ``https://h`` →
    ``wss://h/ws``; a ``ws(s)://`` URL is taken as it is."""
    if base.startswith(("ws://", "wss://")):
        return base
    if not base.startswith(("http://", "https://")):
        raise Unreachable(f"hyperliquid endpoint {base[:80]!r} is neither http(s):// nor ws(s)://")
    return "ws" + base.rstrip("/")[len("http") :] + "/ws"


def info_url(base: str) -> str:
    """The info endpoint of a base URL (``wss://h/ws`` → ``https://h/info``)."""
    if base.startswith(("ws://", "wss://")):
        base = "http" + base[len("ws") :].removesuffix("/ws")
    return base.rstrip("/") + "/info"


def checked_address(value: str | None, what: str) -> str:
    """A Hyperliquid address (``0x`` and 40 hex digits), or a one-line refusal."""
    if value is None or not ADDRESS.fullmatch(value):
        raise CredentialsRejected(
            f"{what} {str(value)[:60]!r} is not a Hyperliquid address (0x and 40 hex digits)"
        )
    return value


class _Link:
    """One WebSocket connection and its subscriptions; frames go to the source's queue."""

    def __init__(self, url: str, subscriptions: Sequence[dict[str, Any]], out: Frames, timeout: float):
        self.url = url
        self.timeout = timeout
        self.subscriptions = list(subscriptions)
        self.out = out
        self.socket: ClientConnection | None = None
        self.reader: asyncio.Task[None] | None = None
        self.answered = True  # the last ping's pong arrived (or no ping was sent yet)

    async def open(self) -> None:
        self.socket = await bounds.ws_connect(
            self.url, open_timeout=self.timeout, close_timeout=CLOSE_TIMEOUT
        )
        for subscription in self.subscriptions:
            await self.socket.send(json.dumps({"method": "subscribe", "subscription": subscription}))
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        """Each frame to the queue (waiting while it is full: back-pressure); every way the
        reading ends is said on the queue, so the stream never stops silently."""
        assert self.socket is not None
        try:
            async for received in self.socket:
                raw = received.encode() if isinstance(received, str) else received
                fault = self._fault(raw)
                if fault is not None:
                    await self.out.put(fault)
                    return
                if raw[:1] in (b"{", b"[") and _channel(raw) not in SILENT:
                    await self.out.put(raw)
        except websockets.ConnectionClosed as closed:
            if bounds.too_big(closed):
                await self.out.put(bounds.refused("hyperliquid", bounds.FRAME_REFUSED))
                return
        except Exception as error:  # never a reader dead behind a stream that says "streaming"
            await self.out.put(ConnectionLost(f"hyperliquid reading failed: {_reason(error)}"))
            return
        code = self.socket.close_code
        await self.out.put(ConnectionLost(f"hyperliquid closed the connection (code {code})"))

    def _fault(self, raw: bytes) -> CollectError | None:
        """The greeting is plain text and skipped; a pong answers the last ping; an ``error``
        frame refusing a subscription is permanent (the venue cannot read the request)."""
        if raw[:1] not in (b"{", b"["):
            return None
        channel = _channel(raw)
        if channel == "pong":
            self.answered = True
        if channel != "error":
            return None
        found = bounds.peek(raw)
        text = str(found.get("data", "")) if isinstance(found, dict) else ""
        if "Already subscribed" in text:
            return None
        return CredentialsRejected(f"hyperliquid refused a request: {' '.join(text.split())[:160]}")

    async def ping(self) -> None:
        """Ping; a ping still unanswered from the last time means the link is dead."""
        if self.socket is None:
            return
        if not self.answered:
            await self.out.put(ConnectionLost("hyperliquid did not answer a ping (no pong)"))
            return
        self.answered = False
        with contextlib.suppress(websockets.ConnectionClosed):
            await self.socket.send(json.dumps({"method": "ping"}))

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.reader
        if self.socket is not None:
            with contextlib.suppress(Exception):
                await self.socket.close()


def _channel(raw: bytes) -> str | None:
    found = bounds.peek(raw)  # None for a frame that is not JSON or nests too deep: the ingest says why
    channel = found.get("channel") if isinstance(found, dict) else None
    return channel if isinstance(channel, str) else None


class _Connections:
    """The WebSocket side shared by both sources: links, their frames in one queue, the pings."""

    def __init__(self, config: SourceConfig, plan: list[list[dict[str, Any]]]) -> None:
        self.config = config
        self.url = ws_url(config.endpoint)
        self.plan = plan
        self.links: list[_Link] = []
        self.queue: Frames = asyncio.Queue(QUEUED)
        self.pinger: asyncio.Task[None] | None = None
        self.reached = False
        self.every = config.seconds("ping", PING_EVERY)
        self.timeout = config.seconds("timeout", TIMEOUT)

    async def open(self) -> None:
        self.queue = asyncio.Queue(QUEUED)
        try:
            for subscriptions in self.plan:
                link = _Link(self.url, subscriptions, self.queue, self.timeout)
                self.links.append(link)
                await link.open()
        except (TimeoutError, OSError, websockets.InvalidHandshake) as error:
            await self.close()
            reason = f"hyperliquid at {self.url} cannot be reached: {_reason(error)}"
            raise (ConnectionLost(reason) if self.reached else Unreachable(reason)) from None
        except websockets.InvalidURI:
            raise Unreachable(f"hyperliquid endpoint {self.url[:80]!r} is not a WebSocket URL") from None
        self.reached = True
        self.pinger = asyncio.create_task(self._ping())

    async def _ping(self) -> None:
        while True:
            await self.config.timing.sleep(self.every)
            for link in self.links:
                await link.ping()

    def frames(self) -> AsyncIterator[bytes]:
        return queued_frames(self.queue)

    async def close(self) -> None:
        if self.pinger is not None:
            self.pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.pinger
            self.pinger = None
        for link in self.links:
            await link.close()
        self.links = []


def _reason(error: BaseException) -> str:
    return " ".join(str(error).split())[:160] or type(error).__name__


class Info:
    """``POST /info`` with the venue's faults mapped: a 429 waits out its ``Retry-After`` (at most
    ``bounds.MAX_WAIT``), and so does every other request of the source meanwhile (one gate)."""

    def __init__(self, config: SourceConfig) -> None:
        self.config = config
        self.url = info_url(config.endpoint)
        self.timeout = config.seconds("timeout", TIMEOUT)
        self.session: aiohttp.ClientSession | None = None
        self.gate = RateGate(config.timing, config.reports)  # every info request waits on it

    async def ask(self, body: dict[str, Any]) -> bytes:
        """The raw reply to one info request."""
        if self.session is None:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        for _ in range(INFO_RETRIES):
            await self.gate.wait()
            what = f"hyperliquid info {body.get('type')}"
            try:
                async with self.session.post(self.url, json=body, allow_redirects=False) as reply:
                    status, headers = reply.status, reply.headers
                    if 300 <= status < 400:
                        raise bounds.redirect(status, headers, self.url, what)
                    text = await bounds.read_body(reply, what)
                    asked = retry_after(headers.get("Retry-After"))
            except TimeoutError:
                said = f"did not answer {body.get('type')} within {self.timeout:g} s"
                raise ConnectionLost(f"hyperliquid info at {self.url} {said}") from None
            except aiohttp.ClientError as error:
                raise ConnectionLost(f"hyperliquid info at {self.url} failed: {_reason(error)}") from None
            if status == 200:
                bounds.json_reply(text, what)
                return text
            said = " ".join(text.decode(errors="replace").split())[:120]
            wait = self.gate.hold(asked, "hyperliquid's Retry-After")
            if status == 429:
                pause = 1.0 if wait is None else wait  # no time said: a second
                self.gate.hold(pause, "hyperliquid's 429")
                await self.config.timing.sleep(pause)
                continue
            if status in (401, 403, 422):
                raise CredentialsRejected(f"hyperliquid refused {body.get('type')} (HTTP {status}: {said})")
            raise ConnectionLost(f"hyperliquid info answered HTTP {status}: {said}", retry_after=wait)
        raise ConnectionLost(f"hyperliquid info kept answering 429 to {body.get('type')}", retry_after=wait)

    async def pages(self, kind: str, user: str, start: int) -> AsyncIterator[bytes]:
        """A time-ranged info request paged by the last timestamp returned (inclusive times),
        until a page comes back empty."""
        while True:
            raw = await self.ask({"type": kind, "user": user, "startTime": start})
            page = bounds.peek(raw)  # JSON: ask checked it
            if not page or not isinstance(page, list):
                return
            yield raw
            try:
                last = max(int(entry["time"]) for entry in page)
            except (TypeError, KeyError, ValueError):
                return  # a page without times cannot be paged on: the ingest says what it holds
            # A page wholly at ``start`` (the overlap, or more fills in one millisecond than a
            # page holds) moves on by a millisecond; an empty page ends it.
            start = last if last > start else start + 1

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None


class HyperliquidSource:
    """One user's orders, fills and funding (see the module's text)."""

    format = "hyperliquid"

    def __init__(self, config: SourceConfig) -> None:
        self.venue = config.venue
        self.account = config.account
        self.reports = config.reports
        self.user = checked_address(config.options.get("user") or config.account, "`account` (the user)")
        # The backfill's info replies name no user: the ingest compares liquidations with this one.
        self.options: dict[str, Any] = {"address": self.user}
        plan = [[{"type": channel, "user": self.user} for channel in USER_CHANNELS]]
        self.connections = _Connections(config, plan)
        self.info = Info(config)
        self.spot = SpotNames()
        self.started = config.timing.now()
        """A first start's backfill begins here (the collector's start): the stream's snapshots
        bring the recent fills and funding; ``--since`` asks for earlier history."""

    async def connect(self) -> None:
        await self.connections.open()

    def frames(self) -> AsyncIterator[bytes]:
        return self.connections.frames()

    async def backfill(self, since: datetime | None) -> AsyncIterator[bytes]:
        """Every reply is fetched before the first is handed on: a backfill cut short (a lost
        link, 429s) books nothing, so the next one starts from the same time, not from the
        newest fill the cut-short one had booked."""
        start = int((self.started if since is None else since).timestamp() * 1000)
        replies = [await self.info.ask({"type": "historicalOrders", "user": self.user})]
        replies += [page async for page in self.info.pages("userFillsByTime", self.user, start)]
        replies += [page async for page in self.info.pages("userFunding", self.user, start)]
        for reply in replies:
            yield reply

    async def open_orders(self) -> list[dict[str, Any]]:
        raw = await self.info.ask({"type": "frontendOpenOrders", "user": self.user, "dex": ""})
        try:
            return [open_order_row(order, self.spot) for order in bounds.peek(raw)]
        except (TypeError, KeyError, ValueError, AttributeError) as error:
            raise bounds.refused(
                "hyperliquid frontendOpenOrders", f"unreadable reply ({_reason(error)})", raw
            ) from None

    async def close(self) -> None:
        await self.connections.close()
        await self.info.close()


def watch_plan(addresses: Sequence[str]) -> list[list[dict[str, Any]]]:
    """The connections to open for ``webData2`` of ``addresses``: at most
    :data:`USERS_PER_CONNECTION` users each, at most :data:`MAX_CONNECTIONS`."""
    if not addresses:
        raise ConfigurationError("collect hyperliquid-watch needs `options` addresses=0x…,0x…")
    if len(addresses) > USERS_PER_CONNECTION * MAX_CONNECTIONS:
        raise ConfigurationError(
            f"collect hyperliquid-watch follows at most {USERS_PER_CONNECTION * MAX_CONNECTIONS} addresses"
            f" ({MAX_CONNECTIONS} connections of {USERS_PER_CONNECTION} users), not {len(addresses)}"
        )
    subscriptions = [{"type": "webData2", "user": address} for address in addresses]
    return [
        subscriptions[i : i + USERS_PER_CONNECTION]
        for i in range(0, len(subscriptions), USERS_PER_CONNECTION)
    ]


class HyperliquidWatchSource:
    """Other traders' open orders, from ``webData2`` (see the module's text): each frame is
    ingested as a reconciliation snapshot of the account named by the trader's address."""

    format = "snapshots"

    def __init__(self, config: SourceConfig) -> None:
        self.venue = config.venue
        self.account = config.account
        self.options: dict[str, Any] = {}
        given = [a.strip() for a in (config.options.get("addresses") or "").split(",") if a.strip()]
        self.addresses = [checked_address(a, "`options` addresses: ") for a in dict.fromkeys(given)]
        self.connections = _Connections(config, watch_plan(self.addresses))
        self.spot = SpotNames()
        self.now = config.timing.now

    async def connect(self) -> None:
        await self.connections.open()

    async def frames(self) -> AsyncIterator[bytes]:
        async for raw in self.connections.frames():
            found = bounds.peek(raw)
            if isinstance(found, dict) and found.get("channel") == "webData2":
                yield self._snapshot(found.get("data"))
            else:
                yield raw  # not a webData2 frame: the snapshot format refuses it, journaled

    def _snapshot(self, data: Any) -> bytes:
        document = web_data_snapshot(data, self.spot, venue=self.venue, as_of=self.now())
        return json.dumps(document).encode()

    async def backfill(self, since: datetime | None) -> AsyncIterator[bytes]:
        """Nothing: ``webData2`` sends each trader's complete open orders on every subscribe,
        so the stream itself brings the picture back after a gap."""
        return
        yield b""  # an async generator that yields nothing

    async def open_orders(self) -> list[dict[str, Any]]:
        return []  # every snapshot frame is itself a reconciliation of each trader

    reconciles = False

    async def close(self) -> None:
        await self.connections.close()


__all__ = [
    "MAINNET",
    "MAX_CONNECTIONS",
    "TESTNET",
    "USERS_PER_CONNECTION",
    "HyperliquidSource",
    "HyperliquidWatchSource",
    "Info",
    "checked_address",
    "info_url",
    "watch_plan",
    "ws_url",
]
