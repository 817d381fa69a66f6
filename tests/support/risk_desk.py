"""A risk desk's session for the risk tests: one account on venue x trading BTC-USDT, the
ledger's clock at noon of 2025-03-03, and the facts a venue reports (orders filled in full, marks)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from orderledger import OrderLedger, Outcome

NOW = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
MORNING = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)


def at(clock: str) -> datetime:
    return datetime.fromisoformat(f"2025-03-03T{clock}+00:00")


def spec(side: str = "buy", quantity: str = "1", price: str | None = "100", **more: Any) -> dict[str, Any]:
    order = {
        "venue": "x",
        "account": "main",
        "instrument": "BTC-USDT",
        "side": side,
        "order_type": "limit" if price else "market",
        "quantity": quantity,
        **more,
    }
    if price:
        order["price"] = price
    return order


def filled(ledger: OrderLedger, cid: str, side: str, quantity: str, price: str, ts: str, **fill: Any) -> None:
    """An order filled in full at venue time ``ts``, as a venue reports it (an external order: a
    fact the ledger learns, which the risk door never refuses)."""
    request = {
        "type": "request",
        "client_order_id": cid,
        **spec(side, quantity, price),
        "external": True,
        "ts": at(ts).isoformat(),
    }
    assert ledger.record(request).outcome is Outcome.APPLIED
    trade = {"type": "fill", "client_order_id": cid, "trade_id": f"t-{cid}", "quantity": quantity}
    assert (
        ledger.record({**trade, "price": price, "ts": at(ts).isoformat(), **fill}).outcome is Outcome.APPLIED
    )


def mark(ledger: OrderLedger, price: str, ts: str) -> None:
    message = {
        "type": "mark",
        "venue": "x",
        "instrument": "BTC-USDT",
        "price": price,
        "ts": at(ts).isoformat(),
    }
    assert ledger.record(message).outcome is Outcome.APPLIED
