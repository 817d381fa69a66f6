"""The base of every typed request (``application.requests``): :class:`Request`, the roles, and
the two ways to declare one: :func:`request` (a value: compared, hashed, sent to another
process) and :func:`stream` (a one-shot command carrying what is not a value).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Generic, Self, TypeVar, cast, dataclass_transform

from orderledger.infrastructure.application.argument_checks import checked
from orderledger.infrastructure.results.filter import Filter

T = TypeVar("T", covariant=True)

ROLES = ("read", "write", "admin", "risk")
"""The roles a request may need. ``write`` records what the desk trades (messages, the pre-trade
check), ``admin`` also settles and applies reconciliations, ``risk`` sets limits and trading
states (``SetLimit``, ``ClearLimit``, ``SetTradingState``, and their messages in an ``Ingest``):
the key a bot writes with is not the key that raises its limits or resumes it. The HTTP API
admits a token to a request when the token's roles include each of the request's ``roles``."""

INCLUDES = {
    "read": frozenset({"read"}),
    "write": frozenset({"read", "write"}),
    "admin": frozenset({"read", "write", "admin"}),
    "risk": frozenset({"read", "risk"}),
}
"""What holding each role lets a token do: every role reads, admin also writes, and ``risk`` is
apart from ``write`` and ``admin`` (a token may hold several roles: ``write+risk``)."""
R = TypeVar("R", bound=type)

EVERYTHING = Filter()
"""The filter that selects every row (a list request's default ``where``)."""


class Request(Generic[T]):
    """A question put to the ledger, whose answer is a ``T`` (``OrderLedger.handle``).

    Besides its fields, a request says what answering it costs, for the shells that bound their
    reads (the HTTP API's limits): ``whole_log``, it reads or folds the whole log (seconds on a
    large ledger, where a view answers in milliseconds); ``from_views``, its answer comes from
    the views, which may lag the log (``ledger.upkeep.views_lag()``). Positions and P&L fold the log
    under a lot rule, which may be the ledger's own: whether they do is the ledger's to say
    (``http.service.LedgerService.folds_log``).

    What does not depend on a request's fields is declared with its class, as keywords:
    ``class Record(Request[Result], role="write")``, ``whole_log=True``, ``from_views=True``; what
    does (an ``as_of`` that folds the log) is a property of the class."""

    __slots__ = ()

    def __init_subclass__(
        cls,
        *,
        role: str | None = None,
        whole_log: bool | None = None,
        from_views: bool | None = None,
        **rest: Any,
    ) -> None:
        super().__init_subclass__(**rest)
        if role is not None and role not in ROLES:
            raise TypeError(f"{cls.__name__}: role {role!r} is not one of {', '.join(ROLES)}")
        for name, value in (("role", role), ("whole_log", whole_log), ("from_views", from_views)):
            if value is not None:
                setattr(cls, name, value)  # a constant in place of the base's property

    def checked(self) -> Self:
        """This request (an equal copy), its fields checked as the Python API's arguments are: a wrong-typed
        one raises :class:`InvalidInputError` naming the request and the field
        (``OrderLedger.handle`` checks what it is handed; the keyword methods check their own
        arguments before they build their request, so it is not checked twice)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]
        made = object.__new__(type(self))
        type(self)._check(made, **values)  # type: ignore[attr-defined]
        return made  # equal to this one; an iterable read lazily is checked item by item as read

    @property
    def role(self) -> str:
        """The role asking it needs (``ROLES``): a read needs ``read``; a command declares its
        own with its class (``role="write"``). The HTTP API admits a token by it
        (``http.access.LedgerContext``), so a request's role is declared with its class and
        nowhere else."""
        return "read"

    @property
    def roles(self) -> tuple[str, ...]:
        """Every role asking it needs: its ``role``, unless what it carries needs more (an
        ``Ingest`` of limits or trading states needs ``risk``)."""
        return (self.role,)

    @property
    def whole_log(self) -> bool:
        """Whether the answer reads or folds the whole log rather than a view or an index."""
        return False

    @property
    def from_views(self) -> bool:
        """Whether the answer is read from the views (it shows the log up to where they are)."""
        return False


class ViewsUnlessAsOf(Request[T]):
    """A read answered from the views as they stand, or folded from the whole log when it asks
    how things stood ``as_of`` a time (orders, their iteration, exposure)."""

    __slots__ = ()
    as_of: datetime | None  # each subclass declares the field, with its default

    @property
    def whole_log(self) -> bool:
        return self.as_of is not None

    @property
    def from_views(self) -> bool:
        return self.as_of is None


@dataclass_transform(frozen_default=True)
def request(cls: R) -> R:
    """Declare a request: a frozen dataclass whose fields :meth:`Request.checked` checks
    against their type hints (``argument_checks.checked``)."""
    made: Any = dataclass(frozen=True)(cls)
    made._check = checked(made.__init__, f"{made.__name__}()")
    return cast(R, made)


@dataclass_transform(frozen_default=True, eq_default=False)
def stream(cls: R) -> R:
    """Declare a one-shot request: a frozen dataclass that carries what is not a value (a stream
    of inputs read as it is answered, a callback told of each batch). It equals and hashes as
    itself only (``eq=False``): two are never taken for one another, and none is kept as a key."""
    made: Any = dataclass(frozen=True, eq=False)(cls)
    made._check = checked(made.__init__, f"{made.__name__}()")
    return cast(R, made)


__all__ = ["EVERYTHING", "INCLUDES", "ROLES", "Request", "ViewsUnlessAsOf", "request", "stream"]
