"""Lighter's ccxt quirks: client order indexes (on orders and on each side of a trade) and the
venue's own trades (liquidation, deleverage)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orderledger.infrastructure.adapters.ccxt.rules import VenueRules
from orderledger.infrastructure.adapters.common import SIDES, text_or_none


def forced(structure: Mapping[str, Any], info: Mapping[str, Any], account: str | None) -> str | None:
    # Lighter's trade "type": trade, liquidation or deleverage. A liquidation sells the
    # liquidated account's position into the book, so the venue's order is its taker side (the
    # maker's is a resting order of its own); a deleverage closes positions on both sides
    # against each other. An order of type "liquidation" is the venue's too.
    kind = text_or_none(info.get("type"))
    if "order_index" in info:
        return "liquidation" if kind == "liquidation" else None
    if kind == "deleverage":
        return "adl"
    taker = (text_or_none(structure.get("takerOrMaker")) or "").lower() == "taker"
    return "liquidation" if kind == "liquidation" and taker else None


def trade_client_index(trade: Mapping[str, Any], info: Mapping[str, Any]) -> str | None:
    # Lighter trades carry both sides' client indexes; ours is the side ccxt resolved.
    side = (text_or_none(trade.get("side")) or "").lower()
    if side not in SIDES:
        return None
    return text_or_none(info.get("ask_client_id" if side == "sell" else "bid_client_id"))


RULES = VenueRules(
    client_id_keys=("client_order_index", "client_order_id"),
    no_client_id=frozenset({"0"}),
    client_index=True,
    trade_client_index=trade_client_index,
    forced=forced,
)


__all__ = ["RULES", "forced", "trade_client_index"]
