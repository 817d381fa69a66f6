"""Public names kept for a deprecation period after they were replaced.

A bot that embeds the ledger must survive an upgrade: a replaced public name keeps working for
at least one minor release, warns with a ``DeprecationWarning`` that names its replacement and
the release that removes it, and is listed under "Deprecated" in CHANGELOG.md. Each name here is
a thin call of its replacement, so its behaviour cannot drift from it.

The warnings come from ``typing_extensions.deprecated`` (PEP 702): type checkers flag the names
as well, at the caller's line. ``AsyncOrderLedger``'s replaced methods sit beside it in
``application.aio``: on Python 3.11 deprecating a coroutine function imports asyncio, which the
synchronous ledger does not otherwise load. A call moved into one of the ledger's groups keeps
its flat name through :func:`moved`, which warns at run time.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from typing_extensions import deprecated

from orderledger.domain.order import Order

REMOVED_IN = "1.0.0"
"""The release that removes the names deprecated in the 0.x series."""

RENAMED_SINCE = "0.3.0"
"""The release that renamed the keywords ``renamed_keywords`` marks, and moved the ledger's calls
into its groups (``moved``)."""

F = TypeVar("F", bound=Callable[..., Any])
G = TypeVar("G")
P = ParamSpec("P")
R = TypeVar("R")


def moved_message(name: str, group: str, *, call: str = "()") -> str:
    """The warning of a call's flat name on the ledger, now ``group.name`` (``call``: "" for a
    property)."""
    return (
        f"{name}{call} is deprecated since {RENAMED_SINCE} and removed in {REMOVED_IN}: "
        f"use {group}.{name}{call}"
    )


def moved(group: str, method: Callable[Concatenate[G, P], R]) -> Callable[Concatenate[Any, P], R]:
    """A ledger's flat name for ``method``, a call of its group ``group`` (``ledger.audit``):
    it warns with a ``DeprecationWarning`` at the caller's line naming ``group.method``, then
    calls the group's method of that name, so it cannot drift from it. The same forward serves
    ``AsyncOrderLedger``: there the group's method answers a coroutine, which it hands back
    for the caller to await (the warning is raised at the call, in the caller's task)."""

    name = method.__name__

    def forwarded(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> R:
        found: R = getattr(getattr(self, group), name)(*args, **kwargs)
        return found

    functools.update_wrapper(forwarded, method)
    return deprecated(moved_message(method.__name__, group))(forwarded)


def renamed_keywords(**renamed: str) -> Callable[[F], F]:
    """Mark a public ledger method as still taking each keyword it renamed (``old="new"``,
    docs/glossary.md, "Deprecated aliases"): the argument check every public method passes
    through (``argument_checks.checked``) hands the old one on as the new one, warning
    (:func:`take_renamed`), before it checks it. The signature shown and type-checked is the new
    one, so a type checker flags the old keyword at the caller's line."""

    def mark(method: F) -> F:
        method.__renamed__ = dict(renamed)  # type: ignore[attr-defined]
        return method

    return mark


def take_renamed(name: str, renamed: Mapping[str, str], kwargs: dict[str, Any]) -> None:
    """Pass each old keyword of ``kwargs`` on as its new one, with a ``DeprecationWarning`` at
    the line that called the method (two frames up: the argument check, then its caller)."""
    for old in renamed.keys() & kwargs.keys():
        new = renamed[old]
        if new in kwargs:
            raise TypeError(f"{name}() takes {new}= or its older name {old}=, not both")
        warnings.warn(
            f"{name}({old}=...) is deprecated since {RENAMED_SINCE} and removed in {REMOVED_IN}: "
            f"use {name}({new}=...)",
            DeprecationWarning,
            stacklevel=3,
        )
        kwargs[new] = kwargs.pop(old)


class _Reads(Protocol):
    def order(
        self,
        order: str,
        *,
        version: int | None = ...,
        as_of: datetime | None = ...,
        event_time: bool = ...,
    ) -> Order: ...


GET_ORDER = (
    f"get_order() is deprecated since 0.2.0 and removed in {REMOVED_IN}: use order(order, version=...)"
)
ORDER_AS_OF = (
    f"order_as_of() is deprecated since 0.2.0 and removed in {REMOVED_IN}: "
    "use order(order, as_of=..., event_time=...)"
)


class DeprecatedReads:
    """``OrderLedger``'s replaced read methods."""

    @deprecated(GET_ORDER)
    def get_order(self: _Reads, client_order_id: str, *, version: int | None = None) -> Order:
        """Deprecated: ``order(client_order_id, version=version)``."""
        return self.order(client_order_id, version=version)

    @deprecated(ORDER_AS_OF)
    def order_as_of(
        self: _Reads, client_order_id: str, as_of: datetime, *, event_time: bool = False
    ) -> Order:
        """Deprecated: ``order(client_order_id, as_of=as_of, event_time=event_time)``."""
        return self.order(client_order_id, as_of=as_of, event_time=event_time)
