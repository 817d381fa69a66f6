"""Risk: the limits in force, the trading states, setting a state, the pre-trade check and how
close each limit stands, once or as a stream of alerts (docs/risk.md). Thin over
``OrderLedger``'s risk methods; a refused field is a 400."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from orderledger.infrastructure.application.requests import (
    Check,
    Denials,
    Limits,
    PlaceOrder,
    ReplayLimits,
    Risk,
    SetTradingState,
    TradingStates,
)
from orderledger.infrastructure.http.access import Ledger, client_keys, moment, read_body
from orderledger.infrastructure.http.bounded_reads import WorkLimit
from orderledger.infrastructure.http.list_parameters import KnownParameters
from orderledger.infrastructure.http.problems import Problem
from orderledger.infrastructure.http.stream import SSE_RESPONSES, HeldResponse, RiskFeed

router = APIRouter(tags=["risk"], dependencies=[KnownParameters])  # an unknown parameter: 400

STATE_TERMS = ("account", "state", "set_by", "reason", "until")
AsOf = Annotated[str | None, Query(description="as they stood at this time of the ledger's clock (ISO 8601)")]
Threshold = Annotated[
    Decimal, Query(description="a limit is near when its figure is at least this share of it (0 to 1)")
]
_OBJECT = {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}


async def _object(request: Request, what: str) -> dict[str, Any]:
    body = await read_body(request)
    try:
        found = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested too deep to read
        raise Problem(400, f"the body must be a JSON object: {what}") from None
    if not isinstance(found, dict):
        raise Problem(400, f"the body must be a JSON object: {what}")
    return found


@router.get("/limits")
async def get_limits(ledger: Ledger, as_of: AsOf = None) -> list[dict[str, Any]]:
    """The limits in force now (or `as_of` a venue time): who set each, when and why."""
    rows: list[dict[str, Any]] = await ledger.ask(Limits(moment(as_of, "as_of")))
    return rows


@router.get("/state")
async def get_state(ledger: Ledger, as_of: AsOf = None) -> list[dict[str, Any]]:
    """Each account's trading state as last set (account "": every account's), by whom and why."""
    rows: list[dict[str, Any]] = await ledger.ask(TradingStates(moment(as_of, "as_of")))
    return rows


@router.get("/denials")
async def get_denials(
    ledger: Ledger,
    account: Annotated[str | None, Query(description="only this account's")] = None,
    limit: Annotated[
        str | None, Query(description="only those breaching a limit of this kind, or trading_state")
    ] = None,
    since: Annotated[str | None, Query(description="recorded from this time of the ledger's clock")] = None,
    last: Annotated[int, Query(ge=1, le=5_000, description="the latest this many")] = 500,
) -> list[dict[str, Any]]:
    """The breaches the risk door recorded as facts, oldest first: each request denied, let
    through by an override (`by`, `why`) or venue's order flagged (`action`), at the ledger's
    time (`ts`), each breach citing the limit or state event it applied (`cites`,
    `cites_version`); the latest `last`."""
    rows: list[dict[str, Any]] = await ledger.ask(Denials(account, limit, moment(since, "since"), last))
    return rows


@router.post("/state", openapi_extra={"requestBody": _OBJECT})
async def post_state(request: Request, ledger: Ledger) -> list[dict[str, Any]]:
    """Set a trading state (`halted`, `reduce_only`, `active`) on an `account` (absent: every
    account), with `reason`, and `until` a time when it lifts itself (a cooldown); answers the
    states as they now stand. Needs risk. It is set by the token's name (a `set_by` other than it
    is refused); without tokens, by the `set_by` given."""
    terms = await _object(request, ", ".join(STATE_TERMS))
    unknown = sorted(set(terms) - set(STATE_TERMS))
    if unknown:
        raise Problem(400, f"unknown field {unknown[0]!r}: a state takes {', '.join(STATE_TERMS)}")
    for name in STATE_TERMS:
        if terms.get(name) is not None and not isinstance(terms[name], str):
            raise Problem(400, f"{name} must be text")
    if not terms.get("state"):
        raise Problem(400, "a state needs state")
    who = ledger.signed(terms.get("set_by") or None, "a state")
    where = ledger.origin(request)
    until = moment(terms.get("until"), "until")
    await ledger.ask(
        SetTradingState(
            terms["state"], who, terms.get("account"), terms.get("reason"), origin=where, until=until
        )
    )
    rows: list[dict[str, Any]] = await ledger.ask(TradingStates())
    return rows


@router.post("/check", openapi_extra={"requestBody": _OBJECT})
async def post_check(request: Request, ledger: Ledger) -> dict[str, Any]:
    """Check an order (a request's fields) against the limits and its account's trading state:
    `allowed`, or the `breaches`. Needs write: the daily loss rule may halt the account."""
    spec = await _object(request, "a request's fields")
    answer: dict[str, Any] = await ledger.ask(Check(spec))
    return answer


@router.post(
    "/orders",
    status_code=201,
    openapi_extra={"requestBody": _OBJECT},
    responses={403: {"description": "denied by the risk door"}, 409: {"description": "refused"}},
)
async def post_orders(request: Request, ledger: Ledger) -> JSONResponse:
    """Place an order of ours (a request's fields; `client_order_id` and `ts` made when absent)
    through the risk door, checked and recorded in one transaction: 201 with the `order`; 200
    when the same request was recorded before; 403 denied, with each of its `breaches`; 409 when
    the ledger refused the request (a client order ID in use). `override` (`{"by", "reason"}`)
    lets it through its breaches, journaled with who and why: it needs the risk role too, and
    its `by` is the token's name. Needs write."""
    spec = await _object(request, "a request's fields")
    override = spec.get("override")
    if isinstance(override, dict):
        spec = {
            **spec,
            "override": {**override, "by": ledger.signed(override.get("by") or None, "an override")},
        }
    placed: dict[str, Any] = await ledger.ask(PlaceOrder(spec, ledger.origin(request, "http-orders")))
    outcome = placed["outcome"]
    if outcome == "denied":
        raise Problem(403, f"denied: {placed['reason']}", **placed)
    if outcome == "rejected":
        raise Problem(409, f"refused: {placed['reason']}", **placed)
    return JSONResponse(placed, status_code=201 if outcome == "applied" else 200)


@router.get("/risk")
async def get_risk(ledger: Ledger, threshold: Threshold = Decimal("0.8")) -> list[dict[str, Any]]:
    """How close each limit in force stands to its value now (`orderledger risk --json`):
    `status` `ok`, `near` (at or past `threshold` × its value), `breached`, `unknown` (with
    `reason_unknown`) or `per_order`, with the limit's fields and its `figure`."""
    rows: list[dict[str, Any]] = await ledger.ask(Risk(threshold))
    return rows


_LIMITS = {
    "required": True,
    "content": {
        "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
        "application/x-ndjson": {"schema": {"type": "string"}},
    },
}


@router.post("/risk/replay", openapi_extra={"requestBody": _LIMITS})
async def post_risk_replay(
    request: Request,
    ledger: Ledger,
    since: Annotated[
        str | None, Query(description="judge the orders recorded from this time on (ISO 8601)")
    ] = None,
) -> dict[str, Any]:
    """Limits replayed over the log (`orderledger risk replay --json`): the body is the limits,
    a JSON array (or JSON lines) of `limit_set` objects. Answers `orders` (each recorded order
    they would have denied or flagged, with its `breaches`) and `path` (realized P&L and exposure
    per account and currency at each day's end and at the `end`, as recorded and replayed).
    Writes nothing: the read role is enough."""
    body = await read_body(request)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Problem(400, "the body must be UTF-8 text: the limits, a JSON array or JSON lines") from None
    answer: dict[str, Any] = await ledger.read(
        "POST /risk/replay", ReplayLimits(text, moment(since, "since"))
    )
    return answer


@router.get("/risk/stream", response_class=StreamingResponse, responses=SSE_RESPONSES)
async def get_risk_stream(
    request: Request, ledger: Ledger, threshold: Threshold = Decimal("0.8")
) -> StreamingResponse:
    """Server-Sent Events `alert`, one each time a limit's status changes (`orderledger risk
    --watch --json`), first each limit not `ok`; data is a `GET /risk` row. And `state`, one each
    time an account's trading state changes (set, lifted by its `until`, set by a limit's
    response), first each account not active; data is a `GET /state` row with `changed_at`.
    And `breach`, one for each breach the risk door records from then on (a request denied or
    overridden, a venue's order flagged); data is a `GET /denials` row with `changed_at`. An
    `alert` carries `changed_at` too: the ledger's time of the look that found the status.
    Looked at again after each commit and every poll interval, once for all the clients of a
    threshold. The clients are bounded per token, per address and in all (`serve --streams`,
    `--streams-per-client`): one more is answered 429 or 503 at once, with `Retry-After`."""
    asked = Risk(threshold)
    ledger.admit(asked)
    streams: WorkLimit = request.app.state.streams
    clients = client_keys(request)
    streams.take(f"GET {request.url.path}", clients)
    try:
        first: list[dict[str, Any]] = await ledger.ask(asked)  # a bad threshold: 400 before the stream
        states: list[dict[str, Any]] = await ledger.ask(TradingStates())
        latest: list[dict[str, Any]] = await ledger.ask(Denials(last=1))
    except BaseException:
        streams.give_back(clients)
        raise
    feed: RiskFeed = request.app.state.risk_feed
    after = latest[-1]["position"] if latest else 0  # the breaches recorded from now on
    return HeldResponse(feed.alerts(threshold, first, states, after), lambda: streams.give_back(clients))
