"""A ccxt order structure → request, acknowledgement, embedded fills and its ending."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from orderledger.infrastructure.adapters.ccxt.exchanges import rules_for
from orderledger.infrastructure.adapters.ccxt.rules import (
    SOURCE,
    TERMINAL,
    InstrumentOf,
    VenueRules,
    info_of,
)
from orderledger.infrastructure.adapters.ccxt.structure_reading import (
    forced_kind,
    identity_of,
    list_field,
    stated_of,
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
    message,
    positive_text,
    text_or_none,
)
from orderledger.infrastructure.messages.models import (
    AcceptedMessage,
    CanceledMessage,
    Message,
    RejectedMessage,
    RequestMessage,
)


def order_messages(
    order: Mapping[str, Any],
    *,
    venue: str,
    account: str,
    requests: bool = True,
    instrument_of: InstrumentOf | None = None,
    source: str = SOURCE,
    notes: list[str] | None = None,
) -> list[Message]:
    """The ledger messages one CCXT order structure implies (see the module docstring)."""
    rules = rules_for(venue)
    identity = identity_of(order, rules, is_order=True)
    venue_order_id = text_or_none(order.get("id"))
    status = (text_or_none(order.get("status")) or "").lower()
    if not identity.known and venue_order_id is None:
        if status == "rejected":
            return []  # a refusal of an order nobody can name (ccxt's parse of an error reply)
        raise AdapterError("a CCXT order needs an id or a clientOrderId")
    created = time_field(order, "timestamp", "datetime") or time_field(order, "lastUpdateTimestamp")
    created = created or time_field(order, "lastTradeTimestamp")
    if created is None:
        raise AdapterError(f"CCXT order {venue_order_id or identity.client_order_id!r} has no timestamp")
    out: list[Message] = []
    if identity.client_order_id is not None and requests:
        request = request_message(
            order, identity.client_order_id, venue, account, created, instrument_of, source
        )
        if request is not None:
            out.append(request)
    elif identity.client_order_id is None and venue_order_id is not None and status != "rejected":
        # Placed elsewhere (no client ID), or by a client index nobody here may have recorded:
        # the ledger books it as the order that index names, or else as an external order.
        forced = forced_kind(order, rules, account)
        aliases = identity.key(venue, venue_order_id)["aliases"]
        tags = {forced: "true"} if forced else None
        request = request_message(
            order, None, venue, account, created, instrument_of, source, venue_order_id, aliases, tags
        )
        if request is not None:
            out.append(request)
    key = identity.key(venue, venue_order_id) | stated_of(order, account, instrument_of)
    if status == "rejected":
        if identity.known:
            # No venue_order_id: a message carrying one acknowledges the order implicitly first.
            key["venue_order_id"] = None
            out.append(
                message(RejectedMessage, **key, ts=created, source=source, reason="rejected by the venue")
            )
        return out
    if venue_order_id is not None:
        out.append(message(AcceptedMessage, **key, ts=created, source=source))
    last_trade = time_field(order, "lastTradeTimestamp") or created
    for trade in list_field(order, "trades"):
        if not isinstance(trade, Mapping):
            raise AdapterError(f"a trade of CCXT order {venue_order_id!r} is not a trade structure")
        if skipped_trade(trade, venue_order_id, notes, embedded=True):
            continue
        stated = stated_of(trade, account, instrument_of) or stated_of(order, account, instrument_of)
        out.append(
            fill_message(trade, venue, source, rules, venue_order_id, identity, last_trade, notes, stated)
        )
    ending = TERMINAL.get(status)
    reason = None
    if status == "closed" and short_of_amount(order):
        # ccxt maps Bybit's PartiallyFilledCanceled (and the like) to closed: the order ended
        # with part of it never filled, which is a cancel, not a fill.
        ending = CanceledMessage
        reason = f"closed by the venue with {decimal_text(order.get('filled'), 'filled')} of "
        reason += f"{decimal_text(order.get('amount'), 'amount')} filled"
    if ending is not None:
        ts = time_field(order, "lastUpdateTimestamp") or created
        out.append(message(ending, **key, ts=ts, source=source, reason=reason))
    return out


def short_of_amount(order: Mapping[str, Any]) -> bool:
    """True when the order says how much of it filled and that is less than its amount."""
    amount = positive_text(order.get("amount"), "amount")
    filled = decimal_text(order.get("filled"), "filled")
    return amount is not None and filled is not None and Decimal(filled) < Decimal(amount)


def request_message(
    order: Mapping[str, Any],
    client_id: str | None,
    venue: str,
    account: str,
    ts: str,
    instrument_of: InstrumentOf | None,
    source: str,
    venue_order_id: str | None = None,
    aliases: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
) -> RequestMessage | None:
    """The order's request; an external one (keyed by venue order ID, naming the venue's client
    index among ``aliases`` where it has one) when ``client_id`` is None."""
    symbol = text_or_none(order.get("symbol"))
    side = (text_or_none(order.get("side")) or "").lower()
    quantity = positive_text(order.get("amount"), "amount")
    order_type, terms = order_terms(order, rules_for(venue))
    price = positive_text(order.get("price"), "price") if order_type in PRICED else None
    if symbol is None or side not in SIDES or quantity is None:
        return None  # not enough to describe the order: the ack and facts still go through
    if order_type in PRICED and price is None:
        return None
    tif = text_or_none(order.get("timeInForce"))
    post_only = order.get("postOnly")  # ccxt's unified flag: True, False, or None (not said)
    return message(
        RequestMessage,
        client_order_id=client_id,
        account=account,
        venue=venue,
        venue_order_id=venue_order_id,
        aliases=aliases,
        instrument=instrument_of(symbol) if instrument_of else symbol,
        side=side,
        order_type=order_type,
        quantity=quantity,
        price=price,
        time_in_force=None if tif is None else tif.upper(),
        post_only=post_only if isinstance(post_only, bool) else None,
        tags=tags,
        **terms,
        external=True if client_id is None else None,
        ts=ts,
        source=source,
    )


def order_type_of(order: Mapping[str, Any]) -> str:
    """CCXT's many order types reduced to the ledger's two plain ones: priced (limit) or not
    (market); a triggered order's kind is added by :func:`order_terms`."""
    kind = (text_or_none(order.get("type")) or "").lower()
    if "market" in kind:  # market, stop_market, take_profit_market …
        return "market"
    if "limit" in kind:  # limit, stop_limit, limit_maker, take_profit_limit …
        return "limit"
    if any(word in kind.replace("-", "_") for word in ("stop", "take_profit")):
        return "market"  # stop-loss, take-profit (Lighter, Kraken): market orders once triggered
    return "limit" if positive_text(order.get("price"), "price") is not None else "market"


PRICED = frozenset({"limit", "stop_limit", "take_profit_limit"})
"""The ledger's order types that carry a limit price."""
PLAIN_TERMS = ("reduce_only", "expire_at")
"""The fields an order of a plain type (limit, market) may state beyond price and time in force."""
_FAMILIES = (("trailing", "trailing_stop"), ("take_profit", "take_profit"), ("stop", "stop"))
"""Words of a venue's type name (``stop_loss_limit``, ``take-profit``, ``trailing_stop_market``)
and the kind of triggered order each names, tried in this order."""


def order_terms(order: Mapping[str, Any], rules: VenueRules) -> tuple[str, dict[str, Any]]:
    """The ledger's order type of a ccxt order and its request fields beyond price and time in
    force (only those the order states: a plain order gives none).

    ccxt folds most venues' triggered types into ``market``/``limit`` and states the trigger in
    ``triggerPrice`` (``stopPrice`` its older name), also copying it into ``stopLossPrice`` or
    ``takeProfitPrice`` when the venue's type says which; some venues' type keeps the name
    (``stop-loss-limit``, ``take_profit_market``). So the kind comes from the type's name, else
    from which of the two the trigger is; the exchange's rules add what only ``info`` holds (a
    trailing stop's offset, the price the trigger watches, a GTD expiry). ``stopLossPrice`` or
    ``takeProfitPrice`` alone, on an order of a plain type, are take-profit/stop-loss orders
    attached to it, not its own trigger: not read as one."""
    base = order_type_of(order)
    kind = re.sub(r"[\s-]+", "_", (text_or_none(order.get("type")) or "").lower())
    trigger = positive_text(order.get("triggerPrice"), "triggerPrice")
    trigger = trigger or positive_text(order.get("stopPrice"), "stopPrice")
    stop_loss = positive_text(order.get("stopLossPrice"), "stopLossPrice")
    take_profit = positive_text(order.get("takeProfitPrice"), "takeProfitPrice")
    extra = dict(rules.order_terms(order, info_of(order))) if rules.order_terms else {}
    family = extra.pop("family", None) or next((f for word, f in _FAMILIES if word in kind), None)
    if family is None and trigger is not None:
        family = "take_profit" if take_profit == trigger and stop_loss != trigger else "stop"
    if family == "stop":
        trigger = trigger or stop_loss
    elif family == "take_profit":
        trigger = trigger or take_profit
    elif family == "trailing_stop":
        trigger = None  # it moves with the price; the rules give its activation price, if any
    terms: dict[str, Any] = {"trigger_price": trigger} if trigger is not None else {}
    terms |= {name: value for name, value in extra.items() if value is not None}
    if order.get("reduceOnly") is True:
        terms["reduce_only"] = True
    if family in ("stop", "take_profit") and "trigger_price" not in terms:
        family = None  # a stop's name without its trigger: booked as the plain type it folds to
    if family == "trailing_stop" and "trailing_offset" not in terms:
        family = None
    if family is None:
        return base, {name: terms[name] for name in PLAIN_TERMS if name in terms}
    return ("trailing_stop" if family == "trailing_stop" else f"{family}_{base}"), terms
