"""Read model: recorded marks, one row per (venue, instrument, time, source).

Positions value a position without a caller's mark at the latest recorded mark of its venue and
instrument at or before the as-of time; daily P&L values each day's end at the day's last mark.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from orderledger.domain.events import MarkRecorded, OrderEvent
from orderledger.domain.values import format_decimal, format_timestamp
from orderledger.projections.base import Column, Projection, Table, TableSpec


@dataclass(frozen=True, slots=True)
class Mark:
    """A price of an instrument at a venue time, from a source."""

    position: int
    venue: str
    instrument: str
    ts_event: str
    ts_recorded: str
    source: str
    price: Decimal


MARKS_TABLE: TableSpec[int, Mark] = TableSpec(
    name="marks_view",
    columns=(
        Column("position", "INTEGER"),
        Column("venue"),
        Column("instrument"),
        Column("ts_event"),
        Column("ts_recorded"),
        Column("source"),
        Column("price"),
    ),
    key=("position",),
    to_row=lambda m: (
        m.position,
        m.venue,
        m.instrument,
        m.ts_event,
        m.ts_recorded,
        m.source,
        format_decimal(m.price),
    ),
    from_row=lambda r: Mark(int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5]), Decimal(r[6])),
    key_of_row=lambda r: int(r[0]),
    key_values=lambda key: (key,),
    # The latest mark at or before a time: one index walk from the end of the instrument's range.
    indexes=(("venue", "instrument", "ts_event"),),
)


class MarksProjection(Projection):
    """Every ``MarkRecorded`` becomes a row."""

    name: ClassVar[str] = "marks"
    tables: ClassVar[tuple[TableSpec[Any, Any], ...]] = (MARKS_TABLE,)
    events: ClassVar[tuple[type[OrderEvent], ...] | None] = (MarkRecorded,)

    def partition(self, event_type: type[OrderEvent], fields: Mapping[str, Any]) -> str | None:
        if event_type is MarkRecorded:
            return f"{fields['venue']}\x1f{fields['instrument']}"
        return None

    def apply(self, position: int, event: OrderEvent, tables: Mapping[str, Table[Any, Any]]) -> None:
        if not isinstance(event, MarkRecorded):
            return
        table: Table[int, Mark] = tables[MARKS_TABLE.name]
        table.put(
            position,
            Mark(
                position,
                event.venue,
                event.instrument,
                format_timestamp(event.ts_event),
                format_timestamp(event.ts_recorded),
                event.source,
                event.price,
            ),
        )
