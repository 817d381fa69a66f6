"""What every route shares: who may call it, the request body, and the ledger behind the app.

A route asks for the ``Ledger`` context, which knows the caller (from the bearer token: its
name, the principal, and its roles) and admits each request it is handed by the roles that
request declares (``Request.roles``: ``read``, ``write``, ``admin``, ``risk``), so a route never
spells a role. The context holds the one
``LedgerService`` of the app, the bound on whole-log reads (bounded_reads.py) with the runner
that performs them, and the bound on list reads with the threads of their own they run in. A
read is handed over as its typed request (``orderledger.requests``), never by a method's name.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Annotated, Any, ParamSpec, TypeVar

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from orderledger.domain.values import parse_timestamp
from orderledger.infrastructure.application.requests import Pnl, PnlDaily, PnlSeries, Positions
from orderledger.infrastructure.application.requests import Request as Question
from orderledger.infrastructure.http.auth import ANYONE, Holder
from orderledger.infrastructure.http.bounded_reads import Runner, WorkLimit, list_limit
from orderledger.infrastructure.http.guard import Access
from orderledger.infrastructure.http.list_parameters import Listed, listed_response
from orderledger.infrastructure.http.pnl_reads import Folds
from orderledger.infrastructure.http.problems import Problem
from orderledger.infrastructure.http.service import LedgerService, Listing, ListRequest
from orderledger.infrastructure.listing import COUNT_CAP, DEFAULT_LIMIT

P = ParamSpec("P")
T = TypeVar("T")

VIEWS_BEHIND = "Views-Behind"
"""The response header of every answer from the views: how many events of the log they do not
include yet (``ingest --no-project`` with no follower running); 0 when they are current."""

_bearer = HTTPBearer(auto_error=False, description="A token from the tokens file or $ORDERLEDGER_TOKENS")


async def _caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Holder:
    """Who holds the token the request presents (401 without a known one); ``ANYONE`` (every
    role, no name) when no token is configured (the server then listens on loopback only:
    ``auth.check_bind``). The rule is every listener's: ``guard.Access.holder``."""
    access: Access = request.app.state.access
    return access.holder(None if credentials is None else credentials.credentials)


Caller = Annotated[Holder, Depends(_caller)]
"""The caller, for a route that reads the server's own state rather than asking the ledger
(verify's progress, the metrics): any known token (each role includes ``read``)."""


SMALL_PAGE = 500
"""Rows a page may have (uncounted) to be read in this process's own list threads rather than in
a worker process: for such a page the hop to another process and back costs more than the read
itself, and the read holds the interpreter lock a few milliseconds at most. Larger pages and
counts go to the processes, under the same bound."""


@dataclass(frozen=True)
class LedgerContext:
    """The ledger behind the app, as the routes use it."""

    service: LedgerService
    limit: WorkLimit
    reader: Runner
    folds: Folds
    lister: Runner  # list reads' runner: processes of their own (bounded_reads.py), or threads
    lists: WorkLimit = field(default_factory=list_limit)
    count_cap: int = COUNT_CAP
    nearby: Runner | None = None
    """Where a small page runs (threads of its own) when ``lister`` is processes: a hop to
    another process costs more than such a page (``SMALL_PAGE``)."""
    caller: Holder = ANYONE
    """Who this context serves (``Ledger``: the route's caller)."""

    def admit(self, question: Question[Any]) -> None:
        """Refuse (403) a request needing a role (``Request.roles``) the caller's roles do not
        include: the one authorization of every request, before any work."""
        missing = [role for role in question.roles if not self.caller.may(role)]
        if missing:
            needs = f"{type(question).__name__} needs {' and '.join(missing)}"
            raise Problem(403, f"this token's role is {self.caller.role}; {needs}")

    def admit_writer(self, question: Question[Any]) -> None:
        """Refuse (403), before its body is read, a write whose lines are not known yet (an
        ``Ingest``) to a caller who may record nothing: neither ``write`` nor ``risk``."""
        if not any(self.caller.may(role) for role in ("write", "risk")):
            raise Problem(
                403, f"this token's role is {self.caller.role}; {type(question).__name__} needs write or risk"
            )

    @property
    def principal(self) -> str | None:
        """The caller's name, which every fact it writes is recorded with (``set_by`` of a limit
        or a trading state, the journal's origin); None without tokens (loopback only)."""
        return self.caller.name or None

    def origin(self, request: Request, prefix: str = "http") -> str:
        """Where a write came from, as the journal records it: ``http:NAME@HOST`` (the token's
        name), or ``http:HOST`` without tokens."""
        host = request.client.host if request.client else "?"
        return f"{prefix}:{self.principal}@{host}" if self.principal else f"{prefix}:{host}"

    def signed(self, given: str | None, where: str) -> str:
        """Who a limit or a trading state written over HTTP is set by: the token's name. A
        ``set_by`` given is taken only when it is that name (403 otherwise: a caller cannot
        record a fact as someone else); without tokens, the name given (400 when absent)."""
        if self.principal is None:
            if not given:
                raise Problem(400, f"{where} needs set_by")
            return given
        if given not in (None, self.principal):
            raise Problem(
                403,
                f"{where}: set_by {given!r} is not this token's name {self.principal!r};"
                " a fact written over HTTP is set by the token that sends it (leave set_by out)",
            )
        return self.principal

    async def call(self, function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """One of the service's own calls (a write, liveness, the views' state), in a worker
        thread (it blocks on the database)."""
        return await run_in_threadpool(function, *args, **kwargs)

    async def ask(self, question: Question[Any]) -> Any:
        """A read or a write, in a worker thread: the service's JSON-ready answer to ``question``."""
        self.admit(question)
        return await run_in_threadpool(self.service.answer, question)

    async def expensive(self, what: str, question: Question[Any]) -> Any:
        """A whole-log read: bounded (503 with Retry-After when the bound is reached)."""
        self.admit(question)
        return await self.limit.run(what, self.reader, question)

    async def listed(self, request: Request, question: ListRequest) -> Response:
        """A list read (``/events``, ``/orders``, …; read from the views, its answer says how far
        they are behind: ``service.Listing``): bounded per token, per address and in all (429 or
        503 at once past a bound, before any work; 503 past its time budget; bounded_reads.py), its
        count up to ``count_cap``. It runs apart (``lister``: served over a file or a server, in
        processes of their own, else in threads of their own) and makes its whole answer there,
        JSON included (``http.list_parameters``): it never holds the connection, the threads, the
        interpreter lock or the event loop that ``/health`` and the writes need."""
        self.admit(question)
        if question.count:
            question = replace(question, count=self.count_cap)
        small = not question.count and (question.where.limit or DEFAULT_LIMIT) <= SMALL_PAGE
        listed: Listed = await self.lists.run(
            f"GET {request.url.path}",
            self.nearby if small and self.nearby is not None else self.lister,
            Listing(question),
            clients=client_keys(request),
        )
        response = listed_response(request, listed)
        if listed.behind is not None:
            response.headers[VIEWS_BEHIND] = str(listed.behind)
        return response

    async def read(self, what: str, question: Question[Any]) -> Any:
        """A read, bounded as a whole-log read when the request says it is one (its
        ``whole_log``: ``as_of`` a time, a verification, lots, the analytics)."""
        if question.whole_log:
            return await self.expensive(what, question)
        return await self.ask(question)

    async def folded(self, question: Pnl | PnlDaily | PnlSeries) -> Any:
        """A read that folds every P&L entry: apart from the other requests and answered once per
        state of the log and the views (pnl_reads.py)."""
        self.admit(question)
        return await self.folds.answer(await self.call(self.service.views_at), question)

    async def under_rule(
        self, response: Response, what: str, question: Positions | Pnl | PnlDaily, *, whole: bool = False
    ) -> Any:
        """A read of positions or P&L under the ledger's rule or the request's ``cost_basis``:
        from the views or the books' heads (``whole``: a fold of all of them, see
        :meth:`folded`), or, under a lot rule, a bounded read; with how far the views lag when
        the answer stands where they do (``LedgerService.from_views``)."""
        self.admit(question)
        if await self.call(self.service.from_views, question):
            await self.views_behind(response)
        if await self.call(self.service.folds_log, question.cost_basis):
            return await self.expensive(what, question)
        if whole and not isinstance(question, Positions):
            return await self.folded(question)
        return await self.ask(question)

    async def views_behind(self, response: Response) -> None:
        """Answers from the views carry how far the views are behind the log (0: current)."""
        response.headers[VIEWS_BEHIND] = str(await self.call(self.service.views_behind))


def client_keys(request: Request) -> tuple[str, ...]:
    """Who asks, as the list-read bound counts them: the bearer token (by its digest: the token
    itself is kept nowhere) and the client's address."""
    keys = []
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        keys.append("token:" + hashlib.sha256(credentials.strip().encode()).hexdigest()[:16])
    keys.append(f"address:{request.client.host if request.client else '?'}")
    return tuple(keys)


def _server(request: Request) -> LedgerContext:
    context: LedgerContext = request.app.state.ledger
    return context


def _ledger(request: Request, caller: Caller) -> LedgerContext:
    return replace(_server(request), caller=caller)


Ledger = Annotated[LedgerContext, Depends(_ledger)]
"""The ledger, for the caller: each request it is asked is admitted by the role the request
declares (``Request.roles``), so no route spells a role."""

Server = Annotated[LedgerContext, Depends(_server)]
"""The ledger without a caller, for what anyone may ask (``/health``)."""


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


def media_type(request: Request) -> str:
    """The request's content type without its parameters, lower case."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def moment(value: str | None, name: str) -> datetime | None:
    """A time parameter (ISO 8601 with its offset) as a UTC datetime; None when not given."""
    return None if value is None else parse_timestamp(value, name)
