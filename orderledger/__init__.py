"""OrderLedger: an event-sourced order ledger for trading systems.

    from orderledger import OrderLedger

    with OrderLedger("sqlite:///orderledger.db") as ledger:
        ledger.record({"type": "request", "client_order_id": "c-1", ...})

The repository keeps the design's folders at its top level (``domain/``, ``projections/``,
``infrastructure/``); ``pyproject.toml`` maps them into this one namespace, ``orderledger``
(setuptools' ``package-dir``), so an installation adds nothing else to ``site-packages``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orderledger.domain.errors import (
        AmendBelowFilledError,
        ClientOrderIdReuseError,
        FillConflictError,
        IdentityConflictError,
        InvalidInputError,
        InvalidTransitionError,
        LedgerError,
        OrderNotFoundError,
        OverfillError,
        UnknownTradeError,
    )
    from orderledger.domain.outcomes import Outcome
    from orderledger.domain.values import ClientOrderId, TradeId, VenueOrderId
    from orderledger.infrastructure.application.aio import AsyncOrderLedger
    from orderledger.infrastructure.application.ledger import IngestReport, OrderLedger
    from orderledger.infrastructure.application.placing import AsyncPlacement, Placement
    from orderledger.infrastructure.application.reads.follow import CommittedEvent
    from orderledger.infrastructure.application.risk.pretrade import CheckResult, LimitRow, TradingStateRow
    from orderledger.infrastructure.application.upkeep.reconcile import Difference, ReconcileReport, Snapshot
    from orderledger.infrastructure.audit.verify import VerifyReport
    from orderledger.infrastructure.errors import (
        ConcurrencyError,
        ConfigurationError,
        DatabaseCorruptError,
        DatabaseLockedError,
        DatabaseReplacedError,
        MessageError,
        OrderDeniedError,
        RequestNotRecordedError,
        StoreError,
    )
    from orderledger.infrastructure.ingest.inbound import Result
    from orderledger.infrastructure.results.filter import Filter
    from orderledger.infrastructure.results.head import Head
    from orderledger.infrastructure.results.log import EventRecord, HistoryEntry, InstrumentRow, MessageRecord
    from orderledger.infrastructure.results.orders import OrderRow
    from orderledger.infrastructure.results.pnl import PnlPoint, PnlRow
    from orderledger.infrastructure.results.positions import ExposureRow, PositionRow
    from orderledger.infrastructure.results.trades import TradeRow

_HOMES = {
    "AmendBelowFilledError": "orderledger.domain.errors",
    "AsyncOrderLedger": "orderledger.infrastructure.application.aio",
    "AsyncPlacement": "orderledger.infrastructure.application.placing",
    "ClientOrderId": "orderledger.domain.values",
    "ClientOrderIdReuseError": "orderledger.domain.errors",
    "CommittedEvent": "orderledger.infrastructure.application.reads.follow",
    "ConcurrencyError": "orderledger.infrastructure.errors",
    "ConfigurationError": "orderledger.infrastructure.errors",
    "DatabaseCorruptError": "orderledger.infrastructure.errors",
    "DatabaseLockedError": "orderledger.infrastructure.errors",
    "DatabaseReplacedError": "orderledger.infrastructure.errors",
    "Difference": "orderledger.infrastructure.application.upkeep.reconcile",
    "EventRecord": "orderledger.infrastructure.results.log",
    "ExposureRow": "orderledger.infrastructure.results.positions",
    "FillConflictError": "orderledger.domain.errors",
    "Filter": "orderledger.infrastructure.results.filter",
    "Head": "orderledger.infrastructure.results.head",
    "HistoryEntry": "orderledger.infrastructure.results.log",
    "IdentityConflictError": "orderledger.domain.errors",
    "IngestReport": "orderledger.infrastructure.application.ledger",
    "InstrumentRow": "orderledger.infrastructure.results.log",
    "InvalidInputError": "orderledger.domain.errors",
    "InvalidTransitionError": "orderledger.domain.errors",
    "LedgerError": "orderledger.domain.errors",
    "MessageError": "orderledger.infrastructure.errors",
    "MessageRecord": "orderledger.infrastructure.results.log",
    "CheckResult": "orderledger.infrastructure.application.risk.pretrade",
    "LimitRow": "orderledger.infrastructure.application.risk.pretrade",
    "OrderDeniedError": "orderledger.infrastructure.errors",
    "OrderLedger": "orderledger.infrastructure.application.ledger",
    "TradingStateRow": "orderledger.infrastructure.application.risk.pretrade",
    "OrderNotFoundError": "orderledger.domain.errors",
    "OrderRow": "orderledger.infrastructure.results.orders",
    "Outcome": "orderledger.domain.outcomes",
    "OverfillError": "orderledger.domain.errors",
    "Placement": "orderledger.infrastructure.application.placing",
    "PnlPoint": "orderledger.infrastructure.results.pnl",
    "PnlRow": "orderledger.infrastructure.results.pnl",
    "PositionRow": "orderledger.infrastructure.results.positions",
    "ReconcileReport": "orderledger.infrastructure.application.upkeep.reconcile",
    "RequestNotRecordedError": "orderledger.infrastructure.errors",
    "Result": "orderledger.infrastructure.ingest.inbound",
    "Snapshot": "orderledger.infrastructure.application.upkeep.reconcile",
    "StoreError": "orderledger.infrastructure.errors",
    "TradeId": "orderledger.domain.values",
    "TradeRow": "orderledger.infrastructure.results.trades",
    "UnknownTradeError": "orderledger.domain.errors",
    "VenueOrderId": "orderledger.domain.values",
    "VerifyReport": "orderledger.infrastructure.audit.verify",
}
"""Where each exported name lives. A name is imported on first use (``from orderledger import
OrderLedger`` imports the application, not the async API, the collectors or the audit), so a
program or command that needs one part of the library does not pay to load the rest."""


def __getattr__(name: str) -> Any:
    """An exported name, imported from its module on first use (PEP 562), then kept here."""
    if name == "__version__":
        # start-up cost: importlib.metadata is slow to import, and few callers ask the version
        from importlib.metadata import version

        value: Any = version("orderledger")
    elif name in _HOMES:
        value = getattr(import_module(_HOMES[name]), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES, "__version__"})


__all__ = [
    "AmendBelowFilledError",
    "AsyncOrderLedger",
    "AsyncPlacement",
    "CheckResult",
    "ClientOrderId",
    "ClientOrderIdReuseError",
    "CommittedEvent",
    "ConcurrencyError",
    "ConfigurationError",
    "DatabaseCorruptError",
    "DatabaseLockedError",
    "DatabaseReplacedError",
    "Difference",
    "EventRecord",
    "ExposureRow",
    "FillConflictError",
    "Filter",
    "Head",
    "HistoryEntry",
    "IdentityConflictError",
    "IngestReport",
    "InstrumentRow",
    "InvalidInputError",
    "InvalidTransitionError",
    "LedgerError",
    "LimitRow",
    "MessageError",
    "MessageRecord",
    "OrderDeniedError",
    "OrderLedger",
    "OrderNotFoundError",
    "OrderRow",
    "Outcome",
    "OverfillError",
    "Placement",
    "PnlPoint",
    "PnlRow",
    "PositionRow",
    "ReconcileReport",
    "RequestNotRecordedError",
    "Result",
    "Snapshot",
    "StoreError",
    "TradeId",
    "TradeRow",
    "TradingStateRow",
    "UnknownTradeError",
    "VenueOrderId",
    "VerifyReport",
]
