"""List reads refused at the door when their bound is full.

A list read past its bound (bounded_reads.py: per token, per address, in all) is answered 429 or 503 at
once. Answered by its route, that refusal still costs what every request costs in FastAPI
(routing, the token check, the query's validation, the dependencies, the problem document):
about as much as a ``/health``. A crowd of clients that retry the moment they are refused then
keeps a queue of such requests in front of ``/health`` and the writes, which all share the event
loop. So a list read that its bound would refuse is refused here, in front of the app, before
any of that work: the same status, ``Retry-After`` and words as its route gives.

A client that asks again within the ``Retry-After`` it was given (by its token or its address)
gets its refusal after a pause (``PAUSE``, 1 s): its answer is the same, but a crowd that never
waits then asks at the pace of its own connections, not of the event loop, and the loop keeps
its turns for ``/health`` and the writes. A client that waits as told never meets the pause.

A route opts in with ``@sheds(...)``, naming the query parameters that send a request of it
elsewhere (``/orders?as_of=`` is a whole-log read, under its own bound). The refusal comes
before the token check: a client without a valid token learns only that the server is busy.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from orderledger.infrastructure.http.bounded_reads import RETRY_AFTER, WorkLimit
from orderledger.infrastructure.http.problems import problem_response

F = TypeVar("F", bound=Callable[..., Any])
_MARK = "__orderledger_sheds__"
PAUSE = 1.0
"""Seconds a refusal waits before it is sent to a client refused less than ``Retry-After`` ago."""
REMEMBERED = 10_000
"""Client keys whose last refusal is kept at most (the oldest forgotten first)."""


def sheds(*unless: str) -> Callable[[F], F]:
    """Mark a list read's endpoint: refused at the door when the list reads' bound is full,
    unless its query names one of ``unless``."""

    def mark(endpoint: F) -> F:
        setattr(endpoint, _MARK, frozenset(unless))
        return endpoint

    return mark


class ListShedding:
    """The ASGI middleware in front of the app that refuses what ``sheds`` marks."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Iterable[BaseRoute],
        limit: WorkLimit,
        clients: Callable[[Request], tuple[str, ...]],
        headers: Mapping[str, str],
        pause: float = PAUSE,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.pause = pause
        self.sleep = sleep
        self.clock = clock
        self.refused: dict[str, float] = {}
        """Each client key's last refusal (``clock`` time), oldest first."""
        self.limit = limit
        self.clients = clients
        self.headers = dict(headers)
        self.paths: dict[str, frozenset[str]] = {
            route.path: getattr(route.endpoint, _MARK)
            for route in routes
            if isinstance(route, APIRoute)
            and hasattr(route.endpoint, _MARK)
            and "GET" in (route.methods or ())
        }
        """The marked routes' paths, each with the query parameters that exempt a request."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            limit = self.limit
            if limit.running:  # nothing running: nothing to refuse (the common case, one look)
                unless = self.paths.get(scope["path"])
                if unless is not None and not (unless and self._names(scope) & unless):
                    clients = self.clients(Request(scope))
                    refused = limit.refusal(f"GET {scope['path']}", clients)
                    if refused is not None:
                        answer = problem_response(
                            refused.status, refused.detail, headers={**self.headers, **refused.headers}
                        )
                        if self._again(clients) and self.pause > 0:
                            await self.sleep(self.pause)
                        await answer(scope, receive, send)
                        return
        await self.app(scope, receive, send)

    def _again(self, clients: tuple[str, ...]) -> bool:
        """Whether one of ``clients`` was refused less than ``Retry-After`` ago; this refusal is
        remembered for each."""
        now = self.clock()
        again = any(now - self.refused.get(client, -RETRY_AFTER) < RETRY_AFTER for client in clients)
        for client in clients:
            self.refused.pop(client, None)  # re-inserted last: the dict stays oldest first
            self.refused[client] = now
        while len(self.refused) > REMEMBERED:
            del self.refused[next(iter(self.refused))]
        return again

    @staticmethod
    def _names(scope: Scope) -> set[str]:
        return {name for name, _ in parse_qsl(scope.get("query_string", b"").decode("latin-1"))}


__all__ = ["PAUSE", "ListShedding", "sheds"]
