"""``orderledger collect``: live venue connections that keep the ledger current (docs/collect.md).

``source`` (what a venue connection is, its faults), ``runner`` (the :class:`Collector`: backfill,
stream, reconnect, reconcile, journal), ``registry`` (the venues by name), ``credentials``,
``status`` (the figures), ``timing`` (injected clock, sleep and jitter); one module per venue
(``fix``, ``tradier``, …). Above the application layer, below the shells.
"""
