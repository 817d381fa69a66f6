"""The FastAPI application: the routes of ``routes/`` over one ``LedgerService``, tokens,
problem documents, the page.

Every ledger call runs in the thread pool (it blocks on the database); one ``OrderLedger`` is
shared by all requests, which is safe because it serialises its writes itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from orderledger.infrastructure.application.requests import Denials, Risk, TradingStates
from orderledger.infrastructure.http import problems
from orderledger.infrastructure.http.access import VIEWS_BEHIND, LedgerContext, client_keys
from orderledger.infrastructure.http.auth import Tokens
from orderledger.infrastructure.http.bounded_reads import (
    OwnThreads,
    Runner,
    WorkLimit,
    in_threads,
    list_limit,
    stream_limit,
)
from orderledger.infrastructure.http.guard import Access, BrowserGuard
from orderledger.infrastructure.http.pnl_reads import Folds
from orderledger.infrastructure.http.routes import routers
from orderledger.infrastructure.http.service import LedgerService
from orderledger.infrastructure.http.shedding import ListShedding
from orderledger.infrastructure.http.stream import RiskFeed
from orderledger.infrastructure.http.verifying import BackgroundVerify
from orderledger.infrastructure.listing import COUNT_CAP

__all__ = ["MAX_BODY", "VIEWS_BEHIND", "create_app", "openapi_text"]

STATIC = Path(__file__).parent / "static"
MAX_BODY = 8 * 1024 * 1024
"""Default bound on a request body (``serve --max-body``); a larger one is refused with 413."""
VERSION = version("orderledger")
"""The OpenAPI document's version: the installed release."""

# The page loads nothing from elsewhere and runs no inline script: even if markup got into the
# DOM, the browser would refuse to run it.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        " connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {
        "description": problems.TITLES[code],
        "content": {problems.MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    for code in (400, 401, 403, 404, 422, 429, 503)
}


BREACHES_SEEN = 100
"""How many of the latest breaches each look of ``/risk/stream`` reads: more than are recorded
between two looks."""


def risk_feed(service: LedgerService, poll_seconds: float) -> RiskFeed:
    """The one reader of the limits' statuses and the trading states that every ``/risk/stream``
    client of a threshold shares, woken by this process's commits."""

    async def look(threshold: Decimal) -> Any:
        rows = await run_in_threadpool(service.answer, Risk(threshold))
        states = await run_in_threadpool(service.answer, TradingStates())
        return rows, states, await run_in_threadpool(service.answer, Denials(last=BREACHES_SEEN))

    return RiskFeed(look, service.ledger.committed, poll_seconds)


def create_app(
    service: LedgerService,
    tokens: Tokens | None = None,
    *,
    max_body: int = MAX_BODY,
    poll_seconds: float = 0.25,
    allowed_origins: Iterable[str] = (),
    expensive: WorkLimit | None = None,
    reader: Runner | None = None,
    folder: Runner | None = None,
    lists: WorkLimit | None = None,
    lister: Runner | None = None,
    count_cap: int = COUNT_CAP,
    streams: WorkLimit | None = None,
) -> FastAPI:
    """The app over one shared ledger service; ``allowed_origins``: web origins besides its own
    whose pages may write (guard.py); ``expensive`` bounds the whole-log reads ``reader`` runs
    (bounded_reads.py), ``folder`` runs the P&L folds (pnl_reads.py; both in threads over ``service`` by
    default); ``lists`` bounds the list reads ``lister`` runs (threads of their own by default,
    one per read admitted), counted up to ``count_cap``; ``streams`` bounds ``/risk/stream``."""
    app = FastAPI(
        title="OrderLedger",
        version=VERSION,
        description="An event-sourced order ledger over HTTP. Every error is an RFC 9457 problem"
        " document. See docs/http.md.",
        responses=PROBLEM_RESPONSES,
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = service
    app.state.access = access = Access.of(tokens, allowed_origins)
    app.state.max_body = max_body
    app.state.poll_seconds = poll_seconds
    app.state.expensive = limit = expensive or WorkLimit()
    app.state.verifying = BackgroundVerify()
    app.state.streams = streams or stream_limit()

    app.state.risk_feed = risk_feed(service, poll_seconds)
    threads = in_threads(service)
    lists = lists or list_limit()
    app.state.ledger = LedgerContext(
        service,
        limit,
        reader or threads,
        Folds(folder or threads),
        lister or OwnThreads(service, lists.concurrency),
        lists,
        count_cap,
        None if lister is None else OwnThreads(service, lists.concurrency),
    )
    problems.install(app)
    app.add_middleware(BrowserGuard, access=access)

    @app.middleware("http")
    async def _security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    made = routers()
    for router in made:
        app.include_router(router)
    # Outermost (added last): a list read its bound refuses is answered before any other work.
    app.add_middleware(
        ListShedding,
        routes=[route for router in made for route in router.routes],
        limit=lists,
        clients=client_keys,
        headers=SECURITY_HEADERS,
    )

    # ------------------------------------------------------------------ the page

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)
            schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = {
                "type": "object",
                "description": "RFC 9457 problem details",
                "required": ["type", "title", "status", "detail"],
                "properties": {
                    "type": {"type": "string"},
                    "title": {"type": "string"},
                    "status": {"type": "integer"},
                    "detail": {"type": "string"},
                },
            }
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def openapi_text(app: FastAPI) -> str:
    """The OpenAPI document as committed in docs/openapi.json."""
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False) + "\n"
