"""Storage codecs: how stored values become typed objects fast.

``read_stored`` reads an event back from its stored state, and ``row_reader``/``row_filler``
turn stored rows into a query's typed rows. The readers are generated per class from the class's
own field names, as ``dataclasses`` generates an ``__init__``: a tenth of the rebuild's time is
reading events. Building an event from checked values is the domain's own
(``domain.construction.construct``), which the readers build on.
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, TypeVar
from uuid import UUID

from pydantic import BaseModel

from orderledger.domain import events
from orderledger.domain.construction import Template, construct, holding, template
from orderledger.domain.order_fields import without_markers
from orderledger.domain.values import DecimalStr, UtcTime, format_timestamp

E = TypeVar("E", bound=BaseModel)

HEADER = ("originator_id", "originator_version")
"""The aggregate coordinates every event begins with: stored beside its payload, not in it."""


def value_reader(hint: Any) -> Callable[[Any], Any] | None:
    """How a stored value (JSON, or a view's column) becomes a value of type ``hint``, or None
    when it already is one. An optional type reads its inner type (None stays None)."""
    args = typing.get_args(hint)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return value_reader(inner[0]) if len(inner) == 1 else None
    if origin is Annotated:
        return value_reader(args[0])
    if hint is Decimal:
        return Decimal
    if hint is datetime:
        return datetime.fromisoformat  # the ledger's UTC text with its Z
    if hint is UUID:
        return lambda value: value if isinstance(value, UUID) else UUID(str(value))
    if isinstance(hint, type) and issubclass(hint, Enum):
        # The member by its value, looked up directly: calling the class goes through Enum's
        # Python-level __call__ (a trusted stored value is one of them; any other is a KeyError).
        return hint._value2member_map_.__getitem__
    if origin is tuple:
        return tuple
    if origin is list and args:
        item = value_reader(args[0])  # a list of amounts (an amendment's target), say
        if item is not None:
            return lambda values: [None if v is None else item(v) for v in values]
    if hint is bool:
        return bool  # a view's column holds 0 or 1
    if origin in (Mapping, dict) and args and args[1] is Decimal:
        return _amounts
    if isinstance(hint, type) and issubclass(hint, BaseModel):
        return _model_reader(hint)
    return None


def _stored_readers(model: type[BaseModel]) -> dict[str, Callable[[Any], Any]]:
    """The fields of ``model`` whose stored (JSON) value is not yet of their type, each with what
    turns it into one (JSON has booleans: a flag needs nothing)."""
    readers: dict[str, Callable[[Any], Any]] = {}
    for name, info in model.model_fields.items():
        reader = value_reader(info.annotation)
        if reader is not None and reader is not bool:
            readers[name] = reader
    return readers


def _model_reader(model: type[BaseModel]) -> Callable[[Any], Any]:
    """How a value of ``model``'s own fields (an order's terms), stored as the fields it gives,
    becomes the model: each value turned into its field's type."""
    readers = _stored_readers(model)

    def read(stored: Mapping[str, Any]) -> Any:
        return construct(
            model,
            {
                name: value if value is None or name not in readers else readers[name](value)
                for name, value in stored.items()
            },
        )

    return read


def _amounts(stored: Mapping[str, Any]) -> dict[str, Decimal]:
    """A mapping of amounts (fees per currency) from their stored texts."""
    return {k: Decimal(x) for k, x in stored.items()}


# ----------------------------------------------------------------- events


@dataclass(frozen=True)
class _Plan:
    """How to read one event class's stored state: the class's template
    (``domain.construction``), how a stored (JSON) value of each field becomes the field's type,
    and the generated reader of a state that holds exactly the class's fields."""

    template: Template
    readers: tuple[tuple[str, Callable[[Any], Any]], ...]  # the fields after the header
    read: Callable[[Any, int, dict[str, Any]], dict[str, Any] | None]  # see _event_reader
    # Every field's name: what ``read`` gives every event as set. One set per class, not one
    # per event: an event is frozen, and pydantic copies the set before it changes it (a
    # ``model_copy`` with an update), so no event changes another's.
    every: set[str]


_PLANS: dict[type[BaseModel], _Plan] = {}


def _plan(cls: type[BaseModel]) -> _Plan:
    plan = _PLANS.get(cls)
    if plan is None:
        made = template(cls)
        readers = [(name, reader) for name, reader in _stored_readers(cls).items() if name not in HEADER]
        plan = _PLANS[cls] = _Plan(
            made,
            tuple(readers),
            _event_reader(made.names, dict(readers), events.stored_when_given(cls)),
            set(made.names),
        )
    return plan


def _event_reader(
    names: tuple[str, ...], readers: dict[str, Callable[[Any], Any]], when_given: tuple[str, ...] = ()
) -> Callable[[Any, int, dict[str, Any]], dict[str, Any] | None]:
    """One function for one event class that reads a stored state holding exactly the fields
    after the header (those stored only ``when_given`` may be absent: None): the event's fields,
    header first, each value turned into its type, in one dictionary display (no template
    copied, no loop over the fields). It answers None for any other state (a field missing or
    added: an upcast state, say), which the general path reads. Generated from the field names
    pydantic gives."""
    if names[: len(HEADER)] != HEADER:
        return lambda originator_id, version, state: None  # not an event: nothing stored to read
    body = names[len(HEADER) :]
    scope: dict[str, Any] = {}
    values = []
    for at, name in enumerate(body):
        value = f"s.get({name!r})" if name in when_given else f"s[{name!r}]"
        if name in readers:
            scope[f"read{at}"] = readers[name]
            values.append(f"{name!r}: None if (v := {value}) is None else read{at}(v)")
        else:
            values.append(f"{name!r}: {value}")
    size = str(len(body)) + "".join(f" - ({name!r} not in s)" for name in when_given)
    given = len(when_given)
    if given and body[-given:] == when_given:  # (fields stored only when given come last)
        return _tail_reader(values[:-given], values[-given:], len(body) - given, size, when_given, scope)
    source = (
        "def read(originator_id, version, s):\n"
        f"    if len(s) != {size}:\n"
        "        return None\n"
        "    try:\n"
        "        return {'originator_id': originator_id, 'originator_version': version, "
        + ", ".join(values)
        + "}\n"
        "    except KeyError:\n"
        "        return None\n"
    )
    exec(source, scope)  # the source is made of the model's own field names
    read: Callable[[Any, int, dict[str, Any]], dict[str, Any] | None] = scope["read"]
    return read


def _tail_reader(
    required: list[str],
    optional: list[str],
    count: int,
    size: str,
    when_given: tuple[str, ...],
    scope: dict[str, Any],
) -> Callable[[Any, int, dict[str, Any]], dict[str, Any] | None]:
    """``_event_reader`` for a class whose fields stored only when given come last: the state of
    the common event, which holds none of them, gets each as None in one update, unread (an
    order request's conditional terms, say: most orders state none)."""
    scope["none_given"] = dict.fromkeys(when_given)
    source = (
        "def read(originator_id, version, s):\n"
        "    try:\n"
        "        d = {'originator_id': originator_id, 'originator_version': version, "
        + ", ".join(required)
        + "}\n"
        "    except KeyError:\n"
        "        return None\n"
        f"    if len(s) == {count}:\n"
        "        d.update(none_given)\n"
        "        return d\n"
        f"    if len(s) != {size}:\n"
        "        return None\n"
        "    d.update({" + ", ".join(optional) + "})\n"
        "    return d\n"
    )
    exec(source, scope)  # the source is made of the model's own field names
    read: Callable[[Any, int, dict[str, Any]], dict[str, Any] | None] = scope["read"]
    return read


def read_stored(cls: type[E], originator_id: UUID, version: int, state: dict[str, Any]) -> E:
    """An event from its header and its stored JSON state (upcast already), trusted as the
    ledger wrote it: each value is only turned into its field's type (text into Decimal,
    datetime, enum).

    The ledger writes an event's own fields whole, so a stored state usually holds exactly the
    fields after the header: the class's generated reader makes the event's fields of it at
    once (``_event_reader``). Any other state (one upcast from an older class version, say) is
    read field by field and goes through ``construct``."""
    plan = _PLANS.get(cls) or _plan(cls)
    data = plan.read(originator_id, version, state)
    if data is not None:
        return holding(cls, data, plan.every)
    for name, reader in plan.readers:
        value = state.get(name)
        if value is not None:
            state[name] = reader(value)
    state["originator_id"] = originator_id
    state["originator_version"] = version
    return construct(cls, state)


# ----------------------------------------------------------------- events shown as JSON


def shown_time(text: str) -> str:
    """A time as the event's JSON shows it (``format_timestamp``) from its stored text (orjson's,
    which leaves out the microseconds of a whole second)."""
    return text if len(text) == _TIME_WIDTH else format_timestamp(datetime.fromisoformat(text))


_TIME_WIDTH = len("2026-11-20T09:30:01.186437Z")
_AS_SHOWN: Any = None
_NOT_SHOWN: Any = object()


def _event_json_form(hint: Any) -> Any:
    """What makes an event field's stored (JSON) value the form ``model_dump(mode="json")``
    gives: ``_AS_SHOWN`` when it already is (text, numbers, flags, enums, amounts as the
    canonical text ``DecimalStr`` writes, lists and mappings of those), ``shown_time`` for a
    time, ``_NOT_SHOWN`` for a type with no such rule (the event is decoded instead)."""
    bare = without_markers(hint)  # a request field's markers say nothing of how it is stored
    if bare is not hint:
        return _event_json_form(bare)
    args, origin = typing.get_args(hint), typing.get_origin(hint)
    if hint == DecimalStr:
        return _AS_SHOWN
    if hint == UtcTime:
        return shown_time
    if origin is Annotated:  # markers only (WHEN_GIVEN): a serializer of its own is not known
        known = all(type(mark).__module__.split(".")[0] != "pydantic" for mark in hint.__metadata__)
        return _event_json_form(args[0]) if known else _NOT_SHOWN
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _event_json_form(inner[0]) if len(inner) == 1 else _NOT_SHOWN
    if origin in (list, dict, tuple):
        inner_forms = {_event_json_form(a) for a in args if a is not Ellipsis}
        return _AS_SHOWN if inner_forms <= {_AS_SHOWN} else _NOT_SHOWN
    supertype = getattr(hint, "__supertype__", None)  # a NewType (ClientOrderId, TradeId)
    if supertype is not None:
        return _event_json_form(supertype)
    if hint in (str, int, bool):
        return _AS_SHOWN
    if isinstance(hint, type) and issubclass(hint, Enum):
        return _AS_SHOWN
    if isinstance(hint, type) and issubclass(hint, BaseModel):  # stored as the fields it gives
        return _model_json_form(hint)
    return _NOT_SHOWN


def _model_json_form(model: type[BaseModel]) -> Any:
    """``_event_json_form`` of a model stored as the fields it gives (an order's terms), which
    ``model_dump`` shows as it stores them (those given, in order)."""
    forms = {name: _event_json_form(info.annotation) for name, info in model.model_fields.items()}
    if _NOT_SHOWN in forms.values():
        return _NOT_SHOWN
    shown = {name: form for name, form in forms.items() if form is not _AS_SHOWN}
    if not shown:
        return _AS_SHOWN
    return lambda stored: {
        name: value if value is None or name not in shown else shown[name](value)
        for name, value in stored.items()
    }


def event_json_reader(cls: type[BaseModel]) -> Callable[[dict[str, Any]], dict[str, Any] | None] | None:
    """What turns an event class's stored state (parsed, at the class's current version) straight
    into its fields after the header (``originator_id``, ``originator_version``) as
    ``model_dump(mode="json")`` shows them, in order, with a field stored only when given left
    out while it is None (as ``EventRecord`` shows it): no event built, no value converted but
    the times orjson wrote without their microseconds. It answers None for a state that is not
    exactly the class's fields (the event is decoded instead); None is returned instead of a
    reader when some field's type has no such rule. Generated once per class, as
    ``_event_reader`` is."""
    reader: Callable[[dict[str, Any]], dict[str, Any] | None] | None = _event_json_reader(cls)
    return reader


@functools.cache
def _event_json_reader(cls: type[BaseModel]) -> Any:
    names = tuple(cls.model_fields)
    if names[: len(HEADER)] != HEADER:
        return None
    hints = typing.get_type_hints(cls, include_extras=True)
    when_given = events.stored_when_given(cls)
    body = names[len(HEADER) :]
    scope: dict[str, Any] = {}
    values = []
    for at, name in enumerate(body):
        form = _event_json_form(hints[name])
        if form is _NOT_SHOWN:
            return None
        value = f"s.get({name!r})" if name in when_given else f"s[{name!r}]"
        if form is not _AS_SHOWN:
            scope[f"show{at}"] = form
            value = f"None if (v := {value}) is None else show{at}(v)"
        values.append(f"{name!r}: {value}")
    size = str(len(body)) + "".join(f" - ({name!r} not in s)" for name in when_given)
    dropped = "".join(f"    if d[{name!r}] is None:\n        del d[{name!r}]\n" for name in when_given)
    source = (
        "def show(s):\n"
        f"    if len(s) != {size}:\n"
        "        return None\n"
        "    try:\n"
        f"        d = {{{', '.join(values)}}}\n"
        "    except KeyError:\n"
        "        return None\n" + dropped + "    return d\n"
    )
    exec(source, scope)  # the source is made of the model's own field names
    return scope["show"]


# ----------------------------------------------------------------- query rows

Decoder = Callable[[Any], Any] | None
"""Per stored column, what reads its stored form first (None: nothing), e.g. JSON text into a
list, which the field's type then takes."""


def row_reader(
    cls: Any, decoders: tuple[Decoder, ...] = ()
) -> Callable[[Iterable[Sequence[Any]]], list[Any]]:
    """Stored rows → instances of the dataclass ``cls``, a page at a time: each stored row holds
    the fields' values in field order (more columns after them are left alone); a NULL stays
    None. One generated function per class and decoders, whose body converts each column by its
    own calls, not by a loop over per-field converters."""
    read: Callable[[Iterable[Sequence[Any]]], list[Any]] = _compiled(cls, decoders)[0]
    return read


def row_filler(cls: Any, decoders: tuple[Decoder, ...] = ()) -> Callable[[Any, Sequence[Any]], None]:
    """What gives an instance of ``cls`` every field, converted from one stored row (as
    ``row_reader`` reads it), in one update of its ``__dict__``."""
    fill: Callable[[Any, Sequence[Any]], None] = _compiled(cls, decoders)[1]
    return fill


@functools.cache
def _compiled(cls: Any, decoders: tuple[Decoder, ...]) -> tuple[Any, Any]:
    names, readers = _row_readers(cls)
    if len(decoders) > len(names):
        raise ValueError(f"{cls.__name__}: {len(decoders)} decoders for {len(names)} fields")
    # The generated code names only the class, the converters (c<i>_<j>) and fields' positions:
    # field names go in as string literals (repr), values as references, never as source text.
    scope: dict[str, Any] = {"new": object.__new__, "cls": cls}
    items = []
    for i, (name, reader) in enumerate(zip(names, readers, strict=True)):
        decoder = decoders[i] if i < len(decoders) else None
        chain = [c for c in (decoder, reader if reader is not decoder else None) if c is not None]
        items.append(_item(scope, i, name, chain))
    fields_of_r = f"{{{', '.join(items)}}}"
    source = (
        "def read(rows):\n"
        "    out = []\n"
        "    append = out.append\n"
        "    for r in rows:\n"
        "        row = new(cls)\n"
        f"        row.__dict__.update({fields_of_r})\n"
        "        append(row)\n"
        "    return out\n"
        "def fill(row, r):\n"
        f"    row.__dict__.update({fields_of_r})\n"
    )
    exec(compile(source, f"<{cls.__name__}.stored_reader>", "exec"), scope)
    return scope["read"], scope["fill"]


def _item(scope: dict[str, Any], i: int, name: str, chain: list[Callable[[Any], Any]]) -> str:
    """The generated ``'name': value`` of column ``i``: read by each of ``chain`` in turn (put in
    ``scope`` as ``c<i>_<j>``), a NULL staying None."""
    expression = f"r[{i}]"
    for j, convert in enumerate(chain):
        scope[f"c{i}_{j}"] = convert
        expression = f"c{i}_{j}({expression})"
    if chain:
        expression = f"None if r[{i}] is None else {expression}"
    return f"{name!r}: {expression}"


def row_renderer(
    cls: Any, decoders: tuple[Decoder, ...] = ()
) -> Callable[[Sequence[Any]], dict[str, Any]] | None:
    """What turns one stored row (as ``row_reader`` reads it) straight into the JSON-ready form
    of the row it would read (``ResultRow.to_json``: the fields shown, in order), with no typed
    value made on the way, or None when some field's type has no stored form that already is
    its JSON form.

    A stored amount or time is the ledger's own canonical text (``format_decimal``,
    ``format_timestamp``) and an enum its value: that text is what the typed value is shown as,
    so it is taken as it is. Each column is only read by its decoder (JSON text into a list or
    a mapping), a flag's 0/1 made a bool, a tuple stored other than as JSON made a list. Fields
    whose metadata says ``json: False`` (``results.rows.HIDDEN``) are left out."""
    render: Callable[[Sequence[Any]], dict[str, Any]] | None = _compiled_renderer(cls, decoders)
    return render


@functools.cache
def _compiled_renderer(cls: Any, decoders: tuple[Decoder, ...]) -> Any:
    names, readers = _row_readers(cls)
    shown = {f.name for f in fields(cls) if f.metadata.get("json", True)}
    scope: dict[str, Any] = {}
    items = []
    for i, (name, reader) in enumerate(zip(names, readers, strict=True)):
        if name not in shown:
            continue
        decoder = decoders[i] if i < len(decoders) else None
        form = _json_form(reader, decoder)
        if form is _NO_FORM:
            return None
        items.append(_item(scope, i, name, [c for c in (decoder, form) if c is not None]))
    source = f"def render(r):\n    return {{{', '.join(items)}}}\n"
    exec(compile(source, f"<{cls.__name__}.stored_renderer>", "exec"), scope)
    return scope["render"]


_NO_FORM: Any = object()
_STORED_AS_SHOWN = (Decimal, datetime.fromisoformat, None)
"""The readers of values whose stored text is their JSON form (amounts, times, text, numbers)."""


def _json_form(reader: Callable[[Any], Any] | None, decoder: Decoder) -> Any:
    """What makes a stored (decoded) value of a field read by ``reader`` its JSON form: None when
    it already is, ``_NO_FORM`` when no such rule is known (the row is read typed instead)."""
    if reader in _STORED_AS_SHOWN:
        return None
    if reader is bool:
        return None if decoder is bool else bool
    if reader is tuple:
        return None if decoder is not None else list
    owner = getattr(reader, "__self__", None)  # an enum's ``_value2member_map_.__getitem__``
    if isinstance(owner, dict) and owner and all(isinstance(m, Enum) for m in owner.values()):
        return None
    if reader is _amounts and decoder is not None:
        return None  # a mapping of amounts, decoded from its JSON: the amounts' canonical texts
    return _NO_FORM


@functools.cache
def _row_readers(cls: Any) -> tuple[tuple[str, ...], tuple[Callable[[Any], Any] | None, ...]]:
    hints = typing.get_type_hints(cls)
    names = tuple(f.name for f in fields(cls))
    return names, tuple(value_reader(hints[name]) for name in names)


__all__ = [
    "HEADER",
    "event_json_reader",
    "read_stored",
    "row_filler",
    "row_reader",
    "row_renderer",
    "shown_time",
    "value_reader",
]
