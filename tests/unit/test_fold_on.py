"""``fold_on``: the venue-time fold of an order's facts and facts decided at a place among them,
made from the fold up to that place (``fold_until``) by applying the facts after it; or None,
when what was decided does not stand between the two (then only a whole fold gives the order)."""

from __future__ import annotations

from typing import Any

from orderledger.domain.events import FillBusted, OrderEvent
from orderledger.domain.folds import VenueFold, fold_on, fold_until, in_venue_time, venue_rank
from orderledger.domain.order import Order
from tests.support.builders import PRICE, accepted, dec, filled, given, history, stamp


def _state(order: Order) -> dict[str, Any]:
    state = order.to_state()
    del state["seen"]
    return state


def _late_fill(at: int) -> tuple[list[OrderEvent], VenueFold, list[OrderEvent]]:
    """An order accepted at 1 and filled (T-2) at 2, folded up to where a fill of time 1 stands,
    and T-1 decided there, stamped ``at``: its facts, the fold, and what T-1 decided."""
    order = given(accepted(), filled("T-2", 3))
    facts = history(order)
    fold = fold_until(facts, until=(stamp(1).ts_event, venue_rank(FillBusted)))
    fold.order.version = order.version
    return facts, fold, list(fold.order.fill(stamp(at), "T-1", dec(2), PRICE).events)


def test_a_late_fill_goes_on_from_the_fold_that_decided_it() -> None:
    facts, fold, decided = _late_fill(at=1)  # after the acceptance, before T-2
    folded = fold_on(fold, decided)
    assert folded is not None
    assert _state(folded) == _state(in_venue_time([*facts, *decided]))
    assert folded.filled_quantity == 5


def test_what_was_decided_after_a_later_fact_is_folded_again_whole() -> None:
    _, fold, decided = _late_fill(at=3)  # after T-2: not before the facts left to apply
    assert fold_on(fold, decided) is None


def test_a_trade_already_in_the_order_is_folded_again_whole() -> None:
    facts, fold, _ = _late_fill(at=1)
    assert fold_on(fold, [facts[-1]]) is None  # T-2 again: where its busts stand would move
