"""Rebuilding an order from its events: in the log's order (``replay``), or in venue time.

The log keeps events in the order the ledger recorded them. An order is the fold of its facts
in **venue time** (``ts_event``; at one time, in the order a venue lives them): a fact that
reaches the ledger after later facts of its order is decided at its own place
(``in_venue_time`` up to that place), and :func:`restatement` says what the whole fold makes of
the order where it differs from the arrival order's, which the order then records as an
``OrderRestated`` event. Replaying the log, restatements included, therefore gives the venue-time
order to every reader (views, rebuilds, ``--as-of``) without any of them sorting.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from orderledger.domain.errors import InvalidTransitionError
from orderledger.domain.events import (
    AnomalyRecorded,
    FillBusted,
    FillCorrected,
    FillDetailsAdded,
    OrderAccepted,
    OrderAmended,
    OrderAmendRejected,
    OrderAmendRequested,
    OrderCanceled,
    OrderCancelRejected,
    OrderCancelRequested,
    OrderDetailsAdded,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderHeld,
    OrderMerged,
    OrderReinstated,
    OrderRejected,
    OrderRequested,
    OrderRestated,
    OrderTriggered,
)
from orderledger.domain.order import Order
from orderledger.domain.values import TradeId

__all__ = [
    "VenueFold",
    "counted",
    "fold_on",
    "fold_until",
    "in_venue_time",
    "latest",
    "project_order",
    "replay",
    "restatement",
    "venue_place",
    "venue_rank",
]

_VENUE_ORDER: tuple[type[OrderEvent], ...] = (
    OrderRequested,
    OrderDetailsAdded,
    OrderHeld,
    OrderAccepted,
    OrderRejected,
    OrderAmendRequested,
    OrderAmended,
    OrderAmendRejected,
    OrderTriggered,
    OrderFilled,
    FillDetailsAdded,
    FillCorrected,
    FillBusted,
    OrderCancelRequested,
    OrderCancelRejected,
    OrderCanceled,
    OrderReinstated,
    OrderExpired,
    AnomalyRecorded,
    OrderRestated,
    OrderMerged,
)
_VENUE_RANK: dict[type[OrderEvent], int] = {fact: rank for rank, fact in enumerate(_VENUE_ORDER)}
"""Facts at one venue time, in the order the venue lives them: a request before its answer, a
broker's acknowledgement before the exchange's, a fill before a cancel (filled outranks
canceled), a trade before its bust."""


_NAMING_A_TRADE = (FillBusted, FillCorrected, FillDetailsAdded)
"""The facts about a booked trade: each stands after its trade in venue time."""


def venue_rank(fact: type[OrderEvent]) -> int:
    """Where a kind of fact stands among facts at one venue time."""
    return _VENUE_RANK[fact]


def venue_place(event: OrderEvent) -> tuple[Any, int]:
    """Where a fact stands in its order's venue time: its time, then its kind's rank."""
    return event.ts_event, _VENUE_RANK[type(event)]


def in_venue_time(events: Iterable[OrderEvent], until: tuple[Any, int] | None = None) -> Order:
    """The order its facts give when folded in venue time (``until``: only those at or before
    that place, ``venue_place``). Restatements are left out: the fold is what they state. The
    appliers follow the lifecycle table, so a fact that the table would ignore at its place
    changes nothing there."""
    return fold_until(events, until).order


@dataclass(slots=True)
class VenueFold:
    """An order's facts folded in venue time up to a place (``fold_until``), and what it takes
    to go on from there (``fold_on``)."""

    order: Order
    applied: list[OrderEvent]  # the request and the facts folded, in venue time
    rest: list[OrderEvent]  # the facts after the place, in venue time
    trades: dict[TradeId, datetime]  # each trade's venue time (a bust or correction stands after it)
    named: set[TradeId]  # the trades busts and corrections name


def fold_until(events: Iterable[OrderEvent], until: tuple[Any, int] | None = None) -> VenueFold:
    """``in_venue_time``, with the facts past ``until`` kept for ``fold_on``."""
    facts = [e for e in events if type(e) is not OrderRestated]
    version = max(e.originator_version for e in facts)
    facts = counted(facts)
    request = next(e for e in facts if type(e) is OrderRequested)
    order = Order(request)
    # A bust or correction stamped before its trade (a venue's clock) stands right after it.
    trades = {e.trade_id: e.ts_event for e in facts if type(e) is OrderFilled}
    named = {e.trade_id for e in facts if isinstance(e, _NAMING_A_TRADE)}
    place = _placing(trades)
    ordered = sorted((e for e in facts if e is not request), key=lambda e: (*place(e), e.originator_version))
    applied: list[OrderEvent] = [request]
    for event in ordered:
        if until is not None and place(event) > until:
            break
        order.apply(event)
        applied.append(event)
    order.updated_at = latest(applied)
    order.version = version
    return VenueFold(order, applied, ordered[len(applied) - 1 :], trades, named)


def fold_on(fold: VenueFold, decided: Sequence[OrderEvent]) -> Order | None:
    """The venue-time fold of the facts and ``decided`` (facts decided on ``fold.order`` and
    applied to it), made by applying the rest of the facts to it: one fold instead of a second
    whole one. None (fold them all again: ``in_venue_time``) unless ``decided``, in the order they
    were decided, stand after every fact folded and before every other: a withdrawal (which
    changes what counts) or a trade a bust or correction already names (which moves it) never
    does."""
    trades = dict(fold.trades)
    for event in decided:
        kind = type(event)
        if kind is OrderReinstated or kind is OrderRestated:
            return None
        if kind is OrderFilled:
            trade: TradeId = event.trade_id  # type: ignore[attr-defined]
            if trade in trades or trade in fold.named:
                return None
            trades[trade] = event.ts_event
    place = _placing(trades)
    keys = [(*place(e), e.originator_version) for e in decided]
    last = fold.applied[-1]
    if len(fold.applied) > 1 and keys[0] <= (*place(last), last.originator_version):
        return None
    if fold.rest and keys[-1] >= (*place(fold.rest[0]), fold.rest[0].originator_version):
        return None
    if any(later <= earlier for earlier, later in itertools.pairwise(keys)):
        return None
    order = fold.order
    for event in fold.rest:
        order.apply(event)
    order.updated_at = latest([*fold.applied, *decided, *fold.rest])
    order.version = max(e.originator_version for e in (*decided, *fold.rest))
    return order


def _placing(trades: dict[TradeId, datetime]) -> Callable[[OrderEvent], tuple[Any, int]]:
    """Where a fact stands (``venue_place``), a bust or correction not before its trade."""

    def place(event: OrderEvent) -> tuple[Any, int]:
        at = venue_place(event)
        if isinstance(event, _NAMING_A_TRADE) and event.trade_id in trades:
            return max(at, (trades[event.trade_id], at[1]))
        return at

    return place


def latest(facts: list[OrderEvent]) -> datetime:
    """The latest venue time ``facts`` state of their order (its ``updated_at``). An inferred
    fill that is busted states none, nor does a bust of it stamped at or before it: the ledger
    guessed the fill from a venue's total and withdrew the guess (a report of the same total at
    an earlier time re-split it, or a real trade replaced it), so its time is not one at which
    anything happened. Whether a report that adds nothing (the same total again, later) was
    read before or after the one that did, the order is then last changed at the same time."""
    guessed = {e.trade_id: e.ts_event for e in facts if type(e) is OrderFilled and e.inferred}
    withdrawn = {e.trade_id for e in facts if type(e) is FillBusted and e.trade_id in guessed}
    return max(
        e.ts_event
        for e in facts
        if not (
            isinstance(e, OrderFilled | FillBusted)
            and e.trade_id in withdrawn
            and e.ts_event <= guessed[e.trade_id]
        )
    )


def counted(facts: list[OrderEvent]) -> list[OrderEvent]:
    """The facts that count: without the closures withdrawn (each ``OrderCanceled`` at the
    venue time an ``OrderReinstated`` names, recorded before it) and the withdrawals themselves."""
    withdrawals = [e for e in facts if isinstance(e, OrderReinstated)]
    if not withdrawals:
        return facts
    return [
        e
        for e in facts
        if type(e) is not OrderReinstated
        and not (type(e) is OrderCanceled and any(_withdraws(w, e) for w in withdrawals))
    ]


def _withdraws(withdrawal: OrderReinstated, closure: OrderEvent) -> bool:
    return (
        closure.ts_event == withdrawal.canceled_at
        and closure.originator_version < withdrawal.originator_version
    )


def restatement(order: Order, folded: Order) -> tuple[dict[str, Any], dict[str, bool]] | None:
    """What ``order`` (as the arrival order left it) must state to be ``folded`` (the venue-time
    fold of all its events, ``in_venue_time``): ``OrderRestated``'s fields and the trades whose
    ``late`` flag changes; None when nothing differs."""
    stated = _restated(folded)
    late = {t: f.late for t, f in folded.fills.items() if t in order.fills and order.fills[t].late != f.late}
    if order.updated_at != folded.updated_at:  # a withdrawn closure was the latest fact
        stated["updated_at"] = folded.updated_at
    elif stated == _restated(order) and not late:
        return None
    return stated, late


def _restated(order: Order) -> dict[str, Any]:
    """What a restatement states of an order (``OrderRestated``'s fields but ``late``)."""
    target = order.amend_target
    return {
        "base_status": order.base_status,
        "pending_cancel": order.pending_cancel,
        "pending_amend": order.pending_amend,
        "amend_target": None if target is None else list(target),
        "quantity": order.quantity,
        "price": order.price,
        "reason": order.reason,
        "venue_order_ids": list(order.venue_order_ids),
        "anomalies": list(order.anomalies),
    }


def replay(events: Iterable[OrderEvent], order: Order | None = None) -> Order | None:
    """Rebuild an order from its events in the log's order (optionally continuing from a given
    state)."""
    for event in events:
        if isinstance(event, OrderRequested):
            order = Order(event)
            order.version = event.originator_version
        elif order is None:
            raise InvalidTransitionError(event.client_order_id, event.type_name(), "none", "no request")
        else:
            order.apply(event)
    return order


def project_order(order: Order | None, events: Iterable[OrderEvent]) -> Order | None:
    """Projector function in the shape the eventsourcing repository expects."""
    return replay(events, order)
