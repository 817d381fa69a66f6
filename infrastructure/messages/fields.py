"""The rules of the message fields: each kind of field is one annotated type, saying how it is
validated (a ``Rule``) and how docs/messages.md describes it (``About``). The message models of
:mod:`models` are made of these types.

Speed: everyday values are checked by pydantic-core itself (each ``Rule``'s common form);
anything else takes the rule's own check, so the result, or the reason for a refusal, is the
same either way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import GetCoreSchemaHandler, ValidationInfo
from pydantic_core import CoreSchema
from pydantic_core import core_schema as cs

from orderledger.domain import values
from orderledger.domain.errors import InvalidInputError
from orderledger.domain.events import REQUEST_FIELDS, OrderSpec
from orderledger.domain.order_fields import Check, Says, field_markers
from orderledger.domain.values import (
    IDENTIFIER_FORM,
    MAX_DIGITS,
    MAX_MONEY_PLACES,
    MAX_PLACES,
    MAX_TEXT_LENGTH,
    POSITIVE_FORM,
    SIGNED_FORM,
    UTC_TIME_FORM,
    Liquidity,
    Side,
    check_places,
    parse_decimal,
    parse_identifier,
    parse_positive,
    parse_text,
    parse_timestamp,
    within_places,
)
from orderledger.infrastructure.messages.exact_json import MAX_MAP_ENTRIES

MAX_SCALE = 18


# ---------------------------------------------------------------------- field rules
#
# Each kind of field is one annotated type: how it is validated (a ``Rule``: a check that raises
# the ledger's one-line error, named after the field) and how the docs describe it (``About``).
# A key sent as JSON ``null`` counts as absent (``parse_message`` drops it first), so a
# validator only ever sees a value, and a required field left out is pydantic's "missing".

UNCOMMON = "uncommon"
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
            self.common, UNCOMMON, custom_error_message="not in the everyday form"
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


def _figure(rule: Rule, most: int) -> Rule:
    """``rule`` for a recorded figure: also at most ``most`` decimal places (what the lake keeps)."""

    def places(value: Decimal, info: ValidationInfo) -> Decimal:
        if within_places(value, most):
            return value  # the everyday case, without naming the field
        return check_places(value, _name(info), most)

    def check(value: Any, info: ValidationInfo) -> Decimal:
        return places(rule.check(value, info), info)

    assert rule.common is not None
    # The everyday form is plain notation (no exponent): its places are the digits after the
    # point, checked by the pattern before the rule's own form makes the Decimal.
    within = cs.str_schema(pattern=rf"^[^.]*(?:\.[0-9]{{0,{most}}})?$", strict=True)
    return Rule(check, cs.chain_schema([within, rule.common]))


def _text(value: Any, info: ValidationInfo) -> str:
    return parse_text(value, _name(info))


def _flag(value: Any, info: ValidationInfo) -> bool:
    if not isinstance(value, bool):
        name = _name(info)
        raise InvalidInputError(f"{name} must be true or false", field=name)
    return value


def _timestamp(value: Any, info: ValidationInfo) -> datetime:
    return parse_timestamp(value, _name(info))


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


def one_of(allowed: tuple[str, ...], convert: Callable[[str], Any] = str) -> Rule:
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


def scale(value: Any, info: ValidationInfo) -> int:
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
IDENT_RULE = Rule(_ident, _IDENT_FORM)
POSITIVE_RULE = Rule(
    _positive, cs.no_info_after_validator_function(Decimal, _form(POSITIVE_FORM, MAX_DIGITS))
)
SIGNED_RULE = Rule(_signed, cs.no_info_after_validator_function(Decimal, _form(SIGNED_FORM, MAX_DIGITS)))
FIGURE_RULE = _figure(POSITIVE_RULE, MAX_PLACES)
"""What a recorded figure is held to, wherever it comes in: a quantity, a price, a mark's price
(positive, at most ``MAX_PLACES`` decimal places: the one rule for their places)."""
LIMIT_VALUE_RULE = _figure(SIGNED_RULE, MAX_PLACES)
"""A limit's value: a figure's places (``MAX_PLACES``); zero or more (``domain.risk``)."""
SIGNED_FIGURE_RULE = _figure(SIGNED_RULE, MAX_MONEY_PLACES)
FIGURE = f"{DECIMAL}, at most {MAX_PLACES} decimal places"
SIGNED_FIGURE = f"{SIGNED}, at most {MAX_MONEY_PLACES} decimal places"
LIMIT_VALUE = f"decimal, 0 or more, at most {MAX_PLACES} decimal places"
_LABELS = Rule(_labels, cs.dict_schema(_IDENT_FORM, _IDENT_FORM, max_length=MAX_MAP_ENTRIES, strict=True))
_FLAG = Rule(_flag, cs.bool_schema(strict=True))
_LABELS_SHAPE = f"object, name → string (at most {MAX_MAP_ENTRIES})"


def _identifiers(value: Any, info: ValidationInfo) -> list[str]:
    name = _name(info)
    if not isinstance(value, list) or not value:
        raise InvalidInputError(f"{name} must be a non-empty list of strings", field=name)
    if len(value) > MAX_MAP_ENTRIES:
        raise InvalidInputError(f"{name} has more than {MAX_MAP_ENTRIES} entries", field=name)
    return [parse_identifier(item, f"{name}[{at}]") for at, item in enumerate(value)]


_IDENTIFIERS = Rule(
    _identifiers, cs.list_schema(_IDENT_FORM, min_length=1, max_length=MAX_MAP_ENTRIES, strict=True)
)
_IDENTIFIERS_SHAPE = f"list of string identifiers (1 to {MAX_MAP_ENTRIES})"
_TIME_SHAPE = "string, ISO 8601 with `Z` or an offset"
TIME_RULE = Rule(
    _timestamp, cs.no_info_after_validator_function(datetime.fromisoformat, _form(UTC_TIME_FORM))
)

# The fields of order messages, each described once (a field several types carry is one type):
# a request's field says what it is in the domain's declaration (``OrderSpec``'s ``Says``), and
# the other messages' types of the same field take its words from there.
SAID: dict[str, Says] = field_markers(OrderSpec, Says)
"""What each field of a request says of itself: its check and its meaning."""
_CHECKS: dict[Check, tuple[Rule, str]] = {
    Check.IDENTIFIER: (IDENT_RULE, IDENT),
    Check.FIGURE: (FIGURE_RULE, FIGURE),
    Check.FLAG: (_FLAG, "`true` / `false`"),
    Check.LABELS: (_LABELS, _LABELS_SHAPE),
    Check.TIMESTAMP: (TIME_RULE, _TIME_SHAPE),
    Check.IDENTIFIERS: (_IDENTIFIERS, _IDENTIFIERS_SHAPE),
}
"""Each check's rule, and the JSON shape the docs give it."""


def _about(name: str) -> About:
    """How the docs describe the request's field ``name`` (and the same field of the other
    messages): its check's shape, its own meaning."""
    says = SAID[name]
    if says.check is Check.CHOICE:
        choices = _choices(name)
        return About(" or ".join(f'`"{m.value}"`' for m in choices) + " (any case)", says.meaning)
    return About(_CHECKS[says.check][1], says.meaning)


def _choices(name: str) -> type[StrEnum]:
    """The enumeration a request's field ``name`` is one of (its type in ``OrderSpec``)."""
    annotation = _plain(REQUEST_FIELDS[name].annotation)
    assert isinstance(annotation, type) and issubclass(annotation, StrEnum), name
    return annotation


def request_type(name: str) -> Any:
    """The message type of the request's field ``name``: its type in ``OrderSpec`` (without
    None and the domain's own annotations), the rule its ``Says`` marker names, and its words
    (``About``)."""
    says = SAID[name]
    rule = _enum(_choices(name)) if says.check is Check.CHOICE else _CHECKS[says.check][0]
    return Annotated[_plain(REQUEST_FIELDS[name].annotation), rule, _about(name)]


def _plain(annotation: Any) -> Any:
    """``annotation`` without None and without annotations (``DecimalStr | None``: Decimal)."""
    while True:
        if get_origin(annotation) in (Union, UnionType):
            annotation = next(arg for arg in get_args(annotation) if arg is not type(None))
        elif get_origin(annotation) is Annotated:
            annotation = get_args(annotation)[0]
        else:
            return annotation


ClientOrderId = Annotated[values.ClientOrderId, IDENT_RULE, _about("client_order_id")]
Venue = Annotated[str, IDENT_RULE, _about("venue")]
VenueOrderId = Annotated[values.VenueOrderId, IDENT_RULE, _about("venue_order_id")]
Aliases = Annotated[dict[str, str], _LABELS, _about("aliases")]
Account = Annotated[str, IDENT_RULE, About(IDENT, "the trading account")]
Instrument = Annotated[str, IDENT_RULE, About(IDENT, "what is traded, e.g. `BTC-USDT`, `ETH/USDT:USDT`")]
OrderAccount = Annotated[str, IDENT_RULE, _about("account")]
OrderInstrument = Annotated[str, IDENT_RULE, _about("instrument")]
SideField = Annotated[Side, _enum(Side), _about("side")]
Quantity = Annotated[Decimal, FIGURE_RULE, _about("quantity")]
Price = Annotated[Decimal, FIGURE_RULE, _about("price")]
Tags = Annotated[dict[str, str], _LABELS, _about("tags")]
TradeId = Annotated[
    values.TradeId,
    IDENT_RULE,
    About(
        IDENT,
        "the venue's execution ID; unique per order, and the key that makes re-delivered fills duplicates",
    ),
]
Fee = Annotated[
    Decimal,
    SIGNED_FIGURE_RULE,
    About(
        SIGNED_FIGURE,
        "fee charged on this fill (negative for a rebate); on `fill_corrected`, the corrected fee",
    ),
]
FeeCurrency = Annotated[str, IDENT_RULE, About(IDENT, "currency of `fee`")]
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
    SIGNED_RULE,
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


def _override(value: Any, info: ValidationInfo) -> dict[str, str]:
    name = _name(info)
    if not isinstance(value, dict) or set(value) != {"by", "reason"}:
        raise InvalidInputError(f'{name} must be an object {{"by": WHO, "reason": WHY}}', field=name)
    return {
        "by": parse_identifier(value["by"], f"{name}.by"),
        "reason": parse_text(value["reason"], f"{name}.reason"),
    }


Override = Annotated[
    dict[str, str],
    Rule(_override),
    About(
        '`{"by": WHO, "reason": WHY}`, both required',
        "a person with the risk role lets this one request of ours through the risk limits and"
        " trading states that would deny it; the breaches it passes, who and why are journaled"
        " with it (see docs/risk.md). Never recorded on the order",
    ),
]

Timestamp = Annotated[
    datetime,
    TIME_RULE,
    About(
        "string, ISO 8601 with `Z` or an offset",
        "when it happened at the venue (`ts_event`); see [timestamps](#timestamps)",
    ),
]
CanceledAt = Annotated[
    datetime,
    TIME_RULE,
    About(
        "string, ISO 8601 with `Z` or an offset",
        "the venue time (`ts`) of the `canceled` this withdraws",
    ),
]
Source = Annotated[
    str,
    IDENT_RULE,
    About(IDENT, "who reported the fact; stored on every event (default `ingest`)"),
]
