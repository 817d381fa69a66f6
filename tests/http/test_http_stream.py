"""GET /stream: Server-Sent Events from the committed log on a real server, resumable with
Last-Event-ID, including commits made by another process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2

from orderledger.infrastructure.application.ledger import OrderLedger
from tests.support.http_api import BOUND, READ_TOKEN, TOKENS, bearer, fill, request, running_server


def events(lines: Iterator[str], count: int) -> list[dict[str, Any]]:
    """The next ``count`` events of an open stream's lines (each read bounded by the client's timeout)."""
    found: list[dict[str, Any]] = []
    frame: dict[str, Any] = {}
    for line in lines:
        if line.startswith("id: "):
            frame["id"] = int(line[4:])
        elif line.startswith("event: "):
            frame["event"] = line[7:]
        elif line.startswith("data: "):
            frame["data"] = json.loads(line[6:])
        elif line == "" and "id" in frame:
            found.append(frame)
            frame = {}
            if len(found) == count:
                return found
    raise AssertionError(f"the stream ended after {len(found)} events")


def test_the_log_from_the_start_then_live() -> None:
    with running_server() as server, httpx2.Client(base_url=server.url, timeout=BOUND) as client:
        client.post("/messages", json=[request(), fill()])
        with client.stream("GET", "/stream", params={"after": 0}) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.iter_lines()
            # The two committed events, in log order, ids = positions
            first = events(lines, 2)
            assert [(e["id"], e["event"]) for e in first] == [(1, "OrderRequested"), (2, "OrderFilled")]
            assert first[1]["data"]["payload"]["trade_id"] == "t-1"
            # Then a fill committed while the stream is open arrives as event 3
            client.post("/messages", json=fill(trade_id="t-2"))
            [live] = events(lines, 1)
            assert (live["id"], live["event"], live["data"]["client_order_id"]) == (3, "OrderFilled", "c-1")


def test_resuming_with_last_event_id_misses_nothing_and_repeats_nothing() -> None:
    with running_server() as server, httpx2.Client(base_url=server.url, timeout=BOUND) as client:
        client.post("/messages", json=[request(), fill("c-1", "t-1"), fill("c-1", "t-2", "1", "101")])
        # A client that saw event 2 reconnects: it gets 3, then what comes next
        with client.stream("GET", "/stream", headers={"Last-Event-ID": "2"}) as response:
            lines = response.iter_lines()
            [third] = events(lines, 1)
            assert (third["id"], third["data"]["payload"]["trade_id"]) == (3, "t-2")
        # Without Last-Event-ID (and no `after`) the stream starts at the end: only new events
        with client.stream("GET", "/stream") as response:
            lines = response.iter_lines()
            client.post("/messages", json=request("c-2"))
            [new] = events(lines, 1)
            assert (new["id"], new["data"]["client_order_id"]) == (4, "c-2")
        bad = client.get("/stream", headers={"Last-Event-ID": "yesterday"})
        assert bad.status_code == 400 and "Last-Event-ID" in bad.json()["detail"]


def test_commits_by_another_process_are_streamed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with (
        running_server(url) as server,
        httpx2.Client(base_url=server.url, timeout=BOUND) as client,
        client.stream("GET", "/stream", params={"after": 0}) as response,
    ):
        lines = response.iter_lines()
        # Another writer (its own ledger on the same file) records an order
        other = OrderLedger(url)
        try:
            other.record(request("from-elsewhere"))
        finally:
            other.close()
        [seen] = events(lines, 1)
        assert (seen["id"], seen["data"]["client_order_id"]) == (1, "from-elsewhere")


def test_the_stream_needs_a_read_token() -> None:
    with running_server(tokens=TOKENS) as server, httpx2.Client(base_url=server.url, timeout=BOUND) as client:
        assert client.get("/stream").status_code == 401
        with client.stream("GET", "/stream", params={"after": 0}, headers=bearer(READ_TOKEN)) as response:
            assert response.status_code == 200


def test_stream_events_carry_exactly_the_fields_of_get_events() -> None:
    with running_server() as server, httpx2.Client(base_url=server.url, timeout=BOUND) as client:
        # Given a request and a fill, each from a message of its own (message IDs 1 and 2)
        client.post("/messages", json=request())
        client.post("/messages", json=fill())
        listed = client.get("/events").json()
        with client.stream("GET", "/stream", params={"after": 0}) as response:
            streamed = events(response.iter_lines(), 2)
    # Then each streamed event's data is the /events row, field by field, message_id included
    assert [e["data"]["message_id"] for e in streamed] == [1, 2]
    for frame, row in zip(streamed, listed, strict=True):
        assert list(frame["data"]) == list(row)
        for name, value in row.items():
            assert frame["data"][name] == value, name
        assert (frame["id"], frame["event"]) == (row["position"], row["type"])
