"""Venue adapters: translate venue shapes into ledger messages (the core never names a venue).

Each module reads one shape and returns the ledger's message models, each validated once
(``infrastructure.messages.models``), pure translation with no I/O:

* :mod:`~infrastructure.adapters.ccxt` — CCXT unified orders and trades (fetch_* and watch_*);
* :mod:`~infrastructure.adapters.fix` — FIX 4.2/4.4 session logs: ExecutionReport (35=8),
  OrderCancelReject (35=9) and a drop copy's NewOrderSingle/CancelRequest/CancelReplaceRequest;
* :mod:`~infrastructure.adapters.snapshots` — successive open-orders snapshots → new / updated /
  closed orders, for reconciliation;
* :mod:`~infrastructure.adapters.aliases` — venue aliases (numeric client index, FIX ClOrdIDs).

Feed each message as its own JSON line (``message_to_json``, ``OrderLedger.ingest_lines``), or
wrap one raw payload and its messages with :func:`~infrastructure.ingest.inbound.inbound` for
``OrderLedger.ingest_inbound``. Adapters import nothing from ingest: ingest builds on them.
"""

from __future__ import annotations

from orderledger.infrastructure.adapters.common import AdapterError

__all__ = ["AdapterError"]
