"""The audit side: the log searched, the journal, verification and liveness."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import PlainTextResponse

from orderledger.domain.outcomes import SPELLED
from orderledger.infrastructure.application.requests import Events, Messages, Verify
from orderledger.infrastructure.http.access import Caller, Ledger, Server
from orderledger.infrastructure.http.list_parameters import (
    PAGE,
    PAGE_RESPONSES,
    KnownParameters,
    ListQuery,
    paging,
)
from orderledger.infrastructure.http.metrics import scrape
from orderledger.infrastructure.http.shedding import sheds

router = APIRouter(tags=["audit"], dependencies=[KnownParameters])  # an unknown parameter: 400


@router.get("/events", response_model=PAGE, responses=PAGE_RESPONSES)
@sheds()
async def get_events(
    ledger: Ledger,
    request: Request,
    page: Annotated[ListQuery, paging("events")],
    type: Annotated[list[str], Query(description="event type, repeatable")] = [],  # noqa: B006
    event_time: Annotated[bool, Query(description="since/until are venue time")] = False,
) -> Response:
    """A page of the global log's events, in log order unless `sort` says otherwise."""
    return await ledger.listed(request, Events(page.where, tuple(type), event_time, page.count))


@router.get("/messages", response_model=PAGE, responses=PAGE_RESPONSES)
@sheds()
async def get_messages(
    ledger: Ledger,
    request: Request,
    page: Annotated[ListQuery, paging("messages")],
    outcome: Annotated[str | None, Query(description=SPELLED)] = None,
    parked: Annotated[bool, Query(description="only the messages still parked")] = False,
) -> Response:
    """A page of the journal: every inbound message verbatim, with its outcome, in arrival order
    unless `sort` says otherwise."""
    return await ledger.listed(request, Messages(page.where, outcome, parked, count=page.count))


@router.get("/verify")
async def get_verify(ledger: Ledger) -> dict[str, Any]:
    """Recompute the hash chain and check every view against a fresh fold (a bounded expensive read)."""
    report: dict[str, Any] = await ledger.read("GET /verify", Verify())
    return report


@router.post("/verify", status_code=202)
async def start_verify(ledger: Ledger, request: Request) -> dict[str, Any]:
    """Start a full verify in the background, as `GET /verify` runs it (or, while one runs,
    answer with that one): how far it is, and then its report, at `GET /verify/progress`."""

    async def run(progress_file: str) -> Any:
        return await ledger.expensive("POST /verify", Verify(progress_file=progress_file))

    answer: dict[str, Any] = request.app.state.verifying.start(run)
    return answer


@router.get("/verify/progress")
async def get_verify_progress(caller: Caller, request: Request) -> dict[str, Any]:
    """The background verify: `state` (idle, running, done or failed), `checked` of `total`
    events, and its `report` once done (or the `error` that ended it)."""
    answer: dict[str, Any] = request.app.state.verifying.state()
    return answer


@router.get("/health")
async def get_health(ledger: Server) -> dict[str, Any]:
    """Liveness: the database answers and takes writes (else 503 saying why); `head` is the last
    event's position, `cost_basis` the rule of the ledger's positions and P&L. No token needed."""
    health: dict[str, Any] = await ledger.call(ledger.service.health)
    return health


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def get_metrics(caller: Caller, request: Request) -> Response:
    """The running collectors' status figures and the log's head as Prometheus metrics (the text
    exposition format; docs/operations.md, "Monitoring"). A read, with the read role's token."""
    text, media_type = await scrape(request.app)
    return Response(text, media_type=media_type)
