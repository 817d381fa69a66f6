"""The ledger's JSON-lines message format: one object per line, ``type`` says which fact.

Each type is one pydantic model (``RequestMessage``, ``FillMessage`` …) and ``Message`` is their
union, told apart by ``type``: parsing, validation, ``message_to_json``, the field lists and
the field tables of docs/messages.md (``scripts/docs_tables.py``) all come from these models.
A request's fields are declared once, by the domain (``OrderSpec``); here each gets its rule.

Parsing is exact (JSON numbers become Decimal without passing through float) and strict:
unknown types, unknown fields, duplicate keys, NaN and naive times are refused with a
one-line reason. See docs/messages.md.

Speed: a line without escapes or numbers is read by orjson, and everyday values are checked by
pydantic-core itself (each ``Rule``'s common form); anything else takes the exact decoder and the
rules' own checks, so the result, or the reason for a refusal, is the same either way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import Field as Field_
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Self, get_args

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    create_model,
    model_validator,
)
from pydantic_core import CoreSchema
from pydantic_core import core_schema as cs

from orderledger.domain.cash_flows import CASH_FLOW_KINDS
from orderledger.domain.errors import InvalidInputError, LedgerError
from orderledger.domain.events import OrderSpec
from orderledger.domain.instrument import Definition
from orderledger.domain.order import SPEC_FIELDS, external_client_order_id, spec_values
from orderledger.domain.values import (
    IDENTIFIER_FORM,
    MAX_DIGITS,
    MAX_TEXT_LENGTH,
    POSITIVE_FORM,
    SIGNED_FORM,
    UTC_TIME_FORM,
    Liquidity,
    OrderType,
    Side,
    format_decimal,
    format_timestamp,
    parse_decimal,
    parse_identifier,
    parse_positive,
    parse_text,
    parse_timestamp,
)
from orderledger.infrastructure.errors import MessageError
from orderledger.infrastructure.storage.codecs import construct

MAX_LINE_BYTES = 1_000_000
MAX_MAP_ENTRIES = 32
MAX_DEPTH = 64
"""Deepest nesting of arrays and objects a line may have: far beyond any message or venue payload,
far below where a recursive reader (the JSON decoder, validation) would run out of stack."""
_NESTING: dict[type, re.Pattern[Any]] = {
    str: re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]'),
    bytes: re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]'),
}
_OPENERS: dict[type, tuple[Any, Any]] = {str: ("[", "{"), bytes: (b"[", b"{")}
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _no_constants(name: str) -> Any:
    raise MessageError(f"{name} is not a number the ledger accepts")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise MessageError(f"duplicate key {key!r}")
            seen.add(key)
    return result


def _int_exact(text: str) -> Decimal:
    if len(text) > 60:
        raise MessageError("integer literal is too long")
    return Decimal(text)


def _float_exact(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:  # an exponent beyond what any Decimal holds (1e99999999999999999999)
        raise MessageError(f"number {text[:40]} is out of range") from None


def _holds_surrogate(value: Any) -> bool:
    """True when any string in a decoded JSON value (keys included) has an unpaired surrogate."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


_DECODER = json.JSONDecoder(
    parse_float=_float_exact,
    parse_int=_int_exact,
    parse_constant=_no_constants,
    object_pairs_hook=_unique_keys,
)
"""One decoder for every line (json.loads with options builds a new one per call)."""


def check_depth(line: str | bytes) -> None:
    """Refuse a line whose arrays and objects nest deeper than MAX_DEPTH (brackets inside strings
    do not count); a line with fewer brackets than that is passed at the cost of two counts."""
    kind = type(line)
    opener, brace = _OPENERS[kind]
    if line.count(opener) + line.count(brace) <= MAX_DEPTH:
        return
    depth = 0
    for token in _NESTING[kind].finditer(line):
        first = token.group()[:1]
        if first in (opener, brace):
            depth += 1
            if depth > MAX_DEPTH:
                raise MessageError(f"JSON is nested deeper than {MAX_DEPTH} levels")
        elif len(token.group()) == 1:
            depth -= 1


def decode_json(line: str | bytes) -> Any:
    """JSON with exact decimals; NaN/Infinity, duplicate keys, nesting deeper than MAX_DEPTH and
    text that is not Unicode refused."""
    if len(line) > MAX_LINE_BYTES:
        raise MessageError(f"line is longer than {MAX_LINE_BYTES} bytes")
    check_depth(line)
    if isinstance(line, bytes):
        # Strictly UTF-8 (json.loads would guess UTF-16/32 and let CESU-8 surrogates through);
        # a leading byte order mark, as some editors write, is not part of the line.
        try:
            text = line.decode("utf-8").removeprefix("\ufeff")
        except UnicodeDecodeError as error:
            raise MessageError(
                f"malformed JSON: not UTF-8 (byte {line[error.start]:#04x} at {error.start})"
            ) from None
    else:
        text = line
    try:
        if text.startswith("\ufeff"):  # what json.loads says of a text that starts with a BOM
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        value = _DECODER.decode(text)
    except MessageError:
        raise
    except (ValueError, UnicodeDecodeError) as error:
        raise MessageError(f"malformed JSON: {str(error).splitlines()[0][:200]}") from None
    # A \\ud800 escape decodes to a lone surrogate: not a character, and no store can encode it.
    if (_SURROGATE.search(text) or _SURROGATE_ESCAPE.search(text)) and _holds_surrogate(value):
        raise MessageError("text holds an unpaired UTF-16 surrogate (\\ud800-\\udfff), which is not Unicode")
    return value


def _strings(value: dict[str, Any]) -> int:
    """How many strings an object holds, keys included; -1 if it holds a number or a list."""
    count = 0
    for item in value.values():
        kind = type(item)
        if kind is str:
            count += 1
        elif kind is dict:
            inner = _strings(item)
            if inner < 0:
                return -1
            count += inner
        elif kind is not bool and item is not None:
            return -1
    return count + len(value)


_ORJSON_BYTES = 1 << 16
"""The longest line given to orjson, which takes about 13 times a line's length while it reads."""


def _read_fast(line: bytes) -> Any:
    """What ``decode_json`` makes of a line, by orjson; None when orjson cannot say the same.

    orjson refuses all that ``decode_json`` refuses but duplicate keys (it lets the last one
    win), and reads numbers as int or float, not as the exact Decimal. So it answers for an
    object of strings, true, false, null and such objects, in a line without escapes: there every
    ``"`` opens or closes a string, and a duplicate key shows as a string fewer than half the quotes.
    """
    if len(line) > _ORJSON_BYTES or b"\\" in line:
        return None
    check_depth(line)
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if type(value) is dict and 2 * _strings(value) == line.count(b'"'):
        return value
    return None


MAX_SCALE = 18


# ---------------------------------------------------------------------- field rules
#
# Each kind of field is one annotated type: how it is validated (a ``Rule``: a check that raises
# the ledger's one-line error, named after the field) and how the docs describe it (``About``).
# A key sent as JSON ``null`` counts as absent (``parse_message`` drops it first), so a
# validator only ever sees a value, and a required field left out is pydantic's "missing".

_UNCOMMON = "uncommon"
"""The error type of a value outside its rule's everyday form (the rule's check then decides)."""


@dataclass(frozen=True, slots=True, eq=False)  # hashed by identity: its schema is a dict
class Rule:
    """How a field is validated: ``check`` is the rule, raising the ledger's one-line error.

    ``common`` is the everyday form of the value as a pydantic-core schema, validated natively
    first: it accepts only values ``check`` accepts and gives the same result, so ``check``
    runs only for the rest (and for what it refuses, with its own words).
    """

    check: Callable[[Any, ValidationInfo], Any]
    common: CoreSchema | None = None

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        check = cs.with_info_plain_validator_function(self.check)
        if self.common is None:
            return check
        common = cs.custom_error_schema(
            self.common, _UNCOMMON, custom_error_message="not in the everyday form"
        )
        return cs.union_schema([common, check], mode="left_to_right")


def _form(pattern: str, max_length: int | None = None) -> CoreSchema:
    return cs.str_schema(pattern=f"^{pattern}$", max_length=max_length, strict=True)


_IDENT_FORM = _form(IDENTIFIER_FORM)


@dataclass(frozen=True, slots=True)
class About:
    """How the docs describe a field: its JSON shape and what it means."""

    shape: str
    meaning: str = ""


def _name(info: ValidationInfo) -> str:
    return info.field_name or "value"


def _ident(value: Any, info: ValidationInfo) -> str:
    return parse_identifier(value, _name(info))


def _positive(value: Any, info: ValidationInfo) -> Decimal:
    return parse_positive(value, _name(info))


def _signed(value: Any, info: ValidationInfo) -> Decimal:
    return parse_decimal(value, _name(info))


def _text(value: Any, info: ValidationInfo) -> str:
    return parse_text(value, _name(info))


def _flag(value: Any, info: ValidationInfo) -> bool:
    if not isinstance(value, bool):
        name = _name(info)
        raise InvalidInputError(f"{name} must be true or false", field=name)
    return value


def _timestamp(value: Any, info: ValidationInfo) -> datetime:
    return parse_timestamp(value, "ts")


def _labels(value: Any, info: ValidationInfo) -> dict[str, str]:
    name = _name(info)
    if not isinstance(value, dict):
        raise InvalidInputError(f"{name} must be an object of name → string", field=name)
    if len(value) > MAX_MAP_ENTRIES:
        raise InvalidInputError(f"{name} has more than {MAX_MAP_ENTRIES} entries", field=name)
    result = {}
    for key, item in value.items():
        key = parse_identifier(key, f"{name} name")
        if isinstance(item, Decimal):
            item = str(item)
        result[key] = parse_identifier(item, f"{name}.{key}")
    return result


def _one_of(allowed: tuple[str, ...], convert: Callable[[str], Any] = str) -> Rule:
    """A choice among lower-case words, given in any case."""

    def validate(value: Any, info: ValidationInfo) -> Any:
        name = _name(info)
        if not isinstance(value, str) or value.lower() not in allowed:
            raise InvalidInputError(
                f"{name} must be one of {'|'.join(allowed)}, not {str(value)[:40]!r}", field=name
            )
        return convert(value.lower())

    return Rule(validate)


def _enum(enum: type[StrEnum]) -> Rule:
    allowed = tuple(m.value for m in enum)

    def validate(value: Any, info: ValidationInfo) -> Any:
        name = _name(info)
        if not isinstance(value, str):
            raise InvalidInputError(f"{name} must be a string", field=name)
        if value.lower() not in allowed:
            raise InvalidInputError(
                f"{name} must be one of {'|'.join(allowed)}, not {value[:40]!r}", field=name
            )
        return enum(value.lower())

    return Rule(validate, cs.enum_schema(enum, list(enum), sub_type="str"))


def _scale(value: Any, info: ValidationInfo) -> int:
    name = _name(info)
    # In range before int(): int(Decimal("1E+999999999999999999")) would spell out every digit.
    if (
        isinstance(value, bool)
        or not isinstance(value, int | Decimal)
        or (isinstance(value, Decimal) and not value.is_finite())
        or not 0 <= value <= MAX_SCALE
        or value != int(value)
    ):
        raise InvalidInputError(f"{name} must be a whole number from 0 to {MAX_SCALE}", field=name)
    return int(value)


IDENT = "string identifier"
DECIMAL = "decimal (string or JSON number), > 0"
SIGNED = "decimal, any sign"
_IDENT = Rule(_ident, _IDENT_FORM)
_POSITIVE = Rule(_positive, cs.no_info_after_validator_function(Decimal, _form(POSITIVE_FORM, MAX_DIGITS)))
_SIGNED = Rule(_signed, cs.no_info_after_validator_function(Decimal, _form(SIGNED_FORM, MAX_DIGITS)))
_LABELS = Rule(_labels, cs.dict_schema(_IDENT_FORM, _IDENT_FORM, max_length=MAX_MAP_ENTRIES, strict=True))
_FLAG = Rule(_flag, cs.bool_schema(strict=True))
_LABELS_SHAPE = f"object, name → string (at most {MAX_MAP_ENTRIES})"

# The fields of order messages, each described once (a field several types carry is one type).
ClientOrderId = Annotated[str, _IDENT, About(IDENT, "our ID of the order: the key it keeps for life")]
Venue = Annotated[
    str,
    _IDENT,
    About(
        IDENT,
        "the trading venue; on a `request`, the order's venue; elsewhere, the namespace for"
        " `venue_order_id` and `aliases` when there is no `client_order_id`",
    ),
]
VenueOrderId = Annotated[
    str,
    _IDENT,
    About(IDENT, "the venue's ID of the order; see [venue order IDs](#venue-order-ids-on-messages)"),
]
Aliases = Annotated[
    dict[str, str],
    _LABELS,
    About(
        _LABELS_SHAPE,
        'extra venue identities, e.g. `{"client_index":"5521"}` for a venue that wants a numeric client ID',
    ),
]
Account = Annotated[str, _IDENT, About(IDENT, "the trading account")]
Instrument = Annotated[str, _IDENT, About(IDENT, "what is traded, e.g. `BTC-USDT`, `ETH/USDT:USDT`")]
_STATED = (
    " (required on a `request`); on any other order message, optional: what the venue's report"
    " states of the order, and a report stating another account, instrument or side than the"
    " order's is refused"
)
OrderAccount = Annotated[str, _IDENT, About(IDENT, f"the order's trading account{_STATED}")]
OrderInstrument = Annotated[
    str, _IDENT, About(IDENT, f"what the order trades, e.g. `BTC-USDT`, `ETH/USDT:USDT`{_STATED}")
]
SideField = Annotated[Side, _enum(Side), About('`"buy"` or `"sell"` (any case)', f"direction{_STATED}")]
OrderTypeField = Annotated[
    OrderType, _enum(OrderType), About('`"limit"` or `"market"` (any case)', "how the order is priced")
]
Quantity = Annotated[
    Decimal,
    _POSITIVE,
    About(
        DECIMAL,
        "`request`: order quantity. `fill`: quantity of this execution. `amend_requested`/`amended`:"
        " the new **total** quantity, fills included. `fill_corrected`: the trade's corrected quantity",
    ),
]
Price = Annotated[
    Decimal,
    _POSITIVE,
    About(
        "decimal, > 0",
        "`request`: limit price (required for `limit`, optional for `market`). `fill`: execution"
        " price. `amend_*`: new limit price. `fill_corrected`: corrected price",
    ),
]
TimeInForce = Annotated[
    str, _IDENT, About(IDENT, "kept as given (`GTC`, `IOC`, …); the ledger does not interpret it")
]
QuoteCurrency = Annotated[
    str,
    _IDENT,
    About(
        IDENT,
        "the currency prices and P&L are in. If absent, taken from the instrument: the part after"
        " `-` or `/` (`BTC-USDT` → `USDT`, `ETH/USDT:USDT` → `USDT`); an instrument without a"
        " separator has none",
    ),
]
Tags = Annotated[
    dict[str, str],
    _LABELS,
    About(
        _LABELS_SHAPE,
        'free labels (`{"strategy":"mm"}`); copied onto every fill and P&L entry, groupable with'
        " `pnl --by tag:NAME`",
    ),
]
ParentId = Annotated[
    str,
    _IDENT,
    About(
        IDENT,
        "the parent of a child order: an algo's slice, or the proposal (signal, intent) the order"
        " was placed for; copied onto fills. Set by the caller, or by an adapter from the venue's"
        " own field (Tradier: the multi-leg parent). Set once: a later report can add it to an"
        " order that had none, never change it. Queried with `orders --parent P`, `trades --parent"
        " P` and `pnl --by parent` ([semantics](semantics.md#proposal--order--trade-by-parent))",
    ),
]
External = Annotated[
    bool,
    _FLAG,
    About(
        "`true` / `false`",
        "the order was created outside this system (placed in a venue's UI, a liquidation,"
        " reconciliation). With `true`, `client_order_id` may be left out when `venue_order_id` is"
        " given: see [orders without a client order ID](#orders-without-a-client-order-id)",
    ),
]
TradeId = Annotated[
    str,
    _IDENT,
    About(
        IDENT,
        "the venue's execution ID; unique per order, and the key that makes re-delivered fills duplicates",
    ),
]
Fee = Annotated[
    Decimal,
    _SIGNED,
    About(SIGNED, "fee charged on this fill (negative for a rebate); on `fill_corrected`, the corrected fee"),
]
FeeCurrency = Annotated[str, _IDENT, About(IDENT, "currency of `fee`")]
LiquidityField = Annotated[
    Liquidity,
    _enum(Liquidity),
    About('`"maker"` or `"taker"` (any case)', "whether the fill added or took liquidity"),
]
Inferred = Annotated[
    bool,
    _FLAG,
    About(
        "`true` / `false`",
        "the fill was deduced (by reconciliation) from the venue's cumulative quantity rather"
        " than reported as a trade",
    ),
]
VenueRealizedPnl = Annotated[
    Decimal,
    _SIGNED,
    About(
        SIGNED,
        "the realized P&L the venue itself reports for this fill (Binance `rp`, Bybit `execPnl`, OKX"
        " `fillPnl`, Hyperliquid `closedPnl`): kept on the event to compare with the ledger's own"
        " figure, never booked",
    ),
]
Reason = Annotated[
    str,
    Rule(_text, cs.str_schema(max_length=MAX_TEXT_LENGTH, strict=True)),
    About(
        f"string, free text ≤ {MAX_TEXT_LENGTH} characters",
        "why (reject reason, cancel reason, bust reason …); kept on the event",
    ),
]
Timestamp = Annotated[
    datetime,
    Rule(_timestamp, cs.no_info_after_validator_function(datetime.fromisoformat, _form(UTC_TIME_FORM))),
    About(
        "string, ISO 8601 with `Z` or an offset",
        "when it happened at the venue (`ts_event`); see [timestamps](#timestamps)",
    ),
]
Source = Annotated[
    str,
    _IDENT,
    About(IDENT, "who reported the fact; stored on every event (default `ingest`)"),
]


# ---------------------------------------------------------------------- message kinds


class _Message(BaseModel):
    """What every message carries: when it happened and who says so."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=False)

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


# A request's fields are the domain's request (OrderSpec): their names, order and defaults come
# from there, and each one's rule from _REQUEST_RULES. _Request holds the rest of the message.


class _Request(_Message):
    """We are about to send this order (recorded *before* it goes to the venue)."""

    type: Literal["request"]
    needs: ClassVar[str] = (
        "`client_order_id` (or, with `external`, `venue_order_id`) and `venue`;"
        " `price` when `order_type` is `limit`"
    )

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.order_type is OrderType.LIMIT and self.price is None:
            raise InvalidInputError("price is required", field="price")
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

    def spec(self) -> OrderSpec:
        """The order this request describes (the same fields, less the message header)."""
        return construct(OrderSpec, dict(zip(SPEC_FIELDS, spec_values(self), strict=True)))

    if TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any: ...


_REQUEST_RULES: dict[str, Any] = {
    "client_order_id": ClientOrderId,
    "venue": Venue,
    "venue_order_id": VenueOrderId,
    "aliases": Aliases,
    "account": OrderAccount,
    "instrument": OrderInstrument,
    "side": SideField,
    "order_type": OrderTypeField,
    "quantity": Quantity,
    "price": Price,
    "time_in_force": TimeInForce,
    "quote_currency": QuoteCurrency,
    "tags": Tags,
    "parent_id": ParentId,
    "external": External,
}
"""The rule of each field of a request; its name, place and default are the domain's OrderSpec's."""

_ORDER_KEYS = {
    name: _OrderMessage.model_fields[name]
    for name in ("client_order_id", "venue", "venue_order_id", "aliases")
}
"""How every order message names its order (a request too): first, and each optional, since a
request without a client order ID may have one derived (``_Request._complete``)."""


def _request_field(name: str) -> tuple[Any, Any]:
    """The message field for one field of a request: its rule, required or defaulted as the
    domain's request has it (the order keys as every order message has them)."""
    info = _ORDER_KEYS[name] if name in _ORDER_KEYS else OrderSpec.model_fields[name]
    rule = _REQUEST_RULES[name]
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
        **{name: _request_field(name) for name in dict.fromkeys([*_ORDER_KEYS, *OrderSpec.model_fields])},
    )


class AcceptedMessage(_OrderMessage):
    """The venue acknowledged the order."""

    type: Literal["accepted"]


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
    venue: Annotated[str, _IDENT, About(IDENT, "the venue")]
    instrument: Annotated[
        str,
        _IDENT,
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
        rule: Any = _one_of(choices)
    elif item.type in ("Decimal", "Decimal | None"):
        rule = _POSITIVE
    elif item.type == "int | None":
        rule = Rule(_scale)
    else:
        rule = _IDENT
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

    venue: Annotated[str, _IDENT, About(IDENT, "the venue")]
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
        _one_of(CASH_FLOW_KINDS),
        About(
            " or ".join(f"`{k}`" for k in CASH_FLOW_KINDS),
            "what the payment is: a perpetual's `funding`, borrow `interest`, a `rebate`",
        ),
    ]
    flow_id: Annotated[
        str,
        _IDENT,
        About(
            IDENT,
            "the venue's ID of the payment: the same ID again is a duplicate, with another amount"
            " a clear error",
        ),
    ]
    amount: Annotated[
        Decimal,
        _SIGNED,
        About(SIGNED, "what the position received (positive) or paid (negative)"),
    ]
    currency: Annotated[str, _IDENT, About(IDENT, "the currency of `amount`")]
    rate: Annotated[Decimal, _SIGNED, About(SIGNED, "the rate the venue applied (a funding rate)")] | None = (
        None
    )
    position_quantity: (
        Annotated[Decimal, _SIGNED, About(SIGNED, "the signed position size the venue charged it on")] | None
    ) = None
    tags: Tags = Field(default_factory=dict)


class MarkMessage(_PositionFact):
    """A price of an instrument at a time (`ts`), from a source: what unrealized P&L is valued at."""

    type: Literal["mark"]
    price: Annotated[Decimal, _POSITIVE, About(DECIMAL, "the mark price")]


AnyMessage = (
    RequestMessage
    | AcceptedMessage
    | RejectedMessage
    | FillMessage
    | CancelRequestedMessage
    | CanceledMessage
    | CancelRejectedMessage
    | AmendRequestedMessage
    | AmendedMessage
    | AmendRejectedMessage
    | ExpiredMessage
    | FillBustedMessage
    | FillCorrectedMessage
    | InstrumentMessage
    | CashFlowMessage
    | MarkMessage
)
Message = Annotated[AnyMessage, Field(discriminator="type")]
"""One validated inbound message: the union of the kinds, told apart by ``type``."""

_ADAPTER: TypeAdapter[AnyMessage] = TypeAdapter(Message)
KINDS: dict[str, type[BaseModel]] = {
    get_args(model.model_fields["type"].annotation)[0]: model for model in get_args(AnyMessage)
}
"""Each message type's model, in the order the docs list them."""
FIELDS: dict[str, frozenset[str]] = {kind: frozenset(model.model_fields) for kind, model in KINDS.items()}
"""The fields each type accepts (``type`` included)."""
TYPES = tuple(KINDS)
_KEEP_NULL = frozenset({"type", "ts", "external", "inferred"})
"""Keys whose JSON null is an error rather than "absent"."""
_validate = _ADAPTER.validator.validate_python


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


def _one_line(error: ValidationError) -> LedgerError:
    """The first problem pydantic found, as the ledger's one-line error."""
    first = next(e for e in error.errors(include_url=False) if e["type"] != _UNCOMMON)
    cause = first.get("ctx", {}).get("error")
    if isinstance(cause, LedgerError):
        return cause
    name = str(first["loc"][-1]) if first["loc"] else "message"
    if first["type"] == "missing":
        return InvalidInputError(f"{name} is required", field=name)
    return MessageError(f"{name}: {first['msg']}")  # pragma: no cover - every rule raises its own


def message_from_line(line: str | bytes, default_source: str = "ingest") -> Message:
    """Decode and validate one JSON line."""
    data = _read_fast(line) if type(line) is bytes else None
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
    data: dict[str, Any] = {"type": message.type}
    model = type(message)
    names = _SORTED.get(model)
    if names is None:
        names = _SORTED[model] = tuple(sorted(set(model.model_fields) - {"type"}))
    for name in names:
        value = getattr(message, name)
        if value is None or value == {} or value is False:
            continue
        if isinstance(value, datetime):
            value = format_timestamp(value)
        elif isinstance(value, Decimal):
            value = format_decimal(value)
        elif isinstance(value, StrEnum):
            value = value.value
        data[name] = value
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


_SORTED: dict[type[BaseModel], tuple[str, ...]] = {}
"""Each model's fields but ``type``, in the order ``message_to_json`` writes them (by name)."""
