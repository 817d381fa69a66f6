"""Order rows: one order as it stands (:class:`OrderRow`), and one parent with its child orders
(:class:`ParentRow`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from orderledger.domain.order_state import ShownOrder
from orderledger.infrastructure.results.rows import ResultRow


@dataclass(frozen=True)
class OrderRow(ShownOrder, ResultRow):
    """One order as it stands (or stood): the fields of ``Order.snapshot()``, typed, in its order.
    They are the domain's declaration of what an order shows (``domain.order_state.ShownOrder``),
    which this row inherits: a field declared there is a field here."""

    @property
    def is_open(self) -> bool:
        """True while the order can still trade."""
        return self.status.is_open


@dataclass(frozen=True)
class ParentRow(ResultRow):
    """A parent (a proposal, a strategy's decision: what orders name as ``parent_id``) and its
    child orders as they stand: how many, how many still open, their accounts and instruments,
    the first one's creation and the last change to any."""

    parent_id: str
    orders: int
    open_orders: int
    accounts: tuple[str, ...]
    instruments: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
