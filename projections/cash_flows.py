"""Read model: cash flows of positions (funding, interest, rebates), one row per payment.

Positions and P&L join these rows at query time: a position's funding is the sum of its rows
per currency, and net P&L includes it. Kept apart from the positions fold because a payment
moves no quantity and no cost basis: however fills are ordered or re-folded, a position's cash
flows are the same set of rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

import orjson

from orderledger.domain.events import CashFlowRecorded, OrderEvent
from orderledger.domain.values import format_decimal, format_timestamp
from orderledger.projections.base import Column, Projection, Table, TableSpec


@dataclass(frozen=True, slots=True)
class CashFlow:
    """One payment a position received (positive) or paid (negative)."""

    position: int
    account: str
    venue: str
    instrument: str
    day: str  # the UTC day of the venue time
    ts_event: str
    ts_recorded: str
    kind: str
    flow_id: str
    amount: Decimal
    currency: str
    tags: dict[str, str]


CASH_FLOWS_TABLE: TableSpec[int, CashFlow] = TableSpec(
    name="cash_flows_view",
    columns=(
        Column("position", "INTEGER"),
        Column("account"),
        Column("venue"),
        Column("instrument"),
        Column("day"),
        Column("ts_event"),
        Column("ts_recorded"),
        Column("kind"),
        Column("flow_id"),
        Column("amount"),
        Column("currency"),
        Column("tags"),
    ),
    key=("position",),
    to_row=lambda f: (
        f.position,
        f.account,
        f.venue,
        f.instrument,
        f.day,
        f.ts_event,
        f.ts_recorded,
        f.kind,
        f.flow_id,
        format_decimal(f.amount),
        f.currency,
        orjson.dumps(f.tags).decode() if f.tags else "{}",
    ),
    from_row=lambda r: CashFlow(
        int(r[0]),
        str(r[1]),
        str(r[2]),
        str(r[3]),
        str(r[4]),
        str(r[5]),
        str(r[6]),
        str(r[7]),
        str(r[8]),
        Decimal(r[9]),
        str(r[10]),
        orjson.loads(r[11]),
    ),
    key_of_row=lambda r: int(r[0]),
    key_values=lambda key: (key,),
    indexes=(("account", "venue", "instrument"),),
)


class CashFlowsProjection(Projection):
    """Every ``CashFlowRecorded`` becomes a row (a payment is never changed once recorded)."""

    name: ClassVar[str] = "cash_flows"
    tables: ClassVar[tuple[TableSpec[Any, Any], ...]] = (CASH_FLOWS_TABLE,)
    events: ClassVar[tuple[type[OrderEvent], ...] | None] = (CashFlowRecorded,)

    def partition(self, event_type: type[OrderEvent], fields: Mapping[str, Any]) -> str | None:
        if event_type is CashFlowRecorded:
            return f"{fields['account']}\x1f{fields['venue']}\x1f{fields['instrument']}"
        return None

    def apply(self, position: int, event: OrderEvent, tables: Mapping[str, Table[Any, Any]]) -> None:
        if not isinstance(event, CashFlowRecorded):
            return
        table: Table[int, CashFlow] = tables[CASH_FLOWS_TABLE.name]
        table.put(
            position,
            CashFlow(
                position,
                event.account,
                event.venue,
                event.instrument,
                event.ts_event.date().isoformat(),
                format_timestamp(event.ts_event),
                format_timestamp(event.ts_recorded),
                event.kind,
                event.flow_id,
                event.amount,
                event.currency,
                dict(event.tags),
            ),
        )
