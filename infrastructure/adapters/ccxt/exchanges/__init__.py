"""Each exchange's ccxt quirks, one module an exchange, and the table that picks them by venue name.

An exchange's module holds its ``RULES`` (``rules.VenueRules``: where its ``info`` names what the
unified fields leave out) and the readers they name; :data:`VENUE_RULES` lists them by ccxt
exchange ID, and :func:`rules_for` chooses for a ledger venue name. Adding an exchange's
quirks: a module here and its line in the table.
"""

from __future__ import annotations

from orderledger.infrastructure.adapters.ccxt.exchanges import (
    binance,
    bybit,
    hyperliquid,
    kraken,
    lighter,
    okx,
)
from orderledger.infrastructure.adapters.ccxt.rules import VenueRules

VENUE_RULES: dict[str, VenueRules] = {
    "binance": binance.RULES,
    "binanceusdm": binance.RULES,
    "binancecoinm": binance.RULES,
    "okx": okx.RULES,
    "bybit": bybit.RULES,
    "kraken": kraken.RULES,
    "hyperliquid": hyperliquid.RULES,
    "lighter": lighter.RULES,
}
"""Per-exchange rules, keyed by ccxt exchange ID."""
DEFAULT_RULES = VenueRules()
"""The rules of an exchange without quirks of its own."""


def rules_for(venue: str) -> VenueRules:
    """The rules for a ledger venue name: its ccxt exchange id, or a name that starts with one
    followed by a separator (``bybit-main``, ``okx_sub1``); otherwise the generic rules."""
    name = venue.lower()
    if name in VENUE_RULES:
        return VENUE_RULES[name]
    matches = [key for key in VENUE_RULES if name.startswith(key) and not name[len(key)].isalnum()]
    return VENUE_RULES[max(matches, key=len)] if matches else DEFAULT_RULES


__all__ = ["DEFAULT_RULES", "VENUE_RULES", "rules_for"]
