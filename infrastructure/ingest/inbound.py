"""One raw venue payload and the messages an adapter read from it, ready for the ledger.

Here rather than beside the adapters: the ingest layer builds on the adapters, never the reverse.
"""

from __future__ import annotations

from collections.abc import Sequence

from orderledger.infrastructure.adapters.common import definitions_first
from orderledger.infrastructure.ingest.processing import Inbound
from orderledger.infrastructure.messages.models import Message


def inbound(
    raw: bytes, messages: Sequence[Message], *, origin: str, format: str, notes: Sequence[str] = ()
) -> Inbound:
    """One raw venue payload with the messages an adapter read from it, its instrument
    definitions first (``common.definitions_first``).

    The messages were validated as the adapter built them (a message that does not validate
    refuses the whole input, its raw payload still journaled), so they are booked as they
    are. The ledger decides each message on its own: one it refuses (for example a request
    reusing a client order ID) leaves the others to apply.
    """
    return Inbound(
        raw=raw,
        origin=origin,
        line_no=None,
        format=format,
        notes=list(notes),
        messages=definitions_first(messages),
    )


__all__ = ["inbound"]
