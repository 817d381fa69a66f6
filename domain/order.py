"""The ``Order`` aggregate: one per client order ID, rebuilt by replaying its events.

Commands (``accept``, ``fill``, ``request_cancel`` …) decide: they consult the lifecycle table,
check quantities and identities, and return an :class:`Decision` holding at most one new event,
or raise a typed :mod:`domain.errors` error. Each command's applier follows it (named for its
event class in ``Order._APPLIERS``): it only assigns, because it runs again on every replay. What the
order holds, shows and stores is declared in :mod:`domain.order_state`.

This module holds the order's creation and its lifecycle (acknowledgement, cancels, amendments,
expiry, merging, restatement in venue time); its trades' commands (fill, bust, correction) are
in :mod:`domain.order_fills`, and what every command uses in :mod:`domain.order_rules`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any, ClassVar

from orderledger.domain.construction import construct
from orderledger.domain.decisions import Decision, Stamp, duplicate
from orderledger.domain.errors import (
    ClientOrderIdReuseError,
    ContradictionError,
    IdentityConflictError,
    InvalidInputError,
    InvalidTransitionError,
)
from orderledger.domain.events import (
    Acknowledgement,
    AnomalyRecorded,
    FillBusted,
    FillCorrected,
    FillDetailsAdded,
    OrderAccepted,
    OrderAmended,
    OrderAmendRejected,
    OrderAmendRequested,
    OrderCanceled,
    OrderCancelRejected,
    OrderCancelRequested,
    OrderDetailsAdded,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderHeld,
    OrderMerged,
    OrderReinstated,
    OrderRejected,
    OrderRequested,
    OrderRestated,
    OrderSpec,
    OrderTriggered,
)
from orderledger.domain.fills import Fill
from orderledger.domain.lifecycle import Rule
from orderledger.domain.order_fields import CHANGES, Repeat, field_markers
from orderledger.domain.order_fills import FillRules
from orderledger.domain.order_requests import (
    ORDER_NAMESPACE,
    check_request,
    external_client_order_id,
    order_id_for,
)
from orderledger.domain.order_state import (
    FROM_REQUEST,
    raise_fingerprint,
)
from orderledger.domain.order_terms import TERM_NAMES, OrderTerms
from orderledger.domain.outcomes import Outcome
from orderledger.domain.values import (
    CONDITIONAL,
    UNACCEPTED,
    Side,
    Status,
    format_decimal,
    quote_currency_of,
)

__all__ = [
    "FOLDED",
    "ORDER_NAMESPACE",
    "SPEC_FIELDS",
    "Fill",
    "Order",
    "external_client_order_id",
    "order_id_for",
    "spec_values",
]


SPEC_FIELDS = tuple(OrderSpec.model_fields)
"""What a request states: ``OrderRequested`` carries each of them, under the same name."""
spec_values = attrgetter(*SPEC_FIELDS)
"""The values of SPEC_FIELDS, in order, read from a spec or a message (in one call)."""
FACTS = ("account", "instrument", "side")
"""What an order is, as any report of it may state: a report stating another value is not a
report of this order as it is (:meth:`Order.check_stated`), whatever else it says."""
stated_facts = attrgetter(*FACTS)
REPEATS: dict[str, Repeat] = field_markers(OrderSpec, Repeat)
"""What a repeat of the request may do with each of its fields (``OrderSpec``'s markers)."""
_COMPARED = tuple(
    (name, repeat, sorted((a for a, f in FROM_REQUEST.items() if f == name), key=lambda a: a == name))
    for name, repeat in REPEATS.items()
    if repeat in (Repeat.MUST_MATCH, *CHANGES) and name not in TERM_NAMES
)
"""The fields a repeat is compared by, each with its rule and the order's values that hold it (the
one it holds now last: ``requested_quantity``, then ``quantity``); the terms apart."""
_TERMS_COMPARED = tuple(
    (name, repeat)
    for name, repeat in REPEATS.items()
    if repeat in (Repeat.MUST_MATCH, *CHANGES) and name in TERM_NAMES
)
"""The terms a repeat is compared by (those it states), each with its rule: the order holds each
in its terms."""
_ADDED = tuple(name for name, repeat in REPEATS.items() if repeat in CHANGES and name not in TERM_NAMES)
"""The fields a repeat may add to the order or change (each an ``OrderDetailsAdded`` field); the
terms it adds are one field of it, ``terms``."""


def _takes(repeat: Repeat, current: Any) -> bool:
    """Whether the order takes a repeat's other value of a field it holds as ``current`` (a field
    that may change, or one it lacks that may be added); otherwise the values disagree."""
    return repeat is Repeat.MAY_CHANGE or (current is None and repeat is Repeat.MAY_ADD)


_CLEARED = tuple(name for name, repeat in REPEATS.items() if repeat is Repeat.CLEARS)


def _on_requested(order: Order, event: OrderRequested) -> None:  # pragma: no cover - creation
    raise InvalidTransitionError(order.client_order_id, "request", order.status.value, "already exists")


class Order(FillRules):
    """An order: its state (``OrderState``), the commands that decide its events, and the
    appliers that record them."""

    __slots__ = ()

    # ----------------------------------------------------------------- creation

    @classmethod
    def request(cls, spec: OrderSpec, stamp: Stamp) -> tuple[Order, Decision]:
        """Create an order from its request (intent recorded before it is sent)."""
        check_request(spec)
        stated = dict(zip(SPEC_FIELDS, spec_values(spec), strict=True))
        stated["originator_id"] = order_id_for(spec.client_order_id)
        stated["originator_version"] = 1
        stated["ts_recorded"] = stamp.ts_recorded
        stated["ts_event"] = stamp.ts_event
        stated["source"] = stamp.source
        stated["quote_currency"] = spec.quote_currency or quote_currency_of(spec.instrument)
        stated["tags"] = dict(spec.tags)
        stated["aliases"] = dict(spec.aliases)
        event = construct(OrderRequested, stated)  # its values are checked: no validation again
        order = cls(event)
        order.version = 1
        order._pending_events.append(event)
        return order, Decision(Outcome.APPLIED, (event,))

    def request_again(
        self, spec: OrderSpec, stamp: Stamp | None = None, *, reported: bool = False
    ) -> Decision:
        """A request for an ID that exists: the same order stated again, completed, or an error.

        Each field is compared as its ``Repeat`` marker says (``OrderSpec``): the order's
        identity (account, venue, instrument, side, order type) must match, or the ID is being
        reused. A field stated again with another value than the order's (quantity and price: as
        first requested or as amended since) is refused when the repeat comes from the party
        that made the request (``stamp.source``); from anyone else (a venue report of the order)
        it is recorded as an anomaly with both values, never a refusal, and the order keeps its
        own. What the order lacks of a field that may be added (time in force, post-only, parent,
        new tags), and a field that may change, are recorded (``OrderDetailsAdded``). Left out
        (None, no tags), a field is not compared. ``reported``: the request names the order by
        another of its names (one of its aliases): a venue's report of the order, whatever its
        source.
        """
        check_request(spec)
        same_party = not reported and (stamp is None or stamp.source == self.request_source)
        if not same_party:
            self.check_stated(*stated_facts(spec))  # a venue's report of the order
        differences = [name for name in OrderSpec.IDENTITY if getattr(spec, name) != getattr(self, name)]
        added, mismatches = self._compared(spec)
        if differences or (mismatches and same_party):
            values = {name: (str(getattr(self, name)), str(getattr(spec, name))) for name in differences}
            raise ClientOrderIdReuseError(
                self.client_order_id, differences + [m[0] for m in mismatches], values
            )
        for name in _CLEARED:
            if getattr(self, name) and not getattr(spec, name):
                added[name] = False  # our own request of an order the venue reported first
        if stamp is not None and stamp.ts_event < self.created_at:
            added["created_at"] = stamp.ts_event  # created earlier than the first report said
        if stamp is None or (not added and not mismatches):
            return duplicate("the order was already requested")
        events: list[OrderEvent] = []
        if added:
            events += self._record(OrderDetailsAdded, stamp, **added).events
        for name, ours, theirs in mismatches:
            events += self._anomaly(stamp, f"{name}_mismatch", name, _shown(ours), _shown(theirs))
        if not events:
            return duplicate("the order was already requested; its differences are already recorded")
        return Decision(Outcome.APPLIED, tuple(events))

    def _compared(self, spec: OrderSpec) -> tuple[dict[str, Any], list[tuple[str, Any, Any]]]:
        """What a repeat ``spec`` adds to the order or changes (by field), and where it states
        another value than the order's (field, the order's, the repeat's): each compared field
        (``_COMPARED``) as its ``Repeat`` says."""
        added: dict[str, Any] = {}
        mismatches: list[tuple[str, Any, Any]] = []
        for name, repeat, held in _COMPARED:
            theirs = getattr(spec, name)
            if theirs is None or theirs == {}:
                continue  # left out: not stated
            if name == "price" and not self.order_type.priced:
                continue  # a market order's reported price is its average
            ours = [getattr(self, attribute) for attribute in held]
            current = ours[-1]
            if isinstance(theirs, dict):  # a mapping: compared, added and changed by name
                new = {k: v for k, v in theirs.items() if k not in current}
                other = {k: v for k, v in theirs.items() if k in current and current[k] != v}
                if other and repeat is not Repeat.MAY_CHANGE:
                    mismatches.append((name, {k: current[k] for k in other}, other))
                    other = {}
                if new and repeat is Repeat.MUST_MATCH:
                    mismatches.append((name, None, new))
                    new = {}
                if new or other:
                    added[name] = {**new, **other}
            elif theirs in ours:
                continue
            elif _takes(repeat, current):
                added[name] = theirs
            else:
                mismatches.append((name, current, theirs))
        if spec.terms is not None:
            self._compared_terms(spec.terms, added, mismatches)
        return added, mismatches

    def _compared_terms(
        self, terms: OrderTerms, added: dict[str, Any], mismatches: list[tuple[str, Any, Any]]
    ) -> None:
        """``_compared`` for the terms a repeat states: those it adds go to ``added["terms"]``."""
        stated = terms.__dict__
        new: dict[str, Any] = {}
        for name, repeat in _TERMS_COMPARED:
            theirs = stated[name]
            if theirs is None:
                continue  # left out: not stated
            current = getattr(self, name)  # the order's, typed
            if theirs == current:
                continue
            if _takes(repeat, current):
                new[name] = theirs
            else:
                mismatches.append((name, current, theirs))
        if new:
            added["terms"] = construct(OrderTerms, new)

    def check_stated(self, account: str | None, instrument: str | None, side: Side | None) -> None:
        """Refuse a report that states another account, instrument or side than the order's
        (None: not stated), naming the field and both values; the one check every format's
        reports pass (FIX Account 1, Symbol 55, Side 54; a venue trade's symbol and side)."""
        for name, reported in zip(FACTS, (account, instrument, side), strict=True):
            if reported is not None and reported != getattr(self, name):
                raise ContradictionError(self.client_order_id, name, str(getattr(self, name)), str(reported))

    def flag_breach(self, stamp: Stamp, reasons: str) -> Decision:
        """A venue's report of the order passed a limit or trading state in force (``reasons``):
        never refused, recorded as an anomaly (``limit_breach``) on the order, once."""
        return Decision(Outcome.APPLIED, tuple(self._anomaly(stamp, "limit_breach", "risk", None, reasons)))

    def add_aliases(self, stamp: Stamp, aliases: Mapping[str, str]) -> Decision:
        """Identities the order did not have (a request recorded after the venue reported the
        order names it so); one it has with another value is refused."""
        new = self._new_aliases(aliases)
        if not new:
            return duplicate("the order already has these aliases")
        return self._record(OrderDetailsAdded, stamp, aliases=new)

    def _on_details_added(self, event: OrderDetailsAdded) -> None:
        for name in _ADDED:  # what a repeat of the request may add or change (``Repeat``)
            value = getattr(event, name)
            if isinstance(value, dict):
                getattr(self, name).update(value)
            elif value is not None:
                setattr(self, name, value)
        if event.terms is not None:
            for name, value in event.terms.__dict__.items():
                if value is not None:
                    self.set_term(name, value)
        self.aliases.update(event.aliases)
        if event.created_at is not None and event.created_at < self.created_at:
            self.created_at = event.created_at
        if event.external is False:
            self.external = False

    # ----------------------------------------------------------------- commands

    def accept(
        self,
        stamp: Stamp,
        venue_order_id: str | None = None,
        aliases: Mapping[str, str] | None = None,
        fact: type[Acknowledgement] = OrderAccepted,
    ) -> Decision:
        """The venue acknowledged the order (``fact=OrderHeld``: a broker did, and holds it for
        the exchange, which has not accepted it yet)."""
        # Ack and reject answer the request, not a cancel or amend we sent before the ack.
        rule, _why = self._rule(fact, self.base_status)
        new_aliases = self._new_aliases(aliases or {})
        known = venue_order_id is None or venue_order_id in self.venue_order_ids
        if not known and self.venue_order_ids and rule is Rule.ACK_LATE:
            raise IdentityConflictError(
                f"order {self.client_order_id!r} was acknowledged as venue order "
                f"{self.venue_order_id!r}, not {venue_order_id!r}",
                client_order_id=self.client_order_id,
            )
        if rule is Rule.ACK_LATE and known and not new_aliases:
            return duplicate("the order was already acknowledged")
        return self._record(
            fact,
            stamp,
            venue_order_id=None if known else venue_order_id,
            aliases=new_aliases,
        )

    def reidentify(self, stamp: Stamp, venue_order_id: str) -> Decision:
        """The venue names the order by a new venue order ID, unasked (a FIX venue that gives
        an IOC's Canceled report a new OrderID for the same ClOrdID): the new ID is recorded
        as another of the order's venue order IDs, and the change as an anomaly holding the
        ID the order had and the one reported."""
        if venue_order_id in self.venue_order_ids:
            return duplicate("the order already has this venue order ID")
        events = list(self._record(OrderAccepted, stamp, venue_order_id=venue_order_id, aliases={}).events)
        recorded = self.venue_order_ids[-2] if len(self.venue_order_ids) > 1 else None
        events += self._anomaly(stamp, "venue_order_id_changed", "venue_order_id", recorded, venue_order_id)
        return Decision(Outcome.APPLIED, tuple(events))

    def _on_accepted(self, event: Acknowledgement) -> None:
        if event.venue_order_id and event.venue_order_id not in self.venue_order_ids:
            self.venue_order_ids.append(event.venue_order_id)
        self.aliases.update(event.aliases)
        if type(event) is OrderHeld:
            if self.base_status is Status.REQUESTED:
                self.base_status = Status.HELD
        elif self.base_status in UNACCEPTED:
            self.base_status = Status.ACCEPTED

    def reject(self, stamp: Stamp, reason: str | None = None, venue_order_id: str | None = None) -> Decision:
        """The venue refused the order (naming it ``venue_order_id`` when it numbered it: kept as
        the order's venue order ID, without acknowledging it)."""
        self._rule(OrderRejected, self.base_status)
        if (early := self._early(OrderRejected, self.base_status)) is not None:
            return early
        new_id = None if venue_order_id in self.venue_order_ids else venue_order_id
        return self._record(OrderRejected, stamp, reason=reason, venue_order_id=new_id)

    def _on_rejected(self, event: OrderRejected) -> None:
        if self.base_status not in UNACCEPTED:
            return  # accepted earlier in venue time: the table refuses it there
        if event.venue_order_id and event.venue_order_id not in self.venue_order_ids:
            self.venue_order_ids.append(event.venue_order_id)
        self.base_status = Status.REJECTED
        self.reason = event.reason
        self._clear_pending()

    def request_cancel(self, stamp: Stamp) -> Decision:
        """We ask the venue to cancel."""
        if (again := self._again(OrderCancelRequested, stamp)) is not None:
            return again
        self._check(OrderCancelRequested)
        if (early := self._early(OrderCancelRequested)) is not None:
            return early
        return self._record(OrderCancelRequested, stamp)

    def _on_cancel_requested(self, event: OrderCancelRequested) -> None:
        if self.base_status.is_open:  # after the order ended: a request that lost the race
            self.pending_cancel = True

    def cancel(self, stamp: Stamp, reason: str | None = None, canceled_by: str | None = None) -> Decision:
        """The venue canceled the order (``canceled_by``: the sibling whose fill caused it)."""
        self._check(OrderCanceled)
        if (early := self._early(OrderCanceled)) is not None:
            return early
        return self._record(OrderCanceled, stamp, reason=reason, canceled_by=canceled_by)

    def _on_canceled(self, event: OrderCanceled) -> None:
        if self.base_status.is_terminal:
            return  # filled outranks canceled; an ended order stays as it ended
        self.base_status = Status.CANCELED
        self.reason = event.reason
        if event.canceled_by is not None:
            self.set_term("canceled_by", event.canceled_by)
        self._clear_pending()

    def trigger(self, stamp: Stamp, trigger_price: Decimal | None = None) -> Decision:
        """The venue reports the order's trigger fired: a conditional order (``CONDITIONAL``)
        works from now as its market or limit order; any other is refused."""
        if self.order_type not in CONDITIONAL:
            raise InvalidTransitionError(
                self.client_order_id,
                "triggered",
                self.status.value,
                f"a {self.order_type.value} order has no trigger",
            )
        self._check(OrderTriggered)
        if (early := self._early(OrderTriggered)) is not None:
            return early
        if self.triggered_at is not None:
            return duplicate("already triggered")
        return self._record(OrderTriggered, stamp, trigger_price=trigger_price)

    def _on_triggered(self, event: OrderTriggered) -> None:
        if self.triggered_at is None or event.ts_event < self.triggered_at:
            self.set_term("triggered_at", event.ts_event)
        if self.base_status in (Status.REQUESTED, Status.HELD):
            self.base_status = Status.ACCEPTED  # the venue works it: it has accepted it

    def reinstate(self, stamp: Stamp, canceled_at: datetime, reason: str | None = None) -> Decision:
        """Withdraw the closure at ``canceled_at`` (venue time): the caller decides it against
        the order as its facts up to then leave it, and restates the order as its other facts
        make it (``domain.folds.counted``)."""
        self._check(OrderReinstated)
        if (early := self._early(OrderReinstated)) is not None:
            return early
        return self._record(OrderReinstated, stamp, canceled_at=canceled_at, reason=reason)

    def _on_reinstated(self, event: OrderReinstated) -> None:
        pass  # what the order is without the closure is stated by the OrderRestated that follows

    def merge_into(self, stamp: Stamp, into: str) -> Decision:
        """Record that this external order is our order ``into`` (``OrderMerged``); the caller
        busts its fills first and books them on ``into``."""
        if self.merged_into is not None:
            return duplicate(f"already merged into order {self.merged_into!r}")
        return self._record(OrderMerged, stamp, into=into)

    def _on_merged(self, event: OrderMerged) -> None:
        self.merged_into = event.into
        if not self.base_status.is_terminal:
            self.base_status = Status.CANCELED
            self._clear_pending()
        self.reason = f"merged into order {event.into!r}"

    def reject_cancel(self, stamp: Stamp, reason: str | None = None) -> Decision:
        """The venue refused our cancel."""
        if (again := self._again(OrderCancelRejected, stamp)) is not None:
            return again
        self._check(OrderCancelRejected)
        if (early := self._early(OrderCancelRejected)) is not None:
            return early
        return self._record(OrderCancelRejected, stamp, reason=reason)

    def _on_cancel_rejected(self, event: OrderCancelRejected) -> None:
        if not self.pending_cancel:
            return  # no cancel pending there: the venue's answer changes nothing
        self.pending_cancel = False
        self.reason = event.reason

    def request_amend(
        self, stamp: Stamp, quantity: Decimal | None = None, price: Decimal | None = None
    ) -> Decision:
        """We ask the venue for a new total quantity and/or price."""
        if (again := self._again(OrderAmendRequested, stamp)) is not None:
            return again
        self._check(OrderAmendRequested)
        if quantity is None and price is None:
            raise InvalidInputError("an amend request needs a quantity or a price", field="quantity")
        self._check_amend_values(quantity, price)
        return self._record(OrderAmendRequested, stamp, quantity=quantity, price=price)

    def _on_amend_requested(self, event: OrderAmendRequested) -> None:
        if self.base_status.is_terminal or self.pending_amend or self.pending_cancel:
            return  # the table refuses it there: a request that lost the race
        self.pending_amend = True
        self.amend_target = (event.quantity, event.price)

    def amend(
        self,
        stamp: Stamp,
        quantity: Decimal | None = None,
        price: Decimal | None = None,
        venue_order_id: str | None = None,
    ) -> Decision:
        """The venue applied an amendment (ours, or one made elsewhere).

        On a filled order the venue's word is ignored, unless it raises the quantity: the venue
        then says the order is larger than what filled, so it is working again (a liquidation
        order whose fills arrive in separate reports, each stating a larger size). Such a raise
        is new even at the venue time of an earlier amendment (a liquidation's fills share one
        time); a copy of one already applied is a duplicate, even once a later amendment has
        lowered the quantity below it again (it would raise it, but it was recorded).
        """
        reopens = self.status is Status.FILLED and quantity is not None and quantity > self.quantity
        if reopens:
            assert quantity is not None
            if raise_fingerprint(stamp.ts_event, quantity) in self.seen:
                return duplicate("this OrderAmended was already recorded")
        elif (again := self._again(OrderAmended, stamp)) is not None:
            return again
        self._check(OrderAmended)
        if not reopens and (early := self._early(OrderAmended)) is not None:
            return early
        if quantity is None and price is None and self.amend_target is not None:
            quantity, price = self.amend_target
        if quantity is None and price is None and venue_order_id is None:
            raise InvalidInputError(
                "an amended message needs a quantity, a price or a venue order ID", field="quantity"
            )
        self._check_amend_values(quantity, price)
        new_id = None if venue_order_id in self.venue_order_ids else venue_order_id
        if (
            not self.pending_amend
            and new_id is None
            and quantity in (None, self.quantity)
            and price in (None, self.price)
        ):
            return duplicate("the order already has this quantity, price and venue order ID")
        return self._record(OrderAmended, stamp, quantity=quantity, price=price, venue_order_id=new_id)

    def _on_amended(self, event: OrderAmended) -> None:
        if self.base_status.is_terminal and not (
            self.base_status is Status.FILLED
            and event.quantity is not None
            and event.quantity > self.quantity
        ):
            return  # the order had ended there (only a raise reopens a filled order)
        if event.quantity is not None:
            self.quantity = event.quantity
        if event.price is not None:
            self.price = event.price
        if event.venue_order_id and event.venue_order_id not in self.venue_order_ids:
            self.venue_order_ids.append(event.venue_order_id)
        self.pending_amend = False
        self.amend_target = None
        self._settle_working_status()

    def reject_amend(self, stamp: Stamp, reason: str | None = None) -> Decision:
        """The venue refused our amendment."""
        if (again := self._again(OrderAmendRejected, stamp)) is not None:
            return again
        self._check(OrderAmendRejected)
        if (early := self._early(OrderAmendRejected)) is not None:
            return early
        return self._record(OrderAmendRejected, stamp, reason=reason)

    def _on_amend_rejected(self, event: OrderAmendRejected) -> None:
        if not self.pending_amend:
            return  # no amendment pending there
        self.pending_amend = False
        self.amend_target = None
        self.reason = event.reason

    def expire(self, stamp: Stamp, reason: str | None = None) -> Decision:
        """The order's time in force ran out."""
        self._check(OrderExpired)
        if (early := self._early(OrderExpired)) is not None:
            return early
        return self._record(OrderExpired, stamp, reason=reason)

    def _on_expired(self, event: OrderExpired) -> None:
        if self.base_status.is_terminal:
            return
        self.base_status = Status.EXPIRED
        self.reason = event.reason
        self._clear_pending()

    # ----------------------------------------------------------------- venue time

    def restate(self, stated: dict[str, Any], late: dict[str, bool], stamp: Stamp) -> Decision:
        """Record what the order is, folded in venue time (``domain.folds.restatement``)."""
        return self._record(OrderRestated, stamp, **stated, late=late)

    def _on_restated(self, event: OrderRestated) -> None:
        self.base_status = event.base_status
        self.pending_cancel, self.pending_amend = event.pending_cancel, event.pending_amend
        target = event.amend_target
        self.amend_target = None if target is None else (target[0], target[1])
        self.quantity, self.price, self.reason = event.quantity, event.price, event.reason
        if event.base_status is not Status.CANCELED and self.canceled_by is not None:
            self.set_term("canceled_by", None)  # a closure withdrawn takes its cause with it
        self.venue_order_ids = list(event.venue_order_ids)
        self.anomalies = list(event.anomalies)
        for trade_id, late in event.late.items():
            self.fills[trade_id].late = late
        if event.updated_at is not None:
            self.updated_at = event.updated_at

    # ----------------------------------------------------------------- what each event assigns

    _APPLIERS: ClassVar[Mapping[type[OrderEvent], Callable[[Any, Any], None]]] = {
        AnomalyRecorded: FillRules._on_anomaly,
        OrderFilled: FillRules._on_filled,
        FillBusted: FillRules._on_busted,
        FillCorrected: FillRules._on_corrected,
        FillDetailsAdded: FillRules._on_fill_details_added,
        OrderDetailsAdded: _on_details_added,
        OrderAccepted: _on_accepted,
        OrderHeld: _on_accepted,
        OrderRejected: _on_rejected,
        OrderCancelRequested: _on_cancel_requested,
        OrderCanceled: _on_canceled,
        OrderReinstated: _on_reinstated,
        OrderMerged: _on_merged,
        OrderCancelRejected: _on_cancel_rejected,
        OrderAmendRequested: _on_amend_requested,
        OrderAmended: _on_amended,
        OrderAmendRejected: _on_amend_rejected,
        OrderExpired: _on_expired,
        OrderTriggered: _on_triggered,
        OrderRestated: _on_restated,
        OrderRequested: _on_requested,
    }
    """Each event class an order folds and the method that assigns its consequences (its
    trades' in ``order_fills``, an anomaly's in ``order_rules``, the rest above)."""


def _shown(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"  # as the message states it
    return format_decimal(value) if isinstance(value, Decimal) else str(value)


FOLDED: tuple[type[OrderEvent], ...] = tuple(Order._APPLIERS)
"""The event types an order folds (each with its applier here): every fact that changes what
the order shows."""
