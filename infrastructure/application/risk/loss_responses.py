"""Responses: what a loss or drawdown limit does on its own, without waiting for an order.

Each ``max_daily_loss`` and ``max_drawdown`` limit names its response (``domain.risk.RESPONSES``:
``reduce_only`` by default, or ``halt``). After each commit that moves an account's P&L (a fill,
a bust or correction, a cash flow: that account; a mark: every account with such a limit), the
ledger works out the figure of each of those limits with the check's own figure functions
(``application.risk.pretrade.FIGURES``) and, when the figure is past the limit and the response is
stricter than the state the account is in, records a ``trading_state`` fact set by the limit's
kind, whose reason cites the limit's event (its log position and value) and the figure. Once
recorded, the account's state is as strict as the response, so the breach records nothing more
while it lasts; a person who resumes an account still past its limit sees it set again at the
next fill or mark, as the limit is still passed.

Kept cheap for the writer: a commit with no fill, cash flow or mark costs a look at the kinds
of its events; the limits that respond are read once and again only when a limit is set or
cleared, or another writer has committed since (``Processor.alone``); the events are read one by
one, and the figures worked out, only for an account that has such a limit.
"""

from __future__ import annotations

import weakref
from datetime import datetime
from operator import itemgetter
from typing import Any

from orderledger.domain.events import MOVES_PNL, LimitCleared, LimitSet, MarkRecorded, OrderEvent
from orderledger.domain.risk import RESPONDING, TRADING_STATES, response_state
from orderledger.domain.values import format_decimal
from orderledger.infrastructure.application.risk.pretrade import (
    FIGURES,
    OrderLedger,
    Reads,
    cited,
    fact_message,
    limit_facts_in_force,
    limit_of,
    record_fact,
    state_of,
    trading_states,
)
from orderledger.projections.risk import LIMITS_TABLE

ORIGIN = "rule"
"""The journal's origin and the source of the states a response records."""
_SEVERITY = {state: rank for rank, state in enumerate(TRADING_STATES)}
_LIMIT_FACTS = frozenset({LimitSet, LimitCleared})


class Responding:
    """The accounts that have a loss or drawdown limit, kept by one ledger between commits."""

    def __init__(self) -> None:
        self.accounts: frozenset[str] | None = None

    def known(self, ledger: OrderLedger, kinds: frozenset[type[OrderEvent]]) -> frozenset[str]:
        """The accounts with a responding limit set (in force or not yet), read again when this
        commit (of events of ``kinds``) set or cleared a limit, or another writer may have."""
        alone = bool(getattr(ledger.processor, "alone", False))
        if not alone or not _LIMIT_FACTS.isdisjoint(kinds):
            self.accounts = None
        if self.accounts is None:
            self.accounts = accounts_with_responses(ledger)
        return self.accounts


def accounts_with_responses(ledger: OrderLedger) -> frozenset[str]:
    """The accounts that have a loss or drawdown limit set (in force or not)."""
    kinds = ", ".join("?" * len(RESPONDING))
    with ledger.db.read() as tx:
        rows = tx.all(
            f"SELECT DISTINCT target FROM {LIMITS_TABLE.name} WHERE scope = 'account' AND kind IN ({kinds})",
            RESPONDING,
        )
    return frozenset(str(r[0]) for r in rows)


_RESPONDING: weakref.WeakKeyDictionary[Any, Responding] = weakref.WeakKeyDictionary()
"""Each open ledger's ``Responding``."""


def after_commit(ledger: OrderLedger, committed: list[tuple[int, OrderEvent]]) -> None:
    """The hook the writer calls after each commit (``OrderLedger._after_commit``). The commit's
    events are looked through by their kinds first (no Python step per event), and one by one
    only when an account has a responding limit."""
    kinds = frozenset(map(type, map(itemgetter(1), committed)))
    if MOVES_PNL.isdisjoint(kinds):
        return
    known = _RESPONDING.setdefault(ledger, Responding()).known(ledger, kinds)
    if not known:
        return
    if MarkRecorded in kinds:
        wanted = known
    else:
        moved = {e.account for _, e in committed if type(e) in MOVES_PNL}
        wanted = known & moved
    if wanted:
        respond(ledger, wanted)


def respond(
    ledger: OrderLedger, accounts: set[str] | frozenset[str], now: datetime | None = None
) -> list[Any]:
    """Record the response of each loss or drawdown limit of ``accounts`` past its value at
    ``now`` (the ledger's clock) whose state is stricter than the account's in force; returns
    what was recorded. A figure that cannot be worked out sets nothing (the check denies on it)."""
    # (imported here: a writer whose ledger has no responding limit never needs the watcher)
    from orderledger.infrastructure.application.risk.standing import order_of_nothing

    at = ledger._clock() if now is None else now
    facts = [
        f
        for f in limit_facts_in_force(ledger, at)
        if f.kind in RESPONDING and f.scope == "account" and f.target in accounts
    ]
    if not facts:
        return []
    states = trading_states(ledger, at)
    reads = Reads(ledger)
    recorded = []
    for fact in sorted(facts, key=lambda f: (f.target, f.kind)):
        limit = limit_of(fact)
        wanted = response_state(limit.response)
        current = state_of(states, limit.target)
        if current is not None and _SEVERITY[current.state] >= _SEVERITY[wanted]:
            continue
        figure, _, _ = FIGURES[limit.kind](reads, limit, order_of_nothing(limit.target, "", at))
        if figure is None or figure <= limit.value:
            continue
        message = fact_message(
            "trading_state",
            at,
            account=limit.target,
            state=wanted,
            set_by=limit.kind,
            reason=cited(fact, format_decimal(figure)),
            source=ORIGIN,
        )
        recorded.append(record_fact(ledger, message, ORIGIN))
        states = trading_states(ledger, at)
    return recorded


__all__ = ["Responding", "accounts_with_responses", "after_commit", "cited", "respond"]
