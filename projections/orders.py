"""Read model: every order's current state, open ones flagged (``orderledger orders``).

The fold reuses the aggregate's own ``apply``, so the view can never disagree with the
aggregate's rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import orjson

from orderledger.domain.events import FillBusted, FillCorrected, OrderEvent, OrderRequested
from orderledger.domain.order import Order
from orderledger.projections.base import Column, Projection, Table, TableSpec


def _to_row(order: Order) -> tuple[Any, ...]:
    # The columns are the snapshot's own texts: each amount and time is formatted once.
    shown = order.snapshot()
    return (
        order.client_order_id,
        order.account,
        order.venue,
        order.instrument,
        shown["side"],
        shown["order_type"],
        shown["status"],
        1 if order.status.is_open else 0,
        shown["quantity"],
        shown["price"],
        shown["filled_quantity"],
        shown["leaves_quantity"],
        shown["average_price"],
        order.venue_order_id,
        shown["created_at"],
        shown["updated_at"],
        order.parent_id,
        orjson.dumps(order.tags).decode(),
        order.version,
        # What queries show, ready to send: listing open orders is then one JSON parse a row.
        orjson.dumps(shown).decode(),
        orjson.dumps(order.to_state()).decode(),
    )


def _from_row(row: tuple[Any, ...]) -> Order:
    return Order.from_state(orjson.loads(row[-1]))


ORDERS_TABLE: TableSpec[str, Order] = TableSpec(
    name="orders_view",
    columns=(
        Column("client_order_id"),
        Column("account"),
        Column("venue"),
        Column("instrument"),
        Column("side"),
        Column("order_type"),
        Column("status"),
        Column("is_open", "INTEGER"),
        Column("quantity"),
        Column("price"),
        Column("filled_quantity"),
        Column("leaves_quantity"),
        Column("average_price"),
        Column("venue_order_id"),
        Column("created_at"),
        Column("updated_at"),
        Column("parent_id"),
        Column("tags"),
        Column("version", "INTEGER"),
        Column("snapshot"),
        Column("state"),
    ),
    key=("client_order_id",),
    to_row=_to_row,
    from_row=_from_row,
    key_of_row=lambda row: str(row[0]),
    key_values=lambda key: (key,),
    indexes=(
        ("is_open", "account", "venue", "instrument"),
        ("account", "venue", "instrument"),
        ("parent_id",),  # orders, trades and P&L by parent
    ),
)


class OrdersProjection(Projection):
    """Each order as it stands; ``is_open`` marks the open ones."""

    name: ClassVar[str] = "orders"
    tables: ClassVar[tuple[TableSpec[Any, Any], ...]] = (ORDERS_TABLE,)
    # 2: average prices shown to 34 digits (were cut to 28); 3: indexed by parent_id.
    version: ClassVar[int] = 3

    def reads(self, event: OrderEvent) -> Iterable[tuple[str, Any]]:
        if isinstance(event, OrderRequested):
            return ()
        return ((ORDERS_TABLE.name, event.client_order_id),)

    def partition(self, event_type: type[OrderEvent], fields: Mapping[str, Any]) -> str | None:
        return (
            str(fields["client_order_id"]) if fields.get("client_order_id") else None
        )  # an order's rows are its own

    def apply(self, position: int, event: OrderEvent, tables: Mapping[str, Table[Any, Any]]) -> None:
        table: Table[str, Order] = tables[ORDERS_TABLE.name]
        if isinstance(event, OrderRequested):
            order = Order(event)
            order.version = event.originator_version
        else:
            found = table.get(event.client_order_id)
            if found is None or found.version >= event.originator_version:
                return  # already folded (or its request is not in this log): nothing to do
            if isinstance(event, FillBusted | FillCorrected) and event.trade_id not in found.fills:
                return  # a fold cut by venue time can hold a bust whose trade comes later
            order = found
            order.apply(event)
        table.put(order.client_order_id, order)
