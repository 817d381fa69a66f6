"""OKX's ccxt quirks: its client order ID field, realized P&L, fee sign, the venue's own orders
(liquidation, ADL) and its funding bills."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from orderledger.infrastructure.adapters.ccxt.rules import VenueRules
from orderledger.infrastructure.adapters.common import decimal_text, positive_text, text_or_none


def fee(info: Mapping[str, Any]) -> tuple[str, str | None] | None:
    # OKX signs fees negative for a cost (docs-v5 "fee"/"fillFee": "negative number represents
    # the user transaction fee charged by the platform"): flip to the ledger's sign. The orders
    # channel carries fillFee/fillFeeCcy, REST fills fee/feeCcy.
    for cost_key, currency_key in (("fillFee", "fillFeeCcy"), ("fee", "feeCcy")):
        cost = decimal_text(info.get(cost_key), f"info.{cost_key}")
        if cost is not None and text_or_none(info.get("tradeId")) is not None:
            return decimal_text(-Decimal(cost), cost_key) or "0", text_or_none(info.get(currency_key))
    return None


def forced(structure: Mapping[str, Any], info: Mapping[str, Any], account: str | None) -> str | None:
    # OKX order "category": full_liquidation, partial_liquidation, adl (normal for the caller's).
    category = text_or_none(info.get("category")) or ""
    if category.endswith("liquidation"):
        return "liquidation"
    return "adl" if category == "adl" else None


TRIGGER_REFERENCES = frozenset({"last", "mark", "index"})
"""OKX ``triggerPxType`` (and ``slTriggerPxType``/``tpTriggerPxType``): the price a trigger watches."""


def order_terms(structure: Mapping[str, Any], info: Mapping[str, Any]) -> dict[str, Any]:
    # OKX algo orders (docs-v5 GET /api/v5/trade/orders-algo-pending): triggerPxType names the
    # price the trigger watches; a trailing stop (ordType move_order_stop) trails by
    # callbackRatio (a fraction: "0.05" is 5%) or callbackSpread (a price distance) once the
    # price reaches activePx (its activation price, when given).
    terms: dict[str, Any] = {}
    if text_or_none(info.get("ordType")) == "move_order_stop":
        ratio = decimal_text(info.get("callbackRatio"), "callbackRatio")
        spread = decimal_text(info.get("callbackSpread"), "callbackSpread")
        terms["family"] = "trailing_stop"
        terms["trigger_price"] = positive_text(info.get("activePx"), "activePx")
        if ratio is not None:
            percent = decimal_text(Decimal(ratio) * 100, "callbackRatio")
            terms |= {"trailing_offset": percent, "trailing_offset_type": "percent"}
        elif spread is not None:
            terms |= {"trailing_offset": spread, "trailing_offset_type": "price"}
    reference = text_or_none(info.get("triggerPxType"))
    if text_or_none(info.get("ordType")) == "conditional":
        # A one-way stop-loss or take-profit algo order: its trigger is slTriggerPx or
        # tpTriggerPx (with both, one order holding two triggers: no single type, left plain).
        sides = [(f, k) for f, k in (("stop", "sl"), ("take_profit", "tp")) if info.get(f"{k}TriggerPx")]
        if len(sides) == 1:
            family, key = sides[0]
            terms |= {"family": family, "trigger_price": positive_text(info[f"{key}TriggerPx"], key)}
            reference = text_or_none(info.get(f"{key}TriggerPxType"))
            terms["trigger_reference"] = reference if reference in TRIGGER_REFERENCES else None
            return terms
    if reference in TRIGGER_REFERENCES and (structure.get("triggerPrice") is not None or terms):
        terms["trigger_reference"] = reference
    return terms


RULES = VenueRules(
    client_id_keys=("clOrdId",),
    realized_pnl_keys=("fillPnl",),
    fee=fee,
    forced=forced,
    funding_received_positive=True,  # balChg: the signed change of the account's balance
    funding_kind=("type", frozenset({"8"})),  # bill type 8: funding fee (ID: billId)
    order_terms=order_terms,
)


__all__ = ["RULES", "TRIGGER_REFERENCES", "fee", "forced", "order_terms"]
