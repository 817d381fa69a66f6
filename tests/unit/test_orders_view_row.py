"""The orders view's row: the snapshot's texts first, and enough to restore the order."""

from __future__ import annotations

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.simulator import simulate
from orderledger.projections.orders import ORDERS_TABLE, SHOWN_COLUMNS, shown


def test_a_stored_row_shows_the_snapshot_and_restores_the_order() -> None:
    with OrderLedger("sqlite:///:memory:") as ledger:
        for message in simulate(5, 40):
            ledger.record(message)
        orders = [ledger.get_order(r.client_order_id) for r in ledger.orders()]
    assert orders
    for order in orders:
        row = ORDERS_TABLE.to_row(order)
        assert tuple(shown(row)) == SHOWN_COLUMNS
        assert shown(row) == order.snapshot()
        restored = ORDERS_TABLE.from_row(row)
        assert ORDERS_TABLE.to_row(restored) == row
        assert restored.fills.keys() == order.fills.keys()
