"""The example bot (examples/ccxt_bot.py), offline, through ccxt.pro's own Binance handlers.

The exchange is a real ``ccxt.pro.binance`` knowing the BNB/USDT market; only its network is
replaced: a fake connection takes what ccxt.pro's ``handle_message`` resolves and gives it to
``watch_orders``/``watch_my_trades``, and ``create_order`` answers from the venue's published
executionReport (tests/support/ccxt_flows.py: the NEW, TRADE and FILLED reports of a market buy
of 2 BNB, with the client order ID the bot sent).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections import defaultdict
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import ccxt
import ccxt.pro
import pytest

from examples.ccxt_bot import Bot
from orderledger import AsyncOrderLedger
from orderledger.domain.events import OrderFilled
from orderledger.domain.values import Status
from tests.support.ccxt_flows import BINANCE_BNBUSDT, binance_spot_reports


class FakeConnection:
    """Stands in for ccxt.pro's WebSocket client: what a handler resolves waits for a watcher."""

    url = "wss://stream.binance.com:9443/ws"

    def __init__(self) -> None:
        self.subscriptions: dict[str, Any] = {}
        self.queues: defaultdict[str, asyncio.Queue[list[Any]]] = defaultdict(asyncio.Queue)

    def resolve(self, result: Any, message_hash: str) -> None:
        self.queues[message_hash].put_nowait(copy.deepcopy(list(result)))


class OfflineBinance(ccxt.pro.binance):  # type: ignore[misc]
    """ccxt.pro's Binance with the network replaced (markets declared, nothing fetched)."""

    def __init__(self, failure: BaseException | None = None) -> None:
        super().__init__()
        self.set_markets([self.safe_market_structure(BINANCE_BNBUSDT)])
        self.connection = FakeConnection()
        self.failure = failure
        self.sent: list[tuple[Any, ...]] = []

    async def create_order(
        self, symbol: str, type: str, side: str, amount: float, price: Any = None, params: Any = None
    ) -> Any:
        params = params or {}
        self.sent.append((symbol, type, side, amount, price, params.get("clientOrderId")))
        if self.failure is not None:
            raise self.failure
        # The venue's answer: the order as its NEW report describes it.
        new = binance_spot_reports(params["clientOrderId"])[0]
        return self.parse_ws_order(new, self.market(symbol))

    async def watch_orders(self, *args: Any, **kwargs: Any) -> Any:
        return await self.connection.queues["orders"].get()

    async def watch_my_trades(self, *args: Any, **kwargs: Any) -> Any:
        return await self.connection.queues["myTrades"].get()

    def receive(self, message: dict[str, Any]) -> None:
        """A message on the user data stream, handled by ccxt.pro as the live socket would."""
        self.handle_message(self.connection, message)


@contextlib.asynccontextmanager
async def running(exchange: OfflineBinance) -> AsyncIterator[Bot]:
    """The bot over an in-memory ledger, its two WebSocket watchers running."""
    async with AsyncOrderLedger("memory://") as ledger:
        bot = Bot(exchange, ledger, venue="binance", account="main")
        watchers = [asyncio.create_task(bot.watch_orders()), asyncio.create_task(bot.watch_my_trades())]
        try:
            yield bot
        finally:
            for task in watchers:
                task.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)


# The three reports resolve: NEW → orders; TRADE → myTrades and orders; FILLED → both: 5 updates.
UPDATES = 5


async def deliver_reports(bot: Bot, exchange: OfflineBinance, client_order_id: str) -> list[str]:
    """Send the venue's three reports and wait until the bot has booked every update; the
    outcomes of the booked lines."""
    for message in binance_spot_reports(client_order_id):
        exchange.receive(message)
    outcomes = []
    for _ in range(UPDATES):
        booked = await bot.booked.get()
        outcomes += [o for o, n in booked.counts.items() for _ in range(n)]
    return outcomes


def test_the_bot_books_its_order_and_the_venues_updates_once() -> None:
    async def main() -> None:
        exchange = OfflineBinance()
        async with running(exchange) as bot:
            cid = await bot.place("BNB/USDT", "buy", "2")
            assert exchange.sent == [("BNB/USDT", "market", "buy", 2.0, None, cid)]
            placed = await bot.ledger.order(cid)
            assert placed.status is Status.ACCEPTED
            assert placed.venue_order_id == "1296882607"  # the report's "i"

            outcomes = await deliver_reports(bot, exchange, cid)
            assert "rejected" not in outcomes and "parked" not in outcomes

            order = await bot.ledger.order(cid)
            assert order.status is Status.FILLED
            # 0.332 (the published TRADE) + 1.668 (the FILLED report) = 2, both at 46.866.
            assert order.filled_quantity == Decimal("2")
            assert sorted((f.qty, f.px) for f in order.fills.values()) == [
                (Decimal("0.332"), Decimal("46.866")),
                (Decimal("1.668"), Decimal("46.866")),
            ]
            # Each trade arrives twice (in its own update and in the order's): booked once.
            fills = [e for e in await bot.ledger.order_events(cid) if isinstance(e, OrderFilled)]
            assert sorted(e.trade_id for e in fills) == ["109747654", "109747655"]

            last = bot.ledger.ledger.recorder.max_notification_id() or 0
            await bot.follow_fills(until=last)
            assert bot.position == Decimal("2")

    asyncio.run(main())


def test_a_refused_order_is_booked_rejected() -> None:
    async def main() -> None:
        refusal = ccxt.InsufficientFunds(
            'binance {"code":-2010,"msg":"Account has insufficient balance for requested action."}'
        )
        exchange = OfflineBinance(refusal)
        async with running(exchange) as bot:
            with pytest.raises(ccxt.InsufficientFunds):
                await bot.place("BNB/USDT", "buy", "2")
            (sent,) = exchange.sent
            order = await bot.ledger.order(sent[-1])
            assert order.status is Status.REJECTED

    asyncio.run(main())


def test_a_timed_out_order_stays_in_flight_until_the_venue_reports_it() -> None:
    async def main() -> None:
        exchange = OfflineBinance(
            ccxt.RequestTimeout("binance POST https://api.binance.com/api/v3/order timed out")
        )
        async with running(exchange) as bot:
            with pytest.raises(ccxt.RequestTimeout):
                await bot.place("BNB/USDT", "buy", "2")
            cid = exchange.sent[0][-1]
            assert (await bot.ledger.order(cid)).status is Status.REQUESTED
            # The order did reach the venue: its reports settle it.
            outcomes = await deliver_reports(bot, exchange, cid)
            assert "rejected" not in outcomes and "parked" not in outcomes
            order = await bot.ledger.order(cid)
            assert order.status is Status.FILLED
            assert order.venue_order_id == "1296882607"

    asyncio.run(main())
