"""What a ledger holds after a venue flow, as plain sorted tuples a test compares with figures
worked out by hand: its trades, its orders, the realized P&L of its positions, its parked messages."""

from __future__ import annotations

from decimal import Decimal

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.reads.view_queries import list_orders, list_positions, list_trades

Trade = tuple[str, Decimal, Decimal, Decimal | None, str | None]


def trades_of(ledger: OrderLedger) -> list[Trade]:
    """(trade ID, quantity, price, fee, fee currency) of every trade."""
    return sorted(
        (
            t["trade_id"],
            Decimal(t["quantity"]),
            Decimal(t["price"]),
            None if t["fee"] is None else Decimal(t["fee"]),
            t["fee_currency"],
        )
        for t in list_trades(ledger.db)
    )


def orders_of(ledger: OrderLedger) -> list[tuple[str, str, Decimal, Decimal, str]]:
    """(client order ID, status, quantity, filled, side) of every order."""
    return sorted(
        (o["client_order_id"], o["status"], Decimal(o["quantity"]), Decimal(o["filled_quantity"]), o["side"])
        for o in list_orders(ledger.db)
    )


def realized(ledger: OrderLedger) -> Decimal:
    """The realized P&L summed over every position."""
    return sum((Decimal(p["realized_pnl"]) for p in list_positions(ledger.db)), Decimal(0))


def parked_rows(ledger: OrderLedger) -> int:
    """How many messages are parked."""
    with ledger.db.read() as tx:
        return int(tx.one("SELECT COUNT(*) FROM parked")[0])


LOT_RULES = ("fifo", "lifo", "hifo")
ARRIVAL_FIELDS = frozenset({"version"})
"""Order fields that count events, not facts: a late fact adds a restatement, so they differ by
arrival order while the order itself does not."""


def all_books(ledger: OrderLedger) -> dict[str, object]:
    """Everything the books show, as comparable data: every order (but ``ARRIVAL_FIELDS``),
    trade and position row, the lots, positions and P&L by day under every cost-basis rule, the
    daily P&L, and how many messages are parked or rejected."""
    with ledger.db.read() as tx:
        outcomes = dict(tx.all("SELECT outcome, COUNT(*) FROM messages GROUP BY outcome"))
    return {
        "orders": sorted(
            sorted((k, str(v)) for k, v in o.items() if k not in ARRIVAL_FIELDS)
            for o in list_orders(ledger.db)
        ),
        "trades": sorted(sorted((k, str(v)) for k, v in t.items()) for t in list_trades(ledger.db)),
        "positions": sorted(sorted((k, str(v)) for k, v in p.items()) for p in list_positions(ledger.db)),
        "lots": sorted(
            repr(lot)
            for rule in LOT_RULES
            for lot in [
                *ledger.analytics.lots(cost_basis=rule),
                *ledger.analytics.lots(cost_basis=rule, closed=True),
            ]
        ),
        "positions by rule": sorted(
            repr(row) for rule in ("average", *LOT_RULES) for row in ledger.positions(cost_basis=rule)
        ),
        "pnl": sorted(
            repr(row) for rule in ("average", *LOT_RULES) for row in ledger.pnl(by="day", cost_basis=rule)
        ),
        "daily": sorted(map(repr, ledger.analytics.pnl_daily())),
        "parked": parked_rows(ledger),
        "rejected": outcomes.get("rejected", 0),
    }
