"""Immutable facts about orders: one frozen pydantic model per fact, named in the past tense.

Every event carries a header: the aggregate coordinates (originator_id, originator_version),
the two clocks (``ts_event``: when the venue says it happened; ``ts_recorded``: the ledger's
clock at append), where it came from (``source``), and the order's coordinates (client order
ID, account, venue, instrument). Fill events also carry the side and quote currency, so each
event can be read, searched and projected on its own.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, TypeVar
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    create_model,
    model_validator,
)
from pydantic.fields import FieldInfo

from orderledger.domain.order_fields import (
    CHANGES,
    Check,
    Repeat,
    Says,
    field_markers,
    flat_fields,
    held_model,
    unmarked,
)
from orderledger.domain.order_terms import OrderTerms, TermsRead, gather_terms
from orderledger.domain.values import (
    ClientOrderId,
    DecimalStr,
    Liquidity,
    OrderType,
    Side,
    Status,
    TradeId,
    UtcTime,
    VenueOrderId,
)


class StoredWhenGiven:
    """Marks an optional field added after events were first stored (``Annotated[X | None,
    WHEN_GIVEN] = None``): the stored payload holds it only when it is set. Events without it
    are stored as before (same bytes, same hash chain), a stored event without it reads it as
    None, and a payload shown to users (``events``, exports) leaves it out while it is None."""

    def __repr__(self) -> str:
        return "WHEN_GIVEN"


WHEN_GIVEN = StoredWhenGiven()


@cache
def stored_when_given(cls: type[BaseModel]) -> tuple[str, ...]:
    """The fields of ``cls`` marked ``WHEN_GIVEN``, in order."""
    return tuple(name for name, info in cls.model_fields.items() if WHEN_GIVEN in info.metadata)


class OrderEvent(BaseModel):
    """Header shared by every order event."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    class_version: ClassVar[int] = 1

    originator_id: UUID
    originator_version: int
    ts_recorded: UtcTime
    ts_event: UtcTime
    source: str
    client_order_id: ClientOrderId
    account: str
    venue: str
    instrument: str

    @property
    def timestamp(self) -> datetime:
        """The recording time, under the name the eventsourcing library expects."""
        return self.ts_recorded

    @classmethod
    def type_name(cls) -> str:
        """The event's name as shown in history and search (the class name)."""
        return cls.__name__


_STATED = (
    " (required on a `request`); on any other order message, optional: what the venue's report"
    " states of the order, and a report stating another account, instrument or side than the"
    " order's is refused"
)
_LABELS = 'extra venue identities, e.g. `{"client_index":"5521"}` for a venue that wants a numeric client ID'


class OrderSpec(BaseModel, TermsRead):
    """The content of an order request: the one declaration of a request's fields.

    Each field carries its markers (``domain.order_fields``): what its message says of it
    (``Says``: its rule and meaning) and what a repeat of the request may do with it
    (``Repeat``). ``OrderRequested`` stores each field after its header, in this order; the
    ingest ``RequestMessage`` takes its fields' names, order, defaults, rules and words from here;
    ``Order.request_again`` compares a repeat by the ``Repeat`` markers, and ``OrderDetailsAdded``
    carries the fields a repeat may add or change. A field added later is stored only when given
    (``WHEN_GIVEN``), so events without it keep their bytes."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    IDENTITY: ClassVar[tuple[str, ...]]
    """What makes two requests different orders: never reconciled, always ID reuse (the fields
    marked ``Repeat.IDENTITY``)."""

    client_order_id: Annotated[
        ClientOrderId,
        Says(Check.IDENTIFIER, "our ID of the order: the key it keeps for life"),
        Repeat.NAMES,
    ]
    account: Annotated[str, Says(Check.IDENTIFIER, f"the order's trading account{_STATED}"), Repeat.IDENTITY]
    venue: Annotated[
        str,
        Says(
            Check.IDENTIFIER,
            "the trading venue; on a `request`, the order's venue; elsewhere, the namespace for"
            " `venue_order_id` and `aliases` when there is no `client_order_id`",
        ),
        Repeat.IDENTITY,
    ]
    instrument: Annotated[
        str,
        Says(Check.IDENTIFIER, f"what the order trades, e.g. `BTC-USDT`, `ETH/USDT:USDT`{_STATED}"),
        Repeat.IDENTITY,
    ]
    side: Annotated[Side, Says(Check.CHOICE, f"direction{_STATED}"), Repeat.IDENTITY]
    order_type: Annotated[
        OrderType,
        Says(
            Check.CHOICE,
            "how the order is priced and what sets it working ([order types](#order-types-and-their-terms))",
        ),
        Repeat.IDENTITY,
    ]
    quantity: Annotated[
        DecimalStr,
        Says(
            Check.FIGURE,
            "`request`: order quantity. `fill`: quantity of this execution. `amend_requested`/`amended`:"
            " the new **total** quantity, fills included. `fill_corrected`: the trade's corrected quantity",
        ),
        Repeat.MUST_MATCH,
    ]
    price: Annotated[
        DecimalStr | None,
        Says(
            Check.FIGURE,
            "`request`: limit price (required for `limit`, `stop_limit`, `take_profit_limit`). `fill`:"
            " execution price. `amend_*`: new limit price. `fill_corrected`: corrected price",
        ),
        Repeat.MUST_MATCH,
    ] = None
    time_in_force: Annotated[
        str | None,
        Says(Check.IDENTIFIER, "kept as given (`GTC`, `IOC`, …); the ledger does not interpret it"),
        Repeat.MAY_ADD,
    ] = None
    quote_currency: Annotated[
        str | None,
        Says(
            Check.IDENTIFIER,
            "the currency prices and P&L are in. If absent, taken from the instrument: the part after"
            " `-` or `/` (`BTC-USDT` → `USDT`, `ETH/USDT:USDT` → `USDT`); an instrument without a"
            " separator has none",
        ),
        Repeat.MUST_MATCH,
    ] = None
    tags: Annotated[
        dict[str, str],
        Says(
            Check.LABELS,
            'free labels (`{"strategy":"mm"}`); copied onto every fill and P&L entry, groupable with'
            " `pnl --by tag:NAME`",
        ),
        Repeat.MAY_ADD,
    ] = Field(default_factory=dict)
    parent_id: Annotated[
        str | None,
        Says(
            Check.IDENTIFIER,
            "the parent of a child order: an algo's slice, or the proposal (signal, intent) the order"
            " was placed for; copied onto fills. Set by the caller, or by an adapter from the venue's"
            " own field (Tradier: the multi-leg parent). Set once: a later report can add it to an"
            " order that had none, never change it. Queried with `orders --parent P`, `trades --parent"
            " P` and `pnl --by parent` ([semantics](semantics.md#proposal--order--trade-by-parent))",
        ),
        Repeat.MAY_ADD,
    ] = None
    aliases: Annotated[dict[str, str], Says(Check.LABELS, _LABELS), Repeat.NAMES] = Field(
        default_factory=dict
    )
    venue_order_id: Annotated[
        VenueOrderId | None,
        Says(
            Check.IDENTIFIER,
            "the venue's ID of the order; see [venue order IDs](#venue-order-ids-on-messages)",
        ),
        Repeat.NAMES,
    ] = None
    external: Annotated[
        bool,
        Says(
            Check.FLAG,
            "the order was created outside this system (placed in a venue's UI, a liquidation,"
            " reconciliation). With `true`, `client_order_id` may be left out when `venue_order_id` is"
            " given: see [orders without a client order ID](#orders-without-a-client-order-id)",
        ),
        Repeat.CLEARS,
    ] = False
    """True when reconciliation found the order at the venue rather than we placing it."""
    decision_price: Annotated[
        DecimalStr | None,
        WHEN_GIVEN,
        Says(
            Check.FIGURE,
            "the price when the order was decided (a strategy's reference, e.g. the mid it acted on),"
            " kept on the order as first requested: what its execution is measured against",
        ),
        Repeat.MUST_MATCH,
    ] = None
    """The price when the order was decided (the strategy's reference): what its execution is
    measured against."""
    post_only: Annotated[
        bool | None,
        WHEN_GIVEN,
        Says(
            Check.FLAG,
            "the order may only add liquidity (post-only, maker-only: the venue cancels or reprices it"
            " rather than let it take); kept on the order as first requested. Left out: the request"
            " did not say (the order shows `null`)",
        ),
        Repeat.MAY_ADD,
    ] = None
    """The order may only add liquidity (a maker order: the venue cancels or reprices it rather
    than let it take); None: the request did not say."""
    terms: Annotated[OrderTerms | None, WHEN_GIVEN] = None
    """The order's conditional terms (``OrderTerms``); None for a plain order, which states none.
    A request message states each term as a field of its own, beside the others; a request
    built in Python may too (``OrderSpec(trigger_price=...)``): they are gathered here."""

    @model_validator(mode="before")
    @classmethod
    def _gather_terms(cls, data: Any) -> Any:
        return gather_terms(data)


if unmarked(OrderSpec, Says, Repeat):  # a field no repeat would compare: refused, not ignored
    raise TypeError(f"OrderSpec fields without one Says and one Repeat: {unmarked(OrderSpec, Says, Repeat)}")
OrderSpec.IDENTITY = tuple(
    name for name, repeat in field_markers(OrderSpec, Repeat).items() if repeat is Repeat.IDENTITY
)
REQUEST_FIELDS: dict[str, FieldInfo] = flat_fields(OrderSpec)
"""A request's fields as its message states them, side by side: ``OrderSpec``'s, its terms
(``OrderTerms``) in the place of ``terms``."""


class OrderRequested(OrderSpec, OrderEvent):
    """Intent recorded before it is sent to the venue (creates the order).

    Its fields are the header's, then the request's (``OrderSpec``) in their order, as stored
    and hashed: pydantic takes the bases' fields from the last base to the first, so the header
    (``OrderEvent``, named last) comes first, and the order's coordinates stay in its place."""


class Acknowledgement(OrderEvent):
    """What an acknowledgement of the order records: the venue's name for it (a late one only
    what the order lacks)."""

    venue_order_id: VenueOrderId | None = None
    aliases: dict[str, str] = Field(default_factory=dict)


class OrderHeld(Acknowledgement):
    """A broker acknowledged the order and holds it for the exchange, which has not accepted it
    (Tradier ``pending``): a reject, cancel, fill or the exchange's acceptance may follow."""


class OrderAccepted(Acknowledgement):
    """The venue acknowledged the order; a late ack only records the venue order ID."""


class OrderRejected(OrderEvent):
    """The venue refused the order; ``venue_order_id``: the ID the venue gave the order it
    refused, when it gave one (a Hyperliquid order refused after it was numbered)."""

    reason: str | None = None
    venue_order_id: Annotated[VenueOrderId | None, WHEN_GIVEN] = None


class OrderFilled(OrderEvent):
    """One execution (FIX ExecType F); partial or full is derived from the sum of fills."""

    trade_id: TradeId
    last_qty: DecimalStr
    last_px: DecimalStr
    side: Side
    fee: DecimalStr | None = None
    fee_currency: str | None = None
    liquidity: Liquidity | None = None
    quote_currency: str | None = None
    venue_order_id: VenueOrderId | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    parent_id: str | None = None
    late: bool = False
    """Booked on an order already canceled, expired or rejected (anomaly ``late_fill``)."""
    inferred: bool = False
    """Deduced by reconciliation from the venue's cumulative quantity, not reported as a trade."""
    venue_realized_pnl: DecimalStr | None = None
    """The realized P&L the venue itself reported for this fill (a cross-check, never booked)."""


class OrderCancelRequested(OrderEvent):
    """We asked the venue to cancel."""


class OrderCanceled(OrderEvent):
    """The venue canceled the order; leaves become zero. ``canceled_by``: the client order ID of
    the sibling (OCO, bracket leg) whose fill caused the cancel, when the report says so."""

    reason: str | None = None
    canceled_by: Annotated[ClientOrderId | None, WHEN_GIVEN] = None


class OrderTriggered(OrderEvent):
    """The venue reports a conditional order's trigger fired (a stop, a take-profit, a trailing
    stop): the order stays open, working as its market or limit order. ``trigger_price``: the
    price that fired it, when the venue states it."""

    trigger_price: DecimalStr | None = None


class OrderReinstated(OrderEvent):
    """A closure of the order is withdrawn: the ``OrderCanceled`` at ``canceled_at`` (venue
    time) recorded before this event no longer counts, and the order is what its other facts
    make it (the ``OrderRestated`` recorded with it states that). Reconciliation withdraws the
    closures it inferred from the order's absence at the venue when the venue's own listings
    show the order working after them; the closure and its withdrawal both stay in the history."""

    canceled_at: UtcTime
    reason: str | None = None


class OrderMerged(OrderEvent):
    """This order is one of ours, recorded before the ledger could tell: an external order it kept
    for a venue order ID reported with no client order ID (an open-orders snapshot, a venue's
    feed), which our order ``into`` was acknowledged as since. Its fills were busted just before
    this event and booked on ``into`` after it; it leaves the books, its history stays, and
    its venue identities lead to ``into``."""

    into: ClientOrderId


class OrderCancelRejected(OrderEvent):
    """The venue refused our cancel; the order returns to the status it had."""

    reason: str | None = None


class OrderAmendRequested(OrderEvent):
    """We asked the venue to change quantity (a total including fills) and/or price."""

    quantity: DecimalStr | None = None
    price: DecimalStr | None = None


class OrderAmended(OrderEvent):
    """The venue applied an amendment; it may have assigned a new venue order ID."""

    quantity: DecimalStr | None = None
    price: DecimalStr | None = None
    venue_order_id: VenueOrderId | None = None


class OrderAmendRejected(OrderEvent):
    """The venue refused our amendment."""

    reason: str | None = None


class OrderExpired(OrderEvent):
    """The order's time in force ran out."""

    reason: str | None = None


class FillBusted(OrderEvent):
    """The venue reversed a trade; the event restates it so projections can undo it."""

    trade_id: TradeId
    side: Side
    last_qty: DecimalStr
    last_px: DecimalStr
    fee: DecimalStr | None = None
    fee_currency: str | None = None
    quote_currency: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    parent_id: str | None = None
    fill_ts_event: UtcTime
    reason: str | None = None


class FillCorrected(OrderEvent):
    """The venue corrected a trade's quantity and/or price; old and new values are stated."""

    trade_id: TradeId
    side: Side
    previous_qty: DecimalStr
    previous_px: DecimalStr
    previous_fee: DecimalStr | None = None
    previous_fee_currency: str | None = None
    """The fee's currency before; None in events written before it could change."""
    last_qty: DecimalStr
    last_px: DecimalStr
    fee: DecimalStr | None = None
    fee_currency: str | None = None
    quote_currency: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    parent_id: str | None = None
    fill_ts_event: UtcTime
    reason: str | None = None
    liquidity: Annotated[Liquidity | None, WHEN_GIVEN] = None
    """Maker or taker, when another report of the trade states what the first left out."""


class FillDetailsAdded(OrderEvent):
    """Another report of a booked trade stated a detail the trade lacked, its figures (quantity,
    price, fee and its currency) the same as booked: the trade is completed, not corrected
    (``FillCorrected`` is for figures that change). Nothing recorded is replaced.

    ``liquidity``: maker or taker, where the report that booked the trade left it out (a
    WebSocket copy without it, then the REST copy with it)."""

    trade_id: TradeId
    liquidity: Liquidity | None = None
    fill_ts_event: UtcTime
    reason: str | None = None


class _DetailsAdded(OrderEvent):
    """A later report of the order stated details its request left out (nothing is replaced).

    It carries each field of the request that a repeat may add or change (``OrderSpec``'s
    ``Repeat.MAY_ADD`` and ``MAY_CHANGE`` fields, assigned by one loop), and these:

    ``aliases``: identities the order did not have yet, such as the client order ID of a request
    recorded after the venue had reported the order (alias ``client_order_id``).
    ``created_at``: an earlier venue time of the order's creation than the one recorded (our
    request, reaching the ledger after the venue's report of the order).
    ``external``: False when our own request of an order the ledger first knew from the venue
    (an external order) arrives: the order is ours, as it is when the request comes first."""

    time_in_force: str | None = None
    parent_id: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    aliases: dict[str, str] = Field(default_factory=dict)
    created_at: Annotated[UtcTime | None, WHEN_GIVEN] = None
    post_only: Annotated[bool | None, WHEN_GIVEN] = None
    external: Annotated[bool | None, WHEN_GIVEN] = None


def _added_fields() -> dict[str, Any]:
    """The fields a repeat may add or change (``OrderSpec``'s ``CHANGES``) that ``_DetailsAdded``
    does not declare, each as its request declares it, stored only when given, and the order's
    terms (``terms``: the terms a report added): what a field added to ``OrderSpec`` with such a
    marker gives ``OrderDetailsAdded``, in ``OrderSpec``'s order."""
    added: dict[str, Any] = {}
    for name, info in OrderSpec.model_fields.items():
        repeats = [mark for mark in info.metadata if isinstance(mark, Repeat)]
        held = held_model(info.annotation) is not None
        if not (held or repeats[0] in CHANGES) or name in _DetailsAdded.model_fields:
            continue
        if WHEN_GIVEN not in info.metadata:  # a stored event's bytes would change: refused
            raise TypeError(f"OrderSpec.{name} may be added by a repeat, so it must be WHEN_GIVEN")
        added[name] = (Annotated[info.annotation, WHEN_GIVEN], None)
    return added


if TYPE_CHECKING:

    class OrderDetailsAdded(_DetailsAdded):
        """What a later report of the order added (``_DetailsAdded``, and ``_added_fields``)."""

        def __getattr__(self, name: str) -> Any: ...

else:
    OrderDetailsAdded = create_model(
        "OrderDetailsAdded",
        __base__=_DetailsAdded,
        __module__=__name__,
        __doc__=_DetailsAdded.__doc__,
        **_added_fields(),
    )


class AnomalyRecorded(OrderEvent):
    """Two reports of one fact disagree; both values are kept for the audit.

    ``anomaly`` names the disagreement (``FIELD_mismatch`` for a field of the request a report
    states otherwise: ``price_mismatch``, ``tags_mismatch`` …; ``fee_conflict``,
    ``venue_order_id_changed``);
    ``recorded`` is what the ledger holds, ``reported`` what this report said. For a fee
    conflict the ledger books the larger fee (by size), so the result does not depend on which
    copy arrived first.
    """

    anomaly: str
    field: str
    recorded: str | None = None
    reported: str | None = None
    trade_id: TradeId | None = None


class OrderRestated(OrderEvent):
    """A fact reached the ledger after later facts of its order (in venue time): the order's
    lifecycle as its facts give it in venue time, stated in full.

    Every fact is recorded where it belongs in venue time, but the state each event left was
    decided as the facts arrived; when a fact arrives late and the venue-time fold differs from
    that, this event says what the order is: status, pending markers, quantity and price,
    venue order IDs in venue-time order, anomalies, and which trades change their ``late`` flag
    (a fill after the order ended). Any arrival order of the same facts ends in the same order.
    """

    base_status: Status
    pending_cancel: bool = False
    pending_amend: bool = False
    amend_target: list[DecimalStr | None] | None = None
    quantity: DecimalStr
    price: DecimalStr | None = None
    reason: str | None = None
    venue_order_ids: list[VenueOrderId] = Field(default_factory=list)
    anomalies: list[str] = Field(default_factory=list)
    late: dict[str, bool] = Field(default_factory=dict)
    updated_at: Annotated[UtcTime | None, WHEN_GIVEN] = None
    """The latest venue time of the facts that count, when it is not the latest of all the
    order's facts (a closure withdrawn, ``OrderReinstated``, no longer counts)."""


class InstrumentDefined(OrderEvent):
    """An instrument's definition as of this event (version = ``originator_version``).

    Not an order fact: it lives on its own aggregate, keyed by (venue, instrument), in the same
    hash-chained log, so positions read the definition in force at each fill in log order. The
    order coordinates of the header are empty (``client_order_id`` and ``account`` are "").
    """

    client_order_id: ClientOrderId = ClientOrderId("")
    account: str = ""
    kind: str | None = None
    """spot | swap | future | option | equity | other."""
    contract_size: DecimalStr = Decimal(1)
    """What one unit of order quantity is worth in the underlying (OKX BTC-USDT-SWAP 0.01)."""
    settlement: str = "linear"
    """linear (P&L in the quote currency) or inverse (P&L in the base coin: 1/price)."""
    settle_currency: str | None = None
    base_currency: str | None = None
    quote_currency: str | None = None
    underlying: str | None = None
    expiry: str | None = None
    strike: DecimalStr | None = None
    option_type: str | None = None
    price_increment: DecimalStr | None = None
    """The venue's price step (tick size): tables show prices to its decimal places."""
    quantity_increment: DecimalStr | None = None
    """The venue's quantity step (lot size): tables show quantities to its decimal places."""
    price_scale: int | None = None
    quantity_scale: int | None = None
    security_id: str | None = None
    security_id_source: str | None = None


class CashFlowRecorded(OrderEvent):
    """Money a position paid or received without trading: a funding payment, borrow interest,
    a rebate (``kind``). Immutable, one per venue ID (``flow_id``) on its position.

    Not an order fact: it lives on its own aggregate, keyed by (account, venue, instrument,
    flow_id) (``domain.cash_flows``); ``client_order_id`` is "". ``amount`` is signed from the
    position's side: positive received, negative paid.
    """

    client_order_id: ClientOrderId = ClientOrderId("")
    kind: str
    """funding | interest | rebate."""
    flow_id: str
    """The venue's ID of the payment (its dedup key)."""
    amount: DecimalStr
    currency: str
    rate: DecimalStr | None = None
    """The rate the venue applied (a funding rate), when it states one."""
    position_quantity: DecimalStr | None = None
    """The signed position size the venue charged it on, when it states one."""
    tags: dict[str, str] = Field(default_factory=dict)


class MarkRecorded(OrderEvent):
    """A price of an instrument at a time, from a source (a venue's mark price, an index, a
    close): what unrealized P&L is valued at when no mark is given.

    On its own aggregate, keyed by (venue, instrument, time, source) (``domain.cash_flows``);
    ``client_order_id`` and ``account`` are "".
    """

    client_order_id: ClientOrderId = ClientOrderId("")
    account: str = ""
    price: DecimalStr


class _LimitFact(OrderEvent):
    """What every setting of a limit names: its key, who set it and why (``domain.risk``).

    On its own aggregate, keyed by (scope, target, kind, time); ``client_order_id``, ``venue``
    and ``instrument`` are "", ``account`` is the target of an account-scoped limit, else "".
    """

    client_order_id: ClientOrderId = ClientOrderId("")
    account: str = ""
    venue: str = ""
    instrument: str = ""
    scope: str
    """account | underlying | instrument | tag (a strategy tag, ``NAME=VALUE``)."""
    target: str
    """The account, underlying, instrument or ``NAME=VALUE`` tag the limit applies to."""
    kind: str
    """max_position | max_gross_exposure | max_order_notional | max_daily_loss | max_drawdown |
    max_orders."""
    set_by: str
    reason: str | None = None


class LimitSet(_LimitFact):
    """A risk limit in force from ``ts_event`` until set again or cleared: what ``check`` holds
    orders to. Who set it is ``set_by``; ``source`` is the channel."""

    value: DecimalStr
    interval: int | None = None
    """For max_orders: the window, in seconds, the orders are counted over."""
    response: Annotated[str | None, WHEN_GIVEN] = None
    """For max_daily_loss and max_drawdown: the trading state the ledger sets the account to when
    its figure passes the limit (``domain.risk.RESPONSES``); None reads as reduce_only."""


class LimitCleared(_LimitFact):
    """A risk limit no longer applies from ``ts_event``."""


class TradingStateSet(OrderEvent):
    """An account's trading state (``account`` "": every account's) from ``ts_event``: active,
    reduce_only (only orders that shrink the absolute position) or halted (no new order).

    On its own aggregate, keyed by (account, time); the other order coordinates are "".
    """

    client_order_id: ClientOrderId = ClientOrderId("")
    venue: str = ""
    instrument: str = ""
    state: str
    set_by: str
    reason: str | None = None
    until: Annotated[UtcTime | None, WHEN_GIVEN] = None
    """When the state lifts itself (a cooldown): in force only before it; after it the state set
    before this one applies again."""


class BreachRecorded(OrderEvent):
    """A request or a venue's fact that passed a limit or a trading state in force, as the risk
    door judged it at the ledger's time (``ts_event`` and ``ts_recorded``): ``action`` says what
    became of it: ``denied`` (a request of ours, refused: it never became an order),
    ``overridden`` (let through by an operator with the risk role, ``by`` and ``why``) or
    ``flagged`` (a fact the ledger learnt from a venue, recorded as it is: never refused).

    Each breach cites the fact it applied (``domain.risk.cited_breach``): the limit's or trading
    state's event by its aggregate ID and version. On its own aggregate, keyed by (client order
    ID, account, time, action); the order coordinates are the request's.
    """

    action: str
    breaches: list[dict[str, str]]
    by: str | None = None
    why: str | None = None


EVENT_TYPES: tuple[type[OrderEvent], ...] = (
    OrderRequested,
    OrderHeld,
    OrderAccepted,
    OrderRejected,
    OrderFilled,
    OrderCancelRequested,
    OrderCanceled,
    OrderReinstated,
    OrderMerged,
    OrderCancelRejected,
    OrderAmendRequested,
    OrderAmended,
    OrderAmendRejected,
    OrderExpired,
    FillBusted,
    FillCorrected,
    FillDetailsAdded,
    OrderDetailsAdded,
    AnomalyRecorded,
    OrderRestated,
    InstrumentDefined,
    CashFlowRecorded,
    MarkRecorded,
    LimitSet,
    LimitCleared,
    TradingStateSet,
    BreachRecorded,
    OrderTriggered,
)
EVENT_TYPES_BY_NAME: dict[str, type[OrderEvent]] = {cls.__name__: cls for cls in EVENT_TYPES}

MOVES_PNL: frozenset[type[OrderEvent]] = frozenset(
    {OrderFilled, FillBusted, FillCorrected, CashFlowRecorded, MarkRecorded}
)
"""The events that move an account's P&L (a mark: every account holding its instrument), after
which the loss and drawdown limits' responses are worked out (``application.risk.loss_responses``)."""

NAMING: frozenset[type[OrderEvent]] = frozenset({OrderHeld, OrderAccepted, OrderAmended})
"""The events after the request that can give an order a new venue identity."""

E = TypeVar("E", bound=BaseModel)


def model_construct(cls: type[E], values: dict[str, Any]) -> E:
    """An event from values the domain has checked, built by pydantic's own ``model_construct``
    (what ``domain.construction.construct`` does faster: the tests hold the two equal)."""
    return cls.model_construct(**values)


__all__ = [cls.__name__ for cls in EVENT_TYPES] + [
    "Acknowledgement",
    "EVENT_TYPES",
    "EVENT_TYPES_BY_NAME",
    "NAMING",
    "OrderEvent",
    "OrderSpec",
    "model_construct",
    "MOVES_PNL",
    "StoredWhenGiven",
    "WHEN_GIVEN",
    "stored_when_given",
]
