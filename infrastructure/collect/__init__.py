"""``orderledger collect``: live venue connections that keep the ledger current (docs/collect.md).

``source`` (what a venue connection is, its faults), ``runner`` (the :class:`Collector`: backfill,
stream, reconnect, reconcile, journal), ``registry`` (the venues by name), ``credentials``,
``status`` (the figures), ``timing`` (injected clock, sleep and jitter); ``venues``, one module
per venue (``fix``, ``tradier``, …), declared by its venue package (``adapters/<venue>/venue.py``).
Below the application, which starts a collector (``AsyncOrderLedger.collect``): the runner names
the ledger it keeps current by what it asks of it (``runner.KeptLedger``).
"""
