"""Binance's ccxt quirks (spot, USDⓈ-M and COIN-M futures): its client order ID fields, its
realized P&L, the venue's own orders (liquidation, ADL) and its funding income."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orderledger.infrastructure.adapters.ccxt.rules import VenueRules
from orderledger.infrastructure.adapters.common import text_or_none


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


RULES = VenueRules(
    client_id_keys=("clientOrderId", "c"),
    realized_pnl_keys=("rp", "realizedPnl"),
    forced=forced,
    funding_received_positive=True,  # income: "-0.01" FUNDING_FEE is a payment made
    funding_kind=("incomeType", frozenset({"FUNDING_FEE"})),
)


__all__ = ["RULES", "forced"]
