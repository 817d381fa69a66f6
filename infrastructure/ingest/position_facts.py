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

from orderledger.domain.cash_flows import cash_flow_id_for, mark_id_for, record_cash_flow, record_mark
from orderledger.domain.events import CashFlowRecorded, MarkRecorded
from orderledger.infrastructure.ingest.booking import Booking
from orderledger.infrastructure.ingest.input_outcomes import Decided
from orderledger.infrastructure.messages.models import CashFlowMessage, MarkMessage
from orderledger.infrastructure.storage.store import JournalEntry


def book_cash_flow(batch: Booking, message: CashFlowMessage, entry: JournalEntry) -> Decided:
    """Decide one ``cash_flow`` message inside a batch: (outcome, reason, events)."""
    existing = batch.latest(
        cash_flow_id_for(message.account, message.venue, message.instrument, message.flow_id)
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
        stamp=batch.stamp(message),
        rate=message.rate,
        position_quantity=message.position_quantity,
        tags=dict(message.tags),
    )
    shown = f"cash flow {message.flow_id!r} of {message.account!r} in {message.instrument!r}"
    return batch.book(event, entry, f"{shown} is already recorded")


def book_mark(batch: Booking, message: MarkMessage, entry: JournalEntry) -> Decided:
    """Decide one ``mark`` message inside a batch: (outcome, reason, events)."""
    existing = batch.latest(mark_id_for(message.venue, message.instrument, message.ts, message.source))
    assert existing is None or isinstance(existing, MarkRecorded)
    event = record_mark(
        existing,
        venue=message.venue,
        instrument=message.instrument,
        price=message.price,
        stamp=batch.stamp(message),
    )
    shown = f"mark of {message.instrument!r} at {message.venue!r} from {message.source!r}"
    return batch.book(event, entry, f"{shown} at this time is already recorded")


__all__ = ["book_cash_flow", "book_mark"]
