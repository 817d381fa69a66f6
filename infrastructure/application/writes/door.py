"""The door stage of the write path (``application.bootstrap`` lists them all): which batch the
risk door judges, and the judgement it runs under the log lock before the batch is decided
(docs/risk.md, "One door"). A batch holding no request (of ours, or a venue's report of an order)
passes without one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter
from typing import TYPE_CHECKING

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.events import BreachRecorded
from orderledger.infrastructure.ingest.inbound import Inbound, Result
from orderledger.infrastructure.messages.models import RequestMessage

if TYPE_CHECKING:
    from orderledger.infrastructure.application.ledger_protocol import LedgerParts


def requests_of_ours(batch: Sequence[Inbound]) -> list[Inbound]:
    """The inputs of ``batch`` that are requests of ours, which the risk door judges: lines of the
    ledger's own format (``record``, ``placing``, ``ingest``, ``POST /messages``, ``POST /orders``)
    each holding a ``request`` not marked ``external``. What the ledger learns from a venue (a
    venue's report in its format, however it arrives, a collector's, reconciliation's
    corrections, an external order) is a fact, never refused."""
    return [
        item
        for item in batch
        if len(item.messages) == 1
        and type(item.messages[0]) is RequestMessage
        and item.error is None
        and item.format == "ledger"
        and not item.messages[0].external
    ]


_MESSAGES = attrgetter("messages")
_REQUESTS = frozenset({RequestMessage})


def requesting(item: Inbound) -> bool:
    """Whether an input holds a request: one of ours (``ours``), or one that may report an order
    the ledger does not hold yet (a venue's, an external one), which the door judges without
    ever refusing it (``pretrade.flag_at_the_door``)."""
    return item.error is None and RequestMessage in map(type, item.messages)


class OneByOne(Exception):
    """The door found risk facts recorded and a batch holding a request of ours that is not its
    last input alone: each such request is judged in a commit of its own. The batch comes back as
    ``runs``, in order, each ending at an input the door judges (the rest after the last)."""

    def __init__(self, runs: list[list[Inbound]]) -> None:
        super().__init__()
        self.runs = runs


@dataclass
class Door:
    """The door's judgement of one batch (``ours``: its requests of ours), called inside the log
    lock before the batch is decided (``Processor.decide_and_commit``'s ``first``): with no limit
    or trading state recorded it does nothing; else a request of ours alone at the batch's end
    may be denied, a venue's orders are flagged, and any other batch is sent back
    (``OneByOne``; a strict one is refused: it cannot be all or nothing)."""

    ledger: LedgerParts
    batch: Sequence[Inbound]
    strict: bool
    ours: list[Inbound]
    flagging: bool = False
    """Whether venue facts were judged (their results count the flags)."""

    def __call__(self) -> None:
        # Imported here: the checks load only for a ledger that holds limits or states.
        from orderledger.infrastructure.application.risk import pretrade

        ledger, batch = self.ledger, self.batch
        if not pretrade.armed(ledger):
            return
        mine = [item for item in batch if requesting(item)]
        if not mine:
            return
        alone = len(mine) == 1 and batch[-1] is mine[0]
        now = ledger.processor.clock()
        if alone and self.ours:
            pretrade.at_the_door(ledger, mine[0], now)
        elif alone or (self.strict and not self.ours):  # a venue's facts: judged, never refused
            self.flagging = True
            for item in mine:
                pretrade.flag_at_the_door(ledger, item, now)
        elif self.strict:
            raise InvalidInputError(
                f"a strict batch holds {len(self.ours)} requests of ours while limits or"
                " trading states are recorded: each is judged in a commit of its own, so the batch"
                " cannot be all or nothing; send them one at a time, or without --strict"
            )
        else:
            raise OneByOne(_runs(batch, mine))

    def counted(self, results: list[Result]) -> list[Result]:
        """``results`` (one per input of the batch), each counting the orders the door flagged in
        its input and the batch recorded (``Result.flagged``: their breach facts)."""
        if self.flagging:
            for item, result in zip(self.batch, results, strict=False):
                if item.flags:
                    result.flagged = sum(1 for event in result.events if type(event) is BreachRecorded)
        return results


def _runs(batch: Sequence[Inbound], judged: list[Inbound]) -> list[list[Inbound]]:
    """``batch`` cut after each input in ``judged``: each judged input ends a run of its own."""
    ends = {id(item) for item in judged}
    runs: list[list[Inbound]] = [[]]
    for item in batch:
        runs[-1].append(item)
        if id(item) in ends:
            runs.append([])
    return [run for run in runs if run]


def door_for(ledger: LedgerParts, batch: Sequence[Inbound], *, strict: bool) -> Door | None:
    """The door that judges ``batch``, or None: a batch holding no request, or only a venue's
    while no limit or state is recorded (looked up before the batch's write transaction), keeps
    the optimistic commit that lets writers decide batches side by side. A request is looked for
    without a Python step per input: every batch is looked through, and most hold none."""
    if _REQUESTS.isdisjoint(map(type, chain.from_iterable(map(_MESSAGES, batch)))):
        return None
    ours = requests_of_ours(batch)  # the door's own judgements: the rest of the batch is a venue's
    if not ours:
        # Imported here: the checks load only for a ledger that holds limits or states.
        from orderledger.infrastructure.application.risk import pretrade

        if not pretrade.armed(ledger):
            return None
    return Door(ledger, batch, strict, ours)


__all__ = ["Door", "OneByOne", "door_for", "requesting", "requests_of_ours"]
