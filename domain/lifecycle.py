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

TRANSITIONS: dict[tuple[Status, type[OrderEvent]], tuple[Rule, str]] = {}


def _rows(statuses: tuple[Status, ...], fact: type[OrderEvent], rule: Rule, why: str = "") -> None:
    for status in statuses:
        TRANSITIONS[(status, fact)] = (rule, why)


# held: a broker's acknowledgement, requested → held. Anywhere else (the exchange's acceptance,
# a fill or the end came first in venue time) only a missing venue order ID is recorded.
_rows((S.REQUESTED,), OrderHeld, Rule.APPLY)
_rows(tuple(s for s in S if s is not S.REQUESTED), OrderHeld, Rule.ACK_LATE)

# accepted: requested or held → accepted; anywhere else only a missing venue order ID is recorded.
_rows(UNACCEPTED, OrderAccepted, Rule.APPLY)
_rows((S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED) + PENDING + ENDED, OrderAccepted, Rule.ACK_LATE)

# rejected: only an order the exchange has not accepted can be rejected. A held order can: the
# broker acknowledges before the exchange answers (Tradier `pending`, then `rejected`).
_rows(UNACCEPTED, OrderRejected, Rule.APPLY)
_rows((S.REJECTED,), OrderRejected, Rule.DUPLICATE, "already rejected")
_rows(
    (S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED) + PENDING,
    OrderRejected,
    Rule.REFUSE,
    "only a requested or held order can be rejected",
)

# fill: a fill is never dropped. Before the ack it implies acceptance.
_rows(OPEN, OrderFilled, Rule.APPLY)
_rows((S.FILLED,), OrderFilled, Rule.APPLY)  # a new trade here is an overfill, refused by quantity
# Real-world possibility: a fill after cancel, expiry or reject. Money moved: book it, flag it.
_rows(ENDED, OrderFilled, Rule.LATE)

# cancel requested
_rows(OPEN_BASE + (S.PENDING_AMEND,), OrderCancelRequested, Rule.APPLY)
_rows((S.PENDING_CANCEL,), OrderCancelRequested, Rule.DUPLICATE, "a cancel is already pending")
_rows(TERMINAL_STATUSES, OrderCancelRequested, Rule.REFUSE, "the order is terminal")

# canceled: any open status ends; filled outranks canceled (FIX).
_rows(OPEN, OrderCanceled, Rule.APPLY)
_rows((S.CANCELED,), OrderCanceled, Rule.DUPLICATE, "already canceled")
_rows((S.FILLED,), OrderCanceled, Rule.IGNORE, "filled outranks canceled")
_rows((S.REJECTED, S.EXPIRED), OrderCanceled, Rule.IGNORE, "the order already ended")

# reinstated: a closure withdrawn (a close inferred from the order's absence at the venue,
# which a later listing contradicts). Only a canceled order has a closure to withdraw; which
# one (by its venue time) is the command's check.
_rows((S.CANCELED,), OrderReinstated, Rule.APPLY)
_rows(tuple(s for s in S if s is not S.CANCELED), OrderReinstated, Rule.IGNORE, "the order is not canceled")

# cancel rejected: back to the remembered status. After the order filled it is the venue's
# normal "too late to cancel".
_rows((S.PENDING_CANCEL,), OrderCancelRejected, Rule.APPLY)
_rows((S.FILLED,), OrderCancelRejected, Rule.IGNORE, "too late to cancel: the order filled")
_rows(ENDED, OrderCancelRejected, Rule.IGNORE, "no cancel is pending")
# On a working order with no cancel pending the answer is kept: its request, sent before it,
# may reach the ledger after it (the answer then settles that request, in venue time).
_rows(OPEN_BASE + (S.PENDING_AMEND,), OrderCancelRejected, Rule.APPLY)

# amend requested
_rows(OPEN_BASE, OrderAmendRequested, Rule.APPLY)
_rows((S.PENDING_AMEND,), OrderAmendRequested, Rule.REFUSE, "an amendment is already pending")
_rows((S.PENDING_CANCEL,), OrderAmendRequested, Rule.REFUSE, "a cancel is pending")
_rows(TERMINAL_STATUSES, OrderAmendRequested, Rule.REFUSE, "the order is terminal")

# amended: the venue's word; applied on any open order, even one we did not ask to amend.
_rows(OPEN, OrderAmended, Rule.APPLY)
# Except one that raises a filled order's quantity: the order works again (Order.amend).
_rows(TERMINAL_STATUSES, OrderAmended, Rule.IGNORE, "the order already ended")

# amend rejected
_rows((S.PENDING_AMEND,), OrderAmendRejected, Rule.APPLY)
_rows((S.FILLED,), OrderAmendRejected, Rule.IGNORE, "too late to amend: the order filled")
_rows(ENDED, OrderAmendRejected, Rule.IGNORE, "no amendment is pending")
# Kept on a working order, like a cancel's refusal: its request may arrive after it.
_rows(OPEN_BASE + (S.PENDING_CANCEL,), OrderAmendRejected, Rule.APPLY)

# expired
_rows(OPEN, OrderExpired, Rule.APPLY)
_rows((S.EXPIRED,), OrderExpired, Rule.DUPLICATE, "already expired")
_rows((S.FILLED, S.CANCELED, S.REJECTED), OrderExpired, Rule.IGNORE, "the order already ended")

# busts and corrections apply in every status; the trade must exist (checked by the command).
_rows(tuple(S), FillBusted, Rule.APPLY)
_rows(tuple(S), FillCorrected, Rule.APPLY)


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
