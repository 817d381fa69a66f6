"""The transition table of docs/semantics.md, its last rows: busts and corrections, and replay.

Given prior facts, when one command, then the events it records (type and key fields) or a
typed error with nothing appended (the rows before these: ``test_order_semantics``).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from orderledger.domain.errors import (
    OverfillError,
    UnknownTradeError,
)
from orderledger.domain.events import (
    FillBusted,
    FillCorrected,
    OrderAccepted,
    OrderFilled,
    OrderRequested,
)
from orderledger.domain.outcomes import Outcome
from orderledger.domain.values import AVERAGE, Liquidity, Side, Status
from tests.support.builders import (
    CANONICAL_STEPS,
    ENDED_NOT_FILLED,
    Step,
    accepted,
    amend_rejected,
    amend_requested,
    amended,
    busted,
    cancel_rejected,
    cancel_requested,
    canceled,
    corrected,
    expired,
    filled,
    given,
    history,
    only_event,
    order_in,
    rebuilt,
    refused,
    rejected,
    spec,
    stamp,
    without_event,
)

D = Decimal
DUPLICATE = Outcome.DUPLICATE


# ============================================================================= fill busted


def test_bust_reverses_the_fill_and_restates_it() -> None:
    order = given(accepted(), filled("T-1", 4, "99", fee="0.4", fee_currency="USD"), filled("T-2", 2))

    event = only_event(order.bust_fill(stamp(9), "T-1", "erroneous"), FillBusted)

    assert (event.trade_id, event.last_qty, event.last_px) == ("T-1", D(4), D(99))
    assert (event.fee, event.fee_currency, event.side) == (D("0.4"), "USD", Side.BUY)
    assert event.fill_ts_event == stamp(2).ts_event
    assert event.reason == "erroneous"
    assert order.filled_quantity == D(2)
    assert order.average_price == D(100)
    assert order.fills["T-1"].busted is True


def test_bust_on_a_filled_order_reopens_it_to_partially_filled() -> None:
    order = order_in(Status.FILLED)

    only_event(order.bust_fill(stamp(9), "T-2"), FillBusted)

    assert order.status is Status.PARTIALLY_FILLED
    assert (order.filled_quantity, order.leaves_quantity) == (D(4), D(6))


def test_bust_of_the_only_fill_reopens_a_filled_order_to_accepted() -> None:
    order = given(accepted(), filled("T-1", 10))

    only_event(order.bust_fill(stamp(9), "T-1"), FillBusted)

    assert order.status is Status.ACCEPTED
    assert order.average_price is None
    assert order.leaves_quantity == D(10)


@pytest.mark.parametrize("status", ENDED_NOT_FILLED)
def test_bust_on_an_ended_order_keeps_it_ended(status: Status) -> None:
    order = given(*CANONICAL_STEPS[status], filled("T-9", 3))

    only_event(order.bust_fill(stamp(9), "T-9"), FillBusted)

    assert order.status is status
    assert order.filled_quantity == 0
    assert order.leaves_quantity == 0


def test_bust_during_pending_cancel_keeps_the_marker() -> None:
    order = given(accepted(), filled("T-1", 4), cancel_requested())

    only_event(order.bust_fill(stamp(9), "T-1"), FillBusted)

    assert order.status is Status.PENDING_CANCEL
    assert order.filled_quantity == 0


def test_repeat_bust_is_a_duplicate() -> None:
    order = given(accepted(), filled("T-1", 4), busted("T-1"))

    without_event(order, DUPLICATE, lambda o: o.bust_fill(stamp(9), "T-1"))


def test_busted_trade_delivered_again_stays_busted() -> None:
    order = given(accepted(), filled("T-1", 4), busted("T-1"))

    without_event(order, DUPLICATE, lambda o: o.fill(stamp(9), "T-1", D(4), D(100)))

    assert order.filled_quantity == 0


def test_bust_of_an_unknown_trade_is_an_error_without_event() -> None:
    order = given(accepted(), filled("T-1", 4))

    error = refused(order, UnknownTradeError, lambda o: o.bust_fill(stamp(9), "T-404"))

    assert isinstance(error, UnknownTradeError)
    assert error.trade_id == "T-404"


# ============================================================================= fill corrected


def test_correction_replaces_quantity_and_price_and_states_both() -> None:
    order = given(accepted(), filled("T-1", 4, "99"), filled("T-2", 2, "102"))

    outcome = order.correct_fill(stamp(9), "T-1", last_qty=D(5), last_px=D(98), reason="venue fix")

    event = only_event(outcome, FillCorrected)
    assert (event.previous_qty, event.previous_px) == (D(4), D(99))
    assert (event.last_qty, event.last_px) == (D(5), D(98))
    assert event.fill_ts_event == stamp(2).ts_event
    assert order.filled_quantity == D(7)
    assert order.average_price == AVERAGE.divide(D(5) * 98 + D(2) * 102, D(7))
    assert (order.fills["T-1"].qty, order.fills["T-1"].px) == (D(5), D(98))


def test_correction_of_price_only_keeps_the_quantity() -> None:
    order = given(accepted(), filled("T-1", 4, "99"))

    event = only_event(order.correct_fill(stamp(9), "T-1", last_px=D(97)), FillCorrected)

    assert (event.last_qty, event.last_px) == (D(4), D(97))
    assert order.filled_quantity == D(4)
    assert order.average_price == D(97)


def test_correction_of_quantity_only_keeps_the_price() -> None:
    order = given(accepted(), filled("T-1", 4, "99"))

    event = only_event(order.correct_fill(stamp(9), "T-1", last_qty=D(3)), FillCorrected)

    assert (event.last_qty, event.last_px) == (D(3), D(99))
    assert order.filled_quantity == D(3)


def test_correction_reducing_a_filled_order_reopens_it() -> None:
    order = order_in(Status.FILLED)

    only_event(order.correct_fill(stamp(9), "T-2", last_qty=D(5)), FillCorrected)

    assert order.status is Status.PARTIALLY_FILLED
    assert order.leaves_quantity == D(1)


def test_correction_completing_the_quantity_fills_the_order() -> None:
    order = given(accepted(), filled("T-1", 4), filled("T-2", 5))

    only_event(order.correct_fill(stamp(9), "T-2", last_qty=D(6)), FillCorrected)

    assert order.status is Status.FILLED


def test_correction_to_the_values_already_booked_is_a_duplicate() -> None:
    order = given(accepted(), filled("T-1", 4, "99"), corrected("T-1", px="98"))

    without_event(order, DUPLICATE, lambda o: o.correct_fill(stamp(9), "T-1", last_px=D(98)))


def test_correction_beyond_the_order_quantity_is_an_overfill() -> None:
    order = given(accepted(), filled("T-1", 4), filled("T-2", 5))

    refused(order, OverfillError, lambda o: o.correct_fill(stamp(9), "T-2", last_qty=D(7)))


def test_correction_of_an_unknown_trade_is_an_error_without_event() -> None:
    order = given(accepted(), filled("T-1", 4))

    refused(order, UnknownTradeError, lambda o: o.correct_fill(stamp(9), "T-404", last_px=D(1)))


def test_correction_of_a_busted_trade_is_an_error_without_event() -> None:
    order = given(accepted(), filled("T-1", 4), busted("T-1"))

    refused(order, UnknownTradeError, lambda o: o.correct_fill(stamp(9), "T-1", last_px=D(1)))


# ============================================================================= replay


REPLAY_SCENARIOS: dict[str, tuple[Step, ...]] = {
    "requested": (),
    "filled with fees": (
        accepted("V-1", {"client_index": "7"}),
        filled("T-1", 4, "99.5", fee="0.1", fee_currency="USD", liquidity=Liquidity.TAKER),
        filled("T-2", 6, "100.25"),
    ),
    "late fill after cancel": (accepted(), cancel_requested(), canceled(), filled("T-1", 3)),
    "fill before ack then late ack": (filled("T-1", 3), accepted("V-9")),
    "amended with a new venue order ID": (
        accepted("V-1"),
        filled("T-1", 2),
        amend_requested(quantity=12, price=99),
        amended(venue_order_id="V-2"),
    ),
    "amend rejected then cancel rejected": (
        accepted(),
        amend_requested(price=98),
        cancel_requested(),
        amend_rejected(),
        cancel_rejected(),
    ),
    "busted and corrected": (
        accepted(),
        filled("T-1", 4, "99"),
        filled("T-2", 6, "101"),
        busted("T-2"),
        corrected("T-1", qty=5, px="98.5", fee="0.2"),
    ),
    "rejected": (rejected(),),
    "expired after partial fill": (accepted(), filled("T-1", 1), expired()),
}


@pytest.mark.parametrize("steps", REPLAY_SCENARIOS.values(), ids=REPLAY_SCENARIOS.keys())
def test_replaying_the_recorded_events_reproduces_the_order(steps: tuple[Step, ...]) -> None:
    order = given(*steps)

    copy = rebuilt(order)

    assert copy.snapshot() == order.snapshot()
    assert copy.fills == order.fills
    assert copy.version == len(history(order))
    assert [e.originator_version for e in history(order)] == list(range(1, order.version + 1))


def test_collect_events_hands_over_each_event_once() -> None:
    order = given(accepted(), filled("T-1", 4))

    first = order.collect_events()

    assert [type(e) for e in first] == [OrderRequested, OrderAccepted, OrderFilled]
    assert order.collect_events() == []
    only_event(order.fill(stamp(9), "T-2", D(1), D(100)), OrderFilled)
    assert [e.originator_version for e in order.collect_events()] == [4]


def test_events_carry_both_clocks_and_the_source() -> None:
    order = given(accepted())

    event = only_event(order.fill(stamp(7, source="drop-copy"), "T-1", D(1), D(100)), OrderFilled)

    assert event.ts_event == stamp(7).ts_event
    assert event.ts_recorded == stamp(7).ts_recorded
    assert event.ts_recorded != event.ts_event
    assert event.source == "drop-copy"


def test_a_repeated_request_that_omits_an_optional_field_is_a_duplicate() -> None:
    order = given(time_in_force="GTC")

    without_event(order, DUPLICATE, lambda o: o.request_again(spec(time_in_force=None)))
