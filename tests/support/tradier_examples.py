"""Tradier's published orders (https://docs.tradier.com/docs/orders, "Response"), shared by the
adapter's tests (tests/adapters/test_tradier.py) and the collector's loopback server
(tests/support/tradier_server.py): 228175 (AAPL limit buy, expired), 228749 (SPY call
buy_to_open, expired), 229063 (a combo, canceled) whose first leg 229064 is shown as published
(id, type, symbol, side, quantity, status); the page excerpt stops there, so that leg's dates are
its parent's. :func:`poll` is order 228175 with only its fill fields (status, exec_quantity,
avg_fill_price, last_fill_*, remaining_quantity) set as a partially filled and then filled poll
reports them, and, when given, its transaction_date (the time of its last update); Tradier
publishes no filled example. :func:`combo_poll` is the combo with its leg's fill fields set the
same way. :data:`PENDING` and :data:`REJECTED` are the
same order as a poll reports it held by Tradier (``pending``), then refused downstream
(``rejected``, its ``reason_description``: the rejection details of the Orders reference,
https://documentation.tradier.com/brokerage-api/reference/response/orders, worded as Tradier's
error table words DayTradingBuyingPowerExceeded,
https://documentation.tradier.com/brokerage-api/overview/errors).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

VENUE = "tradier"
ACCOUNT = "VA000000"

AAPL = {
    "id": 228175, "type": "limit", "symbol": "AAPL", "side": "buy", "quantity": 50.00000000,
    "status": "expired", "duration": "pre", "price": 22.0, "avg_fill_price": 0.00000000,
    "exec_quantity": 0.00000000, "last_fill_price": 0.00000000, "last_fill_quantity": 0.00000000,
    "remaining_quantity": 0.00000000, "create_date": "2018-06-01T12:02:29.682Z",
    "transaction_date": "2018-06-01T12:30:02.385Z", "class": "equity",
}  # fmt: skip
SPY_CALL = {
    "id": 228749, "type": "market", "symbol": "SPY", "side": "buy_to_open", "quantity": 1.00000000,
    "status": "expired", "duration": "pre", "avg_fill_price": 0.00000000,
    "exec_quantity": 0.00000000, "last_fill_price": 0.00000000, "last_fill_quantity": 0.00000000,
    "remaining_quantity": 0.00000000, "create_date": "2018-06-06T20:16:17.342Z",
    "transaction_date": "2018-06-06T20:16:17.357Z", "class": "option",
    "option_symbol": "SPY180720C00274000",
}  # fmt: skip
COMBO = {
    "id": 229063, "type": "debit", "symbol": "SPY", "side": "buy", "quantity": 1.00000000,
    "status": "canceled", "duration": "pre", "price": 42.0, "avg_fill_price": 0.00,
    "exec_quantity": 0.00000000, "last_fill_price": 0.00000000, "last_fill_quantity": 0.00000000,
    "remaining_quantity": 0.00000000, "create_date": "2018-06-12T21:13:36.076Z",
    "transaction_date": "2018-06-12T21:18:41.604Z", "class": "combo", "num_legs": 2,
    "strategy": "covered call",
    "leg": [{"id": 229064, "type": "debit", "symbol": "SPY", "side": "buy", "quantity": 100.00000000,
             "status": "canceled", "create_date": "2018-06-12T21:13:36.076Z",
             "transaction_date": "2018-06-12T21:18:41.604Z"}],
}  # fmt: skip


def poll(
    status: str,
    executed: str,
    average: str,
    last: str,
    last_qty: str,
    tag: str | None = None,
    at: str | None = None,
) -> dict[str, Any]:
    """Order 228175 as a poll reports it at a given fill progress (a single-order reply);
    ``at``: its ``transaction_date`` (the time of its last update), else the published one."""
    order = dict(AAPL, status=status, exec_quantity=executed, avg_fill_price=average, last_fill_price=last,
                 last_fill_quantity=last_qty, remaining_quantity=str(50 - Decimal(executed)))  # fmt: skip
    if tag:
        order["tag"] = tag
    if at:
        order["transaction_date"] = at
    return {"order": order}


def combo_poll(status: str, executed: str, average: str, at: str) -> dict[str, Any]:
    """Combo 229063 as a poll reports it when its leg 229064 has the given status, fill and
    ``transaction_date`` (the combo's status and date are its leg's)."""
    leg = dict(COMBO["leg"][0], status=status, exec_quantity=executed, avg_fill_price=average,  # type: ignore[index]
               remaining_quantity=str(100 - Decimal(executed)), transaction_date=at)  # fmt: skip
    return {"order": dict(COMBO, status=status, transaction_date=at, leg=[leg])}


REJECTION = "There is not enough day trading buying power for the requested order"
"""Tradier's published description of DayTradingBuyingPowerExceeded (a downstream refusal)."""
PENDING = poll("pending", "0", "0", "0", "0")
"""228175 held by Tradier: nothing filled, 50 − 0 = 50 remaining."""
REJECTED = {"order": dict(poll("rejected", "0", "0", "0", "0")["order"], reason_description=REJECTION)}
"""228175 refused after Tradier held it."""
