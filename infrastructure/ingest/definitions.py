"""Booking instrument definitions into the log.

``processing`` hands every ``instrument`` message to :func:`book_instrument`: the definition in
force is the latest ``InstrumentDefined`` decided earlier in the same batch, else the latest in
the log; ``domain.instrument.define`` decides whether the message is a duplicate or the next
version. The event joins the batch's group commit like any order event (journal row, hash
chain, views folded inline). Two writers defining the same instrument at once collide on the
(aggregate, version) key and the later batch is decided again, against the winner's version.
Reading them back: ``application.instruments``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID
from weakref import WeakKeyDictionary

from orderledger.domain.events import InstrumentDefined, OrderEvent
from orderledger.domain.instrument import define, instrument_id_for
from orderledger.domain.order import Stamp
from orderledger.domain.outcomes import Outcome
from orderledger.infrastructure.messages.models import InstrumentMessage

if TYPE_CHECKING:
    from orderledger.infrastructure.ingest.processing import _Batch
    from orderledger.infrastructure.storage.store import JournalEntry

# Definitions decided in a batch not yet committed, by aggregate: a later message of the same
# batch must see them. Keyed weakly by the batch, so a batch decided again starts afresh.
_decided: WeakKeyDictionary[Any, dict[UUID, InstrumentDefined]] = WeakKeyDictionary()


def book_instrument(
    batch: _Batch, message: InstrumentMessage, entry: JournalEntry
) -> tuple[Outcome, str | None, list[OrderEvent]]:
    """Decide one ``instrument`` message inside a batch: (outcome, reason, events)."""
    assert message.venue and message.instrument  # parse_message requires both
    aggregate = instrument_id_for(message.venue, message.instrument)
    decided = _decided.setdefault(batch, {})
    current = decided.get(aggregate) or _latest(batch, aggregate)
    stamp = Stamp(ts_event=message.ts, ts_recorded=batch.p.clock(), source=message.source)
    event = define(current, message.venue, message.instrument, message.definition(), stamp)
    if event is None:
        assert current is not None
        return (
            Outcome.DUPLICATE,
            f"instrument {message.instrument!r} at {message.venue!r} already has this definition"
            f" (version {current.originator_version})",
            [],
        )
    decided[aggregate] = event
    entry.event_count += 1
    batch.events.append(event)
    batch.commit.events.append(batch.p.mapper.to_stored_event(event))
    batch.commit.event_entries.append(entry)
    return Outcome.APPLIED, None, [event]


def _latest(batch: _Batch, aggregate: UUID) -> InstrumentDefined | None:
    stored = batch.p.recorder.select_events(aggregate, desc=True, limit=1, client_order_id="")
    if not stored:
        return None
    event = batch.p.mapper.to_domain_event(stored[0])
    assert isinstance(event, InstrumentDefined)
    return event


__all__ = ["book_instrument"]
