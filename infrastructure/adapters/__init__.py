"""Venue adapters: translate venue shapes into ledger messages (the core never names a venue).

Each module reads one shape and returns ledger-format message dicts (``infrastructure.messages``),
pure translation with no I/O:

* :mod:`~infrastructure.adapters.ccxt` — CCXT unified orders and trades (fetch_* and watch_*);
* :mod:`~infrastructure.adapters.fix` — FIX 4.2/4.4 session logs: ExecutionReport (35=8),
  OrderCancelReject (35=9) and a drop copy's NewOrderSingle/CancelRequest/CancelReplaceRequest;
* :mod:`~infrastructure.adapters.snapshots` — successive open-orders snapshots → new / updated /
  closed orders, for reconciliation;
* :mod:`~infrastructure.adapters.aliases` — venue aliases (numeric client index, FIX ClOrdIDs).

Feed each message as its own JSON line (``OrderLedger.ingest_lines``), or wrap one raw payload
and its messages with :func:`inbound` for ``OrderLedger.ingest_inbound``.
"""

from __future__ import annotations

from collections.abc import Sequence

from orderledger.infrastructure.adapters.common import AdapterError, Message, definitions_first
from orderledger.infrastructure.errors import MessageError
from orderledger.infrastructure.ingest.messages import parse_message
from orderledger.infrastructure.ingest.processing import Inbound


def inbound(
    raw: bytes, messages: Sequence[Message], *, origin: str, format: str, notes: Sequence[str] = ()
) -> Inbound:
    """One raw venue payload with the messages an adapter read from it, validated, its
    instrument definitions first (``common.definitions_first``).

    A message that does not validate makes the whole input rejected with its reason (the raw
    payload is still journaled). The ledger decides each valid message on its own: one it
    refuses (for example a request reusing a client order ID) leaves the others to apply.
    """
    item = Inbound(raw=raw, origin=origin, line_no=None, format=format, notes=list(notes))
    try:
        item.messages = [parse_message(dict(m)) for m in definitions_first(messages)]
    except (MessageError, ValueError) as error:
        item.error = str(getattr(error, "message", error)).splitlines()[0]
    return item


__all__ = ["AdapterError", "Message", "inbound"]
