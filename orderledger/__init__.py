"""OrderLedger: an event-sourced order ledger for trading systems.

    from orderledger import OrderLedger

    with OrderLedger("sqlite:///orderledger.db") as ledger:
        ledger.record({"type": "request", "client_order_id": "c-1", ...})

The repository keeps the design's folders at its top level (``domain/``, ``projections/``,
``infrastructure/``); ``pyproject.toml`` maps them into this one namespace, ``orderledger``
(setuptools' ``package-dir``), so an installation adds nothing else to ``site-packages``.
"""

from importlib.metadata import version as _version

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
from orderledger.infrastructure.application.aio import AsyncOrderLedger
from orderledger.infrastructure.application.follow import CommittedEvent
from orderledger.infrastructure.application.ledger import IngestReport, OrderLedger
from orderledger.infrastructure.application.placing import AsyncPlacement, Placement
from orderledger.infrastructure.application.reconcile import Difference, ReconcileReport, Snapshot
from orderledger.infrastructure.audit.verify import VerifyReport
from orderledger.infrastructure.errors import (
    ConcurrencyError,
    ConfigurationError,
    DatabaseCorruptError,
    DatabaseLockedError,
    DatabaseReplacedError,
    MessageError,
    RequestNotRecordedError,
    StoreError,
)
from orderledger.infrastructure.ingest.processing import Result
from orderledger.infrastructure.results import (
    EventRecord,
    Filter,
    Head,
    HistoryEntry,
    InstrumentRow,
    MessageRecord,
    OrderRow,
    PnlPoint,
    PnlRow,
    PositionRow,
    TradeRow,
)

__version__ = _version("orderledger")
"""The installed release (semantic versioning; CHANGELOG.md says what each one changed)."""

__all__ = [
    "AmendBelowFilledError",
    "AsyncOrderLedger",
    "AsyncPlacement",
    "ClientOrderIdReuseError",
    "CommittedEvent",
    "ConcurrencyError",
    "ConfigurationError",
    "DatabaseCorruptError",
    "DatabaseLockedError",
    "DatabaseReplacedError",
    "Difference",
    "EventRecord",
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
    "MessageError",
    "MessageRecord",
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
    "TradeRow",
    "UnknownTradeError",
    "VerifyReport",
]
