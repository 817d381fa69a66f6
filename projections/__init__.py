"""Read models folded from the event log: orders, trades, positions and P&L, cash flows, marks,
risk limits and trading states.

Each module holds one read model: its tables and a pure fold (no I/O). Infrastructure
persists them; ``fold`` in :mod:`projections.base` runs them in memory.
"""

from orderledger.projections.base import Projection, fold
from orderledger.projections.cash_flows import CashFlowsProjection
from orderledger.projections.marks import MarksProjection
from orderledger.projections.orders import OrdersProjection
from orderledger.projections.positions import PositionsProjection
from orderledger.projections.risk import RiskProjection
from orderledger.projections.trades import TradesProjection

PROJECTIONS: tuple[type[Projection], ...] = (
    OrdersProjection,
    TradesProjection,
    PositionsProjection,
    CashFlowsProjection,
    MarksProjection,
    RiskProjection,
)

__all__ = [
    "PROJECTIONS",
    "CashFlowsProjection",
    "MarksProjection",
    "OrdersProjection",
    "PositionsProjection",
    "RiskProjection",
    "TradesProjection",
    "fold",
]
