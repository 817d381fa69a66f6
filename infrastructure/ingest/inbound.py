"""One raw input and the messages read from it, ready for the ledger (``Inbound``), and what
became of it (``Result``); a line read into one, by the ledger's own format
(``read_ledger_line``) or by a venue format's translation or feed (``read_adapter_line``). A line
that cannot be read costs that line, never the rest of the input.

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
from orderledger.infrastructure.adapters.common import CONTEXT, MissingContext, definitions_first
from orderledger.infrastructure.errors import MessageError
from orderledger.infrastructure.messages.models import Message, message_from_line


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


def read_error(raw: bytes) -> LedgerError | None:
    """The typed error reading a refused message raised (read again: only a refusal pays)."""
    try:
        message_from_line(raw)
    except LedgerError as error:
        return error
    except Exception:
        return None
    return None


MAX_REASON = 300
"""Longest reason a rejected line gets: a 1 MB value is never echoed back whole."""
INTERNAL_ERROR = "internal error reading the line"
"""How the reason starts when a line reader failed unexpectedly (a bug, never the line's fault)."""


def reason(error: BaseException) -> str:
    """One line of at most MAX_REASON characters saying why."""
    message = str(getattr(error, "message", None) or str(error))
    first = next((part.strip() for part in message.splitlines() if part.strip()), type(error).__name__)
    return first if len(first) <= MAX_REASON else first[: MAX_REASON - 1] + "…"


def raw_bytes(line: str | bytes) -> bytes:
    """The bytes of a line: a ``str`` read with surrogateescape gets its bytes back; other lone
    surrogates are kept (as CESU-8) so the line is journaled and refused, not lost."""
    if isinstance(line, bytes):
        return line
    try:
        return line.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return line.encode("utf-8", "surrogatepass")


def _internal(error: Exception) -> str:
    return reason(ValueError(f"{INTERNAL_ERROR}: {type(error).__name__}: {reason(error)}"))


def read_ledger_line(line: str | bytes, origin: str, number: int | None) -> Inbound:
    raw = (line if type(line) is bytes else raw_bytes(line)).rstrip(b"\r\n")
    if not raw or raw.isspace():
        return Inbound(raw=raw, origin=origin, line_no=number, format="ledger")
    try:
        messages = [message_from_line(raw)]
    except (MessageError, ValueError) as error:
        return Inbound(raw=raw, origin=origin, line_no=number, format="ledger", error=reason(error))
    except Exception as error:  # a reader bug must cost one line, not the rest of the input
        return Inbound(raw=raw, origin=origin, line_no=number, format="ledger", error=_internal(error))
    return Inbound(raw, origin, number, "ledger", messages)  # raw, origin, line_no, format, messages


def read_adapter_line(
    line: str | bytes, origin: str, number: int, fmt: str, venue: str | None, reader: Any
) -> Inbound:
    """One line of venue input, translated by its format's feed or translation (``reader``);
    the raw line is what is journaled.

    The caller has checked the format and what it needs (``formats.check_options``)."""
    raw = raw_bytes(line).rstrip(b"\r\n")
    if not raw.strip():
        return Inbound(raw=raw, origin=origin, line_no=number, format=fmt)
    notes: list[str] = []
    try:
        messages = reader.messages(raw, notes)
    except MissingContext as missing:  # parked until a line bringing the context is recorded
        waiting = Inbound(raw=raw, origin=origin, line_no=number, format=fmt, notes=notes)
        waiting.waits = (IdentityKey(venue or "", CONTEXT + missing.kind, missing.value), reason(missing))
        return waiting
    except (MessageError, ValueError, TypeError, KeyError) as error:
        return Inbound(raw=raw, origin=origin, line_no=number, format=fmt, error=reason(error))
    except Exception as error:  # an adapter bug must cost one line, not the rest of the input
        return Inbound(raw=raw, origin=origin, line_no=number, format=fmt, error=_internal(error))
    item = inbound(raw, messages, origin=origin, format=fmt, notes=notes)
    item.line_no = number
    return item


__all__ = [
    "INTERNAL_ERROR",
    "MAX_REASON",
    "Inbound",
    "Result",
    "inbound",
    "raw_bytes",
    "read_adapter_line",
    "read_error",
    "read_ledger_line",
    "reason",
]
