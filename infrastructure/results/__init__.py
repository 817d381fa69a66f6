"""What the ledger's queries answer: one frozen dataclass per kind of row, and one filter.

Beside the layers of ``infrastructure/``, like ``errors``: the application answers with these
rows, and so do the audit's searches below it. One module per kind:

* ``rows``: the shared base of the rows (``ResultRow``) and their JSON-ready form (``plain``);
* ``filter``: ``Filter``, which rows a query selects;
* ``orders``: ``OrderRow`` and ``ParentRow``; ``trades``: ``TradeRow``;
* ``positions``: ``PositionRow``, ``ExposureRow``, ``LotRow``;
* ``pnl``: ``PnlRow``, ``DailyPnlRow``, ``PnlPoint``, ``FeeValueRow``;
* ``log``: ``EventRecord``, ``MessageRecord``, ``HistoryEntry``, ``InstrumentRow``;
* ``views_lag``: ``ViewsLag``; ``head``: ``Head``.

The package itself exports nothing: a name is imported from its module (``orderledger`` exports
the public ones).
"""
