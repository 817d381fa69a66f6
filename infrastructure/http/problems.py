"""RFC 9457 problem documents: every error the API returns is one, with a one-line ``detail``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from orderledger.domain.errors import (
    ClientOrderIdReuseError,
    IdentityConflictError,
    InvalidInputError,
    LedgerError,
    OrderNotFoundError,
    argument_names,
)
from orderledger.infrastructure.errors import (
    WRITE_RACE,
    ConfigurationError,
    DatabaseLockedError,
    MessageError,
    StoreError,
)
from orderledger.infrastructure.storage.db import is_write_race

MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("orderledger.http")

TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


class Problem(Exception):
    """An error to answer with a problem document; ``extra`` adds extension members."""

    def __init__(self, status: int, detail: str, *, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail)
        self.status = status
        self.detail = one_line(detail)
        self.headers = headers or {}
        self.extra = extra


def one_line(text: str) -> str:
    """The first non-empty line, at most 300 characters: a problem's ``detail``."""
    first = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return first if len(first) <= 300 else first[:299] + "…"


def problem_body(status: int, detail: str, **extra: Any) -> dict[str, Any]:
    """The RFC 9457 problem document of ``status`` with ``detail`` (one line)."""
    return {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": one_line(detail) or TITLES.get(status, "Error"),
        **extra,
    }


def problem_response(
    status: int, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = problem_body(status, detail, **extra)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


PARAMETER_NAMES = {"fmt": "format"}
"""The query parameters whose name is not their argument's in the Python API."""


def parameter_name(argument: str) -> str:
    """How the HTTP API spells an argument of the Python API."""
    return PARAMETER_NAMES.get(argument, argument)


def status_for(error: LedgerError) -> int:
    """The HTTP status of a ledger error: whose fault, and can it be retried."""
    if isinstance(error, OrderNotFoundError):
        return 404
    if isinstance(error, ClientOrderIdReuseError | IdentityConflictError):
        return 409
    if isinstance(error, DatabaseLockedError | StoreError):
        return 503
    if isinstance(error, InvalidInputError | MessageError | ConfigurationError):
        return 400
    return 422


def _validation_detail(error: RequestValidationError) -> str:
    """'query parameter limit: Input should be a valid integer' from pydantic's first complaint."""
    errors = error.errors()
    if not errors:
        return "the request is not valid"
    first = errors[0]
    where = [str(p) for p in first.get("loc", ())]
    place = {"query": "query parameter", "path": "path parameter", "header": "header", "body": "body"}
    head = place.get(where[0], where[0]) if where else "request"
    name = ".".join(where[1:])
    return f"{head} {name}: {first.get('msg', 'invalid')}".replace("  ", " ")


def install(app: FastAPI) -> None:
    """Answer every error, expected or not, with a problem document."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, error: Problem) -> JSONResponse:
        return problem_response(error.status, error.detail, headers=error.headers, **error.extra)

    @app.exception_handler(LedgerError)
    async def _ledger(request: Request, error: LedgerError) -> JSONResponse:
        return problem_response(status_for(error), argument_names(error.message, parameter_name))

    @app.exception_handler(ValueError)
    async def _value(request: Request, error: ValueError) -> JSONResponse:
        # The ledger's parsers raise ValueError with a one-line reason for a value they refuse.
        return problem_response(400, str(error) or "invalid value")

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> JSONResponse:
        # A query parameter or header the request got wrong is a bad request (400); a body
        # that parses but cannot be taken stays 422.
        errors = error.errors()
        where = errors[0].get("loc", ("body",))[0] if errors else "body"
        return problem_response(422 if where == "body" else 400, _validation_detail(error))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        detail = error.detail if isinstance(error.detail, str) else TITLES.get(error.status_code, "")
        if error.status_code == 404 and detail == "Not Found":
            detail = f"no such resource: {request.url.path}"
        if error.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
        return problem_response(error.status_code, detail, headers=dict(error.headers or {}))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        if is_write_race(error):
            return problem_response(503, WRITE_RACE, headers={"Retry-After": "1"})
        log.exception("internal error on %s %s", request.method, request.url.path)
        return problem_response(500, f"internal error: {type(error).__name__}")
