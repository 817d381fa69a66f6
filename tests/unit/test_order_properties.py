"""Properties of the Order aggregate: fills commute, duplicates are harmless, replay is exact."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from orderledger.domain.decisions import Decision
from orderledger.domain.errors import LedgerError
from orderledger.domain.folds import replay
from orderledger.domain.order import Order
from orderledger.domain.outcomes import Outcome
from orderledger.domain.values import Status
from tests.support.builders import history, spec, stamp

PROPERTY_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    database=None,  # no files written by the unit tests
    suppress_health_check=[HealthCheck.too_slow],
)

ORDER_QUANTITY = 100
ORDER = spec(quantity=Decimal(ORDER_QUANTITY))


def cents(amount: int) -> Decimal:
    """An exact two-decimal price from an integer number of cents."""
    return Decimal(amount).scaleb(-2)


@dataclass(frozen=True)
class FillFact:
    """One execution as the venue reports it."""

    trade_id: str
    qty: Decimal
    px: Decimal

    def deliver(self, order: Order, seconds: int) -> Decision:
        return order.fill(stamp(seconds), self.trade_id, self.qty, self.px)


@st.composite
def fill_sets(draw: st.DrawFn) -> list[FillFact]:
    """Fills with distinct trade IDs whose quantities sum to at most the order quantity."""
    quantities = draw(st.lists(st.integers(1, 3_000).map(cents), min_size=1, max_size=8))
    fills: list[FillFact] = []
    total = Decimal(0)
    for index, qty in enumerate(quantities):
        if total + qty > ORDER_QUANTITY:
            break
        total += qty
        fills.append(FillFact(f"T-{index}", qty, cents(draw(st.integers(9_000, 11_000)))))
    return fills


def booked(order: Order) -> set[tuple[str, Decimal, Decimal, bool]]:
    """The trade history as a set, independent of arrival order."""
    return {(f.trade_id, f.qty, f.px, f.busted) for f in order.fills.values()}


def assert_replay_matches(order: Order) -> None:
    """Rebuilding from the recorded events gives exactly the live state."""
    copy = replay(history(order))
    assert copy is not None
    assert copy.snapshot() == order.snapshot()
    assert copy.fills == order.fills
    assert copy.amend_target == order.amend_target
    assert (copy.pending_cancel, copy.pending_amend) == (order.pending_cancel, order.pending_amend)


# ----------------------------------------------------------------------------- (a) fills commute


@PROPERTY_SETTINGS
@given(data=st.data(), fills=fill_sets())
def test_fills_commute_in_any_order_and_any_number_of_times(
    data: st.DataObject, fills: list[FillFact]
) -> None:
    reference, _ = Order.request(ORDER, stamp(0))
    reference.accept(stamp(1), "V-1")
    for seconds, fill in enumerate(fills, start=2):
        fill.deliver(reference, seconds)

    again = data.draw(st.lists(st.sampled_from(fills), max_size=6), label="delivered again")
    deliveries = data.draw(st.permutations(fills + again), label="arrival order")
    ack_at = data.draw(st.integers(0, len(deliveries)), label="ack position")
    shuffled, _ = Order.request(ORDER, stamp(0))
    kinds: dict[str, list[Outcome]] = {}
    for index, fill in enumerate(deliveries):
        if index == ack_at:
            shuffled.accept(stamp(index + 1), "V-1")
        kinds.setdefault(fill.trade_id, []).append(fill.deliver(shuffled, index + 1).kind)
    if ack_at == len(deliveries):
        shuffled.accept(stamp(99), "V-1")

    assert shuffled.status is reference.status
    assert shuffled.status in (Status.PARTIALLY_FILLED, Status.FILLED)
    assert shuffled.filled_quantity == reference.filled_quantity == sum(f.qty for f in fills)
    assert shuffled.average_price == reference.average_price
    assert shuffled.leaves_quantity == reference.leaves_quantity
    assert booked(shuffled) == booked(reference)
    assert shuffled.venue_order_ids == ["V-1"]
    for trade_kinds in kinds.values():
        assert trade_kinds[0] is Outcome.APPLIED
        assert set(trade_kinds[1:]) <= {Outcome.DUPLICATE}


# ----------------------------------------------------------------------------- random histories

Command = Callable[[Order, int], Decision]
APPLIED = Outcome.APPLIED
trades = st.sampled_from(["T-1", "T-2", "T-3", "T-4"])
quantities = st.integers(1, 15).map(Decimal)
prices = st.sampled_from([cents(9_950), cents(10_000), cents(10_025)])
venue_ids = st.sampled_from(["V-1", "V-2", None])


def run(order: Order, command: Command, seconds: int) -> Decision | LedgerError:
    """Apply one command; whatever it does, it records exactly the events it returns."""
    before_events = history(order)
    before_state = order.snapshot()
    try:
        outcome = command(order, seconds)
    except LedgerError as error:
        assert history(order) == before_events, "a refused command appended an event"
        assert order.snapshot() == before_state, "a refused command changed the order"
        return error
    assert history(order) == before_events + list(outcome.events)
    if outcome.kind is not APPLIED:
        assert outcome.events == ()
        assert order.snapshot() == before_state, "a duplicate or ignored fact changed the order"
    return outcome


class OrderHistory(RuleBasedStateMachine):
    """Random histories of one order: every fact the venue (or we) could send, in any order."""

    def __init__(self) -> None:
        super().__init__()
        self.order, _ = Order.request(ORDER, stamp(0))
        self.clock = 0
        self.applied_fills: dict[str, Command] = {}
        self.corrected: set[str] = set()
        self.was_amended = False

    def deliver(self, command: Command, *, intent: bool = False) -> bool:
        """Deliver one fact; True when it recorded an event."""
        self.clock += 1
        outcome = run(self.order, command, self.clock)
        applied = isinstance(outcome, Decision) and outcome.kind is APPLIED
        if applied and not intent:
            self.after_applied(command)
        return applied

    def after_applied(self, command: Command) -> None:
        """Hook for properties about a fact that was just recorded."""

    @rule(venue_order_id=venue_ids)
    def accept(self, venue_order_id: str | None) -> None:
        self.deliver(lambda o, t: o.accept(stamp(t), venue_order_id))

    @rule(trade=trades, qty=quantities, px=prices)
    def fill(self, trade: str, qty: Decimal, px: Decimal) -> None:
        command: Command = lambda o, t: o.fill(stamp(t), trade, qty, px)  # noqa: E731
        if self.deliver(command):
            self.applied_fills[trade] = command

    @rule()
    def request_cancel(self) -> None:
        self.deliver(lambda o, t: o.request_cancel(stamp(t)))

    @rule()
    def reject_cancel(self) -> None:
        self.deliver(lambda o, t: o.reject_cancel(stamp(t), "too late"))

    @rule(qty=st.none() | quantities, px=prices)
    def request_amend(self, qty: Decimal | None, px: Decimal) -> None:
        # Our own intent: asking again while one is pending is refused, not deduplicated.
        self.deliver(lambda o, t: o.request_amend(stamp(t), quantity=qty, price=px), intent=True)

    @rule(qty=st.none() | quantities, px=st.none() | prices, venue_order_id=venue_ids)
    def amended(self, qty: Decimal | None, px: Decimal | None, venue_order_id: str | None) -> None:
        if qty is None and px is None and venue_order_id is None:
            return  # an empty confirmation only makes sense for a pending amendment
        self.was_amended = True  # before delivery: teardown also runs after a failed step
        self.deliver(lambda o, t: o.amend(stamp(t), quantity=qty, price=px, venue_order_id=venue_order_id))

    @rule()
    def reject_amend(self) -> None:
        self.deliver(lambda o, t: o.reject_amend(stamp(t), "no"))

    # Endings share one rule so that most histories stay open long enough to get interesting.
    @rule(ending=st.sampled_from(["reject", "cancel", "expire"]))
    def end(self, ending: str) -> None:
        endings: dict[str, Command] = {
            "reject": lambda o, t: o.reject(stamp(t), "refused"),
            "cancel": lambda o, t: o.cancel(stamp(t), "user"),
            "expire": lambda o, t: o.expire(stamp(t), "day end"),
        }
        self.deliver(endings[ending])

    @rule(trade=trades)
    def bust(self, trade: str) -> None:
        self.deliver(lambda o, t: o.bust_fill(stamp(t), trade))

    @rule(trade=trades, qty=st.none() | quantities, px=prices)
    def correct(self, trade: str, qty: Decimal | None, px: Decimal) -> None:
        if self.deliver(lambda o, t: o.correct_fill(stamp(t), trade, last_qty=qty, last_px=px)):
            self.corrected.add(trade)


STATEFUL_SETTINGS = settings(
    max_examples=150,
    stateful_step_count=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


# ----------------------------------------------------------------------------- (b) duplicates


class DuplicateDeliveries(OrderHistory):
    """Every recorded fact, delivered again, is a duplicate or ignored and records nothing."""

    def after_applied(self, command: Command) -> None:
        before = history(self.order)

        again = run(self.order, command, self.clock)

        assert isinstance(again, Decision), f"delivered again, the fact raised {again!r}"
        assert again.kind in (Outcome.DUPLICATE, Outcome.IGNORED), again
        assert history(self.order) == before

    def teardown(self) -> None:
        # Much later, every fill is still recognised (unless a correction changed its values).
        for trade, command in self.applied_fills.items():
            if trade in self.corrected:
                continue
            again = run(self.order, command, 1_000)
            assert isinstance(again, Decision), f"fill {trade} delivered at the end raised {again!r}"
            assert again.kind is Outcome.DUPLICATE, again
        if not self.was_amended:  # see the xfail in test_order_semantics: reuse after an amendment
            assert self.order.request_again(ORDER).kind is Outcome.DUPLICATE


TestAFactDeliveredAgainIsADuplicateOrIgnored = DuplicateDeliveries.TestCase
TestAFactDeliveredAgainIsADuplicateOrIgnored.settings = STATEFUL_SETTINGS


# ----------------------------------------------------------------------------- (c) replay


class ReplayedHistories(OrderHistory):
    """After every step, replaying the recorded events gives exactly the live state."""

    @invariant()
    def replay_equals_the_live_state(self) -> None:
        assert_replay_matches(self.order)

    @invariant()
    def quantities_stay_consistent(self) -> None:
        order = self.order
        events = history(order)
        assert [e.originator_version for e in events] == list(range(1, len(events) + 1))
        assert order.version == len(events)
        live_fills = (f.qty for f in order.fills.values() if not f.busted)
        assert order.filled_quantity == sum(live_fills, Decimal(0))
        assert Decimal(0) <= order.filled_quantity <= order.quantity
        if order.status.is_terminal:
            assert order.leaves_quantity == 0


TestReplayAlwaysEqualsTheLiveState = ReplayedHistories.TestCase
TestReplayAlwaysEqualsTheLiveState.settings = settings(STATEFUL_SETTINGS, max_examples=200)
