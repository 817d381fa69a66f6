"""Tradier's orders responses → ledger messages (pure translation, no I/O).

Input: the reply of ``GET /v1/accounts/{id}/orders`` (``{"orders": {"order": ...}}``, where
``order`` is one object or a list, and ``"orders": "null"`` when there are none) or of
``GET /v1/accounts/{id}/orders/{order_id}`` (``{"order": {...}}``), as documented at
https://docs.tradier.com/docs/orders and
https://documentation.tradier.com/brokerage-api/reference/response/orders.

Per order (for a ``multileg``/``combo`` order: per leg, see below):

* ``request`` with ``external: true`` keyed by Tradier's ``id`` (Tradier has no client order
  ID field: an order the caller recorded itself, and acknowledged with Tradier's ``id``,
  resolves to the caller's order). Sides ``buy``/``buy_to_open``/``buy_to_close``/
  ``buy_to_cover`` → buy, ``sell``/``sell_short``/``sell_to_open``/``sell_to_close`` → sell.
  ``tag`` is kept as the tag ``tag`` and is the order's ``parent_id`` (:func:`parent_of`: the
  caller's proposal reference, ``orders --parent TAG``); ``duration`` is the time in force. An
  option order's instrument is its OCC ``option_symbol``.
* ``held`` with ``venue_order_id = id`` for ``pending`` (Tradier holds the order; the exchange
  has not accepted it, and may still reject it); ``accepted`` with ``venue_order_id = id`` for
  every other status but ``rejected``/``error``; ``canceled``, ``expired``, ``rejected``
  (``error`` too, with ``reason_description``).
* Fills: Tradier reports no execution IDs, only ``exec_quantity`` and ``avg_fill_price``. They
  need what the ledger already booked, so :class:`~infrastructure.feeds.TradierFeed` turns
  :func:`cumulative_fills` into inferred fills.
* A multi-leg order books each ``leg`` as its own order tagged ``package`` = the package's
  reference (``tradier-<id>``) and ``strategy``; its ``parent_id`` is the package's (or leg's)
  ``tag``, else the package's reference. The package itself is not an order (booking it too
  would count the position twice).
* :func:`instrument_messages` defines each option symbol with a contract size of 100 (an
  equity option contract is normally 100 shares).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from orderledger.domain.order import external_client_order_id
from orderledger.domain.values import Status
from orderledger.infrastructure.adapters.common import (
    ENDINGS,
    AdapterError,
    decimal_text,
    message,
    positive_text,
    text_or_none,
    time_from_iso,
)
from orderledger.infrastructure.messages.models import (
    AcceptedMessage,
    HeldMessage,
    InstrumentMessage,
    Message,
    RejectedMessage,
    RequestMessage,
)

SOURCE = "tradier"
BUY_SIDES = ("buy", "buy_to_open", "buy_to_close", "buy_to_cover")
SELL_SIDES = ("sell", "sell_short", "sell_to_open", "sell_to_close")
OPEN_STATUSES = ("pending", "open", "partially_filled", "filled")
OPTION_MULTIPLIER = "100"
OCC = re.compile(r"^(?P<root>[A-Z0-9.]{1,6})(?P<date>\d{6})(?P<kind>[CP])(?P<strike>\d{8})$")


@dataclass(frozen=True)
class Cumulative:
    """What Tradier says an order has filled in total: the input of fill inference."""

    venue_order_id: str
    exec_quantity: Decimal
    avg_fill_price: Decimal | None
    price: Decimal | None
    ts: str
    instrument: str | None = None
    """What the order trades, and its side: what an inferred fill states of its order."""
    side: str | None = None


def orders_of(payload: Any) -> list[Mapping[str, Any]]:
    """The order objects of an orders reply (one, a list, or none)."""
    if not isinstance(payload, Mapping):
        raise AdapterError("a Tradier reply is a JSON object with orders or order")
    if "orders" in payload:
        orders = payload["orders"]
        if orders in (None, "null", ""):
            return []
        if not isinstance(orders, Mapping):
            raise AdapterError("orders must be an object holding order")
        found = orders.get("order")
    elif "order" in payload:
        found = payload["order"]
    else:
        raise AdapterError("not a Tradier orders reply: no orders or order")
    items = found if isinstance(found, list) else [found]
    out: list[Mapping[str, Any]] = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise AdapterError(f"order[{index}] must be an object")
        out.append(item)
    return out


def booked_orders(order: Mapping[str, Any]) -> Iterator[tuple[Mapping[str, Any], Mapping[str, Any] | None]]:
    """The orders the ledger books for one Tradier order: itself, or its legs with the parent."""
    legs = order.get("leg")
    kind = (text_or_none(order.get("class")) or "").lower()
    if kind in ("multileg", "combo") or legs is not None:
        legs = legs if isinstance(legs, list) else [legs]
        for leg in legs:
            if not isinstance(leg, Mapping):
                raise AdapterError("a Tradier leg must be an object")
            yield leg, order
    else:
        yield order, None


def order_messages(
    order: Mapping[str, Any], *, venue: str, account: str, source: str = SOURCE
) -> list[Message]:
    """The request, acknowledgement and ending of one Tradier order (each leg of a multi-leg)."""
    out: list[Message] = []
    for booked, parent in booked_orders(order):
        out += _order(booked, parent, venue, account, source)
    return out


def _order(
    order: Mapping[str, Any], parent: Mapping[str, Any] | None, venue: str, account: str, source: str
) -> list[Message]:
    oid = text_or_none(order.get("id"))
    if oid is None:
        raise AdapterError("a Tradier order needs an id")
    side = side_of(order)
    quantity = positive_text(order.get("quantity"), "quantity")
    created = time_from_iso(order.get("create_date"), "create_date")
    if side is None or quantity is None or created is None:
        raise AdapterError(f"Tradier order {oid} needs a known side, a positive quantity and create_date")
    updated = time_from_iso(order.get("transaction_date"), "transaction_date") or created
    price = positive_text(order.get("price"), "price")
    order_type, terms = order_terms(order, oid)
    if order_type == "limit" and price is None:
        order_type = "market"  # a package (debit, credit) with no net price stated
    elif order_type == "stop_limit" and price is None:
        raise AdapterError(f"Tradier stop_limit order {oid} needs a positive price")
    terms |= contingent_terms(order, parent, venue)
    status = (text_or_none(order.get("status")) or "").lower()
    tag = text_or_none(order.get("tag")) or text_or_none((parent or {}).get("tag"))
    tags = {"tag": tag}
    if parent is not None:
        tags["strategy"] = text_or_none(parent.get("strategy"))
        tags["package"] = parent_reference(parent)
    duration = text_or_none(order.get("duration")) or text_or_none((parent or {}).get("duration"))
    key = {"venue": venue, "venue_order_id": oid}
    # What each report of the order states of it, for the ledger to compare (check_stated).
    stated = {"account": account, "instrument": instrument_of(order), "side": side}
    out: list[Message] = [
        message(
            RequestMessage,
            **key,
            external=True,
            **stated,
            order_type=order_type,
            quantity=quantity,
            price=price if order_type in PRICED else None,
            **terms,
            time_in_force=None if duration is None else duration.upper(),
            tags={k: v for k, v in tags.items() if v is not None},
            parent_id=parent_of(tag, parent),
            ts=created,
            source=source,
        )
    ]
    if status in ("rejected", "error"):
        # Never accepted: name the order by its external key, not its id (a message with the id
        # would imply the exchange's acceptance first, and the ledger then refuses the
        # rejection). A poll that saw the order `pending` before holds it: the rejection ends it.
        reason = text_or_none(order.get("reason_description")) or status
        out.append(
            message(
                RejectedMessage,
                client_order_id=external_client_order_id(venue, oid),
                venue=venue,
                **stated,
                ts=updated,
                source=source,
                reason=reason,
            )
        )
        return out
    acknowledged: type[HeldMessage | AcceptedMessage] = (
        HeldMessage if status == "pending" else AcceptedMessage
    )
    out.append(message(acknowledged, **key, **stated, ts=created, source=source))
    if status in ("canceled", "expired"):
        ending = ENDINGS[Status(status)]
        out.append(message(ending, **key, **stated, ts=updated, source=source, reason=f"{status} at Tradier"))
    elif status not in OPEN_STATUSES:
        raise AdapterError(f"Tradier order {oid}: unknown status {status[:40]!r}")
    return out


PRICED = ("limit", "stop_limit")
"""The ledger's order types booked with Tradier's ``price`` as their limit."""
CONTINGENCIES = {"oco": "oco", "oto": "oto", "otoco": "bracket"}
"""Tradier's order classes of separate orders placed together (its ``leg`` list, in placing
order) → how each is linked to its group: OCO (one cancels the other), OTO (the first order's
fill places the second), OTOCO (the first's fill places an OCO of the other two: a bracket)."""


def order_terms(order: Mapping[str, Any], oid: str) -> tuple[str, dict[str, Any]]:
    """The ledger's order type of a Tradier order (or leg) and its trigger: ``stop`` (a market
    order once ``stop_price`` trades) and ``stop_limit`` (a limit order at ``price`` then); any
    other type is priced (limit, debit, credit, even) unless it is ``market``."""
    kind = (text_or_none(order.get("type")) or "").lower()
    if kind in ("stop", "stop_limit"):
        stop = positive_text(order.get("stop_price"), "stop_price")
        if stop is None:
            raise AdapterError(f"Tradier {kind} order {oid} needs a positive stop_price")
        return ("stop_market" if kind == "stop" else "stop_limit"), {"trigger_price": stop}
    return ("market" if kind == "market" else "limit"), {}


def contingent_terms(
    order: Mapping[str, Any], parent: Mapping[str, Any] | None, venue: str
) -> dict[str, Any]:
    """How a leg of an OCO, OTO or OTOCO order is linked to the others: its group (the parent's
    reference), the contingency, its OCO siblings and the leg whose fill places it (the first
    leg, for an OTO's and an OTOCO's later legs). Legs are named as the ledger names Tradier's
    orders (by their ``id``: ``external_client_order_id``)."""
    contingency = CONTINGENCIES.get((text_or_none((parent or {}).get("class")) or "").lower())
    if parent is None or contingency is None:
        return {}
    legs = parent.get("leg")
    legs = legs if isinstance(legs, list) else [legs]
    names = [external_client_order_id(venue, text_or_none(leg.get("id")) or "") for leg in legs]
    own = names.index(external_client_order_id(venue, text_or_none(order.get("id")) or ""))
    # OCO siblings: every other leg of an OCO; the other exit of an OTOCO's two (legs 2 and 3).
    oco = {"oco": names, "bracket": names[1:]}.get(contingency, [])
    terms: dict[str, Any] = {"group_id": parent_reference(parent), "contingency": contingency}
    terms["linked_ids"] = [n for n in oco if n != names[own]] if names[own] in oco else None
    terms["contingent_on"] = names[0] if contingency != "oco" and own > 0 else None
    return {name: value for name, value in terms.items() if value is not None}


def side_of(order: Mapping[str, Any]) -> str | None:
    """The ledger side of a Tradier order (buy_to_open, sell_short …); None when unknown."""
    side = (text_or_none(order.get("side")) or "").lower()
    return "buy" if side in BUY_SIDES else "sell" if side in SELL_SIDES else None


def parent_of(tag: str | None, package: Mapping[str, Any] | None) -> str | None:
    """The ledger parent of a booked Tradier order: the caller's ``tag`` when the order (or its
    package) has one, since it is the only reference of the caller's that Tradier carries (the
    proposal or intent the order was placed for); else, for a leg, its package's reference."""
    if tag is not None:
        return tag
    return None if package is None else parent_reference(package)


def parent_reference(parent: Mapping[str, Any]) -> str:
    """The reference every leg of a multi-leg order carries as its parent."""
    return f"tradier-{text_or_none(parent.get('id'))}"


def instrument_of(order: Mapping[str, Any]) -> str:
    """An option order's OCC symbol, else the symbol."""
    symbol = text_or_none(order.get("option_symbol")) or text_or_none(order.get("symbol"))
    if symbol is None:
        raise AdapterError(f"Tradier order {text_or_none(order.get('id'))} has no symbol")
    return symbol


def cumulative_fills(order: Mapping[str, Any]) -> list[Cumulative]:
    """What each booked order of a Tradier order has filled in total (only those with fills)."""
    out = []
    for booked, _ in booked_orders(order):
        executed = decimal_text(booked.get("exec_quantity"), "exec_quantity")
        if executed is None or Decimal(executed) <= 0:
            continue
        oid = text_or_none(booked.get("id"))
        average = positive_text(booked.get("avg_fill_price"), "avg_fill_price")
        price = positive_text(booked.get("price"), "price")
        ts = time_from_iso(booked.get("transaction_date"), "transaction_date") or time_from_iso(
            booked.get("create_date"), "create_date"
        )
        if oid is None or ts is None:
            raise AdapterError("a Tradier order with fills needs an id and a date")
        out.append(
            Cumulative(
                oid,
                Decimal(executed),
                None if average is None else Decimal(average),
                None if price is None else Decimal(price),
                ts,
                instrument_of(booked),
                side_of(booked),
            )
        )
    return out


def instrument_messages(order: Mapping[str, Any], *, venue: str, source: str = SOURCE) -> list[Message]:
    """An ``instrument`` definition per option symbol of an order: contract size 100."""
    out: list[Message] = []
    for booked, _ in booked_orders(order):
        symbol = text_or_none(booked.get("option_symbol"))
        if symbol is None:
            continue
        match = OCC.match(symbol)
        if match is None:
            raise AdapterError(f"option symbol {symbol[:40]!r} is not an OCC symbol")
        date = match["date"]
        out.append(
            message(
                InstrumentMessage,
                venue=venue,
                instrument=symbol,
                kind="option",
                contract_size=OPTION_MULTIPLIER,
                underlying=text_or_none(booked.get("symbol")),
                expiry=f"20{date[:2]}-{date[2:4]}-{date[4:]}",
                strike=decimal_text(Decimal(match["strike"]) / 1000, "strike"),
                option_type="call" if match["kind"] == "C" else "put",
                quote_currency="USD",
                ts=time_from_iso(booked.get("create_date"), "create_date"),
                source=source,
            )
        )
    return out


__all__ = [
    "SOURCE",
    "Cumulative",
    "booked_orders",
    "cumulative_fills",
    "instrument_messages",
    "order_messages",
    "orders_of",
    "parent_of",
    "parent_reference",
]
