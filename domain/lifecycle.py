"""The order lifecycle as data: what each fact does in each status.

``TRANSITIONS[(status, fact)]`` gives a :class:`Rule` and a reason. The aggregate consults
this table before anything else; quantities (overfill, amend below filled) and identities
(venue order IDs, trade IDs) are then checked by the command itself. Rows that surprise a
reader carry a comment.
"""

from __future__ import annotations

from enum import Enum, StrEnum

from orderledger.domain import values
from orderledger.domain.values import Status


class Fact(StrEnum):
    """What a message says happened, after the order exists."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    FILL = "fill"
    CANCEL_REQUESTED = "cancel_requested"
    CANCELED = "canceled"
    CANCEL_REJECTED = "cancel_rejected"
    AMEND_REQUESTED = "amend_requested"
    AMENDED = "amended"
    AMEND_REJECTED = "amend_rejected"
    EXPIRED = "expired"
    FILL_BUSTED = "fill_busted"
    FILL_CORRECTED = "fill_corrected"


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
F = Fact
# Which statuses are open or terminal is declared once (``values.TERMINAL``); the table's
# groups are read from it, in the statuses' order.
OPEN = tuple(s for s in Status if s.is_open)
PENDING = (S.PENDING_CANCEL, S.PENDING_AMEND)  # open, awaiting the venue's reply
OPEN_BASE = tuple(s for s in OPEN if s not in PENDING)
TERMINAL_STATUSES = tuple(s for s in Status if s.is_terminal)
ENDED = tuple(s for s in TERMINAL_STATUSES if s in values.ENDED)  # terminal but not filled

TRANSITIONS: dict[tuple[Status, Fact], tuple[Rule, str]] = {}


def _rows(statuses: tuple[Status, ...], fact: Fact, rule: Rule, why: str = "") -> None:
    for status in statuses:
        TRANSITIONS[(status, fact)] = (rule, why)


# accepted: requested → accepted; anywhere else only a missing venue order ID is recorded.
_rows((S.REQUESTED,), F.ACCEPTED, Rule.APPLY)
_rows((S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED) + PENDING + ENDED, F.ACCEPTED, Rule.ACK_LATE)

# rejected: only an order the venue has not accepted can be rejected.
_rows((S.REQUESTED,), F.REJECTED, Rule.APPLY)
_rows((S.REJECTED,), F.REJECTED, Rule.DUPLICATE, "already rejected")
_rows(
    (S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED) + PENDING,
    F.REJECTED,
    Rule.REFUSE,
    "only a requested order can be rejected",
)

# fill: a fill is never dropped. Before the ack it implies acceptance.
_rows(OPEN, F.FILL, Rule.APPLY)
_rows((S.FILLED,), F.FILL, Rule.APPLY)  # a new trade here is an overfill, refused by quantity
# Real-world possibility: a fill after cancel, expiry or reject. Money moved: book it, flag it.
_rows(ENDED, F.FILL, Rule.LATE)

# cancel requested
_rows(OPEN_BASE + (S.PENDING_AMEND,), F.CANCEL_REQUESTED, Rule.APPLY)
_rows((S.PENDING_CANCEL,), F.CANCEL_REQUESTED, Rule.DUPLICATE, "a cancel is already pending")
_rows(TERMINAL_STATUSES, F.CANCEL_REQUESTED, Rule.REFUSE, "the order is terminal")

# canceled: any open status ends; filled outranks canceled (FIX).
_rows(OPEN, F.CANCELED, Rule.APPLY)
_rows((S.CANCELED,), F.CANCELED, Rule.DUPLICATE, "already canceled")
_rows((S.FILLED,), F.CANCELED, Rule.IGNORE, "filled outranks canceled")
_rows((S.REJECTED, S.EXPIRED), F.CANCELED, Rule.IGNORE, "the order already ended")

# cancel rejected: back to the remembered status. After the order filled it is the venue's
# normal "too late to cancel".
_rows((S.PENDING_CANCEL,), F.CANCEL_REJECTED, Rule.APPLY)
_rows((S.FILLED,), F.CANCEL_REJECTED, Rule.IGNORE, "too late to cancel: the order filled")
_rows(OPEN_BASE + (S.PENDING_AMEND,) + ENDED, F.CANCEL_REJECTED, Rule.IGNORE, "no cancel is pending")

# amend requested
_rows(OPEN_BASE, F.AMEND_REQUESTED, Rule.APPLY)
_rows((S.PENDING_AMEND,), F.AMEND_REQUESTED, Rule.REFUSE, "an amendment is already pending")
_rows((S.PENDING_CANCEL,), F.AMEND_REQUESTED, Rule.REFUSE, "a cancel is pending")
_rows(TERMINAL_STATUSES, F.AMEND_REQUESTED, Rule.REFUSE, "the order is terminal")

# amended: the venue's word; applied on any open order, even one we did not ask to amend.
_rows(OPEN, F.AMENDED, Rule.APPLY)
# Except one that raises a filled order's quantity: the order works again (Order.amend).
_rows(TERMINAL_STATUSES, F.AMENDED, Rule.IGNORE, "the order already ended")

# amend rejected
_rows((S.PENDING_AMEND,), F.AMEND_REJECTED, Rule.APPLY)
_rows((S.FILLED,), F.AMEND_REJECTED, Rule.IGNORE, "too late to amend: the order filled")
_rows(
    OPEN_BASE + (S.PENDING_CANCEL,) + ENDED,
    F.AMEND_REJECTED,
    Rule.IGNORE,
    "no amendment is pending",
)

# expired
_rows(OPEN, F.EXPIRED, Rule.APPLY)
_rows((S.EXPIRED,), F.EXPIRED, Rule.DUPLICATE, "already expired")
_rows((S.FILLED, S.CANCELED, S.REJECTED), F.EXPIRED, Rule.IGNORE, "the order already ended")

# busts and corrections apply in every status; the trade must exist (checked by the command).
_rows(tuple(S), F.FILL_BUSTED, Rule.APPLY)
_rows(tuple(S), F.FILL_CORRECTED, Rule.APPLY)


def rule_for(status: Status, fact: Fact) -> tuple[Rule, str]:
    """The rule and reason for ``fact`` arriving on an order in ``status``."""
    return TRANSITIONS[(status, fact)]


def _check_complete() -> None:
    missing = [(s.value, f.value) for s in Status for f in Fact if (s, f) not in TRANSITIONS]
    if missing:  # pragma: no cover - guarded by a unit test as well
        raise RuntimeError(f"lifecycle table is missing rows: {missing}")


_check_complete()
