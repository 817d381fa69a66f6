"""A loopback Lighter: one port speaking Lighter's REST API (``/api/v1/...``) and its account
WebSocket (``/stream``), built on the ``websockets`` server, with a scripted account and fault
schedules. The collector's tests and docs/collect.md's runnable example run against it.

Every payload is a venue's published example, with the fields a scenario changes marked
"derived":

* orders: the Lighter order ccxt 4.5.90 quotes (``python/ccxt/lighter.py``, the
  ``accountInactiveOrders`` entry in ``parse_order``; tests/adapters/fixtures/ccxt_venues.json);
  derived: ``order_index``/``order_id``, ``is_ask``, ``status``, amounts and times;
* trades: the Lighter trade ccxt quotes (same file, ``parse_trade``; same fixture); derived:
  ``trade_id``, ``ask_id``/``bid_id``, the account IDs, ``timestamp``;
* the market map: ccxt's ``orderBookDetails`` example (``fetch_markets``); derived: further
  markets (``symbol``, ``market_id``) for a market listed after the collector connected;
* frames: the channel envelopes of Lighter's WebSocket reference as ccxt quotes them
  (``pro/lighter.py`` ``handle_orders``, ``handle_my_trades``; ``{"type":"connected"}`` with its
  ``session_id`` from ``handle_subscription_status``; ``{"type":"ping"}``/``pong``);
* errors: the ``{"error": {"code", "message"}}`` frame of ``handle_error_message``; the code and
  text for a refused token are derived (Lighter publishes none), as is HTTP 401 on REST.

The subscription reply (``subscribed/...``, "full state" in Lighter's reference) carries the
account's open orders and no trades here (derived: what a full state holds is not published), so
trades made while no collector listens reach it only by REST backfill.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from tests.support.ccxt_flows import raw
from tests.support.loopback import stop_accepting

T = TypeVar("T")
ACCOUNT = "1077"  # owner_account_index of the published order
TOKEN = "1767139200:1077:255:0b6a41"  # derived: an auth token's shape (deadline:account:key:signature)
COUNTERPARTY = 20  # ask_account_id of the published trade
SESSION = "8d354239-80e0-4b77-8763-87b6fef2f768"  # the connected message ccxt quotes

MARKET = {  # ccxt 4.5.90 lighter.py fetch_markets: the orderBookDetails example entry
    "symbol": "ETH",
    "market_id": 0,
    "market_type": "perp",
    "base_asset_id": 0,
    "quote_asset_id": 0,
    "status": "active",
    "taker_fee": "0.0001",
    "maker_fee": "0.0000",
    "liquidation_fee": "0.01",
    "min_base_amount": "0.01",
    "min_quote_amount": "0.1",
    "supported_size_decimals": "4",
    "supported_price_decimals": "4",
    "supported_quote_decimals": "4",
    "order_quote_limit": "281474976.710655",
    "size_decimals": "4",
    "price_decimals": "4",
    "quote_multiplier": "10000",
    "default_initial_margin_fraction": "100",
    "min_initial_margin_fraction": "100",
    "maintenance_margin_fraction": "50",
    "closeout_margin_fraction": "100",
    "last_trade_price": "3024.66",
    "daily_trades_count": "68",
    "daily_base_token_volume": "235.25",
    "daily_quote_token_volume": "93566.25",
    "daily_price_low": "3014.66",
    "daily_price_high": "3024.66",
    "daily_price_change": "3.66",
    "open_interest": "93.0",
    "daily_chart": "{1640995200:3024.66}",
    "market_config": {
        "market_margin_mode": 0,
        "insurance_fund_account_index": 281474976710655,
        "liquidation_mode": 0,
        "force_reduce_only": False,
        "funding_fee_discounts_enabled": True,
        "trading_hours": "",
        "hidden": True,
    },
    "strategy_index": 0,
}
NEW_MARKET = MARKET | {"symbol": "BTC", "market_id": 1}  # derived: a market listed later
REFUSED = {"error": {"code": 20013, "message": "invalid auth"}}  # derived code and text


def market_symbol(market: int) -> str:
    """The instrument the ``lighter`` format names a market of this server by."""
    return f"{(NEW_MARKET if market == 1 else MARKET)['symbol']}/USDC:USDC"


@dataclass(frozen=True)
class Event:
    """One update of the account, as one channel frame: ``orders`` or ``trades``."""

    kind: str
    item: dict[str, Any]

    @property
    def channel(self) -> str:
        return "account_all_orders" if self.kind == "orders" else "account_all_trades"

    def frame(self) -> bytes:
        market = self.item.get("market_index", self.item.get("market_id"))
        body = {"channel": f"{self.channel}:{ACCOUNT}", self.kind: {str(market): [self.item]}}
        return json.dumps(body | {"type": f"update/{self.channel}"}).encode()


def scenario(orders: int, *, late_market_from: int | None = None) -> list[Event]:
    """``orders`` orders of account 1077, each: open, one trade of 10.2304 at 2958.75 (the
    published trade's size and price), then updated: canceled (``canceled-post-only``) after that
    fill, except every third, which stays open with 25.8082 left. Even orders sell (``is_ask``),
    odd ones buy. Orders from ``late_market_from`` on trade market 1, which the market map lists
    only once they start."""
    published_order, published_trade = raw("lighter", "order"), raw("lighter", "trade")
    events: list[Event] = []
    second = published_order["created_at"]
    for i in range(orders):
        market = 1 if late_market_from is not None and i >= late_market_from else 0
        index = published_order["order_index"] + i
        ask = i % 2 == 0
        order = published_order | {  # derived: id, side, a resting limit order, times
            "order_index": index,
            "order_id": str(index),
            "market_index": market,
            "is_ask": ask,
            "type": "limit",
            "time_in_force": "good-till-time",
            "status": "open",
            "remaining_base_amount": published_order["initial_base_amount"],
            "created_at": second + 3 * i,
            "updated_at": second + 3 * i,
            "timestamp": second + 3 * i,
        }
        filled = published_trade["size"]
        trade = published_trade | {  # derived: id, the account's side, time
            "trade_id": published_trade["trade_id"] + i,
            "market_id": market,
            "ask_id": index if ask else published_trade["ask_id"],
            "bid_id": published_trade["bid_id"] if ask else index,
            "ask_account_id": int(ACCOUNT) if ask else COUNTERPARTY,
            "bid_account_id": COUNTERPARTY if ask else int(ACCOUNT),
            "timestamp": (second + 3 * i + 1) * 1000,
        }
        events += [Event("orders", order), Event("trades", trade)]
        left = Decimal(order["initial_base_amount"]) - Decimal(filled)  # 36.0386 - 10.2304 = 25.8082
        after = order | {"filled_base_amount": filled, "updated_at": second + 3 * i + 2}
        if i % 3 == 2:  # still resting, 25.8082 left
            after |= {"remaining_base_amount": str(left)}
        else:
            after |= {"status": "canceled-post-only", "remaining_base_amount": "0.0000"}
        events.append(Event("orders", after))
    return events


def clean_stream(events: list[Event]) -> list[bytes]:
    """The clean stream as a file holds it: the market map every event needs, then each event's
    frame once, in the order published."""
    venue = LighterVenue(events)
    while not venue.done:
        venue.publish()
    return [json.dumps({"code": 200, "order_book_details": venue.markets()}).encode()] + [
        e.frame() for e in events
    ]


@dataclass
class Plan:
    """What one WebSocket connection does: publish and send ``send`` events (all if None), then
    publish ``silent`` more without sending them and drop the link (no close frame). Each frame
    is sent twice with ``duplicate``; ``reorder`` sends each pair of frames swapped; ``delay``
    seconds pass before each frame (a slow server); ``pace`` frames a second go out on a
    schedule (the benchmark's). ``mute`` is where the server falls silent at the opening:
    ``"greeting"`` (it never greets) or ``"subscriptions"`` (it greets and never answers a
    subscription). With ``after_backfill`` the account trades
    only once the collector has read its backfill's last page of trades (events happen while it
    listens, so the stream, not the backfill, brings them); without, at once. ``hostile``: a
    frame (any text: nested 100,000 deep, 20 MiB long) sent before the first event."""

    send: int | None = None
    silent: int = 0
    duplicate: bool = False
    reorder: bool = False
    delay: float = 0.0
    pace: float | None = None
    after_backfill: bool = True
    mute: str = ""
    hostile: str = ""


@dataclass
class LighterVenue:
    """The account's state at the venue: every event published so far, applied."""

    events: list[Event]
    published: int = 0
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    trades: list[dict[str, Any]] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.published >= len(self.events)

    def publish(self) -> Event:
        event = self.events[self.published]
        self.published += 1
        if event.kind == "orders":
            self.orders[event.item["order_index"]] = event.item
        else:
            self.trades.append(event.item)
        return event

    def markets(self) -> list[dict[str, Any]]:
        used = {e.item.get("market_index", e.item.get("market_id")) for e in self.events[: self.published]}
        return [MARKET, NEW_MARKET] if 1 in used else [MARKET]

    def open_orders(self) -> list[dict[str, Any]]:
        return [o for o in self.orders.values() if o["status"] == "open"]


class LighterServer:
    """The loopback server (``async with LighterServer(venue) as server:``; ``server.url``)."""

    def __init__(self, venue: LighterVenue, *, token: str = TOKEN, plans: list[Plan] | None = None) -> None:
        self.venue = venue
        self.token = token
        self.plans: deque[Plan] = deque(plans or [])
        self.throttle: deque[str] = deque()  # Retry-After values of the next REST replies (HTTP 429)
        self.requests: list[str] = []
        self.connections = 0
        self.port = 0
        self._server: Server | None = None
        self._backfilled = asyncio.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> LighterServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        self._server = await serve(self._stream, "127.0.0.1", self.port, process_request=self._rest)
        self.port = next(iter(self._server.sockets)).getsockname()[1]

    async def stop(self) -> None:
        """Stop listening (:func:`~tests.support.loopback.stop_accepting`: a connection being
        accepted is served, one still queued is refused), then drop every connection."""
        if self._server is not None:
            await stop_accepting([self._server])
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def restart(self) -> None:
        """Stop (every connection dropped), then listen again on the same port."""
        await self.stop()
        await self.start()

    # ------------------------------------------------------------------ REST

    def _rest(self, connection: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        if parts.path == "/stream":
            return None  # the WebSocket handshake
        self.requests.append(parts.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if self.throttle:
            response = connection.respond(429, "Too Many Requests")
            response.headers["Retry-After"] = self.throttle.popleft()
            return response
        path = parts.path.removeprefix("/api/v1/")
        if path == "orderBookDetails":
            return self._json(connection, {"code": 200, "order_book_details": self.venue.markets()})
        if path not in ("accountActiveOrders", "accountInactiveOrders", "trades"):
            return connection.respond(404, "not found")
        if request.headers.get("Authorization") != self.token:
            return connection.respond(401, "invalid auth")
        if query.get("account_index") != ACCOUNT:
            return self._json(connection, {"code": 21100, "message": "account not found"})  # derived
        if path == "accountActiveOrders":
            return self._json(connection, {"code": 200, "orders": self.venue.open_orders()})
        if path == "accountInactiveOrders":
            done = [o for o in self.venue.orders.values() if o["status"] != "open"]
            done.sort(key=lambda o: o["updated_at"], reverse=True)
            return self._json(connection, self._page("orders", done, query))
        newest = sorted(self.venue.trades, key=lambda t: t["timestamp"], reverse=True)
        page = self._page("trades", newest, query)
        if "next_cursor" not in page:
            self._backfilled.set()  # the collector read the last page of its backfill
        return self._json(connection, page)

    @staticmethod
    def _page(key: str, items: list[dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
        start, limit = int(query.get("cursor") or 0), int(query.get("limit") or 100)
        page: dict[str, Any] = {"code": 200, key: items[start : start + limit]}
        if start + limit < len(items):
            page["next_cursor"] = str(start + limit)
        return page

    @staticmethod
    def _json(connection: ServerConnection, body: dict[str, Any]) -> Response:
        response = connection.respond(200, json.dumps(body))
        response.headers["Content-Type"] = "application/json"
        return response

    # ------------------------------------------------------------------ the stream

    async def _stream(self, ws: ServerConnection) -> None:
        self.connections += 1
        self._backfilled.clear()
        plan = self.plans.popleft() if self.plans else Plan()
        try:
            if plan.mute == "greeting":
                await ws.wait_closed()
                return
            await ws.send(json.dumps({"session_id": SESSION, "type": "connected"}))
            if plan.mute == "subscriptions":
                async for _ in ws:
                    pass  # read, never answered
                return
            if not await self._subscribed(ws):
                return
            if plan.after_backfill:
                gate = asyncio.ensure_future(self._backfilled.wait())
                await asyncio.wait(
                    [gate, asyncio.ensure_future(ws.wait_closed())], return_when="FIRST_COMPLETED"
                )
                gate.cancel()
            await self._publish(ws, plan)
            await ws.wait_closed()
        except ConnectionClosed:
            return

    async def _subscribed(self, ws: ServerConnection) -> bool:
        wanted = {"account_all_orders", "account_all_trades"}
        while wanted:
            request = json.loads(await ws.recv())
            if request.get("type") == "ping":
                await ws.send(json.dumps({"type": "pong"}))
                continue
            name, _, account = str(request.get("channel", "")).partition("/")
            if request.get("auth") != self.token or account != ACCOUNT:
                await ws.send(json.dumps(REFUSED))
                return False
            wanted.discard(name)
            kind = "orders" if name == "account_all_orders" else "trades"
            state: dict[str, list[dict[str, Any]]] = {}
            for order in self.venue.open_orders() if kind == "orders" else []:
                state.setdefault(str(order["market_index"]), []).append(order)
            reply = {"channel": f"{name}:{ACCOUNT}", kind: state, "type": f"subscribed/{name}"}
            await ws.send(json.dumps(reply))
        return True

    async def _publish(self, ws: ServerConnection, plan: Plan) -> None:
        held: bytes | None = None
        sent = 0
        started = time.perf_counter()
        if plan.hostile:
            await ws.send(plan.hostile)
        while not self.venue.done:
            if plan.pace is not None and (ahead := started + sent / plan.pace - time.perf_counter()) > 0.001:
                await asyncio.sleep(ahead)
            if plan.send is not None and sent >= plan.send:
                for _ in range(min(plan.silent, len(self.venue.events) - self.venue.published)):
                    self.venue.publish()
                ws.transport.abort()  # dropped: no close frame
                return
            frame = self.venue.publish().frame()
            sent += 1
            if plan.reorder and held is None and not self.venue.done:
                held = frame
                continue
            for out in _frames(frame, held, plan.duplicate):
                if plan.delay:
                    await asyncio.sleep(plan.delay)
                await ws.send(out)
            held = None
        if held is not None:
            await ws.send(held)


class LighterThread:
    """The loopback server in a thread with its own event loop, for a collector in another
    process (``with LighterThread(venue) as server:``); ``call`` runs work on its loop."""

    def __init__(self, venue: LighterVenue, *, plans: list[Plan] | None = None) -> None:
        self.server = LighterServer(venue, plans=plans)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return self.server.url

    def call(self, work: Callable[[], T]) -> T:
        async def run() -> T:
            return work()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def __enter__(self) -> LighterThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


def _frames(frame: bytes, held: bytes | None, duplicate: bool) -> Iterator[bytes]:
    for one in (frame, held) if held is not None else (frame,):
        yield one
        if duplicate:
            yield copy.copy(one)


__all__ = [
    "ACCOUNT",
    "MARKET",
    "NEW_MARKET",
    "TOKEN",
    "Event",
    "LighterServer",
    "LighterThread",
    "LighterVenue",
    "Plan",
    "clean_stream",
    "market_symbol",
    "scenario",
]


async def _serve(port: int) -> None:
    """docs/collect.md's example: 6 orders of account 1077 (``scenario(6)``), traded once the
    collector has read its backfill."""
    server = LighterServer(LighterVenue(scenario(6)))
    server.port = port
    await server.start()
    sys.stdout.write(f"{server.url} account {ACCOUNT} token {TOKEN}\n")
    sys.stdout.flush()
    await asyncio.Event().wait()


if __name__ == "__main__":  # pragma: no cover (docs/collect.md's example)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
