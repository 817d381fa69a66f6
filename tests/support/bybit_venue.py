"""A loopback Bybit v5: the REST endpoints and the private WebSocket ccxt.pro's ``bybit`` uses, on 127.0.0.1.

What it speaks, per Bybit's v5 API reference: ``GET /v5/market/instruments-info`` (by
``category``), ``/v5/user/query-api`` and ``/v5/account/info`` (what ccxt reads to tell a unified
account), ``/v5/order/realtime`` (open orders), ``/v5/order/history`` (orders no longer open, by
``orderStatus`` when given, else every one), ``/v5/execution/list`` (by ``execType``: Trade or
Funding, from ``startTime``), ``/v5/position/list``; every reply ``{"retCode", "retMsg",
"result", "retExtInfo", "time"}`` with the rate-limit headers ``X-Bapi-Limit``,
``X-Bapi-Limit-Status`` and ``X-Bapi-Limit-Reset-Timestamp``. A request refused for the rate limit
(:attr:`LoopbackBybit.limit_next`) is answered ``retCode`` 10006 "Too many visits!" with the
window's end one second after the venue's clock (``now``, the test's). The private stream
``/v5/private``: ``{"op": "auth"}`` answered ``{"success": true, "op": "auth"}``, ``{"op":
"subscribe"}`` answered likewise, ``{"op": "ping"}`` answered ``pong``, and pushes ``{"topic":
"order" | "execution", "data": [...]}``. Bybit has no funding topic.

The payloads are the published ones (``PUBLISHED`` below names each source); a venue's state is
the orders, executions and fundings the test records (:meth:`LoopbackBybit.record`), pushed to
subscribed connections unless :attr:`LoopbackBybit.quiet` (the collector away).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import WSMsgType, web

from tests.support import ccxt_flows as flows
from tests.support.adapters import FIXTURES
from tests.support.loopback_venue import LoopbackVenue

# Bybit v5 docs, "Get Instruments Info" (/v5/account/instruments-info, the structure
# /v5/market/instruments-info lists): the official USDT perpetual example (1000000BABYDOGEUSDT).
# The markets the session trades are that instrument with symbol and baseCoin changed (and its
# BTC steps: BTCUSDT's qtyStep 0.001 and tickSize 0.10, as Bybit lists BTCUSDT).
LINEAR_EXAMPLE: dict[str, Any] = {
    "symbol": "1000000BABYDOGEUSDT", "symbolId": 527, "contractType": "LinearPerpetual",
    "status": "Trading", "baseCoin": "1000000BABYDOGE", "quoteCoin": "USDT",
    "launchTime": "1718098044000", "deliveryTime": "0", "deliveryFeeRate": "", "priceScale": "7",
    "leverageFilter": {"minLeverage": "1", "maxLeverage": "25.00", "leverageStep": "0.01"},
    "priceFilter": {"minPrice": "0.0000001", "maxPrice": "1.9999998", "tickSize": "0.0000001"},
    "lotSizeFilter": {"maxOrderQty": "60000000", "minOrderQty": "100", "qtyStep": "100",
                      "postOnlyMaxOrderQty": "60000000", "maxMktOrderQty": "12000000",
                      "minNotionalValue": "5"},
    "unifiedMarginTrade": True, "fundingInterval": 240, "settleCoin": "USDT", "copyTrading": "none",
    "upperFundingRate": "0.02", "lowerFundingRate": "-0.02", "isPreListing": False,
    "preListingInfo": None, "displayName": "", "symbolType": "innovation",
}  # fmt: skip
# ccxt 4.5.90 bybit.py is_unified_enabled, its quoted /v5/user/query-api and /v5/account/info replies.
QUERY_API: dict[str, Any] = {
    "id": "13770661", "note": "XXXXXX", "apiKey": "XXXXXX", "readOnly": 0, "secret": "",
    "permissions": {}, "ips": [], "type": 1, "deadlineDay": 83, "expiredAt": "2023-05-15T03:21:05Z",
    "createdAt": "2022-10-16T02:24:40Z", "unified": 0, "uta": 0, "userID": 24600000,
    "inviterID": 0, "vipLevel": "No VIP", "mktMakerLevel": "0", "affiliateID": 0,
    "rsaPublicKey": "", "isMaster": False,
}  # fmt: skip
ACCOUNT_INFO: dict[str, Any] = {
    "marginMode": "REGULAR_MARGIN", "updatedTime": "1697078946000", "unifiedMarginStatus": 4,
    "dcpStatus": "OFF", "timeWindow": 10, "smpGroup": 0, "isMasterTrader": False,
    "spotHedgingStatus": "OFF",
}  # fmt: skip


def linear(symbol: str, base: str, qty_step: str, tick: str) -> dict[str, Any]:
    entry = copy.deepcopy(LINEAR_EXAMPLE) | {"symbol": symbol, "baseCoin": base}
    entry["lotSizeFilter"] |= {"qtyStep": qty_step, "minOrderQty": qty_step}
    entry["priceFilter"] |= {"tickSize": tick, "minPrice": tick}
    return entry


def instruments(category: str) -> list[dict[str, Any]]:
    if category == "linear":
        return [linear("BTCUSDT", "BTC", "0.001", "0.10"), linear("XMRUSDT", "XMR", "0.01", "0.01")]
    if category == "inverse":
        inverse = json.loads((FIXTURES / "bybit_instruments_inverse.json").read_text())
        return list(inverse["result"]["list"])
    return []  # no spot pairs or options listed


def rejected_order() -> dict[str, Any]:
    """ccxt's quoted /v5/order/realtime entry (a BTCUSDT market sell, Filled) as Bybit lists one
    it rejected: orderStatus Rejected, nothing executed (cumExecQty, cumExecValue, cumExecFee 0,
    no avgPrice, its cumFeeDetail empty), a rejectReason of Bybit's enum (docs v5/enum
    rejectReason: EC_Others) for the example's EC_NoError, an orderId of its own and the
    orderLinkId its placer gave it (an order placed without one, nobody's here, books nothing)."""
    order = flows.raw("bybit", "order_v5")
    order |= {
        "orderId": "f5f2d355-9a11-4af3-9b83-rejected0001",
        "orderLinkId": "rejected-while-away",
        "orderStatus": "Rejected",
        "rejectReason": "EC_Others",
        "cumExecQty": "0",
        "cumExecValue": "0",
        "cumExecFee": "0",
        "cumFeeDetail": {},
        "avgPrice": "",
        "leavesQty": "0",
    }
    return order


class LoopbackBybit(LoopbackVenue):
    """The venue: its records, its switches (:class:`~tests.support.loopback_venue.LoopbackVenue`)."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        super().__init__(now)
        self.orders: dict[str, dict[str, Any]] = {}
        self.executions: list[dict[str, Any]] = []
        self.limit_next: str | None = None
        """The next request for this path is refused with retCode 10006."""
        self.subscribed: list[str] = []

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v5/private", self._ws)
        app.router.add_get("/{path:.*}", self._rest)

    async def drop(self) -> None:
        await super().drop()
        self.subscribed = []

    # ------------------------------------------------------------------ the venue's records

    async def record(self, topic: str, entry: dict[str, Any]) -> None:
        """An order's state (``order``), an execution (``execution``: a trade or a funding)."""
        if topic == "order":
            self.orders[entry["orderId"]] = entry
        else:
            self.executions.append(entry)
        if topic == "order" or entry.get("execType") == "Trade":
            frame = {
                "id": f"{topic}-{len(self.executions)}",
                "topic": topic,
                "creationTime": 0,
                "data": [entry],
            }
            await self.push(frame)
        await self.notify()

    # ------------------------------------------------------------------ REST

    def _clock_ms(self) -> int:
        return int(self.now().timestamp() * 1000)

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["path"]
        query = await self.heard(request, path)
        now = self._clock_ms()
        headers = {"X-Bapi-Limit": "10", "X-Bapi-Limit-Status": "9", "X-Bapi-Limit-Reset-Timestamp": str(now)}
        if path == self.limit_next:
            self.limit_next = None
            headers |= {"X-Bapi-Limit-Status": "0", "X-Bapi-Limit-Reset-Timestamp": str(now + 1000)}
            body = {
                "retCode": 10006,
                "retMsg": "Too many visits!",
                "result": {},
                "retExtInfo": {},
                "time": now,
            }
            return web.json_response(body, headers=headers)
        result = self._result(path, query)
        body = {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": now}
        return web.json_response(body, headers=headers)

    def _result(self, path: str, query: dict[str, str]) -> Any:
        category = query.get("category", "")
        if path == "/v5/market/instruments-info":
            return {"category": category, "list": instruments(category), "nextPageCursor": ""}
        if path == "/v5/user/query-api":
            return QUERY_API
        if path == "/v5/account/info":
            return ACCOUNT_INFO
        if path == "/v5/asset/coin/query-info":
            return {"rows": []}
        if path == "/v5/order/realtime":
            found = [o for o in self.orders.values() if o["orderStatus"] in ("New", "PartiallyFilled")]
            return {"category": category, "list": found, "nextPageCursor": ""}
        if path == "/v5/order/history":
            wanted = query.get("orderStatus")
            found = [
                o
                for o in self.orders.values()
                if o["orderStatus"] not in ("New", "PartiallyFilled") and wanted in (None, o["orderStatus"])
            ]
            return {"category": category, "list": found, "nextPageCursor": ""}
        if path == "/v5/execution/list":
            start = int(query.get("startTime") or 0)
            found = [
                e
                for e in self.executions
                if e["execType"] == query.get("execType", e["execType"]) and int(e["execTime"]) >= start
            ]
            found.sort(key=lambda e: int(e["execTime"]), reverse=True)  # newest first, as Bybit lists
            return {"category": category, "list": found, "nextPageCursor": ""}
        return {"category": category, "list": [], "nextPageCursor": ""}

    # ------------------------------------------------------------------ the private stream

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        socket = await self.held(request)
        try:
            async for message in socket:
                if message.type != WSMsgType.TEXT:
                    continue
                asked = json.loads(message.data)
                op = asked.get("op")
                reply: dict[str, Any] = {"success": True, "ret_msg": "", "op": op, "conn_id": "loopback"}
                if op == "ping":
                    reply["ret_msg"] = "pong"
                if "req_id" in asked:
                    reply["req_id"] = asked["req_id"]
                await socket.send_str(json.dumps(reply))
                if op == "subscribe":
                    self.subscribed.extend(asked.get("args") or [])
                await self.notify()
        finally:
            await self.released(socket)
        return socket
