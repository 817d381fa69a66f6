"""One raw input and the messages read from it, ready for the ledger (``Inbound``), and what
became of it (``Result``).

Here rather than beside the adapters: the ingest layer builds on the adapters, never the reverse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from orderledger.domain.errors import LedgerError
from orderledger.domain.events import BreachRecorded, OrderEvent
from orderledger.domain.identity import IdentityKey
from orderledger.domain.outcomes import Outcome
from orderledger.infrastructure.adapters.common import definitions_first
from orderledger.infrastructure.messages.models import Message


@dataclass
class Inbound:
    """One raw input with the message(s) read from it, or why none could be read."""

    raw: bytes
    origin: str
    line_no: int | None
    format: str
    messages: list[Message] = field(default_factory=list)
    error: str | None = None
    notes: list[str] = field(default_factory=list)  # parts of the input its adapter did not book, and why
    # What its feed must learn from another line before it can be read (a Lighter market, a
    # Hyperliquid spot pair): the key it is parked under, and why (``settlement``).
    waits: tuple[IdentityKey, str] | None = None
    # The parked line this input reads again (its context now recorded): set aside in its commit.
    rereads: int | None = None
    # Why the risk door refused this request: journaled as ``denied``, never decided.
    denied: str | None = None
    # The breaches the door found (each as ``CheckResult.to_json`` gives it): denied, or overridden.
    # Not an argument: the class's empty default serves every input the door lets through, so
    # making an input costs nothing for it.
    breaches: Sequence[dict[str, Any]] = field(default=(), init=False)
    # Set by the risk door alone, so class attributes (not fields: an input costs nothing more):
    # the fact of what it found (a ``BreachRecorded``: denied or overridden), in its commit; and
    # the orders of a venue's fact it flagged (by ``id`` of their request message), each recorded
    # as it is with its ``BreachRecorded`` and an anomaly (``risk_facts.book_flag``).
    breach = cast("BreachRecorded | None", None)
    flags = cast("dict[int, BreachRecorded] | None", None)


@dataclass
class Result:
    """What became of one inbound input."""

    line_no: int | None
    outcome: Outcome
    reason: str | None = None
    client_order_id: str | None = None
    events: list[OrderEvent] = field(default_factory=list)
    message_id: int | None = None
    error: LedgerError | None = field(default=None, compare=False, repr=False)  # why, when rejected
    # The door's breaches, if any (not an argument, as ``Inbound.breaches``).
    breaches: Sequence[dict[str, Any]] = field(default=(), init=False, compare=False)
    # The orders it recorded that breach a limit or state (a venue's, never refused): a class
    # attribute, set by the door's count alone (``door.Door.counted``).
    flagged = 0


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


__all__ = ["Inbound", "Result", "inbound"]
