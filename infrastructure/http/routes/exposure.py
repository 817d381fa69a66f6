"""Exposure: positions and open orders per underlying (docs/risk.md, "Exposure")."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from orderledger.infrastructure.application.exposure import grouping
from orderledger.infrastructure.application.queries import parse_marks
from orderledger.infrastructure.application.requests import Exposure
from orderledger.infrastructure.http.access import Ledger
from orderledger.infrastructure.http.listing import KnownParameters

router = APIRouter(tags=["read"], dependencies=[KnownParameters])  # an unknown parameter: 400


@router.get("/exposure")
async def get_exposure(
    ledger: Ledger,
    response: Response,
    by: Annotated[
        str, Query(description="account, venue and underlying, comma-separated (underlying always)")
    ] = "account,underlying",
    mark: Annotated[list[str], Query(description="INSTRUMENT=PRICE, repeatable")] = [],  # noqa: B006
) -> list[dict[str, Any]]:
    """Exposure per underlying, grouped `by` account and venue as named: positions in units of the
    underlying (contract size, inverse settlement, options at ±1) valued at the latest marks (or
    the `mark`s given), beside the worst case of the open orders per side. Read from the views
    (their lag in `Views-Behind`)."""
    asked = Exposure(grouping(by), tuple(parse_marks(mark).items()))
    await ledger.views_behind(response)
    rows: list[dict[str, Any]] = await ledger.ask(asked)
    return rows
