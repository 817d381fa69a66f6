"""Lists of their own: instrument definitions and parents, paged as every list is
(``http.listing``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from orderledger.infrastructure.http.access import Ledger, Read
from orderledger.infrastructure.http.listing import (
    PAGE_RESPONSES,
    KnownParameters,
    ListQuery,
    paging,
    send_page,
)

router = APIRouter(tags=["read"], dependencies=[KnownParameters])  # an unknown parameter: 400


@router.get("/instruments", responses=PAGE_RESPONSES)
async def get_instruments(
    role: Read,
    ledger: Ledger,
    request: Request,
    response: Response,
    page: Annotated[ListQuery, paging("instruments")],
    all_versions: Annotated[bool, Query(description="every version, not only the one in force")] = False,
) -> list[dict[str, Any]]:
    """A page of instrument definitions (contract size, tick, lot, settlement), by venue and
    instrument unless `sort` says otherwise."""
    rows = await ledger.listed(request, "instruments", every_version=all_versions, **page.arguments())
    return send_page(request, response, rows)


@router.get("/parents", responses=PAGE_RESPONSES)
async def get_parents(
    role: Read,
    ledger: Ledger,
    request: Request,
    response: Response,
    page: Annotated[ListQuery, paging("parents")],
) -> list[dict[str, Any]]:
    """A page of the parents orders name (`parent_id`), each with its child orders' count, open
    count, accounts, instruments and times; `/orders?parent=P` and `/trades?parent=P` list one
    parent's orders and trades."""
    await ledger.views_behind(response)
    rows = await ledger.listed(request, "parents", **page.arguments())
    return send_page(request, response, rows)
