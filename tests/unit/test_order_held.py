"""A broker's acknowledgement is not the exchange's acceptance (docs/semantics.md, `held`).

A broker acknowledges an order before the exchange answers (Tradier `pending`): the order is
`held`, open, and a reject, cancel, fill, expiry or the exchange's acceptance may follow. Given
prior facts, when one command, then the events it records and the status it leaves.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from orderledger.domain.events import (
    OrderAccepted,
    OrderAmended,
    OrderCanceled,
    OrderCancelRequested,
    OrderExpired,
    OrderFilled,
    OrderHeld,
    OrderRejected,
)
from orderledger.domain.folds import in_venue_time
from orderledger.domain.outcomes import Outcome
from orderledger.domain.values import Status
from tests.support.builders import (
    Step,
    accepted,
    busted,
    cancel_requested,
    filled,
    given,
    held,
    history,
    only_event,
    rebuilt,
    rejected,
    stamp,
    without_event,
)

D = Decimal


def test_held_moves_requested_to_held_an_open_status_with_the_brokers_id() -> None:
    order = given()

    event = only_event(order.accept(stamp(1), "V-1", fact=OrderHeld), OrderHeld)

    assert event.venue_order_id == "V-1"
    assert (order.status, order.status.is_open, order.venue_order_ids) == (Status.HELD, True, ["V-1"])
    assert order.leaves_quantity == D(10)  # nothing filled: 10 − 0


def test_a_reject_after_held_ends_the_order_rejected() -> None:
    # Tradier `pending`, then `rejected`: the exchange refused what the broker had acknowledged.
    order = given(held("V-1"))

    only_event(order.reject(stamp(2), "not enough day trading buying power"), OrderRejected)

    assert (order.status, order.reason, order.leaves_quantity) == (
        Status.REJECTED,
        "not enough day trading buying power",
        0,
    )
    assert rebuilt(order).status is Status.REJECTED


def test_the_exchanges_acceptance_after_held_moves_it_to_accepted() -> None:
    order = given(held("V-1"))

    event = only_event(order.accept(stamp(2), "V-1"), OrderAccepted)

    assert event.venue_order_id is None  # the broker's ID is the order's already
    assert (order.status, order.venue_order_ids) == (Status.ACCEPTED, ["V-1"])


def test_cancel_expiry_and_fills_after_held_work_as_on_an_accepted_order() -> None:
    canceled = given(held())
    only_event(canceled.cancel(stamp(2), "user"), OrderCanceled)
    assert canceled.status is Status.CANCELED

    expired = given(held())
    only_event(expired.expire(stamp(2), "day"), OrderExpired)
    assert expired.status is Status.EXPIRED

    # A fill implies the exchange's acceptance: 4 of 10 filled → partially_filled, 6 left.
    partial = given(held())
    only_event(partial.fill(stamp(2), "T-1", D(4), D(100)), OrderFilled)
    assert (partial.status, partial.leaves_quantity) == (Status.PARTIALLY_FILLED, D(6))


def test_a_bust_of_the_only_fill_of_a_held_order_leaves_it_accepted() -> None:
    # The exchange traded it: once the trade is busted (4 − 4 = 0 filled) it is accepted, not held.
    order = given(held(), filled("T-1", 4), busted("T-1"))

    assert (order.status, order.filled_quantity) == (Status.ACCEPTED, 0)


def test_an_amendment_of_a_held_order_keeps_it_held_and_a_reject_still_ends_it() -> None:
    # The broker may amend what it holds; only the exchange's acceptance or a trade moves it on.
    order = given(held())

    only_event(order.amend(stamp(2), price=D(99)), OrderAmended)
    assert (order.status, order.price) == (Status.HELD, D(99))

    only_event(order.reject(stamp(3), "refused"), OrderRejected)
    assert order.status is Status.REJECTED


def test_a_reject_of_a_held_order_with_a_cancel_pending_rejects_it() -> None:
    # The reject answers the request, judged by the working status (held) under the marker.
    order = given(held(), cancel_requested())
    assert order.status is Status.PENDING_CANCEL

    only_event(order.reject(stamp(3), "refused"), OrderRejected)

    assert order.status is Status.REJECTED


@pytest.mark.parametrize(
    "steps",
    [(held("V-1"),), (accepted("V-1"),), (filled("T-1", 4),), (rejected(),)],
    ids=["held", "accepted", "filled", "rejected"],
)
def test_held_again_or_after_the_exchange_answered_records_only_what_is_new(steps: tuple[Step]) -> None:
    order = given(*steps)
    status = order.status

    without_event(order, Outcome.DUPLICATE, lambda o: o.accept(stamp(9), fact=OrderHeld))
    if not order.venue_order_ids:  # the broker's ID is new: recorded, the status is kept
        event = only_event(order.accept(stamp(9), "V-1", fact=OrderHeld), OrderHeld)
        assert event.venue_order_id == "V-1"

    assert (order.status, order.venue_order_ids) == (status, ["V-1"])


def test_held_then_rejected_folds_to_rejected_in_either_arrival_order() -> None:
    # The reject (t=2) arrived first, the broker's acknowledgement (t=1) after it: in venue
    # time it is held, then rejected.
    order = given(held("V-1"), rejected())
    request, hold, reject = history(order)
    assert (type(hold), type(reject)) == (OrderHeld, OrderRejected)

    folded = in_venue_time([request, reject, hold])

    assert (folded.status, folded.venue_order_ids) == (Status.REJECTED, ["V-1"])


def test_a_cancel_request_on_a_held_order_is_pending_until_the_answer() -> None:
    order = given(held())

    only_event(order.request_cancel(stamp(2)), OrderCancelRequested)
    assert order.status is Status.PENDING_CANCEL

    order.reject_cancel(stamp(3), "too late")
    assert order.status is Status.HELD
