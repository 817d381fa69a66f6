"""The Lighter venue: its input format and its collector."""

from __future__ import annotations

from orderledger.infrastructure.adapters.declared import TIMEOUT_MEANING, Collector, InputFormat, Venue

VENUE = Venue(
    formats=(
        InputFormat(
            "lighter",
            "Lighter REST replies and account channels",
            needs_venue=True,
            needs_account=True,
            feed="orderledger.infrastructure.application.feeds.lighter:LighterFeed",
        ),
    ),
    collectors=(
        Collector(
            "lighter",
            "orderledger.infrastructure.collect.venues.lighter:lighter_source",
            "the account channels (orders, trades) with the auth token, REST backfill, the market map",
            {
                "mainnet": "https://mainnet.zklighter.elliot.ai",
                "testnet": "https://testnet.zklighter.elliot.ai",
            },
            options={
                "ping": "seconds between the collector's pings (default 30)",
                "timeout": TIMEOUT_MEANING,
            },
            credentials=("auth_token",),
        ),
    ),
)

__all__ = ["VENUE"]
