"""The Hyperliquid venue: its input format and option, its two collectors."""

from __future__ import annotations

from dataclasses import dataclass

from orderledger.infrastructure.adapters.declared import (
    TIMEOUT_MEANING,
    Collector,
    InputFormat,
    Venue,
    option,
)


@dataclass(frozen=True)
class HyperliquidOptions:
    """Whose account the payloads are, when ``account`` is a label rather than an address."""

    address: str | None = option(
        "the account's Hyperliquid address (0x and 40 hex digits), when --account is a label:"
        " a fill whose liquidatedUser it is, is our liquidation (else the fill itself says whose)",
        metavar="0x…",
    )


ENDPOINTS = {"mainnet": "https://api.hyperliquid.xyz", "testnet": "https://api.hyperliquid-testnet.xyz"}
"""Hyperliquid's info base URLs; the WebSocket URL derives from them (``https://h`` → ``wss://h/ws``)."""

_COLLECTOR = "orderledger.infrastructure.collect.venues.hyperliquid"

VENUE = Venue(
    formats=(
        InputFormat(
            "hyperliquid",
            "Hyperliquid WebSocket and info payloads",
            needs_venue=True,
            needs_account=True,
            options=HyperliquidOptions,
            feed="orderledger.infrastructure.application.feeds.hyperliquid:HyperliquidFeed",
        ),
    ),
    collectors=(
        Collector(
            "hyperliquid",
            f"{_COLLECTOR}:HyperliquidSource",
            "one user's orderUpdates, userFills and userFundings over WebSocket; info backfill"
            " (historicalOrders, userFillsByTime, userFunding); frontendOpenOrders reconciled",
            ENDPOINTS,
            options={
                "user": "the address followed (default: --account, which is then an address)",
                "venue": "the venue name the ledger books (default hyperliquid)",
                "ping": "seconds between pings (default 50; the venue drops a connection silent for 60)",
                "timeout": TIMEOUT_MEANING,
            },
            needs_account=True,
        ),
        Collector(
            "hyperliquid-watch",
            f"{_COLLECTOR}:HyperliquidWatchSource",
            "other traders' open orders from webData2, each address its own account (new and closed"
            " orders by reconciliation); 10 addresses per connection, at most 10 connections",
            ENDPOINTS,
            options={
                "addresses": "the traders' addresses, comma-separated (at most 100)",
                "venue": "the venue name the ledger books (default hyperliquid-watch)",
                "ping": "seconds between pings (default 50)",
                "timeout": TIMEOUT_MEANING,
            },
            required=("addresses",),
        ),
    ),
)

__all__ = ["ENDPOINTS", "VENUE", "HyperliquidOptions"]
