"""``GET /risk/stream`` clients are bounded as list reads are (per address or token, and in all;
one more is answered at once with 429 or 503, ``Retry-After`` and a one-line reason), on a real
server; and the streams of one threshold are fed by one reader of the statuses, which wakes its
clients only when a status changed (docs/http.md, "Bounds"). Waits on frames and answers, never
on the clock."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx2

from orderledger.infrastructure.application.reads.follow import Wakeup
from orderledger.infrastructure.http.bounded_reads import RETRY_AFTER, stream_limit
from orderledger.infrastructure.http.stream import RiskFeed
from tests.support.http_api import BOUND, assert_problem, fill, request, running_server, wait_until


def opened(stack: contextlib.ExitStack, client: httpx2.Client) -> Iterator[str]:
    """A risk stream held open until ``stack`` closes, once the server has answered it 200 (its
    first frame read); its lines (the stream is open while they are kept: dropping them closes it)."""
    response = stack.enter_context(client.stream("GET", "/risk/stream"))
    assert response.status_code == 200, response.read()
    lines = response.iter_lines()
    assert next(lines) == "retry: 1000"
    return lines


def next_alert(lines: Iterator[str]) -> dict[str, Any]:
    for line in lines:
        if line.startswith("data: "):
            found: dict[str, Any] = json.loads(line[6:])
            return found
    raise AssertionError("the stream ended")


def test_the_stream_past_the_bound_is_refused_and_the_others_are_served() -> None:
    with (
        running_server(streams=stream_limit(3, 10)) as server,
        httpx2.Client(base_url=server.url, timeout=BOUND) as client,
        contextlib.ExitStack() as streams,
    ):
        server.ledger.risk_controls.set_limit("instrument", "BTC-USDT", "max_position", "10", set_by="alice")
        # A refused threshold (400) takes no place
        assert_problem(client.get("/risk/stream", params={"threshold": "2"}), 400, "threshold")
        # Given three streams open, the bound,
        held = [opened(streams, client) for _ in range(3)]
        # When a fourth client asks, it is refused at once: 503, Retry-After, one line
        body = assert_problem(
            client.get("/risk/stream"), 503, "GET /risk/stream is refused for now: 3 risk streams are running"
        )
        assert str(RETRY_AFTER) == client.get("/risk/stream").headers["Retry-After"]
        assert f"retry in {RETRY_AFTER} s" in body["detail"]
        # while the three are served: 9 bought of 10 is 90%, near, told to each
        assert client.post("/messages", json=[request(quantity="9"), fill(quantity="9")]).status_code == 200
        for lines in held:
            alert = next_alert(lines)
            assert (alert["status"], alert["figure"]) == ("near", "9")
        # and a list read is not held back by them
        assert client.get("/orders").status_code == 200


def test_a_client_past_its_own_bound_is_refused_429_and_its_places_free_on_leaving() -> None:
    with (
        running_server(streams=stream_limit(10, 2)) as server,
        httpx2.Client(base_url=server.url, timeout=BOUND) as client,
    ):
        with contextlib.ExitStack() as streams:
            held = [opened(streams, client), opened(streams, client)]
            # A third stream from the same address: 429, this address's bound
            assert_problem(
                client.get("/risk/stream"),
                429,
                "GET /risk/stream is refused for now: this address has 2 risk streams running,"
                " the most one address may run at once",
            )
            assert len(held) == 2

        # When the two leave, their places are given back (the server sees them go): two
        # streams are served again, and a third is refused again.
        with contextlib.ExitStack() as streams:
            held = []

            def another() -> bool:
                response = streams.enter_context(client.stream("GET", "/risk/stream"))
                if response.status_code != 200:
                    return False
                held.append(response.iter_lines())
                return next(held[-1]) == "retry: 1000"

            wait_until(another, "a place to be given back")
            wait_until(another, "another place to be given back")
            assert client.get("/risk/stream").status_code == 429


def test_one_reader_feeds_every_client_and_wakes_them_only_on_a_change() -> None:
    # Given 50 clients of one threshold over a feed whose reader counts its reads (the poll
    # interval an hour: it looks again only after a commit),
    reads: list[Decimal] = []
    ok = {"scope": "account", "target": "a", "kind": "max_position", "status": "ok"}
    statuses = [[ok]]

    async def look(threshold: Decimal) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[Any]]:
        reads.append(threshold)
        # Each look works the statuses out at a later ledger time (``as_of``): no change for that
        rows = [{**row, "as_of": f"2025-03-03T12:00:{len(reads):02d}Z"} for row in statuses[-1]]
        return rows, [], []  # (no trading state set, no breach recorded)

    async def session() -> tuple[list[list[bytes]], int, int]:
        wakeup = Wakeup()
        feed = RiskFeed(look, wakeup, 3600.0)
        first, states, _ = await look(Decimal("0.8"))
        clients = [feed.alerts(Decimal("0.8"), first, states) for _ in range(50)]
        got = [[await anext(c)] for c in clients]  # each's first frame: retry
        pending = [asyncio.ensure_future(anext(c)) for c in clients]
        await asyncio.sleep(0)  # the reader and the clients wait now
        # When three commits change nothing, the reader reads once for each, and no client wakes;
        for _ in range(3):
            before = len(reads)
            wakeup.notify()
            await wait_for(lambda before=before: len(reads) > before)
        idle_reads = len(reads) - 1
        assert not any(p.done() for p in pending)
        # when a commit breaches the limit, one read tells every client
        statuses.append([{"scope": "account", "target": "a", "kind": "max_position", "status": "breached"}])
        wakeup.notify()
        for client_frames, frame in zip(got, await asyncio.gather(*pending), strict=True):
            client_frames.append(frame)
        total_reads = len(reads) - 1
        for c in clients:
            await c.aclose()
        return got, idle_reads, total_reads

    got, idle_reads, total_reads = asyncio.run(session())
    # Then: 3 reads for the 3 quiet commits (not 150), one more for the breach (not 50),
    assert (idle_reads, total_reads) == (3, 4)
    # and every client was told the breach once, with the time of the look that found it
    # (the fifth look: the first, three quiet ones, then this one).
    assert {frames[1].split(b"\n")[1] for frames in got} == {
        b'data: {"scope":"account","target":"a","kind":"max_position","status":"breached",'
        b'"as_of":"2025-03-03T12:00:05Z","changed_at":"2025-03-03T12:00:05Z"}'
    }
    assert {frames[0] for frames in got} == {b"retry: 1000\n\n"}


async def wait_for(condition: Any) -> None:
    """Yield to the event loop until ``condition`` holds (bounded against a hang)."""
    async with asyncio.timeout(BOUND):
        while not condition():
            await asyncio.sleep(0)
