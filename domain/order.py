"""The ``Order`` aggregate: one per client order ID, rebuilt by replaying its events.

Commands (``accept``, ``fill``, ``request_cancel`` …) decide: they consult the lifecycle table,
check quantities and identities, and return an :class:`Decision` holding at most one new event,
or raise a typed :mod:`domain.errors` error. Each command's applier follows it (registered with
``@applies(event class)``): it only assigns, because it runs again on every replay. What the
order holds, shows and stores is declared in :mod:`domain.order_state`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any

from orderledger.domain.construction import construct
from orderledger.domain.decisions import Decision, Stamp, duplicate, ignored
from orderledger.domain.errors import (
    AmendBelowFilledError,
    ClientOrderIdReuseError,
    ContradictionError,
    FillConflictError,
    IdentityConflictError,
    InvalidInputError,
    InvalidTransitionError,
    OverfillError,
    UnknownTradeError,
)
from orderledger.domain.events import (
    Acknowledgement,
    AnomalyRecorded,
    FillBusted,
    FillCorrected,
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
)
from orderledger.domain.fills import Fill, fee_rank, fee_text
from orderledger.domain.lifecycle import Rule, fact_name, rule_for
from orderledger.domain.order_state import (
    OrderState,
    anomaly_fingerprint,
    applies,
    fingerprint,
    folded,
    raise_fingerprint,
)
from orderledger.domain.outcomes import Outcome
from orderledger.domain.requests import (
    ORDER_NAMESPACE,
    check_positive,
    check_request,
    external_client_order_id,
    order_id_for,
)
from orderledger.domain.values import (
    ENDED,
    EXACT,
    UNACCEPTED,
    Liquidity,
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


class Order(OrderState):
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

    def request_again(self, spec: OrderSpec, stamp: Stamp | None = None) -> Decision:
        """A request for an ID that exists: the same order stated again, completed, or an error.

        The order's identity (account, venue, instrument, side, order type) must match, or the
        ID is being reused. Quantity, price, time in force and post-only must match too when the
        repeat comes from the party that made the request (``stamp.source``); from anyone else (a
        venue report of the order) a different value is recorded as an anomaly with both values,
        never a refusal, and the order keeps its own. Details the request left out (time in
        force, post-only, parent, new tags) are added. Quantity and price may equal the request as first
        made or as amended since.
        """
        check_request(spec)
        same_party = stamp is None or stamp.source == self.request_source
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

    def fill(
        self,
        stamp: Stamp,
        trade_id: str,
        last_qty: Decimal,
        last_px: Decimal,
        fee: Decimal | None = None,
        fee_currency: str | None = None,
        liquidity: Liquidity | None = None,
        inferred: bool = False,
        venue_realized_pnl: Decimal | None = None,
        overfill: bool = False,
    ) -> Decision:
        """Book one execution. A fill is never dropped; a conflicting one is an error.

        ``overfill``: book it even above the order's quantity, because a bust or correction of
        it is waiting to be applied next (the caller checks the quantity after that).

        ``inferred`` marks a fill reconciliation deduced from the venue's cumulative quantity.
        A real fill arriving later replaces inferred quantity instead of adding to it: the
        inferred trade is busted (or corrected down, when only part of it is replaced).
        """
        check_positive(last_qty, "quantity")
        check_positive(last_px, "price")
        existing = self.fills.get(trade_id)
        if existing is not None:
            if existing.busted and existing.was_booked_as(last_qty, last_px):
                return duplicate(f"trade {trade_id!r} was busted")
            if existing.was_booked_as(last_qty, last_px):
                return self._fill_again(stamp, existing, fee, fee_currency, liquidity)
            if existing.busted:
                return duplicate(f"trade {trade_id!r} was busted")
            raise FillConflictError(
                self.client_order_id,
                trade_id,
                f"quantity {format_decimal(existing.qty)} at {format_decimal(existing.px)}, "
                f"not {format_decimal(last_qty)} at {format_decimal(last_px)}",
            )
        rule, _ = self._rule(OrderFilled)
        replaced: list[tuple[Fill, Decimal]] = []  # (inferred fill, quantity the real one takes)
        if not inferred:
            remaining = last_qty
            for candidate in self.fills.values():
                if remaining <= 0:
                    break
                if candidate.inferred and not candidate.busted:
                    take = min(remaining, candidate.qty)
                    replaced.append((candidate, take))
                    remaining = EXACT.subtract(remaining, take)
        released = Decimal(0)
        for _, take in replaced:
            released = EXACT.add(released, take)
        total = EXACT.add(EXACT.subtract(self.filled_quantity, released), last_qty)
        if total > self.quantity and not overfill:
            raise OverfillError(
                self.client_order_id, trade_id, format_decimal(total), format_decimal(self.quantity)
            )
        events: list[OrderEvent] = []
        why = f"replaced by trade {trade_id}"
        for candidate, take in replaced:
            if take == candidate.qty:
                events += self.bust_fill(stamp, candidate.trade_id, why).events
            else:
                rest = EXACT.subtract(candidate.qty, take)
                events += self.correct_fill(stamp, candidate.trade_id, last_qty=rest, reason=why).events
        outcome = self._record(
            OrderFilled,
            stamp,
            trade_id=trade_id,
            last_qty=last_qty,
            last_px=last_px,
            side=self.side,
            fee=fee,
            fee_currency=fee_currency,
            liquidity=liquidity,
            quote_currency=self.quote_currency,
            venue_order_id=self.venue_order_id,
            tags=self.tags,
            parent_id=self.parent_id,
            late=rule is Rule.LATE,
            inferred=inferred,
            venue_realized_pnl=venue_realized_pnl,
        )
        return Decision(Outcome.APPLIED, (*events, *outcome.events))

    @applies(OrderFilled)
    def _on_filled(self, event: OrderFilled) -> None:
        # Late where it stands in the fold: after the order ended (what ``fill`` decides too).
        late = self.base_status in ENDED
        self.fills[event.trade_id] = Fill(
            event.trade_id,
            event.last_qty,
            event.last_px,
            event.fee,
            event.fee_currency,
            event.liquidity,
            event.ts_event,
            late=late,
            inferred=event.inferred,
        )
        self.filled_quantity = EXACT.add(self.filled_quantity, event.last_qty)
        self.notional = EXACT.add(self.notional, EXACT.multiply(event.last_qty, event.last_px))
        if late:
            self._flag("late_fill")
        self._settle_working_status()

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

    def bust_fill(self, stamp: Stamp, trade_id: str, reason: str | None = None) -> Decision:
        """The venue reversed a trade: undo it in quantities, trades and P&L."""
        fill = self._trade(trade_id)
        if fill.busted:
            return duplicate(f"trade {trade_id!r} is already busted")
        return self._record(
            FillBusted,
            stamp,
            trade_id=trade_id,
            side=self.side,
            last_qty=fill.qty,
            last_px=fill.px,
            fee=fill.fee,
            fee_currency=fill.fee_currency,
            quote_currency=self.quote_currency,
            tags=self.tags,
            parent_id=self.parent_id,
            fill_ts_event=fill.ts_event,
            reason=reason,
        )

    @applies(FillBusted)
    def _on_busted(self, event: FillBusted) -> None:
        fill = self.fills.get(event.trade_id)
        if fill is None or fill.busted:
            return  # a fold cut by venue time can hold a bust whose trade comes later
        fill.busted = True
        self.filled_quantity = EXACT.subtract(self.filled_quantity, fill.qty)
        self.notional = EXACT.subtract(self.notional, EXACT.multiply(fill.qty, fill.px))
        self._reopen_or_settle()

    def correct_fill(
        self,
        stamp: Stamp,
        trade_id: str,
        last_qty: Decimal | None = None,
        last_px: Decimal | None = None,
        fee: Decimal | None = None,
        reason: str | None = None,
    ) -> Decision:
        """The venue corrected a trade's quantity, price and/or fee."""
        if (again := self._again(FillCorrected, stamp, trade_id)) is not None:
            return again
        fill = self._trade(trade_id)
        if fill.busted:
            raise UnknownTradeError(self.client_order_id, trade_id, why="cannot correct busted trade")
        new_qty = fill.qty if last_qty is None else last_qty
        new_px = fill.px if last_px is None else last_px
        new_fee = fill.fee if fee is None else fee
        check_positive(new_qty, "quantity")
        check_positive(new_px, "price")
        if (new_qty, new_px, new_fee) == (fill.qty, fill.px, fill.fee):
            return duplicate(f"trade {trade_id!r} already has these values")
        return self._correct(stamp, fill, new_qty, new_px, new_fee, fill.fee_currency, reason)

    @applies(FillCorrected)
    def _on_corrected(self, event: FillCorrected) -> None:
        fill = self.fills.get(event.trade_id)
        if fill is None:
            return
        if fill.first_qty is None:
            fill.first_qty, fill.first_px = fill.qty, fill.px
        self.filled_quantity = EXACT.add(self.filled_quantity, EXACT.subtract(event.last_qty, fill.qty))
        self.notional = EXACT.add(
            self.notional,
            EXACT.subtract(EXACT.multiply(event.last_qty, event.last_px), EXACT.multiply(fill.qty, fill.px)),
        )
        fill.qty, fill.px, fill.fee = event.last_qty, event.last_px, event.fee
        fill.fee_currency = event.fee_currency
        if event.liquidity is not None:
            fill.liquidity = event.liquidity
        self._reopen_or_settle()

    def _correct(
        self,
        stamp: Stamp,
        fill: Fill,
        new_qty: Decimal,
        new_px: Decimal,
        new_fee: Decimal | None,
        new_fee_currency: str | None,
        reason: str | None,
        liquidity: Liquidity | None = None,
    ) -> Decision:
        trade_id = fill.trade_id
        total = EXACT.add(EXACT.subtract(self.filled_quantity, fill.qty), new_qty)
        if total > self.quantity:
            raise OverfillError(
                self.client_order_id, trade_id, format_decimal(total), format_decimal(self.quantity)
            )
        return self._record(
            FillCorrected,
            stamp,
            trade_id=trade_id,
            side=self.side,
            previous_qty=fill.qty,
            previous_px=fill.px,
            previous_fee=fill.fee,
            last_qty=new_qty,
            last_px=new_px,
            fee=new_fee,
            previous_fee_currency=fill.fee_currency,
            fee_currency=new_fee_currency,
            quote_currency=self.quote_currency,
            tags=self.tags,
            parent_id=self.parent_id,
            fill_ts_event=fill.ts_event,
            reason=reason,
            liquidity=liquidity,
        )

    def _fill_again(
        self,
        stamp: Stamp,
        fill: Fill,
        fee: Decimal | None,
        fee_currency: str | None,
        liquidity: Liquidity | None = None,
    ) -> Decision:
        """Another copy of a booked trade (a REST poll repeating the stream, say).

        A copy that adds the fee the first lacked completes the trade; one whose fee differs is
        an anomaly with both values, and the larger fee (by size) is booked whichever copy came
        first, so fees never depend on arrival order. A copy that states the liquidity (maker or
        taker) the first left out completes it the same way.
        """
        trade = fill.trade_id
        adds = liquidity if fill.liquidity is None else None
        if fee is None or (fee, fee_currency) == (fill.fee, fill.fee_currency):
            if adds is not None:
                why = "liquidity completed by another report of this trade"
                return self._correct(stamp, fill, fill.qty, fill.px, fill.fee, fill.fee_currency, why, adds)
            return duplicate(f"trade {trade!r} is already booked")
        if fill.fee is None:
            why = "fee completed by another report of this trade"
            return self._correct(stamp, fill, fill.qty, fill.px, fee, fee_currency, why, adds)
        events = self._anomaly(
            stamp,
            "fee_conflict",
            "fee",
            fee_text(fill.fee, fill.fee_currency),
            fee_text(fee, fee_currency),
            trade_id=trade,
        )
        if fee_rank(fee, fee_currency) > fee_rank(fill.fee, fill.fee_currency):
            why = "another report of this trade states a larger fee"
            events += self._correct(stamp, fill, fill.qty, fill.px, fee, fee_currency, why).events
        if not events:
            return duplicate(f"trade {trade!r} is already booked; its fee conflict is already recorded")
        return Decision(Outcome.APPLIED, tuple(events))

    def _anomaly(
        self,
        stamp: Stamp,
        anomaly: str,
        name: str,
        recorded: str | None,
        reported: str | None,
        trade_id: str | None = None,
    ) -> list[OrderEvent]:
        """Record a disagreement once (whichever of the two values came first)."""
        if anomaly_fingerprint(anomaly, trade_id, recorded, reported) in self.seen:
            return []
        return list(
            self._record(
                AnomalyRecorded,
                stamp,
                anomaly=anomaly,
                field=name,
                recorded=recorded,
                reported=reported,
                trade_id=trade_id,
            ).events
        )

    @applies(AnomalyRecorded)
    def _on_anomaly(self, event: AnomalyRecorded) -> None:
        self._flag(event.anomaly)
        self.seen.add(anomaly_fingerprint(event.anomaly, event.trade_id, event.recorded, event.reported))

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

    def check_quantity(self, trade_id: str, order: Order | None = None) -> None:
        """Refuse what leaves the order (or ``order``, a fold of it) filled above its quantity."""
        order = self if order is None else order
        if order.filled_quantity > order.quantity:
            raise OverfillError(
                self.client_order_id,
                trade_id,
                format_decimal(order.filled_quantity),
                format_decimal(order.quantity),
            )

    # ----------------------------------------------------------------- helpers for commands

    def _rule(self, fact: type[OrderEvent], status: Status | None = None) -> tuple[Rule, str]:
        rule, why = rule_for(self.status if status is None else status, fact)
        if rule is Rule.REFUSE:
            raise InvalidTransitionError(self.client_order_id, fact_name(fact), self.status.value, why)
        return rule, why

    def _again(self, event_class: type[OrderEvent], stamp: Stamp, trade_id: str = "") -> Decision | None:
        """A duplicate outcome if this very fact (type, venue time, trade) is already recorded."""
        if fingerprint(event_class.__name__, stamp.ts_event, trade_id) in self.seen:
            return duplicate(f"this {event_class.__name__} was already recorded")
        return None

    def _check(self, fact: type[OrderEvent]) -> None:
        self._rule(fact)

    def _early(self, fact: type[OrderEvent], status: Status | None = None) -> Decision | None:
        """The outcome for facts the table settles without an event (duplicate, ignore)."""
        rule, why = rule_for(self.status if status is None else status, fact)
        if rule is Rule.DUPLICATE:
            return duplicate(why)
        if rule is Rule.IGNORE:
            return ignored(why)
        return None

    def _new_aliases(self, aliases: Mapping[str, str]) -> dict[str, str]:
        new: dict[str, str] = {}
        for name, value in aliases.items():
            recorded = self.aliases.get(name)
            if recorded is None:
                new[name] = value
            elif recorded != value:
                raise IdentityConflictError(
                    f"order {self.client_order_id!r} has alias {name}={recorded!r}, not {value!r}",
                    client_order_id=self.client_order_id,
                )
        return new

    def _check_amend_values(self, quantity: Decimal | None, price: Decimal | None) -> None:
        if price is not None:
            check_positive(price, "price")
        if quantity is not None:
            check_positive(quantity, "quantity")
            if quantity < self.filled_quantity:
                raise AmendBelowFilledError(
                    self.client_order_id,
                    format_decimal(quantity),
                    format_decimal(self.filled_quantity),
                )

    def _trade(self, trade_id: str) -> Fill:
        fill = self.fills.get(trade_id)
        if fill is None:
            raise UnknownTradeError(self.client_order_id, trade_id)
        return fill

    def _record(self, event_class: type[OrderEvent], stamp: Stamp, **fields: Any) -> Decision:
        # Every value here was validated on the way in (the request, the command's checks), so
        # the event is constructed without validating each field again: this is the hot path.
        # The header, assigned key by key (update() with keywords builds a dict to copy from).
        fields["originator_id"] = self.id
        fields["originator_version"] = self.version + 1
        fields["ts_recorded"] = stamp.ts_recorded
        fields["ts_event"] = stamp.ts_event
        fields["source"] = stamp.source
        fields["client_order_id"] = self.client_order_id
        fields["account"] = self.account
        fields["venue"] = self.venue
        fields["instrument"] = self.instrument
        event = construct(event_class, fields)
        self.apply(event)
        self._pending_events.append(event)
        return Decision(Outcome.APPLIED, (event,))


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
