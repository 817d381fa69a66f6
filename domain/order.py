"""The ``Order`` aggregate: one per client order ID, rebuilt by replaying its events.

Commands (``accept``, ``fill``, ``request_cancel`` …) decide: they consult the lifecycle table,
check quantities and identities, and return an :class:`Decision` holding at most one new event,
or raise a typed :mod:`domain.errors` error. Each command's applier follows it (registered with
``@applies(event class)``): it only assigns, because it runs again on every replay. What the
order holds, shows and stores is declared in :mod:`domain.order_state`.

This module holds the order's creation and its lifecycle (acknowledgement, cancels, amendments,
expiry, merging, restatement in venue time); its trades' commands (fill, bust, correction) are
in :mod:`domain.order_fills`, and what every command uses in :mod:`domain.order_rules`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any

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
    OrderHeld,
    OrderMerged,
    OrderReinstated,
    OrderRejected,
    OrderRequested,
    OrderRestated,
    OrderSpec,
)
from orderledger.domain.fills import Fill
from orderledger.domain.lifecycle import Rule
from orderledger.domain.order_fills import FillRules
from orderledger.domain.order_state import (
    applies,
    folded,
    raise_fingerprint,
)
from orderledger.domain.outcomes import Outcome
from orderledger.domain.requests import (
    ORDER_NAMESPACE,
    check_request,
    external_client_order_id,
    order_id_for,
)
from orderledger.domain.values import (
    UNACCEPTED,
    OrderType,
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

        The order's identity (account, venue, instrument, side, order type) must match, or the
        ID is being reused. Quantity, price, time in force and post-only must match too when the
        repeat comes from the party that made the request (``stamp.source``); from anyone else (a
        venue report of the order) a different value is recorded as an anomaly with both values,
        never a refusal, and the order keeps its own. Details the request left out (time in
        force, post-only, parent, new tags) are added. Quantity and price may equal the request as first
        made or as amended since. ``reported``: the request names the order by another of its
        names (one of its aliases): a venue's report of the order, whatever its source.
        """
        check_request(spec)
        same_party = not reported and (stamp is None or stamp.source == self.request_source)
        if not same_party:
            self.check_stated(*stated_facts(spec))  # a venue's report of the order
        differences = [name for name in OrderSpec.IDENTITY if getattr(spec, name) != getattr(self, name)]
        stated: dict[str, tuple[Any, ...]] = {
            "quantity": (self.requested_quantity, self.quantity),
            "time_in_force": (self.time_in_force,),
            "post_only": (self.post_only,),
        }
        if self.order_type is OrderType.LIMIT:  # a market order's reported price is its average
            stated["price"] = (self.requested_price, self.price)
        mismatches = [
            (name, ours[-1], getattr(spec, name))
            for name, ours in stated.items()
            if getattr(spec, name) is not None and ours[-1] is not None and getattr(spec, name) not in ours
        ]
        if differences or (mismatches and same_party):
            values = {name: (str(getattr(self, name)), str(getattr(spec, name))) for name in differences}
            raise ClientOrderIdReuseError(
                self.client_order_id, differences + [m[0] for m in mismatches], values
            )
        added: dict[str, Any] = {}
        if self.time_in_force is None and spec.time_in_force is not None:
            added["time_in_force"] = spec.time_in_force
        if self.parent_id is None and spec.parent_id is not None:
            added["parent_id"] = spec.parent_id
        if self.post_only is None and spec.post_only is not None:
            added["post_only"] = spec.post_only
        if self.external and not spec.external:
            added["external"] = False  # our own request of an order the venue reported first
        new_tags = {k: v for k, v in spec.tags.items() if k not in self.tags}
        if new_tags:
            added["tags"] = new_tags
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

    @applies(OrderDetailsAdded)
    def _on_details_added(self, event: OrderDetailsAdded) -> None:
        if event.time_in_force is not None:
            self.time_in_force = event.time_in_force
        if event.parent_id is not None:
            self.parent_id = event.parent_id
        self.tags.update(event.tags)
        self.aliases.update(event.aliases)
        if event.created_at is not None and event.created_at < self.created_at:
            self.created_at = event.created_at
        if event.post_only is not None and self.post_only is None:
            self.post_only = event.post_only
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

    @applies(OrderAccepted, OrderHeld)
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

    @applies(OrderRejected)
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

    @applies(OrderCancelRequested)
    def _on_cancel_requested(self, event: OrderCancelRequested) -> None:
        if self.base_status.is_open:  # after the order ended: a request that lost the race
            self.pending_cancel = True

    def cancel(self, stamp: Stamp, reason: str | None = None) -> Decision:
        """The venue canceled the order."""
        self._check(OrderCanceled)
        if (early := self._early(OrderCanceled)) is not None:
            return early
        return self._record(OrderCanceled, stamp, reason=reason)

    @applies(OrderCanceled)
    def _on_canceled(self, event: OrderCanceled) -> None:
        if self.base_status.is_terminal:
            return  # filled outranks canceled; an ended order stays as it ended
        self.base_status = Status.CANCELED
        self.reason = event.reason
        self._clear_pending()

    def reinstate(self, stamp: Stamp, canceled_at: datetime, reason: str | None = None) -> Decision:
        """Withdraw the closure at ``canceled_at`` (venue time): the caller decides it against
        the order as its facts up to then leave it, and restates the order as its other facts
        make it (``domain.folds.counted``)."""
        self._check(OrderReinstated)
        if (early := self._early(OrderReinstated)) is not None:
            return early
        return self._record(OrderReinstated, stamp, canceled_at=canceled_at, reason=reason)

    @applies(OrderReinstated)
    def _on_reinstated(self, event: OrderReinstated) -> None:
        pass  # what the order is without the closure is stated by the OrderRestated that follows

    def merge_into(self, stamp: Stamp, into: str) -> Decision:
        """Record that this external order is our order ``into`` (``OrderMerged``); the caller
        busts its fills first and books them on ``into``."""
        if self.merged_into is not None:
            return duplicate(f"already merged into order {self.merged_into!r}")
        return self._record(OrderMerged, stamp, into=into)

    @applies(OrderMerged)
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

    @applies(OrderCancelRejected)
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

    @applies(OrderAmendRequested)
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

    @applies(OrderAmended)
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

    @applies(OrderAmendRejected)
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

    @applies(OrderExpired)
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

    @applies(OrderRestated)
    def _on_restated(self, event: OrderRestated) -> None:
        self.base_status = event.base_status
        self.pending_cancel, self.pending_amend = event.pending_cancel, event.pending_amend
        target = event.amend_target
        self.amend_target = None if target is None else (target[0], target[1])
        self.quantity, self.price, self.reason = event.quantity, event.price, event.reason
        self.venue_order_ids = list(event.venue_order_ids)
        self.anomalies = list(event.anomalies)
        for trade_id, late in event.late.items():
            self.fills[trade_id].late = late
        if event.updated_at is not None:
            self.updated_at = event.updated_at


def _shown(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"  # as the message states it
    return format_decimal(value) if isinstance(value, Decimal) else str(value)


@applies(OrderRequested)
def _on_requested(order: Order, event: OrderRequested) -> None:  # pragma: no cover - creation
    raise InvalidTransitionError(order.client_order_id, "request", order.status.value, "already exists")


FOLDED: tuple[type[OrderEvent], ...] = folded()
"""The event types an order folds (each with its applier here): every fact that changes what
the order shows."""
