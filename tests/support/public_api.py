"""The library's public API as text: what an embedding program may import and call.

It is everything ``orderledger`` exports (``__all__``) and every name the docs, the README and
the examples import from deeper modules (``from orderledger.domain.values import Status``), with
each callable's signature, each row's fields and each enum's members. ``tests/api/public_api.txt``
pins it: ``tests/api/test_public_api.py`` fails on any difference, so a change to the public API
is made on purpose (regenerate the file with ``python -m tests.support.public_api --write``, and
say it in CHANGELOG.md; a removed name is first deprecated, see docs/python.md).
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import inspect
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PINNED = ROOT / "tests" / "api" / "public_api.txt"
_IMPORT = re.compile(r"^from (orderledger(?:\.\w+)*) import ([\w, ]+)$", re.MULTILINE)


def documented_imports() -> dict[str, set[str]]:
    """Module → names, for every ``from orderledger... import ...`` line of the README, docs/
    and examples/ (the names users are taught to import)."""
    found: dict[str, set[str]] = {}
    sources = [
        ROOT / "README.md",
        *sorted((ROOT / "docs").glob("*.md")),
        *sorted((ROOT / "examples").glob("*.py")),
    ]
    for path in sources:
        for module, names in _IMPORT.findall(path.read_text(encoding="utf-8")):
            found.setdefault(module, set()).update(n.strip() for n in names.split(",") if n.strip())
    return found


def _signature(value: Any) -> str:
    try:
        return str(inspect.signature(value))
    except (TypeError, ValueError):
        return "(...)"


def _deprecation(value: Any) -> str:
    message = getattr(value, "__deprecated__", None)
    renamed = getattr(value, "__renamed__", {})
    older = ", ".join(f"{old}= (deprecated: {new}=)" for old, new in renamed.items())
    return (f"  [deprecated: {message}]" if message else "") + (f"  [also takes {older}]" if older else "")


def _members(cls: type) -> Iterator[str]:
    """A class's public attributes that its own package defines (not object's, Exception's or
    Enum's)."""
    if dataclasses.is_dataclass(cls):
        for field in dataclasses.fields(cls):
            if not field.name.startswith("_"):
                yield f"    field {field.name}: {field.type}"
    elif not isinstance(cls, enum.EnumMeta):
        annotated: dict[str, Any] = {}
        for base in reversed(cls.__mro__):
            if base.__module__.startswith("orderledger"):
                annotated.update(vars(base).get("__annotations__", {}))
        for name, annotation in annotated.items():
            if not name.startswith("_") and "ClassVar" not in str(annotation):
                yield f"    field {name}: {annotation}"
    if isinstance(cls, enum.EnumMeta):
        for member in cls:  # type: ignore[var-annotated]
            yield f"    member {member.name} = {member.value!r}"
    for name in sorted(dir(cls)):
        if name.startswith("_") or (isinstance(cls, enum.EnumMeta) and name in cls.__members__):
            continue
        owner = next((base for base in cls.__mro__ if name in vars(base)), None)
        if owner is None or not owner.__module__.startswith("orderledger"):
            continue
        attribute = vars(owner)[name]
        if isinstance(attribute, property):
            yield f"    property {name}"
        elif isinstance(attribute, staticmethod | classmethod):
            yield f"    method {name}{_signature(getattr(cls, name))}"
        elif callable(attribute):
            called = attribute.__wrapped__ if hasattr(attribute, "__deprecated__") else attribute
            kind = "async method" if inspect.iscoroutinefunction(called) else "method"
            yield f"    {kind} {name}{_signature(attribute)}{_deprecation(attribute)}"


def _describe(qualified: str, value: Any) -> Iterator[str]:
    if isinstance(value, type):
        bases = ", ".join(b.__name__ for b in value.__bases__ if b is not object)
        yield f"class {qualified}({bases})"
        yield from _members(value)
    elif callable(value):
        yield f"function {qualified}{_signature(value)}{_deprecation(value)}"
    else:
        yield f"value {qualified}: {type(value).__name__}"


def surface() -> str:
    """The public API, one line per name or member, sorted by module and name."""
    import orderledger

    modules: dict[str, set[str]] = {"orderledger": set(orderledger.__all__)}
    for module, names in documented_imports().items():
        modules.setdefault(module, set()).update(names)
    lines = ["orderledger.__version__ (a string, from the installed distribution)"]
    for module in sorted(modules):
        loaded = importlib.import_module(module)
        for name in sorted(modules[module]):
            lines.extend(_describe(f"{module}.{name}", getattr(loaded, name)))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        PINNED.write_text(surface(), encoding="utf-8")
        print(f"wrote {PINNED.relative_to(ROOT)}")
    else:
        sys.stdout.write(surface())
