"""The list methods' filter keywords, derived from the one declaration of the filters
(``results.filter.Filter``): ``@filtered("orders")`` makes a method written over a ``where: Filter``
take, besides, each filter the orders list takes (``Filter``'s fields whose ``lists`` name it,
under their ``param``: ``order`` for ``client_order_id``) and the fields that page every list
(``newest``, ``limit``, ``sort``, ``cursor``) as keywords, typed as ``Filter`` types them.

    ledger.orders(account="alpha", limit=10)            # the keywords
    ledger.orders(Filter(account="alpha", limit=10))    # the same Filter, given whole

So a filter added to ``Filter`` is a keyword of every list method whose list takes it, with no
method to edit; the keywords are in the method's signature (``inspect``, the public API pin,
``help()``) and checked as every argument of the Python API is (``argument_checks.checked``). Giving
both a ``Filter`` and filter keywords is refused naming ``where``. The cost is one dict per call,
never per row.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from orderledger.domain.errors import InvalidInputError
from orderledger.infrastructure.listing import FILTERS, PAGING
from orderledger.infrastructure.results.filter import Filter

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S")

_HINTS = typing.get_type_hints(Filter, include_extras=True)
_SPELLED = {name: str(hint) for name, hint in Filter.__annotations__.items()}
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Filter)}


def filter_keywords(listing: str) -> dict[str, str]:
    """The keywords a list method of ``listing`` takes for its ``Filter``: keyword → the
    ``Filter`` field it sets (its filters in declaration order, then the paging fields)."""
    chosen = {c.param: c.name for c in FILTERS if listing in c.lists}
    return chosen | {name: name for name in PAGING}


def filtered(
    listing: str,
) -> Callable[[Callable[Concatenate[S, Filter, P], R]], Callable[..., R]]:
    """Make a list method over ``where: Filter`` take ``listing``'s filter keywords too."""
    keywords = filter_keywords(listing)

    def make(method: Callable[Concatenate[S, Filter, P], R]) -> Callable[..., R]:
        own = list(inspect.signature(method).parameters.values())
        if len(own) < 2 or own[1].name != "where":
            raise TypeError(f"{method.__name__}: a filtered method takes (self, where, ...)")
        taken = [
            inspect.Parameter(
                param, inspect.Parameter.KEYWORD_ONLY, default=_DEFAULTS[name], annotation=_SPELLED[name]
            )
            for param, name in keywords.items()
        ]
        where = own[1].replace(default=None, annotation="Filter | None")
        signature = inspect.signature(method).replace(parameters=[own[0], where, *taken, *own[2:]])
        name = method.__name__
        call: Callable[..., R] = method  # its own keywords, as given

        @functools.wraps(method)
        def method_with_keywords(self: S, where: Filter | None = None, **given: Any) -> R:
            chosen = {keywords[k]: given.pop(k) for k in keywords.keys() & given.keys()}
            if where is None:
                where = Filter(**chosen)
            elif chosen:
                raise InvalidInputError(
                    f"{name}(): give a Filter (where) or the filter keywords"
                    f" ({', '.join(sorted(k for k, v in keywords.items() if v in chosen))}), not both",
                    field="where",
                )
            return call(self, where, **given)

        annotations = dict(method.__annotations__)
        annotations["where"] = Filter | None
        annotations.update({param: _HINTS[name] for param, name in keywords.items()})
        method_with_keywords.__annotations__ = annotations
        method_with_keywords.__signature__ = signature  # type: ignore[attr-defined]
        method_with_keywords.__filtered__ = listing  # type: ignore[attr-defined]
        return method_with_keywords

    return make


__all__ = ["filter_keywords", "filtered"]
