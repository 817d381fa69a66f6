"""The ledger's JSON-lines message format: one object per line, ``type`` says which fact.

Each type is one pydantic model (``RequestMessage``, ``FillMessage`` …) and ``Message`` is their
union, told apart by ``type``: parsing, validation, ``message_to_json``, the field lists and
the field tables of docs/messages.md (``scripts/docs_tables.py``) all come from these models.
A request's fields are declared once, by the domain (``OrderSpec``), each with its rule.

Parsing is exact (JSON numbers become Decimal without passing through float) and strict:
unknown types, unknown fields, duplicate keys, NaN and naive times are refused with a
one-line reason. See docs/messages.md.

Reading a line exactly is :mod:`exact_json`'s; the rules of the fields, and how the docs describe
them, are :mod:`fields`'.
"""

from __future__ import annotations

from dataclasses import Field as Field_
from dataclasses import fields
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Self, TypeVar, get_args

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    model_validator,
)

from orderledger.domain.cash_flows import CASH_FLOW_KINDS
from orderledger.domain.errors import InvalidInputError, LedgerError
from orderledger.domain.events import REQUEST_FIELDS
from orderledger.domain.instrument import Definition
from orderledger.domain.order import external_client_order_id
from orderledger.domain.order_requests import check_display, missing_term
from orderledger.domain.risk import LIMIT_KINDS, LIMIT_SCOPES, RESPONDING, RESPONSES, TRADING_STATES
from orderledger.domain.values import ClientOrderId as ClientOrderIdType
from orderledger.domain.values import (
    format_decimal,
    format_timestamp,
)
from orderledger.infrastructure.errors import MessageError
from orderledger.infrastructure.messages.exact_json import decode_json, read_fast
from orderledger.infrastructure.messages.fields import (
    FIGURE,
    FIGURE_RULE,
    IDENT,
    IDENT_RULE,
    LIMIT_VALUE,
    LIMIT_VALUE_RULE,
    POSITIVE_RULE,
    SIGNED,
    SIGNED_FIGURE,
    SIGNED_FIGURE_RULE,
    SIGNED_RULE,
    TIME_RULE,
    UNCOMMON,
    About,
    Account,
    Aliases,
    CanceledAt,
    ClientOrderId,
    Fee,
    FeeCurrency,
    Inferred,
    Instrument,
    LiquidityField,
    OrderAccount,
    OrderInstrument,
    Override,
    Price,
    Quantity,
    Reason,
    Rule,
    SideField,
    Source,
    Tags,
    Timestamp,
    TradeId,
    Venue,
    VenueOrderId,
    VenueRealizedPnl,
    one_of,
    request_type,
    scale,
)

# ---------------------------------------------------------------------- message kinds


class _Message(BaseModel):
    """What every message carries: when it happened and who says so."""

    # Each kind's validation schema is built when a message of that kind is first read, not at
    # import: a command reads a handful of kinds, and building all of them took about a fifth
    # of `orderledger ingest`'s start (``_validate`` reads each by the model its type names).
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    ts: Timestamp
    source: Source = "ingest"
    """Left out, whoever feeds the ledger says who it is (``parse_message``'s ``default_source``)."""

    needs: ClassVar[str] = ""
    """What the type requires beyond its required fields, in words (for the docs' table)."""


def _no_order_key(kind: Any) -> InvalidInputError:
    return InvalidInputError(
        f"a {kind} message needs client_order_id, or venue with venue_order_id or aliases",
        field="client_order_id",
    )


class _OrderMessage(_Message):
    """A fact about one order, named by its client order ID or by a venue identity."""

    client_order_id: ClientOrderId | None = None
    venue: Venue | None = None
    venue_order_id: VenueOrderId | None = None
    aliases: Aliases = Field(default_factory=dict)
    # What a report states of its order (FIX Account 1, Symbol 55, Side 54; a trade's symbol and
    # side): compared with the order's facts (``Order.check_stated``), never recorded.
    account: OrderAccount | None = None
    instrument: OrderInstrument | None = None
    side: SideField | None = None

    @model_validator(mode="before")
    @classmethod
    def _names_an_order(cls, data: Any) -> Any:
        # Before the type's own fields: a message naming no order is refused for that first.
        named = "client_order_id" in data or (
            "venue" in data and ("venue_order_id" in data or "aliases" in data)
        )
        if not named:
            raise _no_order_key(data.get("type"))
        return data

    @model_validator(mode="after")
    def _has_order_key(self) -> Self:
        if self.client_order_id is None and (self.venue is None or not (self.venue_order_id or self.aliases)):
            raise _no_order_key(self.type)  # an empty aliases object names nothing
        return self

    if TYPE_CHECKING:
        type: str


# A request's fields are the domain's request (OrderSpec): their names, order, defaults, rules and
# words come from there (``fields.request_type``). _Request holds the rest of the message.


class _Request(_Message):
    """We are about to send this order (recorded *before* it goes to the venue)."""

    type: Literal["request"]
    override: Override | None = None
    """Not a fact of the order: what the risk door is told of this request (``application.risk.pretrade``)."""
    needs: ClassVar[str] = (
        "`client_order_id` (or, with `external`, `venue_order_id`) and `venue`; `price` for"
        " `limit`, `stop_limit`, `take_profit_limit`; `trigger_price` for the `stop_*` and"
        " `take_profit_*` types; `trailing_offset` for `trailing_stop`"
    )

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if (missing := missing_term(self)) is not None:
            raise InvalidInputError(f"{missing} is required", field=missing)
        check_display(self.quantity, self.display_quantity)
        if self.external and self.client_order_id is None and self.venue and self.venue_order_id:
            # An order the venue reports without a client order ID (placed in its UI, a
            # liquidation, a caller that sent none): keyed by venue and venue order ID.
            key = external_client_order_id(self.venue, self.venue_order_id)
            object.__setattr__(self, "client_order_id", key)
        if self.client_order_id is None:
            raise InvalidInputError("client_order_id is required for a request", field="client_order_id")
        if self.venue is None:
            raise InvalidInputError("venue is required for a request", field="venue")
        return self

    if TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any: ...


_ORDER_KEYS = {
    name: _OrderMessage.model_fields[name]
    for name in ("client_order_id", "venue", "venue_order_id", "aliases")
}
"""How every order message names its order (a request too): first, and each optional, since a
request without a client order ID may have one derived (``_Request._complete``)."""


def _request_field(name: str) -> tuple[Any, Any]:
    """The message field for one field of a request: its rule (``OrderSpec``'s ``Says``), required
    or defaulted as the domain's request has it (the order keys as every order message has them)."""
    info = _ORDER_KEYS[name] if name in _ORDER_KEYS else REQUEST_FIELDS[name]
    rule = request_type(name)
    if info.default_factory is not None:
        return rule, Field(default_factory=info.default_factory)
    if info.is_required():
        return rule, ...
    return (rule if info.default is not None else rule | None), info.default


if TYPE_CHECKING:

    class RequestMessage(_Request):
        """A request message (its fields: the domain's OrderSpec, each with its rule)."""

else:
    RequestMessage = create_model(
        "RequestMessage",
        __base__=_Request,
        __module__=__name__,
        __doc__=_Request.__doc__,
        **{name: _request_field(name) for name in dict.fromkeys([*_ORDER_KEYS, *REQUEST_FIELDS])},
    )


class AcceptedMessage(_OrderMessage):
    """The venue acknowledged the order."""

    type: Literal["accepted"]


class HeldMessage(_OrderMessage):
    """A broker acknowledged the order; the exchange has not accepted it yet."""

    type: Literal["held"]


class _Reasoned(_OrderMessage):
    reason: Reason | None = None


class RejectedMessage(_Reasoned):
    """The venue refused the order."""

    type: Literal["rejected"]


class FillMessage(_OrderMessage):
    """An execution: this quantity traded at this price."""

    type: Literal["fill"]
    trade_id: TradeId
    quantity: Quantity
    price: Price
    fee: Fee | None = None
    fee_currency: FeeCurrency | None = None
    liquidity: LiquidityField | None = None
    inferred: Inferred = False
    venue_realized_pnl: VenueRealizedPnl | None = None


class CancelRequestedMessage(_OrderMessage):
    """We asked the venue to cancel."""

    type: Literal["cancel_requested"]


class CanceledMessage(_Reasoned):
    """The venue canceled the order."""

    type: Literal["canceled"]
    canceled_by: (
        Annotated[
            ClientOrderIdType,
            IDENT_RULE,
            About(IDENT, "client order ID of the sibling (OCO, bracket leg) whose fill caused the cancel"),
        ]
        | None
    ) = None


class TriggeredMessage(_OrderMessage):
    """The venue reports a conditional order's trigger fired: it stays open, working as its
    market or limit order."""

    type: Literal["triggered"]
    trigger_price: (
        Annotated[
            Decimal, FIGURE_RULE, About(FIGURE, "the price that fired the trigger, when the venue states it")
        ]
        | None
    ) = None


class ReinstatedMessage(_Reasoned):
    """A closure is withdrawn: the `canceled` at `canceled_at` no longer counts (reconciliation
    withdraws a close it inferred from the order's absence when the venue lists it working)."""

    type: Literal["reinstated"]
    canceled_at: CanceledAt


class CancelRejectedMessage(_Reasoned):
    """The venue refused our cancel."""

    type: Literal["cancel_rejected"]


class _Amendment(_OrderMessage):
    quantity: Quantity | None = None
    price: Price | None = None


class AmendRequestedMessage(_Amendment):
    """We asked for a new total quantity and/or price."""

    type: Literal["amend_requested"]
    needs: ClassVar[str] = "`quantity` or `price`"


class AmendedMessage(_Amendment):
    """The venue changed quantity, price and/or venue order ID."""

    type: Literal["amended"]
    needs: ClassVar[str] = (
        "`quantity`, `price` or `venue_order_id` (may be omitted when an `amend_requested` is"
        " pending: its values are used)"
    )


class AmendRejectedMessage(_Reasoned):
    """The venue refused our amendment."""

    type: Literal["amend_rejected"]


class ExpiredMessage(_Reasoned):
    """The order's time in force ran out."""

    type: Literal["expired"]


class FillBustedMessage(_OrderMessage):
    """The venue reversed a trade."""

    type: Literal["fill_busted"]
    trade_id: TradeId
    reason: Reason | None = None


class FillCorrectedMessage(_OrderMessage):
    """The venue changed a trade's quantity, price and/or fee."""

    type: Literal["fill_corrected"]
    needs: ClassVar[str] = "whatever changed"
    trade_id: TradeId
    quantity: Quantity | None = None
    price: Price | None = None
    fee: Fee | None = None
    reason: Reason | None = None


class _InstrumentHeader(_Message):
    """An instrument's definition: not an order fact, so it names no order."""

    type: Literal["instrument"]
    venue: Annotated[str, IDENT_RULE, About(IDENT, "the venue")]
    instrument: Annotated[
        str,
        IDENT_RULE,
        About(IDENT, "the instrument, spelled as on the orders (`BTC-USDT-SWAP`, ccxt's `BTC/USDT:USDT`)"),
    ]

    # No order key: what ingest reads of every message says so.
    client_order_id: ClassVar[None] = None
    venue_order_id: ClassVar[None] = None
    aliases: ClassVar[dict[str, str]] = {}

    def definition(self) -> Definition:
        """The definition this message states (absent fields take the Definition's defaults)."""
        stated = {f.name: getattr(self, f.name) for f in fields(Definition)}
        return Definition(**{name: value for name, value in stated.items() if value is not None})


def _definition_field(item: Field_[Any]) -> tuple[Any, Any]:
    """The message field for one field of the domain's Definition, by its type and choices."""
    choices = item.metadata.get("choices")
    shape = IDENT if choices is None else ", ".join(f"`{c}`" for c in choices[:-1]) + f" or `{choices[-1]}`"
    about = About(item.metadata.get("shape", shape), item.metadata.get("doc", ""))
    if choices is not None:
        rule: Any = one_of(choices)
    elif item.type in ("Decimal", "Decimal | None"):
        rule = POSITIVE_RULE
    elif item.type == "int | None":
        rule = Rule(scale)
    else:
        rule = IDENT_RULE
    return Annotated[Any, rule, about] | None, None


if TYPE_CHECKING:

    class InstrumentMessage(_InstrumentHeader):
        """An instrument's definition (its fields: the domain's Definition)."""

        def __getattr__(self, name: str) -> Any: ...

else:
    InstrumentMessage = create_model(
        "InstrumentMessage",
        __base__=_InstrumentHeader,
        __module__=__name__,
        __doc__="What one unit of quantity of an instrument is, and how its P&L settles.",
        **{item.name: _definition_field(item) for item in fields(Definition)},
    )


class _PositionFact(_Message):
    """A fact about a position or an instrument that names no order."""

    venue: Annotated[str, IDENT_RULE, About(IDENT, "the venue")]
    instrument: Instrument

    # No order key: what ingest reads of every message says so.
    client_order_id: ClassVar[None] = None
    venue_order_id: ClassVar[None] = None
    aliases: ClassVar[dict[str, str]] = {}


class CashFlowMessage(_PositionFact):
    """Money a position paid or received without trading: funding, borrow interest, a rebate."""

    type: Literal["cash_flow"]
    account: Account
    kind: Annotated[
        str,
        one_of(CASH_FLOW_KINDS),
        About(
            " or ".join(f"`{k}`" for k in CASH_FLOW_KINDS),
            "what the payment is: a perpetual's `funding`, borrow `interest`, a `rebate`",
        ),
    ]
    flow_id: Annotated[
        str,
        IDENT_RULE,
        About(
            IDENT,
            "the venue's ID of the payment: the same ID again is a duplicate, with another amount"
            " a clear error",
        ),
    ]
    amount: Annotated[
        Decimal,
        SIGNED_FIGURE_RULE,
        About(SIGNED_FIGURE, "what the position received (positive) or paid (negative)"),
    ]
    currency: Annotated[str, IDENT_RULE, About(IDENT, "the currency of `amount`")]
    rate: (
        Annotated[Decimal, SIGNED_RULE, About(SIGNED, "the rate the venue applied (a funding rate)")] | None
    ) = None
    position_quantity: (
        Annotated[Decimal, SIGNED_RULE, About(SIGNED, "the signed position size the venue charged it on")]
        | None
    ) = None
    tags: Tags = Field(default_factory=dict)


class MarkMessage(_PositionFact):
    """A price of an instrument at a time (`ts`), from a source: what unrealized P&L is valued at."""

    type: Literal["mark"]
    price: Annotated[Decimal, FIGURE_RULE, About(FIGURE, "the mark price")]


def _seconds(value: Any, info: Any) -> int:
    name = str(info.field_name)
    if isinstance(value, bool) or not isinstance(value, int | Decimal) or not 0 < value <= 10**9:
        raise InvalidInputError(f"{name} must be a whole number of seconds, 1 or more", field=name)
    if isinstance(value, Decimal) and value != int(value):
        raise InvalidInputError(f"{name} must be a whole number of seconds, 1 or more", field=name)
    return int(value)


_SetBy = Annotated[
    str, IDENT_RULE, About(IDENT, "who set it: a person, a rule's name or a service (kept for the audit)")
]


class _RiskFact(_Message):
    """A fact about risk (a limit, a trading state): it names no order."""

    set_by: _SetBy
    reason: Reason | None = None

    # No order key and no venue: what ingest reads of every message says so.
    client_order_id: ClassVar[None] = None
    venue: ClassVar[None] = None
    venue_order_id: ClassVar[None] = None
    aliases: ClassVar[dict[str, str]] = {}


class _LimitKey(_RiskFact):
    scope: Annotated[
        str,
        one_of(LIMIT_SCOPES),
        About(" or ".join(f"`{s}`" for s in LIMIT_SCOPES), "what the limit applies to (see docs/risk.md)"),
    ]
    target: Annotated[
        str,
        IDENT_RULE,
        About(IDENT, "the account, underlying or instrument, or a tag as `NAME=VALUE` (`strategy=mm`)"),
    ]
    kind: Annotated[
        str,
        one_of(tuple(LIMIT_KINDS)),
        About(" or ".join(f"`{k}`" for k in LIMIT_KINDS), "which figure the limit bounds (see docs/risk.md)"),
    ]


class LimitSetMessage(_LimitKey):
    """A risk limit, in force from `ts` until set again or cleared."""

    type: Literal["limit_set"]
    needs: ClassVar[str] = (
        "`interval` for a `max_orders` limit (and only for it); `response` only for a"
        f" {' or '.join(f'`{k}`' for k in RESPONDING)} limit"
    )
    value: Annotated[
        Decimal,
        LIMIT_VALUE_RULE,
        About(LIMIT_VALUE, "the most the figure may be (quantity, notional, loss or a count)"),
    ]
    interval: (
        Annotated[
            int, Rule(_seconds), About("whole number of seconds", "the window `max_orders` counts over")
        ]
        | None
    ) = None
    response: (
        Annotated[
            str,
            one_of(tuple(RESPONSES)),
            About(
                " or ".join(f"`{r}`" for r in RESPONSES),
                "the trading state the ledger sets the account to once its figure passes the limit"
                " (default `reduce_only`; see docs/risk.md)",
            ),
        ]
        | None
    ) = None


class LimitClearedMessage(_LimitKey):
    """A risk limit no longer applies from `ts`."""

    type: Literal["limit_cleared"]


class TradingStateMessage(_RiskFact):
    """An account's trading state (every account's when `account` is absent), from `ts`."""

    type: Literal["trading_state"]
    account: Account | None = None
    state: Annotated[
        str,
        one_of(TRADING_STATES),
        About(
            " or ".join(f"`{s}`" for s in TRADING_STATES),
            "`halted`: no order; `reduce_only`: only orders that shrink the position; `active`",
        ),
    ]
    until: (
        Annotated[
            datetime,
            TIME_RULE,
            About(
                "string, ISO 8601 with `Z` or an offset",
                "when the state lifts itself (a cooldown): after it, the state set before applies again",
            ),
        ]
        | None
    ) = None


AnyMessage = (
    RequestMessage
    | HeldMessage
    | AcceptedMessage
    | RejectedMessage
    | FillMessage
    | CancelRequestedMessage
    | CanceledMessage
    | ReinstatedMessage
    | CancelRejectedMessage
    | AmendRequestedMessage
    | AmendedMessage
    | AmendRejectedMessage
    | ExpiredMessage
    | TriggeredMessage
    | FillBustedMessage
    | FillCorrectedMessage
    | InstrumentMessage
    | CashFlowMessage
    | MarkMessage
    | LimitSetMessage
    | LimitClearedMessage
    | TradingStateMessage
)
Message = Annotated[AnyMessage, Field(discriminator="type")]
"""One validated inbound message: the union of the kinds, told apart by ``type``."""

KINDS: dict[str, type[BaseModel]] = {
    get_args(model.model_fields["type"].annotation)[0]: model for model in get_args(AnyMessage)
}
"""Each message type's model, in the order the docs list them."""
FIELDS: dict[str, frozenset[str]] = {kind: frozenset(model.model_fields) for kind, model in KINDS.items()}
"""The fields each type accepts (``type`` included)."""
TYPES = tuple(KINDS)
_KEEP_NULL = frozenset({"type", "ts", "external", "inferred"})
"""Keys whose JSON null is an error rather than "absent"."""


def _validate(data: dict[str, Any]) -> Message:
    """``data`` validated as the discriminated union ``Message`` validates it: by the model of the
    kind its ``type`` names (a ValidationError, or an error of the model's rules, when it refuses;
    a MessageError when ``type`` names no kind, which ``parse_message`` words)."""
    kind = data.get("type")
    model = KINDS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise MessageError("no message kind of that type")
    validated: Message = model.__pydantic_validator__.validate_python(data)
    return validated


def parse_message(data: Any, default_source: str = "ingest") -> Message:
    """Validate one decoded JSON object into its message kind; one-line errors."""
    if default_source != "ingest" and isinstance(data, dict) and data.get("source") is None:
        data = {**data, "source": default_source}
    if type(data) is dict and None not in data.values():
        # Validated first: the checks below only choose the words when the message is refused
        # (a message the models accept passes them all), so they are made then, in their order.
        try:
            return _validate(data)
        except Exception:  # refused (or a rule failed): the checks below say why, in their order
            pass
    if not isinstance(data, dict):
        raise MessageError("a message must be a JSON object")
    kind = data.get("type")
    accepted = FIELDS.get(kind) if isinstance(kind, str) else None
    if accepted is None:
        shown = kind if isinstance(kind, str) else type(kind).__name__
        raise MessageError(f"unknown message type {str(shown)[:40]!r} (expected one of {', '.join(TYPES)})")
    if not accepted.issuperset(data):
        unknown = sorted(set(data) - accepted)
        raise MessageError(f"unknown field {unknown[0][:40]!r} for type {kind}")
    if "ts" not in data:
        raise InvalidInputError("ts is required (ISO 8601 with Z or a UTC offset)", field="ts")
    if None in data.values():
        data = {k: v for k, v in data.items() if v is not None or k in _KEEP_NULL}
    try:
        return _validate(data)
    except ValidationError as error:
        problem = _one_line(error)
    # Raised outside the handler, and without the validator's frames: neither the pydantic error
    # nor those frames (which hold the input, up to a megabyte) stay referenced by the error. The
    # name is dropped as it leaves, else this frame (in the error's traceback) and the error would
    # hold each other: a cycle only the garbage collector frees, keeping the input until then.
    problem.__traceback__ = None
    try:
        raise problem
    finally:
        del problem


M = TypeVar("M", bound=BaseModel)
"""A message model type (what ``build`` makes is of the model it is given)."""
_TYPE_OF: dict[type[BaseModel], str] = {model: kind for kind, model in KINDS.items()}


def build(model: type[M], data: dict[str, Any]) -> M:
    """A message of type ``model`` from its JSON-ready fields (``type`` left out, added here to
    ``data``; no None values), validated once, as ``parse_message`` validates the same object:
    what an adapter builds is what ingest books, never validated again; a refusal is
    ``parse_message``'s one-line reason."""
    data["type"] = _TYPE_OF[model]
    try:
        return model.__pydantic_validator__.validate_python(data)
    except Exception:  # refused (or a rule failed): parse_message says why, in its words
        pass
    parse_message(data)
    raise AssertionError(f"{model.__name__} refused what the union accepts")  # pragma: no cover


def _one_line(error: ValidationError) -> LedgerError:
    """The first problem pydantic found, as the ledger's one-line error."""
    first = next(e for e in error.errors(include_url=False) if e["type"] != UNCOMMON)
    cause = first.get("ctx", {}).get("error")
    if isinstance(cause, LedgerError):
        return cause
    name = str(first["loc"][-1]) if first["loc"] else "message"
    if first["type"] == "missing":
        return InvalidInputError(f"{name} is required", field=name)
    return MessageError(f"{name}: {first['msg']}")  # pragma: no cover - every rule raises its own


def message_from_line(line: str | bytes, default_source: str = "ingest") -> Message:
    """Decode and validate one JSON line."""
    data = read_fast(line) if type(line) is bytes else None
    if data is None:
        data = decode_json(line)
    elif default_source == "ingest" and None not in data.values():
        try:
            return _validate(data)  # what parse_message returns when it accepts the message
        except Exception:  # refused: parse_message says why
            pass
    return parse_message(data, default_source)


def message_to_json(message: Message) -> bytes:
    """The ledger-format JSON line of a message (used to keep parked adapter messages)."""
    # orjson writes what json.dumps(separators=(",", ":"), ensure_ascii=False) writes for these
    # values (text, numbers as text, flags, tags), an order of magnitude faster.
    return orjson.dumps(json_ready(message))


def json_ready(message: Message) -> dict[str, Any]:
    """A message's ledger-format fields as JSON-ready values (``type`` first, the rest by name),
    leaving out what is absent: what ``parse_message`` reads back as the same message."""
    data: dict[str, Any] = {"type": message.type}
    model = type(message)
    names = _SORTED.get(model)
    if names is None:
        names = _SORTED[model] = tuple(
            (name, model.model_fields[name].default is False)
            for name in sorted(set(model.model_fields) - {"type"})
        )
    for name, false_is_absent in names:
        value = getattr(message, name)
        kind = type(value)
        # The values most fields hold first, by their exact type (a whole session fed in random
        # order parks about a third of its messages, each written here).
        if kind is str:
            data[name] = value
            continue
        if kind is Decimal:
            data[name] = format_decimal(value)
            continue
        if value is None or value == {} or (value is False and false_is_absent):
            continue
        if isinstance(value, datetime):
            value = format_timestamp(value)
        elif isinstance(value, Decimal):
            value = format_decimal(value)
        elif isinstance(value, StrEnum):
            value = value.value
        data[name] = value
    return data


_SORTED: dict[type[BaseModel], tuple[tuple[str, bool], ...]] = {}
"""Each model's fields but ``type``, in the order ``message_to_json`` writes them (by name), each
with whether False is its default (then left out, as absent): a flag whose default is None
(``post_only``) keeps its False."""
