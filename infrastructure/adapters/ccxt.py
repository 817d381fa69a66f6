"""CCXT unified order and trade structures → ledger messages.

Input is what CCXT's unified API returns: orders from ``fetch_order(s)``, ``fetch_open_orders``,
``fetch_closed_orders``, ``create_order`` and ``watch_orders``; trades from ``fetch_my_trades``
and ``watch_my_trades`` (https://docs.ccxt.com/#/README?id=order-structure and
``?id=trade-structure``). Output is a list of ledger-format message dicts, each valid for
``infrastructure.messages.parse_message``. Nothing here does I/O or needs ccxt installed.

An order structure yields, in this order:

* ``request`` — when the order carries a ``clientOrderId`` and says what it is (symbol, side,
  a positive ``amount``, and a ``price`` for a limit order). Source ``ccxt``. The ledger treats
  a repeat with the same content as a duplicate, so an order seen on every poll is created once.
  Pass ``requests=False`` when the trading system records its own requests: after an
  ``edit_order`` the venue reports the amended ``amount``/``price``, which the ledger would
  refuse as client-order-ID reuse (the rest of the messages still apply when fed as lines).
* ``accepted`` with ``venue_order_id = id`` — for every status but ``rejected`` (a venue that
  rejects never accepted: an ack would make the ledger refuse the rejection).
* one ``fill`` per embedded trade (``order["trades"]``) that has a trade ``id``.
* the terminal fact for ``canceled`` (also spelled ``cancelled``), ``expired`` and ``rejected``.
  ``closed`` means *filled* in CCXT: it yields no fact by itself, because fills come from
  trades; ``open`` and a missing status yield none either.

**Cumulative ``filled`` without trades is not turned into fills.** A fill needs the venue's
trade ID: it is the ledger's dedup key, and the same trade will arrive again, with its real ID,
from ``fetch_my_trades`` or ``watch_my_trades``. An adapter that invented an ID (random or
derived from the order's content) would have that trade counted twice, or refused as an
overfill. So an order reported with ``filled > 0`` and no trade IDs is acknowledged and left at
the fill state its booked trades give it; the ledger's reconciliation (``orderledger
reconcile``; build its snapshot with :func:`reconciliation_snapshot`) compares the venue's
cumulative ``filled`` and ``average`` with the booked fills and infers the gap with a
deterministic trade ID, explicitly and with source ``reconciliation``. Embedded trades without
an ``id`` are skipped for the same reason.

A trade yields one ``fill``: ``trade_id = id``, ``venue_order_id = order``, ``quantity =
amount``, ``price``, ``fee``/``fee_currency`` (from ``fee``, else from ``fees`` when they share
one currency; several currencies cannot be expressed in one fill, so the fee is then left off
rather than misstated), ``liquidity = takerOrMaker``.

Identity: every message after the request names the order by ``client_order_id`` when the
structure carries one, and always by ``venue`` + ``venue_order_id`` too, so it resolves however
the ledger first learned of the order (and a fill whose order is not known yet is parked until
it is). CCXT's unified trade has no client order ID; a few venues put one in ``info`` under
``clientOrderId``, ``clientOid``, ``clOrdId`` or ``client_oid``, which is used when present.
A cancel response can carry the *cancel request's* client ID in ``clientOrderId`` (Binance's
``DELETE /api/v3/order``, parsed by ccxt): when ``info`` has ``origClientOrderId``, that is the
order's client order ID, so no phantom order is requested under the cancel's ID.

Overlapping feeds: messages are computed from the unified fields only (``info`` is read only
for the client order IDs above), numbers are canonical text (floats through ``repr``, trailing
zeros dropped) and times are ISO 8601 UTC with microseconds, so the same order or trade
delivered by a REST poll and by a websocket stream gives identical messages, and the ledger
sees duplicates. Where the two deliveries genuinely differ (a websocket trade that knows its
client order ID, a REST one that does not), the ledger still deduplicates: requests by
content, acks by venue order ID, fills by trade ID, terminal facts by status.

One ordering matters: the ledger flags a fill that arrives after its order's cancel or expiry
as ``late_fill`` (it judges by arrival, not by venue time), so poll ``fetch_my_trades`` before
``fetch_orders``; a list payload is already applied trades before endings
(:func:`payload_messages`).

Times: an order's request and ack carry its ``timestamp`` (creation); its terminal fact carries
``lastUpdateTimestamp`` when given, else the creation time; a trade carries its ``timestamp``
(an embedded trade without one takes the order's ``lastTradeTimestamp``). ``datetime`` is used
when the millisecond field is absent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from infrastructure.adapters.common import (
    AdapterError,
    Message,
    decimal_text,
    in_applying_order,
    message,
    positive_text,
    text_or_none,
    time_from_iso,
    time_from_millis,
)

SOURCE = "ccxt"
TERMINAL = {"canceled": "canceled", "cancelled": "canceled", "expired": "expired", "rejected": "rejected"}
"""CCXT statuses that end an order, and the ledger message each becomes."""
SNAPSHOT_STATUS = {
    "closed": "filled",
    "canceled": "canceled",
    "cancelled": "canceled",
    "expired": "expired",
    "rejected": "rejected",
}
"""CCXT status → the status of a closed-order row in a reconciliation snapshot."""
INFO_CLIENT_ID_KEYS = ("clientOrderId", "clientOid", "clOrdId", "client_oid")
"""Keys under which some venues' raw trades (``info``) carry the client order ID."""
INFO_ORIGINAL_CLIENT_ID_KEYS = ("origClientOrderId",)
"""Keys under which a venue's cancel response (``info``) names the order's own client order ID
while ``clientOrderId`` holds the cancel request's (Binance's DELETE /api/v3/order does this)."""

InstrumentOf = Callable[[str], str]
"""Maps a CCXT symbol (``BTC/USDT``, ``BTC/USDT:USDT``) to the ledger's instrument name."""


# ---------------------------------------------------------------------- orders


def order_messages(
    order: Mapping[str, Any],
    *,
    venue: str,
    account: str,
    requests: bool = True,
    instrument_of: InstrumentOf | None = None,
    source: str = SOURCE,
) -> list[Message]:
    """The ledger messages one CCXT order structure implies (see the module docstring)."""
    client_id = _order_client_id(order)
    venue_order_id = text_or_none(order.get("id"))
    status = (text_or_none(order.get("status")) or "").lower()
    if client_id is None and venue_order_id is None:
        if status == "rejected":
            return []  # a refusal of an order nobody can name (ccxt's parse of an error reply)
        raise AdapterError("a CCXT order needs an id or a clientOrderId")
    created = _time(order, "timestamp", "datetime") or _time(order, "lastUpdateTimestamp")
    created = created or _time(order, "lastTradeTimestamp")
    if created is None:
        raise AdapterError(f"CCXT order {venue_order_id or client_id!r} has no timestamp")
    out: list[Message] = []
    if requests and client_id is not None:
        request = _request(order, client_id, venue, account, created, instrument_of, source)
        if request is not None:
            out.append(request)
    key = {"client_order_id": client_id, "venue": venue, "venue_order_id": venue_order_id}
    if status == "rejected":
        if client_id is not None:
            # No venue_order_id: a message carrying one acknowledges the order implicitly first.
            out.append(
                message(
                    "rejected",
                    client_order_id=client_id,
                    venue=venue,
                    ts=created,
                    source=source,
                    reason="rejected by the venue",
                )
            )
        return out
    if venue_order_id is not None:
        out.append(message("accepted", **key, ts=created, source=source))
    last_trade = _time(order, "lastTradeTimestamp") or created
    for trade in _list(order, "trades"):
        if not isinstance(trade, Mapping) or text_or_none(trade.get("id")) is None:
            continue  # no trade ID: never invent one (see the module docstring)
        out.append(_fill(trade, venue, source, venue_order_id, client_id, last_trade))
    ending = TERMINAL.get(status)
    if ending is not None:
        ts = _time(order, "lastUpdateTimestamp") or created
        out.append(message(ending, **key, ts=ts, source=source))
    return out


def _request(
    order: Mapping[str, Any],
    client_id: str,
    venue: str,
    account: str,
    ts: str,
    instrument_of: InstrumentOf | None,
    source: str,
) -> Message | None:
    symbol = text_or_none(order.get("symbol"))
    side = (text_or_none(order.get("side")) or "").lower()
    quantity = positive_text(order.get("amount"), "amount")
    order_type = _order_type(order)
    price = positive_text(order.get("price"), "price") if order_type == "limit" else None
    if symbol is None or side not in ("buy", "sell") or quantity is None:
        return None  # not enough to describe the order: the ack and facts still go through
    if order_type == "limit" and price is None:
        return None
    tif = text_or_none(order.get("timeInForce"))
    return message(
        "request",
        client_order_id=client_id,
        account=account,
        venue=venue,
        instrument=instrument_of(symbol) if instrument_of else symbol,
        side=side,
        order_type=order_type,
        quantity=quantity,
        price=price,
        time_in_force=None if tif is None else tif.upper(),
        ts=ts,
        source=source,
    )


def _order_type(order: Mapping[str, Any]) -> str:
    """CCXT's many order types reduced to the ledger's two: priced (limit) or not (market)."""
    kind = (text_or_none(order.get("type")) or "").lower()
    if "market" in kind:  # market, stop_market, take_profit_market …
        return "market"
    if "limit" in kind:  # limit, stop_limit, limit_maker, take_profit_limit …
        return "limit"
    return "limit" if positive_text(order.get("price"), "price") is not None else "market"


# ---------------------------------------------------------------------- trades


def trade_messages(trade: Mapping[str, Any], *, venue: str, source: str = SOURCE) -> list[Message]:
    """The ``fill`` for one CCXT trade structure (from fetch_my_trades or watch_my_trades)."""
    return [_fill(trade, venue, source, None, None, None)]


def _fill(
    trade: Mapping[str, Any],
    venue: str,
    source: str,
    order_id: str | None,
    client_id: str | None,
    default_ts: str | None,
) -> Message:
    """One fill; an embedded trade's gaps are filled from its order (IDs, last trade time)."""
    trade_id = text_or_none(trade.get("id"))
    if trade_id is None:
        raise AdapterError("a CCXT trade without an id cannot be booked (its ID is the dedup key)")
    venue_order_id = text_or_none(trade.get("order")) or order_id
    client_id = _trade_client_id(trade) or client_id
    if venue_order_id is None and client_id is None:
        raise AdapterError(f"CCXT trade {trade_id!r} names no order (order or clientOrderId)")
    quantity = positive_text(trade.get("amount"), "amount")
    price = positive_text(trade.get("price"), "price")
    if quantity is None or price is None:
        raise AdapterError(f"CCXT trade {trade_id!r} needs a positive amount and price")
    ts = _time(trade, "timestamp", "datetime") or default_ts
    if ts is None:
        raise AdapterError(f"CCXT trade {trade_id!r} has no timestamp")
    fee, fee_currency = _fee(trade)
    liquidity = (text_or_none(trade.get("takerOrMaker")) or "").lower()
    return message(
        "fill",
        client_order_id=client_id,
        venue=venue,
        venue_order_id=venue_order_id,
        trade_id=trade_id,
        quantity=quantity,
        price=price,
        fee=fee,
        fee_currency=fee_currency,
        liquidity=liquidity if liquidity in ("maker", "taker") else None,
        ts=ts,
        source=source,
    )


def _order_client_id(order: Mapping[str, Any]) -> str | None:
    info = order.get("info")
    if isinstance(info, Mapping):
        for name in INFO_ORIGINAL_CLIENT_ID_KEYS:
            found = text_or_none(info.get(name))
            if found is not None:
                return found
    return text_or_none(order.get("clientOrderId"))


def _trade_client_id(trade: Mapping[str, Any]) -> str | None:
    found = text_or_none(trade.get("clientOrderId"))
    info = trade.get("info")
    if found is None and isinstance(info, Mapping):
        for name in INFO_CLIENT_ID_KEYS:
            found = text_or_none(info.get(name))
            if found is not None:
                break
    return found


def _fee(structure: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """One fee and its currency: ``fee`` if it has a cost, else ``fees`` if in one currency."""
    fee = structure.get("fee")
    if isinstance(fee, Mapping) and fee.get("cost") is not None:
        return decimal_text(fee.get("cost"), "fee.cost"), text_or_none(fee.get("currency"))
    fees = [f for f in _list(structure, "fees") if isinstance(f, Mapping) and f.get("cost") is not None]
    currencies = {text_or_none(f.get("currency")) for f in fees}
    if not fees or len(currencies) != 1:
        return None, None
    total = sum((Decimal(decimal_text(f["cost"], "fees.cost") or "0") for f in fees), Decimal(0))
    return decimal_text(total, "fees"), currencies.pop()


# ---------------------------------------------------------------------- payloads


def is_order(structure: Mapping[str, Any]) -> bool:
    """True for a CCXT order structure (it has a status or fill progress; trades have neither)."""
    return any(name in structure for name in ("status", "filled", "remaining"))


def is_trade(structure: Mapping[str, Any]) -> bool:
    """True for a CCXT trade structure."""
    return not is_order(structure) and ("takerOrMaker" in structure or "order" in structure)


def payload_messages(
    payload: Mapping[str, Any] | Iterable[Mapping[str, Any]],
    *,
    venue: str,
    account: str,
    requests: bool = True,
    instrument_of: InstrumentOf | None = None,
    source: str = SOURCE,
    notes: list[str] | None = None,
) -> list[Message]:
    """Messages for an order, a trade, or a list of them (what any fetch_*/watch_* returns).

    ``notes`` collects one line for each part of the payload deliberately not booked (for
    example a trade listed without amount or price); the journal keeps them with the input.

    A list's messages come requests and acks first, then fills, then endings, so a payload
    that holds both a canceled order and its trades books the trades before the cancel.
    """
    if isinstance(payload, Mapping):
        items: list[Any] = [payload]
    elif isinstance(payload, str | bytes | Decimal) or not isinstance(payload, Iterable):
        raise AdapterError("a CCXT payload is an order or trade structure, or a list of them")
    else:
        items = list(payload)
    out: list[Message] = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise AdapterError(f"payload[{index}] is not a CCXT order or trade structure")
        if is_order(item):
            out += order_messages(
                item,
                venue=venue,
                account=account,
                requests=requests,
                instrument_of=instrument_of,
                source=source,
            )
        elif is_trade(item):
            out += trade_messages(item, venue=venue, source=source)
        else:
            raise AdapterError(f"payload[{index}] is neither a CCXT order nor a CCXT trade")
    return in_applying_order(out)


# ---------------------------------------------------------------------- reconciliation


def order_row(
    order: Mapping[str, Any], *, instrument_of: InstrumentOf | None = None
) -> dict[str, Any] | None:
    """A CCXT order as a reconciliation-snapshot order row (also what the open-orders differ
    reads); None for an order without an id, symbol, side or positive amount."""
    venue_order_id = text_or_none(order.get("id"))
    symbol = text_or_none(order.get("symbol"))
    side = (text_or_none(order.get("side")) or "").lower()
    quantity = positive_text(order.get("amount"), "amount")
    if venue_order_id is None or symbol is None or side not in ("buy", "sell") or quantity is None:
        return None
    status = (text_or_none(order.get("status")) or "open").lower()
    order_type = _order_type(order)
    row: dict[str, Any] = {
        "venue_order_id": venue_order_id,
        "client_order_id": _order_client_id(order),
        "instrument": instrument_of(symbol) if instrument_of else symbol,
        "side": side,
        "order_type": order_type,
        "quantity": quantity,
        "price": positive_text(order.get("price"), "price") if order_type == "limit" else None,
        "filled_quantity": decimal_text(order.get("filled"), "filled") or "0",
        "average_price": positive_text(order.get("average"), "average"),
        "status": SNAPSHOT_STATUS.get(status, "open"),
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
        row = order_row(order, instrument_of=instrument_of)
        if row is None:
            continue
        (open_rows if row["status"] == "open" else closed_rows).append(row)
        for trade in _list(order, "trades"):
            if isinstance(trade, Mapping) and text_or_none(trade.get("id")) is not None:
                fill = _fill_row(trade, order, instrument_of)
                fills.setdefault(fill["trade_id"], fill)
    for trade in trades:
        fill = _fill_row(trade, {}, instrument_of)
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


def _fill_row(
    trade: Mapping[str, Any], order: Mapping[str, Any], instrument_of: InstrumentOf | None
) -> dict[str, Any]:
    fill = _fill(
        trade,
        "-",
        SOURCE,
        text_or_none(order.get("id")),
        _order_client_id(order) if order else None,
        _time(order, "lastTradeTimestamp") or _time(order, "timestamp", "datetime"),
    )
    symbol = text_or_none(trade.get("symbol")) or text_or_none(order.get("symbol"))
    side = (text_or_none(trade.get("side")) or text_or_none(order.get("side")) or "").lower()
    row = {
        "trade_id": fill["trade_id"],
        "venue_order_id": fill.get("venue_order_id"),
        "client_order_id": fill.get("client_order_id"),
        "instrument": None if symbol is None else (instrument_of(symbol) if instrument_of else symbol),
        "side": side or None,
        "quantity": fill["quantity"],
        "price": fill["price"],
        "fee": fill.get("fee"),
        "fee_currency": fill.get("fee_currency"),
        "ts": fill["ts"],
    }
    return {k: v for k, v in row.items() if v is not None}


# ---------------------------------------------------------------------- helpers


def _list(structure: Mapping[str, Any], key: str) -> list[Any]:
    """A list-valued field (``trades``, ``fees``); absent or null is empty, anything else refused."""
    value = structure.get(key)
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise AdapterError(f"{key} must be a list, not {type(value).__name__}")
    return list(value)


def _time(structure: Mapping[str, Any], millis_key: str, iso_key: str | None = None) -> str | None:
    found = time_from_millis(structure.get(millis_key), millis_key)
    if found is None and iso_key is not None:
        found = time_from_iso(structure.get(iso_key), iso_key)
    return found


__all__ = [
    "SOURCE",
    "AdapterError",
    "is_order",
    "is_trade",
    "order_messages",
    "order_row",
    "payload_messages",
    "reconciliation_snapshot",
    "trade_messages",
]
