"""Booking risk limits and trading states into the log (``domain.risk``).

``processing`` hands every ``limit_set``, ``limit_cleared`` and ``trading_state`` message here.
Each setting is an aggregate of its own (keyed by what it sets and when), so the same message
again is a duplicate and two writers setting different limits never contend; the event joins the
batch's group commit like any other (journal row, hash chain, views folded inline).
"""

from __future__ import annotations

from orderledger.domain.errors import FactConflictError
from orderledger.domain.events import BreachRecorded, LimitCleared, LimitSet, OrderEvent, TradingStateSet
from orderledger.domain.risk import (
    GLOBAL,
    breach_id_for,
    limit_id_for,
    record_limit,
    record_state,
    state_id_for,
)
from orderledger.infrastructure.ingest.booking import Booking
from orderledger.infrastructure.ingest.input_outcomes import Decided
from orderledger.infrastructure.messages.models import (
    LimitClearedMessage,
    LimitSetMessage,
    TradingStateMessage,
)
from orderledger.infrastructure.storage.store import JournalEntry


def book_limit(
    batch: Booking, message: LimitSetMessage | LimitClearedMessage, entry: JournalEntry
) -> Decided:
    """Decide one ``limit_set`` or ``limit_cleared`` message inside a batch."""
    existing = batch.latest(limit_id_for(message.scope, message.target, message.kind, message.ts))
    if existing is not None and not isinstance(existing, LimitSet | LimitCleared):  # pragma: no cover
        raise FactConflictError("the limit's key names another fact")
    value = message.value if isinstance(message, LimitSetMessage) else None
    interval = message.interval if isinstance(message, LimitSetMessage) else None
    response = message.response if isinstance(message, LimitSetMessage) else None
    event = record_limit(
        existing,
        scope=message.scope,
        target=message.target,
        kind=message.kind,
        value=value,
        interval=interval,
        set_by=message.set_by,
        reason=message.reason,
        stamp=batch.stamp(message),
        response=response,
    )
    shown = f"{message.kind} limit of {message.scope} {message.target!r} at this time"
    return batch.book(event, entry, f"{shown} is already recorded")


def book_state(batch: Booking, message: TradingStateMessage, entry: JournalEntry) -> Decided:
    """Decide one ``trading_state`` message inside a batch."""
    account = message.account or GLOBAL
    existing = batch.latest(state_id_for(account, message.ts))
    if existing is not None and not isinstance(existing, TradingStateSet):  # pragma: no cover
        raise FactConflictError("the trading state's key names another fact")
    event = record_state(
        existing,
        account=account,
        state=message.state,
        set_by=message.set_by,
        reason=message.reason,
        stamp=batch.stamp(message),
        until=message.until,
    )
    shown = f"trading state of {account!r}" if account else "trading state of every account"
    return batch.book(event, entry, f"{shown} at this time is already recorded")


def book_breach(batch: Booking, event: BreachRecorded | None, entry: JournalEntry) -> list[OrderEvent]:
    """Book what the risk door found of an input (a ``BreachRecorded``) into its commit; the same
    breach at the same time already recorded is not booked again."""
    if event is None or batch.latest(event.originator_id) is not None:
        return []
    return batch.book(event, entry, "")[2]


def book_flag(
    batch: Booking, event: BreachRecorded, client_order_id: str, entry: JournalEntry
) -> list[OrderEvent]:
    """Book the breach of a venue's order the door flagged, under the client order ID the order
    was recorded with (a venue's report may name it by its venue order ID alone)."""
    if event.client_order_id != client_order_id:
        moved = breach_id_for(client_order_id, event.account, event.ts_event, event.action)
        event = event.model_copy(update={"client_order_id": client_order_id, "originator_id": moved})
    return book_breach(batch, event, entry)


__all__ = ["book_breach", "book_flag", "book_limit", "book_state"]
