"""Any value of a declared type, for property tests of what reads and shows stored values: a
row's field (``results``) or an event's (``domain.events``), by its type hint."""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any
from uuid import UUID

from hypothesis import strategies as st
from pydantic import BaseModel

from orderledger.domain.construction import construct
from orderledger.domain.values import DecimalStr, UtcTime

TEXT = st.text(max_size=8)
AMOUNTS = st.decimals(allow_nan=False, allow_infinity=False)
TIMES = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
) | st.datetimes(timezones=st.just(UTC)).map(lambda t: t.replace(microsecond=0))
"""Any UTC time (a whole second often: orjson writes it without its microseconds)."""


def value_of(hint: Any) -> st.SearchStrategy[Any]:
    """Any value of the type ``hint`` (with ``typing.get_type_hints(..., include_extras=True)``
    or without)."""
    if hint == DecimalStr:
        return AMOUNTS
    if hint == UtcTime:
        return TIMES
    args, origin = typing.get_args(hint), typing.get_origin(hint)
    if origin is Annotated:
        return value_of(args[0])
    if origin in (typing.Union, types.UnionType):
        return st.none() | value_of(next(a for a in args if a is not type(None)))
    if origin is tuple:
        return st.lists(value_of(args[0]), max_size=3).map(tuple)
    if origin is list:
        return st.lists(value_of(args[0]), max_size=3)
    if origin in (Mapping, dict):
        return st.dictionaries(TEXT, value_of(args[1]), max_size=3)
    hint = getattr(hint, "__supertype__", hint)  # a NewType
    if isinstance(hint, type) and issubclass(hint, BaseModel):  # a value of fields (an order's terms)
        model, hints = hint, typing.get_type_hints(hint, include_extras=True)
        fields = {name: value_of(hints[name]) for name in model.model_fields}
        given = st.fixed_dictionaries({}, optional=fields)
        return given.map(lambda values: construct(model, values))
    if isinstance(hint, type) and issubclass(hint, Enum):
        return st.sampled_from(hint)
    simple: dict[Any, st.SearchStrategy[Any]] = {
        str: TEXT,
        int: st.integers(-(2**63), 2**63 - 1),
        bool: st.booleans(),
        Decimal: AMOUNTS,
        datetime: TIMES,
        UUID: st.uuids(),
        Any: TEXT | st.booleans() | st.lists(TEXT, max_size=3),  # a JSON-ready value (an order's terms)
    }
    return simple[hint]
