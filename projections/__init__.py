"""Read models folded from the event log: orders, trades, positions and P&L, cash flows, marks,
risk limits and trading states.

Each module holds one read model: its tables and a pure fold (no I/O). Infrastructure
persists them; ``fold`` in :mod:`projections.base` runs them in memory.
"""

from orderledger.projections.base import Projection, fold
from orderledger.projections.cash_flows import CashFlowsProjection
from orderledger.projections.lot_views import LotsProjection
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
    LotsProjection,
    RiskProjection,
)
EAGER: tuple[str, ...] = tuple(p.name for p in PROJECTIONS if not p.lazy)
"""The views a commit folds; the others (``Projection.lazy``) are folded by their reads."""

__all__ = [
    "EAGER",
    "PROJECTIONS",
    "CashFlowsProjection",
    "LotsProjection",
    "MarksProjection",
    "OrdersProjection",
    "PositionsProjection",
    "RiskProjection",
    "TradesProjection",
    "fold",
]
