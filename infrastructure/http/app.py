"""The FastAPI application: routes over ``LedgerService``, tokens, problem documents, the page.

Every ledger call runs in the thread pool (it blocks on the database); one ``OrderLedger`` is
shared by all requests, which is safe because it serialises its writes itself.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from orderledger.domain.outcomes import SPELLED, Outcome
from orderledger.infrastructure.http import problems
from orderledger.infrastructure.http.auth import Tokens, allows
from orderledger.infrastructure.http.bodies import NotJson, json_items
from orderledger.infrastructure.http.guard import BrowserGuard
from orderledger.infrastructure.http.limits import Runner, WorkLimit, in_threads
from orderledger.infrastructure.http.problems import Problem
from orderledger.infrastructure.http.service import LedgerService
from orderledger.infrastructure.http.stream import log_events
from orderledger.infrastructure.ingest.formats import FIX_OPTIONS, FORMATS, needing, spelled

VIEWS_BEHIND = "Views-Behind"
"""The response header of every answer from the views: how many events of the log they do not
include yet (``ingest --no-project`` with no follower running); 0 when they are current."""

STATIC = Path(__file__).parent / "static"
MAX_BODY = 8 * 1024 * 1024
"""Default bound on a request body (``serve --max-body``); a larger one is refused with 413."""
MAX_LIMIT = 10_000
VERSION = "0.1.0"

# The page loads nothing from elsewhere and runs no inline script: even if markup got into the
# DOM, the browser would refuse to run it.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        " connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

_bearer = HTTPBearer(auto_error=False, description="A token from the tokens file or $ORDERLEDGER_TOKENS")

PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {
        "description": problems.TITLES[code],
        "content": {problems.MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    for code in (400, 401, 403, 404, 422, 503)
}

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


def _fix_option(name: str) -> Any:
    """The query parameter for one of FIX's scale settings, described by the format registry."""
    return Query(ge=0, description=f"fix: {FIX_OPTIONS[name]}")


def role_dependency(needed: str) -> Callable[..., Awaitable[str]]:
    """A dependency that admits a token whose role includes ``needed``; returns that role."""

    async def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> str:
        tokens: Tokens = request.app.state.tokens
        if not tokens.enabled:
            return "admin"  # no tokens: the server listens on loopback only (auth.check_bind)
        challenge = {"WWW-Authenticate": "Bearer"}
        if credentials is None:
            raise Problem(401, "a bearer token is required: Authorization: Bearer TOKEN", headers=challenge)
        role = tokens.role_of(credentials.credentials)
        if role is None:
            raise Problem(401, "the bearer token is not known", headers=challenge)
        if not allows(role, needed):
            raise Problem(403, f"this token's role is {role}; this needs {needed}")
        return role

    return check


Read = Annotated[str, Depends(role_dependency("read"))]
Write = Annotated[str, Depends(role_dependency("write"))]


async def read_body(request: Request) -> bytes:
    """The request body, refused with 413 as soon as it passes the bound (never held whole)."""
    limit: int = request.app.state.max_body
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Problem(413, f"the body is {int(declared):,} bytes; the limit is {limit:,}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(413, f"the body is larger than the limit of {limit:,} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body.strip():
        raise Problem(400, "the body is empty")
    return body


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def message_lines(body: bytes, media_type: str, fmt: str) -> list[bytes]:
    """The inputs a body holds, each as sent: lines, or one JSON document (a message or a batch)."""
    if media_type in ("application/x-ndjson", "application/jsonl", "application/octet-stream"):
        return body.split(b"\n")
    if media_type != "application/json":
        raise Problem(
            415, f"post application/json, application/x-ndjson or application/octet-stream, not {media_type}"
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


def create_app(
    service: LedgerService,
    tokens: Tokens | None = None,
    *,
    max_body: int = MAX_BODY,
    poll_seconds: float = 0.25,
    allowed_origins: Iterable[str] = (),
    expensive: WorkLimit | None = None,
    reader: Runner | None = None,
) -> FastAPI:
    """The app over one shared ledger service; ``allowed_origins`` are web origins besides the
    server's own whose pages may write (guard.py); ``expensive`` bounds the whole-log reads,
    which ``reader`` runs (limits.py; default: in threads over ``service``)."""
    app = FastAPI(
        title="OrderLedger",
        version=VERSION,
        description="An event-sourced order ledger over HTTP. Every error is an RFC 9457 problem"
        " document. See docs/http.md.",
        responses=PROBLEM_RESPONSES,
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = service
    app.state.tokens = tokens or Tokens()
    app.state.max_body = max_body
    app.state.expensive = limit = expensive or WorkLimit()
    run_reader = reader or in_threads(service)
    problems.install(app)
    app.add_middleware(BrowserGuard, tokens=app.state.tokens, allowed_origins=allowed_origins)

    @app.middleware("http")
    async def _security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    async def _maybe_expensive(expensive: bool, what: str, method: str, **kwargs: Any) -> Any:
        if expensive:
            return await limit.run(what, run_reader, method, **kwargs)
        return await run_in_threadpool(getattr(service, method), **kwargs)

    # ------------------------------------------------------------------ writing

    @app.post("/messages", tags=["write"], openapi_extra={"requestBody": MESSAGES_BODY})
    async def post_messages(
        request: Request,
        role: Write,
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
    ) -> JSONResponse:
        """Record one message or a batch, durably, before answering: the outcomes of `ingest`.

        200 when every input was accepted (applied, duplicate, parked or ignored); 422 with the
        same report when any was rejected (the others are recorded unless `strict`)."""
        given = locals()
        options = {name: given[name] for name in FIX_OPTIONS}  # the parameters the registry names
        lines = message_lines(await read_body(request), _media_type(request), format)
        client = request.client.host if request.client else "?"
        report = await run_in_threadpool(
            service.ingest,
            lines,
            origin=f"http:{client}",
            fmt=format,
            venue=venue,
            account=account,
            strict=strict,
            options=options,
        )
        return _outcome_response(report)

    @app.post("/reconcile", tags=["write"], openapi_extra={"requestBody": SNAPSHOT_BODY})
    async def post_reconcile(
        request: Request,
        role: Read,
        apply: Annotated[bool, Query(description="record the corrections (needs admin)")] = False,
        grace: Annotated[float, Query(ge=0, le=86_400, description="seconds")] = 60.0,
    ) -> dict[str, Any]:
        """Compare a venue snapshot with the ledger: a dry run unless `apply=true`."""
        if apply and not allows(role, "admin"):
            raise Problem(403, f"this token's role is {role}; apply=true needs admin")
        body = await read_body(request)
        client = request.client.host if request.client else "?"
        report = await run_in_threadpool(
            service.reconcile, body, apply=apply, grace_seconds=grace, origin=f"http-reconcile:{client}"
        )
        return report

    async def views_behind(response: Response) -> None:
        # Answers from the views carry how far the views are behind the log (0: current).
        response.headers[VIEWS_BEHIND] = str(await run_in_threadpool(service.views_behind))

    # ------------------------------------------------------------------ orders

    @app.get("/orders", tags=["read"])
    async def get_orders(
        role: Read,
        open_only: Annotated[bool, Query(alias="open", description="only open orders")] = False,
        account: str | None = None,
        venue: str | None = None,
        instrument: str | None = None,
        parent: Annotated[
            str | None, Query(description="only the children of this parent (their parent_id)")
        ] = None,
        as_of: Annotated[str | None, Query(description="as known at this time (ISO 8601, Z)")] = None,
        *,
        response: Response,
    ) -> list[dict[str, Any]]:
        """Orders as they stand, or as the ledger knew them at `as_of` (a bounded expensive read)."""
        if as_of is None:
            await views_behind(response)
        return await _maybe_expensive(
            as_of is not None,
            "GET /orders?as_of",
            "orders",
            open_only=open_only,
            account=account,
            venue=venue,
            instrument=instrument,
            parent=parent,
            as_of=as_of,
        )

    @app.get("/orders/{order_id}", tags=["read"])
    async def get_order(
        order_id: str,
        role: Read,
        version: Annotated[int | None, Query(ge=1)] = None,
        as_of: str | None = None,
    ) -> dict[str, Any]:
        """One order (by client order ID, venue order ID or NAME=VALUE alias)."""
        return await _maybe_expensive(
            as_of is not None, "GET /orders/{id}?as_of", "order", key=order_id, version=version, as_of=as_of
        )

    @app.get("/orders/{order_id}/history", tags=["read"])
    async def get_history(order_id: str, role: Read) -> list[dict[str, Any]]:
        """Every event of one order beside the raw message that produced it."""
        return await run_in_threadpool(service.history, order_id)

    # ------------------------------------------------------------------ views

    @app.get("/trades", tags=["read"])
    async def get_trades(
        role: Read,
        account: str | None = None,
        venue: str | None = None,
        instrument: str | None = None,
        order: Annotated[str | None, Query(description="one order's trades")] = None,
        parent: Annotated[
            str | None,
            Query(description="the trades of this parent's orders (the parent the order has now)"),
        ] = None,
        since: Annotated[str | None, Query(description="venue time from (inclusive)")] = None,
        until: Annotated[str | None, Query(description="venue time until (inclusive)")] = None,
        *,
        response: Response,
    ) -> list[dict[str, Any]]:
        """The trade blotter, oldest first."""
        await views_behind(response)
        return await run_in_threadpool(
            service.trades,
            account=account,
            venue=venue,
            instrument=instrument,
            order=order,
            parent=parent,
            since=since,
            until=until,
        )

    @app.get("/positions", tags=["read"])
    async def get_positions(
        role: Read,
        mark: Annotated[list[str], Query(description="INSTRUMENT=PRICE, repeatable")] = [],  # noqa: B006
        cost_basis: Annotated[
            str | None, Query(description="average, fifo, lifo or hifo: fold the log under this rule")
        ] = None,
        *,
        response: Response,
    ) -> list[dict[str, Any]]:
        """Positions, realized and (given marks) unrealized P&L: the live view's average cost,
        or (``cost_basis``) another rule folded from the log (a bounded expensive read)."""
        if cost_basis is None:
            await views_behind(response)
        return await _maybe_expensive(
            cost_basis is not None,
            "GET /positions?cost_basis",
            "positions",
            marks=mark,
            cost_basis=cost_basis,
        )

    @app.get("/lots", tags=["read"])
    async def get_lots(
        role: Read,
        cost_basis: Annotated[str, Query(description="fifo, lifo or hifo")] = "fifo",
        closed: Annotated[bool, Query(description="closed lots: one row per matched quantity")] = False,
    ) -> list[dict[str, Any]]:
        """Tax lots under a rule: open ones with their opening fill and cost, or closed ones with
        opening and closing fill, cost, proceeds, fees and P&L (folded from the log: a bounded
        expensive read)."""
        return await _maybe_expensive(True, "GET /lots", "lots", cost_basis=cost_basis, closed=closed)

    @app.get("/pnl", tags=["read"])
    async def get_pnl(
        role: Read,
        by: Annotated[str, Query(description="day, account, venue, instrument, parent or tag:NAME")] = "day",
        cost_basis: Annotated[
            str | None, Query(description="average, fifo, lifo or hifo: fold the log under this rule")
        ] = None,
        *,
        response: Response,
    ) -> list[dict[str, Any]]:
        """Realized P&L and fees, grouped (``cost_basis``: under another rule, folded from the log,
        a bounded expensive read)."""
        if cost_basis is None:
            await views_behind(response)
        return await _maybe_expensive(
            cost_basis is not None, "GET /pnl?cost_basis", "pnl", by=by, cost_basis=cost_basis
        )

    @app.get("/pnl/daily", tags=["read"])
    async def get_pnl_daily(
        role: Read,
        by: Annotated[str, Query(description="account, parent or tag:NAME")] = "account",
    ) -> list[dict[str, Any]]:
        """P&L per UTC day and group: realized, fees, funding, unrealized at the day's last mark."""
        return await run_in_threadpool(service.pnl_daily, by)

    @app.get("/pnl/series", tags=["read"])
    async def get_pnl_series(role: Read, response: Response) -> list[dict[str, Any]]:
        """Realized P&L fill by fill in log order, with the running total per quote currency."""
        await views_behind(response)
        return await run_in_threadpool(service.pnl_series)

    # ------------------------------------------------------------------ audit

    @app.get("/events", tags=["audit"])
    async def get_events(
        role: Read,
        type: Annotated[list[str], Query(description="event type, repeatable")] = [],  # noqa: B006
        account: str | None = None,
        venue: str | None = None,
        instrument: str | None = None,
        order: str | None = None,
        since: Annotated[str | None, Query(description="recorded at or after")] = None,
        until: Annotated[str | None, Query(description="recorded at or before")] = None,
        event_time: Annotated[bool, Query(description="since/until are venue time")] = False,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 1_000,
    ) -> list[dict[str, Any]]:
        """Search the global log, in log order."""
        return await run_in_threadpool(
            service.events,
            types=type,
            account=account,
            venue=venue,
            instrument=instrument,
            order=order,
            since=since,
            until=until,
            event_time=event_time,
            limit=limit,
        )

    @app.get("/messages", tags=["audit"])
    async def get_messages(
        role: Read,
        outcome: Annotated[str | None, Query(description=SPELLED)] = None,
        since: Annotated[str | None, Query(description="received at or after")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 1_000,
    ) -> list[dict[str, Any]]:
        """The journal: every inbound message verbatim, with its outcome."""
        return await run_in_threadpool(service.messages, outcome=outcome, since=since, limit=limit)

    @app.post("/messages/{message_id}/settle", tags=["write"])
    async def post_settle(
        message_id: int,
        request: Request,
        role: Annotated[str, Depends(role_dependency("admin"))],
    ) -> dict[str, Any]:
        """Settle a parked message by hand (needs admin). JSON body: `reason` and `by` (who), and
        `book: true` (with `account` where its format needs one) to book it as an external
        order; otherwise it is set aside. The journal records who and why."""
        body = await read_body(request)
        try:
            terms = json.loads(body)
        except (ValueError, RecursionError):  # not JSON, or nested too deep to read
            raise Problem(
                400, "the body must be a JSON object: reason, by, and optionally book, account"
            ) from None
        if not isinstance(terms, dict):
            raise Problem(400, "the body must be a JSON object: reason, by, and optionally book, account")
        unknown = sorted(set(terms) - {"reason", "by", "book", "account"})
        if unknown:
            raise Problem(400, f"unknown field {unknown[0]!r}: a settlement takes reason, by, book, account")
        client = request.client.host if request.client else "?"
        return await run_in_threadpool(service.settle, message_id, terms, origin=f"http:{client}")

    @app.get("/verify", tags=["audit"])
    async def get_verify(role: Read) -> dict[str, Any]:
        """Recompute the hash chain and check every view against a fresh fold (a bounded expensive read)."""
        return await limit.run("GET /verify", run_reader, "verify")

    @app.get("/health", tags=["audit"])
    async def get_health() -> dict[str, Any]:
        """Liveness: the database answers and takes writes (else 503 saying why); `head` is the last
        event's position. No token needed."""
        return await run_in_threadpool(service.health)

    @app.get(
        "/stream",
        tags=["read"],
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
    )
    async def get_stream(
        request: Request,
        role: Read,
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
            start = await run_in_threadpool(service.head)
        return StreamingResponse(
            log_events(request, service, start, poll_seconds),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    # ------------------------------------------------------------------ the page

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)
            schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = {
                "type": "object",
                "description": "RFC 9457 problem details",
                "required": ["type", "title", "status", "detail"],
                "properties": {
                    "type": {"type": "string"},
                    "title": {"type": "string"},
                    "status": {"type": "integer"},
                    "detail": {"type": "string"},
                },
            }
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def openapi_text(app: FastAPI) -> str:
    """The OpenAPI document as committed in docs/openapi.json."""
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False) + "\n"
