"""Writes: messages in any input format, venue snapshots to reconcile, settlements by hand."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from orderledger.domain.outcomes import Outcome
from orderledger.infrastructure.http.access import Admin, Ledger, Read, Write, media_type, origin, read_body
from orderledger.infrastructure.http.auth import allows
from orderledger.infrastructure.http.bodies import NotJson, json_items
from orderledger.infrastructure.http.listing import KnownParameters
from orderledger.infrastructure.http.problems import Problem
from orderledger.infrastructure.ingest.formats import (
    ADAPTER_OPTIONS,
    FIX_OPTIONS,
    FORMATS,
    HYPERLIQUID_OPTIONS,
    needing,
    spelled,
)

router = APIRouter(tags=["write"], dependencies=[KnownParameters])  # an unknown parameter: 400

MESSAGES_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "description": "ledger format: one message or an array of messages; a venue format:"
                " one payload",
                "anyOf": [{"type": "object"}, {"type": "array", "items": {}}],
            }
        },
        "application/x-ndjson": {"schema": {"type": "string", "description": "one input per line"}},
        "application/octet-stream": {
            "schema": {"type": "string", "description": "one input per line (FIX reports)"}
        },
    },
}
SNAPSHOT_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {"type": "object", "description": "a venue snapshot (docs/reconciliation.md)"}
        }
    },
}
SETTLEMENT_TERMS = ("reason", "by", "book", "account")
_SETTLEMENT_BODY = "the body must be a JSON object: reason, by, and optionally book, account"


def _fix_option(name: str) -> Any:
    """The query parameter for one of FIX's scale settings, described by the format registry."""
    return Query(ge=0, description=f"fix: {FIX_OPTIONS[name]}")


def message_lines(body: bytes, media: str, fmt: str) -> list[bytes]:
    """The inputs a body holds, each as sent: lines, or one JSON document (a message or a batch)."""
    if media in ("application/x-ndjson", "application/jsonl", "application/octet-stream"):
        return body.split(b"\n")
    if media != "application/json":
        raise Problem(
            415, f"post application/json, application/x-ndjson or application/octet-stream, not {media}"
        )
    if FORMATS[fmt].text:
        raise Problem(415, f"format {fmt} is text: post it as application/octet-stream, one input per line")
    try:
        items = json_items(body)
    except NotJson as error:
        raise Problem(400, f"the body is not JSON: {error}") from None
    if fmt == "ledger" and items is not None:
        if not items:
            raise Problem(400, "the batch is empty")
        return items
    return [body.strip(b" \t\r\n")]  # one message, or one venue payload: journaled as sent


def _outcome_response(report: dict[str, Any]) -> JSONResponse:
    rejected = [r for r in report["results"] if r["outcome"] == Outcome.REJECTED]
    if not rejected:
        return JSONResponse(report)
    first = rejected[0]
    where = f"line {first['line']}" if first["line"] is not None else "the message"
    if not report["stored"]:
        detail = f"{where} rejected: {first['reason']}; strict: nothing was recorded"
    else:
        recorded = report["lines"] - len(rejected)
        detail = (
            f"{where} rejected: {first['reason']} ({len(rejected)} of {report['lines']} rejected,"
            f" {recorded} recorded; every one is in the journal)"
        )
    raise Problem(422, detail, **report)


@router.post("/messages", openapi_extra={"requestBody": MESSAGES_BODY})
async def post_messages(
    request: Request,
    role: Write,
    ledger: Ledger,
    format: Annotated[str, Query(pattern=f"^({'|'.join(FORMATS)})$", description=spelled())] = "ledger",
    venue: Annotated[str | None, Query(description=f"the venue ({needing('needs_venue')})")] = None,
    account: Annotated[
        str | None, Query(description=f"the account ({needing('needs_account')}; fix: else Account 1)")
    ] = None,
    strict: Annotated[bool, Query(description="all or nothing")] = False,
    quantity_scale: Annotated[int | None, _fix_option("quantity_scale")] = None,
    price_scale: Annotated[int | None, _fix_option("price_scale")] = None,
    quantity_scale_tag: Annotated[int | None, _fix_option("quantity_scale_tag")] = None,
    price_scale_tag: Annotated[int | None, _fix_option("price_scale_tag")] = None,
    quantity_divisor_tag: Annotated[int | None, _fix_option("quantity_divisor_tag")] = None,
    price_divisor_tag: Annotated[int | None, _fix_option("price_divisor_tag")] = None,
    address: Annotated[
        str | None, Query(description=f"hyperliquid: {HYPERLIQUID_OPTIONS['address']}")
    ] = None,
) -> JSONResponse:
    """Record one message or a batch, durably, before answering: the outcomes of `ingest`.

    200 when every input was accepted (applied, duplicate, parked or ignored); 422 with the
    same report when any was rejected (the others are recorded unless `strict`)."""
    given = locals()
    options = {name: given[name] for name in ADAPTER_OPTIONS}  # the parameters the registry names
    lines = message_lines(await read_body(request), media_type(request), format)
    report = await ledger.call(
        ledger.service.ingest,
        lines,
        origin=origin(request),
        fmt=format,
        venue=venue,
        account=account,
        strict=strict,
        options=options,
    )
    return _outcome_response(report)


@router.post("/reconcile", openapi_extra={"requestBody": SNAPSHOT_BODY})
async def post_reconcile(
    request: Request,
    role: Read,
    ledger: Ledger,
    apply: Annotated[bool, Query(description="record the corrections (needs admin)")] = False,
    grace: Annotated[float, Query(ge=0, le=86_400, description="seconds")] = 60.0,
) -> dict[str, Any]:
    """Compare a venue snapshot with the ledger: a dry run unless `apply=true`."""
    if apply and not allows(role, "admin"):
        raise Problem(403, f"this token's role is {role}; apply=true needs admin")
    body = await read_body(request)
    report: dict[str, Any] = await ledger.call(
        ledger.service.reconcile,
        body,
        apply=apply,
        grace_seconds=grace,
        origin=origin(request, "http-reconcile"),
    )
    return report


@router.post("/messages/{message_id}/settle")
async def post_settle(message_id: int, request: Request, role: Admin, ledger: Ledger) -> dict[str, Any]:
    """Settle a parked message by hand (needs admin). JSON body: `reason` and `by` (who), and
    `book: true` (with `account` where its format needs one) to book it as an external
    order; otherwise it is set aside. The journal records who and why."""
    body = await read_body(request)
    try:
        terms = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested too deep to read
        raise Problem(400, _SETTLEMENT_BODY) from None
    if not isinstance(terms, dict):
        raise Problem(400, _SETTLEMENT_BODY)
    unknown = sorted(set(terms) - set(SETTLEMENT_TERMS))
    if unknown:
        raise Problem(400, f"unknown field {unknown[0]!r}: a settlement takes {', '.join(SETTLEMENT_TERMS)}")
    settled: dict[str, Any] = await ledger.call(
        ledger.service.settle, message_id, terms, origin=origin(request)
    )
    return settled
