"""What a fact of its own aggregate (an instrument's definition, a cash flow, a mark) needs from
the batch that decides it.

Such a fact is not an order's: its aggregate holds its own events (``domain.instrument``,
``domain.cash_flows``). Its booker reads the aggregate's latest event (the one decided earlier in
the same batch, else the log's), lets the domain decide, and books the event into the batch's
group commit like any order event (journal row, hash chain, views folded inline). The batch
(``processing``) provides exactly these three operations; the bookers know nothing else of it.
"""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from orderledger.domain.decisions import Stamp
from orderledger.domain.events import OrderEvent
from orderledger.infrastructure.ingest.input_outcomes import Decided
from orderledger.infrastructure.messages.models import Message
from orderledger.infrastructure.storage.store import JournalEntry


class Booking(Protocol):
    """The batch, as the bookers of facts of their own aggregate see it."""

    def stamp(self, message: Message) -> Stamp:
        """The message's venue time and source, with the ledger's clock as recorded time."""
        ...

    def latest(self, aggregate: UUID) -> OrderEvent | None:
        """The aggregate's latest event: decided earlier in this batch, else in the log, else None."""
        ...

    def book(self, event: OrderEvent | None, entry: JournalEntry, duplicate: str) -> Decided:
        """Add ``event`` (caused by ``entry``'s message) to the batch's commit: applied; no event
        (the domain found the fact already recorded): a duplicate, ``duplicate`` saying why."""
        ...


__all__ = ["Booking"]
