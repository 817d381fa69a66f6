"""Identifiers, exact numbers, timestamps and the small vocabularies of the ledger.

Every value that enters the domain passes through one of the parsers here, so the rules
("no NaN", "no naive time", "quantities are positive") live in one place.
"""

from __future__ import annotations

import decimal
import re
import unicodedata
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, NewType

from pydantic import BeforeValidator, PlainSerializer

from orderledger.domain.errors import InvalidInputError

ClientOrderId = NewType("ClientOrderId", str)
"""Ours: the key of an order for its whole life; never mutated (FIX tag 11)."""

VenueOrderId = NewType("VenueOrderId", str)
"""Venue-assigned order ID (FIX tag 37); an order may have several after amendments."""

TradeId = NewType("TradeId", str)
"""Venue-assigned execution ID (FIX tag 17); unique per order."""

MAX_ID_LENGTH = 128
MAX_TEXT_LENGTH = 1024
# Input bounds: magnitudes 1e-20 … 1e20 and at most 30 significant digits. Within them every
# sum and product the ledger forms fits in EXACT's 100 digits, so it is computed exactly.
MAX_EXPONENT = 20
MAX_DIGITS = 30
MAX_PLACES = 12
"""The decimal places a recorded quantity or price may have, trailing zeros aside: what the
lake's and the Parquet exports' decimal columns keep (``infrastructure/audit/columns.py``
declares them from these constants), so that nothing the log takes can stop an export. Twelve
places leave a quantity × price (scale 24) 14 whole digits of DuckDB's 38 (18 and 18 would need
scale 36, and overflow). A figure with more is refused at the door (``check_places``)."""
MAX_MONEY_PLACES = 18
"""The decimal places a recorded fee or cash flow may have: 18, an on-chain token's smallest unit
(wei), so a fee or funding in a coin keeps every digit the venue states (OKX states 15 for an
inverse swap's funding). Money is summed, never multiplied, so 18 places leave 20 whole digits."""

EXACT = decimal.Context(
    prec=100,
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow, decimal.Inexact],
)
"""Sums and products of quantities and prices: exact, or an error (never silent rounding)."""

WIDE = decimal.Context(prec=100, rounding=decimal.ROUND_HALF_EVEN)
"""Money accumulated from averaged prices: 100 digits, far past any rounding that matters."""

AVERAGE = decimal.Context(prec=34, rounding=decimal.ROUND_HALF_EVEN)
"""Averages are divisions and cannot be exact: 34 significant digits, the same on every replay."""

UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
"""Unicode categories of characters that are refused in identifiers and never shown as
themselves: controls (C0, DEL, C1), format characters (bidi overrides and isolates, zero-width
spaces and joiners, the byte-order mark), and the line and paragraph separators. Each can make
two different IDs look alike, reorder or hide the text around it, or drive a terminal."""
INVISIBLE_FILLERS = "\u034f\u115f\u1160\u17b4\u17b5\u2800\u3164\uffa0"
"""Characters of other categories that show as nothing at all, refused and escaped as those of
UNSAFE_CATEGORIES are: the combining grapheme joiner (U+034F), the Hangul fillers (U+115F,
U+1160, U+3164, U+FFA0), the Khmer inherent vowels (U+17B4, U+17B5) and the blank Braille
pattern (U+2800). ``alpha\u3164`` would otherwise show as ``alpha``."""
_INVISIBLE = re.compile(f"[{INVISIBLE_FILLERS}]")
# The decimal text docs/messages.md describes: ASCII digits, one optional sign, at most one
# point, an optional exponent. Python's Decimal() alone would also take "3_100", " 3100",
# full-width or Arabic-Indic digits, which a person reading the line would not read as 3100.
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")

# The everyday forms of the values below, as regular expressions (Python's ``re`` and
# pydantic-core's engine read them alike): each parser returns such a text unchanged (an
# identifier) or as ``Decimal(text)`` / ``datetime.fromisoformat(text)``, with no further rule to
# apply, so a fast path may check the form and skip the parser. Anything else takes the parser.
IDENTIFIER_FORM = rf"[!-~](?:[ -~]{{0,{MAX_ID_LENGTH - 2}}}[!-~])?"
"""Printable ASCII, no surrounding spaces, 1 to MAX_ID_LENGTH characters."""
POSITIVE_FORM = rf"(?:[1-9][0-9]{{0,{MAX_EXPONENT}}}(?:\.[0-9]*)?|0?\.0{{0,{MAX_EXPONENT - 1}}}[1-9][0-9]*)"
"""Plain notation above zero, no sign, no leading zero, magnitude within 1e±MAX_EXPONENT; in at
most MAX_DIGITS characters (so at most MAX_DIGITS digits)."""
SIGNED_FORM = rf"(?:-?{POSITIVE_FORM}|0)"
"""POSITIVE_FORM with an optional minus, or ``0``; in at most MAX_DIGITS characters."""
PLAIN_NUMBER_FORM = r"-?[0-9]+(?:\.[0-9]+)?"
"""A number as the ledger writes one (``format_decimal``): ASCII digits, an optional minus and
point, no exponent."""
UTC_TIME_FORM = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?Z"
"""ISO 8601 in UTC with a Z, as the ledger writes it; ``fromisoformat`` still checks the calendar."""
_IDENTIFIER = re.compile(IDENTIFIER_FORM)
_SIGNED = re.compile(SIGNED_FORM)


class Side(StrEnum):
    """Direction of an order."""

    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for buy, -1 for sell."""
        return 1 if self is Side.BUY else -1


class OrderType(StrEnum):
    """How the order is priced, and what sets it working (ccxt's spellings): a stop or
    take-profit works once its trigger price is reached, as a market or limit order; a trailing
    stop's trigger follows the price at its offset."""

    LIMIT = "limit"
    MARKET = "market"
    STOP_MARKET = "stop_market"
    STOP_LIMIT = "stop_limit"
    TAKE_PROFIT_MARKET = "take_profit_market"
    TAKE_PROFIT_LIMIT = "take_profit_limit"
    TRAILING_STOP = "trailing_stop"

    @property
    def priced(self) -> bool:
        """The order works at its limit price (``price`` required): limit, stop-limit,
        take-profit limit."""
        return self in PRICED

    @property
    def triggered(self) -> bool:
        """The order waits for its trigger price (``trigger_price`` required): the stops and
        take-profits but the trailing stop (whose trigger price, optional, is its activation)."""
        return self in TRIGGERED


PRICED = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_LIMIT})
"""The order types that need a limit price."""
TRIGGERED = frozenset(
    {OrderType.STOP_MARKET, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_MARKET, OrderType.TAKE_PROFIT_LIMIT}
)
"""The order types that need a trigger price."""
CONDITIONAL = TRIGGERED | {OrderType.TRAILING_STOP}
"""The order types that wait for a trigger before they work (``triggered`` records it)."""
STOPS = frozenset({OrderType.STOP_MARKET, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP})
"""The conditional orders that trigger when the price moves against the position."""


class TriggerReference(StrEnum):
    """Which price a conditional order's trigger watches, where the venue says."""

    LAST = "last"
    MARK = "mark"
    INDEX = "index"


class TrailingOffsetType(StrEnum):
    """How a trailing stop's offset is stated: a price distance or a percentage."""

    PRICE = "price"
    PERCENT = "percent"


class Contingency(StrEnum):
    """How an order is linked to others of its group: one-cancels-other siblings, one-triggers-
    other (a parent's fill activates it), or a bracket (a parent with a take-profit and a
    stop-loss that cancel each other)."""

    OCO = "oco"
    OTO = "oto"
    BRACKET = "bracket"


class Liquidity(StrEnum):
    """Whether a fill added or took liquidity."""

    MAKER = "maker"
    TAKER = "taker"


class Status(StrEnum):
    """An order's status, spelled as in docs/semantics.md."""

    REQUESTED = "requested"
    HELD = "held"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    PENDING_CANCEL = "pending_cancel"
    PENDING_AMEND = "pending_amend"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        """Filled, canceled, rejected and expired are terminal."""
        return self in TERMINAL

    @property
    def is_open(self) -> bool:
        """Every status that is not terminal."""
        return self not in TERMINAL


TERMINAL = frozenset({Status.FILLED, Status.CANCELED, Status.REJECTED, Status.EXPIRED})
"""The one declaration of which statuses end an order; every other status is open."""
UNACCEPTED = frozenset({Status.REQUESTED, Status.HELD})
"""The working statuses of an order no exchange has accepted: requested, and held (a broker
acknowledged it and holds it for the exchange). A reject may end them; an acceptance moves them
to accepted."""
ENDED = TERMINAL - {Status.FILLED}
"""The terminal statuses an order reaches by a fact of its own (a cancel, a reject, an expiry),
not by its fills; each fact's message is named like the status."""

TEXT: dict[Side | OrderType | Liquidity | Status, str] = {
    member: member.value for kind in (Side, OrderType, Liquidity, Status) for member in kind
}
"""Each member's stored text, looked up: an enum's ``value`` is a descriptor, read slowly on
paths that write a row per order or fill."""


def parse_identifier(value: object, field: str = "identifier") -> str:
    """Check an identifier: a non-empty string without control characters, at most 128 long."""
    if type(value) is str and _IDENTIFIER.fullmatch(value):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise InvalidInputError(f"{field} must be a string", field=field)
    if not value or value.strip() != value:
        raise InvalidInputError(f"{field} must be non-empty, without surrounding spaces", field=field)
    if len(value) > MAX_ID_LENGTH:
        raise InvalidInputError(f"{field} is longer than {MAX_ID_LENGTH} characters", field=field)
    unsafe = unsafe_characters(value)
    if unsafe:
        raise InvalidInputError(
            f"{field} contains a control or invisible character ({_code_points(unsafe)})", field=field
        )
    return value


def unsafe_characters(text: str) -> str:
    """The distinct characters of ``text`` in :data:`UNSAFE_CATEGORIES` or
    :data:`INVISIBLE_FILLERS`, in order; empty if none."""
    # isprintable (C code) is False for every character of the categories (and some harmless ones)
    if text.isprintable() and (text.isascii() or _INVISIBLE.search(text) is None):
        return ""
    return "".join(
        dict.fromkeys(
            c for c in text if unicodedata.category(c) in UNSAFE_CATEGORIES or c in INVISIBLE_FILLERS
        )
    )


def escape_unsafe(text: str) -> str:
    """``text`` with each character of :data:`UNSAFE_CATEGORIES` or :data:`INVISIBLE_FILLERS`
    written as an escape (``\\x1b``, ``\\u202e``), so stored text can be shown without acting
    on what is around it."""
    for char in unsafe_characters(text):
        code = ord(char)
        text = text.replace(char, f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    return text


def _code_points(chars: str) -> str:
    return ", ".join(f"U+{ord(c):04X}" for c in chars[:3]) + (", …" if len(chars) > 3 else "")


def parse_text(value: object, field: str = "text") -> str:
    """Check free text (reasons, tag values): a string of at most 1024 characters."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{field} must be a string", field=field)
    if len(value) > MAX_TEXT_LENGTH:
        raise InvalidInputError(f"{field} is longer than {MAX_TEXT_LENGTH} characters", field=field)
    return value


def parse_decimal(value: object, field: str = "number") -> Decimal:
    """Convert a string, integer or Decimal exactly; refuse floats, NaN and infinities."""
    if type(value) is str and len(value) <= MAX_DIGITS and _SIGNED.fullmatch(value):
        return Decimal(value)
    if isinstance(value, bool | float):
        raise InvalidInputError(f"{field} must be a decimal string or an exact JSON number", field=field)
    short = False  # a text of at most MAX_DIGITS characters cannot hold more digits than that
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, str):
        text = value
        short = len(text) <= MAX_DIGITS
        if len(text) > 2 * MAX_DIGITS + 10:
            raise InvalidInputError(f"{field} is not a decimal number: {value[:40]!r}", field=field)
        if _DECIMAL_TEXT.fullmatch(text) is None:
            if text.lower().lstrip("+-") in ("nan", "snan", "inf", "infinity"):
                raise InvalidInputError(f"{field} must be finite, not {text}", field=field)
            raise InvalidInputError(
                f"{field} is not a decimal number (ASCII digits, one sign, one point, an exponent):"
                f" {value[:40]!r}",
                field=field,
            )
        try:
            number = Decimal(text)
        except InvalidOperation:  # pragma: no cover - the pattern admits only what Decimal reads
            raise InvalidInputError(f"{field} is not a decimal number: {value[:40]!r}", field=field) from None
    else:
        raise InvalidInputError(f"{field} must be a decimal string", field=field)
    if not number.is_finite():
        raise InvalidInputError(f"{field} must be finite, not {number}", field=field)
    if number and (
        abs(number.adjusted()) > MAX_EXPONENT or (not short and len(number.as_tuple().digits) > MAX_DIGITS)
    ):
        raise InvalidInputError(
            f"{field} is out of range (at most {MAX_DIGITS} digits, magnitude 1e±{MAX_EXPONENT})",
            field=field,
        )
    # Normalise -0 to 0 so that equal amounts compare and serialise alike.
    return number if number else Decimal(0)


def places_of(number: Decimal) -> int:
    """The decimal places of ``number``, trailing zeros aside (``1.500`` has 1, ``100`` none)."""
    exponent = number.as_tuple().exponent
    if not isinstance(exponent, int) or exponent >= 0:
        return 0
    return max(0, -int(number.normalize().as_tuple().exponent)) if number else 0


def within_places(number: Decimal, most: int = MAX_PLACES) -> bool:
    """Whether ``number`` is written with at most ``most`` decimal places (its exponent, not its
    places once trailing zeros go: ``1.500`` has 3). Read from its text where that is plain (a
    sixth of what ``as_tuple`` costs, which makes a tuple of every digit)."""
    text = str(number)
    if "E" in text or not text[-1:].isdigit():  # scientific form, or not finite
        exponent = number.as_tuple().exponent
        return isinstance(exponent, int) and exponent >= -most
    point = text.find(".")
    return point < 0 or len(text) - point - 1 <= most


def check_places(number: Decimal, field: str, most: int = MAX_PLACES) -> Decimal:
    """``number`` if it has at most ``most`` decimal places; else the one-line refusal."""
    if within_places(number, most):
        return number
    places = places_of(number)
    if places > most:
        raise InvalidInputError(
            f"{field} has {places} decimal places; the ledger keeps at most {most}"
            f" (the places of the lake's decimal columns): {format(number, 'f')[:60]}",
            field=field,
        )
    return number


def parse_figure(value: object, field: str) -> Decimal:
    """A recorded figure (a quantity, a price, a mark): above zero, at most ``MAX_PLACES``
    decimal places; else the one-line refusal."""
    return check_places(parse_positive(value, field), field)


def parse_positive(value: object, field: str) -> Decimal:
    """A finite Decimal strictly above zero (quantities, limit prices)."""
    number = parse_decimal(value, field)
    if number <= 0:
        raise InvalidInputError(f"{field} must be positive, not {number}", field=field)
    return number


def parse_timestamp(value: object, field: str = "ts") -> datetime:
    """An ISO 8601 time with a UTC offset or Z, returned in UTC; naive times are refused."""
    if type(value) is datetime and value.tzinfo is UTC:
        return value  # what astimezone(UTC) returns for it
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        if len(value) > 64:
            raise InvalidInputError(f"{field} is not an ISO 8601 time", field=field)
        if unsafe_characters(value):
            # datetime.fromisoformat stops at a NUL: "2026-11-20T10:00:00Z\0junk" would pass.
            raise InvalidInputError(f"{field} contains a control or invisible character", field=field)
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidInputError(f"{field} is not an ISO 8601 time: {value[:40]!r}", field=field) from None
    else:
        raise InvalidInputError(f"{field} must be an ISO 8601 string", field=field)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInputError(
            f"{field} has no UTC offset: {str(value)[:40]!r} (add Z or +00:00)", field=field
        )
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise InvalidInputError(f"{field} is out of range: {str(value)[:40]!r}", field=field) from None


def format_decimal(value: Decimal) -> str:
    """The canonical text of an amount: plain notation, no exponent, as given otherwise."""
    if type(value) is Decimal:
        # str() is the same text whenever it writes no exponent (every everyday amount), at a
        # third of format()'s cost; this runs for every amount of every event and view row.
        text = str(value)
        if "E" not in text:
            return text
    return format(value, "f")


_TWO_DIGITS = tuple(f"{n:02d}" for n in range(100))
_DAYS: dict[int, str] = {}  # "YYYY-MM-DDT" by the day's ordinal, for the days recently written
_MOST_DAYS = 4096


def format_timestamp(value: datetime) -> str:
    """ISO 8601 in UTC with a Z suffix and microseconds (fixed width, so text order is time order).

    Every view row and journal record writes times: the day's text is made once per day, the
    rest from a table of two-digit texts (formatting seven numbers with ``%02d`` cost twice as
    much, each a padded number formatted anew)."""
    v = value if value.tzinfo is UTC else value.astimezone(UTC)
    day = _DAYS.get(v.toordinal())
    if day is None:
        if len(_DAYS) >= _MOST_DAYS:
            _DAYS.clear()
        day = _DAYS[v.toordinal()] = f"{v.year:04d}-{v.month:02d}-{v.day:02d}T"
    two = _TWO_DIGITS
    return f"{day}{two[v.hour]}:{two[v.minute]}:{two[v.second]}.{str(v.microsecond + 1_000_000)[1:]}Z"


def _serialise_decimal(value: Decimal) -> str:
    return format_decimal(value)


def _serialise_timestamp(value: datetime) -> str:
    return format_timestamp(value)


DecimalStr = Annotated[
    Decimal,
    BeforeValidator(parse_decimal),
    PlainSerializer(_serialise_decimal, return_type=str, when_used="json"),
]
"""A finite Decimal carried as a JSON string."""

UtcTime = Annotated[
    datetime,
    BeforeValidator(parse_timestamp),
    PlainSerializer(_serialise_timestamp, return_type=str, when_used="json"),
]
"""A timezone-aware UTC time carried as ISO 8601 with Z."""


def base_currency_of(instrument: str) -> str | None:
    """The base currency of an instrument written BASE-QUOTE or BASE/QUOTE, else None."""
    for separator in ("/", "-"):
        base, sep, quote = instrument.partition(separator)
        if sep and base and quote:
            return base
    return None


def quote_currency_of(instrument: str) -> str | None:
    """The quote currency of an instrument written BASE-QUOTE or BASE/QUOTE, else None."""
    for separator in ("/", "-"):
        base, sep, quote = instrument.partition(separator)
        if sep and base and quote:
            # CCXT writes derivatives as BASE/QUOTE:SETTLE; the quote is still QUOTE.
            return quote.split(":", 1)[0].split("-", 1)[0] or None
    return None
