"""OrderLedger: an event-sourced order ledger for trading systems.

    from orderledger import OrderLedger

    with OrderLedger("sqlite:///orderledger.db") as ledger:
        ledger.record({"type": "request", "client_order_id": "c-1", ...})

The repository keeps the design's folders at its top level (``domain/``, ``projections/``,
``infrastructure/``); this package maps them into one namespace, ``orderledger``, so an
installation adds nothing else to ``site-packages``.
"""

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
from orderledger.infrastructure.application.ledger import HistoryEntry, IngestReport, OrderLedger
from orderledger.infrastructure.errors import (
    ConcurrencyError,
    ConfigurationError,
    DatabaseCorruptError,
    DatabaseLockedError,
    MessageError,
    StoreError,
)
from orderledger.infrastructure.ingest.processing import Result

__all__ = [
    "AmendBelowFilledError",
    "ClientOrderIdReuseError",
    "ConcurrencyError",
    "ConfigurationError",
    "DatabaseCorruptError",
    "DatabaseLockedError",
    "FillConflictError",
    "HistoryEntry",
    "IdentityConflictError",
    "IngestReport",
    "InvalidInputError",
    "InvalidTransitionError",
    "LedgerError",
    "MessageError",
    "OrderLedger",
    "OrderNotFoundError",
    "OverfillError",
    "Result",
    "StoreError",
    "UnknownTradeError",
]
