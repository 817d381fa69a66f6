"""Booking instrument definitions into the log.

``processing`` hands every ``instrument`` message to :func:`book_instrument`: the definition in
force is the latest ``InstrumentDefined`` decided earlier in the same batch, else the latest in
the log; ``domain.instrument.define`` decides whether the message is a duplicate or the next
version. The event joins the batch's group commit like any order event (journal row, hash
chain, views folded inline). Two writers defining the same instrument at once collide on the
(aggregate, version) key and the later batch is decided again, against the winner's version.
Reading them back: ``application.reads.instruments``.
"""

from __future__ import annotations

from orderledger.domain.events import InstrumentDefined
from orderledger.domain.instrument import define, instrument_id_for
from orderledger.infrastructure.ingest.booking import Booking
from orderledger.infrastructure.ingest.input_outcomes import Decided
from orderledger.infrastructure.messages.models import InstrumentMessage
from orderledger.infrastructure.storage.store import JournalEntry


def book_instrument(batch: Booking, message: InstrumentMessage, entry: JournalEntry) -> Decided:
    """Decide one ``instrument`` message inside a batch: (outcome, reason, events)."""
    assert message.venue and message.instrument  # parse_message requires both
    current = batch.latest(instrument_id_for(message.venue, message.instrument))
    assert current is None or isinstance(current, InstrumentDefined)
    event = define(current, message.venue, message.instrument, message.definition(), batch.stamp(message))
    version = current.originator_version if current is not None else 0
    shown = f"instrument {message.instrument!r} at {message.venue!r}"
    return batch.book(event, entry, f"{shown} already has this definition (version {version})")


__all__ = ["book_instrument"]
