"""The order lifecycle as data: what each fact does in each status.

A fact is its event class (``OrderCanceled``): ``TRANSITIONS[(status, event class)]`` gives a
:class:`Rule` and a reason. The aggregate consults
this table before anything else; quantities (overfill, amend below filled) and identities
(venue order IDs, trade IDs) are then checked by the command itself. Rows that surprise a
reader carry a comment.
"""

from __future__ import annotations

import re
from enum import Enum

from orderledger.domain import values
from orderledger.domain.events import (
    FillBusted,
    FillCorrected,
    OrderAccepted,
    OrderAmended,
    OrderAmendRejected,
    OrderAmendRequested,
    OrderCanceled,
    OrderCancelRejected,
    OrderCancelRequested,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderHeld,
    OrderReinstated,
    OrderRejected,
    OrderTriggered,
)
from orderledger.domain.values import Status


def fact_name(fact: type[OrderEvent]) -> str:
    """How an error names a fact: its event's name in snake case, without the ``Order`` prefix
    (``OrderCancelRejected``: ``cancel_rejected``)."""
    name = fact.__name__.removeprefix("Order")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Rule(Enum):
    """What the ledger does with a fact in a status."""

    APPLY = "apply"
    """Record the fact's event."""
    LATE = "late"
    """Record it, keep the terminal status and flag the anomaly (a fill after cancel)."""
    ACK_LATE = "ack_late"
    """Record only what is new (a venue order ID); the status does not change."""
    DUPLICATE = "duplicate"
    """The fact is already recorded: no event."""
    IGNORE = "ignore"
    """A normal race the venue resolves itself: no event, the reason is kept."""
    REFUSE = "refuse"
    """A clear error, no event."""


S = Status
# Which statuses are open or terminal is declared once (``values.TERMINAL``); the table's
# groups are read from it, in the statuses' order.
OPEN = tuple(s for s in Status if s.is_open)
PENDING = (S.PENDING_CANCEL, S.PENDING_AMEND)  # open, awaiting the venue's reply
OPEN_BASE = tuple(s for s in OPEN if s not in PENDING)
TERMINAL_STATUSES = tuple(s for s in Status if s.is_terminal)
ENDED = tuple(s for s in TERMINAL_STATUSES if s in values.ENDED)  # terminal but not filled
UNACCEPTED = tuple(s for s in Status if s in values.UNACCEPTED)  # requested, held

_ROWS: tuple[tuple[tuple[Status, ...], type[OrderEvent], Rule, str], ...] = (
    # held: a broker's acknowledgement, requested → held. Anywhere else (the exchange's acceptance,
    # a fill or the end came first in venue time) only a missing venue order ID is recorded.
    ((S.REQUESTED,), OrderHeld, Rule.APPLY, ""),
    (tuple(s for s in S if s is not S.REQUESTED), OrderHeld, Rule.ACK_LATE, ""),
    # accepted: requested or held → accepted; anywhere else only a missing venue order ID is recorded.
    (UNACCEPTED, OrderAccepted, Rule.APPLY, ""),
    ((S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED) + PENDING + ENDED, OrderAccepted, Rule.ACK_LATE, ""),
    # rejected: only an order the exchange has not accepted can be rejected. A held order can: the
    # broker acknowledges before the exchange answers (Tradier `pending`, then `rejected`).
    (UNACCEPTED, OrderRejected, Rule.APPLY, ""),
    ((S.REJECTED,), OrderRejected, Rule.DUPLICATE, "already rejected"),
    (
        (S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED) + PENDING,
        OrderRejected,
        Rule.REFUSE,
        "only a requested or held order can be rejected",
    ),
    # fill: a fill is never dropped. Before the ack it implies acceptance.
    (OPEN, OrderFilled, Rule.APPLY, ""),
    ((S.FILLED,), OrderFilled, Rule.APPLY, ""),  # a new trade here is an overfill, refused by quantity
    # Real-world possibility: a fill after cancel, expiry or reject. Money moved: book it, flag it.
    (ENDED, OrderFilled, Rule.LATE, ""),
    # cancel requested
    (OPEN_BASE + (S.PENDING_AMEND,), OrderCancelRequested, Rule.APPLY, ""),
    ((S.PENDING_CANCEL,), OrderCancelRequested, Rule.DUPLICATE, "a cancel is already pending"),
    (TERMINAL_STATUSES, OrderCancelRequested, Rule.REFUSE, "the order is terminal"),
    # canceled: any open status ends; filled outranks canceled (FIX).
    (OPEN, OrderCanceled, Rule.APPLY, ""),
    ((S.CANCELED,), OrderCanceled, Rule.DUPLICATE, "already canceled"),
    ((S.FILLED,), OrderCanceled, Rule.IGNORE, "filled outranks canceled"),
    ((S.REJECTED, S.EXPIRED), OrderCanceled, Rule.IGNORE, "the order already ended"),
    # reinstated: a closure withdrawn (a close inferred from the order's absence at the venue,
    # which a later listing contradicts). Only a canceled order has a closure to withdraw; which
    # one (by its venue time) is the command's check.
    ((S.CANCELED,), OrderReinstated, Rule.APPLY, ""),
    (tuple(s for s in S if s is not S.CANCELED), OrderReinstated, Rule.IGNORE, "the order is not canceled"),
    # cancel rejected: back to the remembered status. After the order filled it is the venue's
    # normal "too late to cancel".
    ((S.PENDING_CANCEL,), OrderCancelRejected, Rule.APPLY, ""),
    ((S.FILLED,), OrderCancelRejected, Rule.IGNORE, "too late to cancel: the order filled"),
    (ENDED, OrderCancelRejected, Rule.IGNORE, "no cancel is pending"),
    # On a working order with no cancel pending the answer is kept: its request, sent before it,
    # may reach the ledger after it (the answer then settles that request, in venue time).
    (OPEN_BASE + (S.PENDING_AMEND,), OrderCancelRejected, Rule.APPLY, ""),
    # amend requested
    (OPEN_BASE, OrderAmendRequested, Rule.APPLY, ""),
    ((S.PENDING_AMEND,), OrderAmendRequested, Rule.REFUSE, "an amendment is already pending"),
    ((S.PENDING_CANCEL,), OrderAmendRequested, Rule.REFUSE, "a cancel is pending"),
    (TERMINAL_STATUSES, OrderAmendRequested, Rule.REFUSE, "the order is terminal"),
    # amended: the venue's word; applied on any open order, even one we did not ask to amend.
    (OPEN, OrderAmended, Rule.APPLY, ""),
    # Except one that raises a filled order's quantity: the order works again (Order.amend).
    (TERMINAL_STATUSES, OrderAmended, Rule.IGNORE, "the order already ended"),
    # amend rejected
    ((S.PENDING_AMEND,), OrderAmendRejected, Rule.APPLY, ""),
    ((S.FILLED,), OrderAmendRejected, Rule.IGNORE, "too late to amend: the order filled"),
    (ENDED, OrderAmendRejected, Rule.IGNORE, "no amendment is pending"),
    # Kept on a working order, like a cancel's refusal: its request may arrive after it.
    (OPEN_BASE + (S.PENDING_CANCEL,), OrderAmendRejected, Rule.APPLY, ""),
    # triggered: a conditional order's trigger fired; it stays open, working as its market or
    # limit order. Before the ack it implies acceptance (the venue holds it); once the order ended
    # there is nothing left to set working.
    (OPEN, OrderTriggered, Rule.APPLY, ""),
    (TERMINAL_STATUSES, OrderTriggered, Rule.IGNORE, "the order already ended"),
    # expired (a good-till-date order's expire_at passed, or its time in force ran out)
    (OPEN, OrderExpired, Rule.APPLY, ""),
    ((S.EXPIRED,), OrderExpired, Rule.DUPLICATE, "already expired"),
    ((S.FILLED, S.CANCELED, S.REJECTED), OrderExpired, Rule.IGNORE, "the order already ended"),
    # busts and corrections apply in every status; the trade must exist (checked by the command).
    (tuple(S), FillBusted, Rule.APPLY, ""),
    (tuple(S), FillCorrected, Rule.APPLY, ""),
)
"""The table's rows as written: the statuses, the fact, its rule there and the reason."""

TRANSITIONS: dict[tuple[Status, type[OrderEvent]], tuple[Rule, str]] = {
    (status, fact): (rule, why) for statuses, fact, rule, why in _ROWS for status in statuses
}
"""(status, fact) → (rule, reason): a later row for the same pair stands over an earlier one."""


FACTS: tuple[type[OrderEvent], ...] = tuple(dict.fromkeys(fact for _, fact in TRANSITIONS))
"""What a message can say happened once the order exists: the events the table rules on."""


def rule_for(status: Status, fact: type[OrderEvent]) -> tuple[Rule, str]:
    """The rule and reason for ``fact`` arriving on an order in ``status``."""
    return TRANSITIONS[(status, fact)]


def _check_complete() -> None:
    missing = [(s.value, f.__name__) for s in Status for f in FACTS if (s, f) not in TRANSITIONS]
    if missing:  # pragma: no cover - guarded by a unit test as well
        raise RuntimeError(f"lifecycle table is missing rows: {missing}")


_check_complete()
