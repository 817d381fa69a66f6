"""One raw venue payload and the messages an adapter read from it, ready for the ledger.

Here rather than beside the adapters: the ingest layer builds on the adapters, never the reverse.
"""

from __future__ import annotations

from collections.abc import Sequence

from orderledger.infrastructure.adapters.common import Message, definitions_first
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


__all__ = ["inbound"]
