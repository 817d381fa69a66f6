"""The ``Order`` aggregate: one per client order ID, rebuilt by replaying its events.

Commands (``accept``, ``fill``, ``request_cancel`` …) decide: they consult the lifecycle table,
check quantities and identities, and return an :class:`Decision` holding at most one new event,
or raise a typed :mod:`domain.errors` error. ``apply`` records: it only assigns, because it runs
again on every replay.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from operator import attrgetter
from typing import Any, NamedTuple
from uuid import UUID, uuid5

from orderledger.domain import events as _events
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
    OrderRejected,
    OrderRequested,
    OrderSpec,
)
from orderledger.domain.lifecycle import Rule, fact_name, rule_for
from orderledger.domain.outcomes import Outcome
from orderledger.domain.values import (
    AVERAGE,
    EXACT,
    Liquidity,
    OrderType,
    Side,
    Status,
    format_decimal,
    format_timestamp,
    parse_positive,
    parse_timestamp,
    quote_currency_of,
)

ORDER_NAMESPACE = UUID("6f1d3a52-6a4e-4d0e-9a3c-0b7c2a51e0d1")


@lru_cache(maxsize=65_536)
def order_id_for(client_order_id: str) -> UUID:
    """The aggregate ID of an order: a UUID5 of its client order ID, stable forever (cached: a
    batch names each order several times, and uuid5 hashes)."""
    return uuid5(ORDER_NAMESPACE, client_order_id)


def external_client_order_id(venue: str, venue_order_id: str) -> str:
    """The key of an order the venue reports without a client order ID (placed elsewhere)."""
    return f"ext-{venue}-{venue_order_id}"


class Decision(NamedTuple):
    """What a command decided: its outcome (``applied``, ``duplicate`` or ``ignored`` of the
    ledger's one vocabulary, :class:`domain.outcomes.Outcome`; ingest adds ``parked`` and
    ``rejected``), the new events, or why there are none.

    A named tuple, like :class:`Stamp`: immutable, and made per message at a fraction of a
    frozen dataclass's cost (which sets each field through ``object.__setattr__``)."""

    kind: Outcome
    events: tuple[OrderEvent, ...] = ()
    reason: str = ""


def _duplicate(reason: str) -> Decision:
    return Decision(Outcome.DUPLICATE, (), reason)


def _ignored(reason: str) -> Decision:
    return Decision(Outcome.IGNORED, (), reason)


class Stamp(NamedTuple):
    """When a fact happened at the venue, when the ledger recorded it, and who said so."""

    ts_event: datetime
    ts_recorded: datetime
    source: str


SPEC_FIELDS = tuple(OrderSpec.model_fields)
"""What a request states: ``OrderRequested`` carries each of them, under the same name."""
spec_values = attrgetter(*SPEC_FIELDS)
"""The values of SPEC_FIELDS, in order, read from a spec or a message (in one call)."""
FACTS = ("account", "instrument", "side")
"""What an order is, as any report of it may state: a report stating another value is not a
report of this order as it is (:meth:`Order.check_stated`), whatever else it says."""
stated_facts = attrgetter(*FACTS)


@dataclass(slots=True)
class Fill:
    """One execution as it stands after busts and corrections."""

    trade_id: str
    qty: Decimal
    px: Decimal
    fee: Decimal | None
    fee_currency: str | None
    liquidity: Liquidity | None
    ts_event: datetime
    late: bool = False
    busted: bool = False
    inferred: bool = False  # deduced by reconciliation; replaced by real fills as they arrive
    first_qty: Decimal | None = None  # as first booked, before any correction
    first_px: Decimal | None = None

    def was_booked_as(self, qty: Decimal, px: Decimal) -> bool:
        """True if this trade is, or was before a correction, ``qty`` at ``px``."""
        return (self.qty, self.px) == (qty, px) or (self.first_qty, self.first_px) == (qty, px)


def _working_status(filled: Decimal, quantity: Decimal) -> Status:
    if filled >= quantity:
        return Status.FILLED
    return Status.PARTIALLY_FILLED if filled > 0 else Status.ACCEPTED


class Order:
    """An order's current state, derived only from its events."""

    __slots__ = (
        "_pending_events",
        "account",
        "aliases",
        "amend_target",
        "anomalies",
        "seen",
        "base_status",
        "client_order_id",
        "created_at",
        "external",
        "filled_quantity",
        "fills",
        "id",
        "instrument",
        "notional",
        "order_type",
        "parent_id",
        "pending_amend",
        "pending_cancel",
        "price",
        "quantity",
        "requested_quantity",
        "requested_price",
        "quote_currency",
        "reason",
        "recorded_at",
        "request_source",
        "side",
        "tags",
        "time_in_force",
        "updated_at",
        "venue",
        "venue_order_ids",
        "version",
    )

    def __init__(self, event: OrderRequested) -> None:
        self.id: UUID = event.originator_id
        self.version: int = 0
        self.client_order_id = event.client_order_id
        self.account = event.account
        self.venue = event.venue
        self.instrument = event.instrument
        self.side: Side = event.side
        self.order_type: OrderType = event.order_type
        self.quantity: Decimal = event.quantity
        self.price: Decimal | None = event.price
        self.requested_quantity: Decimal = event.quantity
        self.requested_price: Decimal | None = event.price
        self.time_in_force = event.time_in_force
        self.quote_currency = event.quote_currency
        self.tags: dict[str, str] = dict(event.tags)
        self.parent_id = event.parent_id
        self.external = event.external
        self.request_source = event.source  # who stated the request: a repeat by another is a report
        self.base_status = Status.REQUESTED
        self.pending_cancel = False
        self.pending_amend = False
        self.amend_target: tuple[Decimal | None, Decimal | None] | None = None
        self.venue_order_ids: list[str] = []
        if event.venue_order_id:
            self.venue_order_ids.append(event.venue_order_id)
        self.aliases: dict[str, str] = dict(event.aliases)
        self.fills: dict[str, Fill] = {}
        self.filled_quantity = _ZERO
        self.notional = _ZERO
        self.anomalies: list[str] = []
        # Fingerprints of facts that carry no ID of their own (see _FINGERPRINTED).
        self.seen: set[str] = set()
        self.reason: str | None = None
        self.created_at: datetime = event.ts_event
        self.updated_at: datetime = event.ts_event
        self.recorded_at: datetime = event.ts_recorded
        self._pending_events: list[OrderEvent] = []

    # ----------------------------------------------------------------- derived state

    @property
    def status(self) -> Status:
        """The status shown to users: a pending marker overlays the working status."""
        if self.pending_cancel:
            return Status.PENDING_CANCEL
        if self.pending_amend:
            return Status.PENDING_AMEND
        return self.base_status

    @property
    def leaves_quantity(self) -> Decimal:
        """What can still fill: zero once the order is terminal."""
        if self.status.is_terminal:
            return _ZERO
        return max(EXACT.subtract(self.quantity, self.filled_quantity), _ZERO)

    @property
    def average_price(self) -> Decimal | None:
        """Quantity-weighted average fill price, or None before any fill."""
        if not self.filled_quantity:
            return None
        return AVERAGE.divide(self.notional, self.filled_quantity)

    @property
    def venue_order_id(self) -> str | None:
        """The latest venue order ID (amendments may assign new ones)."""
        return self.venue_order_ids[-1] if self.venue_order_ids else None

    def snapshot(self) -> dict[str, Any]:
        """The order's state as JSON-ready data (decimals and times as strings)."""
        average = self.average_price
        return {
            "client_order_id": self.client_order_id,
            "account": self.account,
            "venue": self.venue,
            "instrument": self.instrument,
            "side": self.side.value,
            "order_type": self.order_type.value,
            "quantity": format_decimal(self.quantity),
            "price": None if self.price is None else format_decimal(self.price),
            "time_in_force": self.time_in_force,
            "status": self.status.value,
            "filled_quantity": format_decimal(self.filled_quantity),
            "leaves_quantity": format_decimal(self.leaves_quantity),
            "average_price": None if average is None else format_decimal(average.normalize(AVERAGE)),
            "venue_order_ids": list(self.venue_order_ids),
            "aliases": dict(self.aliases),
            "anomalies": list(self.anomalies),
            "tags": dict(self.tags),
            "parent_id": self.parent_id,
            "quote_currency": self.quote_currency,
            "external": self.external,
            "reason": self.reason,
            "created_at": format_timestamp(self.created_at),
            "updated_at": format_timestamp(self.updated_at),
            "version": self.version,
        }

    def to_state(self) -> dict[str, Any]:
        """Everything needed to restore this order without its events (JSON-ready)."""
        state = {name: getattr(self, name) for name in _PLAIN_STATE}
        state["id"] = str(self.id)
        state["side"] = self.side.value
        state["order_type"] = self.order_type.value
        state["base_status"] = self.base_status.value
        state["quantity"] = format_decimal(self.quantity)
        state["requested_quantity"] = format_decimal(self.requested_quantity)
        state["requested_price"] = _opt_str(self.requested_price)
        state["price"] = _opt_str(self.price)
        state["amend_target"] = (
            None if self.amend_target is None else [_opt_str(v) for v in self.amend_target]
        )
        state["filled_quantity"] = format_decimal(self.filled_quantity)
        state["notional"] = format_decimal(self.notional)
        state["created_at"] = format_timestamp(self.created_at)
        state["updated_at"] = format_timestamp(self.updated_at)
        state["recorded_at"] = format_timestamp(self.recorded_at)
        state["seen"] = sorted(self.seen)
        state["request_source"] = self.request_source
        state["fills"] = [
            [
                f.trade_id,
                format_decimal(f.qty),
                format_decimal(f.px),
                _opt_str(f.fee),
                f.fee_currency,
                None if f.liquidity is None else f.liquidity.value,
                format_timestamp(f.ts_event),
                f.late,
                f.busted,
                _opt_str(f.first_qty),
                _opt_str(f.first_px),
                f.inferred,
            ]
            for f in self.fills.values()
        ]
        return state

    @classmethod
    def from_state(cls, state: Mapping[str, Any], *, with_fills: bool = True) -> Order:
        """Restore an order saved with :meth:`to_state`.

        ``with_fills=False`` skips the trades, for read-only uses such as :meth:`snapshot`,
        which does not need them: listing thousands of orders then costs far less.
        """
        order = cls.__new__(cls)
        for name in _PLAIN_STATE:
            setattr(order, name, state[name])
        order.tags = dict(state["tags"])
        order.aliases = dict(state["aliases"])
        order.venue_order_ids = list(state["venue_order_ids"])
        order.anomalies = list(state["anomalies"])
        order.seen = set(state.get("seen", ()))
        order.request_source = state.get("request_source", "")
        order.id = UUID(state["id"])
        order.side = Side(state["side"])
        order.order_type = OrderType(state["order_type"])
        order.base_status = Status(state["base_status"])
        order.quantity = Decimal(state["quantity"])
        order.requested_quantity = Decimal(state["requested_quantity"])
        order.requested_price = _opt_decimal(state["requested_price"])
        order.price = _opt_decimal(state["price"])
        target = state["amend_target"]
        order.amend_target = None if target is None else (_opt_decimal(target[0]), _opt_decimal(target[1]))
        order.filled_quantity = Decimal(state["filled_quantity"])
        order.notional = Decimal(state["notional"])
        order.created_at = parse_timestamp(state["created_at"])
        order.updated_at = parse_timestamp(state["updated_at"])
        order.recorded_at = parse_timestamp(state["recorded_at"])
        order.fills = (
            {}
            if not with_fills
            else {
                f[0]: Fill(
                    f[0],
                    Decimal(f[1]),
                    Decimal(f[2]),
                    _opt_decimal(f[3]),
                    f[4],
                    None if f[5] is None else Liquidity(f[5]),
                    parse_timestamp(f[6]),
                    late=f[7],
                    busted=f[8],
                    first_qty=_opt_decimal(f[9]),
                    first_px=_opt_decimal(f[10]),
                    inferred=bool(f[11]) if len(f) > 11 else False,
                )
                for f in state["fills"]
            }
        )
        order._pending_events = []
        return order

    # ----------------------------------------------------------------- creation

    @classmethod
    def request(cls, spec: OrderSpec, stamp: Stamp) -> tuple[Order, Decision]:
        """Create an order from its request (intent recorded before it is sent)."""
        _check_request(spec)
        stated = dict(zip(SPEC_FIELDS, spec_values(spec), strict=True))
        stated["originator_id"] = order_id_for(spec.client_order_id)
        stated["originator_version"] = 1
        stated["ts_recorded"] = stamp.ts_recorded
        stated["ts_event"] = stamp.ts_event
        stated["source"] = stamp.source
        stated["quote_currency"] = spec.quote_currency or quote_currency_of(spec.instrument)
        stated["tags"] = dict(spec.tags)
        stated["aliases"] = dict(spec.aliases)
        event = _events.new_event(OrderRequested, stated)  # its values are checked: no validation again
        order = cls(event)
        order.version = 1
        order._pending_events.append(event)
        return order, Decision(Outcome.APPLIED, (event,))

    def request_again(self, spec: OrderSpec, stamp: Stamp | None = None) -> Decision:
        """A request for an ID that exists: the same order stated again, completed, or an error.

        The order's identity (account, venue, instrument, side, order type) must match, or the
        ID is being reused. Quantity, price and time in force must match too when the repeat
        comes from the party that made the request (``stamp.source``); from anyone else (a venue
        report of the order) a different value is recorded as an anomaly with both values,
        never a refusal, and the order keeps its own. Details the request left out (time in
        force, parent, new tags) are added. Quantity and price may equal the request as first
        made or as amended since.
        """
        _check_request(spec)
        same_party = stamp is None or stamp.source == self.request_source
        if not same_party:
            self.check_stated(*stated_facts(spec))  # a venue's report of the order
        differences = [name for name in OrderSpec.IDENTITY if getattr(spec, name) != getattr(self, name)]
        stated: dict[str, tuple[Any, ...]] = {
            "quantity": (self.requested_quantity, self.quantity),
            "time_in_force": (self.time_in_force,),
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
        new_tags = {k: v for k, v in spec.tags.items() if k not in self.tags}
        if new_tags:
            added["tags"] = new_tags
        if stamp is None or (not added and not mismatches):
            return _duplicate("the order was already requested")
        events: list[OrderEvent] = []
        if added:
            events += self._record(OrderDetailsAdded, stamp, **added).events
        for name, ours, theirs in mismatches:
            events += self._anomaly(stamp, f"{name}_mismatch", name, _shown(ours), _shown(theirs))
        if not events:
            return _duplicate("the order was already requested; its differences are already recorded")
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
            return _duplicate("the order already has these aliases")
        return self._record(OrderDetailsAdded, stamp, aliases=new)

    # ----------------------------------------------------------------- commands

    def accept(
        self,
        stamp: Stamp,
        venue_order_id: str | None = None,
        aliases: Mapping[str, str] | None = None,
    ) -> Decision:
        """The venue acknowledged the order."""
        # Ack and reject answer the request, not a cancel or amend we sent before the ack.
        rule, _why = self._rule(OrderAccepted, self.base_status)
        new_aliases = self._new_aliases(aliases or {})
        known = venue_order_id is None or venue_order_id in self.venue_order_ids
        if not known and self.venue_order_ids and rule is Rule.ACK_LATE:
            raise IdentityConflictError(
                f"order {self.client_order_id!r} was acknowledged as venue order "
                f"{self.venue_order_id!r}, not {venue_order_id!r}",
                client_order_id=self.client_order_id,
            )
        if rule is Rule.ACK_LATE and known and not new_aliases:
            return _duplicate("the order was already acknowledged")
        return self._record(
            OrderAccepted,
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
            return _duplicate("the order already has this venue order ID")
        events = list(self._record(OrderAccepted, stamp, venue_order_id=venue_order_id, aliases={}).events)
        recorded = self.venue_order_ids[-2] if len(self.venue_order_ids) > 1 else None
        events += self._anomaly(stamp, "venue_order_id_changed", "venue_order_id", recorded, venue_order_id)
        return Decision(Outcome.APPLIED, tuple(events))

    def reject(self, stamp: Stamp, reason: str | None = None) -> Decision:
        """The venue refused the order."""
        self._rule(OrderRejected, self.base_status)
        if (early := self._early(OrderRejected, self.base_status)) is not None:
            return early
        return self._record(OrderRejected, stamp, reason=reason)

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
    ) -> Decision:
        """Book one execution. A fill is never dropped; a conflicting one is an error.

        ``inferred`` marks a fill reconciliation deduced from the venue's cumulative quantity.
        A real fill arriving later replaces inferred quantity instead of adding to it: the
        inferred trade is busted (or corrected down, when only part of it is replaced).
        """
        _positive(last_qty, "quantity")
        _positive(last_px, "price")
        existing = self.fills.get(trade_id)
        if existing is not None:
            if existing.busted and existing.was_booked_as(last_qty, last_px):
                return _duplicate(f"trade {trade_id!r} was busted")
            if existing.was_booked_as(last_qty, last_px):
                return self._fill_again(stamp, existing, fee, fee_currency)
            if existing.busted:
                return _duplicate(f"trade {trade_id!r} was busted")
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
        if total > self.quantity:
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

    def request_cancel(self, stamp: Stamp) -> Decision:
        """We ask the venue to cancel."""
        if (again := self._again(OrderCancelRequested, stamp)) is not None:
            return again
        self._check(OrderCancelRequested)
        if (early := self._early(OrderCancelRequested)) is not None:
            return early
        return self._record(OrderCancelRequested, stamp)

    def cancel(self, stamp: Stamp, reason: str | None = None) -> Decision:
        """The venue canceled the order."""
        self._check(OrderCanceled)
        if (early := self._early(OrderCanceled)) is not None:
            return early
        return self._record(OrderCanceled, stamp, reason=reason)

    def reject_cancel(self, stamp: Stamp, reason: str | None = None) -> Decision:
        """The venue refused our cancel."""
        if (again := self._again(OrderCancelRejected, stamp)) is not None:
            return again
        self._check(OrderCancelRejected)
        if (early := self._early(OrderCancelRejected)) is not None:
            return early
        return self._record(OrderCancelRejected, stamp, reason=reason)

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
            if _raise_fingerprint(stamp.ts_event, quantity) in self.seen:
                return _duplicate("this OrderAmended was already recorded")
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
            return _duplicate("the order already has this quantity, price and venue order ID")
        return self._record(OrderAmended, stamp, quantity=quantity, price=price, venue_order_id=new_id)

    def reject_amend(self, stamp: Stamp, reason: str | None = None) -> Decision:
        """The venue refused our amendment."""
        if (again := self._again(OrderAmendRejected, stamp)) is not None:
            return again
        self._check(OrderAmendRejected)
        # A cancel requested after the amend hides pending_amend in the status; it still waits.
        if not self.pending_amend and (early := self._early(OrderAmendRejected)) is not None:
            return early
        return self._record(OrderAmendRejected, stamp, reason=reason)

    def expire(self, stamp: Stamp, reason: str | None = None) -> Decision:
        """The order's time in force ran out."""
        self._check(OrderExpired)
        if (early := self._early(OrderExpired)) is not None:
            return early
        return self._record(OrderExpired, stamp, reason=reason)

    def bust_fill(self, stamp: Stamp, trade_id: str, reason: str | None = None) -> Decision:
        """The venue reversed a trade: undo it in quantities, trades and P&L."""
        fill = self._trade(trade_id)
        if fill.busted:
            return _duplicate(f"trade {trade_id!r} is already busted")
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
        _positive(new_qty, "quantity")
        _positive(new_px, "price")
        if (new_qty, new_px, new_fee) == (fill.qty, fill.px, fill.fee):
            return _duplicate(f"trade {trade_id!r} already has these values")
        return self._correct(stamp, fill, new_qty, new_px, new_fee, fill.fee_currency, reason)

    def _correct(
        self,
        stamp: Stamp,
        fill: Fill,
        new_qty: Decimal,
        new_px: Decimal,
        new_fee: Decimal | None,
        new_fee_currency: str | None,
        reason: str | None,
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
        )

    def _fill_again(
        self, stamp: Stamp, fill: Fill, fee: Decimal | None, fee_currency: str | None
    ) -> Decision:
        """Another copy of a booked trade (a REST poll repeating the stream, say).

        A copy that adds the fee the first lacked completes the trade; one whose fee differs is
        an anomaly with both values, and the larger fee (by size) is booked whichever copy came
        first, so fees never depend on arrival order.
        """
        trade = fill.trade_id
        if fee is None or (fee, fee_currency) == (fill.fee, fill.fee_currency):
            return _duplicate(f"trade {trade!r} is already booked")
        if fill.fee is None:
            why = "fee completed by another report of this trade"
            return self._correct(stamp, fill, fill.qty, fill.px, fee, fee_currency, why)
        events = self._anomaly(
            stamp,
            "fee_conflict",
            "fee",
            _fee_text(fill.fee, fill.fee_currency),
            _fee_text(fee, fee_currency),
            trade_id=trade,
        )
        if _fee_rank(fee, fee_currency) > _fee_rank(fill.fee, fill.fee_currency):
            why = "another report of this trade states a larger fee"
            events += self._correct(stamp, fill, fill.qty, fill.px, fee, fee_currency, why).events
        if not events:
            return _duplicate(f"trade {trade!r} is already booked; its fee conflict is already recorded")
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
        if _anomaly_fingerprint(anomaly, trade_id, recorded, reported) in self.seen:
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

    # ----------------------------------------------------------------- helpers for commands

    def _rule(self, fact: type[OrderEvent], status: Status | None = None) -> tuple[Rule, str]:
        rule, why = rule_for(self.status if status is None else status, fact)
        if rule is Rule.REFUSE:
            raise InvalidTransitionError(self.client_order_id, fact_name(fact), self.status.value, why)
        return rule, why

    def _again(self, event_class: type[OrderEvent], stamp: Stamp, trade_id: str = "") -> Decision | None:
        """A duplicate outcome if this very fact (type, venue time, trade) is already recorded."""
        if _fingerprint(event_class.__name__, stamp.ts_event, trade_id) in self.seen:
            return _duplicate(f"this {event_class.__name__} was already recorded")
        return None

    def _check(self, fact: type[OrderEvent]) -> None:
        self._rule(fact)

    def _early(self, fact: type[OrderEvent], status: Status | None = None) -> Decision | None:
        """The outcome for facts the table settles without an event (duplicate, ignore)."""
        rule, why = rule_for(self.status if status is None else status, fact)
        if rule is Rule.DUPLICATE:
            return _duplicate(why)
        if rule is Rule.IGNORE:
            return _ignored(why)
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
            _positive(price, "price")
        if quantity is not None:
            _positive(quantity, "quantity")
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
        event = _events.new_event(event_class, fields)
        self.apply(event)
        self._pending_events.append(event)
        return Decision(Outcome.APPLIED, (event,))

    # ----------------------------------------------------------------- applying events

    def apply(self, event: OrderEvent, *, deciding: bool = True) -> None:
        """Assign the consequences of one event (runs on every replay).

        ``deciding=False``: this order will decide nothing (a read model's fold), so the
        fingerprints only commands consult, to refuse a fact seen before, are not kept."""
        _APPLIERS[type(event)](self, event)
        if deciding and type(event) in _FINGERPRINTED:
            self.seen.add(_fingerprint(type(event).__name__, event.ts_event, getattr(event, "trade_id", "")))
            if type(event) is OrderAmended and event.quantity is not None:
                self.seen.add(_raise_fingerprint(event.ts_event, event.quantity))
        self.version = event.originator_version
        self.updated_at = event.ts_event
        self.recorded_at = event.ts_recorded

    def _on_accepted(self, event: OrderAccepted) -> None:
        if event.venue_order_id:
            self.venue_order_ids.append(event.venue_order_id)
        self.aliases.update(event.aliases)
        if self.base_status is Status.REQUESTED:
            self.base_status = Status.ACCEPTED

    def _on_rejected(self, event: OrderRejected) -> None:
        self.base_status = Status.REJECTED
        self.reason = event.reason
        self._clear_pending()

    def _on_filled(self, event: OrderFilled) -> None:
        self.fills[event.trade_id] = Fill(
            event.trade_id,
            event.last_qty,
            event.last_px,
            event.fee,
            event.fee_currency,
            event.liquidity,
            event.ts_event,
            late=event.late,
            inferred=event.inferred,
        )
        self.filled_quantity = EXACT.add(self.filled_quantity, event.last_qty)
        self.notional = EXACT.add(self.notional, EXACT.multiply(event.last_qty, event.last_px))
        if event.late:
            self._flag("late_fill")
        self._settle_working_status()

    def _on_cancel_requested(self, event: OrderCancelRequested) -> None:
        self.pending_cancel = True

    def _on_canceled(self, event: OrderCanceled) -> None:
        self.base_status = Status.CANCELED
        self.reason = event.reason
        self._clear_pending()

    def _on_cancel_rejected(self, event: OrderCancelRejected) -> None:
        self.pending_cancel = False
        self.reason = event.reason

    def _on_amend_requested(self, event: OrderAmendRequested) -> None:
        self.pending_amend = True
        self.amend_target = (event.quantity, event.price)

    def _on_amended(self, event: OrderAmended) -> None:
        if event.quantity is not None:
            self.quantity = event.quantity
        if event.price is not None:
            self.price = event.price
        if event.venue_order_id:
            self.venue_order_ids.append(event.venue_order_id)
        self.pending_amend = False
        self.amend_target = None
        self._settle_working_status()

    def _on_amend_rejected(self, event: OrderAmendRejected) -> None:
        self.pending_amend = False
        self.amend_target = None
        self.reason = event.reason

    def _on_expired(self, event: OrderExpired) -> None:
        self.base_status = Status.EXPIRED
        self.reason = event.reason
        self._clear_pending()

    def _on_busted(self, event: FillBusted) -> None:
        fill = self.fills[event.trade_id]
        fill.busted = True
        self.filled_quantity = EXACT.subtract(self.filled_quantity, fill.qty)
        self.notional = EXACT.subtract(self.notional, EXACT.multiply(fill.qty, fill.px))
        self._reopen_or_settle()

    def _on_corrected(self, event: FillCorrected) -> None:
        fill = self.fills[event.trade_id]
        if fill.first_qty is None:
            fill.first_qty, fill.first_px = fill.qty, fill.px
        self.filled_quantity = EXACT.add(self.filled_quantity, EXACT.subtract(event.last_qty, fill.qty))
        self.notional = EXACT.add(
            self.notional,
            EXACT.subtract(EXACT.multiply(event.last_qty, event.last_px), EXACT.multiply(fill.qty, fill.px)),
        )
        fill.qty, fill.px, fill.fee = event.last_qty, event.last_px, event.fee
        fill.fee_currency = event.fee_currency
        self._reopen_or_settle()

    def _on_details_added(self, event: OrderDetailsAdded) -> None:
        if event.time_in_force is not None:
            self.time_in_force = event.time_in_force
        if event.parent_id is not None:
            self.parent_id = event.parent_id
        self.tags.update(event.tags)
        self.aliases.update(event.aliases)

    def _on_anomaly(self, event: AnomalyRecorded) -> None:
        self._flag(event.anomaly)
        self.seen.add(_anomaly_fingerprint(event.anomaly, event.trade_id, event.recorded, event.reported))

    def _settle_working_status(self) -> None:
        """Recompute the working status of an order the venue still works."""
        if self.base_status in (
            Status.REQUESTED,
            Status.ACCEPTED,
            Status.PARTIALLY_FILLED,
            Status.FILLED,
        ):
            self.base_status = _working_status(self.filled_quantity, self.quantity)
            if self.base_status is Status.FILLED:
                self._clear_pending()

    def _reopen_or_settle(self) -> None:
        # A filled order reopens after a bust; a canceled, expired or rejected one stays ended.
        self._settle_working_status()

    def _clear_pending(self) -> None:
        self.pending_cancel = False
        self.pending_amend = False
        self.amend_target = None

    def _flag(self, anomaly: str) -> None:
        if anomaly not in self.anomalies:
            self.anomalies.append(anomaly)

    # ----------------------------------------------------------------- the aggregate protocol

    def collect_events(self) -> list[OrderEvent]:
        """Hand over the events decided since the last save (eventsourcing's protocol)."""
        events, self._pending_events = self._pending_events, []
        return events

    @property
    def pending_events(self) -> list[OrderEvent]:
        """Events decided but not yet saved."""
        return list(self._pending_events)


_ZERO = Decimal(0)  # an amount is immutable: every zero can be this one

# Facts without an ID of their own: a re-delivery is recognised by type, venue time and trade.
# (Two genuinely distinct cancel requests at the same microsecond would count as one.)
_FINGERPRINTED = frozenset(
    {
        OrderCancelRequested,
        OrderCancelRejected,
        OrderAmendRequested,
        OrderAmended,
        OrderAmendRejected,
        FillCorrected,
    }
)


def _fingerprint(type_name: str, ts_event: datetime, trade_id: str) -> str:
    return f"{type_name}|{format_timestamp(ts_event)}|{trade_id}"


def _raise_fingerprint(ts_event: datetime, quantity: Decimal) -> str:
    """An amendment by its venue time and quantity: what tells a copy of a raise of a filled order
    from a further raise at the same time (``Order.amend``)."""
    return _fingerprint("OrderAmended", ts_event, f"quantity {format_decimal(quantity.normalize())}")


_PLAIN_STATE = (
    "version",
    "client_order_id",
    "account",
    "venue",
    "instrument",
    "time_in_force",
    "quote_currency",
    "tags",
    "parent_id",
    "external",
    "pending_cancel",
    "pending_amend",
    "venue_order_ids",
    "aliases",
    "anomalies",
    "reason",
)


def _anomaly_fingerprint(anomaly: str, trade_id: str | None, *values: str | None) -> str:
    # The pair in either order: a disagreement is one anomaly, whichever copy came first.
    return "|".join(["AnomalyRecorded", anomaly, trade_id or "", *sorted(v or "" for v in values)])


def _shown(value: Any) -> str | None:
    if value is None:
        return None
    return format_decimal(value) if isinstance(value, Decimal) else str(value)


def _fee_text(fee: Decimal | None, currency: str | None) -> str | None:
    if fee is None:
        return None
    return format_decimal(fee) + (f" {currency}" if currency else "")


def _fee_rank(fee: Decimal | None, currency: str | None) -> tuple[Decimal, Decimal, str]:
    """The order in which conflicting fees win: larger by size, then by value, then currency."""
    amount = Decimal(0) if fee is None else fee
    return (abs(amount), amount, currency or "")


def _check_request(spec: OrderSpec) -> None:
    """Refuse a request that cannot describe a real order."""
    _positive(spec.quantity, "quantity")
    if spec.price is not None:
        _positive(spec.price, "price")
    elif spec.order_type is OrderType.LIMIT:
        raise InvalidInputError("a limit order needs a price", field="price")


def _positive(value: Decimal, field: str) -> None:
    """Refuse a quantity or price that is not a finite amount above zero.

    Values read from input were parsed by ``parse_positive`` already (digits, range, sign): this
    only guards the aggregate, cheaply, and leaves the refusal and its words to that rule."""
    if not (value.is_finite() and value > 0):
        parse_positive(value, field)


def _opt_str(value: Decimal | None) -> str | None:
    return None if value is None else format_decimal(value)


def _opt_decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _on_requested(order: Order, event: OrderRequested) -> None:  # pragma: no cover - creation
    raise InvalidTransitionError(order.client_order_id, "request", order.status.value, "already exists")


_APPLIERS: dict[type[OrderEvent], Callable[[Order, Any], None]] = {
    OrderRequested: _on_requested,
    OrderAccepted: Order._on_accepted,
    OrderRejected: Order._on_rejected,
    OrderFilled: Order._on_filled,
    OrderCancelRequested: Order._on_cancel_requested,
    OrderCanceled: Order._on_canceled,
    OrderCancelRejected: Order._on_cancel_rejected,
    OrderAmendRequested: Order._on_amend_requested,
    OrderAmended: Order._on_amended,
    OrderAmendRejected: Order._on_amend_rejected,
    OrderExpired: Order._on_expired,
    FillBusted: Order._on_busted,
    FillCorrected: Order._on_corrected,
    OrderDetailsAdded: Order._on_details_added,
    AnomalyRecorded: Order._on_anomaly,
}


def replay(events: Iterable[OrderEvent], order: Order | None = None) -> Order | None:
    """Rebuild an order from its events (optionally continuing from a given state)."""
    for event in events:
        if isinstance(event, OrderRequested):
            order = Order(event)
            order.version = event.originator_version
        elif order is None:
            raise InvalidTransitionError(event.client_order_id, event.type_name(), "none", "no request")
        else:
            order.apply(event)
    return order


def project_order(order: Order | None, events: Iterable[OrderEvent]) -> Order | None:
    """Projector function in the shape the eventsourcing repository expects."""
    return replay(events, order)
