"""Modules and names imported when first used, not when the module that names them is.

A process that only reads the views (``orderledger orders``, a dashboard) never calls the
ledger's writes, reconciliation, the lake or the analytics; importing them at the top of
``application.ledger`` would make every start pay for ingest's adapters and pydantic message
models all the same. The ledger names them at its top (under ``TYPE_CHECKING`` for the type
checker, which reads the real modules) and binds them here for run time.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from importlib import import_module
from typing import Any


class Module:
    """A module imported when one of its attributes is first read (then from ``sys.modules``)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(import_module(self.name), attribute)

    def __repr__(self) -> str:
        return f"<module {self.name!r}, imported on first use>"


def names(module: str, homes: Mapping[str, Sequence[str]]) -> Callable[[str], Any]:
    """A module's PEP 562 ``__getattr__`` that imports each name of ``homes`` (module → names)
    when it is first asked for (``argument_checks.type_hints`` reads hints through it), and keeps it
    in ``module``."""
    where = {name: home for home, found in homes.items() for name in found}

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        value = getattr(import_module(where[name]), name)
        setattr(sys.modules[module], name, value)
        return value

    return __getattr__


__all__ = ["Module", "names"]
