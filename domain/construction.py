"""How the domain builds an event (or a request) whose values it has already checked.

Pydantic's own ``model_construct`` builds a model without validating it again; the domain needs
the same at a fraction of its cost, because every fact it decides is an event built here (the
ingest's hot path). ``construct`` does what ``model_construct`` does (defaults filled in, fields
in declaration order, so a payload's bytes are the same; the fields given recorded as set) from a
template made once per class out of its declared fields (``model_fields``, public). Giving a
model its values means setting the four slots pydantic keeps on every model: that is the one
place the pure layers touch pydantic's private names (``tests/unit/test_pure_layers.py``).

This is the only way the domain builds events: there is no factory to swap and nothing that
another module's import changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Template:
    """One model class's fields in declaration order with their defaults (None where there is
    none), and which are required or made by a factory."""

    names: tuple[str, ...]
    values: dict[str, Any]
    required: frozenset[str]
    known: frozenset[str]
    factories: tuple[tuple[str, Callable[[], Any]], ...]
    frozen: bool  # its instances never change (pydantic's ``frozen``)


_TEMPLATES: dict[type[BaseModel], Template] = {}


def template(cls: type[BaseModel]) -> Template:
    """The class's template (made at its first use)."""
    made = _TEMPLATES.get(cls)
    if made is None:
        values: dict[str, Any] = {}
        required: set[str] = set()
        factories: list[tuple[str, Callable[[], Any]]] = []
        for name, info in cls.model_fields.items():
            values[name] = None
            if info.default_factory is not None:
                factories.append((name, info.default_factory))  # type: ignore[arg-type]
            elif info.is_required():
                required.add(name)
            else:
                values[name] = info.default
        made = _TEMPLATES[cls] = Template(
            tuple(values),
            values,
            frozenset(required),
            frozenset(values),
            tuple(factories),
            bool(cls.model_config.get("frozen")),
        )
    return made


_GIVEN: dict[tuple[Any, ...], set[str]] = {}
"""The fields set of a frozen class's instances built from values of these names, in this order
(the class first): checked once, and one set for them all. A frozen model's fields set never
changes (pydantic copies it before a ``model_copy`` with an update adds to it), and the code
that builds events gives their values in a few shapes each."""
_SHAPES = 4096
"""The most shapes remembered (more are checked each time, as any unfrozen class's are)."""


def construct(cls: type[M], values: dict[str, Any]) -> M:
    """A model holding ``values`` (already checked), as ``cls.model_construct(**values)`` holds
    them. An unknown or missing required field is a programming error: TypeError."""
    plan = _TEMPLATES.get(cls) or template(cls)
    shape = (cls, *values)
    given = _GIVEN.get(shape)
    if given is None:
        given = set(values)
        if not plan.required <= given <= plan.known:
            missing = [name for name in plan.names if name in plan.required and name not in given]
            if missing:
                raise TypeError(f"{cls.__name__} needs {missing[0]!r}")
            raise TypeError(f"{cls.__name__} has no field {sorted(given - plan.known)[0]!r}")
        if plan.frozen and len(_GIVEN) < _SHAPES:
            _GIVEN[shape] = given
    data = plan.values.copy()  # every field, in order: the given values keep their places
    data.update(values)
    for name, factory in plan.factories:
        if name not in given:
            data[name] = factory()
    return holding(cls, data, given)


_new = object.__new__
_set = object.__setattr__
# The slots pydantic keeps beside __dict__, set through their descriptors: the same as
# object.__setattr__, without looking the name up along the class's MRO each time.
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def holding(cls: type[M], data: dict[str, Any], given: set[str]) -> M:
    """An instance whose fields are ``data`` (every field, in declaration order) as it is, with
    ``given`` as the fields set."""
    model = _new(cls)
    _set(model, "__dict__", data)
    _set_fields_set(model, given)
    _set_extra(model, None)
    _set_private(model, None)
    return model


__all__ = ["Template", "construct", "holding", "template"]
