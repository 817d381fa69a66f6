"""The query parameters of every list endpoint, derived from ``listing.FILTERS`` and
``listing.LISTINGS``, and the headers of a page.

A list endpoint declares ``page: Annotated[ListQuery, paging("orders")]``: the filters that list
takes become query parameters (described in the OpenAPI document from the declaration), with
``limit``, ``sort``, ``cursor`` and ``count``, read into the one ``Filter`` its list request
takes (``page.where``), as the CLI's options are (``cli.list_options``). ``KnownParameters`` refuses
a query parameter the route does not declare (400 naming it), so a typo is never taken for "no
filter".

A page answers with its rows as a JSON array; when more rows follow, ``Next-Cursor`` holds the
cursor of the next page and ``Link`` its address (``rel="next"``); ``count=true`` adds
``Total-Count``, the rows the filter selects in all, counted up to ``listing.COUNT_CAP``
(``Total-Count-Capped: true`` when more rows match).

A list read (``access.LedgerContext.listed``) makes its whole answer where it runs, off the event
loop: the page and its rows as JSON text (``Listed``); the route only wraps that text in a
response (``listed_response``), so a page of 5,000 rows never holds the event loop that
``/health`` and the writes are answered on.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import Depends, Query, Request, Response
from fastapi.dependencies.models import Dependant

from orderledger.domain.values import parse_timestamp
from orderledger.infrastructure.http.problems import Problem
from orderledger.infrastructure.listing import (
    COUNT_CAP,
    DEFAULT_LIMIT,
    LISTINGS,
    MAX_LIMIT,
    Page,
    filters_of,
)
from orderledger.infrastructure.results.filter import Filter

NEXT_CURSOR = "Next-Cursor"
TOTAL_COUNT = "Total-Count"
TOTAL_COUNT_CAPPED = "Total-Count-Capped"
PAGE_HEADERS: dict[str, dict[str, Any]] = {
    NEXT_CURSOR: {
        "description": "The cursor of the next page (pass it as `cursor`); absent on the last page",
        "schema": {"type": "string"},
    },
    "Link": {
        "description": 'The next page\'s address: `<URL>; rel="next"`; absent on the last page',
        "schema": {"type": "string"},
    },
    TOTAL_COUNT: {
        "description": "With `count=true`: the rows the filter selects in all (limit and cursor"
        f" aside), counted up to {COUNT_CAP:,}",
        "schema": {"type": "integer"},
    },
    TOTAL_COUNT_CAPPED: {
        "description": f"`true` when the filter selects more than the {COUNT_CAP:,} rows counted"
        " (`Total-Count` is then that bound); absent otherwise",
        "schema": {"type": "string", "enum": ["true"]},
    },
}
"""The headers of a page, as the OpenAPI document states them."""


@dataclass(frozen=True)
class ListQuery:
    """A list endpoint's query: the one ``Filter`` of its filters and paging (what the list
    request takes as ``where``), and whether to count the rows it selects."""

    where: Filter = field(default_factory=Filter)
    count: bool = False


def paging(listing: str) -> Any:
    """The dependency that reads ``listing``'s filters and paging from the query."""
    spec = LISTINGS[listing]
    criteria = filters_of(listing)
    parameters = [
        inspect.Parameter(
            c.param,
            inspect.Parameter.KEYWORD_ONLY,
            default=Query(None, description=c.describe(listing)),
            annotation=str | None,
        )
        for c in criteria
    ]
    sorts = [*spec.sort_names, *(f"-{name}" for name in spec.sorts)]
    parameters += [
        inspect.Parameter(
            "limit",
            inspect.Parameter.KEYWORD_ONLY,
            default=Query(
                DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description=f"rows per page (at most {MAX_LIMIT:,})"
            ),
            annotation=int,
        ),
        inspect.Parameter(
            "sort",
            inspect.Parameter.KEYWORD_ONLY,
            default=Query(None, description=spec.describe_sort(), json_schema_extra={"enum": sorts}),
            annotation=str | None,
        ),
        inspect.Parameter(
            "cursor",
            inspect.Parameter.KEYWORD_ONLY,
            default=Query(
                None,
                description="continue after the page that answered this in its Next-Cursor header"
                " (with the same filter and sort)",
            ),
            annotation=str | None,
        ),
        inspect.Parameter(
            "count",
            inspect.Parameter.KEYWORD_ONLY,
            default=Query(False, description="add a Total-Count header: the rows the filter selects"),
            annotation=bool,
        ),
    ]
    kinds = {c.param: c for c in criteria}

    def read(**given: Any) -> ListQuery:
        chosen: dict[str, Any] = {}
        for param, value in given.items():
            if param in kinds and value is not None:
                criterion = kinds[param]
                chosen[criterion.name] = (
                    parse_timestamp(value, criterion.param) if criterion.kind is not str else value
                )
        where = Filter(
            **chosen, limit=given["limit"], sort=given["sort"] or None, cursor=given["cursor"] or None
        )
        return ListQuery(where, given["count"])

    read.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    return Depends(read)


def _query_names(dependant: Dependant) -> Iterator[str]:
    for param in dependant.query_params:
        yield param.alias
    for sub in dependant.dependencies:
        yield from _query_names(sub)


_known: dict[int, tuple[Dependant, frozenset[str]]] = {}
"""Each route's query names, by its dependant (kept with it: an ID is never a freed one's)."""


async def _known_parameters(request: Request) -> None:
    route = request.scope.get("route")
    dependant: Dependant | None = getattr(route, "dependant", None)
    if dependant is None:
        return
    known = _known.get(id(dependant))
    if known is None or known[0] is not dependant:
        known = _known[id(dependant)] = (dependant, frozenset(_query_names(dependant)))
    names = known[1]
    unknown = sorted(set(request.query_params) - names)
    if unknown:
        raise Problem(
            400,
            f"query parameter {unknown[0]} is not known here (known: {', '.join(sorted(names))})",
        )


KnownParameters = Depends(_known_parameters)
"""A route dependency: an undeclared query parameter is a 400 naming it."""


def page_headers(request: Request, page: Page[Any]) -> dict[str, str]:
    """The headers of a page: its next page's cursor and address, and its count."""
    headers = {}
    if page.next_cursor is not None:
        headers[NEXT_CURSOR] = page.next_cursor
        following = request.url.include_query_params(cursor=page.next_cursor)
        target = following.path + (f"?{following.query}" if following.query else "")
        headers["Link"] = f'<{target}>; rel="next"'
    if page.total is not None:
        headers[TOTAL_COUNT] = str(page.total)
    if page.capped:
        headers[TOTAL_COUNT_CAPPED] = "true"
    return headers


def send_page(request: Request, response: Response, page: Page[Any]) -> list[Any]:
    """A page's rows, with its headers set on ``response``."""
    response.headers.update(page_headers(request, page))
    return list(page)


@dataclass(frozen=True)
class Listed:
    """A list read's whole answer, made where the read ran: the page (its cursor and count; its
    rows as given), the rows as JSON text, and how far the views are behind the log (None: a
    list not read from the views)."""

    page: Page[Any]
    body: bytes
    behind: int | None

    @classmethod
    def of(cls, page: Page[Any], behind: int | None) -> Listed:
        """``page`` with its rows written as JSON (compact, UTF-8, as every answer is)."""
        return cls(page.with_rows(()), orjson.dumps(page), behind)


def listed_response(request: Request, listed: Listed) -> Response:
    """The response to a list read: its JSON text as made, with the page's headers."""
    return Response(listed.body, media_type="application/json", headers=page_headers(request, listed.page))


PAGE = list[dict[str, Any]]
"""A page as the OpenAPI document states it (its routes answer with a made ``Response``)."""
PAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "One page of rows (a JSON array)", "headers": PAGE_HEADERS}
}
"""The OpenAPI ``responses`` of a list endpoint: a 200 with the page's headers."""


__all__ = [
    "PAGE",
    "PAGE_RESPONSES",
    "KnownParameters",
    "ListQuery",
    "Listed",
    "listed_response",
    "page_headers",
    "paging",
    "send_page",
]
