"""The example bot (examples/ccxt_bot.py), offline, through ccxt.pro's own Binance handlers.

The exchange is a real ``ccxt.pro.binance`` knowing the BNB/USDT market; only its network is
replaced: a fake connection takes what ccxt.pro's ``handle_message`` resolves and gives it to
``watch_orders``/``watch_my_trades``, ``create_order`` answers from the venue's published
executionReport (tests/support/ccxt_flows.py: the NEW, TRADE and FILLED reports of a market buy
of 2 BNB, with the client order ID the bot sent) and ``fetch_ticker`` with those reports' price.
The bot runs as it starts: its limits recorded first (at most 250 USDT an order, 100 lost a day).
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
from orderledger import AsyncOrderLedger, MessageRecord
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

    async def fetch_ticker(self, symbol: str, params: Any = None) -> Any:
        # the venue's last price: the reports' 46.866, a second before the order's NEW report
        return {"symbol": symbol, "last": 46.866, "datetime": "2021-01-19T13:44:20.400Z"}

    async def watch_orders(self, *args: Any, **kwargs: Any) -> Any:
        return await self.connection.queues["orders"].get()

    async def watch_my_trades(self, *args: Any, **kwargs: Any) -> Any:
        return await self.connection.queues["myTrades"].get()

    def receive(self, message: dict[str, Any]) -> None:
        """A message on the user data stream, handled by ccxt.pro as the live socket would."""
        self.handle_message(self.connection, message)


@contextlib.asynccontextmanager
async def running(exchange: OfflineBinance) -> AsyncIterator[Bot]:
    """The bot over an in-memory ledger, its limits recorded, its two WebSocket watchers running."""
    async with AsyncOrderLedger("memory://") as ledger:
        bot = Bot(exchange, ledger, venue="binance", account="main")
        await bot.set_limits()
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
            # 2 BNB at the mark of 46.866 is 93.732, within the order limit of 250: sent
            cid = await bot.place("BNB/USDT", "buy", "2")
            assert cid is not None
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
            fills = [e for e in await bot.ledger.audit.order_events(cid) if isinstance(e, OrderFilled)]
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


def _limits(rows: Any) -> list[tuple[str, str, str]]:
    return sorted((row.kind, str(row.value), row.set_by) for row in rows)


def _denied(messages: list[MessageRecord]) -> list[MessageRecord]:
    return [m for m in messages if m.outcome == "denied"]


def test_an_order_past_a_limit_is_denied_never_sent_and_journaled_denied() -> None:
    async def main() -> None:
        exchange = OfflineBinance()
        async with running(exchange) as bot:
            # Given the bot's limits, facts set by the bot itself when it started
            assert _limits(await bot.ledger.risk_controls.limits()) == [
                ("max_daily_loss", "100", "ccxt_bot"),
                ("max_order_notional", "250", "ccxt_bot"),
            ]
            # When it buys 6 BNB at market, valued at the mark of 46.866: 281.196 > 250
            assert await bot.place("BNB/USDT", "buy", "6") is None
            # Then nothing reached the venue, no order exists, and the request is journaled
            # denied with the limit it would breach
            assert exchange.sent == []
            assert list(await bot.ledger.orders()) == []
            [denied] = _denied(await bot.ledger.audit.messages())
            assert "max_order_notional 250 on account main: would be 281.196" in str(denied.reason)
            # And 5 BNB (5 × 46.866 = 234.33 ≤ 250) is sent
            cid = await bot.place("BNB/USDT", "buy", "5")
            assert exchange.sent == [("BNB/USDT", "market", "buy", 5.0, None, cid)]
            # When a person lowers the order limit to 200 and the bot starts again, the person's
            # value stands and nothing is recorded twice
            await bot.ledger.risk_controls.set_limit(
                "account", "main", "max_order_notional", "200", set_by="alice"
            )
            await bot.set_limits()
            assert _limits(await bot.ledger.risk_controls.limits()) == [
                ("max_daily_loss", "100", "ccxt_bot"),
                ("max_order_notional", "200", "alice"),
            ]
            # So the same 5 BNB (234.33 > 200) is now denied, and still never sent
            assert await bot.place("BNB/USDT", "buy", "5") is None
            assert len(exchange.sent) == 1 and len(_denied(await bot.ledger.audit.messages())) == 2

    asyncio.run(main())
