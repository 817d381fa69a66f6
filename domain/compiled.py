"""What a declaration compiles to: functions generated from a list of fields that assign an
object's fields, or convert a row of values, one statement per field.

An order's fields are declared once (``order_state.ShownOrder`` and ``KeptOrder``), and every
order a rebuild folds is made from its request, and stored as a row, by a walk over that
declaration. Walked in a loop in Python, each field costs a tuple, a call and a branch: that
doubled the cost of making an order. The same walk written out as source once, when the module
is imported, costs what a hand-written ``__init__`` costs, and stays derived from the
declaration: a new field needs no edit here or in the functions made here.

This is the one module of the pure layers that generates code (``tests/unit/test_pure_layers``):
the source is made only of positions and of field names the declarations give (each checked to
be an identifier), never of values, which go in by reference.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class NoneOr:
    """A form that keeps None and converts any other value by ``form``. Called, it is that
    function; in a function made here it is written out (``None if x is None else form(x)``), so
    a value left None, as most of an order's optional terms are, costs no call at all."""

    form: Callable[[Any], Any]

    def __call__(self, value: Any) -> Any:
        return None if value is None else self.form(value)


def _applied(at: int, convert: Callable[[Any], Any], value: str, scope: dict[str, Any]) -> str:
    """The source of ``value`` through ``convert`` (held in ``scope`` as ``c<at>``)."""
    if isinstance(convert, NoneOr):
        scope[f"c{at}"] = convert.form
        return f"(None if (x{at} := {value}) is None else c{at}(x{at}))"
    scope[f"c{at}"] = convert
    return f"c{at}({value})"


def _compiled(name: str, source: str, scope: dict[str, Any]) -> Any:
    exec(compile(source, f"<compiled {name}>", "exec"), scope)
    return scope[name]


def assigner(
    name: str, fields: Sequence[tuple[str, Callable[[Any], Any] | None]], *, by_name: bool
) -> Callable[[Any, Any], None]:
    """A function ``(target, given)`` that assigns each of ``fields``' names on ``target`` its
    value in ``given`` (``given[name]`` when ``by_name``, else ``given[position]``), through the
    field's function when it has one (None: taken as it is)."""
    scope: dict[str, Any] = {}
    body = []
    for at, (field, convert) in enumerate(fields):
        if not field.isidentifier():
            raise ValueError(f"not a field name: {field!r}")
        value = f"given[{field!r}]" if by_name else f"given[{at}]"
        if convert is not None:
            value = _applied(at, convert, value, scope)
        body.append(f"    target.{field} = {value}\n")
    source = f"def {name}(target, given):\n" + ("".join(body) or "    pass\n")
    made: Callable[[Any, Any], None] = _compiled(name, source, scope)
    return made


def converter(
    name: str, forms: Sequence[Callable[[Any], Any] | None]
) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """A function ``(values)`` → the tuple of ``values``, each through its form in ``forms``
    (None: as it is); ``values`` holds one value per form."""
    scope: dict[str, Any] = {}
    items = []
    for at, form in enumerate(forms):
        items.append(f"v[{at}]" if form is None else _applied(at, form, f"v[{at}]", scope))
    made: Callable[[Sequence[Any]], tuple[Any, ...]] = _compiled(
        name, f"def {name}(v):\n    return ({', '.join(items)}{',' if len(items) == 1 else ''})\n", scope
    )
    return made


__all__ = ["NoneOr", "assigner", "converter"]
