"""The audit side: the log searched, the journal, verification and liveness."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from orderledger.domain.outcomes import SPELLED
from orderledger.infrastructure.http.access import Ledger, Read

router = APIRouter(tags=["audit"])

MAX_LIMIT = 10_000
"""The most rows one search answers (``limit``)."""


@router.get("/events")
async def get_events(
    role: Read,
    ledger: Ledger,
    type: Annotated[list[str], Query(description="event type, repeatable")] = [],  # noqa: B006
    account: str | None = None,
    venue: str | None = None,
    instrument: str | None = None,
    order: str | None = None,
    since: Annotated[str | None, Query(description="recorded at or after")] = None,
    until: Annotated[str | None, Query(description="recorded at or before")] = None,
    event_time: Annotated[bool, Query(description="since/until are venue time")] = False,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 1_000,
) -> list[dict[str, Any]]:
    """Search the global log, in log order."""
    rows: list[dict[str, Any]] = await ledger.call(
        "events",
        types=type,
        account=account,
        venue=venue,
        instrument=instrument,
        order=order,
        since=since,
        until=until,
        event_time=event_time,
        limit=limit,
    )
    return rows


@router.get("/messages")
async def get_messages(
    role: Read,
    ledger: Ledger,
    outcome: Annotated[str | None, Query(description=SPELLED)] = None,
    since: Annotated[str | None, Query(description="received at or after")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 1_000,
) -> list[dict[str, Any]]:
    """The journal: every inbound message verbatim, with its outcome."""
    rows: list[dict[str, Any]] = await ledger.call("messages", outcome=outcome, since=since, limit=limit)
    return rows


@router.get("/verify")
async def get_verify(role: Read, ledger: Ledger) -> dict[str, Any]:
    """Recompute the hash chain and check every view against a fresh fold (a bounded expensive read)."""
    report: dict[str, Any] = await ledger.expensive("GET /verify", "verify")
    return report


@router.get("/health")
async def get_health(ledger: Ledger) -> dict[str, Any]:
    """Liveness: the database answers and takes writes (else 503 saying why); `head` is the last
    event's position, `cost_basis` the rule of the ledger's positions and P&L. No token needed."""
    health: dict[str, Any] = await ledger.call("health")
    return health
