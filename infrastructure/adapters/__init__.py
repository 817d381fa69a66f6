"""Venue adapters: translate venue shapes into ledger messages (the core never names a venue)."""
