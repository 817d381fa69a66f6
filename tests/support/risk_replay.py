"""A recorded session for the replay of limits (docs/risk.md, "Limits replayed over history"):
its messages, and a clock the test moves to each message's time, so that the recorded time the
replay judges at is the time written beside each line."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from orderledger import OrderLedger, Outcome


class Clock:
    """The ledger's clock, moved by the test to each message's time."""

    def __init__(self) -> None:
        self.now = datetime(2025, 3, 3, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def at(day: int, clock: str) -> str:
    return f"2025-03-0{day}T{clock}Z"


def record(ledger: OrderLedger, clock: Clock, message: dict[str, Any]) -> None:
    clock.now = datetime.fromisoformat(message["ts"].replace("Z", "+00:00"))
    assert ledger.record(message).outcome is Outcome.APPLIED, message


def order(cid: str, side: str, quantity: str, price: str, ts: str, **more: Any) -> dict[str, Any]:
    return {"type": "request", "client_order_id": cid, "venue": "x", "account": "main",
            "instrument": "BTC-USDT", "side": side, "order_type": "limit", "quantity": quantity,
            "price": price, "quote_currency": "USDT", "ts": ts, **more}  # fmt: skip


def fill(cid: str, quantity: str, price: str, ts: str) -> dict[str, Any]:
    return {"type": "fill", "client_order_id": cid, "trade_id": f"t-{cid}", "quantity": quantity,
            "price": price, "ts": ts}  # fmt: skip


def mark(price: str, ts: str) -> dict[str, Any]:
    return {"type": "mark", "venue": "x", "instrument": "BTC-USDT", "price": price, "ts": ts}


def placed(cid: str, side: str, quantity: str, price: str, ts: str, filled_at: str) -> list[dict[str, Any]]:
    """An order requested, acknowledged and filled in full at its price."""
    return [
        order(cid, side, quantity, price, ts),
        {"type": "accepted", "client_order_id": cid, "venue_order_id": f"v-{cid}", "ts": ts},
        fill(cid, quantity, price, filled_at),
    ]


SESSION = [
    *placed("c1", "buy", "2", "100", at(3, "09:00:00"), at(3, "09:01:00")),
    *placed("c2", "buy", "2", "120", at(3, "10:00:00"), at(3, "10:01:00")),
    *placed("c3", "sell", "1", "130", at(3, "11:00:00"), at(3, "11:01:00")),
    mark("120", at(3, "12:00:00")),
    mark("90", at(4, "09:00:00")),
    *placed("c5", "buy", "1", "95", at(4, "10:00:00"), at(4, "10:01:00")),
]
NOTIONAL_200 = [{"scope": "account", "target": "main", "kind": "max_order_notional", "value": "200"}]


def session(ledger: OrderLedger, clock: Clock, messages: list[dict[str, Any]]) -> None:
    """Record ``messages`` in order, each at its own time."""
    for message in messages:
        record(ledger, clock, message)


def requested(cid: str, side: str, quantity: str, price: str, ts: str) -> list[dict[str, Any]]:
    """An order requested and acknowledged, filled a minute later (``placed``, at hh:mm:00)."""
    filled_at = ts[:14] + f"{int(ts[14:16]) + 1:02d}" + ts[16:]
    return placed(cid, side, quantity, price, ts, filled_at)


LOSS_DAY = [
    *requested("c1", "buy", "10", "100", at(3, "09:00:00")),
    mark("96", at(3, "10:00:00")),
    *requested("c2", "buy", "10", "96", at(3, "10:30:00")),
    mark("95", at(3, "11:00:00")),
    *requested("c3", "sell", "5", "95", at(3, "11:30:00")),
    *requested("c4", "buy", "1", "95", at(3, "12:00:00")),
    mark("100", at(3, "13:00:00")),
    *requested("c5", "buy", "1", "100", at(3, "14:00:00")),
    *requested("c6", "buy", "1", "100", at(4, "09:00:00")),
]
"""A day that loses 60 by 11:00 and recovers by 13:00, and an order the next day.

Bought 10 at 100, marked 96: (96 − 100) × 10 = −40. Bought 10 more at 96: 20 at an average of
98; marked 95: 20 × 95 − 20 × 98 = −60, a loss of 60. c3 sells 5 at 95 (it reduces), c4 buys
1 at 95, a mark of 100 (20 × 100 − 1960 = +40: no loss), c5 buys 1 at 100; the next day c6."""

DRAWDOWN_DAY = [
    *requested("c1", "buy", "10", "100", at(3, "09:00:00")),
    mark("106", at(3, "10:00:00")),
    mark("101", at(3, "11:00:00")),
    *requested("c2", "sell", "1", "101", at(3, "11:30:00")),
    mark("104", at(3, "12:00:00")),
    *requested("c3", "sell", "1", "104", at(3, "12:30:00")),
]
"""Bought 10 at 100; marked 106: (106 − 100) × 10 = 60, the day's high; 101: 10, a drawdown of
60 − 10 = 50; c2 sells 1 at 101; marked 104: 40, a drawdown of 60 − 40 = 20; c3 sells 1 at 104."""

LOSS_HALT_50 = [
    {"scope": "account", "target": "main", "kind": "max_daily_loss", "value": "50", "response": "halt"}
]
"""At most 50 lost a day on main, answered by a halt."""
HALTED_AT_60 = "trading is halted (set by max_daily_loss: max_daily_loss 50 on account main: is 60)"
"""Why an order is denied once LOSS_DAY's 11:00 mark has passed LOSS_HALT_50."""
