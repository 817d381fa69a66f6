"""Read model: the trade blotter, one row per fill as it stands after busts and corrections."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, ClassVar

import orjson

from orderledger.domain.events import (
    FillBusted,
    FillCorrected,
    FillDetailsAdded,
    OrderEvent,
    OrderFilled,
    OrderRestated,
)
from orderledger.domain.values import TEXT, format_decimal, format_timestamp
from orderledger.projections.base import Column, Projection, Table, TableSpec


@dataclass(slots=True)
class Trade:
    """One booked execution."""

    client_order_id: str
    trade_id: str
    account: str
    venue: str
    instrument: str
    side: str
    venue_order_id: str | None
    quantity: Decimal
    price: Decimal
    fee: Decimal | None
    fee_currency: str | None
    liquidity: str | None
    ts_event: str
    tags: dict[str, str]
    parent_id: str | None
    late: bool
    position: int


def _opt(value: Decimal | None) -> str | None:
    return None if value is None else format_decimal(value)


def _to_row(t: Trade) -> tuple[Any, ...]:
    return (
        t.client_order_id,
        t.trade_id,
        t.account,
        t.venue,
        t.instrument,
        t.side,
        t.venue_order_id,
        format_decimal(t.quantity),
        format_decimal(t.price),
        _opt(t.fee),
        t.fee_currency,
        t.liquidity,
        t.ts_event,
        orjson.dumps(t.tags).decode() if t.tags else "{}",  # most fills have no tags
        t.parent_id,
        1 if t.late else 0,
        t.position,
    )


def _from_row(r: tuple[Any, ...]) -> Trade:
    return Trade(
        r[0],
        r[1],
        r[2],
        r[3],
        r[4],
        r[5],
        r[6],
        Decimal(r[7]),
        Decimal(r[8]),
        None if r[9] is None else Decimal(r[9]),
        r[10],
        r[11],
        r[12],
        orjson.loads(r[13]),
        r[14],
        bool(r[15]),
        int(r[16]),
    )


TRADES_TABLE: TableSpec[tuple[str, str], Trade] = TableSpec(
    name="trades_view",
    columns=(
        Column("client_order_id"),
        Column("trade_id"),
        Column("account"),
        Column("venue"),
        Column("instrument"),
        Column("side"),
        Column("venue_order_id"),
        Column("quantity"),
        Column("price"),
        Column("fee"),
        Column("fee_currency"),
        Column("liquidity"),
        Column("ts_event"),
        Column("tags"),
        Column("parent_id"),
        Column("late", "INTEGER"),
        Column("position", "INTEGER"),
    ),
    key=("client_order_id", "trade_id"),
    to_row=_to_row,
    from_row=_from_row,
    key_of_row=lambda r: (str(r[0]), str(r[1])),
    key_values=lambda key: key,
    indexes=(("ts_event",), ("account", "venue", "instrument", "ts_event")),
)


_FILL_FACTS: tuple[type[OrderEvent], ...] = (
    OrderFilled,
    FillBusted,
    FillCorrected,
    FillDetailsAdded,
    OrderRestated,
)
"""What changes a trade's row: a restatement, its ``late`` flag (a fill after its order ended)."""


_NAMING_A_TRADE = (FillCorrected, FillDetailsAdded)
"""The facts that change a booked trade's row by its trade ID (a tuple: made once, not per event)."""


class TradesProjection(Projection):
    """Fills become rows; a bust removes its row; a correction rewrites it; a detail added
    completes it."""

    name: ClassVar[str] = "trades"
    tables: ClassVar[tuple[TableSpec[Any, Any], ...]] = (TRADES_TABLE,)
    events: ClassVar[tuple[type[OrderEvent], ...] | None] = _FILL_FACTS

    def reads(self, event: OrderEvent) -> Iterable[tuple[str, Any]]:
        if isinstance(event, _NAMING_A_TRADE):
            return ((TRADES_TABLE.name, (event.client_order_id, event.trade_id)),)
        if isinstance(event, OrderRestated):
            return tuple((TRADES_TABLE.name, (event.client_order_id, t)) for t in event.late)
        return ()

    def partition(self, event_type: type[OrderEvent], fields: Mapping[str, Any]) -> str | None:
        # A trade's row is its order's: busts and corrections name the same order.
        return str(fields["client_order_id"]) if event_type in _FILL_FACTS else None

    def apply(self, position: int, event: OrderEvent, tables: Mapping[str, Table[Any, Any]]) -> None:
        table: Table[tuple[str, str], Trade] = tables[TRADES_TABLE.name]
        if isinstance(event, OrderFilled):
            key = (event.client_order_id, event.trade_id)
            table.put(
                key,
                Trade(  # positionally, in the fields' order: keywords cost a third of the call
                    event.client_order_id,
                    event.trade_id,
                    event.account,
                    event.venue,
                    event.instrument,
                    TEXT[event.side],
                    event.venue_order_id,
                    event.last_qty,
                    event.last_px,
                    event.fee,
                    event.fee_currency,
                    None if event.liquidity is None else TEXT[event.liquidity],
                    format_timestamp(event.ts_event),
                    dict(event.tags) if event.tags else {},
                    event.parent_id,
                    event.late,
                    position,
                ),
            )
        elif isinstance(event, FillBusted):
            table.delete((event.client_order_id, event.trade_id))
        elif isinstance(event, OrderRestated):
            for trade_id, late in event.late.items():
                restated = table.get((event.client_order_id, trade_id))
                if restated is not None:
                    table.put((event.client_order_id, trade_id), replace(restated, late=late))
        elif isinstance(event, FillCorrected):
            key = (event.client_order_id, event.trade_id)
            trade = table.get(key)
            if trade is not None:
                table.put(
                    key,
                    replace(
                        trade,
                        quantity=event.last_qty,
                        price=event.last_px,
                        fee=event.fee,
                        fee_currency=event.fee_currency,
                        liquidity=trade.liquidity if event.liquidity is None else TEXT[event.liquidity],
                    ),
                )
        elif isinstance(event, FillDetailsAdded):
            key = (event.client_order_id, event.trade_id)
            trade = table.get(key)
            if trade is not None and event.liquidity is not None:
                table.put(key, replace(trade, liquidity=TEXT[event.liquidity]))
