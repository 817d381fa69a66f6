"""The Lighter source against the loopback Lighter (tests/support/lighter_server.py): the real
WebSocket client (``websockets``) and HTTP client (``aiohttp``) of
``infrastructure/collect/lighter.py``, the venue's protocol as its published examples show it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import pytest

from orderledger.infrastructure.collect.source import (
    ConnectionLost,
    CredentialsRejected,
    UnknownSymbol,
    Unreachable,
)
from orderledger.infrastructure.collect.venues.lighter import (
    LighterSource,
    lighter_endpoint,
    markets_named,
)
from tests.support.clock import ManualClock, until
from tests.support.lighter_server import (
    ACCOUNT,
    TOKEN,
    LighterServer,
    LighterVenue,
    Plan,
    scenario,
)

T = TypeVar("T")
AT_ONCE = Plan(after_backfill=False)  # the venue streams without waiting for a backfill


def run(test: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(test())  # type: ignore[arg-type]


async def _take(frames: AsyncIterator[bytes], count: int) -> list[dict[str, Any]]:
    out = []
    async for frame in frames:
        out.append(json.loads(frame))
        if len(out) == count:
            break
    return out


def test_endpoints_by_url() -> None:
    # a REST base streams from /stream on the same host; a stream URL's REST base is its host
    assert lighter_endpoint("https://mainnet.zklighter.elliot.ai") == (
        "wss://mainnet.zklighter.elliot.ai/stream",
        "https://mainnet.zklighter.elliot.ai",
    )
    assert lighter_endpoint("http://127.0.0.1:9/") == ("ws://127.0.0.1:9/stream", "http://127.0.0.1:9")
    assert lighter_endpoint("wss://example.test/stream") == (
        "wss://example.test/stream",
        "https://example.test",
    )
    with pytest.raises(Unreachable, match="an http"):
        lighter_endpoint("main-net")
    with pytest.raises(UnknownSymbol, match="the account index"):
        LighterSource(account="alice", auth=TOKEN, endpoint="http://127.0.0.1:9")


def test_the_greeting_the_subscriptions_and_the_frames_in_order() -> None:
    # Given an account with one order opened, traded and canceled (3 events)
    async def scenario_run() -> tuple[list[dict[str, Any]], list[str]]:
        async with LighterServer(LighterVenue(scenario(1)), plans=[AT_ONCE]) as server:
            source = LighterSource(account=ACCOUNT, auth=TOKEN, endpoint=server.url)
            await source.connect()
            try:
                # When the frames are read: the map, the greeting, both subscriptions, 3 updates
                return await _take(source.frames(), 1 + 1 + 2 + 3), server.requests
            finally:
                await source.close()

    frames, requests = run(scenario_run)
    # Then the market map comes first (the format learns symbols from it), then the greeting,
    # the two subscription replies and the three updates as the venue sent them
    assert [f.get("type") for f in frames] == [
        None,
        "connected",
        "subscribed/account_all_orders",
        "subscribed/account_all_trades",
        "update/account_all_orders",
        "update/account_all_trades",
        "update/account_all_orders",
    ]
    assert frames[0]["order_book_details"][0]["symbol"] == "ETH"
    assert requests == ["/api/v1/orderBookDetails"]


def test_a_refused_token_is_one_line_and_never_shows_the_token() -> None:
    async def attempt() -> None:
        async with LighterServer(LighterVenue(scenario(1))) as server:
            source = LighterSource(account=ACCOUNT, auth="1767139200:1077:255:forged", endpoint=server.url)
            try:
                await source.connect()
            finally:
                await source.close()

    with pytest.raises(CredentialsRejected) as refused:
        run(attempt)
    text = str(refused.value)
    assert text == "lighter refused the account channels (code 20013: invalid auth)"
    assert "forged" not in text and "\n" not in text


def test_rest_refusals_rate_limits_and_unknown_accounts() -> None:
    async def attempt() -> tuple[BaseException, BaseException, BaseException]:
        async with LighterServer(LighterVenue(scenario(1))) as server:
            faults: list[BaseException] = []
            for source in (
                LighterSource(account=ACCOUNT, auth="wrong", endpoint=server.url),
                LighterSource(account="99", auth=TOKEN, endpoint=server.url),
            ):
                try:
                    await source.open_orders()
                except Exception as error:
                    faults.append(error)
                finally:
                    await source.close()
            server.throttle.append("7")
            source = LighterSource(account=ACCOUNT, auth=TOKEN, endpoint=server.url)
            try:
                await source.connect()
            except Exception as error:
                faults.append(error)
            finally:
                await source.close()
            return faults[0], faults[1], faults[2]

    refused, unknown, throttled = run(attempt)
    assert isinstance(refused, CredentialsRejected)
    assert str(refused) == "lighter refused the auth token (HTTP 401 on accountActiveOrders)"
    # an account the venue does not know: its code is not a rate limit, so the token is refused
    assert isinstance(unknown, CredentialsRejected) and "code 21100" in str(unknown)
    # 429: passing, and the venue's Retry-After (7 s) travels with it for the backoff
    assert isinstance(throttled, ConnectionLost) and throttled.retry_after == 7.0


def test_a_dropped_link_and_a_refused_connection_are_passing() -> None:
    async def attempt() -> tuple[BaseException, BaseException]:
        server = LighterServer(LighterVenue(scenario(2)), plans=[Plan(send=1, after_backfill=False)])
        await server.start()
        source = LighterSource(account=ACCOUNT, auth=TOKEN, endpoint=server.url)
        await source.connect()
        with pytest.raises(ConnectionLost) as dropped:
            async for _ in source.frames():
                pass
        await source.close()
        await server.stop()  # nothing listens now
        with pytest.raises(ConnectionLost) as refused:
            await source.connect()
        await source.close()
        return dropped.value, refused.value

    dropped, refused = run(attempt)
    assert str(dropped).startswith("lighter stream closed")
    assert "not reached" in str(refused)


@pytest.mark.parametrize("mute", ["greeting", "subscriptions"])
def test_a_server_silent_at_the_opening_is_a_lost_connection_at_the_timeout(mute: str) -> None:
    # Given a server that accepts the WebSocket and then says nothing (no greeting, or no reply
    # to the subscriptions) and a source whose timeout is 2 s,
    async def attempt() -> tuple[BaseException, int]:
        plans = [Plan(mute=mute), AT_ONCE]
        async with LighterServer(LighterVenue(scenario(1)), plans=plans) as server:
            source = LighterSource(account=ACCOUNT, auth=TOKEN, endpoint=server.url, timeout=2)
            with pytest.raises(ConnectionLost) as lost:
                await asyncio.wait_for(source.connect(), 30)  # (30 s: a hang fails, not waits)
            await source.close()
            # (the next connection, answered, opens: nothing of the silent one is left behind)
            source = LighterSource(account=ACCOUNT, auth=TOKEN, endpoint=server.url)
            await source.connect()
            frames = await _take(source.frames(), 1 + 1 + 2)
            await source.close()
            return lost.value, len(frames)

    # when it connects, the connection counts as lost (one line, dialled again), not hung.
    lost, frames = run(attempt)
    what = "greet" if mute == "greeting" else "acknowledge the account channels"
    assert str(lost) == f"lighter stream did not {what} within 2 s"
    assert frames == 4


def test_a_market_listed_after_connect_reloads_the_map_before_its_frame() -> None:
    # Given orders on market 0, then from the second order on market 1, listed only then
    async def scenario_run() -> tuple[list[dict[str, Any]], list[str]]:
        venue = LighterVenue(scenario(2, late_market_from=1))
        venue.publish()  # the first order is open before the collector connects: map = market 0
        async with LighterServer(venue, plans=[AT_ONCE]) as server:
            source = LighterSource(account=ACCOUNT, auth=TOKEN, endpoint=server.url)
            await source.connect()
            try:
                # map, connected, 2 subscribed, 5 updates (events 2..6), plus one reloaded map
                return await _take(source.frames(), 1 + 1 + 2 + 5 + 1), server.requests
            finally:
                await source.close()

    frames, requests = run(scenario_run)
    maps = [i for i, f in enumerate(frames) if "order_book_details" in f]
    first_market_1 = next(i for i, f in enumerate(frames) if "1" in markets_named(f))
    # Then the map was loaded twice, the second time just before the first frame of market 1
    assert requests == ["/api/v1/orderBookDetails", "/api/v1/orderBookDetails"]
    assert maps == [0, first_market_1 - 1]
    assert [b["symbol"] for b in frames[maps[1]]["order_book_details"]] == ["ETH", "BTC"]


def test_open_orders_are_reconciliation_rows_read_as_the_format_reads_orders() -> None:
    # Given 3 orders: the third stays open with 10.2304 of 36.0386 filled (scenario: every third)
    async def scenario_run() -> list[dict[str, Any]]:
        venue = LighterVenue(scenario(3))
        while not venue.done:
            venue.publish()
        async with LighterServer(venue) as server:
            source = LighterSource(account=ACCOUNT, auth=TOKEN, endpoint=server.url)
            try:
                await source.connect()
                return await source.open_orders()
            finally:
                await source.close()

    rows = run(scenario_run)
    # Then one row: the third order (index 281474977354074 + 2), a sell (even orders sell)
    assert rows == [
        {
            "venue_order_id": "281474977354076",
            "instrument": "ETH/USDC:USDC",
            "side": "sell",
            "order_type": "limit",
            "quantity": "36.0386",
            "price": "2221.6",
            "filled_quantity": "10.2304",
            "status": "open",
            # the published created_at 1766387932 s (2025-12-22T07:18:52Z), + 3 s per order: + 6 s
            "created_at": "2025-12-22T07:18:58.000000Z",
        }
    ]


def test_backfill_reads_every_page_and_yields_them_oldest_first() -> None:
    # Given 250 trades over time (one per order), more than two pages of 100
    async def scenario_run() -> tuple[list[dict[str, Any]], list[str]]:
        venue = LighterVenue(scenario(250))
        while not venue.done:
            venue.publish()
        async with LighterServer(venue) as server:
            source = LighterSource(account=ACCOUNT, auth=TOKEN, endpoint=server.url)
            try:
                await source.connect()
                return [json.loads(p) async for p in source.backfill(None)], server.requests
            finally:
                await source.close()

    pages, requests = run(scenario_run)
    trades = [t for p in pages for t in p.get("trades", [])]
    # Then every trade arrives (250), and the trades' pages come oldest page first
    assert len({t["trade_id"] for t in trades}) == 250
    assert trades[0]["timestamp"] < trades[-1]["timestamp"]
    # 250 trades at 100 a page = 3 pages; orders 2, 5, …, 248 stay open ((248 - 2) / 3 + 1 = 83),
    # so 250 - 83 = 167 are closed: 2 pages of inactive orders
    assert requests.count("/api/v1/trades") == 3
    assert requests.count("/api/v1/accountInactiveOrders") == 2


def test_a_429_holds_every_request_of_the_source_until_its_retry_after() -> None:
    # Given a connected source on a manual clock, whose reconciliation read is answered 429 with
    # Retry-After: 7 (the loopback Lighter's throttle),
    async def scenario_run() -> tuple[str, list[str], list[list[str]], float]:
        venue = LighterVenue(scenario(3))
        while not venue.done:
            venue.publish()
        clock = ManualClock()
        async with LighterServer(venue) as server:
            source = LighterSource(account=ACCOUNT, auth=TOKEN, endpoint=server.url, timing=clock.timing())
            try:
                await source.connect()
                server.throttle.append("7")
                with pytest.raises(ConnectionLost) as lost:
                    await source.open_orders()
                message, before = f"{lost.value} ({lost.value.retry_after:g} s)", list(server.requests)
                # when the next reconciliation, a backfill and a reconnect ask at once,
                await source.close()
                tasks = [
                    asyncio.create_task(source.open_orders()),
                    asyncio.create_task(_take(source.backfill(None), 2)),  # the map, then a page
                    asyncio.create_task(source.connect()),
                ]
                await until(lambda: any(t.done() for t in tasks) or clock.slept.count(7.0) == 3)
                held = list(server.requests)
                # (6.9 s on, the gate is still closed; at 7 s it opens)
                await clock.advance(6.9)
                still = list(server.requests)
                await clock.advance(0.1)
                await asyncio.gather(*tasks)
                return message, before, [held, still, list(server.requests)], clock.seconds
            finally:
                await source.close()

    message, before, (held, still, after), seconds = run(scenario_run)
    # then the 429 is a lost connection that asks for 7 s,
    assert message == "lighter answered HTTP 429 on accountActiveOrders (7 s)"
    assert before == ["/api/v1/orderBookDetails", "/api/v1/accountActiveOrders"]
    # and none of the three sends anything until the 7 s have passed on the clock: each waited
    # 7 s at the gate (7.0 three times in the clock's sleeps), the venue heard nothing more
    assert held == still == before
    # then each is sent: the reconciliation's read, the market map (the backfill's first page
    # and the reconnect's), the inactive orders page
    assert sorted(after[2:]) == sorted(
        [
            "/api/v1/accountActiveOrders",
            "/api/v1/orderBookDetails",
            "/api/v1/accountInactiveOrders",
        ]
    )
    assert seconds == 7.0
