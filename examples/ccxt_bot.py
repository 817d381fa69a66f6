"""A small asyncio bot that keeps its own books in OrderLedger.

It records its risk limits as facts when it starts (at most this much per order, at most this
much lost in a day), places orders through ccxt with ``placing`` (checked against those limits
and the account's trading state, then the request is on record before the order leaves; an order
the check denies is journaled ``denied`` and never sent), and feeds every order and trade update
its ccxt.pro WebSocket subscriptions deliver into the ledger, which keeps each fact once however
often the venue repeats it. A risk task follows the ledger's log live and keeps the bot's
position.

Run it against a venue's testnet (keys in the environment):

    BINANCE_KEY=… BINANCE_SECRET=… python examples/ccxt_bot.py sqlite:///bot.db

The test (tests/examples/test_ccxt_bot.py) runs the same bot offline: a real ccxt.pro Binance
exchange whose WebSocket is replaced by a fake connection that hands the venue's published
executionReport messages to ccxt.pro's own handlers, and whose order placement is answered
from the same messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import ccxt

from orderledger import AsyncOrderLedger, IngestReport, OrderDeniedError
from orderledger.domain.events import FillBusted, FillCorrected, OrderFilled
from orderledger.domain.values import Side

REJECTIONS: tuple[type[BaseException], ...] = (ccxt.InvalidOrder, ccxt.InsufficientFunds, ccxt.BadSymbol)
"""ccxt errors by which the venue refuses an order: the ledger records it ``rejected``. Any other
error (``ccxt.RequestTimeout``, ``ccxt.NetworkError`` …) leaves it in flight, to be settled by the
venue's own updates."""

LIMITS = {"max_order_notional": "250", "max_daily_loss": "100"}
"""The bot's limits on its account, in the quote currency (USDT): at most 250 per order, at most
100 lost in a UTC day (realized and unrealized at the latest marks, fees included)."""

log = logging.getLogger("ccxt_bot")


@dataclass
class Bot:
    """Places orders on one ccxt.pro exchange and books everything it hears in the ledger."""

    exchange: Any
    ledger: AsyncOrderLedger
    venue: str
    account: str
    position: Decimal = Decimal(0)
    """Net quantity bought, kept by ``follow_fills`` from the ledger's log."""
    booked: asyncio.Queue[IngestReport] = field(default_factory=asyncio.Queue)
    """The outcome of each update booked (to alert on a rejected one, or to wait for them)."""

    limits: dict[str, str] = field(default_factory=lambda: dict(LIMITS))
    """Each limit kind on the account and its value, recorded by ``set_limits``."""

    async def set_limits(self, by: str = "ccxt_bot") -> None:
        """Record each of the bot's limits that has no value in force on its account, as a fact
        with who set it: a restart records nothing again, and a value a person has set since
        stands (the ledger's limits, not the bot's memory, are the ones every order is checked
        against)."""
        in_force = {limit.key for limit in await self.ledger.risk_controls.limits()}
        for kind, value in self.limits.items():
            if ("account", self.account, kind) not in in_force:
                await self.ledger.risk_controls.set_limit(
                    "account", self.account, kind, value, set_by=by, reason="the bot's configuration"
                )

    async def mark(self, symbol: str) -> None:
        """Record the venue's last price of ``symbol``: what the check values a market order and
        the day's unrealized P&L at."""
        ticker = await self.exchange.fetch_ticker(symbol)
        ts = ticker.get("datetime") or datetime.now(UTC).isoformat()
        await self.ledger.record(
            {
                "type": "mark",
                "venue": self.venue,
                "instrument": symbol,
                "price": str(ticker["last"]),
                "ts": ts,
            }
        )

    async def place(self, symbol: str, side: str, amount: str, price: str | None = None) -> str | None:
        """Send one order; its client order ID, or None when the pre-trade check denied it."""
        spec = {
            "venue": self.venue,
            "account": self.account,
            "instrument": symbol,
            "side": side,
            "order_type": "market" if price is None else "limit",
            "quantity": amount,
            "price": price,
            "tags": {"strategy": "example"},
        }
        if price is None:
            await self.mark(symbol)
        try:
            async with self.ledger.placing(spec, rejections=REJECTIONS) as placement:
                order = await self.exchange.create_order(
                    symbol,
                    spec["order_type"],
                    side,
                    float(amount),
                    None if price is None else float(price),
                    {"clientOrderId": placement.client_order_id},
                )
                await placement.accepted(order["id"])
        except OrderDeniedError as denial:
            # Never sent, and journaled with the reasons (orderledger messages --outcome denied).
            # The same order would be denied again until a limit or the trading state changes:
            # say why and go on, without retrying it.
            log.warning("order %s denied: %s", denial.client_order_id, denial.reason)
            return None
        return placement.client_order_id

    async def book(self, payload: Any) -> IngestReport:
        """One WebSocket update (a list of ccxt orders or trades) into the ledger, journaled as
        received."""
        report = await self.ledger.ingest_lines(
            [json.dumps(payload, default=str)],
            format="ccxt",
            venue=self.venue,
            account=self.account,
            origin="ws",
        )
        self.booked.put_nowait(report)
        return report

    async def watch_orders(self) -> None:
        """Book every order update the venue pushes (runs until cancelled)."""
        while True:
            await self.book(await self.exchange.watch_orders())

    async def watch_my_trades(self) -> None:
        """Book every trade the venue pushes (runs until cancelled)."""
        while True:
            await self.book(await self.exchange.watch_my_trades())

    async def follow_fills(self, since: int = 0, *, until: int | None = None) -> None:
        """Keep ``position`` from the ledger's committed fills, busts and corrections (a risk
        monitor's loop): each order's filled quantity, signed by its side, summed. Runs until
        cancelled, or until it has read the log up to position ``until``."""
        filled: dict[str, Decimal] = {}
        async for committed in self.ledger.follow(since=since, poll_seconds=1.0):
            event = committed.event
            if isinstance(event, OrderFilled | FillBusted | FillCorrected):
                order = await self.ledger.order(event.client_order_id)
                sign = 1 if order.side is Side.BUY else -1
                filled[order.client_order_id] = sign * order.filled_quantity
                self.position = sum(filled.values(), Decimal(0))
            if until is not None and committed.position >= until:
                return


async def main(url: str) -> None:  # pragma: no cover - needs a venue
    import ccxt.pro

    exchange = ccxt.pro.binance({"apiKey": os.environ["BINANCE_KEY"], "secret": os.environ["BINANCE_SECRET"]})
    exchange.set_sandbox_mode(True)
    logging.basicConfig(level=logging.INFO)
    async with AsyncOrderLedger(url) as ledger:
        bot = Bot(exchange, ledger, venue="binance", account="testnet")
        await bot.set_limits()
        tasks = [
            asyncio.create_task(t) for t in (bot.watch_orders(), bot.watch_my_trades(), bot.follow_fills())
        ]
        try:
            await exchange.load_markets()
            print("placed", await bot.place("BNB/USDT", "buy", "0.1"))
            await asyncio.sleep(10)
            print("position", bot.position)
        finally:
            for task in tasks:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*tasks)
            await exchange.close()


if __name__ == "__main__":  # pragma: no cover
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "sqlite:///bot.db"))
