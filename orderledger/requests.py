"""The ledger's typed requests, answered by ``OrderLedger.handle`` (docs/python.md, "Typed requests").

from orderledger import Filter
from orderledger.requests import Orders, Pnl

ledger.handle(Orders(Filter(account="alpha"), open=True))   # a Page[OrderRow]
ledger.handle(Pnl(by="account"))                            # a list[PnlRow]
"""

from __future__ import annotations

from orderledger.infrastructure.application.requests import (
    REQUESTS,
    Events,
    EventsAfter,
    ExecutionQuality,
    Exposure,
    History,
    Instruments,
    Lag,
    LogPosition,
    Lots,
    Messages,
    OrderAt,
    Orders,
    Parents,
    Pnl,
    PnlDaily,
    PnlSeries,
    Positions,
    Request,
    Trades,
    Verify,
)

__all__ = [
    "REQUESTS",
    "Events",
    "EventsAfter",
    "ExecutionQuality",
    "Exposure",
    "History",
    "Instruments",
    "Lag",
    "LogPosition",
    "Lots",
    "Messages",
    "OrderAt",
    "Orders",
    "Parents",
    "Pnl",
    "PnlDaily",
    "PnlSeries",
    "Positions",
    "Request",
    "Trades",
    "Verify",
]
