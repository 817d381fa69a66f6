"""The ledger's JSON-lines message format: one object per line, ``type`` says which fact.

Parsing is exact (JSON numbers become Decimal without passing through float) and strict:
unknown types, unknown fields, duplicate keys, NaN and naive times are refused with a
one-line reason. See docs/messages.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.instrument import Definition
from orderledger.domain.order import external_client_order_id
from orderledger.domain.values import (
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

MAX_LINE_BYTES = 1_000_000
MAX_MAP_ENTRIES = 32
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

COMMON = {"type", "client_order_id", "venue", "venue_order_id", "aliases", "ts", "source"}
FIELDS: dict[str, set[str]] = {
    "request": COMMON
    | {
        "account",
        "instrument",
        "side",
        "order_type",
        "quantity",
        "price",
        "time_in_force",
        "quote_currency",
        "tags",
        "parent_id",
        "external",
    },
    "accepted": COMMON,
    "rejected": COMMON | {"reason"},
    "fill": COMMON
    | {"trade_id", "quantity", "price", "fee", "fee_currency", "liquidity", "inferred", "venue_realized_pnl"},
    "cancel_requested": COMMON,
    "canceled": COMMON | {"reason"},
    "cancel_rejected": COMMON | {"reason"},
    "amend_requested": COMMON | {"quantity", "price"},
    "amended": COMMON | {"quantity", "price"},
    "amend_rejected": COMMON | {"reason"},
    "expired": COMMON | {"reason"},
    "fill_busted": COMMON | {"trade_id", "reason"},
    "fill_corrected": COMMON | {"trade_id", "quantity", "price", "fee", "reason"},
    # An instrument's definition: not an order fact, so it carries no order key. Its fields
    # are the domain's Definition, named once there.
    "instrument": {"type", "venue", "instrument", "ts", "source", *(f.name for f in fields(Definition))},
}
INSTRUMENT_KINDS = ("spot", "swap", "future", "option", "equity", "other")
SETTLEMENTS = ("linear", "inverse")
OPTION_TYPES = ("call", "put")
MAX_SCALE = 18
TYPES = tuple(FIELDS)


@dataclass(frozen=True, slots=True)
class Message:
    """One validated inbound message."""

    type: str
    ts: datetime
    source: str
    client_order_id: str | None = None
    venue: str | None = None
    venue_order_id: str | None = None
    aliases: dict[str, str] = field(default_factory=dict)
    account: str | None = None
    instrument: str | None = None
    side: Side | None = None
    order_type: OrderType | None = None
    quantity: Decimal | None = None
    price: Decimal | None = None
    time_in_force: str | None = None
    quote_currency: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    parent_id: str | None = None
    trade_id: str | None = None
    fee: Decimal | None = None
    fee_currency: str | None = None
    liquidity: Liquidity | None = None
    reason: str | None = None
    external: bool = False
    inferred: bool = False
    venue_realized_pnl: Decimal | None = None
    # instrument definitions
    kind: str | None = None
    contract_size: Decimal | None = None
    settlement: str | None = None
    settle_currency: str | None = None
    base_currency: str | None = None
    underlying: str | None = None
    expiry: str | None = None
    strike: Decimal | None = None
    option_type: str | None = None
    price_scale: int | None = None
    quantity_scale: int | None = None
    security_id: str | None = None
    security_id_source: str | None = None


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


def decode_json(line: str | bytes) -> Any:
    """JSON with exact decimals; NaN/Infinity, duplicate keys and text that is not Unicode refused."""
    if len(line) > MAX_LINE_BYTES:
        raise MessageError(f"line is longer than {MAX_LINE_BYTES} bytes")
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
    except RecursionError:
        raise MessageError("JSON is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise MessageError(f"malformed JSON: {str(error).splitlines()[0][:200]}") from None
    # A \\ud800 escape decodes to a lone surrogate: not a character, and no store can encode it.
    if (_SURROGATE.search(text) or _SURROGATE_ESCAPE.search(text)) and _holds_surrogate(value):
        raise MessageError("text holds an unpaired UTF-16 surrogate (\\ud800-\\udfff), which is not Unicode")
    return value


def _timestamp(value: Any) -> datetime:
    if isinstance(value, str) and _CONTROL.search(value):
        # datetime.fromisoformat stops at a NUL: "2026-11-20T10:00:00Z\0junk" would pass.
        raise InvalidInputError("ts contains control characters", field="ts")
    try:
        return parse_timestamp(value, "ts")
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise InvalidInputError(f"ts is out of range: {str(value)[:40]!r}", field="ts") from None


def _ident(data: dict[str, Any], name: str, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            raise InvalidInputError(f"{name} is required", field=name)
        return None
    return parse_identifier(value, name)


def _mapping(data: dict[str, Any], name: str) -> dict[str, str]:
    value = data.get(name)
    if value is None:
        return {}
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


def _enum(data: dict[str, Any], name: str, enum: Any, required: bool = False) -> Any:
    value = data.get(name)
    if value is None:
        if required:
            raise InvalidInputError(f"{name} is required", field=name)
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"{name} must be a string", field=name)
    try:
        return enum(value.lower())
    except ValueError:
        allowed = "|".join(m.value for m in enum)
        raise InvalidInputError(f"{name} must be one of {allowed}, not {value[:40]!r}", field=name) from None


def _number(data: dict[str, Any], name: str, *, positive: bool, required: bool = False) -> Decimal | None:
    value = data.get(name)
    if value is None:
        if required:
            raise InvalidInputError(f"{name} is required", field=name)
        return None
    return parse_positive(value, name) if positive else parse_decimal(value, name)


def _flag(data: dict[str, Any], name: str) -> bool:
    value = data.get(name, False)
    if not isinstance(value, bool):
        raise InvalidInputError(f"{name} must be true or false", field=name)
    return value


def _text(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    return None if value is None else parse_text(value, name)


def parse_message(data: Any, default_source: str = "ingest") -> Message:
    """Validate one decoded JSON object into a :class:`Message`; one-line errors."""
    if not isinstance(data, dict):
        raise MessageError("a message must be a JSON object")
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in FIELDS:
        shown = kind if isinstance(kind, str) else type(kind).__name__
        raise MessageError(f"unknown message type {str(shown)[:40]!r} (expected one of {', '.join(TYPES)})")
    unknown = sorted(set(data) - FIELDS[kind])
    if unknown:
        raise MessageError(f"unknown field {unknown[0][:40]!r} for type {kind}")
    if "ts" not in data:
        raise InvalidInputError("ts is required (ISO 8601 with Z or a UTC offset)", field="ts")
    ts = _timestamp(data["ts"])
    source = _ident(data, "source") or default_source
    if kind == "instrument":
        return _instrument(data, ts, source)
    common: dict[str, Any] = {
        "type": kind,
        "ts": ts,
        "source": source,
        "client_order_id": _ident(data, "client_order_id"),
        "venue": _ident(data, "venue"),
        "venue_order_id": _ident(data, "venue_order_id"),
        "aliases": _mapping(data, "aliases"),
    }
    if kind == "request":
        external = _flag(data, "external")
        if external and common["client_order_id"] is None and common["venue"] and common["venue_order_id"]:
            # An order the venue reports without a client order ID (placed in its UI, a
            # liquidation, a caller that sent none): keyed by venue and venue order ID.
            common["client_order_id"] = external_client_order_id(common["venue"], common["venue_order_id"])
        order_type = _enum(data, "order_type", OrderType, required=True)
        price = _number(data, "price", positive=True, required=order_type is OrderType.LIMIT)
        _require_order_key(common, kind, need_client_id=True)
        return Message(
            **common,
            account=_ident(data, "account", required=True),
            instrument=_ident(data, "instrument", required=True),
            side=_enum(data, "side", Side, required=True),
            order_type=order_type,
            quantity=_number(data, "quantity", positive=True, required=True),
            price=price,
            time_in_force=_ident(data, "time_in_force"),
            quote_currency=_ident(data, "quote_currency"),
            tags=_mapping(data, "tags"),
            parent_id=_ident(data, "parent_id"),
            external=external,
        )
    _require_order_key(common, kind)
    if kind == "fill":
        return Message(
            **common,
            trade_id=_ident(data, "trade_id", required=True),
            quantity=_number(data, "quantity", positive=True, required=True),
            price=_number(data, "price", positive=True, required=True),
            fee=_number(data, "fee", positive=False),
            fee_currency=_ident(data, "fee_currency"),
            liquidity=_enum(data, "liquidity", Liquidity),
            inferred=_flag(data, "inferred"),
            venue_realized_pnl=_number(data, "venue_realized_pnl", positive=False),
        )
    if kind in ("amend_requested", "amended"):
        return Message(
            **common,
            quantity=_number(data, "quantity", positive=True),
            price=_number(data, "price", positive=True),
        )
    if kind == "fill_busted":
        return Message(
            **common, trade_id=_ident(data, "trade_id", required=True), reason=_text(data, "reason")
        )
    if kind == "fill_corrected":
        return Message(
            **common,
            trade_id=_ident(data, "trade_id", required=True),
            quantity=_number(data, "quantity", positive=True),
            price=_number(data, "price", positive=True),
            fee=_number(data, "fee", positive=False),
            reason=_text(data, "reason"),
        )
    return Message(**common, reason=_text(data, "reason"))


def _choice(data: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or value.lower() not in allowed:
        raise InvalidInputError(
            f"{name} must be one of {'|'.join(allowed)}, not {str(value)[:40]!r}", field=name
        )
    return value.lower()


def _scale(data: dict[str, Any], name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | Decimal) or value != int(value):
        raise InvalidInputError(f"{name} must be a whole number from 0 to {MAX_SCALE}", field=name)
    if not 0 <= int(value) <= MAX_SCALE:
        raise InvalidInputError(f"{name} must be a whole number from 0 to {MAX_SCALE}", field=name)
    return int(value)


def _instrument(data: dict[str, Any], ts: datetime, source: str) -> Message:
    """An instrument definition: what one unit of quantity is, and how P&L settles."""
    return Message(
        type="instrument",
        ts=ts,
        source=source,
        venue=_ident(data, "venue", required=True),
        instrument=_ident(data, "instrument", required=True),
        kind=_choice(data, "kind", INSTRUMENT_KINDS),
        contract_size=_number(data, "contract_size", positive=True),
        settlement=_choice(data, "settlement", SETTLEMENTS),
        settle_currency=_ident(data, "settle_currency"),
        base_currency=_ident(data, "base_currency"),
        quote_currency=_ident(data, "quote_currency"),
        underlying=_ident(data, "underlying"),
        expiry=_ident(data, "expiry"),
        strike=_number(data, "strike", positive=True),
        option_type=_choice(data, "option_type", OPTION_TYPES),
        price_scale=_scale(data, "price_scale"),
        quantity_scale=_scale(data, "quantity_scale"),
        security_id=_ident(data, "security_id"),
        security_id_source=_ident(data, "security_id_source"),
    )


def _require_order_key(common: dict[str, Any], kind: str, need_client_id: bool = False) -> bool:
    if need_client_id:
        if common["client_order_id"] is None:
            raise InvalidInputError("client_order_id is required for a request", field="client_order_id")
        if common["venue"] is None:
            raise InvalidInputError("venue is required for a request", field="venue")
        return True
    if common["client_order_id"] is None and common["venue"] is None:
        raise InvalidInputError(
            f"a {kind} message needs client_order_id, or venue with venue_order_id or aliases",
            field="client_order_id",
        )
    if common["client_order_id"] is None and not (common["venue_order_id"] or common["aliases"]):
        raise InvalidInputError(
            f"a {kind} message needs client_order_id, or venue with venue_order_id or aliases",
            field="client_order_id",
        )
    return True


def message_from_line(line: str | bytes, default_source: str = "ingest") -> Message:
    """Decode and validate one JSON line."""
    return parse_message(decode_json(line), default_source)


def message_to_json(message: Message) -> bytes:
    """The ledger-format JSON line of a message (used to keep parked adapter messages)."""
    data: dict[str, Any] = {"type": message.type}
    for name in sorted(FIELDS[message.type] - {"type"}):
        value = getattr(message, name)
        if value is None or value == {} or value is False:
            continue
        if isinstance(value, datetime):
            value = format_timestamp(value)
        elif isinstance(value, Decimal):
            value = format_decimal(value)
        elif hasattr(value, "value"):
            value = value.value
        data[name] = value
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
