"""A list read its bound refuses is answered in front of the app; a client that asks again
within the ``Retry-After`` it was given gets its refusal after a pause.

Driven through the ASGI middleware itself with a clock and a sleep of the test's own: nothing
waits on wall-clock time. The app behind it records what reaches it.
"""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request

from orderledger.infrastructure.http.bounded_reads import list_limit
from orderledger.infrastructure.http.shedding import PAUSE, ListShedding, sheds

router = APIRouter()


@router.get("/events")
@sheds()
async def events() -> None: ...


@router.get("/orders")
@sheds("as_of")
async def orders() -> None: ...


def _client(request: Request) -> tuple[str, ...]:
    return (f"address:{request.headers.get('x-from', '?')}",)


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def _ask(shedding: ListShedding, path: str, who: str, query: bytes = b"") -> int:
    """One GET through the middleware: its status (200: it reached the app)."""
    sent: list[MutableMapping[str, Any]] = []
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": query,
        "headers": [(b"x-from", who.encode())],
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    asyncio.run(shedding(scope, receive, send))
    return int(sent[0]["status"])


def _shedding(clock: _Clock, running: int) -> ListShedding:
    limit = list_limit(concurrency=2, per_client=1, seconds=30)
    limit.running = running

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return ListShedding(
        app,
        routes=router.routes,
        limit=limit,
        clients=_client,
        headers={},
        sleep=clock.sleep,
        clock=clock,
    )


def test_a_full_bound_refuses_at_the_door_and_an_impatient_client_waits_for_its_answer() -> None:
    clock = _Clock()
    shedding = _shedding(clock, running=2)  # both places of the bound taken
    assert _ask(shedding, "/events", "a") == 503 and clock.slept == []  # first refusal: at once
    clock.now += 4.9  # asked again within Retry-After (5 s): the refusal waits PAUSE
    assert _ask(shedding, "/events", "a") == 503 and clock.slept == [PAUSE]
    assert _ask(shedding, "/events", "b") == 503 and clock.slept == [PAUSE]  # another client: at once
    clock.now += 5.0  # "a" waited as told since its last refusal: at once again
    assert _ask(shedding, "/events", "a") == 503 and clock.slept == [PAUSE]
    # A whole-log read is not the list reads' to refuse; an unmarked path neither.
    assert _ask(shedding, "/orders", "a", b"as_of=2026-01-01T00:00:00Z") == 200
    assert _ask(shedding, "/orders", "a") == 503
    assert _ask(shedding, "/health", "a") == 200


def test_a_bound_with_room_lets_every_read_through() -> None:
    clock = _Clock()
    shedding = _shedding(clock, running=1)  # one of two places taken; client "a" has none
    assert [_ask(shedding, "/events", "a") for _ in range(3)] == [200, 200, 200]
    assert clock.slept == []
