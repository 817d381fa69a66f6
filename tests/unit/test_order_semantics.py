"""The transition table of docs/semantics.md, row by row.

Given prior facts, when one command, then the events it records (type and key fields) or a
typed error with nothing appended.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from orderledger.domain.errors import (
    AmendBelowFilledError,
    ClientOrderIdReuseError,
    FillConflictError,
    IdentityConflictError,
    InvalidInputError,
    InvalidTransitionError,
    OverfillError,
)
from orderledger.domain.events import (
    AnomalyRecorded,
    FillDetailsAdded,
    OrderAccepted,
    OrderAmended,
    OrderAmendRejected,
    OrderAmendRequested,
    OrderCanceled,
    OrderCancelRejected,
    OrderCancelRequested,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderRequested,
)
from orderledger.domain.folds import in_venue_time
from orderledger.domain.order import Order, order_id_for
from orderledger.domain.outcomes import Outcome
from orderledger.domain.values import Liquidity, OrderType, Side, Status
from tests.support.builders import (
    CLIENT_ORDER_ID,
    ENDED_NOT_FILLED,
    OPEN_STATUSES,
    T0,
    TERMINAL_STATUSES,
    Step,
    accepted,
    amend_requested,
    amended,
    cancel_requested,
    canceled,
    corrected,
    filled,
    given,
    history,
    only_event,
    order_in,
    refused,
    rejected,
    spec,
    stamp,
    without_event,
)

D = Decimal
DUPLICATE = Outcome.DUPLICATE
IGNORED = Outcome.IGNORED


# ============================================================================= request


def test_request_records_intent_before_any_venue_answer() -> None:
    order, outcome = Order.request(spec(), stamp(0))

    event = only_event(outcome, OrderRequested)
    assert event.originator_id == order_id_for(CLIENT_ORDER_ID)
    assert event.originator_version == 1
    assert (event.client_order_id, event.quantity, event.price) == (CLIENT_ORDER_ID, D(10), D(100))
    assert event.quote_currency == "USD"
    assert event.ts_event == T0
    assert order.status is Status.REQUESTED
    assert order.leaves_quantity == D(10)
    assert history(order) == [event]


def test_request_again_with_same_content_is_a_duplicate_without_event() -> None:
    order = given()

    outcome = without_event(order, DUPLICATE, lambda o: o.request_again(spec()))

    assert "already requested" in outcome.reason


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("quantity", D(11)),
        ("price", D("100.5")),
        ("side", Side.SELL),
        ("instrument", "ETH-USD"),
        ("account", "ACC-2"),
        ("order_type", OrderType.MARKET),
    ],
)
def test_request_again_with_different_content_is_client_order_id_reuse(field: str, value: object) -> None:
    order = given(accepted())

    error = refused(order, ClientOrderIdReuseError, lambda o: o.request_again(spec(**{field: value})))

    assert isinstance(error, ClientOrderIdReuseError)
    assert field in error.differences
    assert error.client_order_id == CLIENT_ORDER_ID
    assert CLIENT_ORDER_ID in error.message


def test_request_again_with_original_content_after_amendment_is_a_duplicate() -> None:
    order = given(accepted(), amend_requested(quantity=12), amended(quantity=12))

    without_event(order, DUPLICATE, lambda o: o.request_again(spec()))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"quantity": D(0)}, "quantity"),
        ({"quantity": D(-1)}, "quantity"),
        ({"quantity": D("NaN")}, "quantity"),
        ({"quantity": D("Infinity")}, "quantity"),
        ({"price": D(0)}, "price"),
        ({"price": D("-Infinity")}, "price"),
        ({"price": None}, "price"),
    ],
)
def test_request_with_impossible_quantity_or_price_is_refused(
    overrides: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        Order.request(spec(**overrides), stamp())

    assert caught.value.field == field


def test_market_order_needs_no_price() -> None:
    order = given(order_type=OrderType.MARKET, price=None)

    assert order.price is None
    assert order.status is Status.REQUESTED


# ============================================================================= accepted


def test_ack_moves_requested_to_accepted_and_records_venue_order_id() -> None:
    order = given()

    event = only_event(order.accept(stamp(1), venue_order_id="V-1"), OrderAccepted)

    assert event.venue_order_id == "V-1"
    assert event.originator_version == 2
    assert order.status is Status.ACCEPTED
    assert order.venue_order_ids == ["V-1"]


def test_ack_records_venue_aliases() -> None:
    order = given()

    event = only_event(order.accept(stamp(1), "V-1", aliases={"client_index": "42"}), OrderAccepted)

    assert event.aliases == {"client_index": "42"}
    assert order.aliases == {"client_index": "42"}


@pytest.mark.parametrize("venue_order_id", ["V-1", None])
def test_repeat_ack_is_a_duplicate_without_event(venue_order_id: str | None) -> None:
    order = given(accepted("V-1"))

    without_event(order, DUPLICATE, lambda o: o.accept(stamp(5), venue_order_id=venue_order_id))

    assert order.status is Status.ACCEPTED


def test_late_ack_after_fills_records_venue_order_id_only() -> None:
    order = given(filled("T-1", 4))

    event = only_event(order.accept(stamp(5), venue_order_id="V-1"), OrderAccepted)

    assert event.venue_order_id == "V-1"
    assert order.status is Status.PARTIALLY_FILLED
    assert order.filled_quantity == D(4)
    assert order.venue_order_ids == ["V-1"]


def test_late_ack_after_cancel_records_venue_order_id_only() -> None:
    order = given(canceled())

    event = only_event(order.accept(stamp(5), venue_order_id="V-1"), OrderAccepted)

    assert event.venue_order_id == "V-1"
    assert order.status is Status.CANCELED
    assert order.leaves_quantity == 0
    assert order.venue_order_ids == ["V-1"]


def test_ack_with_a_different_venue_order_id_is_an_identity_conflict() -> None:
    order = given(accepted("V-1"))

    error = refused(order, IdentityConflictError, lambda o: o.accept(stamp(5), "V-2"))

    assert error.client_order_id == CLIENT_ORDER_ID
    assert "V-1" in error.message
    assert "V-2" in error.message


def test_ack_with_a_different_alias_value_is_an_identity_conflict() -> None:
    order = given(accepted("V-1", aliases={"client_index": "42"}))

    refused(order, IdentityConflictError, lambda o: o.accept(stamp(5), "V-1", {"client_index": "7"}))


def test_ack_while_a_cancel_is_pending_on_an_unacknowledged_order_accepts_it() -> None:
    # The ack answers the request, not our cancel: it is news even without a venue order ID.
    order = given(cancel_requested())

    only_event(order.accept(stamp(5)), OrderAccepted)
    assert order.status is Status.PENDING_CANCEL

    only_event(order.reject_cancel(stamp(6), "unknown order"), OrderCancelRejected)
    assert order.status is Status.ACCEPTED


# ============================================================================= rejected


def test_reject_moves_requested_to_rejected_with_reason() -> None:
    order = given()

    event = only_event(order.reject(stamp(1), "insufficient margin"), OrderRejected)

    assert event.reason == "insufficient margin"
    assert order.status is Status.REJECTED
    assert order.reason == "insufficient margin"
    assert order.leaves_quantity == 0


@pytest.mark.parametrize(
    "status",
    [
        Status.ACCEPTED,
        Status.PARTIALLY_FILLED,
        Status.FILLED,
        Status.PENDING_CANCEL,
        Status.PENDING_AMEND,
        Status.CANCELED,
        Status.EXPIRED,
    ],
)
def test_reject_on_any_status_but_requested_is_an_error_without_event(status: Status) -> None:
    order = order_in(status)

    error = refused(order, InvalidTransitionError, lambda o: o.reject(stamp(9), "late reject"))

    assert isinstance(error, InvalidTransitionError)
    assert error.fact == "rejected"
    assert error.status == status.value


def test_repeat_reject_is_a_duplicate() -> None:
    order = given(rejected())

    without_event(order, DUPLICATE, lambda o: o.reject(stamp(9), "insufficient margin"))


def test_reject_while_a_cancel_is_pending_on_an_unacknowledged_order_rejects_it() -> None:
    # We asked to cancel before the ack; the venue then refuses the order itself. Refusing that
    # would leave the order pending_cancel forever.
    order = given(cancel_requested())

    only_event(order.reject(stamp(5), "unknown instrument"), OrderRejected)

    assert order.status is Status.REJECTED
    assert order.leaves_quantity == 0


# ============================================================================= fill


def test_fill_records_one_execution_with_the_order_coordinates() -> None:
    order = given(accepted("V-1"), tags={"strategy": "mm"}, parent_id="P-1")

    outcome = order.fill(stamp(2), "T-1", D(4), D("99.5"), D("0.4"), "USD", Liquidity.MAKER)

    event = only_event(outcome, OrderFilled)
    assert (event.trade_id, event.last_qty, event.last_px) == ("T-1", D(4), D("99.5"))
    assert (event.fee, event.fee_currency, event.liquidity) == (D("0.4"), "USD", Liquidity.MAKER)
    assert (event.side, event.quote_currency, event.venue_order_id) == (Side.BUY, "USD", "V-1")
    assert (event.tags, event.parent_id) == ({"strategy": "mm"}, "P-1")
    assert event.late is False
    assert order.anomalies == []


def test_same_trade_again_is_a_duplicate_without_event() -> None:
    order = given(accepted(), filled("T-1", 4, "99.5"))

    outcome = without_event(order, DUPLICATE, lambda o: o.fill(stamp(5), "T-1", D(4), D("99.5")))

    assert "T-1" in outcome.reason
    assert order.filled_quantity == D(4)


def test_same_trade_again_written_with_other_trailing_zeros_is_a_duplicate() -> None:
    order = given(accepted(), filled("T-1", 4, "99.5"))

    without_event(order, DUPLICATE, lambda o: o.fill(stamp(5), "T-1", D("4.00"), D("99.50")))


@pytest.mark.parametrize(("qty", "px"), [(D(5), D("99.5")), (D(4), D(100)), (D(3), D(98))])
def test_same_trade_id_with_other_quantity_or_price_is_a_fill_conflict(qty: Decimal, px: Decimal) -> None:
    order = given(accepted(), filled("T-1", 4, "99.5"))

    error = refused(order, FillConflictError, lambda o: o.fill(stamp(5), "T-1", qty, px))

    assert isinstance(error, FillConflictError)
    assert error.trade_id == "T-1"
    assert error.client_order_id == CLIENT_ORDER_ID


def test_original_fill_sent_again_after_its_correction_is_a_duplicate() -> None:
    order = given(accepted(), filled("T-1", 4, "99.5"), corrected("T-1", qty=3))

    without_event(order, DUPLICATE, lambda o: o.fill(stamp(9), "T-1", D(4), D("99.5")))
    assert order.filled_quantity == D(3)


def test_a_copy_stating_the_liquidity_the_trade_lacked_adds_that_detail_not_a_correction() -> None:
    order = given(accepted(), filled("T-1", 4, "99.5", fee="0.1", fee_currency="USD"))

    outcome = order.fill(stamp(5), "T-1", D(4), D("99.5"), D("0.1"), "USD", Liquidity.MAKER)

    event = only_event(outcome, FillDetailsAdded)
    assert (event.trade_id, event.liquidity) == ("T-1", Liquidity.MAKER)
    fill = order.fills["T-1"]
    assert (fill.qty, fill.px, fill.fee, fill.liquidity) == (D(4), D("99.5"), D("0.1"), Liquidity.MAKER)
    assert (order.filled_quantity, order.anomalies) == (D(4), [])
    # A copy without it, or stating another, takes nothing away
    without_event(order, DUPLICATE, lambda o: o.fill(stamp(6), "T-1", D(4), D("99.5"), D("0.1"), "USD"))
    without_event(
        order, DUPLICATE, lambda o: o.fill(stamp(7), "T-1", D(4), D("99.5"), D("0.1"), "USD", Liquidity.TAKER)
    )
    assert order.fills["T-1"].liquidity is Liquidity.MAKER


@pytest.mark.parametrize(
    ("one", "other"),
    [
        # (fee, liquidity) of two copies of one trade: the larger fee (0.2) and the one liquidity
        # stated are booked whichever comes first
        (("0.1", None), ("0.2", Liquidity.TAKER)),
        (("0.2", None), ("0.1", Liquidity.MAKER)),
    ],
)
@pytest.mark.parametrize("swapped", [False, True])
def test_two_copies_with_other_fees_and_one_liquidity_end_alike_in_either_order(
    one: tuple[str, Liquidity | None], other: tuple[str, Liquidity | None], swapped: bool
) -> None:
    first, second = (other, one) if swapped else (one, other)
    order = given(accepted(), filled("T-1", 4, "99.5", fee=first[0], fee_currency="USD", liquidity=first[1]))

    outcome = order.fill(stamp(5), "T-1", D(4), D("99.5"), D(second[0]), "USD", second[1])

    assert outcome.kind is Outcome.APPLIED
    assert AnomalyRecorded in {type(e) for e in outcome.events}  # fee_conflict, both values
    fill = order.fills["T-1"]
    liquidity = one[1] or other[1]
    assert (fill.qty, fill.fee, fill.fee_currency, fill.liquidity) == (D(4), D("0.2"), "USD", liquidity)


def test_a_re_sent_cancel_request_after_the_cancel_ended_is_a_duplicate() -> None:
    order = given(accepted())
    order.request_cancel(stamp(2))
    order.reject_cancel(stamp(3))

    without_event(order, DUPLICATE, lambda o: o.request_cancel(stamp(2)))
    without_event(order, DUPLICATE, lambda o: o.reject_cancel(stamp(3)))
    assert order.status.value == "accepted"


def test_fill_before_the_ack_implies_acceptance() -> None:
    order = given()

    only_event(order.fill(stamp(1), "T-1", D(4), D(100)), OrderFilled)

    assert order.status is Status.PARTIALLY_FILLED
    # A later ack is then only news about the venue order ID, never a step back.
    only_event(order.accept(stamp(2), "V-1"), OrderAccepted)
    assert order.status is Status.PARTIALLY_FILLED


def test_filled_quantity_is_the_sum_of_fills_partially_filled_then_filled() -> None:
    order = given(accepted())

    only_event(order.fill(stamp(2), "T-1", D(4), D(100)), OrderFilled)
    assert order.status is Status.PARTIALLY_FILLED
    assert (order.filled_quantity, order.leaves_quantity) == (D(4), D(6))

    only_event(order.fill(stamp(3), "T-2", D(6), D(105)), OrderFilled)
    assert order.status is Status.FILLED
    assert (order.filled_quantity, order.leaves_quantity) == (D(10), D(0))
    assert order.average_price == D(103)  # (4 × 100 + 6 × 105) / 10


@pytest.mark.parametrize(
    ("pending", "status"),
    [
        (cancel_requested(), Status.PENDING_CANCEL),
        (amend_requested(price=99), Status.PENDING_AMEND),
    ],
)
def test_partial_fill_while_pending_keeps_the_pending_marker(pending: Step, status: Status) -> None:
    order = given(accepted(), pending)

    only_event(order.fill(stamp(3), "T-1", D(4), D(100)), OrderFilled)

    assert order.status is status
    assert order.filled_quantity == D(4)
    assert order.leaves_quantity == D(6)


@pytest.mark.parametrize("pending", [cancel_requested(), amend_requested(price=99)])
def test_full_fill_while_pending_ends_the_order_filled(pending: Step) -> None:
    order = given(accepted(), filled("T-1", 4), pending)

    only_event(order.fill(stamp(4), "T-2", D(6), D(100)), OrderFilled)

    assert order.status is Status.FILLED
    assert order.leaves_quantity == 0


def test_partial_fill_while_pending_returns_to_partially_filled_after_cancel_reject() -> None:
    order = given(accepted(), cancel_requested(), filled("T-1", 4))

    only_event(order.reject_cancel(stamp(5), "too late"), OrderCancelRejected)

    assert order.status is Status.PARTIALLY_FILLED


@pytest.mark.parametrize("status", ENDED_NOT_FILLED)
def test_fill_after_cancel_expiry_or_reject_is_booked_with_late_fill_anomaly(
    status: Status,
) -> None:
    order = order_in(status)

    event = only_event(order.fill(stamp(9), "T-9", D(3), D(101)), OrderFilled)

    assert event.late is True
    assert (event.trade_id, event.last_qty, event.last_px) == ("T-9", D(3), D(101))
    assert order.status is status
    assert order.anomalies == ["late_fill"]
    assert order.filled_quantity == D(3)
    assert order.leaves_quantity == 0
    assert "T-9" in order.fills


def test_late_fill_anomaly_is_flagged_once() -> None:
    order = given(accepted(), canceled(), filled("T-1", 1), filled("T-2", 2))

    assert order.anomalies == ["late_fill"]
    assert order.filled_quantity == D(3)


def test_overfill_is_refused_and_nothing_is_appended() -> None:
    order = given(accepted(), filled("T-1", 8))

    error = refused(order, OverfillError, lambda o: o.fill(stamp(5), "T-2", D(3), D(100)))

    assert isinstance(error, OverfillError)
    assert error.trade_id == "T-2"
    assert "11" in error.message
    assert order.filled_quantity == D(8)


def test_new_trade_on_a_filled_order_is_an_overfill() -> None:
    order = order_in(Status.FILLED)

    refused(order, OverfillError, lambda o: o.fill(stamp(5), "T-3", D(1), D(100)))


def test_late_fill_beyond_the_order_quantity_is_an_overfill() -> None:
    order = given(accepted(), filled("T-1", 8), canceled())

    refused(order, OverfillError, lambda o: o.fill(stamp(5), "T-2", D(3), D(100)))


@pytest.mark.parametrize(
    ("qty", "px"),
    [(D(0), D(100)), (D(-1), D(100)), (D(1), D(0)), (D("NaN"), D(100)), (D(1), D("Infinity"))],
)
def test_fill_with_impossible_quantity_or_price_is_refused(qty: Decimal, px: Decimal) -> None:
    order = given(accepted())

    refused(order, InvalidInputError, lambda o: o.fill(stamp(5), "T-1", qty, px))


# ============================================================================= cancel requested


@pytest.mark.parametrize("status", [s for s in OPEN_STATUSES if s is not Status.PENDING_CANCEL])
def test_cancel_request_on_an_open_order_moves_to_pending_cancel(status: Status) -> None:
    order = order_in(status)

    only_event(order.request_cancel(stamp(9)), OrderCancelRequested)

    assert order.status is Status.PENDING_CANCEL
    assert order.leaves_quantity == order.quantity - order.filled_quantity


@pytest.mark.parametrize("status", [Status.REQUESTED, Status.ACCEPTED, Status.PARTIALLY_FILLED])
def test_cancel_request_remembers_the_status_to_return_to(status: Status) -> None:
    order = order_in(status)
    only_event(order.request_cancel(stamp(8)), OrderCancelRequested)

    only_event(order.reject_cancel(stamp(9), "too late"), OrderCancelRejected)

    assert order.status is status


def test_cancel_request_while_amend_pending_returns_to_pending_amend_on_cancel_reject() -> None:
    order = given(accepted(), amend_requested(price=99), cancel_requested())
    assert order.status is Status.PENDING_CANCEL

    only_event(order.reject_cancel(stamp(9), "no"), OrderCancelRejected)

    assert order.status is Status.PENDING_AMEND


def test_repeat_cancel_request_while_pending_is_a_duplicate() -> None:
    order = given(accepted(), cancel_requested())

    without_event(order, DUPLICATE, lambda o: o.request_cancel(stamp(9)))


@pytest.mark.parametrize("status", TERMINAL_STATUSES)
def test_cancel_request_on_a_terminal_order_is_an_error_without_event(status: Status) -> None:
    order = order_in(status)

    error = refused(order, InvalidTransitionError, lambda o: o.request_cancel(stamp(9)))

    assert isinstance(error, InvalidTransitionError)
    assert error.fact == "cancel_requested"
    assert "terminal" in error.message


# ============================================================================= canceled


@pytest.mark.parametrize("status", OPEN_STATUSES)
def test_cancel_on_any_open_order_ends_it_with_zero_leaves(status: Status) -> None:
    order = order_in(status)
    filled_before = order.filled_quantity

    event = only_event(order.cancel(stamp(9), "user"), OrderCanceled)

    assert event.reason == "user"
    assert order.status is Status.CANCELED
    assert order.leaves_quantity == 0
    assert order.filled_quantity == filled_before


def test_cancel_on_a_filled_order_is_ignored_because_filled_outranks_canceled() -> None:
    order = order_in(Status.FILLED)

    outcome = without_event(order, IGNORED, lambda o: o.cancel(stamp(9), "user"))

    assert "filled" in outcome.reason
    assert order.status is Status.FILLED


def test_repeat_cancel_is_a_duplicate() -> None:
    order = order_in(Status.CANCELED)

    without_event(order, DUPLICATE, lambda o: o.cancel(stamp(9), "user"))


# ============================================================================= cancel rejected


def test_cancel_reject_on_an_order_that_filled_meanwhile_is_ignored() -> None:
    order = given(accepted(), cancel_requested(), filled("T-1", 10))

    outcome = without_event(order, IGNORED, lambda o: o.reject_cancel(stamp(9), "too late"))

    assert "filled" in outcome.reason
    assert order.status is Status.FILLED


@pytest.mark.parametrize("status", [Status.REQUESTED, Status.ACCEPTED, Status.PARTIALLY_FILLED])
def test_cancel_reject_without_a_pending_cancel_on_a_working_order_is_kept(status: Status) -> None:
    """Its request may reach the ledger after it (docs/semantics.md, footnote 6): recorded,
    changing nothing now."""
    order = order_in(status)

    only_event(order.reject_cancel(stamp(9), "unknown"), OrderCancelRejected)

    assert order.status is status and order.reason is None


def test_cancel_reject_then_its_late_request_leaves_no_cancel_pending() -> None:
    """The refusal (t=9) kept, its request (t=8) arriving after it: in venue time the request
    was answered, so folding the facts leaves the order working, not pending_cancel."""
    order = order_in(Status.ACCEPTED)
    only_event(order.reject_cancel(stamp(9), "unknown"), OrderCancelRejected)
    only_event(order.request_cancel(stamp(8)), OrderCancelRequested)
    assert order.status is Status.PENDING_CANCEL  # as they arrived
    assert in_venue_time(history(order)).status is Status.ACCEPTED


# ============================================================================= amend


@pytest.mark.parametrize("status", [Status.REQUESTED, Status.ACCEPTED, Status.PARTIALLY_FILLED])
def test_amend_request_on_an_open_order_moves_to_pending_amend(status: Status) -> None:
    order = order_in(status)

    event = only_event(order.request_amend(stamp(9), quantity=D(12), price=D(99)), OrderAmendRequested)

    assert (event.quantity, event.price) == (D(12), D(99))
    assert order.status is Status.PENDING_AMEND
    assert (order.quantity, order.price) == (D(10), D(100)), "nothing changes before the venue"


@pytest.mark.parametrize("status", [Status.PENDING_AMEND, Status.PENDING_CANCEL, *TERMINAL_STATUSES])
def test_amend_request_while_pending_or_terminal_is_an_error_without_event(
    status: Status,
) -> None:
    order = order_in(status)

    refused(order, InvalidTransitionError, lambda o: o.request_amend(stamp(9), price=D(98)))


def test_amend_request_without_quantity_or_price_is_refused() -> None:
    order = order_in(Status.ACCEPTED)

    refused(order, InvalidInputError, lambda o: o.request_amend(stamp(9)))


def test_amended_applies_new_quantity_and_price() -> None:
    order = given(accepted(), filled("T-1", 4), amend_requested(quantity=12, price=99))

    event = only_event(order.amend(stamp(9), quantity=D(12), price=D(99)), OrderAmended)

    assert (event.quantity, event.price) == (D(12), D(99))
    assert (order.quantity, order.price) == (D(12), D(99))
    assert order.status is Status.PARTIALLY_FILLED
    assert order.leaves_quantity == D(8), "the new quantity is a total including fills"


def test_amended_price_only_keeps_the_quantity() -> None:
    order = given(accepted(), amend_requested(price=99))

    only_event(order.amend(stamp(9), price=D(99)), OrderAmended)

    assert (order.quantity, order.price) == (D(10), D(99))
    assert order.status is Status.ACCEPTED


def test_amended_without_values_applies_what_was_requested() -> None:
    order = given(accepted(), amend_requested(quantity=8))

    event = only_event(order.amend(stamp(9)), OrderAmended)

    assert event.quantity == D(8)
    assert order.quantity == D(8)


def test_amended_with_a_new_venue_order_id_keeps_every_venue_order_id() -> None:
    order = given(accepted("V-1"), amend_requested(price=99))

    event = only_event(order.amend(stamp(9), price=D(99), venue_order_id="V-2"), OrderAmended)

    assert event.venue_order_id == "V-2"
    assert order.venue_order_ids == ["V-1", "V-2"]
    assert order.venue_order_id == "V-2"
    # The old identity still belongs to the order: a late ack under it is a duplicate.
    without_event(order, DUPLICATE, lambda o: o.accept(stamp(10), "V-1"))


def test_amended_made_elsewhere_applies_on_an_open_order() -> None:
    order = order_in(Status.ACCEPTED)

    only_event(order.amend(stamp(9), price=D(98)), OrderAmended)

    assert order.price == D(98)


def test_repeat_amended_is_a_duplicate() -> None:
    order = given(accepted("V-1"), amend_requested(quantity=12), amended(quantity=12))

    without_event(order, DUPLICATE, lambda o: o.amend(stamp(9), quantity=D(12)))


@pytest.mark.parametrize("status", TERMINAL_STATUSES)
def test_amended_on_a_terminal_order_is_ignored(status: Status) -> None:
    order = order_in(status)

    without_event(order, IGNORED, lambda o: o.amend(stamp(9), price=D(98)))


def test_amended_raising_a_filled_orders_quantity_reopens_it() -> None:
    # Given an order of 10 filled whole (the canonical filled order)
    order = order_in(Status.FILLED)
    assert (order.quantity, order.filled_quantity) == (D(10), D(10))

    # When the venue says it is an order of 14 (a liquidation sized by its fills so far)
    event = only_event(order.amend(stamp(9), quantity=D(14)), OrderAmended)

    # Then it works again, 14 − 10 = 4 left, and a fill of 4 completes it
    assert (event.quantity, order.status, order.leaves_quantity) == (D(14), Status.PARTIALLY_FILLED, D(4))
    order.fill(stamp(10), "T-more", D(4), D(100))
    assert (order.status, order.filled_quantity) == (Status.FILLED, D(14))
    # And the same amendment again, or one that does not raise it, changes nothing
    without_event(order, DUPLICATE, lambda o: o.amend(stamp(9), quantity=D(14)))
    without_event(order, IGNORED, lambda o: o.amend(stamp(11), quantity=D(14)))
    without_event(order, IGNORED, lambda o: o.amend(stamp(12), quantity=D(13)))
    # And a further raise at the venue time of the first is new (a liquidation's fills share one
    # time): 14 → 15 reopens it again, and its copy is a duplicate
    only_event(order.amend(stamp(9), quantity=D(15)), OrderAmended)
    assert (order.status, order.leaves_quantity) == (Status.PARTIALLY_FILLED, D(1))
    without_event(order, DUPLICATE, lambda o: o.amend(stamp(9), quantity=D(15)))


def test_a_copy_of_an_amendment_is_a_duplicate_after_a_later_one_lowered_the_quantity() -> None:
    # Given an order amended to 6 (the venue's word at t=1), then to 4 (t=5), then filled whole
    order = given(accepted())
    only_event(order.amend(stamp(1), quantity=D(6)), OrderAmended)
    only_event(order.amend(stamp(5), quantity=D(4)), OrderAmended)
    order.fill(stamp(6), "T-1", D(4), D(100))
    assert (order.status, order.quantity) == (Status.FILLED, D(4))
    # When the amendment to 6 is delivered again (a venue re-sending, a replayed stream)
    # Then it is the same fact, recorded already: it does not raise the filled order to 6, even
    # though 6 > 4 (found by the reference model, tests/reliability/test_reference_model.py)
    without_event(order, DUPLICATE, lambda o: o.amend(stamp(1), quantity=D(6)))
    without_event(order, DUPLICATE, lambda o: o.amend(stamp(1), quantity=D("6.00")))
    assert (order.status, order.quantity, order.leaves_quantity) == (Status.FILLED, D(4), D(0))
    # And a raise to another size at that time is still new (a liquidation's fills share a time)
    only_event(order.amend(stamp(1), quantity=D(7)), OrderAmended)
    assert (order.status, order.leaves_quantity) == (Status.PARTIALLY_FILLED, D(3))


def test_amend_request_below_filled_is_an_error_without_event() -> None:
    order = given(accepted(), filled("T-1", 6))

    error = refused(order, AmendBelowFilledError, lambda o: o.request_amend(stamp(9), quantity=D(5)))

    assert "5" in error.message
    assert "6" in error.message


def test_amended_below_filled_is_an_error_without_event() -> None:
    order = given(accepted(), amend_requested(quantity=5), filled("T-1", 6))

    refused(order, AmendBelowFilledError, lambda o: o.amend(stamp(9), quantity=D(5)))


def test_amended_to_the_filled_quantity_fills_the_order() -> None:
    order = given(accepted(), filled("T-1", 6), amend_requested(quantity=6))

    only_event(order.amend(stamp(9), quantity=D(6)), OrderAmended)

    assert order.status is Status.FILLED
    assert order.leaves_quantity == 0


def test_amend_reject_returns_to_the_remembered_status() -> None:
    order = given(accepted(), filled("T-1", 4), amend_requested(price=99))

    event = only_event(order.reject_amend(stamp(9), "price out of band"), OrderAmendRejected)

    assert event.reason == "price out of band"
    assert order.status is Status.PARTIALLY_FILLED
    assert order.price == D(100)


def test_amend_reject_while_a_cancel_is_also_pending_ends_the_amendment() -> None:
    order = given(accepted(), amend_requested(price=99), cancel_requested())

    only_event(order.reject_amend(stamp(9), "order is being canceled"), OrderAmendRejected)
    assert order.status is Status.PENDING_CANCEL

    only_event(order.reject_cancel(stamp(10), "too late"), OrderCancelRejected)
    assert order.status is Status.ACCEPTED


def test_amend_reject_on_an_order_that_filled_meanwhile_is_ignored() -> None:
    order = given(accepted(), amend_requested(price=99), filled("T-1", 10))

    outcome = without_event(order, IGNORED, lambda o: o.reject_amend(stamp(9), "too late"))

    assert "filled" in outcome.reason


@pytest.mark.parametrize("status", [Status.REQUESTED, Status.ACCEPTED, Status.PENDING_CANCEL])
def test_amend_reject_without_a_pending_amendment_on_a_working_order_is_kept(status: Status) -> None:
    order = order_in(status)

    only_event(order.reject_amend(stamp(9), "unknown"), OrderAmendRejected)

    assert order.status is status


# ============================================================================= expired


@pytest.mark.parametrize("status", OPEN_STATUSES)
def test_expiry_ends_any_open_order(status: Status) -> None:
    order = order_in(status)

    event = only_event(order.expire(stamp(9), "GTD reached"), OrderExpired)

    assert event.reason == "GTD reached"
    assert order.status is Status.EXPIRED
    assert order.leaves_quantity == 0


def test_repeat_expiry_is_a_duplicate() -> None:
    order = order_in(Status.EXPIRED)

    without_event(order, DUPLICATE, lambda o: o.expire(stamp(9), "GTD reached"))


@pytest.mark.parametrize("status", [Status.FILLED, Status.CANCELED, Status.REJECTED])
def test_expiry_of_an_ended_order_is_ignored(status: Status) -> None:
    order = order_in(status)

    without_event(order, IGNORED, lambda o: o.expire(stamp(9), "GTD reached"))

    assert order.status is status
