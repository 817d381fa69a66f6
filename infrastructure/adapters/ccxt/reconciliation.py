"""ccxt orders as the rows of a reconciliation snapshot."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from orderledger.domain.values import format_decimal, format_timestamp
from orderledger.infrastructure.adapters.ccxt.exchanges import rules_for
from orderledger.infrastructure.adapters.ccxt.orders import (
    order_type_of,
)
from orderledger.infrastructure.adapters.ccxt.rules import (
    SNAPSHOT_STATUS,
    SOURCE,
    InstrumentOf,
)
from orderledger.infrastructure.adapters.ccxt.structure_reading import (
    identity_of,
    list_field,
    time_field,
)
from orderledger.infrastructure.adapters.ccxt.trades import (
    fill_message,
    skipped_trade,
)
from orderledger.infrastructure.adapters.common import (
    SIDES,
    AdapterError,
    decimal_text,
    positive_text,
    text_or_none,
    time_from_iso,
)


def order_row(
    order: Mapping[str, Any], *, instrument_of: InstrumentOf | None = None, venue: str = ""
) -> dict[str, Any] | None:
    """A CCXT order as a reconciliation-snapshot order row (also what the open-orders differ
    reads); None for an order without an id, symbol, side or positive amount."""
    venue_order_id = text_or_none(order.get("id"))
    symbol = text_or_none(order.get("symbol"))
    side = (text_or_none(order.get("side")) or "").lower()
    quantity = positive_text(order.get("amount"), "amount")
    if venue_order_id is None or symbol is None or side not in SIDES or quantity is None:
        return None
    status = (text_or_none(order.get("status")) or "open").lower()
    order_type = order_type_of(order)
    row: dict[str, Any] = {
        "venue_order_id": venue_order_id,
        "client_order_id": identity_of(order, rules_for(venue), is_order=True).client_order_id,
        "instrument": instrument_of(symbol) if instrument_of else symbol,
        "side": side,
        "order_type": order_type,
        "quantity": quantity,
        "price": positive_text(order.get("price"), "price") if order_type == "limit" else None,
        "filled_quantity": decimal_text(order.get("filled"), "filled") or "0",
        "average_price": positive_text(order.get("average"), "average"),
        "status": SNAPSHOT_STATUS.get(status, "open"),
        "created_at": time_field(order, "timestamp", "datetime"),
    }
    return {k: v for k, v in row.items() if v is not None}


def reconciliation_snapshot(
    orders: Iterable[Mapping[str, Any]],
    trades: Iterable[Mapping[str, Any]] = (),
    *,
    venue: str,
    account: str,
    as_of: datetime | str,
    instrument_of: InstrumentOf | None = None,
) -> dict[str, Any]:
    """A snapshot document for ``orderledger reconcile`` (docs/reconciliation.md) built from
    CCXT orders and trades: open and closed order rows, and every trade with an ID as a fill.
    This is where cumulative ``filled`` without trades becomes an (inferred) fill."""
    open_rows: list[dict[str, Any]] = []
    closed_rows: list[dict[str, Any]] = []
    fills: dict[str, dict[str, Any]] = {}
    for order in orders:
        row = order_row(order, instrument_of=instrument_of, venue=venue)
        if row is None:
            continue
        (open_rows if row["status"] == "open" else closed_rows).append(row)
        for trade in list_field(order, "trades"):
            if isinstance(trade, Mapping) and not skipped_trade(trade, "-", None, embedded=True):
                fill = fill_row(trade, order, instrument_of, venue)
                fills.setdefault(fill["trade_id"], fill)
    for trade in trades:
        if skipped_trade(trade, None, None):
            continue
        fill = fill_row(trade, {}, instrument_of, venue)
        fills.setdefault(fill["trade_id"], fill)
    stamp = time_from_iso(as_of, "as_of")  # a datetime must be timezone-aware, like any ledger time
    if stamp is None:
        raise AdapterError("as_of is required")
    return {
        "venue": venue,
        "account": account,
        "as_of": stamp,
        "open_orders": open_rows,
        "closed_orders": closed_rows,
        "fills": list(fills.values()),
    }


def fill_row(
    trade: Mapping[str, Any], order: Mapping[str, Any], instrument_of: InstrumentOf | None, venue: str
) -> dict[str, Any]:
    rules = rules_for(venue)
    fill = fill_message(
        trade,
        venue,
        SOURCE,
        rules,
        text_or_none(order.get("id")),
        identity_of(order, rules, is_order=True) if order else None,
        time_field(order, "lastTradeTimestamp") or time_field(order, "timestamp", "datetime"),
        None,
        {},
    )
    symbol = text_or_none(trade.get("symbol")) or text_or_none(order.get("symbol"))
    side = (text_or_none(trade.get("side")) or text_or_none(order.get("side")) or "").lower()
    row = {
        "trade_id": fill.trade_id,
        "venue_order_id": fill.venue_order_id,
        "client_order_id": fill.client_order_id,
        "instrument": None if symbol is None else (instrument_of(symbol) if instrument_of else symbol),
        "side": side or None,
        "quantity": format_decimal(fill.quantity),
        "price": format_decimal(fill.price),
        "fee": None if fill.fee is None else format_decimal(fill.fee),
        "fee_currency": fill.fee_currency,
        "ts": format_timestamp(fill.ts),
    }
    return {k: v for k, v in row.items() if v is not None}
