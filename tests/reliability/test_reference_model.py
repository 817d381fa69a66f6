"""The Order aggregate agrees with an independent reference model of docs/semantics.md.

The model below is written from the semantics document alone (its "Facts and their effect"
table and first principles), in its own terms: a working status, a stack of pending markers,
fills keyed by trade ID, exact Decimal quantities. It imports nothing from the aggregate's
logic (``domain/lifecycle.py`` or ``domain/order.py`` internals): only the typed errors, which
are the contract's vocabulary. A hypothesis state machine sends the same random facts to both
and, after every step, compares the outcome (applied / duplicate / ignored / a typed error)
and the observable state (status, quantities, leaves, average price, fills, venue order IDs,
anomalies).

Where the document is silent or ambiguous the model follows the aggregate, and says so in a
comment marked ``AMBIGUOUS``; docs/semantics.md describes those choices for users.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from uuid import NAMESPACE_URL, uuid5

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, MultipleResults, RuleBasedStateMachine, invariant, multiple, rule

from orderledger.domain.decisions import Decision, Stamp
from orderledger.domain.errors import (
    AmendBelowFilledError,
    ClientOrderIdReuseError,
    FillConflictError,
    IdentityConflictError,
    InvalidInputError,
    InvalidTransitionError,
    LedgerError,
    OverfillError,
    UnknownTradeError,
)
from orderledger.domain.events import FillBusted, FillCorrected, OrderEvent, OrderFilled, OrderSpec
from orderledger.domain.order import Order
from orderledger.domain.values import OrderType, Side
from orderledger.projections.base import fold
from orderledger.projections.lots import fills_of, fold_books
from orderledger.projections.positions import POSITIONS_TABLE, PositionsProjection
from tests.support.reference import reference_position

# ============================================================================= facts

T0 = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
ORDER_QUANTITY = Decimal(10)
ORDER_PRICE = Decimal(100)


@dataclass(frozen=True)
class Fact:
    """One message about the order, as a venue (or we) would send it; ``ts`` is venue seconds."""

    kind: str
    ts: int
    trade_id: str | None = None
    qty: Decimal | None = None
    px: Decimal | None = None
    venue_order_id: str | None = None


def at(seconds: int) -> Stamp:
    """Venue time ``T0 + seconds``, recorded a millisecond later."""
    moment = T0 + timedelta(seconds=seconds)
    return Stamp(moment, moment + timedelta(milliseconds=1), "model-test")


def order_spec(side: Side = Side.BUY, quantity: Decimal = ORDER_QUANTITY) -> OrderSpec:
    """The order under test: a limit order of 10 at 100 (side and quantity vary for reuse)."""
    return OrderSpec(
        client_order_id="M-1",
        account="ACC-1",
        venue="SIM",
        instrument="BTC-USD",
        side=side,
        order_type=OrderType.LIMIT,
        quantity=quantity,
        price=ORDER_PRICE,
    )


def send(order: Order, fact: Fact) -> Decision:
    """Deliver one fact to the aggregate through its public command API."""
    stamp = at(fact.ts)
    if fact.kind == "accepted":
        return order.accept(stamp, venue_order_id=fact.venue_order_id)
    if fact.kind == "rejected":
        return order.reject(stamp, "refused")
    if fact.kind == "fill":
        assert fact.trade_id is not None and fact.qty is not None and fact.px is not None
        return order.fill(stamp, fact.trade_id, fact.qty, fact.px)
    if fact.kind == "cancel_requested":
        return order.request_cancel(stamp)
    if fact.kind == "canceled":
        return order.cancel(stamp, "user")
    if fact.kind == "cancel_rejected":
        return order.reject_cancel(stamp, "too late")
    if fact.kind == "amend_requested":
        return order.request_amend(stamp, quantity=fact.qty, price=fact.px)
    if fact.kind == "amended":
        return order.amend(stamp, quantity=fact.qty, price=fact.px, venue_order_id=fact.venue_order_id)
    if fact.kind == "amend_rejected":
        return order.reject_amend(stamp, "no")
    if fact.kind == "expired":
        return order.expire(stamp, "day end")
    if fact.kind == "fill_busted":
        assert fact.trade_id is not None
        return order.bust_fill(stamp, fact.trade_id, "erroneous")
    if fact.kind == "fill_corrected":
        assert fact.trade_id is not None
        return order.correct_fill(stamp, fact.trade_id, last_qty=fact.qty, last_px=fact.px)
    raise AssertionError(f"unknown fact {fact.kind}")


# ============================================================================= the reference model

REQUESTED, ACCEPTED, PARTIAL, FILLED = "requested", "accepted", "partially_filled", "filled"
CANCELED, REJECTED, EXPIRED = "canceled", "rejected", "expired"
PENDING_CANCEL, PENDING_AMEND = "pending_cancel", "pending_amend"
ENDED = (CANCELED, REJECTED, EXPIRED)
TERMINAL = (FILLED, *ENDED)
WORKING = (REQUESTED, ACCEPTED, PARTIAL)
OPEN = (*WORKING, PENDING_CANCEL, PENDING_AMEND)
STATUSES = (*OPEN, *TERMINAL)

APPLY, DUPLICATE, IGNORE, REFUSE, LATE = "apply", "duplicate", "ignore", "refuse", "late"
KEEP = "keep"  # recorded, changing nothing now: a refusal whose request may arrive after it


def _verdicts(default: str, **by_status: str) -> dict[str, str]:
    table = dict.fromkeys(STATUSES, default)
    table.update(by_status)
    return table


# What the document's table says a fact does in each *shown* status. Facts answered by the
# working status (ack, reject) and facts that depend on trades or markers are decided in code.
TABLE: dict[str, dict[str, str]] = {
    # "fill … After canceled / expired / rejected: booked, status stays terminal, anomaly flag."
    # On filled, a new trade is always Σ fills > quantity: refused by the overfill rule.
    "fill": _verdicts(APPLY, canceled=LATE, rejected=LATE, expired=LATE),
    # "cancel requested: from an open status → pending_cancel … On a terminal order: clear error."
    # AMBIGUOUS: a second cancel request while one is pending records nothing (duplicate).
    "cancel_requested": _verdicts(APPLY, pending_cancel=DUPLICATE, **dict.fromkeys(TERMINAL, REFUSE)),
    # "canceled: any open status → canceled. On filled: ignored. Repeat: duplicate."
    # AMBIGUOUS: canceled on a rejected or expired order is ignored (the order already ended).
    "canceled": _verdicts(APPLY, filled=IGNORE, canceled=DUPLICATE, rejected=IGNORE, expired=IGNORE),
    # "cancel rejected: pending_cancel → the remembered status. On filled: ignored."
    # On a working order with no cancel pending it is kept (docs/semantics.md, footnote 6: its
    # request may reach the ledger after it); once the order ended, ignored.
    "cancel_rejected": _verdicts(
        IGNORE, pending_cancel=APPLY, pending_amend=KEEP, **dict.fromkeys(WORKING, KEEP)
    ),
    # "amend requested …: like cancel." On terminal: clear error.
    # AMBIGUOUS: a request while a cancel or another amendment is pending is refused (as FIX
    # refuses a replace with "already in pending cancel or pending replace status").
    "amend_requested": _verdicts(
        APPLY, pending_cancel=REFUSE, pending_amend=REFUSE, **dict.fromkeys(TERMINAL, REFUSE)
    ),
    # AMBIGUOUS: the venue's "amended" applies on any open order (even unsolicited) and is
    # ignored once the order ended.
    "amended": _verdicts(APPLY, **dict.fromkeys(TERMINAL, IGNORE)),
    # "expired: open → expired." AMBIGUOUS: a repeat is a duplicate; on another end, ignored.
    "expired": _verdicts(APPLY, filled=IGNORE, canceled=IGNORE, rejected=IGNORE, expired=DUPLICATE),
}

# Facts that carry no identity of their own: a re-delivery is recognised by type and venue time
# (and trade for corrections) once recorded (docs/messages.md, "How duplicates are recognised").
FINGERPRINTED = {
    "cancel_requested",
    "cancel_rejected",
    "amend_requested",
    "amended",
    "amend_rejected",
    "fill_corrected",
}

EVENT_OF = {
    "accepted": "OrderAccepted",
    "rejected": "OrderRejected",
    "fill": "OrderFilled",
    "cancel_requested": "OrderCancelRequested",
    "canceled": "OrderCanceled",
    "cancel_rejected": "OrderCancelRejected",
    "amend_requested": "OrderAmendRequested",
    "amended": "OrderAmended",
    "amend_rejected": "OrderAmendRejected",
    "expired": "OrderExpired",
    "fill_busted": "FillBusted",
    "fill_corrected": "FillCorrected",
}

Expected = str | type[LedgerError]
""""applied", "duplicate", "ignored", or the error class a refusal raises."""


@dataclass
class ModelFill:
    """A trade as the model books it."""

    qty: Decimal
    px: Decimal
    late: bool
    busted: bool = False
    original: tuple[Decimal, Decimal] | None = None  # as first booked, once corrected


@dataclass
class ReferenceOrder:
    """docs/semantics.md as a plain-Python state: a working status under pending markers."""

    quantity: Decimal = ORDER_QUANTITY
    price: Decimal = ORDER_PRICE
    requested: tuple[Side, Decimal] = (Side.BUY, ORDER_QUANTITY)
    working: str = REQUESTED  # requested/accepted/partially_filled/filled or how it ended
    markers: list[str] = field(default_factory=list)  # pending markers, latest last
    amend_target: tuple[Decimal | None, Decimal | None] | None = None
    fills: dict[str, ModelFill] = field(default_factory=dict)
    venue_order_ids: list[str] = field(default_factory=list)
    anomalies: list[str] = field(default_factory=list)
    recorded: set[tuple[str, int, str | None]] = field(default_factory=set)

    # ------------------------------------------------------------- what can be observed

    @property
    def status(self) -> str:
        """A pending marker shows over the working status; the latest one wins."""
        return self.markers[-1] if self.markers else self.working

    @property
    def filled(self) -> Decimal:
        """Σ of the fills that stand (busted ones no longer count)."""
        return sum((f.qty for f in self.fills.values() if not f.busted), Decimal(0))

    @property
    def leaves(self) -> Decimal:
        """Quantity minus filled while open; 0 once terminal (canceled: "leaves = 0")."""
        # AMBIGUOUS: the document says leaves = 0 for canceled only; rejected and expired alike.
        return Decimal(0) if self.status in TERMINAL else self.quantity - self.filled

    @property
    def average_price(self) -> Fraction | None:
        """Exact quantity-weighted average price of the standing fills."""
        live = [f for f in self.fills.values() if not f.busted]
        if not live:
            return None
        notional = sum((Fraction(f.qty) * Fraction(f.px) for f in live), Fraction(0))
        return notional / sum((Fraction(f.qty) for f in live), Fraction(0))

    # ------------------------------------------------------------- deciding a fact

    def decide(self, fact: Fact) -> Expected:
        """What the contract says this fact does; the model changes only when it applies."""
        # AMBIGUOUS: a re-delivery of a recorded fact is a duplicate before any status rule (so a
        # cancel request re-sent after the cancel is not an error): principle 5, docs/messages.md.
        if fact.kind in FINGERPRINTED and self._fingerprint(fact) in self.recorded:
            return "duplicate"
        handler: Callable[[Fact], Expected] = getattr(self, f"_on_{fact.kind}")
        outcome = handler(fact)
        if outcome == "applied" and fact.kind in FINGERPRINTED:
            self.recorded.add(self._fingerprint(fact))
        return outcome

    @staticmethod
    def _fingerprint(fact: Fact) -> tuple[str, int, str | None]:
        return (fact.kind, fact.ts, fact.trade_id)

    def _settle(self) -> None:
        """filled = Σ fills decides partially_filled / filled; a full fill drops every marker."""
        if self.working in ENDED:
            return  # "a terminal non-filled order stays terminal"
        if self.filled == self.quantity:
            self.working = FILLED
            self.markers.clear()  # "… unless the order becomes fully filled"
            self.amend_target = None  # the amendment is no longer pending: nothing to confirm
        else:
            # AMBIGUOUS: an order that had fills, or an amendment, has been seen by the venue, so
            # it settles to accepted (not requested) when nothing stands filled.
            self.working = PARTIAL if self.filled > 0 else ACCEPTED

    def _end(self, status: str) -> str:
        self.working = status
        self.markers.clear()
        self.amend_target = None
        return "applied"

    def _on_accepted(self, fact: Fact) -> Expected:
        # "A repeat ack … and reject answer the request": judged by the working status
        # under any pending marker (AMBIGUOUS: the document does not say; the aggregate does so).
        new_id = fact.venue_order_id is not None and fact.venue_order_id not in self.venue_order_ids
        if self.working == REQUESTED:
            self.working = ACCEPTED
            if new_id:
                assert fact.venue_order_id is not None
                self.venue_order_ids.append(fact.venue_order_id)
            return "applied"
        # "A late ack after fills or a cancel: records the venue order ID only, status unchanged."
        if not new_id:
            return "duplicate"  # "A repeat ack: duplicate."
        if self.venue_order_ids:
            # "A different venue order ID on a repeat ack: clear error." AMBIGUOUS: also when the
            # IDs the order has came from an amendment rather than an earlier ack.
            return IdentityConflictError
        assert fact.venue_order_id is not None
        self.venue_order_ids.append(fact.venue_order_id)
        return "applied"

    def _on_rejected(self, fact: Fact) -> Expected:
        if self.working == REQUESTED:  # "requested → rejected" (working status, as for the ack)
            return self._end(REJECTED)
        if self.working == REJECTED:
            return "duplicate"  # AMBIGUOUS: "any other status: clear error"; a repeat is a duplicate
        return InvalidTransitionError

    def _on_fill(self, fact: Fact) -> Expected:
        assert fact.trade_id is not None and fact.qty is not None and fact.px is not None
        known = self.fills.get(fact.trade_id)
        if known is not None:
            # "the same trade again is a duplicate" (AMBIGUOUS: also as first booked before a
            # correction, and any re-delivery of a busted trade); other values: a clear error.
            if (fact.qty, fact.px) in ((known.qty, known.px), known.original) or known.busted:
                return "duplicate"
            return FillConflictError
        if self.filled + fact.qty > self.quantity:
            return OverfillError  # "Overfill (Σ fills > quantity): refused …, nothing appended."
        late = TABLE["fill"][self.status] == LATE
        self.fills[fact.trade_id] = ModelFill(fact.qty, fact.px, late)
        if late:
            if "late_fill" not in self.anomalies:
                self.anomalies.append("late_fill")
        else:
            self._settle()  # "A fill before the ack implies acceptance."
        return "applied"

    def _on_cancel_requested(self, fact: Fact) -> Expected:
        verdict = TABLE["cancel_requested"][self.status]
        if verdict == APPLY:
            self.markers.append(PENDING_CANCEL)  # the status to return to stays underneath
            return "applied"
        return "duplicate" if verdict == DUPLICATE else InvalidTransitionError

    def _on_canceled(self, fact: Fact) -> Expected:
        verdict = TABLE["canceled"][self.status]
        if verdict == APPLY:
            return self._end(CANCELED)
        return "duplicate" if verdict == DUPLICATE else "ignored"

    def _on_cancel_rejected(self, fact: Fact) -> Expected:
        verdict = TABLE["cancel_rejected"][self.status]
        if verdict == APPLY:
            self.markers.remove(PENDING_CANCEL)  # back to the remembered status
        return "ignored" if verdict == IGNORE else "applied"

    def _on_amend_requested(self, fact: Fact) -> Expected:
        if TABLE["amend_requested"][self.status] == REFUSE:
            return InvalidTransitionError
        if fact.qty is None and fact.px is None:
            return InvalidInputError
        if fact.qty is not None and fact.qty < self.filled:
            return AmendBelowFilledError  # "A new quantity below filled: clear error"
        self.markers.append(PENDING_AMEND)
        self.amend_target = (fact.qty, fact.px)
        return "applied"

    def _on_amended(self, fact: Fact) -> Expected:
        # "ignore⁵ … applied when it raises the quantity" on a filled order.
        raises = self.status == FILLED and fact.qty is not None and fact.qty > self.quantity
        if TABLE["amended"][self.status] == IGNORE and not raises:
            return "ignored"
        qty, px = fact.qty, fact.px
        if qty is None and px is None and self.amend_target is not None:
            qty, px = self.amend_target  # the venue confirms what we asked for
        if qty is None and px is None and fact.venue_order_id is None:
            return InvalidInputError
        if qty is not None and qty < self.filled:
            return AmendBelowFilledError
        new_id = fact.venue_order_id if fact.venue_order_id not in self.venue_order_ids else None
        pending = PENDING_AMEND in self.markers
        if not pending and new_id is None and qty in (None, self.quantity) and px in (None, self.price):
            return "duplicate"  # AMBIGUOUS: an unsolicited amendment that changes nothing
        if qty is not None:
            self.quantity = qty  # "a total including fills"
        if px is not None:
            self.price = px
        if new_id is not None:
            self.venue_order_ids.append(new_id)  # "keep every venue order ID the order has had"
        if pending:
            self.markers.remove(PENDING_AMEND)
        self.amend_target = None
        self._settle()  # "equal to filled: filled"
        return "applied"

    def _on_amend_rejected(self, fact: Fact) -> Expected:
        # "like cancel": back to the remembered status; AMBIGUOUS: otherwise ignored. The amend
        # marker may sit under a cancel marker (amend requested, then cancel requested).
        if PENDING_AMEND in self.markers:
            self.markers.remove(PENDING_AMEND)
            self.amend_target = None
            return "applied"
        # Kept on a working order (footnote 6, as a cancel's refusal); ignored once it ended.
        return "applied" if self.status in (*WORKING, PENDING_CANCEL) else "ignored"

    def _on_expired(self, fact: Fact) -> Expected:
        verdict = TABLE["expired"][self.status]
        if verdict == APPLY:
            return self._end(EXPIRED)
        return "duplicate" if verdict == DUPLICATE else "ignored"

    def _on_fill_busted(self, fact: Fact) -> Expected:
        assert fact.trade_id is not None
        fill = self.fills.get(fact.trade_id)
        if fill is None:
            return UnknownTradeError
        if fill.busted:
            return "duplicate"
        fill.busted = True  # "reverses that fill"; a filled order reopens, an ended one stays
        self._settle()
        return "applied"

    def _on_fill_corrected(self, fact: Fact) -> Expected:
        assert fact.trade_id is not None
        fill = self.fills.get(fact.trade_id)
        if fill is None or fill.busted:
            return UnknownTradeError  # AMBIGUOUS: a busted trade cannot be corrected
        qty = fill.qty if fact.qty is None else fact.qty
        px = fill.px if fact.px is None else fact.px
        if (qty, px) == (fill.qty, fill.px):
            return "duplicate"
        if self.filled - fill.qty + qty > self.quantity:
            return OverfillError
        if fill.original is None:
            fill.original = (fill.qty, fill.px)
        fill.qty, fill.px = qty, px  # "replaces quantity and/or price of that trade_id"
        self._settle()
        return "applied"

    def request_again(self, side: Side, quantity: Decimal) -> Expected:
        """A repeated request: duplicate with the same content, a clear error with different content."""
        # AMBIGUOUS: compared with the request as first made, not as amended since.
        return "duplicate" if (side, quantity) == self.requested else ClientOrderIdReuseError


# ============================================================================= the state machine

trade_ids = st.sampled_from(["T-1", "T-2", "T-3", "T-4", "T-5"])
fill_qty = st.sampled_from([Decimal(1), Decimal(2), Decimal("2.5"), Decimal(3), Decimal(5)])
prices = st.sampled_from([Decimal("99.5"), Decimal(100), Decimal("100.25")])
amend_qty = st.sampled_from([Decimal(4), Decimal(6), Decimal("7.5"), Decimal(10), Decimal(12)])
venue_ids = st.sampled_from(["V-1", "V-2", None])


def observed(order: Order) -> dict[str, object]:
    """What a user of the aggregate can see, in the model's vocabulary."""
    return {
        "status": order.status.value,
        "quantity": order.quantity,
        "price": order.price,
        "filled": order.filled_quantity,
        "leaves": order.leaves_quantity,
        "fills": {t: (f.qty, f.px, f.late, f.busted) for t, f in order.fills.items()},
        "venue_order_ids": list(order.venue_order_ids),
        "anomalies": list(order.anomalies),
    }


def expected_view(model: ReferenceOrder) -> dict[str, object]:
    """The same view computed by the reference model."""
    return {
        "status": model.status,
        "quantity": model.quantity,
        "price": model.price,
        "filled": model.filled,
        "leaves": model.leaves,
        "fills": {t: (f.qty, f.px, f.late, f.busted) for t, f in model.fills.items()},
        "venue_order_ids": list(model.venue_order_ids),
        "anomalies": list(model.anomalies),
    }


class AggregateAgainstReferenceModel(RuleBasedStateMachine):
    """Random facts, fresh and re-delivered, in any order: aggregate and model must agree."""

    delivered = Bundle("delivered")

    def __init__(self) -> None:
        super().__init__()
        self.order, _ = Order.request(order_spec(), at(0))
        self.model = ReferenceOrder()
        self.clock = 0

    def tick(self) -> int:
        """A fresh venue time: one second after the last fact."""
        self.clock += 1
        return self.clock

    def deliver(self, fact: Fact) -> Fact:
        """Send one fact to both implementations and compare what each says it did."""
        before = self.order.snapshot()
        before_events = self.order.pending_events
        expected = self.model.decide(fact)
        try:
            outcome = send(self.order, fact)
        except LedgerError as error:
            actual: Expected = type(error)
            assert self.order.snapshot() == before, f"a refused {fact} changed the order"
            assert self.order.pending_events == before_events, f"a refused {fact} appended events"
        else:
            actual = outcome.kind.value
            events = self.order.pending_events[len(before_events) :]
            assert list(outcome.events) == events, "the outcome does not list what was recorded"
            if actual == "applied":
                assert [type(e).__name__ for e in events] == [EVENT_OF[fact.kind]], events
            else:
                assert events == [] and outcome.reason, f"{actual} {fact} must record nothing, say why"
                assert self.order.snapshot() == before, f"a {actual} {fact} changed the order"
        shown = expected if isinstance(expected, str) else expected.__name__
        event(f"{fact.kind} in {before['status']}: {shown}")
        assert actual == expected, (
            f"{fact} on an order {before['status']}: aggregate {actual}, reference model {expected}"
        )
        return fact

    # ------------------------------------------------------------- facts from the venue and from us

    @rule(target=delivered, venue_order_id=venue_ids)
    def ack(self, venue_order_id: str | None) -> Fact:
        return self.deliver(Fact("accepted", self.tick(), venue_order_id=venue_order_id))

    @rule(target=delivered, trade_id=trade_ids, qty=fill_qty, px=prices)
    def fill(self, trade_id: str, qty: Decimal, px: Decimal) -> Fact:
        return self.deliver(Fact("fill", self.tick(), trade_id, qty, px))

    @rule(target=delivered, trade_id=trade_ids, px=prices)
    def fill_the_rest(self, trade_id: str, px: Decimal) -> Fact:
        # Exactly what is left, so that filled orders (and what follows them) are common.
        rest = self.model.quantity - self.model.filled
        return self.deliver(Fact("fill", self.tick(), trade_id, rest if rest > 0 else Decimal(1), px))

    @rule(target=delivered, pick=st.integers(0, 9), qty=fill_qty, px=prices)
    def fill_with_a_booked_trade_id(self, pick: int, qty: Decimal, px: Decimal) -> Fact:
        # A trade ID already booked, with values drawn afresh: a duplicate or a conflict.
        known = sorted(self.model.fills) or ["T-1"]
        return self.deliver(Fact("fill", self.tick(), known[pick % len(known)], qty, px))

    @rule(target=delivered)
    def cancel_requested(self) -> Fact:
        return self.deliver(Fact("cancel_requested", self.tick()))

    @rule(target=delivered)
    def cancel_rejected(self) -> Fact:
        return self.deliver(Fact("cancel_rejected", self.tick()))

    @rule(target=delivered, qty=st.none() | amend_qty, px=st.none() | prices)
    def amend_requested(self, qty: Decimal | None, px: Decimal | None) -> Fact:
        return self.deliver(Fact("amend_requested", self.tick(), qty=qty, px=px))

    @rule(target=delivered, qty=st.none() | amend_qty, px=st.none() | prices, venue_order_id=venue_ids)
    def amended(self, qty: Decimal | None, px: Decimal | None, venue_order_id: str | None) -> Fact:
        venue_order_id = None if venue_order_id is None else venue_order_id.replace("V-", "V-A")
        return self.deliver(Fact("amended", self.tick(), qty=qty, px=px, venue_order_id=venue_order_id))

    @rule(target=delivered, qty=st.none() | amend_qty, px=prices)
    def amend_then_cancel_requested(self, qty: Decimal | None, px: Decimal) -> MultipleResults[Fact]:
        # Both asks in flight: the cancel marker shows, the amend marker waits underneath.
        amend = self.deliver(Fact("amend_requested", self.tick(), qty=qty, px=px))
        return multiple(amend, self.deliver(Fact("cancel_requested", self.tick())))

    @rule(target=delivered)
    def amend_rejected(self) -> Fact:
        return self.deliver(Fact("amend_rejected", self.tick()))

    # Endings share one rule so that most histories stay open long enough to get interesting.
    @rule(target=delivered, kind=st.sampled_from(["rejected", "canceled", "expired"]))
    def venue_ends_the_order(self, kind: str) -> Fact:
        return self.deliver(Fact(kind, self.tick()))

    @rule(target=delivered, trade_id=trade_ids)
    def bust(self, trade_id: str) -> Fact:
        return self.deliver(Fact("fill_busted", self.tick(), trade_id))

    @rule(target=delivered, trade_id=trade_ids, qty=st.none() | fill_qty, px=st.none() | prices)
    def correct(self, trade_id: str, qty: Decimal | None, px: Decimal | None) -> Fact:
        return self.deliver(Fact("fill_corrected", self.tick(), trade_id, qty, px))

    @rule(fact=delivered)
    def deliver_again(self, fact: Fact) -> None:
        # The very same message again (same venue time): a re-delivery after a reconnect.
        self.deliver(fact)

    @rule(side=st.sampled_from(Side), quantity=st.sampled_from([ORDER_QUANTITY, Decimal(11)]))
    def request_again(self, side: Side, quantity: Decimal) -> None:
        expected = self.model.request_again(side, quantity)
        before = self.order.snapshot()
        try:
            actual: Expected = self.order.request_again(order_spec(side, quantity)).kind.value
        except LedgerError as error:
            actual = type(error)
        assert actual == expected
        assert self.order.snapshot() == before

    # ------------------------------------------------------------- after every step

    @invariant()
    def observable_state_agrees(self) -> None:
        actual, expected = observed(self.order), expected_view(self.model)
        assert actual == expected, f"aggregate {actual} != reference model {expected}"

    @invariant()
    def average_price_agrees(self) -> None:
        exact = self.model.average_price
        shown = self.order.average_price
        if exact is None:
            assert shown is None
        else:
            assert shown is not None
            # The aggregate divides to 34 significant digits; the model keeps the exact fraction.
            assert abs(Fraction(shown) - exact) <= exact * Fraction(1, 10**32)


TestAggregateAgreesWithReferenceModel = AggregateAgainstReferenceModel.TestCase
TestAggregateAgreesWithReferenceModel.settings = settings(
    max_examples=400,
    stateful_step_count=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


# ============================================================================= positions and lots
#
# A second reference, for positions (docs/semantics.md, "Positions", "Venue time", "Cost basis"),
# written from the document alone in exact fractions: the fills that stand (busted ones gone,
# corrected ones with their new values) are sorted by venue time, then trade ID (numeric IDs by
# value), then order; then matched under the rule: a list of open lots, each (quantity, price),
# signed. Average cost keeps one lot at the average. The ledger's folds (the live view for
# average cost, the log fold for every rule) must agree with it for any arrival order.

POSITION_HEADER = {"account": "A", "venue": "V", "instrument": "X-USD", "source": "model-test"}


@settings(max_examples=150, deadline=None, database=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.sampled_from([1, -1]), st.integers(1, 6), st.integers(95, 105)),
        min_size=1,
        max_size=9,
    ),
    st.data(),
)
def test_positions_agree_with_the_reference_under_every_rule_and_arrival_order(
    drawn: list[tuple[int, int, int, int]], data: st.DataObject
) -> None:
    made: list[OrderFilled] = []
    for n, (second, sign, qty, px) in enumerate(drawn):
        made.append(
            OrderFilled(
                originator_id=uuid5(NAMESPACE_URL, f"model-{n}"),
                originator_version=2,
                ts_recorded=T0,
                ts_event=T0 + timedelta(seconds=second),
                client_order_id=f"P-{n}",
                trade_id=str(100 - n * 7),  # numeric IDs, not in the order the fills were made
                last_qty=Decimal(qty),
                last_px=Decimal(px),
                side=Side.BUY if sign > 0 else Side.SELL,
                quote_currency="USD",
                **POSITION_HEADER,
            )
        )
    busted = data.draw(st.sets(st.integers(0, len(made) - 1), max_size=2))
    corrected = data.draw(st.sets(st.integers(0, len(made) - 1), max_size=2)) - busted
    restatements: list[OrderEvent] = []
    standing: list[tuple[int, str, str, Fraction, Fraction]] = []
    for n, f in enumerate(made):
        common = dict(
            originator_id=f.originator_id,
            originator_version=3,
            ts_recorded=T0,
            ts_event=T0 + timedelta(hours=1),
            client_order_id=f.client_order_id,
            trade_id=f.trade_id,
            side=f.side,
            quote_currency="USD",
            fill_ts_event=f.ts_event,
            **POSITION_HEADER,
        )
        price = Fraction(f.last_px)
        if n in busted:
            restatements.append(FillBusted(last_qty=f.last_qty, last_px=f.last_px, **common))
            continue
        if n in corrected:
            price += 2
            restatements.append(
                FillCorrected(
                    previous_qty=f.last_qty,
                    previous_px=f.last_px,
                    last_qty=f.last_qty,
                    last_px=f.last_px + 2,
                    **common,
                )
            )
        sign = 1 if f.side is Side.BUY else -1
        standing.append((drawn[n][0], f.trade_id, f.client_order_id, sign * Fraction(f.last_qty), price))
    arrival: list[OrderEvent] = [*data.draw(st.permutations(made)), *restatements]
    log = list(enumerate(arrival, start=1))
    live = fold(PositionsProjection(), log)[POSITIONS_TABLE.name].rows.get(("A", "V", "X-USD"))
    for basis in ("average", "fifo", "lifo", "hifo"):
        quantity, realized = reference_position(standing, basis)
        books = fold_books(fills_of(log), basis)  # type: ignore[arg-type]
        found = [b.position for b in books.values()]
        got = (
            (Fraction(found[0].quantity), Fraction(found[0].realized_pnl))
            if found
            else (Fraction(0), Fraction(0))
        )
        # Averages are divided to 34 significant digits: realized agrees to far below a cent.
        assert got[0] == quantity and abs(got[1] - realized) < Fraction(1, 10**20), (basis, got, realized)
        if basis == "average" and live is not None:
            assert Fraction(live.quantity) == quantity
            assert abs(Fraction(live.realized_pnl) - realized) < Fraction(1, 10**20)


# ============================================================================= fees in one currency
#
# A third reference, for fees valued in the P&L currency (docs/semantics.md, "Fees and
# `realized_pnl_net`"), from the document alone: a fee in the P&L currency counts as it is, one
# in the base coin at the fill's price, one in BNB at the latest BNB-USDT mark of the fill's venue
# at or before the fill (marks of one time: the last source in text order); without such a mark
# the fee is unvalued and net P&L is None. Fills and marks arrive in any order.


def reference_net(
    fills: list[tuple[int, str, str, Fraction, Fraction, Fraction, str]],
    marks: dict[tuple[int, str], int],
    rule: str,
) -> tuple[Fraction | None, list[str]]:
    """(net P&L, unvalued currencies) of fills (second, trade ID, order, signed quantity, price,
    fee, fee currency) on BTC-USDT under ``rule``, with BNB-USDT ``marks`` {(second, source): price}."""
    _, realized = reference_position([f[:5] for f in fills], rule)
    net: Fraction | None = realized
    unvalued: set[str] = set()
    for second, _, _, _, price, fee, currency in fills:
        if currency == "USDT":
            rate: Fraction | None = Fraction(1)
        elif currency == "BTC":
            rate = price
        else:
            known = [key for key in marks if key[0] <= second]
            rate = Fraction(marks[max(known)]) if known else None
        if rate is None:
            unvalued.add(currency)
        else:
            net = None if net is None else net - fee * rate
    return (None if unvalued else net), sorted(unvalued)


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.integers(0, 4),
            st.sampled_from([1, -1]),
            st.integers(1, 3),
            st.integers(95, 105),
            st.integers(1, 9),
            st.sampled_from(["USDT", "BTC", "BNB"]),
        ),
        min_size=1,
        max_size=6,
    ),
    st.dictionaries(
        st.tuples(st.integers(0, 4), st.sampled_from(["s1", "s2"])), st.integers(500, 700), max_size=3
    ),
    st.data(),
)
def test_fees_in_one_currency_agree_with_the_reference_for_any_arrival_order(
    drawn: list[tuple[int, int, int, int, int, str]], marks: dict[tuple[int, str], int], data: st.DataObject
) -> None:
    from orderledger.infrastructure.application.ledger import OrderLedger

    book = {"account": "a", "venue": "v", "instrument": "BTC-USDT"}
    requests, facts, fills = [], [], []
    for n, (second, sign, qty, px, fee, currency) in enumerate(drawn):
        ts = (T0 + timedelta(seconds=second)).isoformat()
        side = "buy" if sign > 0 else "sell"
        requests.append({"type": "request", "client_order_id": f"F-{n}", **book, "side": side,
                         "order_type": "market", "quantity": str(qty), "ts": T0.isoformat()})  # fmt: skip
        fee_text = f"0.00{fee}" if currency == "BTC" else f"0.{fee}"  # a BTC fee is a small one
        facts.append({"type": "fill", "client_order_id": f"F-{n}", "trade_id": str(100 - n * 7),
                      "quantity": str(qty), "price": str(px), "fee": fee_text, "fee_currency": currency,
                      "ts": ts})  # fmt: skip
        fills.append((second, str(100 - n * 7), f"F-{n}", sign * Fraction(qty), Fraction(px),
                      Fraction(fee_text), currency))  # fmt: skip
    for (second, source), price in marks.items():
        facts.append({"type": "mark", "venue": "v", "instrument": "BNB-USDT", "source": source,
                      "price": str(price), "ts": (T0 + timedelta(seconds=second)).isoformat()})  # fmt: skip
    arrival = [*requests, *data.draw(st.permutations(facts))]
    with OrderLedger("memory://") as ledger:
        for message in arrival:
            assert ledger.record(message).error is None, message
        net, unvalued = reference_net(fills, marks, "average")
        [live] = ledger.positions()
        [fifo] = ledger.positions(cost_basis="fifo")
        [grouped] = ledger.pnl(by="account")
        for row, (want, why) in (
            (live, (net, unvalued)),
            (grouped, (net, unvalued)),
            (fifo, reference_net(fills, marks, "fifo")),
        ):
            assert list(row.unvalued_fees) == why, (row, why)
            got = row.realized_pnl_net
            if want is None:
                assert got is None, row
            else:
                # Averages are divided to 34 significant digits: net agrees to far below a cent.
                assert got is not None and abs(Fraction(got) - want) < Fraction(1, 10**20), (row, want)
