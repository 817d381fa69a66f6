"""Booking cash flows (funding, interest, rebates) and marks into the log.

``processing`` hands every ``cash_flow`` and ``mark`` message here. Each fact has an aggregate of
its own (``domain.cash_flows``): the one already recorded is the one decided earlier in the same
batch, else the one in the log; ``record_cash_flow`` / ``record_mark`` decide whether the message
is new, a duplicate or a conflict. The event joins the batch's group commit like any order event
(journal row, hash chain, views folded inline). Two writers recording the same fact at once
collide on the (aggregate, version) key and the later batch is decided again: it then finds the
winner's event, and its own copy is a duplicate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID
from weakref import WeakKeyDictionary

from orderledger.domain.cash_flows import cash_flow_id_for, mark_id_for, record_cash_flow, record_mark
from orderledger.domain.events import CashFlowRecorded, MarkRecorded, OrderEvent
from orderledger.domain.order import Stamp
from orderledger.domain.outcomes import Outcome
from orderledger.infrastructure.ingest.fates import Handled
from orderledger.infrastructure.messages.models import CashFlowMessage, MarkMessage

if TYPE_CHECKING:
    from orderledger.infrastructure.ingest.processing import _Batch
    from orderledger.infrastructure.storage.store import JournalEntry

# Facts decided in a batch not yet committed, by aggregate: a later message of the same batch
# must see them. Keyed weakly by the batch, so a batch decided again starts afresh.
_decided: WeakKeyDictionary[Any, dict[UUID, OrderEvent]] = WeakKeyDictionary()


def _recorded(batch: _Batch, aggregate: UUID) -> OrderEvent | None:
    decided = _decided.setdefault(batch, {})
    if aggregate in decided:
        return decided[aggregate]
    stored = batch.p.recorder.select_events(aggregate, limit=1, client_order_id="")
    return batch.p.mapper.to_domain_event(stored[0]) if stored else None


def _stamp(batch: _Batch, message: CashFlowMessage | MarkMessage) -> Stamp:
    return Stamp(ts_event=message.ts, ts_recorded=batch.p.clock(), source=message.source)


def _decide(batch: _Batch, entry: JournalEntry, event: OrderEvent | None, duplicate: str) -> Handled:
    if event is None:
        return Outcome.DUPLICATE, duplicate, []
    _decided.setdefault(batch, {})[event.originator_id] = event
    entry.event_count += 1
    batch.events.append(event)
    batch.commit.events.append(batch.p.mapper.to_stored_event(event))
    batch.commit.event_entries.append(entry)
    return Outcome.APPLIED, None, [event]


def book_cash_flow(batch: _Batch, message: CashFlowMessage, entry: JournalEntry) -> Handled:
    """Decide one ``cash_flow`` message inside a batch: (outcome, reason, events)."""
    existing = _recorded(
        batch, cash_flow_id_for(message.account, message.venue, message.instrument, message.flow_id)
    )
    assert existing is None or isinstance(existing, CashFlowRecorded)
    event = record_cash_flow(
        existing,
        account=message.account,
        venue=message.venue,
        instrument=message.instrument,
        kind=message.kind,
        flow_id=message.flow_id,
        amount=message.amount,
        currency=message.currency,
        stamp=_stamp(batch, message),
        rate=message.rate,
        position_quantity=message.position_quantity,
        tags=dict(message.tags),
    )
    shown = f"cash flow {message.flow_id!r} of {message.account!r} in {message.instrument!r}"
    return _decide(batch, entry, event, f"{shown} is already recorded")


def book_mark(batch: _Batch, message: MarkMessage, entry: JournalEntry) -> Handled:
    """Decide one ``mark`` message inside a batch: (outcome, reason, events)."""
    existing = _recorded(batch, mark_id_for(message.venue, message.instrument, message.ts, message.source))
    assert existing is None or isinstance(existing, MarkRecorded)
    event = record_mark(
        existing,
        venue=message.venue,
        instrument=message.instrument,
        price=message.price,
        stamp=_stamp(batch, message),
    )
    shown = f"mark of {message.instrument!r} at {message.venue!r} from {message.source!r}"
    return _decide(batch, entry, event, f"{shown} at this time is already recorded")


__all__ = ["book_cash_flow", "book_mark"]
