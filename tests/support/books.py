"""What a ledger holds after a venue flow, as plain sorted tuples a test compares with figures
worked out by hand: its trades, its orders, the realized P&L of its positions, its parked messages."""

from __future__ import annotations

from decimal import Decimal

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.queries import list_orders, list_positions, list_trades

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
