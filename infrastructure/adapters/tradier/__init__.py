"""The tradier venue: one package (docs/venues.md, "Adding a venue")."""
