"""Risk: the limits in force, the trading states, setting a state and the pre-trade check
(docs/risk.md). Thin over ``OrderLedger``'s risk methods; a refused field is a 400."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from orderledger.infrastructure.application.requests import Check, Limits, SetTradingState, TradingStates
from orderledger.infrastructure.http.access import Ledger, moment, read_body
from orderledger.infrastructure.http.listing import KnownParameters
from orderledger.infrastructure.http.problems import Problem

router = APIRouter(tags=["risk"], dependencies=[KnownParameters])  # an unknown parameter: 400

STATE_TERMS = ("account", "state", "set_by", "reason")
AsOf = Annotated[str | None, Query(description="as they stood at this venue time (ISO 8601)")]
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


@router.post("/state", openapi_extra={"requestBody": _OBJECT})
async def post_state(request: Request, ledger: Ledger) -> list[dict[str, Any]]:
    """Set a trading state (`halted`, `reduce_only`, `active`) on an `account` (absent: every
    account), with `set_by` and `reason`; answers the states as they now stand."""
    terms = await _object(request, ", ".join(STATE_TERMS))
    unknown = sorted(set(terms) - set(STATE_TERMS))
    if unknown:
        raise Problem(400, f"unknown field {unknown[0]!r}: a state takes {', '.join(STATE_TERMS)}")
    for name in STATE_TERMS:
        if terms.get(name) is not None and not isinstance(terms[name], str):
            raise Problem(400, f"{name} must be text")
    if not terms.get("state") or not terms.get("set_by"):
        raise Problem(400, "a state needs state and set_by")
    await ledger.ask(
        SetTradingState(terms["state"], terms["set_by"], terms.get("account"), terms.get("reason"))
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
