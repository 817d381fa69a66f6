"""CCXT: its input format (unified orders and trades) and its collector (ccxt.pro)."""

from __future__ import annotations

from orderledger.infrastructure.adapters.declared import Collector, InputFormat, Venue

VENUE = Venue(
    formats=(
        InputFormat(
            "ccxt",
            "CCXT unified orders and trades",
            needs_venue=True,
            needs_account=True,
            translate="orderledger.infrastructure.adapters.ccxt.payloads:line_messages",
        ),
    ),
    collectors=(
        Collector(
            "ccxt",
            "orderledger.infrastructure.collect.venues.ccxt:CcxtSource",
            "any exchange ccxt.pro supports: watch_orders, watch_my_trades; REST backfill (orders, my"
            " trades, funding history) and fetch_open_orders reconciled; ccxt credentials from"
            " ORDERLEDGER_CCXT_APIKEY, _SECRET, _PASSWORD, _UID, _WALLETADDRESS, _PRIVATEKEY as needed",
            {"mainnet": "ccxt://mainnet", "testnet": "ccxt://sandbox"},
            options={
                "exchange": "the ccxt exchange id (binance, okx, hyperliquid, …)",
                "venue": "the venue name the ledger books (default: the exchange id)",
                "rate_limit": "off turns ccxt's own spacing of requests off (default on)",
                "funding_every": "seconds between reads of the funding history while streaming (default 60)",
                "symbols": "markets (ccxt symbols, comma-separated) always read where ccxt needs a symbol",
            },
            required=("exchange",),
            needs_account=True,
        ),
    ),
)

__all__ = ["VENUE"]
