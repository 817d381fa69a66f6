"""The ledger's typed requests, answered by ``OrderLedger.handle`` (docs/python.md, "Typed requests").

from orderledger import Filter
from orderledger.requests import Orders, Pnl

ledger.handle(Orders(Filter(account="alpha"), open=True))   # a Page[OrderRow]
ledger.handle(Pnl(by="account"))                            # a list[PnlRow]

The writes the HTTP API takes are requests too (``Ingest``, ``Reconcile``, ``Settle``); each
request declares the role asking it needs (``role``: one of ``ROLES``).
"""

from __future__ import annotations

from orderledger.infrastructure.application.requests import (
    REQUESTS,
    ROLES,
    Events,
    EventsAfter,
    ExecutionQuality,
    Exposure,
    History,
    Ingest,
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
    Reconcile,
    Request,
    Settle,
    Trades,
    Verify,
)

__all__ = [
    "REQUESTS",
    "ROLES",
    "Events",
    "EventsAfter",
    "ExecutionQuality",
    "Exposure",
    "History",
    "Ingest",
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
    "Reconcile",
    "Request",
    "Settle",
    "Trades",
    "Verify",
]
