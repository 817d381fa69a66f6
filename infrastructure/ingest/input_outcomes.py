"""What becomes of an input: one outcome for its messages, their reasons in one bounded line, and
the signal that a batch must be decided again."""

from __future__ import annotations

from collections.abc import Sequence

from orderledger.domain.events import OrderEvent
from orderledger.domain.outcomes import SIGNIFICANCE, Outcome
from orderledger.domain.values import escape_unsafe

__all__ = ["MAX_NOTES", "Again", "Decided", "bounded", "combine", "each_part", "notes_text"]

Decided = tuple[Outcome, str | None, list[OrderEvent]]
"""What applying one message gave: its outcome, the reason, the events it decided."""


class Again(Exception):
    """An attempt must be repeated: ``why`` is "stale" (another writer moved an order it read)
    or "refused" (a message was refused after it had recorded something)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


MAX_NOTES = 300
"""Longest an adapter's notes may make a journal reason: a venue's text is never echoed whole."""


def notes_text(notes: Sequence[str]) -> str:
    """An adapter's notes as one line: control characters shown escaped, the length bounded."""
    return bounded(escape_unsafe("; ".join(notes)))


def bounded(text: str) -> str:
    """A journal reason cut to ``MAX_NOTES`` characters (what was applied is said first)."""
    return text if len(text) <= MAX_NOTES else text[: MAX_NOTES - 1] + "…"


def each_part(outcomes: dict[int, tuple[Outcome, str | None]]) -> str:
    """Each message's outcome, for an input whose messages fared differently, those without a
    reason first (what was applied is never cut off), messages of one fate together:
    ``messages 1, 2 of 3 applied; message 3 of 3 rejected: <why>``."""
    total = len(outcomes)
    groups: dict[tuple[Outcome, str | None], list[str]] = {}
    for position, fate in sorted(outcomes.items()):
        groups.setdefault(fate, []).append(str(position + 1))
    said = [
        f"message{'s' if len(numbers) > 1 else ''} {', '.join(numbers)} of {total} {outcome}"
        + (f": {reason}" if reason else "")
        for (outcome, reason), numbers in sorted(
            groups.items(), key=lambda group: (group[0][1] is not None, SIGNIFICANCE.index(group[0][0]))
        )
    ]
    return notes_text(said)


def combine(outcomes: list[tuple[Outcome, str | None]]) -> tuple[Outcome, str | None]:
    """One outcome for an input that carried several messages: the most significant."""
    if len(outcomes) == 1:
        return outcomes[0]  # every outcome is in SIGNIFICANCE
    for wanted in SIGNIFICANCE:
        for outcome, reason in outcomes:
            if outcome is wanted:
                return outcome, reason
    return Outcome.IGNORED, None
