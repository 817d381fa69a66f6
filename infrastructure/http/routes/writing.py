"""Writes: messages in any input format, venue snapshots to reconcile, settlements by hand."""

from __future__ import annotations

import inspect
import json
from dataclasses import replace
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.outcomes import Outcome
from orderledger.infrastructure.adapters.venue_registry import formats
from orderledger.infrastructure.application.command_requests import risk_facts
from orderledger.infrastructure.application.requests import Ingest, Reconcile, Settle
from orderledger.infrastructure.http.access import Ledger, media_type, read_body
from orderledger.infrastructure.http.bodies import NotJson, json_items
from orderledger.infrastructure.http.list_parameters import KnownParameters
from orderledger.infrastructure.http.problems import Problem
from orderledger.infrastructure.ingest.formats import adapter_options, needing, spelled

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


class VenueQuery:
    """The dependency that reads the formats' options from the query: a parameter for each option
    a format declares (``adapters.declared``), made from the venue registry as it stands when a
    route is made (``create_app``), described as declared; it answers name → value (None when
    not given)."""

    @property
    def __signature__(self) -> inspect.Signature:
        parameters = []
        for name, declared in adapter_options().items():
            first = declared[0][1]
            extra = {"enum": list(first.choices)} if first.choices else None
            query = Query(
                None,
                ge=first.minimum,
                description="; ".join(f"{fmt}: {option.help}" for fmt, option in declared),
                json_schema_extra=extra,
            )
            parameters.append(
                inspect.Parameter(
                    name, inspect.Parameter.KEYWORD_ONLY, default=query, annotation=first.type | None
                )
            )
        return inspect.Signature(parameters)

    def __call__(self, **given: Any) -> dict[str, Any]:
        return given


class FormatQuery:
    """The dependency that reads ``format``: one of the formats registered when a route is made."""

    @property
    def __signature__(self) -> inspect.Signature:
        pattern = f"^({'|'.join(formats())})$"
        query = Query("ledger", pattern=pattern, description=spelled())
        return inspect.Signature(
            [inspect.Parameter("format", inspect.Parameter.KEYWORD_ONLY, default=query, annotation=str)]
        )

    def __call__(self, format: str) -> str:
        return format


def message_lines(body: bytes, media: str, fmt: str) -> list[bytes]:
    """The inputs a body holds, each as sent: lines, or one JSON document (a message or a batch)."""
    if media in ("application/x-ndjson", "application/jsonl", "application/octet-stream"):
        return body.split(b"\n")
    if media != "application/json":
        raise Problem(
            415, f"post application/json, application/x-ndjson or application/octet-stream, not {media}"
        )
    if formats()[fmt].text:
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
    denied = [r for r in report["results"] if r["outcome"] == Outcome.DENIED]
    if not rejected and denied:
        first = denied[0]
        where = f"line {first['line']}" if first["line"] is not None else "the message"
        detail = f"{where} denied: {first['reason']} ({len(denied)} of {report['lines']} denied)"
        raise Problem(403, detail, **report)
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


async def post_messages(
    request: Request,
    ledger: Ledger,
    format: Annotated[str, Depends(FormatQuery())],
    venue: Annotated[str | None, Query(description=f"the venue ({needing('needs_venue')})")] = None,
    account: Annotated[
        str | None, Query(description=f"the account ({needing('needs_account')}; fix: else Account 1)")
    ] = None,
    strict: Annotated[bool, Query(description="all or nothing")] = False,
    *,
    options: Annotated[dict[str, Any], Depends(VenueQuery())],
) -> JSONResponse:
    """Record one message or a batch, durably, before answering: the outcomes of `ingest`
    (needs write; limits and trading states, `limit_set`, `limit_cleared` and `trading_state`,
    need risk, and are set by the token's name: a `set_by` other than it is refused).

    200 when every input was accepted (applied, duplicate, parked or ignored); 422 with the
    same report when any was rejected (the others are recorded unless `strict`); else 403 with
    it when the risk door denied a request of ours (each with its `breaches`)."""
    given = tuple((name, value) for name, value in options.items() if value is not None)
    asked = Ingest((), ledger.origin(request), format, venue, account, strict, given)
    ledger.admit_writer(asked)  # before the body is read
    lines = tuple(message_lines(await read_body(request), media_type(request), format))
    asked = replace(asked, lines=lines)
    ledger.admit(asked)
    if ledger.principal is not None:
        for index, fact in risk_facts(lines, format):
            set_by = fact.get("set_by")
            ledger.signed(None if set_by is None else str(set_by), f"line {index + 1}")
    report: dict[str, Any] = await ledger.ask(asked)
    return _outcome_response(report)


async def post_reconcile(
    request: Request,
    ledger: Ledger,
    apply: Annotated[bool, Query(description="record the corrections (needs admin)")] = False,
    grace: Annotated[float, Query(ge=0, le=86_400, description="seconds")] = 60.0,
) -> dict[str, Any]:
    """Compare a venue snapshot with the ledger: a dry run unless `apply=true`."""
    asked = Reconcile(b"", apply, timedelta(seconds=grace), ledger.origin(request, "http-reconcile"))
    ledger.admit(asked)  # before the body is read
    report: dict[str, Any] = await ledger.ask(replace(asked, snapshot=await read_body(request)))
    return report


def settlement(message_id: int, body: bytes, origin: str) -> Settle:
    """The settlement a JSON body asks for (``reason``, ``by``, and optionally ``book``,
    ``account``), each field refused in one line naming it."""
    try:
        terms = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested too deep to read
        raise Problem(400, _SETTLEMENT_BODY) from None
    if not isinstance(terms, dict):
        raise Problem(400, _SETTLEMENT_BODY)
    unknown = sorted(set(terms) - set(SETTLEMENT_TERMS))
    if unknown:
        raise Problem(400, f"unknown field {unknown[0]!r}: a settlement takes {', '.join(SETTLEMENT_TERMS)}")
    book, account = terms.get("book", False), terms.get("account")
    reason, by = terms.get("reason"), terms.get("by")
    if not isinstance(book, bool):
        raise InvalidInputError("book must be true or false", field="book")
    if account is not None and not isinstance(account, str):
        raise InvalidInputError("account must be text", field="account")
    if not isinstance(reason, str):
        raise InvalidInputError("a settlement needs a reason (text)", field="reason")
    if not isinstance(by, str):
        raise InvalidInputError("a settlement needs who settles it: by (text)", field="by")
    return Settle(message_id, reason, by, book, account, origin)


async def post_settle(message_id: int, request: Request, ledger: Ledger) -> dict[str, Any]:
    """Settle a parked message by hand (needs admin). JSON body: `reason` and `by` (who), and
    `book: true` (with `account` where its format needs one) to book it as an external
    order; otherwise it is set aside. The journal records who and why."""
    ledger.admit(Settle(message_id, "", "", origin=ledger.origin(request)))  # before the body is read
    asked = settlement(message_id, await read_body(request), ledger.origin(request))
    settled: int = await ledger.ask(asked)
    return {
        "message_id": message_id,
        "settled_by": settled,
        "action": "booked" if asked.book else "set_aside",
    }


def router() -> APIRouter:
    """The writes, made when an app is (``create_app``): ``POST /messages`` then takes the
    formats, and their options, registered at that moment (``adapters.venue_registry``)."""
    made = APIRouter(tags=["write"], dependencies=[KnownParameters])  # an unknown parameter: 400
    made.add_api_route(
        "/messages", post_messages, methods=["POST"], openapi_extra={"requestBody": MESSAGES_BODY}
    )
    made.add_api_route(
        "/reconcile", post_reconcile, methods=["POST"], openapi_extra={"requestBody": SNAPSHOT_BODY}
    )
    made.add_api_route("/messages/{message_id}/settle", post_settle, methods=["POST"])
    return made
