"""Lists of their own: instrument definitions and parents, paged as every list is
(``http.list_parameters``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from orderledger.infrastructure.application.requests import Instruments, Parents
from orderledger.infrastructure.http.access import Ledger
from orderledger.infrastructure.http.list_parameters import (
    PAGE,
    PAGE_RESPONSES,
    KnownParameters,
    ListQuery,
    paging,
)
from orderledger.infrastructure.http.shedding import sheds

router = APIRouter(tags=["read"], dependencies=[KnownParameters])  # an unknown parameter: 400


@router.get("/instruments", response_model=PAGE, responses=PAGE_RESPONSES)
@sheds()
async def get_instruments(
    ledger: Ledger,
    request: Request,
    page: Annotated[ListQuery, paging("instruments")],
    all_versions: Annotated[bool, Query(description="every version, not only the one in force")] = False,
) -> Response:
    """A page of instrument definitions (contract size, tick, lot, settlement), by venue and
    instrument unless `sort` says otherwise."""
    return await ledger.listed(request, Instruments(page.where, all_versions, page.count))


@router.get("/parents", response_model=PAGE, responses=PAGE_RESPONSES)
@sheds()
async def get_parents(
    ledger: Ledger,
    request: Request,
    page: Annotated[ListQuery, paging("parents")],
) -> Response:
    """A page of the parents orders name (`parent_id`), each with its child orders' count, open
    count, accounts, instruments and times; `/orders?parent=P` and `/trades?parent=P` list one
    parent's orders and trades."""
    return await ledger.listed(request, Parents(page.where, page.count))
