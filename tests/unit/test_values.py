"""Values that enter the domain: exact numbers, UTC times and identifiers, or a clear refusal."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from orderledger.domain.errors import InvalidInputError, LedgerError
from orderledger.domain.values import (
    MAX_ID_LENGTH,
    escape_unsafe,
    format_decimal,
    format_timestamp,
    parse_decimal,
    parse_identifier,
    parse_positive,
    parse_timestamp,
    quote_currency_of,
)
from orderledger.infrastructure.application.ledger import OrderLedger

# ----------------------------------------------------------------------------- decimals


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1.50", Decimal("1.50")),
        ("+2", Decimal(2)),
        (".5", Decimal("0.5")),
        ("5.", Decimal(5)),
        ("-1.5E+2", Decimal(-150)),
        (7, Decimal(7)),
        (Decimal("0.1"), Decimal("0.1")),
        ("1e3", Decimal(1000)),
        ("-0", Decimal(0)),
        ("0.00000001", Decimal("0.00000001")),
    ],
)
def test_decimal_accepts_exact_strings_integers_and_decimals(value: object, expected: Decimal) -> None:
    number = parse_decimal(value, "price")

    assert number == expected
    assert isinstance(number, Decimal)


def test_decimal_keeps_the_digits_as_given() -> None:
    assert format_decimal(parse_decimal("1.50")) == "1.50"
    assert format_decimal(parse_decimal("1e3")) == "1000"


def test_negative_zero_is_normalised_to_zero() -> None:
    assert parse_decimal("-0.00").is_signed() is False


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("NaN", "finite"),
        ("nan", "finite"),
        ("sNaN", "finite"),
        (Decimal("NaN"), "finite"),
        ("Infinity", "finite"),
        ("-inf", "finite"),
        (Decimal("-Infinity"), "finite"),
        (1.5, "decimal string"),
        (0.1, "decimal string"),
        (True, "decimal string"),
        (False, "decimal string"),
        ("", "not a decimal number"),
        ("1,5", "not a decimal number"),
        ("abc", "not a decimal number"),
        # Only the documented form: ASCII digits, one optional sign and point, an exponent.
        (" 2 ", "not a decimal number"),
        (" 3100", "not a decimal number"),
        ("3_100", "not a decimal number"),
        ("３１００", "not a decimal number"),  # full-width digits
        ("٣١٠٠", "not a decimal number"),  # Arabic-Indic digits
        ("1.2.3", "not a decimal number"),
        ("--1", "not a decimal number"),
        ("+-1", "not a decimal number"),
        ("1e", "not a decimal number"),
        ("e5", "not a decimal number"),
        ("1 000", "not a decimal number"),
        ("0x10", "not a decimal number"),
        ("1" * 200, "not a decimal number"),
        ("1e41", "out of range"),
        ("1e-41", "out of range"),
        ("1E+999999999", "out of range"),
        (Decimal("1e100"), "out of range"),
        ("1." + "1" * 60, "out of range"),
        (None, "decimal string"),
        ([1], "decimal string"),
    ],
)
def test_decimal_refuses_inexact_or_non_finite_values_with_a_clear_message(value: object, words: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_decimal(value, "last_px")

    error = caught.value
    assert error.field == "last_px"
    assert error.message.startswith("last_px ")
    assert words in error.message
    assert "\n" not in error.message
    assert isinstance(error, LedgerError)
    assert isinstance(error, ValueError)


def test_decimal_refusal_quotes_at_most_a_short_prefix_of_the_input() -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_decimal("x" * 100, "qty")

    assert len(caught.value.message) < 100


@pytest.mark.parametrize("value", ["0", "-1", "-0.0001", 0, -5, "NaN", "Infinity", 2.0])
def test_positive_refuses_zero_negative_and_non_finite(value: object) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_positive(value, "quantity")

    assert caught.value.field == "quantity"
    assert "quantity" in caught.value.message


@pytest.mark.parametrize("value", ["0", "-1"])
def test_positive_refusal_says_positive(value: str) -> None:
    with pytest.raises(InvalidInputError, match="must be positive"):
        parse_positive(value, "quantity")


def test_positive_accepts_the_smallest_representable_amount() -> None:
    assert parse_positive("1e-20", "quantity") == Decimal("1e-20")


def test_amounts_beyond_the_exact_arithmetic_bounds_are_refused() -> None:
    for text in ("1e-21", "1e21", "1." + "0" * 29 + "1"):  # the last has 31 significant digits
        with pytest.raises(InvalidInputError, match="out of range"):
            parse_positive(text, "quantity")


# ----------------------------------------------------------------------------- timestamps


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-01T09:30:00Z", datetime(2024, 3, 1, 9, 30, tzinfo=UTC)),
        ("2024-03-01T09:30:00.123456Z", datetime(2024, 3, 1, 9, 30, 0, 123456, tzinfo=UTC)),
        ("2024-03-01T09:30:00+00:00", datetime(2024, 3, 1, 9, 30, tzinfo=UTC)),
        ("2024-03-01T11:30:00+02:00", datetime(2024, 3, 1, 9, 30, tzinfo=UTC)),
        ("2024-03-01T04:30:00-05:00", datetime(2024, 3, 1, 9, 30, tzinfo=UTC)),
    ],
)
def test_iso_time_with_z_or_offset_is_normalised_to_utc(text: str, expected: datetime) -> None:
    moment = parse_timestamp(text, "ts_event")

    assert moment == expected
    assert moment.utcoffset() == timedelta(0)
    assert moment.tzinfo is UTC


def test_aware_datetime_is_converted_to_utc() -> None:
    paris = timezone(timedelta(hours=1))

    moment = parse_timestamp(datetime(2024, 3, 1, 10, 30, tzinfo=paris))

    assert moment.tzinfo is UTC
    assert moment.hour == 9


@pytest.mark.parametrize("value", ["2024-03-01T09:30:00", datetime(2024, 3, 1, 9, 30)])
def test_naive_time_is_refused_with_a_hint(value: object) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_timestamp(value, "ts_event")

    assert caught.value.field == "ts_event"
    assert "no UTC offset" in caught.value.message
    assert "Z" in caught.value.message


@pytest.mark.parametrize("value", ["yesterday", "", "2024-13-01T00:00:00Z", "9" * 100, 1709285400, 1.5, None])
def test_non_iso_time_is_refused(value: object) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_timestamp(value, "ts_event")

    assert caught.value.field == "ts_event"
    assert "ISO 8601" in caught.value.message


def test_time_is_written_in_utc_with_z_and_microseconds() -> None:
    moment = parse_timestamp("2024-03-01T11:30:00+02:00")

    assert format_timestamp(moment) == "2024-03-01T09:30:00.000000Z"
    assert parse_timestamp(format_timestamp(moment)) == moment


# ----------------------------------------------------------------------------- identifiers


@pytest.mark.parametrize("value", ["O-1", "abc_DEF.123:x/y", "é-ordre", "x" * MAX_ID_LENGTH])
def test_identifier_accepts_printable_text_up_to_the_limit(value: str) -> None:
    assert parse_identifier(value, "client_order_id") == value


def test_integer_identifier_becomes_text() -> None:
    assert parse_identifier(12345, "client_order_index") == "12345"


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("O-1\n", "surrounding spaces"),
        ("O\n1", "control or invisible character"),
        ("O\x001", "control or invisible character"),
        ("O\x1b[31m1", "control or invisible character"),
        ("O\x7f1", "control or invisible character"),
        ("O\t1", "control or invisible character"),
        ("x" * (MAX_ID_LENGTH + 1), f"longer than {MAX_ID_LENGTH}"),
        ("", "non-empty"),
        (" O-1", "surrounding spaces"),
        (None, "must be a string"),
        (True, "must be a string"),
        (1.0, "must be a string"),
    ],
)
def test_identifier_refuses_control_characters_excess_length_and_non_text(value: object, words: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_identifier(value, "trade_id")

    assert caught.value.field == "trade_id"
    assert caught.value.message.startswith("trade_id ")
    assert words in caught.value.message


UNSAFE = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) in ("Cc", "Cf", "Zl", "Zp")]
"""Every character of the refused categories (C0/C1 controls, DEL, format characters such as
the bidi overrides U+202E and zero-width U+200B, the line and paragraph separators)."""


def test_identifier_refuses_every_character_of_the_categories_cc_cf_zl_zp_and_no_other() -> None:
    assert {"\x85", "\x9b", "\u202e", "\u200b", "\u200d", "\u2066", "\ufeff", "\u2028", "\u2029"} <= set(
        UNSAFE
    )
    accepted = []
    for char in UNSAFE:
        try:
            parse_identifier(f"O{char}1", "client_order_id")
            accepted.append(f"U+{ord(char):04X}")
        except InvalidInputError as error:
            assert f"(U+{ord(char):04X})" in error.message, error.message
    assert accepted == []
    # letters of any script, a no-break space (Zs) and emoji are visible: they stay allowed
    for value in ("ordre-\u00e9", "\u05d0\u05d1", "\u4e2d-1", "a\u00a0b", "\U0001f600"):
        assert parse_identifier(value, "client_order_id") == value


@pytest.mark.parametrize(
    ("filler", "name"),
    [
        ("\u3164", "HANGUL FILLER"),
        ("\u115f", "HANGUL CHOSEONG FILLER"),
        ("\u1160", "HANGUL JUNGSEONG FILLER"),
        ("\uffa0", "HALFWIDTH HANGUL FILLER"),
        ("\u2800", "BRAILLE PATTERN BLANK"),
        ("\u034f", "COMBINING GRAPHEME JOINER"),
        ("\u17b4", "KHMER VOWEL INHERENT AQ"),
        ("\u17b5", "KHMER VOWEL INHERENT AA"),
    ],
)
def test_invisible_fillers_are_refused_in_ids_and_shown_escaped(filler: str, name: str) -> None:
    # Of categories Lo, So and Mn, so no category rule catches them, yet each shows as nothing:
    # "alpha" + U+3164 would show as "alpha"
    assert unicodedata.name(filler) == name
    code = f"U+{ord(filler):04X}"
    with pytest.raises(
        InvalidInputError, match=re.escape(f"account contains a control or invisible character ({code})")
    ):
        parse_identifier(f"alpha{filler}", "account")
    assert escape_unsafe(f"alpha{filler}") == f"alpha\\u{ord(filler):04x}"
    # and a message naming such an account is rejected at the door, the journal keeping why
    with OrderLedger("memory://") as ledger:
        result = ledger.record(
            {
                "type": "request",
                "client_order_id": "c-1",
                "account": f"alpha{filler}",
                "venue": "v",
                "instrument": "X",
                "side": "buy",
                "order_type": "limit",
                "quantity": "1",
                "price": "1",
                "ts": "2026-11-20T10:00:00Z",
            }
        )
        assert result.outcome == "rejected" and code in str(result.reason)


def test_escape_unsafe_shows_each_refused_character_as_an_escape() -> None:
    assert escape_unsafe("a\x1b[31m\u202eb\x85") == "a\\x1b[31m\\u202eb\\x85"
    assert escape_unsafe("plain é 中") == "plain é 中"


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-00:01"])
def test_a_time_outside_the_utc_calendar_is_out_of_range(value: str) -> None:
    with pytest.raises(InvalidInputError, match="as_of is out of range"):
        parse_timestamp(value, "as_of")


# ----------------------------------------------------------------------------- instruments


@pytest.mark.parametrize(
    ("instrument", "quote"),
    [
        ("BTC-USD", "USD"),
        ("BTC/USDT", "USDT"),
        ("BTC/USDT:USDT", "USDT"),
        ("ETH-USD-PERP", "USD"),
        ("AAPL", None),
        ("-USD", None),
    ],
)
def test_quote_currency_is_read_from_the_instrument(instrument: str, quote: str | None) -> None:
    assert quote_currency_of(instrument) == quote
