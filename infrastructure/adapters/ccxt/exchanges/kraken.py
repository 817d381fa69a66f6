"""Kraken's ccxt quirks: where its orders name the client's ID."""

from __future__ import annotations

from orderledger.infrastructure.adapters.ccxt.rules import VenueRules

# Kraken REST orders carry cl_ord_id/userref; websocket v2 executions say order_userref.
RULES = VenueRules(client_id_keys=("cl_ord_id", "userref", "order_userref"), no_client_id=frozenset({"0"}))


__all__ = ["RULES"]
