"""The ``tradier`` collector: poll the account's orders (with tags) within the rate limit.

Tradier's account stream names no fill (docs/venue-facts.md, "Tradier"), so the orders reply is the source of
record: ``GET {endpoint}/accounts/{account}/orders?includeTags=true`` (the day's orders), each
reply a frame of the ``tradier`` format (its feed infers the fills from the cumulative
``exec_quantity``/``avg_fill_price``). A reply identical to the previous one holds no new fact
and is not journaled again.

* Backfill: ``filter=all`` from the day of the last booked venue time less the overlap (on a first
  start, ``days`` back, default 7), page by page (``limit`` 100) until a short page.
* Rate limit: every request (poll, backfill page, reconciliation) passes one gate: none is sent
  while the window is used up (``X-Ratelimit-Available: 0``, until ``X-Ratelimit-Expiry``: the
  window's end, epoch milliseconds; a value under 10¹¹ is read as seconds) or before a
  ``Retry-After`` has passed. Polls also spread the remaining requests over the window: the next
  poll waits ``max(poll, left / available)``. A window end or ``Retry-After`` further away than
  ``bounds.MAX_WAIT`` is capped there and reported (the status's ``error``).
* Bounds (``bounds``): a reply longer than ``bounds.MAX_FRAME_BYTES`` is refused before it is read
  whole, a 200 reply that is not an orders reply is a passing fault (journaled, tried again),
  and a redirect is never followed.
* Faults: 401/403 → ``CredentialsRejected``; 400/404 naming the account → ``UnknownSymbol``;
  429 or 5xx → ``ConnectionLost`` (after ``Retry-After``, else the window's end); a dropped or
  refused connection, or a reply slower than ``timeout`` → ``ConnectionLost``; an endpoint not
  reachable at the first connect → ``Unreachable``.
* Open orders for the reconciliation: the day's reply, its open orders as snapshot rows (the
  adapter's own mapping, ``adapters.tradier``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

from orderledger.domain.errors import LedgerError
from orderledger.domain.values import format_decimal
from orderledger.infrastructure.adapters.tradier.payloads import (
    booked_orders,
    cumulative_fills,
    order_messages,
    orders_of,
)
from orderledger.infrastructure.collect.bounds import capped, read_body, redirect, refused
from orderledger.infrastructure.collect.gate import RateGate, retry_after
from orderledger.infrastructure.collect.source import (
    ConnectionLost,
    CredentialsRejected,
    SourceConfig,
    UnknownSymbol,
    Unreachable,
)
from orderledger.infrastructure.errors import ConfigurationError
from orderledger.infrastructure.messages.exact_json import decode_json
from orderledger.infrastructure.messages.models import RequestMessage

POLL = 2.0
DAYS = 7
PAGE = 100
TIMEOUT = 30.0
OPEN = {"open": "open", "partially_filled": "partially_filled", "pending": "new"}
"""Tradier's open statuses as the reconciliation's snapshot names them."""


class TradierSource:
    """Polls one Tradier account's orders."""

    format = "tradier"

    def __init__(self, config: SourceConfig) -> None:
        import aiohttp  # the collect extra: loads only for a collector

        self._aiohttp = aiohttp
        self.venue = config.venue
        if config.account is None:
            raise ConfigurationError("collect tradier needs `account`")
        self.account: str | None = config.account
        self.options: dict[str, Any] = {}
        self.base = config.endpoint.rstrip("/")
        self.timing = config.timing
        token = config.credentials.get("token")
        self._token = "" if token is None else token.reveal()
        self.poll = config.seconds("poll", POLL, zero=True)
        self.days = int(config.number("days", DAYS, zero=True, unit="days"))
        self.timeout = config.seconds("timeout", TIMEOUT, zero=True)
        self._session: Any = None
        self._reached = False
        self.reports = config.reports
        self._last: bytes | None = None
        self._wait = 0.0  # a poll's spacing: the window's requests spread over what is left of it
        self.gate = RateGate(config.timing, config.reports)  # every request of the source waits on it

    # ------------------------------------------------------------------ Source

    async def connect(self) -> None:
        if self._session is None:
            self._session = self._aiohttp.ClientSession(
                headers={"Authorization": f"Bearer {self._token}", "Accept": "application/json"},
                timeout=self._aiohttp.ClientTimeout(total=self.timeout),
                # One connection per poll: a reply lost with its connection is a lost connection,
                # never retried behind the collector's back on a kept-alive one.
                connector=self._aiohttp.TCPConnector(force_close=True),
            )
        self._last = None

    async def backfill(self, since: datetime | None) -> AsyncIterator[bytes]:
        start = (since or self.timing.now() - timedelta(days=self.days)).date().isoformat()
        page = 1
        while True:
            body = await self._get(
                {
                    "includeTags": "true",
                    "filter": "all",
                    "start": start,
                    "page": str(page),
                    "limit": str(PAGE),
                }
            )
            yield body
            if len(orders_of(decode_json(body))) < PAGE:  # an orders reply: _get checked it
                return
            page += 1

    async def frames(self) -> AsyncIterator[bytes]:
        while True:
            await self.timing.sleep(max(self.poll, self._wait))
            body = await self._get({"includeTags": "true"})
            if body != self._last:
                self._last = body
                yield body

    async def open_orders(self) -> list[dict[str, Any]]:
        body = await self._get({"includeTags": "true"})
        try:
            return snapshot_rows(decode_json(body), venue=self.venue, account=self.account or "")
        except LedgerError as error:
            raise refused("tradier", f"an order of the reply cannot be read: {error.message}", body) from None

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    # ------------------------------------------------------------------ one request

    async def _get(self, params: dict[str, str]) -> bytes:
        await self.gate.wait()
        if self._session is None:
            await self.connect()
        url = f"{self.base}/accounts/{self.account}/orders"
        aiohttp = self._aiohttp
        try:
            async with self._session.get(url, params=params, allow_redirects=False) as reply:
                status, headers = reply.status, reply.headers
                self._reached = True
                self._limit(headers)
                if 300 <= status < 400:
                    raise redirect(status, headers, url, "tradier")
                body = await read_body(reply, "tradier")
        except (aiohttp.ClientConnectorError, aiohttp.InvalidURL) as error:
            if not self._reached:
                raise Unreachable(f"tradier: cannot reach {self.base}: {_first_line(error)}") from None
            raise ConnectionLost(f"tradier: {_first_line(error)}") from None
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ConnectionLost(f"tradier: {type(error).__name__} {_first_line(error)}".strip()) from None
        if status in (401, 403):
            raise CredentialsRejected(f"tradier refused the token (HTTP {status})")
        if status in (400, 404):
            raise UnknownSymbol(f"tradier does not know the account {self.account!r} (HTTP {status})")
        if status == 429 or status >= 500:
            retry = self.gate.hold(retry_after(headers.get("Retry-After")), "tradier's Retry-After")
            raise ConnectionLost(
                f"tradier answered HTTP {status}", retry_after=retry if retry is not None else self._wait
            )
        if status != 200:
            raise ConnectionLost(f"tradier answered HTTP {status}")
        try:
            orders_of(decode_json(body))
        except LedgerError as error:
            raise refused(
                "tradier", f"answered 200 with a reply that is not an orders reply ({error.message})", body
            ) from None
        return body

    def _limit(self, headers: Any) -> None:
        """The rate limit headers of a reply: the gate closed until the window's end when none is
        left, and the polls' spacing (the window's requests spread until its end)."""
        available = _float(headers.get("X-Ratelimit-Available"))
        expiry = _float(headers.get("X-Ratelimit-Expiry"))
        if available is None or expiry is None:
            self._wait = 0.0
            return
        ends = expiry / 1000 if expiry >= 1e11 else expiry
        until = max(0.0, ends - self.timing.now().timestamp())
        what = "tradier's X-Ratelimit-Expiry"
        if available <= 0:
            self._wait = self.gate.hold(until, what) or 0.0
        else:
            self._wait = (capped(until, what, self.reports) or 0.0) / available


def snapshot_rows(reply: Any, *, venue: str, account: str) -> list[dict[str, Any]]:
    """The open orders of an orders reply as reconciliation snapshot rows, through the adapter's
    own reading of each order (its request message)."""
    rows = []
    for order in orders_of(reply):
        requests = {
            m.venue_order_id: m
            for m in order_messages(order, venue=venue, account=account)
            if isinstance(m, RequestMessage)
        }
        filled = {c.venue_order_id: c for c in cumulative_fills(order)}
        for booked, _ in booked_orders(order):
            status = OPEN.get(str(booked.get("status", "")).lower())
            if status is None:
                continue
            oid = str(booked["id"])
            request, done = requests[oid], filled.get(oid)
            average = None if done is None or done.avg_fill_price is None else str(done.avg_fill_price)
            rows.append(
                {
                    "venue_order_id": oid,
                    "instrument": request.instrument,
                    "side": request.side.value,
                    "order_type": request.order_type.value,
                    "quantity": format_decimal(request.quantity),
                    "price": None if request.price is None else format_decimal(request.price),
                    "filled_quantity": "0" if done is None else str(done.exec_quantity),
                    "average_price": average,
                    "status": status,
                }
            )
    return rows


def _first_line(error: BaseException) -> str:
    return (str(error).splitlines() or [""])[0][:200]


def _float(text: Any) -> float | None:
    try:
        return None if text is None else float(text)
    except ValueError:
        return None


__all__ = ["TradierSource", "snapshot_rows"]
