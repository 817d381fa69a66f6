"""The lifecycle table: complete, principled, and what the aggregate actually does."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from orderledger.domain.decisions import Decision
from orderledger.domain.errors import InvalidTransitionError, OverfillError
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
from orderledger.domain.lifecycle import FACTS, TRANSITIONS, Rule, fact_name, rule_for
from orderledger.domain.order import Order
from orderledger.domain.outcomes import Outcome
from orderledger.domain.values import TERMINAL, Status
from tests.support.builders import history, only_event, order_in, stamp


def _name(value: object) -> str:
    return getattr(value, "__name__", str(value))


ALL_PAIRS = [(status, fact) for status in Status for fact in FACTS]


def test_the_facts_are_the_event_classes_a_message_can_bring_once_the_order_exists() -> None:
    # The table is keyed by event class; an error names the fact by its event, in snake case.
    assert set(FACTS) == {
        OrderHeld,
        OrderAccepted,
        OrderRejected,
        OrderFilled,
        OrderCancelRequested,
        OrderCanceled,
        OrderCancelRejected,
        OrderAmendRequested,
        OrderAmended,
        OrderAmendRejected,
        OrderExpired,
        OrderTriggered,
        OrderReinstated,
        FillBusted,
        FillCorrected,
    }
    assert [fact_name(f) for f in (OrderCancelRejected, OrderAmendRequested, FillBusted)] == [
        "cancel_rejected",
        "amend_requested",
        "fill_busted",
    ]


def test_the_table_has_exactly_one_rule_for_every_status_and_fact() -> None:
    missing = [pair for pair in ALL_PAIRS if pair not in TRANSITIONS]

    assert missing == []
    assert len(TRANSITIONS) == len(Status) * len(FACTS)


@pytest.mark.parametrize(("status", "fact"), ALL_PAIRS, ids=_name)
def test_every_row_that_records_nothing_says_why(status: Status, fact: type[OrderEvent]) -> None:
    rule, why = rule_for(status, fact)

    assert isinstance(rule, Rule)
    if rule in (Rule.REFUSE, Rule.IGNORE, Rule.DUPLICATE):
        assert why.strip(), f"{status}/{fact} is {rule.value} without a reason"


@pytest.mark.parametrize("status", sorted(TERMINAL))
def test_terminal_statuses_refuse_cancel_requests(status: Status) -> None:
    rule, why = rule_for(status, OrderCancelRequested)

    assert rule is Rule.REFUSE
    assert "terminal" in why


@pytest.mark.parametrize("status", list(Status))
def test_a_fill_is_never_refused_or_ignored_by_status(status: Status) -> None:
    rule, _ = rule_for(status, OrderFilled)

    expected = Rule.LATE if status in (Status.CANCELED, Status.EXPIRED, Status.REJECTED) else Rule.APPLY
    assert rule is expected


@pytest.mark.parametrize("status", list(Status))
def test_only_a_requested_or_held_order_can_be_rejected(status: Status) -> None:
    # Held: a broker acknowledged it, the exchange has not accepted it, so it may still refuse it.
    rule, _ = rule_for(status, OrderRejected)

    if status in (Status.REQUESTED, Status.HELD):
        assert rule is Rule.APPLY
    elif status is Status.REJECTED:
        assert rule is Rule.DUPLICATE
    else:
        assert rule is Rule.REFUSE


@pytest.mark.parametrize("status", [s for s in Status if s.is_open])
def test_canceled_and_expired_end_every_open_status(status: Status) -> None:
    assert rule_for(status, OrderCanceled)[0] is Rule.APPLY
    assert rule_for(status, OrderExpired)[0] is Rule.APPLY


@pytest.mark.parametrize("status", [s for s in Status if s is not Status.CANCELED], ids=str)
def test_only_a_canceled_order_has_a_closure_to_withdraw(status: Status) -> None:
    assert rule_for(Status.CANCELED, OrderReinstated)[0] is Rule.APPLY
    assert rule_for(status, OrderReinstated) == (Rule.IGNORE, "the order is not canceled")


def test_filled_outranks_canceled() -> None:
    assert rule_for(Status.FILLED, OrderCanceled)[0] is Rule.IGNORE
    assert rule_for(Status.FILLED, OrderCancelRejected)[0] is Rule.IGNORE


# ----------------------------------------------------------------------------- table vs aggregate

COMMANDS: dict[type[OrderEvent], Callable[[Order], Decision]] = {
    OrderRejected: lambda o: o.reject(stamp(20), "refused"),
    OrderCancelRequested: lambda o: o.request_cancel(stamp(20)),
    OrderCanceled: lambda o: o.cancel(stamp(20), "user"),
    OrderCancelRejected: lambda o: o.reject_cancel(stamp(20), "too late"),
    OrderAmendRequested: lambda o: o.request_amend(stamp(20), price=Decimal(97)),
    OrderAmended: lambda o: o.amend(stamp(20), price=Decimal(97)),
    OrderAmendRejected: lambda o: o.reject_amend(stamp(20), "no"),
    OrderExpired: lambda o: o.expire(stamp(20), "day end"),
    OrderReinstated: lambda o: o.reinstate(stamp(20), stamp(20).ts_event, "listed again"),
}
OUTCOME_OF = {
    Rule.APPLY: Outcome.APPLIED,
    Rule.DUPLICATE: Outcome.DUPLICATE,
    Rule.IGNORE: Outcome.IGNORED,
}


@pytest.mark.parametrize("fact", list(COMMANDS), ids=_name)
@pytest.mark.parametrize("status", list(Status), ids=str)
def test_the_aggregate_does_what_the_table_says(status: Status, fact: type[OrderEvent]) -> None:
    order = order_in(status)
    before = history(order)
    rule, _ = rule_for(status, fact)

    if rule is Rule.REFUSE:
        with pytest.raises(InvalidTransitionError):
            COMMANDS[fact](order)
        assert history(order) == before
        return
    outcome = COMMANDS[fact](order)

    assert outcome.kind is OUTCOME_OF[rule]
    assert len(history(order)) == len(before) + len(outcome.events)
    assert len(outcome.events) == (1 if rule is Rule.APPLY else 0)


@pytest.mark.parametrize("status", list(Status), ids=str)
def test_a_fill_in_each_status_is_booked_or_refused_only_as_an_overfill(status: Status) -> None:
    order = order_in(status)
    rule, _ = rule_for(status, OrderFilled)

    if status is Status.FILLED:
        with pytest.raises(OverfillError):
            order.fill(stamp(20), "T-new", Decimal(1), Decimal(100))
        return
    event = only_event(order.fill(stamp(20), "T-new", Decimal(1), Decimal(100)), OrderFilled)

    assert event.late is (rule is Rule.LATE)
    assert ("late_fill" in order.anomalies) is (rule is Rule.LATE)
