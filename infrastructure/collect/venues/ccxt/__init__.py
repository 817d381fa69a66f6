"""Any exchange ccxt.pro supports: ``watch_orders`` and ``watch_my_trades`` live, REST backfill.

:class:`CcxtSource` makes one ``ccxt.pro`` exchange instance (``options`` exchange=ID) and keeps
it across reconnects, so ccxt's order and trade caches (and its markets) survive a dropped link.
Each result of a ``watch_*`` call (the unified structures new since the last call: ccxt's
``newUpdates``) is one frame, a JSON list in the ``ccxt`` input format. ccxt's client does not
reconnect by itself: a dropped socket rejects the pending watches with a ``NetworkError``, which
is a :class:`ConnectionLost` here, and the collector's ``connect`` calls ``watch_*`` again, which
dials anew and re-subscribes.

The backfill: ``fetch_open_orders``; the exchange's orders in every terminal state it lists
(:meth:`CcxtSource._terminal`), without ``since``, which ccxt applies to an order's creation time,
not to its last update; then, from ``since`` (the collector gives the last booked venue time less
its overlap), ``fetch_my_trades`` paged by the last timestamp returned, and
``fetch_funding_history`` where the exchange has it, which is also read every ``funding_every``
seconds while streaming. A query that needs a symbol (:func:`needs_symbol`) is asked for each
market held, open, met or named (``symbols``). Every request waits at the source's rate-limit gate
(``ccxt_limits``). The open orders for reconciliation are ``fetch_open_orders`` as snapshot rows
(``adapters.ccxt.payloads.order_row``).

A venue's end-of-stream notice (:data:`END_OF_STREAM`: Binance's ``listenKeyExpired``, after
which the venue sends nothing more on the key and leaves the socket open, and its spot
``eventStreamTerminated``) is read from the frame as ccxt's client receives it, before ccxt's own
handler (which ignores the first and would raise the second as an exchange error): it is a lost
connection (``ended``), the listen key ccxt holds is forgotten so that the reconnect asks for a
new one, and the collector reconnects and backfills from the last booked point.

The endpoint: ``mainnet`` (the exchange's own URLs), ``testnet`` (ccxt's sandbox mode), or a URL,
which replaces the scheme and host of every URL in the exchange's ``urls['api']`` (``ws``/``wss``
for WebSocket URLs, ``http``/``https`` for the rest, keeping each path), set before the first
watch: ccxt caches a WebSocket client per URL on first use (docs/venue-facts.md, "ccxt and ccxt.pro").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from orderledger.infrastructure.adapters.ccxt.payloads import order_row
from orderledger.infrastructure.collect.credentials import Credentials
from orderledger.infrastructure.collect.gate import RateGate
from orderledger.infrastructure.collect.queued import QUEUED, Frames, queued_frames
from orderledger.infrastructure.collect.source import (
    CollectError,
    ConnectionLost,
    CredentialsRejected,
    SourceConfig,
    UnknownSymbol,
    Unreachable,
)
from orderledger.infrastructure.collect.venues.ccxt.rate_limits import gate
from orderledger.infrastructure.errors import ConfigurationError

MAINNET = "ccxt://mainnet"
TESTNET = "ccxt://sandbox"
"""The endpoints by name: the exchange's own URLs, or ccxt's sandbox (``set_sandbox_mode``)."""
CREDENTIALS = ("apiKey", "secret", "password", "uid", "walletAddress", "privateKey")
"""The ccxt credential fields a collector passes on when given (``ORDERLEDGER_CCXT_<NAME>``)."""
CACHES = {"watch_orders": "orders", "watch_my_trades": "myTrades"}
"""Each watch and the exchange attribute holding ccxt's cache of what it returned."""
FUNDING_EVERY = 60.0
"""Seconds between reads of the funding history while streaming (ccxt has no funding channel)."""
END_OF_STREAM = frozenset({"listenKeyExpired", "eventStreamTerminated"})
"""Events by which a venue says a user data stream is over though the socket stays open: Binance's
``listenKeyExpired`` (USDⓈ-M, COIN-M, options, portfolio margin: "no more user data event will be
updated after this event received until a new valid listenKey used") and its spot WebSocket
API's ``eventStreamTerminated`` (inside the subscription's ``event``)."""
STATE = ("status", "filled", "remaining", "lastUpdateTimestamp", "lastTradeTimestamp", "timestamp")
"""What of a cached structure, beside its ID, tells a new state from one already sent."""


def pointed(urls: Any, base: str) -> Any:
    """``urls`` (ccxt's ``urls['api']``: strings, nested dicts) with every URL's scheme and host
    taken from ``base``, its path kept."""
    if isinstance(urls, dict):
        return {key: pointed(value, base) for key, value in urls.items()}
    if not isinstance(urls, str) or "://" not in urls:
        return urls
    to = urlsplit(base)
    secure = to.scheme in ("https", "wss")
    url = urlsplit(urls.replace("{hostname}", "host"))
    scheme = ("wss" if secure else "ws") if url.scheme in ("ws", "wss") else ("https" if secure else "http")
    return urlunsplit((scheme, to.netloc, url.path, url.query, url.fragment))


def fault(error: BaseException, exchange_id: str) -> CollectError:
    """A ccxt error as the collector's fault, in one line."""
    # ccxt is an optional dependency (the collect extra)
    import ccxt

    said = " ".join(str(error).split())[:160] or type(error).__name__
    if isinstance(error, (ccxt.AuthenticationError, ccxt.PermissionDenied, ccxt.AccountNotEnabled)):
        return CredentialsRejected(f"{exchange_id} refused the credentials: {said}")
    if isinstance(error, ccxt.ArgumentsRequired):
        return CredentialsRejected(f"{exchange_id} needs a credential ccxt was not given: {said}")
    if isinstance(error, ccxt.BadSymbol):
        return UnknownSymbol(f"{exchange_id}: {said}")
    if isinstance(error, ccxt.NetworkError):
        return ConnectionLost(f"{exchange_id}: {said}")
    if isinstance(error, ccxt.ExchangeError):
        return CredentialsRejected(f"{exchange_id} refused a request: {said}")
    return ConnectionLost(f"{exchange_id}: {type(error).__name__}: {said}")


def end_of_stream(message: Any) -> str | None:
    """The end-of-stream event ``message`` is (its name), if it is one of :data:`END_OF_STREAM`:
    the event itself, or wrapped as ``event`` (a WebSocket API subscription) or ``data`` (a
    combined stream)."""
    if not isinstance(message, dict):
        return None
    for part in (message, message.get("event"), message.get("data")):
        if isinstance(part, dict) and part.get("e") in END_OF_STREAM:
            return str(part["e"])
    return None


def needs_symbol(error: BaseException) -> bool:
    """Whether ``error`` says a query needs a symbol: ccxt's own check (``ArgumentsRequired``
    naming the symbol, as for Binance's trades), or the venue refusing the query without one
    (``BadRequest`` naming a mandatory ``symbol``: Binance's -1102 for its orders, which ccxt asks
    without a symbol)."""
    # ccxt is an optional dependency (the collect extra)
    import ccxt

    said = str(error)
    if isinstance(error, ccxt.ArgumentsRequired):
        return "symbol" in said
    return isinstance(error, ccxt.BadRequest) and "Mandatory parameter 'symbol'" in said


class CcxtSource:
    """One ccxt.pro exchange's orders, trades and funding (see the module's text)."""

    format = "ccxt"

    def __init__(self, config: SourceConfig) -> None:
        self.exchange_id = config.options.get("exchange") or ""
        # ccxt is an optional dependency (the collect extra)
        import ccxt.pro

        if self.exchange_id not in ccxt.pro.exchanges:
            raise ConfigurationError(
                f"`options` exchange must name an exchange ccxt.pro supports, not {self.exchange_id[:40]!r}"
            )
        self.venue = config.options.get("venue") or self.exchange_id
        self.account = config.account
        self.options: dict[str, Any] = {}
        self.config = config
        self.timing = config.timing
        self.reports = config.reports
        self.gate = RateGate(config.timing, config.reports)  # every request of the source waits on it
        self.funding_every = config.seconds("funding_every", FUNDING_EVERY)
        named = config.options.get("symbols") or ""
        self.named = {symbol.strip() for symbol in named.split(",") if symbol.strip()}
        self.seen: set[str] = set()
        """The markets the source has met (stream, backfill, funding): asked one by one where ccxt
        needs a symbol."""
        self.per_symbol: set[str] = set()
        """The queries found to need a symbol (:func:`needs_symbol`): asked market by market."""
        self.asked: list[str] | None = None
        """The markets asked one by one in this backfill (:meth:`_symbols`), once found."""
        self.funding_from: int | None = None
        """The funding history's next read starts here (epoch ms; the latest entry read)."""
        self.funding_last: set[tuple[Any, ...]] = set()
        """The entries read at ``funding_from``: not sent again by the next read, which starts there."""
        self.exchange: Any = None
        self.queue: Frames = asyncio.Queue(QUEUED)
        self.watchers: list[asyncio.Task[None]] = []
        self.reached = False
        self.ended: str | None = None
        """The end-of-stream notice heard on this connection (:func:`end_of_stream`), if any."""

    def _make(self) -> Any:
        # ccxt is an optional dependency (the collect extra)
        import ccxt.pro

        # Given ones first, then ORDERLEDGER_CCXT_<NAME> (each is optional: what the exchange needs).
        found = Credentials.load("ccxt", CREDENTIALS)
        given = {name: self.config.credentials.get(name) or found.get(name) for name in CREDENTIALS}
        settings = {name: secret.reveal() for name, secret in given.items() if secret is not None}
        limited = (self.config.options.get("rate_limit") or "on") != "off"
        exchange = getattr(ccxt.pro, self.exchange_id)(
            {**settings, "newUpdates": True, "enableRateLimit": limited}
        )
        endpoint = self.config.endpoint
        if endpoint == TESTNET:
            try:
                exchange.set_sandbox_mode(True)
            except Exception:  # ccxt's NotSupported: the exchange has no sandbox
                raise Unreachable(f"{self.exchange_id} has no testnet in ccxt") from None
        elif endpoint != MAINNET:
            if not endpoint.startswith(("http://", "https://", "ws://", "wss://")):
                raise Unreachable(f"`endpoint` {endpoint[:80]!r} is not an http(s) or ws(s) URL")
            exchange.urls["api"] = pointed(exchange.urls["api"], endpoint)
        # Binance refuses open orders without a symbol unless told the weight is known and meant.
        exchange.options["warnOnFetchOpenOrdersWithoutSymbol"] = False
        gate(exchange, self.gate)
        handle = exchange.handle_message  # ccxt binds it to each WebSocket client it makes

        def handle_message(client: Any, message: Any) -> Any:
            notice = end_of_stream(message)
            if notice is None:
                return handle(client, message)
            self._stream_ended(client, notice, message)
            return None

        exchange.handle_message = handle_message
        return exchange

    def _stream_ended(self, client: Any, notice: str, message: dict[str, Any]) -> None:
        """The venue ended the stream (``notice``): ccxt's listen key for it is forgotten (the
        next ``authenticate`` asks for a new one, not the dead key it would reuse until its
        refresh time) and the pending watches are failed, which the collector takes as a lost
        connection (:meth:`_fault`)."""
        # ccxt is an optional dependency (the collect extra)
        import ccxt

        self.ended = notice
        said = message.get("event") if isinstance(message.get("event"), dict) else message
        key = said.get("listenKey") if isinstance(said, dict) else None
        for bucket in self.exchange.options.values():
            held = bucket.get("listenKey") if isinstance(bucket, dict) else None
            if held is not None and key in (None, held):
                bucket.update(listenKey=None, lastAuthenticatedTime=0)
        client.reject(ccxt.NetworkError(f"{self.exchange_id}: {notice}"))

    async def connect(self) -> None:
        if self.exchange is None:
            self.exchange = self._make()
        else:
            # ``close`` marks the instance closed by the user, and ccxt then refuses every request
            # on it (ExchangeClosedByUser); ``open`` clears that and keeps the caches and markets.
            self.exchange.open()
        self.queue = asyncio.Queue(QUEUED)
        self.ended = None
        try:
            await self.exchange.load_markets()
        except Exception as error:  # every ccxt error, mapped
            raise self._first(self._fault(error)) from None
        self.reached = True
        self.watchers = [asyncio.create_task(self._watch(name)) for name in CACHES]
        if self.exchange.has.get("fetchFundingHistory"):
            self.watchers.append(asyncio.create_task(self._funding()))

    def _fault(self, error: BaseException) -> CollectError:
        """A ccxt error as the collector's fault; a lost link waits at least what the venue asked."""
        if self.ended is not None:
            return ConnectionLost(
                f"{self.exchange_id} ended the stream ({self.ended}): a new key, a reconnect and a backfill",
                ended=True,
            )
        found = fault(error, self.exchange_id)
        if isinstance(found, ConnectionLost) and self.gate.left() > 0:
            found.retry_after = max(found.retry_after or 0.0, self.gate.left())
        return found

    def _first(self, found: CollectError) -> CollectError:
        """A lost link before the endpoint ever answered is an unreachable endpoint."""
        if isinstance(found, ConnectionLost) and not self.reached:
            return Unreachable(f"{self.exchange_id} cannot be reached: {found}")
        return found

    async def _watch(self, name: str) -> None:
        """Call ``watch_*`` over and over; after each return, send what changed in ccxt's cache.

        ccxt resolves only a watch that is waiting: structures that arrive in a burst while none
        waits are in the cache but returned with the next message (docs/venue-facts.md, "ccxt
        and ccxt.pro"). So the watch is the wake-up and the cache is read: every entry not sent yet
        in its present state (status, filled amount, update time) is sent, nothing is left for a
        later message."""
        watch = getattr(self.exchange, name)
        sent: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        while True:
            try:
                if self.ended is not None:  # (a watch not waiting when the notice came)
                    raise ConnectionError(self.ended)
                await watch()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                await self.queue.put(self._fault(error))
                return
            changed = _unsent(getattr(self.exchange, CACHES[name], None) or [], sent)
            if changed:
                self._note(changed)
                await self.queue.put(_frame(changed))

    async def _funding(self) -> None:
        """Every ``funding_every`` seconds, the funding history from the latest entry read: a
        payment made while streaming is booked within that time, not only at the next backfill."""
        while True:
            await self.timing.sleep(self.funding_every)
            try:
                pages = [
                    page async for page in self._each(self.exchange.fetch_funding_history, self.funding_from)
                ]
            except asyncio.CancelledError:
                raise
            except Exception as error:
                await self.queue.put(self._fault(error))
                return
            for page in pages:
                fresh = [entry for entry in page if _funding_key(entry) not in self.funding_last]
                self._note(page, funding=True)
                if fresh:
                    await self.queue.put(_frame(fresh))

    def _note(self, page: list[Any], *, funding: bool = False) -> None:
        """Remember the markets of ``page`` (and, for funding, its latest time)."""
        self.seen.update(str(entry["symbol"]) for entry in page if entry.get("symbol"))
        if funding and page:
            last = max(int(entry.get("timestamp") or 0) for entry in page)
            if self.funding_from is None or last > self.funding_from:
                self.funding_from, self.funding_last = last, set()
            self.funding_last.update(_funding_key(e) for e in page if int(e.get("timestamp") or 0) == last)

    def frames(self) -> AsyncIterator[bytes]:
        return queued_frames(self.queue)

    async def backfill(self, since: datetime | None) -> AsyncIterator[bytes]:
        """Every page is fetched before the first is handed on: a backfill cut short books
        nothing, so the next one starts from the same time (the collector's ``since`` is the
        last booked venue time, which a half-booked backfill would have moved past what it missed)."""
        start = None if since is None else int(since.timestamp() * 1000)
        try:
            pages = [page async for page in self._backfill(start) if page]
        except Exception as error:
            raise self._fault(error) from None
        for page in pages:
            yield _frame(page)

    async def _backfill(self, start: int | None) -> AsyncIterator[list[Any]]:
        has, exchange = self.exchange.has, self.exchange
        self.asked = None
        opened = await exchange.fetch_open_orders()
        self._note(opened)
        yield opened
        # The funding first (its markets are markets held), handed on last.
        funding = []
        if has.get("fetchFundingHistory"):
            self.funding_from = start
            funding = [page async for page in self._each(exchange.fetch_funding_history, start)]
            for page in funding:
                self._note(page, funding=True)
        # The orders without ``since``: ccxt keeps the orders *created* since it, and an order
        # opened before it may have ended after it (its updates lost on the stream); the
        # exchange's recent orders in every terminal state it lists hold it.
        for fetch in self._terminal():
            async for page in self._each(fetch, None, paged=False):
                self._note(page)
                yield page
        async for page in self._each(exchange.fetch_my_trades, start):
            self._note(page)
            yield page
        for page in funding:
            yield page

    def _terminal(self) -> list[Callable[..., Awaitable[list[Any]]]]:
        """The order queries that list every terminal state the exchange keeps: all its orders
        (``fetchOrders``), else its canceled-and-closed ones (ccxt asks without a status filter:
        rejected, expired, deactivated among them), else closed and canceled apart."""
        has, exchange = self.exchange.has, self.exchange
        if has.get("fetchOrders"):
            return [exchange.fetch_orders]
        if has.get("fetchCanceledAndClosedOrders"):
            return [exchange.fetch_canceled_and_closed_orders]
        return [exchange.fetch_closed_orders] + (
            [exchange.fetch_canceled_orders] if has.get("fetchCanceledOrders") else []
        )

    async def _each(
        self, fetch: Callable[..., Awaitable[list[Any]]], start: int | None, *, paged: bool = True
    ) -> AsyncIterator[list[Any]]:
        """``fetch`` for every market at once; where a symbol is needed for it (Binance's
        orders and trades: :func:`needs_symbol`), for each market of :meth:`_symbols` in turn,
        and so from then on. ``paged``: from ``start`` on, page by page (:func:`_paged`), else
        one call."""
        name = getattr(fetch, "__name__", repr(fetch))
        if name not in self.per_symbol:
            try:
                async for page in _read(fetch, None, start, paged):
                    yield page
                return
            except Exception as error:
                if not needs_symbol(error):
                    raise
                self.per_symbol.add(name)
        for symbol in await self._symbols():
            async for page in _read(fetch, symbol, start, paged):
                yield page

    async def _symbols(self) -> list[str]:
        """The markets to ask one by one, once per backfill: those named (``symbols``), those met
        (open orders, funding, the stream, earlier backfills) and those with a position."""
        if self.asked is None:
            found = set(self.named) | self.seen
            for cache in CACHES.values():
                found.update(
                    str(e["symbol"]) for e in getattr(self.exchange, cache, None) or [] if e.get("symbol")
                )
            if self.exchange.has.get("fetchPositions"):
                positions = await self.exchange.fetch_positions()
                found.update(str(p["symbol"]) for p in positions if p.get("symbol"))
            self.asked = sorted(found)
        return self.asked

    async def open_orders(self) -> list[dict[str, Any]]:
        try:
            orders = await self.exchange.fetch_open_orders()
        except Exception as error:
            raise self._fault(error) from None
        rows = (order_row(order, venue=self.venue) for order in orders)
        return [row for row in rows if row is not None]

    async def close(self) -> None:
        for task in self.watchers:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.watchers = []
        if self.exchange is not None:
            with contextlib.suppress(Exception):
                await self.exchange.close()


async def _read(
    fetch: Callable[..., Awaitable[list[Any]]], symbol: str | None, start: int | None, paged: bool
) -> AsyncIterator[list[Any]]:
    if not paged:
        yield await fetch(symbol)
        return
    async for page in _paged(fetch, symbol, start):
        yield page


async def _paged(
    fetch: Callable[..., Awaitable[list[Any]]], symbol: str | None, start: int | None
) -> AsyncIterator[list[Any]]:
    """``fetch(symbol, since)`` from ``start``, then from the last timestamp each page returned (a
    millisecond on when the page was wholly at ``since``: ccxt keeps ``timestamp >= since``, so
    pages overlap), until a page comes back empty."""
    while True:
        page = await fetch(symbol, start)
        if not page:
            return
        yield page
        last = max(int(entry.get("timestamp") or 0) for entry in page)
        start = last if start is None or last > start else start + 1


def _funding_key(entry: Any) -> tuple[Any, ...]:
    return (entry.get("symbol"), entry.get("id"), entry.get("timestamp"), entry.get("amount"))


def _unsent(cache: Any, sent: dict[tuple[Any, ...], tuple[Any, ...]]) -> list[Any]:
    """The entries of ``cache`` not in ``sent`` in their present state (``sent`` is updated;
    entries ccxt evicted are forgotten)."""
    out = []
    present = set()
    for entry in cache:
        key = (entry.get("symbol"), entry.get("id"))
        present.add(key)
        state = tuple(entry.get(name) for name in STATE)
        if sent.get(key) != state:
            sent[key] = state
            out.append(entry)
    if len(sent) > 2 * len(present):
        for key in set(sent) - present:
            del sent[key]
    return out


def _frame(structures: list[Any]) -> bytes:
    return json.dumps(structures, separators=(",", ":"), default=str).encode()


__all__ = [
    "CREDENTIALS",
    "END_OF_STREAM",
    "MAINNET",
    "TESTNET",
    "CcxtSource",
    "end_of_stream",
    "fault",
    "pointed",
]
