"""``within_places`` reads a number's decimal places from its text: the same answer as its
exponent gives, for every finite and non-finite Decimal."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from orderledger.domain.values import within_places


def _by_exponent(number: Decimal, most: int) -> bool:
    exponent = number.as_tuple().exponent
    return isinstance(exponent, int) and exponent >= -most


@given(
    st.decimals(allow_nan=True, allow_infinity=True)
    | st.builds(Decimal, st.from_regex(r"-?\d{1,12}(\.\d{0,14})?(E[+-]?\d{1,3})?", fullmatch=True)),
    st.integers(min_value=0, max_value=20),
)
def test_the_text_gives_the_places_the_exponent_gives(number: Decimal, most: int) -> None:
    assert within_places(number, most) is _by_exponent(number, most)


def test_trailing_zeros_count_and_scientific_forms_are_read_by_their_exponent() -> None:
    assert within_places(Decimal("1.500"), 3) and not within_places(Decimal("1.500"), 2)
    assert within_places(Decimal("100"), 0) and within_places(Decimal("1E+2"), 0)
    assert not within_places(Decimal("1E-7"), 6) and within_places(Decimal("1E-7"), 7)
    assert not within_places(Decimal("-0.0000001"), 6)
    assert not within_places(Decimal("NaN"), 12) and not within_places(Decimal("-Infinity"), 12)
