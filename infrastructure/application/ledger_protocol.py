"""``LedgerParts``: what the application's helper modules use of the ledger they are handed.

``OrderLedger`` keeps its public methods thin and hands itself to the modules that do the work
(``reads``, ``writes``, ``upkeep``, ``analytics`` …). They name it by this protocol, not by the
class: a helper depends on the parts it uses (the database, the mapper, the recorder, a few
reads), never on ``application.ledger``, so no module of the application imports the ledger
back, not even for an annotation, and the import graph has no cycle (the ``acyclic_siblings``
contract of ``pyproject.toml`` checks it, ``TYPE_CHECKING`` imports included).
``OrderLedger`` satisfies it structurally, its groups (``application.ledger_groups``) included; a
member used by a helper is declared here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from orderledger.domain.events import OrderEvent
from orderledger.domain.order import Order
from orderledger.domain.values import ClientOrderId
from orderledger.infrastructure.listing import Page
from orderledger.infrastructure.results.filter import Filter
from orderledger.infrastructure.results.log import EventRecord, InstrumentRow
from orderledger.infrastructure.results.orders import OrderRow
from orderledger.infrastructure.results.pnl import DailyPnlRow
from orderledger.infrastructure.results.positions import LotRow
from orderledger.infrastructure.results.trades import TradeRow
from orderledger.infrastructure.storage.db import Database
from orderledger.infrastructure.storage.mapper import LedgerMapper
from orderledger.infrastructure.storage.store import LedgerRecorder
from orderledger.infrastructure.storage.views import CatchUpStats, Views

if TYPE_CHECKING:
    from orderledger.infrastructure.ingest.inbound import Result
    from orderledger.infrastructure.ingest.processing import Processor


class Commits(Protocol):
    """What a follower waits on: the count of commits, and a wait for the next
    (``follow.Wakeup``)."""

    generation: int

    def wait(self, timeout: float, seen: int) -> bool: ...


class AuditParts(Protocol):
    """What the helpers use of ``ledger.audit``."""

    def order_events(self, client_order_id: str) -> list[OrderEvent]: ...

    def iter_events(self, where: Filter, *, types: Sequence[str] = ...) -> Iterator[EventRecord]: ...


class AnalyticsParts(Protocol):
    """What the helpers use of ``ledger.analytics``."""

    def cost_basis(self) -> str: ...

    def lots(self, *, cost_basis: str = ..., closed: bool = ...) -> list[LotRow]: ...

    def pnl_daily(self, *, by: str = ..., cost_basis: str | None = ...) -> list[DailyPnlRow]: ...


class UpkeepParts(Protocol):
    """What the helpers use of ``ledger.upkeep``."""

    def catch_up(self) -> CatchUpStats: ...

    def views_position(self) -> int: ...


class VenuesParts(Protocol):
    """What the helpers use of ``ledger.venues``."""

    def instruments(self) -> Page[InstrumentRow]: ...


class LedgerParts(Protocol):
    """The ledger as its helper modules see it (``OrderLedger`` is one)."""

    url: str
    db: Database
    mapper: LedgerMapper
    recorder: LedgerRecorder
    views: Views
    batch_size: int
    processor: Processor
    _writing: threading.RLock
    _clock: Callable[[], datetime]

    @property
    def committed(self) -> Commits: ...

    def _fold_inline(
        self, tx: Any, committed: list[tuple[int, OrderEvent]], decided: dict[str, Order]
    ) -> None: ...

    def _after_commit(
        self, committed: list[tuple[int, OrderEvent]], decided: dict[str, Order] | None = None
    ) -> None: ...

    def handle(self, request: Any) -> Any: ...  # a typed request (application.requests names these)

    def record(self, message: dict[str, Any], *, origin: str = ..., strict: bool = ...) -> Result: ...

    def resolve(self, key: str, venue: str | None = None) -> ClientOrderId: ...

    def log_position(self) -> int: ...

    def iter_orders(self, where: Filter) -> Iterator[OrderRow]: ...

    def iter_trades(self, where: Filter) -> Iterator[TradeRow]: ...

    @property
    def audit(self) -> AuditParts: ...

    @property
    def analytics(self) -> AnalyticsParts: ...

    @property
    def upkeep(self) -> UpkeepParts: ...

    @property
    def venues(self) -> VenuesParts: ...


__all__ = ["AnalyticsParts", "AuditParts", "Commits", "LedgerParts", "UpkeepParts", "VenuesParts"]
