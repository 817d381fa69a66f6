"""Read models folded from the event log: orders, trades, positions and P&L.

Each module holds one read model: its tables and a pure fold (no I/O). Infrastructure
persists them; ``fold`` in :mod:`projections.base` runs them in memory.
"""

from orderledger.projections.base import Projection, fold
from orderledger.projections.orders import OrdersProjection
from orderledger.projections.positions import PositionsProjection
from orderledger.projections.trades import TradesProjection

PROJECTIONS: tuple[type[Projection], ...] = (
    OrdersProjection,
    TradesProjection,
    PositionsProjection,
)

__all__ = ["PROJECTIONS", "OrdersProjection", "PositionsProjection", "TradesProjection", "fold"]
