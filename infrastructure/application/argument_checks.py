"""The Python API's argument check: every public method refuses a wrong-typed argument with an
:class:`InvalidInputError` naming the method and the parameter, before it touches storage.

The rules are the methods' own type hints, read once per method on its first call; nothing is
converted (``"64000"`` is not a ``Decimal``, ``"3"`` is not an ``int``). So a new parameter is
checked as soon as it is annotated, and a bound is one more ``Annotated[int, Ge(1)]``. What the
hints say, checked:

- a class: ``isinstance`` (``bool`` is not taken for ``int``; ``int`` is taken for ``float``),
  and a ``datetime`` must carry a UTC offset;
- ``X | Y``, ``Literal[...]``, ``Annotated[X, Ge(n)]`` (the ``annotated_types`` bounds);
- ``Callable``: anything callable; ``Any``: anything;
- containers (``Mapping``, ``Sequence``, ``Iterable``, ``tuple`` …) with their items: a ``str``
  or ``bytes`` is never taken for a collection (``ingest_lines("...")`` would otherwise ingest
  one line per character), nor a mapping for a collection of items (its keys would be taken). A list,
  tuple, set or mapping is checked whole before the call; any
  other iterable (a generator, a file) is checked item by item as the method reads it, so a
  wrong item stops the call there, with what came before it already processed.
"""

from __future__ import annotations

import collections.abc as abc
import datetime as dt
import functools
import inspect
import sys
import types
import typing
from collections.abc import Callable, Iterable, Iterator
from typing import Annotated, Any, TypeVar

import annotated_types

from orderledger.domain.errors import InvalidInputError
from orderledger.infrastructure.application.deprecated import take_renamed

F = TypeVar("F", bound=Callable[..., Any])

Count = Annotated[int, annotated_types.Ge(0)]
"""A number of things, or a log position: 0 or more."""
Version = Annotated[int, annotated_types.Ge(1)]
"""An order's event version: the first event is version 1."""
Slices = Annotated[int, annotated_types.Ge(1)]
"""How many parts a range is cut into (a chart's points): at least one."""
Counting = bool | Annotated[int, annotated_types.Ge(1)]
"""A list's ``count``: True counts every row the filter selects; a number N counts up to N (the
page's ``total`` is then at most N, and its ``capped`` says whether more rows match)."""
Check = Callable[[Any, str], Any]
"""Checks a value found at the path given (``lines[3]``), returns it (or a checking wrapper)."""

_EAGER = (list, tuple, set, frozenset, abc.Mapping, abc.KeysView, abc.ValuesView)
_COLLECTIONS = {
    abc.Iterable,
    abc.Iterator,
    abc.Collection,
    abc.Sequence,
    abc.Set,
    abc.Mapping,
    list,
    tuple,
    set,
    frozenset,
    dict,
}


def checked(method: F, where: str | None = None) -> F:
    """``method`` with its arguments checked against its type hints before it runs; ``where``
    names it in the errors (default: ``name()``)."""
    signature = inspect.signature(method)
    parameters = list(signature.parameters.values())
    where = where or f"{method.__name__}()"
    compiled: dict[str, Check] | None = None

    def checks() -> dict[str, Check]:
        nonlocal compiled
        if compiled is None:
            hints = type_hints(method)
            compiled = {
                p.name: _compile(hints[p.name], where)
                for p in parameters
                if p.name in hints and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            }
        return compiled

    positional = [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    renamed: dict[str, str] = getattr(method, "__renamed__", {})

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if renamed and kwargs:  # a keyword kept for a deprecation period (deprecated.renamed_keywords)
            take_renamed(method.__name__, renamed, kwargs)
        rules = checks()
        if len(args) > 1:
            # args[0] is self; extra positionals are left for Python's own TypeError
            checked_args = [_apply(rules, n, v) for n, v in zip(positional[1:], args[1:], strict=False)]
            args = (args[0], *checked_args, *args[len(positional) :])
        for name in kwargs:
            kwargs[name] = _apply(rules, name, kwargs[name])
        return method(*args, **kwargs)

    return typing.cast(F, wrapper)


def type_hints(method: Callable[..., Any]) -> dict[str, Any]:
    """``typing.get_type_hints(method)`` (with ``Annotated``'s extras), reading the names its
    module imports on first use as well (a module's PEP 562 ``__getattr__``, as
    ``application.ledger`` has for the types of its writes)."""
    return typing.get_type_hints(method, localns=_ModuleNames(method.__module__), include_extras=True)


class _ModuleNames(dict[str, Any]):
    """The names a method's hints are read with: its module's globals, and then the names the
    module imports on first use (its PEP 562 ``__getattr__``: ``ledger.Snapshot``)."""

    def __init__(self, module: str) -> None:
        super().__init__()
        self.module = sys.modules[module]

    def __missing__(self, name: str) -> Any:
        try:
            return getattr(self.module, name)
        except AttributeError:
            raise KeyError(name) from None


C = TypeVar("C", bound=type)


def checked_methods(cls: C) -> C:
    """Apply :func:`checked` to the constructor and every public method ``cls`` defines, except
    properties and the hooks it overrides for a base class (eventsourcing's ``construct_*``:
    called by the framework). The constructor's errors name the class: ``OrderLedger(): url ...``."""
    inherited = {name for base in cls.__mro__[1:] for name in vars(base)}
    for name, value in list(vars(cls).items()):
        if not inspect.isfunction(value):
            continue
        if name == "__init__":
            setattr(cls, name, checked(value, f"{cls.__name__}()"))
        elif not name.startswith("_") and name not in inherited:
            setattr(cls, name, checked(value))
    return cls


def _anything(value: Any, path: str) -> Any:
    return value


def _apply(rules: dict[str, Check], name: str, value: Any) -> Any:
    rule = rules.get(name)
    return value if rule is None else rule(value, name)


def _refuse(where: str, path: str, expected: str, value: Any) -> InvalidInputError:
    error = InvalidInputError(
        f"{where}: {path} must be {expected}, not {type(value).__name__}", field=path.split("[")[0]
    )
    error.refused_path = path  # type: ignore[attr-defined]  # (the union below reads it)
    return error


def _name(hint: Any) -> str:
    """A type hint as a reader writes it: ``Head | tuple[int, str] | None``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is None or hint is type(None):
        return "None"
    if origin is typing.Annotated:
        return _name(args[0])
    if origin is typing.Union or origin is types.UnionType:
        return " | ".join(map(_name, args))
    if origin is not None:
        inner = ", ".join("..." if a is Ellipsis else _name(a) for a in args)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    return getattr(hint, "__name__", str(hint))


def _compile(hint: Any, where: str) -> Check:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any or isinstance(hint, TypeVar):
        return _anything
    if hint is None or hint is type(None):
        return _instance(type(None), where)
    if origin is typing.Annotated:
        return _bounded(_compile(args[0], where), args[1:], where)
    if origin is typing.Union or origin is types.UnionType:
        return _union(hint, args, where)
    if origin is typing.Literal:

        def literal(value: Any, path: str) -> Any:
            if value not in args or type(value) not in {type(a) for a in args}:
                raise InvalidInputError(
                    f"{where}: {path} must be one of {', '.join(map(repr, args))}, not {value!r}"[:200],
                    field=path,
                )
            return value

        return literal
    if origin is abc.Callable or hint is abc.Callable:

        def is_callable(value: Any, path: str) -> Any:
            if not callable(value):
                raise _refuse(where, path, "callable", value)
            return value

        return is_callable
    if origin is type:

        def subclass(value: Any, path: str) -> Any:
            if not (isinstance(value, type) and issubclass(value, args[0])):
                raise _refuse(where, path, f"a subclass of {_name(args[0])}", value)
            return value

        return subclass
    if origin in _COLLECTIONS or hint in _COLLECTIONS:
        return _collection(hint, origin or hint, args, where)
    if isinstance(hint, type):
        return _instance(hint, where)
    if isinstance(origin, type):  # a generic class of the API's own (``Request[T]``): the class
        return _instance(origin, where)
    raise TypeError(f"{where}: no argument check for the type hint {hint!r}")


def _instance(cls: type, where: str) -> Check:
    accepted: tuple[type, ...] = (int, float) if cls is float else (cls,)
    refused_bool = cls is not bool and bool not in accepted and issubclass(bool, accepted)

    def instance(value: Any, path: str) -> Any:
        if not isinstance(value, accepted) or (refused_bool and isinstance(value, bool)):
            raise _refuse(where, path, cls.__name__, value)
        if isinstance(value, dt.datetime) and value.utcoffset() is None:
            raise InvalidInputError(f"{where}: {path} has no UTC offset (a naive datetime)", field=path)
        return value

    return instance


def _union(hint: Any, args: tuple[Any, ...], where: str) -> Check:
    options = [_compile(a, where) for a in args]
    # A str is a sequence of str: where the union names it, it is taken as itself, never as a
    # collection (and the collection branches refuse it anyway).
    texts = tuple(a for a in args if a in (str, bytes))

    def union(value: Any, path: str) -> Any:
        if texts and isinstance(value, texts):
            return value
        errors: list[InvalidInputError] = []
        for option in options:
            try:
                return option(value, path)
            except InvalidInputError as error:
                errors.append(error)
        # The option whose own check went inside the value (an item of the right container, a
        # bound on the right type) says more than a list of every option.
        deeper = [e for e in errors if getattr(e, "refused_path", None) != path]
        raise (deeper or [_refuse(where, path, _name(hint), value)])[0]

    return union


def _bounded(inner: Check, metadata: tuple[Any, ...], where: str) -> Check:
    bounds = [
        (m, text)
        for m in metadata
        for cls, text in (
            (annotated_types.Ge, "at least {}"),
            (annotated_types.Gt, "more than {}"),
            (annotated_types.Le, "at most {}"),
            (annotated_types.Lt, "less than {}"),
        )
        if isinstance(m, cls)
    ]

    def bounded(value: Any, path: str) -> Any:
        value = inner(value, path)
        for bound, text in bounds:
            limit = _holds(bound, value)
            if limit is not None:
                expected = text.format(limit)
                raise InvalidInputError(f"{where}: {path} must be {expected}, not {value!r}", field=path)
        return value

    return bounded


def _holds(bound: Any, value: Any) -> Any:
    """None if ``value`` keeps within ``bound``, else the bound's limit."""
    if isinstance(bound, annotated_types.Ge):
        return None if value >= bound.ge else bound.ge
    if isinstance(bound, annotated_types.Gt):
        return None if value > bound.gt else bound.gt
    if isinstance(bound, annotated_types.Le):
        return None if value <= bound.le else bound.le
    return None if value < bound.lt else bound.lt


def _collection(hint: Any, origin: Any, args: tuple[Any, ...], where: str) -> Check:
    expected = _name(hint)
    mapping = origin in (abc.Mapping, dict)
    if mapping:
        keys, values = (_compile(a, where) for a in (args or (Any, Any)))
    fixed: list[Check] | None = None
    item: Check | None = None
    if origin is tuple and args and args[-1] is not Ellipsis:
        fixed = [_compile(a, where) for a in args]
    elif not mapping and args:
        item = _compile(args[0], where)
    container = dict if origin is dict else origin

    def collection(value: Any, path: str) -> Any:
        if (
            isinstance(value, str | bytes | bytearray)
            or not isinstance(value, container)
            or (not mapping and isinstance(value, abc.Mapping))
        ):
            # a mapping where items are asked for would give its keys: lines = {"type": ...}
            # would ingest "type" as a line
            raise _refuse(where, path, expected, value)
        if mapping:
            for key, entry in value.items():
                keys(key, f"{path} key")
                if values is not _anything:
                    values(entry, f"{path}[{key!r}]")
            return value
        if fixed is not None:
            if len(value) != len(fixed):
                raise InvalidInputError(
                    f"{where}: {path} must be {expected} ({len(fixed)} items), not {len(value)} items",
                    field=path,
                )
            for index, (check, entry) in enumerate(zip(fixed, value, strict=True)):
                check(entry, f"{path}[{index}]")
            return value
        if item is None:
            return value
        if isinstance(value, _EAGER):
            for index, entry in enumerate(value):
                item(entry, f"{path}[{index}]")
            return value
        return _lazily(value, item, path)

    return collection


def _lazily(values: Iterable[Any], item: Check, path: str) -> Iterator[Any]:
    """Each item checked as the method reads it (a generator or file is read once, lazily)."""
    for index, entry in enumerate(values):
        yield item(entry, f"{path}[{index}]")
