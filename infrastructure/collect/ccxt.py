"""Any exchange ccxt.pro supports: ``watch_orders`` and ``watch_my_trades`` live, REST backfill.

:class:`CcxtSource` makes one ``ccxt.pro`` exchange instance (``options`` exchange=ID) and keeps
it across reconnects, so ccxt's order and trade caches (and its markets) survive a dropped link.
Each result of a ``watch_*`` call (the unified structures new since the last call: ccxt's
``newUpdates``) is one frame, a JSON list in the ``ccxt`` input format. ccxt's client does not
reconnect by itself: a dropped socket rejects the pending watches with a ``NetworkError``, which
is a :class:`ConnectionLost` here, and the collector's ``connect`` calls ``watch_*`` again, which
dials anew and re-subscribes.

The backfill: ``fetch_open_orders``; the exchange's recent orders (``fetch_orders`` where the
exchange has it, else ``fetch_closed_orders`` and ``fetch_canceled_orders`` where it has that),
without ``since``, which ccxt applies to an order's creation time, not to its last update; then,
from ``since`` (the collector gives the last booked venue time less its overlap),
``fetch_my_trades`` paged by the last timestamp returned, and ``fetch_funding_history`` where
the exchange has it. The open orders for reconciliation are ``fetch_open_orders`` as snapshot
rows (``adapters.ccxt.order_row``).

The endpoint: ``mainnet`` (the exchange's own URLs), ``testnet`` (ccxt's sandbox mode), or a URL,
which replaces the scheme and host of every URL in the exchange's ``urls['api']`` (``ws``/``wss``
for WebSocket URLs, ``http``/``https`` for the rest, keeping each path), set before the first
watch: ccxt caches a WebSocket client per URL on first use (CONNECTIONS.md §4.2).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from orderledger.infrastructure.adapters.ccxt import order_row
from orderledger.infrastructure.collect.credentials import Credentials
from orderledger.infrastructure.collect.queued import QUEUED, Frames, queued_frames
from orderledger.infrastructure.collect.source import (
    CollectError,
    ConnectionLost,
    CredentialsRejected,
    SourceConfig,
    UnknownSymbol,
    Unreachable,
)
from orderledger.infrastructure.errors import ConfigurationError

MAINNET = "ccxt://mainnet"
TESTNET = "ccxt://sandbox"
"""The endpoints by name: the exchange's own URLs, or ccxt's sandbox (``set_sandbox_mode``)."""
CREDENTIALS = ("apiKey", "secret", "password", "uid", "walletAddress", "privateKey")
"""The ccxt credential fields a collector passes on when given (``ORDERLEDGER_CCXT_<NAME>``)."""
CACHES = {"watch_orders": "orders", "watch_my_trades": "myTrades"}
"""Each watch and the exchange attribute holding ccxt's cache of what it returned."""
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
        self.exchange: Any = None
        self.queue: Frames = asyncio.Queue(QUEUED)
        self.watchers: list[asyncio.Task[None]] = []
        self.reached = False

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
        return exchange

    async def connect(self) -> None:
        if self.exchange is None:
            self.exchange = self._make()
        else:
            # ``close`` marks the instance closed by the user, and ccxt then refuses every request
            # on it (ExchangeClosedByUser); ``open`` clears that and keeps the caches and markets.
            self.exchange.open()
        self.queue = asyncio.Queue(QUEUED)
        try:
            await self.exchange.load_markets()
        except Exception as error:  # every ccxt error, mapped
            raise self._first(fault(error, self.exchange_id)) from None
        self.reached = True
        self.watchers = [asyncio.create_task(self._watch(name)) for name in CACHES]

    def _first(self, found: CollectError) -> CollectError:
        """A lost link before the endpoint ever answered is an unreachable endpoint."""
        if isinstance(found, ConnectionLost) and not self.reached:
            return Unreachable(f"{self.exchange_id} cannot be reached: {found}")
        return found

    async def _watch(self, name: str) -> None:
        """Call ``watch_*`` over and over; after each return, send what changed in ccxt's cache.

        ccxt resolves only a watch that is waiting: structures that arrive in a burst while none
        waits are in the cache but returned with the next message (CONNECTIONS.md §4.1). So the
        watch is the wake-up and the cache is read: every entry not sent yet in its present
        state (status, filled amount, update time) is sent, nothing is left for a later message."""
        watch = getattr(self.exchange, name)
        sent: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        while True:
            try:
                await watch()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                await self.queue.put(fault(error, self.exchange_id))
                return
            changed = _unsent(getattr(self.exchange, CACHES[name], None) or [], sent)
            if changed:
                await self.queue.put(_frame(changed))

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
            raise fault(error, self.exchange_id) from None
        for page in pages:
            yield _frame(page)

    async def _backfill(self, start: int | None) -> AsyncIterator[list[Any]]:
        has, exchange = self.exchange.has, self.exchange
        yield await exchange.fetch_open_orders()
        # The orders without ``since``: ccxt keeps the orders *created* since it, and an order
        # opened before it may have filled or been canceled after it (its updates lost on the
        # stream); the exchange's recent orders hold it.
        if has.get("fetchOrders"):
            yield await exchange.fetch_orders()
        else:
            yield await exchange.fetch_closed_orders()
            if has.get("fetchCanceledOrders"):
                yield await exchange.fetch_canceled_orders()
        async for page in _paged(exchange.fetch_my_trades, start):
            yield page
        if has.get("fetchFundingHistory"):
            async for page in _paged(exchange.fetch_funding_history, start):
                yield page

    async def open_orders(self) -> list[dict[str, Any]]:
        try:
            orders = await self.exchange.fetch_open_orders()
        except Exception as error:
            raise fault(error, self.exchange_id) from None
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


async def _paged(fetch: Callable[..., Awaitable[list[Any]]], start: int | None) -> AsyncIterator[list[Any]]:
    """``fetch(None, since)`` from ``start``, then from the last timestamp each page returned (a
    millisecond on when the page was wholly at ``since``: ccxt keeps ``timestamp >= since``, so
    pages overlap), until a page comes back empty."""
    while True:
        page = await fetch(None, start)
        if not page:
            return
        yield page
        last = max(int(entry.get("timestamp") or 0) for entry in page)
        start = last if start is None or last > start else start + 1


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


__all__ = ["CREDENTIALS", "MAINNET", "TESTNET", "CcxtSource", "fault", "pointed"]
