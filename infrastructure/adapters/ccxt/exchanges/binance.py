"""Binance's ccxt quirks (spot, USDⓈ-M and COIN-M futures): its client order ID fields, its
realized P&L, the venue's own orders (liquidation, ADL) and its funding income."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orderledger.infrastructure.adapters.ccxt.rules import VenueRules
from orderledger.infrastructure.adapters.common import (
    decimal_text,
    positive_text,
    text_or_none,
    time_from_millis,
)


def forced(structure: Mapping[str, Any], info: Mapping[str, Any], account: str | None) -> str | None:
    # Binance futures name the venue's own orders by client ID: "autoclose-…" for a liquidation,
    # "adl_autoclose" for auto-deleveraging (USDⓈ-M user data stream, ORDER_TRADE_UPDATE "c").
    client = text_or_none(structure.get("clientOrderId")) or text_or_none(info.get("c"))
    client = client or text_or_none(info.get("clientOrderId"))
    if client is None:
        return None
    if client.startswith("adl_autoclose"):
        return "adl"
    if client.startswith("autoclose-"):
        return "liquidation"
    return None


WORKING_TYPES = {"CONTRACT_PRICE": "last", "MARK_PRICE": "mark"}
"""Binance futures ``workingType`` (``wt`` on the stream): the price a stop watches."""


def order_terms(structure: Mapping[str, Any], info: Mapping[str, Any]) -> dict[str, Any]:
    # ccxt folds TRAILING_STOP_MARKET into "market" and reads its stopPrice ("sp"), which
    # Binance says to ignore for a trailing stop: the callback rate (percent) is its offset and
    # the activation price its trigger. USDⓈ-M ORDER_TRADE_UPDATE: o/ot type, cr callback rate,
    # AP activation price, wt working type, gtd expiry; REST: type/origType, priceRate,
    # activatePrice, workingType, goodTillDate (ms; 0 when not GTD).
    types = {text_or_none(info.get(key)) for key in ("ot", "o", "origType", "type", "orderType")}
    terms: dict[str, Any] = {}
    if "TRAILING_STOP_MARKET" in types:
        rate = info.get("cr") if info.get("cr") is not None else info.get("priceRate")
        activation = info.get("AP") if info.get("AP") is not None else info.get("activatePrice")
        terms |= {"family": "trailing_stop", "trailing_offset": decimal_text(rate, "callback rate")}
        terms["trailing_offset_type"] = "percent" if terms["trailing_offset"] is not None else None
        terms["trigger_price"] = positive_text(activation, "activation price")
    triggered = "trailing_stop" in terms.values() or structure.get("triggerPrice") is not None
    working = text_or_none(info.get("workingType")) or text_or_none(info.get("wt"))
    if triggered and working in WORKING_TYPES:
        terms["trigger_reference"] = WORKING_TYPES[working]
    expiry = info.get("goodTillDate") if info.get("goodTillDate") is not None else info.get("gtd")
    if text_or_none(structure.get("timeInForce")) == "GTD" and expiry not in (None, 0, "0"):
        terms["expire_at"] = time_from_millis(expiry, "goodTillDate")
    return terms


RULES = VenueRules(
    client_id_keys=("clientOrderId", "c"),
    realized_pnl_keys=("rp", "realizedPnl"),
    forced=forced,
    funding_received_positive=True,  # income: "-0.01" FUNDING_FEE is a payment made
    funding_kind=("incomeType", frozenset({"FUNDING_FEE"})),
    order_terms=order_terms,
)


__all__ = ["RULES", "WORKING_TYPES", "forced", "order_terms"]
