"""What a command on an order decides (:class:`Decision`: its outcome and new events) and the
stamp it decides with (:class:`Stamp`: venue time, recording time and source): the two values
every command of ``domain.order`` and every fact of the ingest pass between them."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from orderledger.domain.events import OrderEvent
from orderledger.domain.outcomes import Outcome


class Decision(NamedTuple):
    """What a command decided: its outcome (``applied``, ``duplicate`` or ``ignored`` of the
    ledger's one vocabulary, :class:`domain.outcomes.Outcome`; ingest adds ``parked`` and
    ``rejected``), the new events, or why there are none.

    A named tuple, like :class:`Stamp`: immutable, and made per message at a fraction of a
    frozen dataclass's cost (which sets each field through ``object.__setattr__``)."""

    kind: Outcome
    events: tuple[OrderEvent, ...] = ()
    reason: str = ""


def duplicate(reason: str) -> Decision:
    """Nothing new: the fact is known already, for ``reason``."""
    return Decision(Outcome.DUPLICATE, (), reason)


def ignored(reason: str) -> Decision:
    """A fact the order takes no part in, for ``reason``."""
    return Decision(Outcome.IGNORED, (), reason)


class Stamp(NamedTuple):
    """When a fact happened at the venue, when the ledger recorded it, and who said so."""

    ts_event: datetime
    ts_recorded: datetime
    source: str


__all__ = ["Decision", "Stamp", "duplicate", "ignored"]
