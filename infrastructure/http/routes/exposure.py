"""Exposure: positions and open orders per underlying (docs/risk.md, "Exposure")."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from orderledger.domain.exposure import grouping, one_currency
from orderledger.infrastructure.application.reads.view_queries import parse_marks
from orderledger.infrastructure.application.requests import Exposure
from orderledger.infrastructure.http.access import Ledger, moment
from orderledger.infrastructure.http.list_parameters import KnownParameters

router = APIRouter(tags=["read"], dependencies=[KnownParameters])  # an unknown parameter: 400


@router.get("/exposure")
async def get_exposure(
    ledger: Ledger,
    response: Response,
    by: Annotated[
        str, Query(description="account, venue and underlying, comma-separated (underlying always)")
    ] = "account,underlying",
    mark: Annotated[list[str], Query(description="INSTRUMENT=PRICE, repeatable")] = [],  # noqa: B006
    as_of: Annotated[str | None, Query(description="as they stood at this time (ISO 8601, Z)")] = None,
    in_currency: Annotated[
        str | None, Query(description="also net and gross in this one currency, at the rates recorded")
    ] = None,
) -> list[dict[str, Any]]:
    """Exposure per underlying, grouped `by` account and venue as named: positions in units of the
    underlying (contract size, inverse settlement, options at ±1) valued at the latest marks (or
    the `mark`s given), beside the worst case of the open orders per side. Read from the views
    (their lag in `Views-Behind`), or as they stood at `as_of` (folded from the log: a bounded
    expensive read). With `in_currency`, each row's net and gross value in that one currency too
    (`net_in`, `gross_in`), at the rates recorded as marks."""
    marks = tuple(parse_marks(mark).items())
    asked = Exposure(grouping(by), marks, moment(as_of, "as_of"), in_currency=one_currency(in_currency))
    if asked.whole_log:
        then: list[dict[str, Any]] = await ledger.read("GET /exposure?as_of", asked)
        return then
    await ledger.views_behind(response)
    rows: list[dict[str, Any]] = await ledger.ask(asked)
    return rows
