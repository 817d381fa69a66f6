"""What differs between venues on the ccxt route: statuses, and one table of readings of ``info``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from orderledger.domain.values import ENDED, Status
from orderledger.infrastructure.adapters.common import (
    ENDINGS,
    SIDES,
    AdapterError,
    decimal_text,
    text_or_none,
)
from orderledger.infrastructure.adapters.hyperliquid.payloads import funding_flow_id, liquidated_here, user_of

SOURCE = "ccxt"
SNAPSHOT_STATUS = {
    "closed": "filled",
    "canceled": "canceled",
    "cancelled": "canceled",
    "expired": "expired",
    "rejected": "rejected",
}
"""CCXT status → the status of a closed-order row in a reconciliation snapshot."""
TERMINAL = {
    venue: ENDINGS[Status(status)] for venue, status in SNAPSHOT_STATUS.items() if Status(status) in ENDED
}
"""CCXT statuses that end an order by a fact of its own, and the ledger message each becomes
(the one of the status it leads to; ``closed`` ends an order by its fills)."""
INFO_ORIGINAL_CLIENT_ID_KEYS = ("origClientOrderId",)
"""Keys under which a venue's cancel response (``info``) names the order's own client order ID
while ``clientOrderId`` holds the cancel request's (Binance's DELETE /api/v3/order does this)."""

InstrumentOf = Callable[[str], str]
"""Maps a CCXT symbol (``BTC/USDT``, ``BTC/USDT:USDT``) to the ledger's instrument name."""
FeeReader = Callable[[Mapping[str, Any]], "tuple[str, str | None] | None"]
"""Reads one trade's fee from its ``info`` in the ledger's sign (positive = cost), or None."""
ForcedReader = Callable[[Mapping[str, Any], Mapping[str, Any], "str | None"], "str | None"]
"""(structure, info, account) → ``"liquidation"``, ``"adl"`` or None: was this order/trade the
venue's, placed on ``account``'s position?"""


def info_of(structure: Mapping[str, Any]) -> Mapping[str, Any]:
    info = structure.get("info")
    return info if isinstance(info, Mapping) else {}


# ---------------------------------------------------------------------- venue rules


@dataclass(frozen=True)
class VenueRules:
    """How one venue's ccxt structures are read where the unified fields are not enough."""

    client_id_keys: tuple[str, ...] = ("clientOrderId", "clientOid", "clOrdId", "client_oid")
    """Fields of ``info`` (dotted for nested) holding the client order ID when the unified
    ``clientOrderId`` is missing."""
    no_client_id: frozenset[str] = frozenset()
    """Values the venue uses for "no client order ID" (besides null and empty text)."""
    client_index: bool = False
    """The client order ID is a numeric index the connector chose: emitted as an alias."""
    trade_client_index: Callable[[Mapping[str, Any], Mapping[str, Any]], str | None] | None = None
    """(trade, info) → the client index of a trade, for index venues whose trades carry one."""
    realized_pnl_keys: tuple[str, ...] = ()
    """Fields of a trade's ``info`` holding the venue's realized P&L for that fill."""
    fee: FeeReader | None = None
    """Reads the fee from ``info`` instead of the unified ``fee`` (see the module docstring)."""
    forced: ForcedReader | None = None
    """Marks liquidation / ADL orders and trades."""
    order_quantity_keys: tuple[str, ...] = ()
    """Fields of a trade's ``info`` stating its whole order's quantity (the same on every fill of
    the order), used as the quantity of a liquidation/ADL trade's external request."""
    funding_received_positive: bool | None = None
    """Whether a funding history structure's ``amount`` is positive for a payment received
    (ccxt passes each venue's own sign through); None: not established for the venue, and its
    funding history is refused rather than booked with a sign that may be wrong."""
    funding_id: Callable[[Mapping[str, Any]], str | None] | None = None
    """(structure) → the payment's ID where the unified ``id`` is not one."""
    funding_kind: tuple[str, frozenset[str]] | None = None
    """(field of ``info``, dotted for nested; its values for a funding payment): the history
    ccxt reads holds other kinds too (income, bills, executions), signed otherwise, so an entry
    of another kind, or of none, is refused."""
    funding_currency: Callable[[Mapping[str, Any]], str] | None = None
    """(structure) → the payment's currency where ccxt's ``code`` is not it."""


def _okx_fee(info: Mapping[str, Any]) -> tuple[str, str | None] | None:
    # OKX signs fees negative for a cost (docs-v5 "fee"/"fillFee": "negative number represents
    # the user transaction fee charged by the platform"): flip to the ledger's sign. The orders
    # channel carries fillFee/fillFeeCcy, REST fills fee/feeCcy.
    for cost_key, currency_key in (("fillFee", "fillFeeCcy"), ("fee", "feeCcy")):
        cost = decimal_text(info.get(cost_key), f"info.{cost_key}")
        if cost is not None and text_or_none(info.get("tradeId")) is not None:
            return decimal_text(-Decimal(cost), cost_key) or "0", text_or_none(info.get(currency_key))
    return None


def _hyperliquid_fee(info: Mapping[str, Any]) -> tuple[str, str | None] | None:
    # Hyperliquid fills: fee (+ builderFee when present), in feeToken, positive = paid. ccxt's
    # REST parser adds the builder fee, its websocket one does not: read both the REST way.
    cost = decimal_text(info.get("fee"), "info.fee")
    if cost is None:
        return None
    builder = decimal_text(info.get("builderFee"), "info.builderFee") or "0"
    return decimal_text(Decimal(cost) + Decimal(builder), "fee") or "0", text_or_none(info.get("feeToken"))


def _binance_forced(structure: Mapping[str, Any], info: Mapping[str, Any], account: str | None) -> str | None:
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


def _bybit_forced(structure: Mapping[str, Any], info: Mapping[str, Any], account: str | None) -> str | None:
    # Bybit v5 execution execType: BustTrade is a liquidation, AdlTrade an auto-deleverage.
    kind = text_or_none(info.get("execType"))
    return {"BustTrade": "liquidation", "AdlTrade": "adl"}.get(kind or "")


def _okx_forced(structure: Mapping[str, Any], info: Mapping[str, Any], account: str | None) -> str | None:
    # OKX order "category": full_liquidation, partial_liquidation, adl (normal for the caller's).
    category = text_or_none(info.get("category")) or ""
    if category.endswith("liquidation"):
        return "liquidation"
    return "adl" if category == "adl" else None


def _hyperliquid_forced(
    structure: Mapping[str, Any], info: Mapping[str, Any], account: str | None
) -> str | None:
    # Hyperliquid userFills: both sides of a liquidation's trade carry its "liquidation"
    # object; it is ours when its liquidatedUser is the account (the native adapter's rule).
    # ccxt's structures never name the user: with an account named by a label, the raw fill
    # says (a closing taker fill is our liquidation, a maker fill a resting order it hit).
    return "liquidation" if liquidated_here(info, user_of(account)) else None


def _lighter_forced(structure: Mapping[str, Any], info: Mapping[str, Any], account: str | None) -> str | None:
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


def _lighter_trade_index(trade: Mapping[str, Any], info: Mapping[str, Any]) -> str | None:
    # Lighter trades carry both sides' client indexes; ours is the side ccxt resolved.
    side = (text_or_none(trade.get("side")) or "").lower()
    if side not in SIDES:
        return None
    return text_or_none(info.get("ask_client_id" if side == "sell" else "bid_client_id"))


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


def _hyperliquid_funding_id(structure: Mapping[str, Any]) -> str | None:
    info = info_of(structure)
    delta = info.get("delta")
    coin = delta.get("coin") if isinstance(delta, Mapping) else None
    return None if coin is None else funding_flow_id(str(coin), info.get("time"))


BINANCE = VenueRules(
    client_id_keys=("clientOrderId", "c"),
    realized_pnl_keys=("rp", "realizedPnl"),
    forced=_binance_forced,
    funding_received_positive=True,  # income: "-0.01" FUNDING_FEE is a payment made
    funding_kind=("incomeType", frozenset({"FUNDING_FEE"})),
)
VENUE_RULES: dict[str, VenueRules] = {
    "binance": BINANCE,
    "binanceusdm": BINANCE,
    "binancecoinm": BINANCE,
    "okx": VenueRules(
        client_id_keys=("clOrdId",),
        realized_pnl_keys=("fillPnl",),
        fee=_okx_fee,
        forced=_okx_forced,
        funding_received_positive=True,  # balChg: the signed change of the account's balance
        funding_kind=("type", frozenset({"8"})),  # bill type 8: funding fee (ID: billId)
    ),
    "bybit": VenueRules(
        client_id_keys=("orderLinkId",),
        realized_pnl_keys=("execPnl",),
        forced=_bybit_forced,
        order_quantity_keys=("orderQty",),
        funding_received_positive=False,  # execFee: positive paid (opposite to the log's funding)
        funding_kind=("execType", frozenset({"Funding"})),  # ID: execId
        funding_currency=settle_currency,
    ),
    # Kraken REST orders carry cl_ord_id/userref; websocket v2 executions say order_userref.
    "kraken": VenueRules(
        client_id_keys=("cl_ord_id", "userref", "order_userref"), no_client_id=frozenset({"0"})
    ),
    "hyperliquid": VenueRules(
        client_id_keys=("cloid", "order.cloid"),
        realized_pnl_keys=("closedPnl",),
        fee=_hyperliquid_fee,
        forced=_hyperliquid_forced,
        funding_received_positive=True,  # usdc: what the position received
        funding_id=_hyperliquid_funding_id,  # its hash is all zeros for every funding payment
        funding_kind=("delta.type", frozenset({"funding"})),
    ),
    "lighter": VenueRules(
        client_id_keys=("client_order_index", "client_order_id"),
        no_client_id=frozenset({"0"}),
        client_index=True,
        trade_client_index=_lighter_trade_index,
        forced=_lighter_forced,
    ),
}
"""Per-venue rules, keyed by ccxt exchange id. The one place venue quirks of ``info`` live."""
DEFAULT_RULES = VenueRules()


def rules_for(venue: str) -> VenueRules:
    """The rules for a ledger venue name: its ccxt exchange id, or a name that starts with one
    followed by a separator (``bybit-main``, ``okx_sub1``); otherwise the generic rules."""
    name = venue.lower()
    if name in VENUE_RULES:
        return VENUE_RULES[name]
    matches = [key for key in VENUE_RULES if name.startswith(key) and not name[len(key)].isalnum()]
    return VENUE_RULES[max(matches, key=len)] if matches else DEFAULT_RULES
