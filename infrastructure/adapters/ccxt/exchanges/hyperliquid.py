"""Hyperliquid's ccxt quirks: its client order ID fields, realized P&L, fees, liquidations and
funding payments, read as the native adapter (``adapters.hyperliquid.payloads``) reads them."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from orderledger.infrastructure.adapters.ccxt.rules import VenueRules, info_of
from orderledger.infrastructure.adapters.common import decimal_text, text_or_none
from orderledger.infrastructure.adapters.hyperliquid.payloads import funding_flow_id, liquidated_here, user_of


def fee(info: Mapping[str, Any]) -> tuple[str, str | None] | None:
    # Hyperliquid fills: fee (+ builderFee when present), in feeToken, positive = paid. ccxt's
    # REST parser adds the builder fee, its websocket one does not: read both the REST way.
    cost = decimal_text(info.get("fee"), "info.fee")
    if cost is None:
        return None
    builder = decimal_text(info.get("builderFee"), "info.builderFee") or "0"
    return decimal_text(Decimal(cost) + Decimal(builder), "fee") or "0", text_or_none(info.get("feeToken"))


def forced(structure: Mapping[str, Any], info: Mapping[str, Any], account: str | None) -> str | None:
    # Hyperliquid userFills: both sides of a liquidation's trade carry its "liquidation"
    # object; it is ours when its liquidatedUser is the account (the native adapter's rule).
    # ccxt's structures never name the user: with an account named by a label, the raw fill
    # says (a closing taker fill is our liquidation, a maker fill a resting order it hit).
    return "liquidation" if liquidated_here(info, user_of(account)) else None


def funding_id(structure: Mapping[str, Any]) -> str | None:
    info = info_of(structure)
    delta = info.get("delta")
    coin = delta.get("coin") if isinstance(delta, Mapping) else None
    return None if coin is None else funding_flow_id(str(coin), info.get("time"))


RULES = VenueRules(
    client_id_keys=("cloid", "order.cloid"),
    realized_pnl_keys=("closedPnl",),
    fee=fee,
    forced=forced,
    funding_received_positive=True,  # usdc: what the position received
    funding_id=funding_id,  # its hash is all zeros for every funding payment
    funding_kind=("delta.type", frozenset({"funding"})),
)


__all__ = ["RULES", "fee", "forced", "funding_id"]
