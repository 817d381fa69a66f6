"""The Tradier venue: its input format and its collector."""

from __future__ import annotations

from orderledger.infrastructure.adapters.declared import TIMEOUT_MEANING, Collector, InputFormat, Venue

VENUE = Venue(
    formats=(
        InputFormat(
            "tradier",
            "Tradier orders replies (polls)",
            needs_venue=True,
            needs_account=True,
            feed="orderledger.infrastructure.application.feeds.tradier:TradierFeed",
        ),
    ),
    collectors=(
        Collector(
            "tradier",
            "orderledger.infrastructure.collect.venues.tradier:TradierSource",
            "poll the account's orders (with tags) within the rate limit headers; recent days on start",
            {"mainnet": "https://api.tradier.com/v1", "sandbox": "https://sandbox.tradier.com/v1"},
            options={
                "poll": "seconds between polls when the rate limit allows more (default 2)",
                "days": "days of orders read on a first start (default 7)",
                "timeout": TIMEOUT_MEANING,
            },
            credentials=("token",),
            needs_account=True,
        ),
    ),
)

__all__ = ["VENUE"]
