"""The ledger's upkeep: schema, settings, exports and verify, reconciliation against a venue, the
collectors' leases and their Prometheus metrics."""
