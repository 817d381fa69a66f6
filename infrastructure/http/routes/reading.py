"""Reads: orders, the trade blotter, positions, lots and P&L, and the log as it grows."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from orderledger.infrastructure.application.reads.view_queries import parse_marks
from orderledger.infrastructure.application.requests import (
    History,
    Lots,
    OrderAt,
    Orders,
    Pnl,
    PnlDaily,
    PnlSeries,
    Positions,
    Trades,
)
from orderledger.infrastructure.http.access import Ledger, moment
from orderledger.infrastructure.http.list_parameters import (
    PAGE,
    PAGE_RESPONSES,
    KnownParameters,
    ListQuery,
    paging,
    send_page,
)
from orderledger.infrastructure.http.problems import Problem
from orderledger.infrastructure.http.shedding import sheds
from orderledger.infrastructure.http.stream import SSE_RESPONSES, log_events, sse

router = APIRouter(tags=["read"], dependencies=[KnownParameters])  # an unknown parameter: 400

CostBasis = Annotated[
    str | None, Query(description="average, fifo, lifo or hifo: fold the log under this rule")
]
InCurrency = Annotated[
    str | None, Query(description="the P&L in this one currency, at the rates recorded as marks (USDT/USD)")
]


@router.get("/orders", response_model=PAGE, responses=PAGE_RESPONSES)
@sheds("as_of")
async def get_orders(
    ledger: Ledger,
    request: Request,
    response: Response,
    page: Annotated[ListQuery, paging("orders")],
    open_only: Annotated[bool, Query(alias="open", description="only open orders")] = False,
    as_of: Annotated[str | None, Query(description="as known at this time (ISO 8601, Z)")] = None,
) -> Any:
    """A page of orders as they stand, or as the ledger knew them at `as_of` (a bounded
    expensive read), oldest created first unless `sort` says otherwise."""
    asked = Orders(page.where, open_only, moment(as_of, "as_of"), count=page.count)
    if not asked.whole_log:
        return await ledger.listed(request, asked)
    rows = await ledger.read("GET /orders?as_of", asked)
    return send_page(request, response, rows)


@router.get("/orders/{order}")
async def get_order(
    order: str,
    ledger: Ledger,
    version: Annotated[int | None, Query(ge=1)] = None,
    as_of: str | None = None,
) -> dict[str, Any]:
    """One order (by client order ID, venue order ID or NAME=VALUE alias)."""
    asked = OrderAt(order, version, moment(as_of, "as_of"))
    row: dict[str, Any] = await ledger.read("GET /orders/{id}?as_of", asked)
    return row


@router.get("/orders/{order}/history")
async def get_history(order: str, ledger: Ledger) -> list[dict[str, Any]]:
    """Every event of one order beside the raw message that produced it."""
    entries: list[dict[str, Any]] = await ledger.ask(History(order))
    return entries


@router.get("/trades", response_model=PAGE, responses=PAGE_RESPONSES)
@sheds()
async def get_trades(
    ledger: Ledger,
    request: Request,
    page: Annotated[ListQuery, paging("trades")],
) -> Response:
    """A page of the trade blotter, oldest first (venue time) unless `sort` says otherwise."""
    return await ledger.listed(request, Trades(page.where, page.count))


@router.get("/positions", responses=PAGE_RESPONSES)
async def get_positions(
    ledger: Ledger,
    request: Request,
    response: Response,
    page: Annotated[ListQuery, paging("positions")],
    mark: Annotated[list[str], Query(description="INSTRUMENT=PRICE, repeatable")] = [],  # noqa: B006
    cost_basis: CostBasis = None,
    in_currency: InCurrency = None,
) -> list[dict[str, Any]]:
    """A page of positions, realized and (given marks) unrealized P&L under the ledger's rule
    (the live view's average cost by default), or (``cost_basis``) another rule, read from the
    books kept between reads under it (a bounded expensive read); with `in_currency`, the P&L in
    that one currency."""
    marks = tuple(parse_marks(mark).items())
    asked = Positions(page.where, marks, cost_basis=cost_basis, count=page.count, in_currency=in_currency)
    rows = await ledger.under_rule(response, "GET /positions?cost_basis", asked)
    return send_page(request, response, rows)


@router.get("/lots")
async def get_lots(
    ledger: Ledger,
    cost_basis: Annotated[str, Query(description="fifo, lifo or hifo")] = "fifo",
    closed: Annotated[bool, Query(description="closed lots: one row per matched quantity")] = False,
) -> list[dict[str, Any]]:
    """Tax lots under a rule: open ones with their opening fill and cost, or closed ones with
    opening and closing fill, cost, proceeds, fees and P&L (kept between reads and brought up to
    the log's head; the first read under a rule folds the log: a bounded expensive read)."""
    rows: list[dict[str, Any]] = await ledger.read("GET /lots", Lots(cost_basis, closed))
    return rows


@router.get("/pnl")
async def get_pnl(
    ledger: Ledger,
    response: Response,
    by: Annotated[str, Query(description="day, account, venue, instrument, parent or tag:NAME")] = "day",
    cost_basis: CostBasis = None,
    in_currency: InCurrency = None,
) -> list[dict[str, Any]]:
    """Realized P&L and fees, grouped, under the ledger's rule or (``cost_basis``) another, from
    the days kept with each book's head (under a lot rule a bounded expensive read: the first
    folds the log). By parent it shows the log as far as the views are (``Views-Behind``). With
    `in_currency`, one row per group in that one currency, at the rates recorded as marks."""
    asked = Pnl(by, cost_basis, in_currency)
    rows: list[dict[str, Any]] = await ledger.under_rule(response, "GET /pnl?cost_basis", asked, whole=True)
    return rows


@router.get("/pnl/daily")
async def get_pnl_daily(
    ledger: Ledger,
    response: Response,
    by: Annotated[str, Query(description="account, parent or tag:NAME")] = "account",
    cost_basis: CostBasis = None,
) -> list[dict[str, Any]]:
    """P&L per UTC day and group: realized, fees, funding, unrealized at the day's last mark;
    under the ledger's rule or (``cost_basis``) another. By parent it shows the log as far as the
    views are (``Views-Behind``)."""
    asked = PnlDaily(by, cost_basis)
    if await ledger.call(ledger.service.from_views, asked):
        await ledger.views_behind(response)
    rows: list[dict[str, Any]] = await ledger.folded(asked)
    return rows


@router.get("/pnl/series")
async def get_pnl_series(
    ledger: Ledger,
    response: Response,
    points: Annotated[
        int | None,
        Query(ge=1, le=100_000, description="each account's line per currency in this many slices of time"),
    ] = None,
) -> list[dict[str, Any]]:
    """Realized P&L fill by fill in log order, with the running total per quote currency; with
    ``points``, in venue time, each account's fills per currency summed over that many equal
    slices of it (the slice's last fill, ``realized_pnl`` the slice's sum): a chart's worth at any
    size."""
    await ledger.views_behind(response)
    rows: list[dict[str, Any]] = await ledger.folded(PnlSeries(points))
    return rows


@router.get("/stream", response_class=StreamingResponse, responses=SSE_RESPONSES)
async def get_stream(
    request: Request,
    ledger: Ledger,
    after: Annotated[int | None, Query(ge=0, description="start after this position (0: all)")] = None,
    last_event_id: Annotated[str | None, Header(description="resume after this event's id")] = None,
) -> StreamingResponse:
    """Committed events as Server-Sent Events; `id` is the event's position in the log.

    Starts after `Last-Event-ID`, else after `after`, else at the end of the log (live only)."""
    if last_event_id is not None and last_event_id.strip():
        if not last_event_id.strip().isdigit():
            raise Problem(400, "Last-Event-ID must be an event position (a whole number)")
        start = int(last_event_id)
    elif after is not None:
        start = after
    else:
        start = await ledger.call(ledger.service.head)
    return sse(log_events(request, ledger.service, start, request.app.state.poll_seconds))
