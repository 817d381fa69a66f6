"""``collect hyperliquid``: the native collector (``websockets`` and ``aiohttp``) against the loopback
Hyperliquid (tests/support/hyperliquid_venue.py), run by the real ``Collector``.

The session is the venue's published examples (the HYPE order opened and canceled, the SOL
funding, the NEAR long opened and liquidated). Under every fault schedule the collector's books
(orders, trades, positions, parked count) equal the books of the clean stream ingested from a
file. SQLite and PostgreSQL; no wall-clock waits (``collect_books.quick``: backoffs and
``Retry-After`` pass at once, conditions are awaited).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderledger.infrastructure.application.aio import AsyncOrderLedger
from orderledger.infrastructure.application.reads.view_queries import list_orders
from orderledger.infrastructure.collect.credentials import Credentials
from orderledger.infrastructure.collect.runner import Collector
from orderledger.infrastructure.collect.source import CredentialsRejected, SourceConfig, Unreachable
from orderledger.infrastructure.collect.venues.hyperliquid import (
    HyperliquidSource,
    HyperliquidWatchSource,
    watch_plan,
)
from orderledger.infrastructure.errors import ConfigurationError
from tests.support.books import orders_of, trades_of
from tests.support.collect_books import ROUND, Books, Rounds, clean_books, quick, until_books
from tests.support.hyperliquid_venue import (
    FAULTS,
    USER,
    LoopbackHyperliquid,
    lagging_fills,
    session,
    source_config,
)

pytestmark = pytest.mark.timeout(120)

VENUE = "hyperliquid"
CHANNELS = ("orderUpdates", "userFills", "userFundings")


def clean() -> Books:
    """The clean stream: every update's push frame, ingested from a file."""
    return clean_books(
        [_bytes(u.frame()) for u in session()], format="hyperliquid", venue=VENUE, account=USER
    )


def _bytes(frame: dict[str, Any]) -> bytes:
    import json

    return json.dumps(frame).encode()


async def collect(
    url: str, schedule: list[str], venue_options: dict[str, Any] | None = None
) -> tuple[Books, Any]:
    """Run the session through a collector with ``schedule[i]`` happening around update ``i``,
    then one last reconnect (whose backfill brings what the stream lost); the books at the end."""
    pace = quick()
    async with LoopbackHyperliquid(**(venue_options or {})) as venue, AsyncOrderLedger(url) as ledger:
        source = HyperliquidSource(source_config(venue, pace.timing()))
        collector = Collector(ledger, source, timing=pace.timing(), reconcile_every=None, status_every=3600)
        task = asyncio.create_task(collector.run())
        await venue.connected(CHANNELS)
        await venue.play(session(), schedule, CHANNELS)
        found = await until_books(collector, ledger, clean())
        collector.stop()
        await task
        return found, (venue, pace, worked(ledger.ledger))


def worked(ledger: Any) -> tuple[Any, ...]:
    """Orders and trades as (ID, status, quantity, filled, side) and (trade, quantity, price, fee,
    fee currency), positions as (instrument, quantity, realized P&L): for figures worked by hand."""
    positions = sorted((p.instrument, p.quantity, p.realized_pnl) for p in ledger.positions())
    return orders_of(ledger), trades_of(ledger), positions


def test_the_clean_stream_books_the_published_session(stored_url: str) -> None:
    # Given the collector following the user, when the session happens with no fault,
    found, (venue, _, (orders, trades, positions)) = asyncio.run(
        collect(stored_url, ["none"] * len(session()))
    )
    # then the HYPE sell of 1 is canceled, the NEAR buy of 64.8 filled, and the liquidation (an
    # external sell sized by its fill, 64.8) filled;
    assert orders == [
        ("ext-hyperliquid-323550506865", "canceled", Decimal("1"), Decimal("0"), "sell"),
        ("ext-hyperliquid-719874960000", "filled", Decimal("64.8"), Decimal("64.8"), "buy"),
        ("ext-hyperliquid-719874965978", "filled", Decimal("64.8"), Decimal("64.8"), "sell"),
    ]
    # two trades: bought at 4.95 (fee 0.128304 USDC), sold at 4.6879 (fee 0.131231 USDC);
    assert trades == [
        ("5787071443000000", Decimal("64.8"), Decimal("4.95"), Decimal("0.128304"), "USDC"),
        ("5787071443114480", Decimal("64.8"), Decimal("4.6879"), Decimal("0.131231"), "USDC"),
    ]
    # the NEAR position is flat with (4.6879 − 4.95) × 64.8 = −0.2621 × 64.8 = −16.98408 realized
    # (before fees, as positions report it; Hyperliquid's own closedPnl says the same), and the
    # funding's SOL book holds no position (a cash flow is no trade);
    assert positions == [("NEAR", Decimal("0"), Decimal("-16.98408")), ("SOL", Decimal("0"), Decimal("0"))]
    assert found["parked"] == []
    # and these are exactly the books of the same stream ingested from a file.
    assert found == clean()
    # The collector backfilled orders, fills and funding from the info endpoint.
    assert {"historicalOrders", "userFillsByTime", "userFunding"} <= {r["type"] for r in venue.info_requests}


@pytest.mark.parametrize("fault", FAULTS[1:])
def test_each_fault_at_each_point_ends_with_the_clean_books(stored_url: str, fault: str) -> None:
    # Given the fault around the second update (an order still open: later updates build on it)
    # and again around the liquidation fill (the last update),
    schedule = ["none"] * len(session())
    schedule[1] = schedule[-1] = fault
    # when the session runs through the collector, then the books are the clean stream's.
    found, (venue, pace, _) = asyncio.run(collect(stored_url, schedule))
    assert found == clean()
    if fault in ("drop", "restart"):
        assert venue.dials >= 4  # the first connect, two reconnects, the last reconnect
    if fault == "throttle":
        assert 1.0 in pace.slept  # Retry-After: 1 waited out (on the injected clock)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(schedule=st.lists(st.sampled_from(FAULTS), min_size=len(session()), max_size=len(session())))
def test_any_schedule_of_faults_ends_with_the_clean_books(tmp_path_factory: Any, schedule: list[str]) -> None:
    # Given any mix of faults around the updates (SQLite; the named schedules above run on
    # PostgreSQL too), the collector's books end equal to the clean stream's.
    url = f"sqlite:///{tmp_path_factory.mktemp('schedule') / 'ledger.db'}"
    found, _ = asyncio.run(collect(url, schedule))
    assert found == clean()


def test_a_reconciliation_while_the_fills_lag_books_the_order_filled(stored_url: str) -> None:
    # Given the NEAR order open in the ledger, then filled at the venue (frontendOpenOrders no
    # longer lists it) while its fill and its filled status are still on their way on the stream,
    async def scenario() -> tuple[int, Books]:
        pace = quick()
        rounds = Rounds(pace)
        async with LoopbackHyperliquid() as venue, AsyncOrderLedger(stored_url) as ledger:
            source = HyperliquidSource(source_config(venue, pace.timing()))
            collector = Collector(
                ledger, source, timing=rounds.timing(), reconcile_every=ROUND, status_every=3600
            )
            task = asyncio.create_task(collector.run())
            try:
                await venue.connected(CHANNELS)
                read = await lagging_fills(venue, collector, rounds, session(), CHANNELS)
                found = await until_books(collector, ledger, clean())
                # (the next round reconciles too: the first left the collector streaming)
                await collector.streaming()
                asked = venue.asked("frontendOpenOrders")
                await rounds.run()
                assert venue.asked("frontendOpenOrders") > asked and collector.status.state == "streaming"
                return read, found
            finally:
                collector.stop()
                await task

    # when the collector reconciles in between (it read the venue's open orders),
    read, found = asyncio.run(scenario())
    assert read == 1
    # then the books are the clean stream's: the order filled, not canceled by the reconciliation.
    assert found == clean()


def test_a_server_slower_than_the_timeout_counts_as_a_lost_connection(stored_url: str) -> None:
    async def scenario() -> tuple[str | None, str, Books]:
        pace = quick()
        async with LoopbackHyperliquid() as venue, AsyncOrderLedger(stored_url) as ledger:
            # Given a venue whose info replies are held back past the collector's timeout,
            venue.held = asyncio.Event()
            source = HyperliquidSource(source_config(venue, pace.timing(), timeout="2"))
            collector = Collector(
                ledger, source, timing=pace.timing(), reconcile_every=None, status_every=3600
            )
            task = asyncio.create_task(collector.run())
            try:
                for update in session():
                    await venue.publish(update)
                # when the backfill's first request is not answered in time, the connection counts
                # as lost and the collector dials again;
                await venue.wait_for(lambda: venue.dials >= 2)
                error = collector.status.error
                # once the venue answers again, the books are the clean stream's.
                venue.held.set()
                return error, venue.base, await until_books(collector, ledger, clean())
            finally:
                collector.stop()
                await task

    error, base, found = asyncio.run(scenario())
    assert error == f"hyperliquid info at {base}/info did not answer historicalOrders within 2 s"
    assert found == clean()


def test_a_label_account_books_its_backfilled_liquidation(stored_url: str) -> None:
    # Given the collector following USER for the ledger account "main" (a label; `user` names
    # the address), and every fill lost on the stream, so that both fills (the NEAR long and its
    # liquidation) come from the backfill's userFillsByTime, info replies that name no user,
    async def scenario() -> tuple[Any, Any]:
        pace = quick()
        async with LoopbackHyperliquid() as venue, AsyncOrderLedger(stored_url) as ledger:
            source = HyperliquidSource(source_config(venue, pace.timing(), account="main", user=USER))
            collector = Collector(
                ledger, source, timing=pace.timing(), reconcile_every=None, status_every=3600
            )
            task = asyncio.create_task(collector.run())
            await venue.connected(CHANNELS)
            schedule = ["gap" if u.channel == "userFills" else "none" for u in session()]
            await venue.play(session(), schedule, CHANNELS)
            expected = clean_books(
                [_bytes(u.frame()) for u in session()], format="hyperliquid", venue=VENUE, account="main"
            )
            found = await until_books(collector, ledger, expected)
            collector.stop()
            await task
            return source.options, (found, expected, worked(ledger.ledger))

    options, (found, expected, (orders, _, positions)) = asyncio.run(scenario())
    # then the source hands the address to the ingest, and the liquidation is ours: the
    # external sell of 64.8 filled, the NEAR position flat with (4.6879 − 4.95) × 64.8 =
    # −16.98408 realized, nothing parked: the books of the clean stream for the same account
    assert options == {"address": USER}
    assert ("ext-hyperliquid-719874965978", "filled", Decimal("64.8"), Decimal("64.8"), "sell") in orders
    assert ("NEAR", Decimal("0"), Decimal("-16.98408")) in positions
    assert found["parked"] == [] and found == expected


def test_a_gap_is_filled_by_paging_the_fills_by_time(stored_url: str) -> None:
    # Given both fills lost on the stream and a venue answering at most one fill per page,
    schedule = ["gap" if u.channel == "userFills" else "none" for u in session()]
    found, (venue, _, _) = asyncio.run(collect(stored_url, schedule, {"fills_page": 1}))
    # then the last reconnect's backfill pages userFillsByTime from the last booked time less the
    # overlap, each page starting at the last fill's time (the venue's times are inclusive).
    assert found == clean()
    pages = [r for r in venue.info_requests if r["type"] == "userFillsByTime"]
    starts = [r["startTime"] for r in pages]
    assert 1790964000000 in starts  # the opening fill's time, a page's start
    assert 1790964546856 in starts  # the liquidation fill's time, the last page's


async def answered(source: HyperliquidSource) -> None:
    """Until every link of ``source`` has read the pong to its last ping."""
    while not all(link.answered for link in source.connections.links):
        await asyncio.sleep(0.001)


def test_pings_keep_the_link_and_a_missing_pong_counts_as_lost() -> None:
    async def scenario() -> None:
        from tests.support.clock import ManualClock

        clock = ManualClock()
        async with LoopbackHyperliquid() as venue:
            source = HyperliquidSource(source_config(venue, clock.timing()))
            await source.connect()
            await venue.connected(CHANNELS)
            # Given the link up, when 50 s pass, the collector sends {"method": "ping"},
            await clock.sleeping(1)
            await clock.advance(50)
            await venue.wait_for(lambda: venue.pings == 1)
            # and the venue's pong answers it (read by the source before the venue falls silent);
            await asyncio.wait_for(answered(source), 30)
            # when the venue stops answering,
            frames = source.frames()
            venue.pings_answered = False
            await clock.sleeping(1)
            await clock.advance(50)
            await venue.wait_for(lambda: venue.pings == 2)
            await clock.sleeping(1)
            await clock.advance(50)
            # the ping still unanswered at the next one ends the stream as a lost connection.
            with pytest.raises(Exception) as lost:
                async for _ in frames:
                    pass
            assert type(lost.value).__name__ == "ConnectionLost"
            assert str(lost.value) == "hyperliquid did not answer a ping (no pong)"
            await source.close()

    asyncio.run(scenario())


def test_an_address_the_venue_cannot_read_is_refused_in_one_line() -> None:
    async def scenario() -> None:
        pace = quick()
        async with LoopbackHyperliquid() as venue:
            # A label is no address: refused before anything connects.
            with pytest.raises(CredentialsRejected) as refused:
                HyperliquidSource(source_config(venue, pace.timing(), account="main"))
            assert str(refused.value) == (
                "`account` (the user) 'main' is not a Hyperliquid address (0x and 40 hex digits)"
            )
            # An endpoint nothing listens on, never reached: unreachable, not retried.
            port = venue.port
            await venue.stop()
            source = HyperliquidSource(source_config(venue, pace.timing()))
            with pytest.raises(Unreachable) as unreachable:
                await source.connect()
            assert str(unreachable.value).startswith(
                f"hyperliquid at ws://127.0.0.1:{port}/ws cannot be reached:"
            )
            assert "\n" not in str(unreachable.value)
            await source.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("ping", ["soon", "0", "-5", "nan"])
def test_a_ping_interval_that_is_not_a_positive_number_of_seconds_is_refused_in_one_line(ping: str) -> None:
    config = SourceConfig(
        venue="hyperliquid",
        account=USER,
        endpoint="http://127.0.0.1:9",
        options={"ping": ping},
        credentials=Credentials(),
    )
    with pytest.raises(ConfigurationError) as refused:
        HyperliquidSource(config)
    assert str(refused.value) == f"`options` ping must be a positive number of seconds, not {ping!r}"


def test_watched_addresses_are_spread_over_connections_within_the_venues_limits() -> None:
    addresses = [f"0x{n:040x}" for n in range(1, 24)]
    # 23 addresses, at most 10 users per connection: 10 + 10 + 3 on three connections.
    assert [len(c) for c in watch_plan(addresses)] == [10, 10, 3]
    assert {s["type"] for c in watch_plan(addresses) for s in c} == {"webData2"}
    # At most 10 connections of 10: 101 addresses are refused in one line.
    with pytest.raises(ConfigurationError) as refused:
        watch_plan([f"0x{n:040x}" for n in range(101)])
    assert str(refused.value) == (
        "collect hyperliquid-watch follows at most 100 addresses (10 connections of 10 users), not 101"
    )


def test_watching_traders_records_their_new_and_closed_orders(stored_url: str) -> None:
    others = [USER, "0x15f43d1f2dee81424afd891943262aa90f22cc2a"]

    async def scenario() -> list[tuple[str, str, str, str]]:
        pace = quick()
        async with LoopbackHyperliquid() as venue, AsyncOrderLedger(stored_url) as ledger:
            options = {"name": "hyperliquid-watch", "addresses": ",".join(others)}
            source = HyperliquidWatchSource(source_config(venue, pace.timing(), account=None, **options))
            collector = Collector(
                ledger, source, timing=pace.timing(), reconcile_every=None, status_every=3600
            )
            task = asyncio.create_task(collector.run())
            await venue.wait_for(lambda: all(venue.subscribed("webData2", a) == 1 for a in others))
            # Given the first trader's session (the second trader has no orders): a webData2 per
            # trader on subscribe, then one per order update of the first (4 of the 7 updates),
            for update in session():
                await venue.publish(update)
            await collector.received(2 + 4)
            await collector.durable()
            collector.stop()
            await task
            rows = list_orders(ledger.ledger.db)
            return sorted((o["client_order_id"], o["account"], o["status"], o["side"]) for o in rows)

    # then each order the trader opened is recorded under the trader's address; the HYPE order,
    # absent from two snapshots in a row (its cancel, then the NEAR order's opening), is closed;
    # the NEAR order, absent from one snapshot only (its fill, the last), stays open.
    assert asyncio.run(scenario()) == [
        ("ext-hyperliquid-watch-323550506865", USER, "canceled", "sell"),
        ("ext-hyperliquid-watch-719874960000", USER, "accepted", "buy"),
    ]


def test_the_endpoint_names_and_urls() -> None:
    from orderledger.infrastructure.collect.venues.hyperliquid import info_url, ws_url

    # The venue's SDK derives the WebSocket URL from the info base: https://h → wss://h/ws.
    assert ws_url("https://api.hyperliquid.xyz") == "wss://api.hyperliquid.xyz/ws"
    assert ws_url("http://127.0.0.1:8080") == "ws://127.0.0.1:8080/ws"
    assert info_url("wss://api.hyperliquid-testnet.xyz/ws") == "https://api.hyperliquid-testnet.xyz/info"
    with pytest.raises(Unreachable):
        ws_url("ftp://example")


@pytest.mark.parametrize("since", [None, datetime(2024, 12, 1, tzinfo=UTC)])
def test_a_first_start_backfills_from_the_collectors_start_or_from_since(since: datetime | None) -> None:
    # Given a venue holding the published session, and a collector starting with nothing booked,
    async def scenario() -> tuple[list[dict[str, Any]], datetime]:
        pace = quick()
        async with LoopbackHyperliquid() as venue, AsyncOrderLedger("memory://") as ledger:
            for update in session():
                await venue.publish(update)
            source = HyperliquidSource(source_config(venue, pace.timing()))
            collector = Collector(ledger, source, timing=pace.timing(), reconcile_every=None, since=since)
            task = asyncio.create_task(collector.run())
            await collector.streaming()
            collector.stop()
            await task
            return venue.info_requests, source.started

    requests, started = asyncio.run(scenario())
    # then fills and funding are asked from the collector's start (docs/collect.md), or from
    # `since` when given (`--since`), never from time 0.
    expected = int((since or started).timestamp() * 1000)
    firsts = {r["type"]: r["startTime"] for r in reversed(requests) if "startTime" in r}
    assert firsts == {"userFillsByTime": expected, "userFunding": expected}
