"""ccxt trade structures → fills (with the external request of a liquidation or ADL)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from orderledger.domain.values import VenueOrderId
from orderledger.infrastructure.adapters.ccxt.exchanges import rules_for
from orderledger.infrastructure.adapters.ccxt.rules import (
    SOURCE,
    InstrumentOf,
    VenueRules,
    info_of,
)
from orderledger.infrastructure.adapters.ccxt.structure_reading import (
    Identity,
    forced_kind,
    identity_of,
    list_field,
    stated_of,
    time_field,
)
from orderledger.infrastructure.adapters.common import (
    LIQUIDITIES,
    SIDES,
    AdapterError,
    decimal_text,
    message,
    positive_text,
    text_or_none,
)
from orderledger.infrastructure.messages.models import FillMessage, Message, RequestMessage


def trade_messages(
    trade: Mapping[str, Any],
    *,
    venue: str,
    account: str | None = None,
    instrument_of: InstrumentOf | None = None,
    source: str = SOURCE,
    notes: list[str] | None = None,
) -> list[Message]:
    """The ``fill`` for one CCXT trade structure (from fetch_my_trades or watch_my_trades),
    preceded by an external request when the venue marks it a liquidation or ADL (which needs
    ``account``); nothing (and a note) for a trade listed without amount or price."""
    return trades_messages([trade], venue, account, instrument_of, source, notes)


def trades_messages(
    trades: list[Mapping[str, Any]],
    venue: str,
    account: str | None,
    instrument_of: InstrumentOf | None,
    source: str,
    notes: list[str] | None,
) -> list[Message]:
    """Fills of top-level trades; one external request per liquidated/ADL order (an order
    liquidated in several fills is one order). Its quantity is the order's own where the venue
    states it on every fill (Bybit ``orderQty``); otherwise the sum of that order's trades in
    this payload, which is only the whole order when all its fills come in one payload: fills
    of one such order on separate lines state different quantities, and the later line is
    refused by the ledger (docs/venues.md, "Liquidation and ADL")."""
    rules = rules_for(venue)
    out: list[Message] = []
    forced_orders: dict[VenueOrderId, tuple[str, Mapping[str, Any], Decimal]] = {}
    for trade in trades:
        if skipped_trade(trade, None, notes):
            continue
        identity = identity_of(trade, rules, is_order=False)
        stated = stated_of(trade, account, instrument_of)
        fill = fill_message(trade, venue, source, rules, None, identity, None, notes, stated)
        forced = forced_kind(trade, rules, account)
        venue_order_id = fill.venue_order_id
        if forced and not identity.known and venue_order_id is not None:
            kind, first, total = forced_orders.get(venue_order_id, (forced, trade, Decimal(0)))
            forced_orders[venue_order_id] = (kind, first, total + fill.quantity)
        out.append(fill)
    for venue_order_id, (kind, first, total) in forced_orders.items():
        for name in rules.order_quantity_keys:
            total = Decimal(positive_text(info_of(first).get(name), f"info.{name}") or total)
        if account is None:
            raise AdapterError(
                f"a {kind} trade of order {venue_order_id!r} needs an account to book its order"
            )
        symbol = text_or_none(first.get("symbol"))
        side = (text_or_none(first.get("side")) or "").lower()
        if symbol is None or side not in SIDES:
            raise AdapterError(f"{kind} trade {text_or_none(first.get('id'))!r} needs a symbol and a side")
        out.append(
            message(
                RequestMessage,
                account=account,
                venue=venue,
                venue_order_id=venue_order_id,
                instrument=instrument_of(symbol) if instrument_of else symbol,
                side=side,
                order_type="market",
                quantity=decimal_text(total, "amount"),
                tags={kind: "true"},
                external=True,
                ts=time_field(first, "timestamp", "datetime"),
                source=source,
            )
        )
    return out


def skipped_trade(
    trade: Mapping[str, Any], order_id: str | None, notes: list[str] | None, *, embedded: bool = False
) -> bool:
    """True (and a note) for a trade that cannot be a fill but is no error: one listed by ID
    only, without amount or price, or an embedded one without an ID."""
    trade_id = text_or_none(trade.get("id"))
    of_order = text_or_none(trade.get("order")) or order_id
    where = f"trade {trade_id!r} of order {of_order!r}" if of_order else f"trade {trade_id!r}"
    if trade_id is None and embedded:
        add_note(notes, f"a trade of order {order_id!r} without a trade ID was not booked (no dedup key)")
        return True
    if trade_id is not None and (trade.get("amount") is None or trade.get("price") is None):
        add_note(notes, f"{where} is listed without amount or price: not booked (fetch_my_trades has it)")
        return True
    return False


def add_note(notes: list[str] | None, text: str) -> None:
    if notes is not None:
        notes.append(text)


def fill_message(
    trade: Mapping[str, Any],
    venue: str,
    source: str,
    rules: VenueRules,
    order_id: str | None,
    order_identity: Identity | None,
    default_ts: str | None,
    notes: list[str] | None,
    stated: Mapping[str, str],
) -> FillMessage:
    """One fill; an embedded trade's gaps are filled from its order (IDs, last trade time);
    ``stated``: what the trade states of its order (:func:`stated_of`)."""
    trade_id = text_or_none(trade.get("id"))
    if trade_id is None:
        raise AdapterError("a CCXT trade without an id cannot be booked (its ID is the dedup key)")
    venue_order_id = text_or_none(trade.get("order")) or order_id
    identity = identity_of(trade, rules, is_order=False)
    if not identity.known and order_identity is not None:
        identity = order_identity
    if venue_order_id is None and not identity.known:
        raise AdapterError(f"CCXT trade {trade_id!r} names no order (order or clientOrderId)")
    quantity = positive_text(trade.get("amount"), "amount")
    price = positive_text(trade.get("price"), "price")
    if quantity is None or price is None:
        raise AdapterError(f"CCXT trade {trade_id!r} needs a positive amount and price")
    ts = time_field(trade, "timestamp", "datetime") or default_ts
    if ts is None:
        raise AdapterError(f"CCXT trade {trade_id!r} has no timestamp")
    fee, fee_currency = fee_of(trade, rules, trade_id, notes)
    liquidity = (text_or_none(trade.get("takerOrMaker")) or "").lower()
    pnl = None
    for name in rules.realized_pnl_keys:  # Binance USDⓈ-M: "rp" on the stream, "realizedPnl" on REST
        pnl = pnl or decimal_text(info_of(trade).get(name), f"info.{name}")
    return message(
        FillMessage,
        **identity.key(venue, venue_order_id),
        **stated,
        trade_id=trade_id,
        quantity=quantity,
        price=price,
        fee=fee,
        fee_currency=fee_currency,
        liquidity=liquidity if liquidity in LIQUIDITIES else None,
        venue_realized_pnl=pnl,
        ts=ts,
        source=source,
    )


def fee_of(
    trade: Mapping[str, Any], rules: VenueRules, trade_id: str, notes: list[str] | None
) -> tuple[str | None, str | None]:
    """The trade's fee and currency in the ledger's sign (see the module docstring)."""
    if rules.fee is not None:
        read = rules.fee(info_of(trade))
        if read is not None:
            return read
    totals: dict[str | None, Decimal] = {}
    for entry in list_field(trade, "fees"):
        if isinstance(entry, Mapping) and entry.get("cost") is not None:
            cost = Decimal(decimal_text(entry["cost"], "fees.cost") or "0")
            currency = text_or_none(entry.get("currency"))
            totals[currency] = totals.get(currency, Decimal(0)) + cost
    charged = {c: v for c, v in totals.items() if v}  # a zero placeholder in another currency costs nothing
    if len(charged) > 1:
        shown = ", ".join(f"{decimal_text(v, 'fee')} {c}" for c, v in charged.items())
        add_note(notes, f"trade {trade_id!r} has fees in several currencies ({shown}): booked without a fee")
        return None, None
    fee = trade.get("fee")
    if isinstance(fee, Mapping) and fee.get("cost") is not None:
        return decimal_text(fee.get("cost"), "fee.cost"), text_or_none(fee.get("currency"))
    totals = charged or totals
    if len(totals) != 1:
        return None, None
    currency, total = next(iter(totals.items()))
    return decimal_text(total, "fee"), currency
