"""A toy venue, as a venue package is written (docs/venues.md, "Adding a venue"): its payloads
(``payloads``) and its declaration (``venue``), registered by one line."""
