"""What became of a message: the ledger's one outcome vocabulary.

Every layer speaks it: the order commands (which return ``applied``, ``duplicate`` or
``ignored``), ingest (which adds ``parked`` and ``rejected``), the pre-trade check (``denied``),
the journal (which stores the value as text), the CLI, the HTTP API and reconciliation. The
values are persisted in the journal and shown in JSON outputs: never rename one.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """What a message did to the ledger (the most significant first, see ``SIGNIFICANCE``)."""

    APPLIED = "applied"
    """The fact was recorded: one or more events."""
    DUPLICATE = "duplicate"
    """The fact is already recorded (a re-delivery): no event."""
    PARKED = "parked"
    """No order matches the message yet (a bust or correction: no fill of its trade yet): it
    waits, and is applied when that appears."""
    IGNORED = "ignored"
    """A normal race the venue settles on its own (a cancel for an order already filled)."""
    REJECTED = "rejected"
    """The line is wrong or contradicts the ledger; the reason is one line."""
    DENIED = "denied"
    """An order request the pre-trade check refused (a limit it would breach, a halt): kept for
    the audit, with the reasons, and never sent; it records no event."""


SIGNIFICANCE: tuple[Outcome, ...] = (
    Outcome.REJECTED,
    Outcome.DENIED,
    Outcome.APPLIED,
    Outcome.PARKED,
    Outcome.DUPLICATE,
    Outcome.IGNORED,
)
"""The order in which an input that carried several messages reports one outcome for all."""

SPELLED = ", ".join(o.value for o in list(Outcome)[:-1]) + f" or {list(Outcome)[-1].value}"
"""The outcomes in words, for help texts: "applied, duplicate, parked, ignored or rejected"."""

__all__ = ["SIGNIFICANCE", "SPELLED", "Outcome"]
