"""Read model: risk limits and trading states as set, one row per fact.

Each ``LimitSet`` / ``LimitCleared`` and each ``TradingStateSet`` becomes a row, never rewritten:
what was in force at any time is the latest row of each key at or before it (in venue time),
which ``infrastructure.application.risk.pretrade`` reads (``limits(as_of=…)``, ``trading_state``). There
are a handful of rows per desk, so reading them whole is cheaper than any index.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from orderledger.domain.events import LimitCleared, LimitSet, OrderEvent, TradingStateSet
from orderledger.domain.values import format_decimal, format_timestamp
from orderledger.projections.base import Column, Projection, Table, TableSpec


@dataclass(frozen=True, slots=True)
class LimitFact:
    """A limit set (``value``) or cleared (``value`` None), at a venue time, by someone."""

    position: int
    scope: str
    target: str
    kind: str
    value: Decimal | None
    interval: int | None
    set_by: str
    reason: str | None
    ts_event: str
    ts_recorded: str
    source: str
    response: str | None = None


@dataclass(frozen=True, slots=True)
class StateFact:
    """A trading state set on an account ("" for every account), at a venue time, by someone."""

    position: int
    account: str
    state: str
    set_by: str
    reason: str | None
    ts_event: str
    ts_recorded: str
    source: str
    until: str | None = None


def _optional(value: Any) -> str | None:
    return None if value is None else str(value)


LIMITS_TABLE: TableSpec[int, LimitFact] = TableSpec(
    name="limits_view",
    columns=(
        Column("position", "INTEGER"),
        Column("scope"),
        Column("target"),
        Column("kind"),
        Column("value"),
        Column("interval", "INTEGER"),
        Column("set_by"),
        Column("reason"),
        Column("ts_event"),
        Column("ts_recorded"),
        Column("source"),
        Column("response"),
    ),
    key=("position",),
    to_row=lambda f: (
        f.position,
        f.scope,
        f.target,
        f.kind,
        None if f.value is None else format_decimal(f.value),
        f.interval,
        f.set_by,
        f.reason,
        f.ts_event,
        f.ts_recorded,
        f.source,
        f.response,
    ),
    from_row=lambda r: LimitFact(
        int(r[0]),
        str(r[1]),
        str(r[2]),
        str(r[3]),
        None if r[4] is None else Decimal(r[4]),
        None if r[5] is None else int(r[5]),
        str(r[6]),
        _optional(r[7]),
        str(r[8]),
        str(r[9]),
        str(r[10]),
        _optional(r[11]),
    ),
    key_of_row=lambda r: int(r[0]),
    key_values=lambda key: (key,),
)

STATES_TABLE: TableSpec[int, StateFact] = TableSpec(
    name="trading_states_view",
    columns=(
        Column("position", "INTEGER"),
        Column("account"),
        Column("state"),
        Column("set_by"),
        Column("reason"),
        Column("ts_event"),
        Column("ts_recorded"),
        Column("source"),
        Column("until"),
    ),
    key=("position",),
    to_row=lambda f: (
        f.position,
        f.account,
        f.state,
        f.set_by,
        f.reason,
        f.ts_event,
        f.ts_recorded,
        f.source,
        f.until,
    ),
    from_row=lambda r: StateFact(
        int(r[0]),
        str(r[1]),
        str(r[2]),
        str(r[3]),
        _optional(r[4]),
        str(r[5]),
        str(r[6]),
        str(r[7]),
        _optional(r[8]),
    ),
    key_of_row=lambda r: int(r[0]),
    key_values=lambda key: (key,),
)


class RiskProjection(Projection):
    """Every ``LimitSet``, ``LimitCleared`` and ``TradingStateSet`` becomes a row."""

    name: ClassVar[str] = "risk"
    version: ClassVar[int] = 2
    tables: ClassVar[tuple[TableSpec[Any, Any], ...]] = (LIMITS_TABLE, STATES_TABLE)
    events: ClassVar[tuple[type[OrderEvent], ...] | None] = (LimitSet, LimitCleared, TradingStateSet)

    def partition(self, event_type: type[OrderEvent], fields: Mapping[str, Any]) -> str | None:
        return "risk" if event_type in (LimitSet, LimitCleared, TradingStateSet) else None

    def apply(self, position: int, event: OrderEvent, tables: Mapping[str, Table[Any, Any]]) -> None:
        stamp = (format_timestamp(event.ts_event), format_timestamp(event.ts_recorded), event.source)
        if isinstance(event, TradingStateSet):
            states: Table[int, StateFact] = tables[STATES_TABLE.name]
            states.put(
                position,
                StateFact(
                    position,
                    event.account,
                    event.state,
                    event.set_by,
                    event.reason,
                    *stamp,
                    None if event.until is None else format_timestamp(event.until),
                ),
            )
        elif isinstance(event, LimitSet | LimitCleared):
            value, interval = (event.value, event.interval) if isinstance(event, LimitSet) else (None, None)
            limits: Table[int, LimitFact] = tables[LIMITS_TABLE.name]
            limits.put(
                position,
                LimitFact(
                    position,
                    event.scope,
                    event.target,
                    event.kind,
                    value,
                    interval,
                    event.set_by,
                    event.reason,
                    *stamp,
                    event.response if isinstance(event, LimitSet) else None,
                ),
            )
