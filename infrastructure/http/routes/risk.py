"""Risk: the limits in force, the trading states, setting a state and the pre-trade check
(docs/risk.md). Thin over ``OrderLedger``'s risk methods; a refused field is a 400."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from orderledger.infrastructure.http.access import Ledger, Read, Write, moment, read_body
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
async def get_limits(role: Read, ledger: Ledger, as_of: AsOf = None) -> list[dict[str, Any]]:
    """The limits in force now (or `as_of` a venue time): who set each, when and why."""
    rows = await ledger.call(ledger.service.ledger.limits, as_of=moment(as_of, "as_of"))
    return [row.to_json() for row in rows]


@router.get("/state")
async def get_state(role: Read, ledger: Ledger, as_of: AsOf = None) -> list[dict[str, Any]]:
    """Each account's trading state as last set (account "": every account's), by whom and why."""
    rows = await ledger.call(ledger.service.ledger.trading_states, as_of=moment(as_of, "as_of"))
    return [row.to_json() for row in rows]


@router.post("/state", openapi_extra={"requestBody": _OBJECT})
async def post_state(request: Request, role: Write, ledger: Ledger) -> list[dict[str, Any]]:
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
    service = ledger.service.ledger
    await ledger.call(
        service.set_trading_state,
        terms["state"],
        account=terms.get("account"),
        set_by=terms["set_by"],
        reason=terms.get("reason"),
    )
    rows = await ledger.call(service.trading_states)
    return [row.to_json() for row in rows]


@router.post("/check", openapi_extra={"requestBody": _OBJECT})
async def post_check(request: Request, role: Write, ledger: Ledger) -> dict[str, Any]:
    """Check an order (a request's fields) against the limits and its account's trading state:
    `allowed`, or the `breaches`. Needs write: the daily loss rule may halt the account."""
    spec = await _object(request, "a request's fields")
    result = await ledger.call(ledger.service.ledger.check, spec)
    answer: dict[str, Any] = result.to_json()
    return answer
