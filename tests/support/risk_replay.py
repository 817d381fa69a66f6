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
