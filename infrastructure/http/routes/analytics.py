"""Analytics: execution quality per group, answered by DuckDB over the ledger's store
(docs/analytics.md). A whole-log read: bounded like the others (503 when the bound is reached)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from orderledger.infrastructure.application.analytics.execution import GROUPINGS
from orderledger.infrastructure.application.requests import ExecutionQuality
from orderledger.infrastructure.http.access import Ledger, moment
from orderledger.infrastructure.http.list_parameters import KnownParameters

router = APIRouter(tags=["analytics"], dependencies=[KnownParameters])  # an unknown parameter: 400


@router.get("/analytics/execution")
async def get_execution(
    ledger: Ledger,
    by: Annotated[str, Query(description=f"comma-separated: {', '.join(GROUPINGS)}")] = "",
    since: Annotated[str | None, Query(description="orders requested at or after (venue time)")] = None,
    until: Annotated[str | None, Query(description="orders requested before (venue time)")] = None,
) -> list[dict[str, Any]]:
    """Slippage vs limit and decision price and fees in bps (positive = cost), fill ratio, maker
    share, seconds to ack, first fill and completion, reject/cancel/replace rates, per group."""
    asked = ExecutionQuality(by, moment(since, "since"), moment(until, "until"))
    rows: list[dict[str, Any]] = await ledger.read("execution quality", asked)
    return rows
