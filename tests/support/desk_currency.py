"""A desk whose P&L is in two quote currencies, and the marks that convert them into USD
(docs/risk.md, "P&L in one currency"), shared by the Python, CLI and HTTP tests.

On account main at venue x: 1 BTC/USDT bought at 100 and sold at 112.5, realizing
112.5 − 100 = 12.5 USDT; 1 ETH/USDC bought at 10 and sold at 13, realizing 13 − 10 = 3 USDC.
The marks USDT/USD 0.999 (at venue y: a rate is read at any venue) and USDC-USD 1.0002 make
12.5 × 0.999 = 12.4875 USD and 3 × 1.0002 = 3.0006 USD: 12.4875 + 3.0006 = 15.4881 USD.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

TRADES = (
    ("a", "BTC/USDT", "buy", "100", "10:00"),
    ("b", "BTC/USDT", "sell", "112.5", "10:01"),
    ("c", "ETH/USDC", "buy", "10", "10:02"),
    ("d", "ETH/USDC", "sell", "13", "10:03"),
)


def fills() -> list[dict[str, Any]]:
    """Each trade as a request of one unit and its fill, on 2026-11-20."""
    lines: list[dict[str, Any]] = []
    for cid, instrument, side, price, at in TRADES:
        request = {"type": "request", "client_order_id": cid, "venue": "x", "account": "main"}
        request |= {"instrument": instrument, "side": side, "order_type": "limit", "quantity": "1"}
        fill = {"type": "fill", "client_order_id": cid, "trade_id": f"t-{cid}", "quantity": "1"}
        lines += [
            {**request, "price": price, "ts": f"2026-11-20T{at}:00Z"},
            {**fill, "price": price, "ts": f"2026-11-20T{at}:01Z"},
        ]
    return lines


USDT_MARK = {
    "type": "mark",
    "venue": "y",
    "instrument": "USDT/USD",
    "price": "0.999",
    "ts": "2026-11-20T11:00:00Z",
}
USDC_MARK = {
    "type": "mark",
    "venue": "x",
    "instrument": "USDC-USD",
    "price": "1.0002",
    "ts": "2026-11-20T11:00:00Z",
}

DESK_USD = Decimal("15.4881")
"""12.4875 + 3.0006."""
BTC_USD = Decimal("12.4875")
"""12.5 × 0.999."""
ETH_USD = Decimal("3.0006")
"""3 × 1.0002."""
NO_USDC_RATE = (
    "in_currency USD: no mark of USDC/USD (or USDC-USD) recorded: the USDC P&L has no rate into USD"
)
"""Only the USDT mark recorded: the USDC P&L has no rate (never taken as 1)."""
