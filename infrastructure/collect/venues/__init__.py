"""Each venue's live connection, one module a venue: its ``Source`` (``collect.source``), declared
by the venue's package (``adapters/<venue>/venue.py``, a ``declared.Collector``) and loaded by
that name when ``orderledger collect`` connects to it."""
