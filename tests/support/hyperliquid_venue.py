"""A loopback Hyperliquid: the WebSocket (``/ws``) and info (``POST /info``) protocols on 127.0.0.1.

It speaks what docs/venue-facts.md ("Hyperliquid") records of the venue: the plain-text greeting
``Websocket connection established.``, ``{"method": "subscribe", "subscription": {...}}``
answered on ``subscriptionResponse``, ``{"method": "ping"}`` answered ``{"channel": "pong"}``,
``userFills`` and ``userFundings`` opening with an ``isSnapshot: true`` message, ``orderUpdates``
without one, ``webData2`` sent on subscribe and on every change of the user's open orders,
errors on the ``error`` channel, and the info requests ``historicalOrders``,
``userFillsByTime`` / ``userFills``, ``userFunding``, ``frontendOpenOrders`` / ``openOrders``
and ``metaAndAssetCtxs`` (what ccxt's ``load_markets`` asks). An address that is not
``0x`` + 40 hex digits is refused as Hyperliquid refuses a body it cannot read: HTTP 422 with
``Failed to deserialize the JSON body into the target type``.

The venue's history is a list of :class:`Update` (one push frame each) the test publishes; the
same updates make the REST replies, so a frame the stream lost is still in the info replies.
Faults are switched on the venue object: :meth:`LoopbackHyperliquid.drop_connections`,
``skip_pushes`` (a gap only REST fills), ``duplicate`` / ``hold_next`` (duplicated and
reordered frames), ``withhold`` and :meth:`~LoopbackHyperliquid.release` (streams lagging the
REST views), ``throttle`` (429 with Retry-After), ``slow`` (info replies answered late),
``held`` (a server slower than any timeout: info replies wait until the test lets them go),
:meth:`restart`. The hostile ones: :meth:`~LoopbackHyperliquid.push_raw` (any text as a frame:
nested 100,000 deep, 20 MiB long) and :meth:`~LoopbackHyperliquid.flood` (one frame again and
again, as fast as the connection takes it, a number of times or until :meth:`stop_flood`).

The session (:func:`session`) is built from published examples only (tests/support/ccxt_flows.py:
ccxt's quoted Hyperliquid replies, and ccxt's recorded ``fetchOrders`` reply for the canceled
HYPE order).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from orderledger.infrastructure.collect.credentials import Credentials
from orderledger.infrastructure.collect.runner import Collector
from orderledger.infrastructure.collect.source import SourceConfig
from orderledger.infrastructure.collect.timing import Timing
from tests.support import ccxt_flows as flows
from tests.support import loopback_venue
from tests.support.collect import books
from tests.support.collect_books import Rounds, until
from tests.support.loopback import sites_of, stop_accepting

GREETING = "Websocket connection established."
ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
USER = flows.LIQUIDATED_USER
"""The session's user: the liquidated account of the published NEAR liquidation fill."""
FAULTS = ("none", "drop", "gap", "duplicate", "reorder", "restart", "throttle", "slow")
"""What may happen around one update (:meth:`LoopbackHyperliquid.play`): nothing; the connection
dropped after it; its push lost (the info replies still have it); pushed twice; pushed after the
next one; the server restarted after it; the next two info requests answered 429 with
Retry-After; the next two info requests answered late (``slow_by`` seconds, within the
client's timeout)."""
WS_ORDER_FIELDS = ("coin", "side", "limitPx", "sz", "oid", "timestamp", "origSz", "cloid")
"""The fields of a WsOrder (orderUpdates), per the venue's docs; info replies carry more."""


@dataclass(frozen=True)
class Update:
    """One thing that happened at the venue for ``user``: an order's status, fills, a funding."""

    channel: str  # orderUpdates | userFills | userFundings
    user: str
    items: tuple[dict[str, Any], ...]

    def frame(self) -> dict[str, Any]:
        """The push frame for it, as the WebSocket sends it."""
        if self.channel == "orderUpdates":
            data: Any = [
                {
                    "order": {k: v for k, v in item["order"].items() if k in WS_ORDER_FIELDS},
                    "status": item["status"],
                    "statusTimestamp": item["statusTimestamp"],
                }
                for item in self.items
            ]
        elif self.channel == "userFills":
            data = {"isSnapshot": False, "user": self.user, "fills": list(self.items)}
        else:
            data = {"isSnapshot": False, "user": self.user, "fundings": list(self.items)}
        return {"channel": self.channel, "data": data}


# ---------------------------------------------------------------------- the published session

# ccxt hyperliquid.json (ts/src/test/static/response), fetchOrders "ensure orders are dedup":
# the HYPE sell of 1 at 40, open at 1771401340649, canceled at 1771402034835.
HYPE_ORDER: dict[str, Any] = {
    "coin": "HYPE", "side": "A", "limitPx": "40.0", "sz": "1.0", "oid": 323550506865,
    "timestamp": 1771401340649, "triggerCondition": "N/A", "isTrigger": False, "triggerPx": "0.0",
    "children": [], "isPositionTpsl": False, "reduceOnly": False, "orderType": "Limit",
    "origSz": "1.0", "tif": "Gtc", "cloid": None,
}  # fmt: skip


def funding_entry() -> dict[str, Any]:
    """The published userFunding entry (SOL short received 75.635093 USDC) as the userFundings
    channel carries it: ``time`` beside the delta's fields (docs/venue-facts.md, "Hyperliquid")."""
    entry = flows.raw("hyperliquid", "rest_user_funding")
    delta = {k: v for k, v in entry["delta"].items() if k != "type"}
    return {"time": entry["time"], **delta}


def session(user: str = USER) -> list[Update]:
    """The user's session, oldest first (by the venue's times): the published funding
    (2024-12-12), the HYPE order opened and canceled, the NEAR long opened (order, fill, filled)
    and then liquidated (the published fill).

    Worked out: the long buys 64.8 NEAR at 4.95 and the liquidation sells 64.8 at 4.6879, so the
    NEAR position ends flat, two trades; the HYPE order books no trade; one funding cash flow."""
    order, fill = flows.hyperliquid_opening()
    near = order["order"] | {"sz": "64.8"}
    opened = {"order": near, "status": "open", "statusTimestamp": near["timestamp"]}
    filled = {"order": near | {"sz": "0.0"}, "status": "filled", "statusTimestamp": fill["time"]}
    hype_open = {"order": HYPE_ORDER, "status": "open", "statusTimestamp": HYPE_ORDER["timestamp"]}
    hype_gone = {"order": HYPE_ORDER, "status": "canceled", "statusTimestamp": 1771402034835}
    return [
        Update("userFundings", user, (funding_entry(),)),
        Update("orderUpdates", user, (hype_open,)),
        Update("orderUpdates", user, (hype_gone,)),
        Update("orderUpdates", user, (opened,)),
        Update("userFills", user, (fill,)),
        Update("orderUpdates", user, (filled,)),
        Update("userFills", user, (flows.hyperliquid_liquidation_fill(),)),
    ]


# ccxt hyperliquid.py, fetch_swap_markets: a metaAndAssetCtxs reply holds [meta, assetCtxs]. The
# universe entry is the NEAR market ccxt's own tests declare (HYPERLIQUID_NEAR: szDecimals 1);
# HYPE and SOL as Hyperliquid's docs list them (info-endpoint/perpetuals, "universe" example).
META = [
    {"universe": [
        {"name": "NEAR", "szDecimals": 1, "maxLeverage": 10},
        {"name": "HYPE", "szDecimals": 2, "maxLeverage": 10},
        {"name": "SOL", "szDecimals": 2, "maxLeverage": 20},
    ]},
    [
        {"funding": "0.0000125", "openInterest": "1", "prevDayPx": "4.6", "dayNtlVlm": "1",
         "premium": "0", "oraclePx": "4.69", "markPx": "4.69", "midPx": "4.69",
         "impactPxs": ["4.68", "4.70"], "dayBaseVlm": "1"},
        {"funding": "0.0000125", "openInterest": "1", "prevDayPx": "40", "dayNtlVlm": "1",
         "premium": "0", "oraclePx": "40", "markPx": "40", "midPx": "40",
         "impactPxs": ["39.9", "40.1"], "dayBaseVlm": "1"},
        {"funding": "0.0000125", "openInterest": "1", "prevDayPx": "130", "dayNtlVlm": "1",
         "premium": "0", "oraclePx": "130", "markPx": "130", "midPx": "130",
         "impactPxs": ["129.9", "130.1"], "dayBaseVlm": "1"},
    ],
]  # fmt: skip


# ---------------------------------------------------------------------- the server


@dataclass
class _Connection:
    socket: web.WebSocketResponse
    subscriptions: list[dict[str, Any]] = field(default_factory=list)

    def wants(self, channel: str, user: str) -> bool:
        return any(
            s.get("type") == channel and str(s.get("user")).lower() == user for s in self.subscriptions
        )


class LoopbackHyperliquid:
    """The venue: its state, the fault switches, and the aiohttp server serving it."""

    def __init__(self, *, fills_page: int = 2) -> None:
        self.history: list[Update] = []
        self.fills_page = fills_page
        """How many fills one userFillsByTime reply holds at most (the venue's is 2000): small, so
        a backfill pages."""
        self.connections: list[_Connection] = []
        self.dials = 0
        self.pings = 0
        self.pings_answered = True
        """False: pings are received and never answered (a venue gone silent)."""
        self.info_requests: list[dict[str, Any]] = []
        self.skip_pushes = 0
        """The next N updates are recorded (REST has them) but never pushed: a gap."""
        self.duplicate = False
        """Every push is sent twice."""
        self.hold_next = False
        """The next push is held back and sent after the one that follows it (reordered)."""
        self._held: list[dict[str, Any]] = []
        self.withhold = False
        """While True, every push is held back (the info replies have it at once) until
        :meth:`release`: the venue's streams lagging its REST views."""
        self.throttle = 0
        """The next N info requests are answered 429 with Retry-After."""
        self.retry_after = "1"
        self.slow = 0
        """The next N info requests are answered ``slow_by`` seconds late (a slow server)."""
        self.slow_by = 0.05
        self.held: asyncio.Event | None = None
        """When set, info replies wait for this event (a server slower than any timeout)."""
        self.flooded = 0
        """Frames the flood has sent."""
        self._flooding: asyncio.Task[None] | None = None
        self.changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._stopping = False
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/ws", self._ws)
        app.router.add_post("/info", self._info)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        if not self.port:
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        await self.stop_flood()
        await self._stop()

    async def _stop(self) -> None:
        """Stop accepting (:func:`~tests.support.loopback.stop_accepting`), drop every connection
        (one whose handshake ends meanwhile is closed by its handler), then close the server."""
        if self._runner is None:
            await self.drop_connections()
            return
        self._stopping = True
        try:
            await stop_accepting(sites_of(self._runner))
            await self.drop_connections()
            await self._runner.cleanup()
            self._runner = None
        finally:
            self._stopping = False

    async def restart(self) -> None:
        """The server goes away and comes back on the same port; the venue's history stays."""
        await self.stop()
        await self.start()

    async def __aenter__(self) -> LoopbackHyperliquid:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def drop_connections(self) -> None:
        """Close every WebSocket connection (the venue drops the clients)."""
        for connection in list(self.connections):  # a client may dial again meanwhile: kept
            await connection.socket.close()
            if connection in self.connections:
                self.connections.remove(connection)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        """Wait until ``predicate()`` holds (checked whenever the venue's state changes)."""
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(predicate), timeout)

    async def connected(self, channels: tuple[str, ...], user: str = USER) -> None:
        """Until one connection has ``channels`` subscribed for ``user`` (a fresh connect)."""
        await self.wait_for(lambda: all(self.subscribed(channel, user) == 1 for channel in channels))

    async def play(self, updates: list[Update], schedule: list[str], channels: tuple[str, ...]) -> None:
        """Publish ``updates`` with the fault ``schedule[i]`` (one of :data:`FAULTS`) around update
        ``i``, waiting for the collector to be back (``channels`` subscribed) after each drop or
        restart; then drop the connection once more and wait for it to be back, so the last
        reconnect's backfill brings whatever the stream lost."""
        for update, fault in zip(updates, schedule, strict=True):
            self.skip_pushes = int(fault == "gap")
            self.duplicate = fault == "duplicate"
            self.hold_next = fault == "reorder"
            self.throttle += 2 * int(fault == "throttle")
            self.slow += 2 * int(fault == "slow")
            await self.publish(update)
            self.duplicate = False
            if fault in ("drop", "restart"):
                await (self.drop_connections() if fault == "drop" else self.restart())
                await self.connected(channels)
        await self.drop_connections()
        await self.connected(channels)

    def asked(self, kind: str) -> int:
        """How many info requests of ``kind`` the venue has received."""
        return sum(request.get("type") == kind for request in self.info_requests)

    def subscribed(self, channel: str, user: str = USER) -> int:
        """How many live connections have ``channel`` subscribed for ``user``."""
        return sum(c.wants(channel, user.lower()) for c in self.connections)

    async def _changed(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    # ------------------------------------------------------------------ publishing

    async def publish(self, update: Update) -> None:
        """Record ``update`` at the venue and push it to the connections subscribed to it."""
        self.history.append(update)
        if self.skip_pushes:
            self.skip_pushes -= 1
        else:
            frame = update.frame()
            if self.hold_next or self.withhold:
                self.hold_next = False
                self._held.append(frame)
            else:
                await self._push(update.channel, update.user, frame)
                await self.release(update.user)
        if update.channel == "orderUpdates":
            await self._push_web_data(update.user)
        await self._changed()

    async def release(self, user: str = USER) -> None:
        """Send the pushes held back, in the order they were held."""
        self.withhold = False
        held, self._held = self._held, []
        for frame in held:
            await self._push(frame["channel"], _user_of(frame, user), frame)

    async def push_raw(self, text: str) -> None:
        """Send ``text`` as one frame on every connection (a hostile venue's frame)."""
        for connection in list(self.connections):
            await _send(connection, text)

    def flood(self, frame: dict[str, Any], count: int | None = None) -> None:
        """Send ``frame`` on every connection ``count`` times (None: until :meth:`stop_flood`),
        each send waiting only for the connection to take it (the server's own back-pressure)."""

        async def send() -> None:
            text = json.dumps(frame)
            while count is None or self.flooded < count:
                if not self.connections:
                    await asyncio.sleep(0.001)  # the server's pace while nobody is connected
                    continue
                await self.push_raw(text)
                self.flooded += 1

        self._flooding = asyncio.create_task(send())

    async def stop_flood(self) -> None:
        if self._flooding is not None:
            self._flooding.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flooding
            self._flooding = None

    async def _push(self, channel: str, user: str, frame: dict[str, Any]) -> None:
        text = json.dumps(frame)
        for connection in list(self.connections):
            if connection.wants(channel, user.lower()):
                for _ in range(2 if self.duplicate else 1):
                    await _send(connection, text)

    async def _push_web_data(self, user: str) -> None:
        frame = self.web_data(user)
        for connection in list(self.connections):
            if connection.wants("webData2", user.lower()):
                await _send(connection, json.dumps(frame))

    # ------------------------------------------------------------------ the venue's views

    def orders(self, user: str) -> dict[str, dict[str, Any]]:
        """Each order's latest ``{order, status, statusTimestamp}``, by oid."""
        latest: dict[str, dict[str, Any]] = {}
        for update in self._of(user, "orderUpdates"):
            for item in update.items:
                latest[str(item["order"]["oid"])] = item
        return latest

    def fills(self, user: str) -> list[dict[str, Any]]:
        return [fill for update in self._of(user, "userFills") for fill in update.items]

    def fundings(self, user: str) -> list[dict[str, Any]]:
        return [entry for update in self._of(user, "userFundings") for entry in update.items]

    def open_orders(self, user: str) -> list[dict[str, Any]]:
        """frontendOpenOrders: the orders whose latest status is open, newest first."""
        found = [item["order"] for item in self.orders(user).values() if item["status"] == "open"]
        return sorted(found, key=lambda o: int(o["timestamp"]), reverse=True)

    def web_data(self, user: str) -> dict[str, Any]:
        """webData2 for ``user``: the open orders (the fields the adapter reads among the many the
        venue sends) and ``serverTime``, the venue's clock: the time of its latest update."""
        data: dict[str, Any] = {"user": user, "openOrders": self.open_orders(user)}
        if self.history:
            data["serverTime"] = max(_time_of(update) for update in self.history)
        return {"channel": "webData2", "data": data}

    def _of(self, user: str, channel: str) -> list[Update]:
        return [u for u in self.history if u.channel == channel and u.user.lower() == user.lower()]

    # ------------------------------------------------------------------ WebSocket

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        if self._stopping:
            # accepted just before the server stopped accepting: its link is cut (the server is
            # shutting down and reads no close reply any more)
            if request.transport is not None:
                request.transport.close()
            return socket
        connection = _Connection(socket)
        self.connections.append(connection)
        self.dials += 1
        await socket.send_str(GREETING)
        await self._changed()
        try:
            async for msg in socket:
                if msg.type != WSMsgType.TEXT:
                    continue
                await self._ws_request(connection, msg.data)
        finally:
            if connection in self.connections:
                self.connections.remove(connection)
            await self._changed()
        return socket

    async def _ws_request(self, connection: _Connection, text: str) -> None:
        try:
            request = json.loads(text)
            method = request["method"]
        except (ValueError, KeyError, TypeError):
            await _send(connection, json.dumps({"channel": "error", "data": f"Error parsing JSON: {text}"}))
            return
        if method == "ping":
            self.pings += 1
            if self.pings_answered:
                await _send(connection, json.dumps({"channel": "pong"}))
            await self._changed()
            return
        subscription = request.get("subscription") or {}
        user = str(subscription.get("user", ""))
        if method != "subscribe" or not ADDRESS.fullmatch(user):
            error = f"Error parsing JSON into valid websocket request: {text}"
            await _send(connection, json.dumps({"channel": "error", "data": error}))
            return
        if subscription in connection.subscriptions:
            await _send(connection, json.dumps({"channel": "error", "data": f"Already subscribed: {text}"}))
            return
        connection.subscriptions.append(subscription)
        ack = {
            "channel": "subscriptionResponse",
            "data": {"method": "subscribe", "subscription": subscription},
        }
        await _send(connection, json.dumps(ack))
        kind = subscription.get("type")
        if kind == "userFills":
            snapshot = {"isSnapshot": True, "user": user, "fills": self.fills(user)}
            await _send(connection, json.dumps({"channel": "userFills", "data": snapshot}))
        elif kind == "userFundings":
            snapshot = {"isSnapshot": True, "user": user, "fundings": self.fundings(user)}
            await _send(connection, json.dumps({"channel": "userFundings", "data": snapshot}))
        elif kind == "webData2":
            await _send(connection, json.dumps(self.web_data(user)))
        await self._changed()

    # ------------------------------------------------------------------ info

    async def _info(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.info_requests.append(body)
        await self._changed()
        if self.held is not None:
            await self.held.wait()
        if self.slow:
            self.slow -= 1
            await asyncio.sleep(self.slow_by)  # the server's own pace, not a wait of the test
        if self.throttle:
            self.throttle -= 1
            return web.Response(status=429, text="null", headers={"Retry-After": self.retry_after})
        kind = body.get("type")
        if kind in ("meta", "metaAndAssetCtxs"):
            return web.json_response(copy.deepcopy(META if kind == "metaAndAssetCtxs" else META[0]))
        if kind in ("spotMeta", "spotMetaAndAssetCtxs"):  # no spot pairs listed
            spot: dict[str, list[Any]] = {"tokens": [], "universe": []}
            return web.json_response(spot if kind == "spotMeta" else [spot, []])
        if kind == "perpDexs":  # the main dex only (its entry is null)
            return web.json_response([None])
        user = str(body.get("user", ""))
        if not ADDRESS.fullmatch(user):
            return web.Response(status=422, text="Failed to deserialize the JSON body into the target type")
        return web.json_response(self._reply(kind, user, body))

    def _reply(self, kind: str, user: str, body: dict[str, Any]) -> Any:
        start, end = int(body.get("startTime") or 0), body.get("endTime")

        def within(time: Any) -> bool:
            return start <= int(time) and (end is None or int(time) <= int(end))

        if kind == "historicalOrders":
            return sorted(self.orders(user).values(), key=lambda o: int(o["statusTimestamp"]), reverse=True)
        if kind in ("frontendOpenOrders", "openOrders"):
            return self.open_orders(user)
        if kind == "userFills":
            return sorted(self.fills(user), key=lambda f: int(f["time"]), reverse=True)
        if kind == "userFillsByTime":
            found = sorted((f for f in self.fills(user) if within(f["time"])), key=lambda f: int(f["time"]))
            return found[: self.fills_page]
        if kind == "userFunding":
            found = [e for e in self.fundings(user) if within(e["time"])]
            return [
                {
                    "time": e["time"],
                    "hash": "0x" + "0" * 64,
                    "delta": {"type": "funding", **{k: v for k, v in e.items() if k != "time"}},
                }
                for e in sorted(found, key=lambda e: int(e["time"]))
            ]
        return []


def _time_of(update: Update) -> int:
    return max(int(item.get("statusTimestamp") or item.get("time") or 0) for item in update.items)


def _user_of(frame: dict[str, Any], default: str) -> str:
    data = frame.get("data")
    return str(data.get("user", default)) if isinstance(data, dict) else default


async def _send(connection: _Connection, text: str) -> None:
    if not connection.socket.closed:
        try:
            await connection.socket.send_str(text)
        except ConnectionError:
            pass


async def lagging_fills(
    venue: LoopbackHyperliquid,
    collector: Collector,
    rounds: Rounds,
    updates: list[Update],
    channels: tuple[str, ...],
) -> int:
    """Play ``updates`` with the streams lagging the venue's views across a reconciliation: the
    updates before the first fill are pushed and booked (the NEAR order open in the ledger);
    that fill and the order's filled status are recorded at the venue (its open orders no
    longer list the order) with their pushes held back; the collector reconciles (``rounds``);
    the held pushes are released, the rest of the updates pushed, and the connection dropped
    once more. Answers how many times the open orders were read during the reconciliation."""
    first_fill = next(i for i, u in enumerate(updates) if u.channel == "userFills")
    before, lagging, after = (
        updates[:first_fill],
        updates[first_fill : first_fill + 2],
        updates[first_fill + 2 :],
    )
    near = str(lagging[0].items[0]["oid"])
    await collector.streaming()
    for update in before:
        await venue.publish(update)
    ledger = collector.ledger.ledger
    await until(collector, lambda: any(near in o[4] and o[1] == "accepted" for o in books(ledger)["orders"]))
    venue.withhold = True
    for update in lagging:
        await venue.publish(update)
    asked = venue.asked("frontendOpenOrders")
    await rounds.run()
    read = venue.asked("frontendOpenOrders") - asked
    await venue.release()
    await venue.play(after, ["none"] * len(after), channels)
    return read


def source_config(
    venue: LoopbackHyperliquid, timing: Timing, *, account: str | None = USER, **options: str
) -> SourceConfig:
    """A collector's configuration pointed at the loopback venue (``--endpoint`` its URL)."""
    name = options.pop("name", "hyperliquid")
    return SourceConfig(
        venue=options.get("venue") or name,
        account=account,
        endpoint=venue.base,
        options=options,
        credentials=Credentials(),
        timing=timing,
    )


class VenueThread(loopback_venue.VenueThread):
    """The loopback Hyperliquid on an event loop of its own thread (``loopback_venue.VenueThread``)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(LoopbackHyperliquid(**options))

    async def start(self) -> None:
        await self.venue.start()

    async def stop(self) -> None:
        await self.venue.stop()


async def _serve(port: int) -> None:
    venue = LoopbackHyperliquid()
    venue.port = port
    await venue.start()
    for update in session():
        await venue.publish(update)
    sys.stdout.write(f"{venue.base} user {USER}\n")
    sys.stdout.flush()
    await asyncio.Event().wait()


__all__ = [
    "FAULTS",
    "GREETING",
    "USER",
    "LoopbackHyperliquid",
    "Update",
    "VenueThread",
    "funding_entry",
    "lagging_fills",
    "session",
    "source_config",
]


if __name__ == "__main__":  # docs/collect.md: python -m tests.support.hyperliquid_venue [PORT]
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
