"""Bybit's ccxt quirks: its client order ID field, realized P&L, the venue's own executions
(liquidation, ADL), an order's quantity on its trades, and its funding executions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orderledger.infrastructure.adapters.ccxt.rules import VenueRules
from orderledger.infrastructure.adapters.common import AdapterError, text_or_none


def forced(structure: Mapping[str, Any], info: Mapping[str, Any], account: str | None) -> str | None:
    # Bybit v5 execution execType: BustTrade is a liquidation, AdlTrade an auto-deleverage.
    kind = text_or_none(info.get("execType"))
    return {"BustTrade": "liquidation", "AdlTrade": "adl"}.get(kind or "")


def settle_currency(structure: Mapping[str, Any]) -> str:
    # Bybit pays funding in the contract's settle coin (USDT, USDC, or the base coin of an
    # inverse contract), which ccxt's unified symbol names after the colon. ccxt 4.5.90's
    # bybit parse_income says USDT for every linear contract and the quote (USD) for an inverse
    # one, while its parse_trade names the settle coin for the same contract's fees.
    symbol = text_or_none(structure.get("symbol")) or ""
    settle = symbol.partition(":")[2]
    if not settle:
        raise AdapterError(
            f"ccxt funding history: symbol {symbol[:40]!r} names no settle coin"
            " (parse it with the venue's markets loaded)"
        )
    return settle


RULES = VenueRules(
    client_id_keys=("orderLinkId",),
    realized_pnl_keys=("execPnl",),
    forced=forced,
    order_quantity_keys=("orderQty",),
    funding_received_positive=False,  # execFee: positive paid (opposite to the log's funding)
    funding_kind=("execType", frozenset({"Funding"})),  # ID: execId
    funding_currency=settle_currency,
)


__all__ = ["RULES", "forced", "settle_currency"]
