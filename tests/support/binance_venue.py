"""A loopback Binance USDⓈ-M Futures: the REST endpoints and the user data stream ccxt.pro's
``binanceusdm`` uses, on 127.0.0.1.

What it speaks, per Binance's USDⓈ-M Futures API reference: ``GET /fapi/v1/exchangeInfo``;
``POST``/``PUT /fapi/v1/listenKey``; ``GET /fapi/v1/openOrders`` (every symbol's when none is
named); ``GET /fapi/v1/allOrders`` and ``GET /fapi/v1/userTrades``, whose ``symbol`` is
mandatory (HTTP 400, ``-1102`` without it); ``GET /fapi/v1/income`` (by ``incomeType``,
``symbol``, ``startTime``, ``endTime``); ``GET /fapi/v1/leverageBracket`` and ``GET
/fapi/v3/positionRisk`` (what ccxt's ``fetch_positions`` reads); and ``GET
/sapi/v1/capital/config/getall`` and ``/sapi/v1/margin/allPairs`` (what ccxt reads for the
currencies when given keys), answered empty: the venue lists no coins or margin pairs. The
venue's default window (the last seven days when a query names no time) is not applied: the
published examples' times are from 2019 to 2024. A request refused for the rate limit
(:attr:`LoopbackBinance.limit_next`) is answered HTTP 429 with the ``-1003`` body and a
``Retry-After`` header (the seconds to wait, as Binance's API documents it for 429 and 418). The
user data stream: ``/private/ws?listenKey=…``, which pushes what the test sends (ORDER_TRADE_UPDATE,
ACCOUNT_UPDATE events); nothing is subscribed on it. A listen key holds until
:meth:`LoopbackBinance.expire`: the venue pushes ``listenKeyExpired`` on the key's sockets, sends
nothing more on them and leaves them open (as Binance documents it), refuses the key from then on,
and a ``POST /fapi/v1/listenKey`` answers the next key (a POST with a key alive answers that key).

The payloads are the published ones; each constant names its source. "Binance docs" is Binance's
USDⓈ-M Futures API reference (developers.binance.com/docs/derivatives/usds-margined-futures), as
copied in github.com/rosssaunders/coincise, docs/binance/usdm and docs/binance/futures at commit
42d53bd6; the rest are ccxt 4.5.90's quotes of Binance's examples
(tests/adapters/fixtures/ccxt_venues.json, read through ``ccxt_flows.raw``).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import WSMsgType, web

from tests.support import ccxt_flows as flows
from tests.support.loopback_venue import LoopbackVenue

# Binance docs, "Exchange Information" (GET /fapi/v1/exchangeInfo): the response example, whose one
# symbol is BLZUSDT. The markets the tests trade are that entry with symbol, pair and baseAsset
# changed (and, for BTCUSDT, the price and quantity steps of the market the repository's ccxt flows
# declare, ccxt_flows.BINANCEUSDM_BTC: 0.01 and 0.001).
BLZUSDT: dict[str, Any] = {
    "symbol": "BLZUSDT", "pair": "BLZUSDT", "contractType": "PERPETUAL",
    "deliveryDate": 4133404800000, "onboardDate": 1598252400000, "status": "TRADING",
    "maintMarginPercent": "2.5000", "requiredMarginPercent": "5.0000", "baseAsset": "BLZ",
    "quoteAsset": "USDT", "marginAsset": "USDT", "pricePrecision": 5, "quantityPrecision": 0,
    "baseAssetPrecision": 8, "quotePrecision": 8, "underlyingType": "COIN",
    "underlyingSubType": ["STORAGE"], "settlePlan": 0, "triggerProtect": "0.15",
    "filters": [
        {"filterType": "PRICE_FILTER", "maxPrice": "300", "minPrice": "0.0001", "tickSize": "0.0001"},
        {"filterType": "LOT_SIZE", "maxQty": "10000000", "minQty": "1", "stepSize": "1"},
        {"filterType": "MARKET_LOT_SIZE", "maxQty": "590119", "minQty": "1", "stepSize": "1"},
        {"filterType": "MAX_NUM_ORDERS", "limit": 200},
        {"filterType": "MIN_NOTIONAL", "notional": "5.0"},
        {"filterType": "PERCENT_PRICE", "multiplierUp": "1.1500", "multiplierDown": "0.8500",
         "multiplierDecimal": "4"},
    ],
    "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
                   "TRAILING_STOP_MARKET"],
    "timeInForce": ["GTC", "IOC", "FOK", "GTX"], "liquidationFee": "0.010000",
    "marketTakeBound": "0.30",
}  # fmt: skip
RATE_LIMITS: list[dict[str, Any]] = [
    {"interval": "MINUTE", "intervalNum": 1, "limit": 2400, "rateLimitType": "REQUEST_WEIGHT"},
    {"interval": "MINUTE", "intervalNum": 1, "limit": 1200, "rateLimitType": "ORDERS"},
]
"""Binance docs, "Exchange Information": the example's ``rateLimits``."""
# Binance docs, "Start User Data Stream" reply shape; the key is the change log's (2024-04:
# PUT /fapi/v1/listenKey answers the key kept alive).
LISTEN_KEY = {"listenKey": "3HBntNTepshgEdjIwSUIBgB9keLyOCg5qv3n6bYAtktG8ejcaW5HXz9Vx1JgIieg"}
# Binance docs, "Event: User Data Stream Expired" (user-data-streams/Event-User-Data-Stream-Expired):
# the response example, whose key is the venue's second key here.
LISTEN_KEY_EXPIRED: dict[str, Any] = {
    "e": "listenKeyExpired",
    "E": "1736996475556",
    "listenKey": "WsCMN0a4KHUPTQuX6IUnqEZfB1inxmv1qR4kbf1LuEjur5VdbzqvyxqG9TSjVVxv",
}
KEYS = (LISTEN_KEY["listenKey"], LISTEN_KEY_EXPIRED["listenKey"])
"""The keys the venue hands out, in turn (one more after each :meth:`LoopbackBinance.expire`)."""
# Binance docs, "Position Information V3" (GET /fapi/v3/positionRisk), one-way mode example.
ADAUSDT_POSITION: dict[str, Any] = {
    "symbol": "ADAUSDT", "positionSide": "BOTH", "positionAmt": "30", "entryPrice": "0.385",
    "breakEvenPrice": "0.385077", "markPrice": "0.41047590", "unRealizedProfit": "0.76427700",
    "liquidationPrice": "0", "isolatedMargin": "0", "notional": "12.31427700",
    "marginAsset": "USDT", "isolatedWallet": "0", "initialMargin": "0.61571385",
    "maintMargin": "0.08004280", "positionInitialMargin": "0.61571385",
    "openOrderInitialMargin": "0", "adl": 2, "bidNotional": "0", "askNotional": "0",
    "updateTime": 1720736417660,
}  # fmt: skip
# Binance docs, "Notional and Leverage Brackets" (GET /fapi/v1/leverageBracket), the example.
LEVERAGE_BRACKETS: list[dict[str, Any]] = [
    {
        "symbol": "ETHUSDT", "notionalCoef": 1.5,
        "brackets": [{"bracket": 1, "initialLeverage": 75, "notionalCap": 10000, "notionalFloor": 0,
                      "maintMarginRatio": 0.0065, "cum": 0.0}],
    }
]  # fmt: skip
# Binance docs, change log: an ACCOUNT_UPDATE example (a referral rebate, "m": "ADMIN_DEPOSIT"),
# and the rule for a funding fee: on a crossed position the event carries the balance of the
# funding fee's asset only, no position ("FUNDING FEE" in "m").
ACCOUNT_UPDATE: dict[str, Any] = {
    "e": "ACCOUNT_UPDATE", "T": 1679974782150, "E": 1679974782155,
    "a": {"B": [{"a": "USDT", "wb": "685.31478079", "cw": "677.17212454", "bc": "0.00258637"}],
          "P": [], "m": "ADMIN_DEPOSIT"},
}  # fmt: skip
MISSING_SYMBOL = {
    "code": -1102,
    "msg": "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
}
"""Binance docs, "Error Codes", -1102 MANDATORY_PARAM_EMPTY_OR_MALFORMED, its message for a named
parameter."""
TOO_MANY = {
    "code": -1003,
    "msg": "Too many requests; current limit is 2400 requests per minute. "
    "Please use the websocket for live updates to avoid polling the API.",
}
"""Binance docs, "Error Codes", -1003 TOO_MANY_REQUESTS (its limit the example's REQUEST_WEIGHT)."""
OPEN = ("NEW", "PARTIALLY_FILLED")


def market(symbol: str, base: str, tick: str = "0.0001", step: str = "1") -> dict[str, Any]:
    entry = copy.deepcopy(BLZUSDT) | {"symbol": symbol, "pair": symbol, "baseAsset": base}
    entry["filters"][0] |= {"tickSize": tick, "minPrice": tick}
    entry["filters"][1] |= {"stepSize": step, "minQty": step}
    return entry


EXCHANGE_INFO: dict[str, Any] = {
    "exchangeFilters": [],
    "rateLimits": RATE_LIMITS,
    "serverTime": 1565613908500,
    "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "0"}],
    "symbols": [
        market("BTCUSDT", "BTC", "0.01", "0.001"),
        market("ETHUSDT", "ETH"),
        market("ADAUSDT", "ADA"),
    ],
    "timezone": "UTC",
}
"""The example's reply with the three markets the published examples name (BTCUSDT: orders and
trades; ETHUSDT: the funding fee; ADAUSDT: the position) and its USDT asset."""


def funding_update(income: dict[str, Any]) -> dict[str, Any]:
    """The ACCOUNT_UPDATE a funding fee pushes on a crossed position (see ACCOUNT_UPDATE): the
    example's with its times the fee's, ``m`` FUNDING FEE and ``bc`` the fee."""
    event = copy.deepcopy(ACCOUNT_UPDATE)
    at = int(income["time"])
    event |= {"T": at, "E": at}
    event["a"] |= {"m": "FUNDING FEE"}
    event["a"]["B"][0] |= {"a": income["asset"], "bc": income["income"]}
    return event


def order(**fields: Any) -> dict[str, Any]:
    """ccxt's quoted USDⓈ-M order (binance.py lines 6002-6024: BTCUSDT, a LIMIT buy of 0.001 at
    25000, NEW) with ``fields`` changed, and its ``time``, which the quote leaves out, the
    ``updateTime``'s unless given."""
    entry = flows.raw("binanceusdm", "rest_order") | fields
    entry.setdefault("time", entry["updateTime"])
    return entry


def order_update(entry: dict[str, Any]) -> dict[str, Any]:
    """The ORDER_TRADE_UPDATE that reports ``entry`` (an order as REST lists it) with nothing
    filled: ccxt's quoted event (pro/binance.py lines 4383-4422) with the order's symbol, client
    ID, side, type, quantity, price, status and ID, and the trailing-stop fields dropped."""
    event = flows.raw("binanceusdm", "ws_order_trade_update")
    for name in ("AP", "cr"):
        event["o"].pop(name)
    at = entry["updateTime"]
    event |= {"E": at, "T": at}
    event["o"] |= {
        "s": entry["symbol"],
        "c": entry["clientOrderId"],
        "S": entry["side"],
        "o": entry["type"],
        "ot": entry["origType"],
        "q": entry["origQty"],
        "p": entry["price"],
        "sp": "0",
        "x": entry["status"],
        "X": entry["status"],
        "i": entry["orderId"],
        "T": at,
        "ps": entry["positionSide"],
    }
    return event


class LoopbackBinance(LoopbackVenue):
    """The venue: its records, its switches (:class:`~tests.support.loopback_venue.LoopbackVenue`)."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        super().__init__(now)
        self.orders: dict[int, dict[str, Any]] = {}
        """Every order as allOrders lists it, by ``orderId``."""
        self.trades: list[dict[str, Any]] = []
        self.incomes: list[dict[str, Any]] = []
        self.positions: list[dict[str, Any]] = []
        self.limit_next: dict[str, float] = {}
        """Path → the ``Retry-After`` seconds of the 429 its next request gets."""
        self.keys = 0
        """How many listen keys have expired: ``KEYS[keys]`` is the one alive."""
        self.stream_keys: list[str] = []
        """The listen key of each user data stream connection accepted, in order."""
        self.ended: list[web.WebSocketResponse] = []
        """Sockets whose key expired: kept open, sent nothing more."""

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/private/ws", self._ws)
        app.router.add_route("*", "/{path:.*}", self._rest)

    # ------------------------------------------------------------------ the venue's records

    async def record(self, entry: dict[str, Any]) -> None:
        """An order's state (as allOrders lists it), pushed as its ORDER_TRADE_UPDATE."""
        self.orders[entry["orderId"]] = entry
        await self.push(order_update(entry))
        await self.notify()

    async def fund(self, income: dict[str, Any]) -> None:
        """A funding fee (an income entry), pushed as its ACCOUNT_UPDATE."""
        self.incomes.append(income)
        await self.push(funding_update(income))
        await self.notify()

    async def expire(self) -> None:
        """The listen key alive expires: ``listenKeyExpired`` (the docs' example with this key and
        the venue's time) on its sockets, which stay open and hear nothing more."""
        event = LISTEN_KEY_EXPIRED | {
            "E": str(int(self.now().timestamp() * 1000)),
            "listenKey": KEYS[self.keys],
        }
        self.keys += 1
        for socket in list(self.sockets):
            if not socket.closed:
                await socket.send_str(json.dumps(event))
        self.ended.extend(self.sockets)
        await self.notify()

    async def push(self, frame: dict[str, Any]) -> None:
        """Pushed on the sockets whose key is alive only."""
        if self.quiet:
            return
        for socket in list(self.sockets):
            if not socket.closed and socket not in self.ended:
                await socket.send_str(json.dumps(frame))

    # ------------------------------------------------------------------ REST

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["path"]
        query = await self.heard(request, path)
        if path in self.limit_next:
            wait = self.limit_next.pop(path)
            return web.json_response(TOO_MANY, status=429, headers={"Retry-After": f"{wait:g}"})
        if path in ("/fapi/v1/allOrders", "/fapi/v1/userTrades") and not query.get("symbol"):
            return web.json_response(MISSING_SYMBOL, status=400)
        found = self._reply(request.method, path, query)
        if found is None:
            return web.json_response({"code": -1, "msg": f"no {path} here"}, status=404)
        return web.json_response(found)

    def _reply(self, method: str, path: str, query: dict[str, str]) -> Any:
        symbol = query.get("symbol")
        if path == "/fapi/v1/exchangeInfo":
            return EXCHANGE_INFO
        if path == "/fapi/v1/listenKey" and method in ("POST", "PUT"):
            return {"listenKey": KEYS[self.keys]}
        if path in ("/sapi/v1/capital/config/getall", "/sapi/v1/margin/allPairs"):
            return []
        if path == "/fapi/v1/leverageBracket":
            return LEVERAGE_BRACKETS
        if path == "/fapi/v3/positionRisk":
            return self.positions
        if path == "/fapi/v1/openOrders":
            return [o for o in self._of(self.orders.values(), symbol) if o["status"] in OPEN]
        if path == "/fapi/v1/allOrders":
            return sorted(self._of(self.orders.values(), symbol), key=lambda o: o["time"])
        if path == "/fapi/v1/userTrades":
            return _within(self._of(self.trades, symbol), "time", query)
        if path == "/fapi/v1/income":
            kind = query.get("incomeType")
            incomes = [i for i in self._of(self.incomes, symbol) if kind in (None, i["incomeType"])]
            return _within(incomes, "time", query)
        return None

    @staticmethod
    def _of(entries: Any, symbol: str | None) -> list[dict[str, Any]]:
        return [e for e in entries if symbol in (None, e["symbol"])]

    # ------------------------------------------------------------------ the user data stream

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        if self.keys >= len(KEYS) or request.query.get("listenKey") != KEYS[self.keys]:
            raise web.HTTPBadRequest()
        self.stream_keys.append(KEYS[self.keys])
        socket = await self.held(request)
        try:
            async for message in socket:
                if message.type == WSMsgType.ERROR:
                    break
        finally:
            await self.released(socket)
        return socket


def _within(entries: list[dict[str, Any]], field: str, query: dict[str, str]) -> list[dict[str, Any]]:
    """``entries`` whose ``field`` (epoch ms) lies in the query's ``startTime``..``endTime``,
    oldest first (Binance returns data in ascending order)."""
    start = int(query.get("startTime") or 0)
    end = int(query.get("endTime") or 2**63)
    return sorted((e for e in entries if start <= int(e[field]) <= end), key=lambda e: int(e[field]))


__all__ = [
    "ACCOUNT_UPDATE",
    "KEYS",
    "LISTEN_KEY_EXPIRED",
    "LoopbackBinance",
    "funding_update",
    "order",
    "order_update",
]
