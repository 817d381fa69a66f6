"""domain.compiled: what a declaration's list of fields compiles to does what the loop over the
list would do, and refuses a name that is not a field's."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from orderledger.domain.compiled import assigner, converter


class Slotted:
    __slots__ = ("a", "b", "c")
    a: Any
    b: Any
    c: Any


def test_an_assigner_sets_each_field_by_position_or_by_name_through_its_function() -> None:
    fields = [("a", None), ("b", Decimal), ("c", list)]
    given = ("x", "1.50", ("p", "q"))
    by_position = Slotted()
    assigner("by_position", fields, by_name=False)(by_position, given)
    assert (by_position.a, by_position.b, by_position.c) == ("x", Decimal("1.50"), ["p", "q"])
    by_name = Slotted()
    assigner("by_name", fields, by_name=True)(by_name, {"c": (), "b": "2", "a": None, "extra": 1})
    assert (by_name.a, by_name.b, by_name.c) == (None, Decimal("2"), [])


def test_an_assigner_of_no_fields_assigns_nothing() -> None:
    target = Slotted()
    assigner("nothing", [], by_name=True)(target, {})
    assert not hasattr(target, "a")


@pytest.mark.parametrize("name", ["a; import os", "a.b", "1a", "", "a b"])
def test_only_field_names_go_into_the_source(name: str) -> None:
    with pytest.raises(ValueError, match="not a field name"):
        assigner("bad", [(name, None)], by_name=True)


def test_a_converter_converts_each_value_by_its_form_and_keeps_the_others() -> None:
    double = converter("double", [None, str, lambda v: v * 2])
    assert double((1, 2, 3)) == (1, "2", 6)
    assert converter("one", [str])((5,)) == ("5",)
    assert converter("none", [])(()) == ()


def test_a_value_goes_in_by_reference_not_as_source() -> None:
    seen: list[Any] = []
    convert = converter("seen", [seen.append])
    convert(("__import__('os').system('false')",))
    assert seen == ["__import__('os').system('false')"]
