"""The shared base of the ledger's result rows: typed fields, and their JSON-ready form.

Every value of a row is typed (``Decimal`` amounts, timezone-aware ``datetime`` times, the
domain's enums); ``ResultRow.to_json()`` gives the JSON-ready form that ``orderledger … --json``
prints and the HTTP API sends (the one renderer of each row kind: amounts and times as exact
strings, enums by value), ``ResultRow.from_json`` reads it back, and ``ResultRow.stored_reader``,
``packed_reader`` and :func:`lazy_reader` read the rows the ledger stored. A row's fields are
declared in the order its JSON keys appear.
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

import orjson

from orderledger.domain.values import format_decimal, format_timestamp, parse_timestamp
from orderledger.infrastructure.storage.codecs import row_filler, row_reader, row_renderer

Row = TypeVar("Row", bound="ResultRow")
HIDDEN: dict[str, bool] = {"json": False}
"""Field metadata: kept on the typed row, left out of its JSON (e.g. the decoded event)."""


_AS_IS = frozenset({str, int, float, bool, type(None)})
"""The types whose values are JSON-ready as they are (exactly these: an enum deriving from
``str`` is shown by its value, below)."""


def plain(value: Any) -> Any:
    """A typed value as JSON-ready data: Decimals and times as exact text, enums by value."""
    kind = type(value)
    if kind in _AS_IS:  # the common cases first, by exact type: a list of rows converts each value
        return value
    if kind is Decimal:
        return format_decimal(value)
    if kind is datetime:
        return format_timestamp(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, ResultRow):
        return value.to_json()
    if kind is dict or isinstance(value, Mapping):  # (a dict spares the abstract class's check)
        # A value ready as it is is not passed down: one call less each.
        return {k: v if type(v) in _AS_IS else plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [v if type(v) in _AS_IS else plain(v) for v in value]
    return value


def _reader(hint: Any) -> Callable[[Any], Any]:
    """How to read one JSON-ready value back into the field's type."""
    args = typing.get_args(hint)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        inner = _reader(next(a for a in args if a is not type(None)))
        return lambda v: None if v is None else inner(v)
    if hint is Decimal:
        return Decimal
    if hint is datetime:
        return parse_timestamp
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint
    if origin is tuple:
        return tuple
    if origin in (Mapping, dict) and args and args[1] is Decimal:
        return lambda v: {k: Decimal(x) for k, x in v.items()}
    if origin in (Mapping, dict) and args and isinstance(args[1], type) and issubclass(args[1], ResultRow):
        row = args[1]
        return lambda v: {k: row.from_json(x) for k, x in v.items()}
    if origin in (Mapping, dict):
        return dict
    return lambda v: v


_SHOWN_NAMES: dict[type, tuple[str, ...]] = {}


def _shown_names(cls: type) -> tuple[str, ...]:
    """The names of a row class's fields that its JSON shows, in field order (found once a class)."""
    names = _SHOWN_NAMES.get(cls)
    if names is None:
        names = _SHOWN_NAMES[cls] = tuple(f.name for f in fields(cls) if f.metadata.get("json", True))
    return names


_PACKED = "_packed"
"""Key, in a row's ``__dict__``, of its stored values not yet read (:func:`lazy_reader`,
``packed_reader``)."""
_HOW = "_how"
"""Key, in the ``__dict__`` of a row holding its stored values, of what fills its fields from
them and what shows them as JSON: one pair shared by every row its reader makes (a pair per
row would be one more object for each, which the cycle collector then walks)."""


class ResultRow:
    """Shared behaviour of the row dataclasses (each declares its own fields).

    A row made by :func:`lazy_reader` holds its stored row, and one made by ``packed_reader`` its
    stored values as one JSON text, until a field is first read: that read decodes every field
    at once (one field at a time cost a row's full reading 2.6 times as much), and the row is
    then like any other. Equality, ``repr``, pickling and copies read its fields; ``to_json``
    shows the stored values as they are (the same data), so a list written as JSON reads none.
    """

    if not typing.TYPE_CHECKING:  # at run time only: mypy keeps checking attribute names

        def __getattr__(self, name: str) -> Any:
            # Only reached when ``name`` is not in the row's __dict__: a packed row's fields.
            state = self.__dict__
            stored = state.get(_PACKED)
            if stored is None or name.startswith("__"):
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
            state[_HOW][0](self, stored)  # one update: a thread reading meanwhile sees no field or all
            state.pop(_PACKED, None)
            state.pop(_HOW, None)
            return object.__getattribute__(self, name)

    def __getstate__(self) -> dict[str, Any]:
        """The row's fields (a packed row's decoded first), for pickling and copies."""
        if _PACKED in self.__dict__:
            getattr(self, fields(self)[0].name)  # type: ignore[arg-type]
        return self.__dict__

    def to_json(self) -> dict[str, Any]:
        """JSON-ready data, keys in field order (fields marked ``HIDDEN`` left out). A row still
        holding its stored values (:func:`lazy_reader`, ``packed_reader``) is shown from them, with
        no typed value made on the way (the same data: ``codecs.row_renderer``)."""
        state = self.__dict__
        stored = state.get(_PACKED)
        if stored is not None and (render := state[_HOW][1]) is not None:
            shown: dict[str, Any] = render(stored)
            return shown
        return {
            name: value if type(value := getattr(self, name)) in _AS_IS else plain(value)
            for name in _shown_names(type(self))
        }

    @classmethod
    def from_json(cls: type[Row], data: Mapping[str, Any]) -> Row:
        """The typed row of JSON-ready data (as ``to_json`` writes it)."""
        readers = _readers(cls)  # type: ignore[arg-type]
        return cls(**{name: read(data[name]) for name, read in readers.items()})

    @classmethod
    def from_stored(cls: type[Row], values: Sequence[Any]) -> Row:
        """The typed row of values as the ledger stored them, in field order: amounts and times
        are the ledger's own canonical text, so they are only converted, not checked again."""
        return cls.stored_reader()((values,))[0]

    @classmethod
    def stored_reader(
        cls: type[Row], decoders: Sequence[Callable[[Any], Any] | None] = ()
    ) -> Callable[[Iterable[Sequence[Any]]], list[Row]]:
        """What turns stored rows into typed rows, a page at a time (a listing of many rows, such
        as every open order after a restart, pays little per row).

        A stored row holds the fields' values in field order (more columns after them are left
        alone). ``decoders``: per column, what reads the stored form first (None: nothing), e.g.
        JSON text into a list, which the field's type then takes. A NULL stays None. Made once
        per class and decoders: one function whose body converts each column by its own calls,
        not by a loop over per-field converters.
        """
        return row_reader(cls, tuple(decoders))

    @classmethod
    def packed_reader(
        cls: type[Row], decoders: Sequence[Callable[[Any], Any] | None] = ()
    ) -> Callable[[Iterable[Sequence[Any]]], list[Row]]:
        """What turns stored rows whose first column is a row's stored values packed as one JSON
        array into typed rows, each decoded on the first read of a field (as ``stored_reader``
        with ``decoders`` would read the values). A listing of many rows, such as every open
        order after a restart, then costs a fraction of a microsecond per row until it is read."""
        fill_values = row_filler(cls, tuple(decoders))
        render_values = row_renderer(cls, tuple(decoders))

        def fill(row: Any, text: str) -> None:
            fill_values(row, orjson.loads(text))

        def render(text: str) -> dict[str, Any]:
            assert render_values is not None
            return render_values(orjson.loads(text))

        return _lazy(cls, fill, None if render_values is None else render, 0)


def lazy_reader(
    cls: type[Row], decoders: Sequence[Callable[[Any], Any] | None] = ()
) -> Callable[[Iterable[Sequence[Any]]], list[Row]]:
    """What turns stored rows into rows of ``cls`` as its ``stored_reader`` reads them, each
    holding its stored values until a field is first read (then decoded whole, as a packed row
    is). ``to_json`` of a row not yet read shows its stored values as they are (amounts and
    times are the ledger's canonical text already: ``codecs.row_renderer``), so a list written
    as JSON makes no ``Decimal`` or ``datetime`` of a row it only shows."""
    decoders = tuple(decoders)
    return lazy_rows(cls, row_filler(cls, decoders), row_renderer(cls, decoders))


def lazy_rows(
    cls: type[Row],
    fill: Callable[[Any, Any], None],
    render: Callable[[Any], dict[str, Any]] | None,
) -> Callable[[Iterable[Sequence[Any]]], list[Row]]:
    """What turns stored rows into rows of ``cls`` each holding its stored row until a field is
    first read: then ``fill(row, stored)`` gives it every field in one update of its
    ``__dict__``. ``render(stored)``: its ``to_json`` until then (None: the fields are read
    first)."""
    return _lazy(cls, fill, render, None)


def _lazy(
    cls: type[Row],
    fill: Callable[[Any, Any], None],
    render: Callable[[Any], dict[str, Any]] | None,
    column: int | None,
) -> Callable[[Iterable[Sequence[Any]]], list[Row]]:
    """Rows of ``cls`` each holding its stored row (``column``: that column of it only) with
    what fills its fields from it and what shows it as JSON-ready data."""

    how = (fill, render)

    def read(rows: Iterable[Sequence[Any]]) -> list[Row]:
        out: list[Row] = []
        append = out.append
        for r in rows:
            row = _new(cls)
            state = row.__dict__
            state[_PACKED] = r if column is None else r[column]
            state[_HOW] = how
            append(row)
        return out

    return read


_new = object.__new__


@functools.cache
def _readers(cls: type[ResultRow]) -> dict[str, Callable[[Any], Any]]:
    hints = typing.get_type_hints(cls)
    return {f.name: _reader(hints[f.name]) for f in fields(cls) if f.init and f.metadata.get("json", True)}  # type: ignore[arg-type]
