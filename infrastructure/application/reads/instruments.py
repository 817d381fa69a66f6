"""Instrument definitions read back from the log (booking them: ``ingest.instrument_facts``)."""

from __future__ import annotations

from datetime import datetime

from orderledger.domain.events import InstrumentDefined
from orderledger.infrastructure.audit.search import EventFilter, search_events
from orderledger.infrastructure.results.log import EventRecord, InstrumentRow
from orderledger.infrastructure.storage.db import Database
from orderledger.infrastructure.storage.mapper import LedgerMapper


def list_instruments(
    db: Database,
    mapper: LedgerMapper,
    *,
    venue: str | None = None,
    every_version: bool = False,
    as_of: datetime | None = None,
    event_time: bool = False,
) -> list[InstrumentRow]:
    """Instrument definitions from the log: the one in force for each (venue, instrument), or
    every version; each with its version, log position and the message that recorded it. With
    ``as_of``: those the ledger knew at that time (venue time with ``event_time``)."""
    wanted = EventFilter(types=(InstrumentDefined.__name__,), venue=venue, until=as_of, event_time=event_time)
    rows: dict[tuple[str, str], list[InstrumentRow]] = {}
    for position, event, message_id in search_events(db, mapper, wanted):
        row = InstrumentRow.of(EventRecord.of(position, event, message_id))
        versions = rows.setdefault((event.venue, event.instrument), [])
        if every_version:
            versions.append(row)
        else:
            versions[:] = [row]
    return [row for key in sorted(rows) for row in rows[key]]


__all__ = ["list_instruments"]
