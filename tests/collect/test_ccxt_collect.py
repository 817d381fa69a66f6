"""``collect ccxt``: ccxt.pro's real ``hyperliquid`` exchange class (its own WebSocket client and its
REST client) pointed at the loopback Hyperliquid (tests/support/hyperliquid_venue.py), run by the
real ``Collector``.

The endpoint URL replaces the host of every URL ccxt holds for the exchange before the first
watch (docs/venue-facts.md, "ccxt and ccxt.pro"); Hyperliquid needs only the wallet address for
these reads. ccxt's client does not reconnect: the collector's loop does. Under every fault schedule the books
equal the clean run's. SQLite and PostgreSQL; no wall-clock waits in the test.
"""

from __future__ import annotations

import asyncio
import tempfile
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderledger.infrastructure.application.aio import AsyncOrderLedger
from orderledger.infrastructure.collect.credentials import Credentials, Secret
from orderledger.infrastructure.collect.runner import Collector
from orderledger.infrastructure.collect.source import CredentialsRejected, Unreachable
from orderledger.infrastructure.collect.venues.ccxt import CcxtSource, pointed
from orderledger.infrastructure.errors import ConfigurationError
from tests.support.collect import books
from tests.support.collect_books import ROUND, Books, Rounds, quick, until_books
from tests.support.hyperliquid_venue import (
    FAULTS,
    USER,
    LoopbackHyperliquid,
    lagging_fills,
    session,
    source_config,
)
from tests.support.postgres import private_schema
from tests.support.soak import sized

pytestmark = pytest.mark.timeout(sized(180, 900))  # a soak draws 100 × N schedules in one test

CHANNELS = ("orderUpdates", "userFills")
"""What ccxt.pro's watch_orders and watch_my_trades subscribe (ccxt has no funding channel)."""


def ccxt_source(venue: LoopbackHyperliquid, timing: Any, wallet: str = USER) -> CcxtSource:
    # ccxt's own rate limiter spaces requests by the venue's weights (1 s per info request):
    # the loopback has no limit to respect, so the test turns it off.
    config = source_config(venue, timing, name="ccxt", exchange="hyperliquid", rate_limit="off")
    config = type(config)(
        **{**config.__dict__, "credentials": Credentials({"walletAddress": Secret(wallet)})}
    )
    return CcxtSource(config)


async def collect(url: str, schedule: list[str], expected: Books | None) -> tuple[Books, LoopbackHyperliquid]:
    """The session through a ccxt collector: the funding is the venue's history before the start
    (ccxt has no funding channel: the backfill's fetch_funding_history brings it); ``schedule[i]``
    happens around live update ``i``; one last reconnect; the books when they equal ``expected``
    (None: when every frame the run received is durable)."""
    pace = quick()
    history, *live = session()
    async with LoopbackHyperliquid() as venue, AsyncOrderLedger(url) as ledger:
        await venue.publish(history)
        collector = Collector(
            ledger,
            ccxt_source(venue, pace.timing()),
            timing=pace.timing(),
            reconcile_every=None,
            status_every=3600,
        )
        task = asyncio.create_task(collector.run())
        await venue.connected(CHANNELS)
        await venue.play(live, schedule, CHANNELS)
        if expected is None:
            await venue.wait_for(lambda: sum(r["type"] == "userFunding" for r in venue.info_requests) >= 2)
            await collector.durable()
            found = books(ledger.ledger)
        else:
            found = await until_books(collector, ledger, expected)
        collector.stop()
        await task
        return found, venue


CLEAN: dict[str, Books] = {}


def clean_run(url: str) -> Books:
    """The books of a run with no fault, in the database at ``url``."""
    return asyncio.run(collect(url, ["none"] * (len(session()) - 1), None))[0]


def clean(url: str) -> Books:
    """The clean run's books for the backend of ``url``, once per backend, each run in a database
    of its own (a run compared with them starts from an empty one)."""
    backend = url.partition(":")[0]
    if backend not in CLEAN:
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as folder:
                CLEAN[backend] = clean_run(f"sqlite:///{folder}/clean.db")
        else:
            with private_schema() as other:
                CLEAN[backend] = clean_run(other)
    return CLEAN[backend]


def test_the_clean_run_books_the_published_session(stored_url: str) -> None:
    found = clean_run(stored_url)
    # Given ccxt's hyperliquid following the user, with no fault: the HYPE sell of 1 canceled,
    # the NEAR buy of 64.8 filled and the liquidation (external, sized by its fill) filled;
    assert [(o[0], o[1], o[2], o[3]) for o in found["orders"]] == [
        ("ext-hyperliquid-323550506865", "canceled", "1", "0"),
        ("ext-hyperliquid-719874960000", "filled", "64.8", "64.8"),
        ("ext-hyperliquid-719874965978", "filled", "64.8", "64.8"),
    ]
    # the two trades as the native collector books them: 64.8 at 4.95, 64.8 at 4.6879;
    assert [(t[0], t[2], t[3]) for t in found["trades"]] == [
        ("5787071443000000", "64.8", "4.95"),
        ("5787071443114480", "64.8", "4.6879"),
    ]
    # ccxt names the instrument by its unified symbol; flat, (4.6879 − 4.95) × 64.8 = −16.98408.
    near = found["positions"][0]
    assert (near[1], Decimal(near[2]), Decimal(near[3])) == (
        "NEAR/USDC:USDC",
        Decimal(0),
        Decimal("-16.98408"),
    )
    assert found["parked"] == []


@pytest.mark.parametrize("fault", FAULTS[1:])
def test_each_fault_ends_with_the_clean_books(stored_url: str, fault: str) -> None:
    # Given the fault around the first live update and around the last,
    schedule = ["none"] * (len(session()) - 1)
    schedule[0] = schedule[-1] = fault
    expected = clean(stored_url)
    found, venue = asyncio.run(collect(stored_url, schedule, expected))
    # then the books are the clean run's.
    assert found == expected
    if fault in ("drop", "restart"):
        assert venue.dials >= 4  # ccxt dialled anew each time the collector called watch_* again


# CI size: a handful of schedules drawn at random; ORDERLEDGER_SOAK=N runs 100 × N
# (tests/support/soak.py).
@settings(
    max_examples=sized(3, 100),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(schedule=st.lists(st.sampled_from(FAULTS), min_size=len(session()) - 1, max_size=len(session()) - 1))
def test_any_schedule_of_faults_ends_with_the_clean_books(tmp_path_factory: Any, schedule: list[str]) -> None:
    # Given any mix of faults (SQLite; the named schedules above run on PostgreSQL too),
    url = f"sqlite:///{tmp_path_factory.mktemp('schedule') / 'ledger.db'}"
    expected = clean(url)
    found, _ = asyncio.run(collect(url, schedule, expected))
    assert found == expected


def test_a_drop_just_after_an_order_opens_ends_with_the_clean_books(tmp_path_factory: Any) -> None:
    # Given the connection dropped right after the NEAR order opens (found by the property test),
    url = f"sqlite:///{tmp_path_factory.mktemp('pinned') / 'ledger.db'}"
    expected = clean(url)
    schedule = ["none", "none", "drop", "none", "none", "none"]
    # when the collector runs through it, then the books are the clean run's.
    found, _ = asyncio.run(collect(url, schedule, expected))
    assert found == expected


def test_a_reconciliation_while_the_fills_lag_books_the_order_filled(stored_url: str) -> None:
    # Given the NEAR order open in the ledger, then filled at the venue (gone from its open
    # orders) while its fill and its filled status are still on their way on the stream,
    expected = clean(stored_url)

    async def scenario() -> tuple[int, Books]:
        pace = quick()
        rounds = Rounds(pace)
        history, *live = session()
        async with LoopbackHyperliquid() as venue, AsyncOrderLedger(stored_url) as ledger:
            await venue.publish(history)
            source = ccxt_source(venue, pace.timing())
            collector = Collector(
                ledger, source, timing=rounds.timing(), reconcile_every=ROUND, status_every=3600
            )
            task = asyncio.create_task(collector.run())
            try:
                await venue.connected(CHANNELS)
                read = await lagging_fills(venue, collector, rounds, live, CHANNELS)
                return read, await until_books(collector, ledger, expected)
            finally:
                collector.stop()
                await task

    # when the collector reconciles in between (it read the venue's open orders),
    read, found = asyncio.run(scenario())
    assert read >= 1
    # then the books are the clean run's: the order filled, not canceled by the reconciliation.
    assert found == expected


def test_the_endpoint_url_replaces_every_host_keeping_paths() -> None:
    # ccxt's hyperliquid URLs: REST 'https://api.{hostname}', WebSocket 'wss://api.hyperliquid.xyz/ws'.
    urls = {"public": "https://api.{hostname}", "ws": {"public": "wss://api.hyperliquid.xyz/ws"}}
    assert pointed(urls, "http://127.0.0.1:9000") == {
        "public": "http://127.0.0.1:9000",
        "ws": {"public": "ws://127.0.0.1:9000/ws"},
    }
    assert pointed(urls, "https://proxy.example")["ws"]["public"] == "wss://proxy.example/ws"


def test_faults_are_refused_in_one_line() -> None:
    async def scenario() -> None:
        pace = quick()
        async with LoopbackHyperliquid() as venue:
            # An unknown exchange is refused before anything connects.
            config = source_config(venue, pace.timing(), name="ccxt", exchange="nosuch")
            with pytest.raises(ConfigurationError) as unknown:
                CcxtSource(config)
            assert (
                str(unknown.value)
                == "`options` exchange must name an exchange ccxt.pro supports, not 'nosuch'"
            )
            # A wallet address the venue cannot read (HTTP 422 from the info endpoint): refused.
            source = ccxt_source(venue, pace.timing(), wallet="0xnot-an-address")
            await source.connect()
            with pytest.raises(CredentialsRejected) as refused:
                async for _ in source.backfill(None):
                    pass
            assert str(refused.value).startswith("hyperliquid refused a request: hyperliquid POST ")
            assert "422" in str(refused.value) and "\n" not in str(refused.value)
            await source.close()
            # An endpoint never reached is unreachable (not retried).
            await venue.stop()
            source = ccxt_source(venue, pace.timing())
            with pytest.raises(Unreachable) as unreachable:
                await source.connect()
            assert str(unreachable.value).startswith("hyperliquid cannot be reached: ")
            await source.close()

    asyncio.run(scenario())
