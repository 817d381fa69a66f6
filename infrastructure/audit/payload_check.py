"""The payload check of ``verify`` without validating each event anew: a stored payload that
holds every field its class needs and no other, each value in the everyday form that its
field's validation returns unchanged (the form the ledger writes: an amount in plain notation of
at most MAX_DIGITS characters, a time in UTC with a Z, text as text), reads (``read_stored``) as
the very event that validating it as input from outside (``LedgerMapper.decode(trusted=False)``)
gives.

``fast_event`` answers that event, or None whenever it cannot prove so (a value of another
type or form, a field missing or added, a payload stored at an older class version, a search
column that disagrees): the caller then validates the event the slow way, which says what is
wrong in the words it always has. ``tests/audit/test_payload_check.py`` holds the two paths to
the same findings on every kind of event, valid and tampered.
"""

from __future__ import annotations

import functools
import re
import types
import typing
from collections.abc import Callable
from enum import Enum
from typing import Annotated, Any
from uuid import UUID

import orjson
from pydantic import BaseModel, BeforeValidator, PlainSerializer

from orderledger.domain.events import EVENT_TYPES, OrderEvent, StoredWhenGiven
from orderledger.domain.order_fields import FIELD_MARKERS
from orderledger.domain.values import MAX_DIGITS, SIGNED_FORM, UTC_TIME_FORM, parse_decimal, parse_timestamp
from orderledger.infrastructure.storage.codecs import HEADER, read_stored, shown_time
from orderledger.infrastructure.storage.mapper import CLASSES, LedgerMapper

# Each check is an expression of a JSON value ``{v}`` that is true when the field's validation
# returns that value as ``read_stored`` reads it; one function per class is generated of them
# (a call per field would cost more than the validation it replaces).
_ABSENT = object()
_NAMES: dict[str, Any] = {
    "_ABSENT": _ABSENT,
    "_SIGNED": re.compile(SIGNED_FORM).fullmatch,  # parse_decimal's first branch: Decimal(text)
    "_UTC_TIME": re.compile(UTC_TIME_FORM).fullmatch,  # parse_timestamp: fromisoformat(text), in UTC
}
_DECIMAL = f"(type({{v}}) is str and len({{v}}) <= {MAX_DIGITS} and _SIGNED({{v}}) is not None)"
_TIME = "(type({v}) is str and _UTC_TIME({v}) is not None)"
# A request field's markers (``domain.order_fields``) say what the field means and what a repeat
# may do with it, nothing of how it is validated.
_KNOWN = (BeforeValidator, PlainSerializer, StoredWhenGiven, *FIELD_MARKERS)


def _check(annotation: Any, depth: int = 0, validators: tuple[Any, ...] = ()) -> str | None:
    """The check of one field's type; None for a type without one (every event of its class
    is then validated)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        return _check(args[0], depth, validators + tuple(annotation.__metadata__))
    if any(not isinstance(v, _KNOWN) for v in validators):
        return None  # a constraint (a length, a bound) or a validator of its own
    parsers = {v.func for v in validators if isinstance(v, BeforeValidator)}
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        check = _check(inner[0], depth, validators) if len(inner) == 1 else None
        return None if check is None else f"({{v}} is None or {check})"
    if parsers:
        return _DECIMAL if parsers == {parse_decimal} else _TIME if parsers == {parse_timestamp} else None
    supertype = getattr(annotation, "__supertype__", None)  # a NewType
    if supertype is not None:
        return _check(supertype, depth, validators)
    if annotation in (str, bool, int):
        return f"(type({{v}}) is {annotation.__name__})"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        name = _NAMES.setdefault(f"_E_{annotation.__name__}", annotation._value2member_map_)
        assert name is annotation._value2member_map_
        return f"(type({{v}}) is str and {{v}} in _E_{annotation.__name__})"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _model_check(annotation, depth)
    item, key = f"_i{depth}", f"_k{depth}"
    if origin is list and len(args) == 1 and (check := _check(args[0], depth + 1)) is not None:
        return f"(type({{v}}) is list and all({check.replace('{v}', item)} for {item} in {{v}}))"
    if origin is dict and len(args) == 2 and args[0] is str and (check := _check(args[1], depth + 1)):
        entry = f"type({key}) is str and {check.replace('{v}', item)}"
        return f"(type({{v}}) is dict and all({entry} for {key}, {item} in {{v}}.items()))"
    return None


def _model_check(model: type[BaseModel], depth: int) -> str | None:
    """The check of a value stored as the fields a model gives (an order's terms): a mapping of
    some of its fields, each as its field's check says (an absent one: None)."""
    checks = []
    for name, info in model.model_fields.items():
        check = _check(info.annotation, depth + 1, tuple(info.metadata))
        if check is None:
            return None
        checks.append(check.replace("{v}", f"{{v}}.get({name!r})"))
    keys = _NAMES.setdefault(f"_K_{model.__name__}", frozenset(model.model_fields))
    assert keys == frozenset(model.model_fields)
    return f"(type({{v}}) is dict and {{v}}.keys() <= _K_{model.__name__} and {' and '.join(checks)})"


class _Plan:
    """One event class's check: its fields after the header, those it needs, and a function of
    its state (None: the class is always validated)."""

    def __init__(self, cls: type[OrderEvent]) -> None:
        fields = {n: i for n, i in cls.model_fields.items() if n not in HEADER}
        self.known = frozenset(fields)
        self.required = frozenset(n for n, i in fields.items() if i.is_required())
        lines = ["def check(s):", "    g = s.get"]
        self.check: Callable[[dict[str, Any]], bool] | None = None
        for name, info in fields.items():
            check = _check(info.annotation, 0, tuple(info.metadata))
            if check is None:
                return
            if name in self.required:
                lines.append(f"    v = s[{name!r}]")
                lines.append(f"    if not {check.replace('{v}', 'v')}: return False")
            else:  # an absent field takes its default
                lines.append(f"    v = g({name!r}, _ABSENT)")
                lines.append(f"    if v is not _ABSENT and not {check.replace('{v}', 'v')}: return False")
        lines.append("    return True")
        namespace = dict(_NAMES)
        exec("\n".join(lines), namespace)
        self.check = namespace["check"]


_PLANS: dict[type[OrderEvent], _Plan] = {cls: _Plan(cls) for cls in EVENT_TYPES}


@functools.lru_cache(maxsize=4096)
def _uuid(text: str) -> UUID:
    return UUID(text)  # an order's events lie close together in the log


def fast_event(
    mapper: LedgerMapper, topic: str, data: bytes, originator_id: Any, version: int, columns: tuple[Any, ...]
) -> OrderEvent | None:
    """The event a stored payload holds, when the payload is proven to validate as that event
    (see the module's docstring) and ``columns`` (the row's search columns, in the order of
    ``IndexedStoredEvent``'s) are the ones the ledger copies from it; else None."""
    cls = CLASSES.get(topic)
    if cls is None or type(version) is not int:
        return None
    plan = _PLANS[cls]
    if plan.check is None:
        return None
    try:
        if mapper.cipher:
            data = mapper.cipher.decrypt(data)
        if mapper.compressor:
            data = mapper.compressor.decompress(data)
        state = orjson.loads(data)
    except Exception:
        return None
    if type(state) is not dict:
        return None
    if cls.class_version > 1 and state.get("class_version") == cls.class_version:
        del state["class_version"]  # stored at the class's version: nothing to upcast
    if not plan.required <= state.keys() <= plan.known or not plan.check(state):
        return None
    get = state.get
    event_time, recorded_time = state["ts_event"], state["ts_recorded"]  # both required, checked
    said = (
        cls.__name__,
        get("client_order_id"),
        get("account"),
        get("venue"),
        get("instrument"),
        event_time if len(event_time) == _FULL else _column_time(event_time),
        recorded_time if len(recorded_time) == _FULL else _column_time(recorded_time),
        get("source"),
    )
    if said != columns:
        return None
    try:
        uuid = originator_id if type(originator_id) is UUID else _uuid(originator_id)
        return read_stored(cls, uuid, version, state)
    except Exception:
        return None


_WHOLE_SECOND = len("2026-11-25T00:00:00Z")
_FULL = len("2026-11-25T00:00:00.000000Z")  # as the column spells every time


def _column_time(text: Any) -> Any:
    """A time's search column (``format_timestamp``) from its stored text, which the check
    proved to be of ``UTC_TIME_FORM``."""
    if len(text) == _WHOLE_SECOND:
        return text[:-1] + ".000000Z"
    return shown_time(text)
