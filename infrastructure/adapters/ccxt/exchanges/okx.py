"""OKX's ccxt quirks: its client order ID field, realized P&L, fee sign, the venue's own orders
(liquidation, ADL) and its funding bills."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from orderledger.infrastructure.adapters.ccxt.rules import VenueRules
from orderledger.infrastructure.adapters.common import decimal_text, text_or_none


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


RULES = VenueRules(
    client_id_keys=("clOrdId",),
    realized_pnl_keys=("fillPnl",),
    fee=fee,
    forced=forced,
    funding_received_positive=True,  # balChg: the signed change of the account's balance
    funding_kind=("type", frozenset({"8"})),  # bill type 8: funding fee (ID: billId)
)


__all__ = ["RULES", "fee", "forced"]
