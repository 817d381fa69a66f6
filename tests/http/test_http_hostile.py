"""Hostile requests against the HTTP API: every body format read exactly, browsers trusted with
nothing, no internal error on any input (issue 32; docs/http.md, "Threat model").

The in-process tests drive the real app (starlette's TestClient); what depends on real sockets
and Host headers as a client sends them runs against a real uvicorn server on loopback.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.http.app import create_app
from orderledger.infrastructure.http.bounded_reads import ReaderProcesses, WorkLimit
from orderledger.infrastructure.http.service import LedgerService
from tests.support.browser import chromium, require_browser
from tests.support.http_api import (
    BOUND,
    LOOPBACK,
    TOKENS,
    WRITE_TOKEN,
    bearer,
    fill,
    free_port,
    request,
    running_server,
    wait_until,
)

NDJSON = {"content-type": "application/x-ndjson"}
JSON = {"content-type": "application/json"}


@pytest.fixture
def fresh() -> Iterator[Any]:
    """Opens in-process clients over fresh in-memory ledgers; closes them afterwards."""
    opened: list[tuple[OrderLedger, TestClient]] = []

    def open_one() -> tuple[OrderLedger, TestClient]:
        ledger = OrderLedger("memory://")
        client = TestClient(
            create_app(LedgerService(ledger)), base_url=LOOPBACK, raise_server_exceptions=False
        )
        opened.append((ledger, client))
        return ledger, client

    yield open_one
    for ledger, client in opened:
        client.close()
        ledger.close()


def journal(ledger: OrderLedger) -> list[tuple[Any, ...]]:
    """The journal as compared across doors: everything but the time received and the origin."""
    return [
        (m.message_id, m.line, m.format, m.raw, m.outcome, m.reason, m.client_order_id, m.events)
        for m in ledger.audit.messages()
    ]


def events(ledger: OrderLedger) -> list[dict[str, Any]]:
    """The log, without the time each event was recorded."""
    return [{k: v for k, v in e.to_json().items() if k != "ts_recorded"} for e in ledger.events()]


# ---------------------------------------------------------------------- exact over every door


def test_a_json_array_is_read_exactly_and_journaled_as_sent(fresh: Any) -> None:
    ledger, client = fresh()
    # Given a batch whose quantity and price are JSON numbers with more digits than a binary
    # float holds (a float would make them 12345678901234567000 and 12345678.12345679), laid
    # out over several lines, and a second message that names "price" twice
    first = (
        '{"type": "request", "client_order_id": "c-1", "account": "alpha", "venue": "venue-x",\n'
        '   "instrument": "BTC-USDT", "side": "buy", "order_type": "limit",\n'
        '   "quantity": 12345678901234567890.123456789, "price": 12345678.123456789012,'
        ' "ts": "2026-11-20T10:00:00Z"}'
    )
    second = json.dumps(request("c-2"))[:-1] + ', "price": "1"}'
    body = f"[\n  {first} ,\n  {second}\n]\n"
    # When it is posted as a JSON array
    response = client.post("/messages", content=body.encode(), headers=JSON)
    # Then the first is applied with its numbers as sent, the second refused for its duplicate
    assert response.status_code == 422, response.text
    assert [(r["outcome"], r["reason"]) for r in response.json()["results"]] == [
        ("applied", None),
        ("rejected", "duplicate key 'price'"),
    ]
    order = ledger.order("c-1")
    assert (str(order.quantity), str(order.price)) == (
        "12345678901234567890.123456789",
        "12345678.123456789012",
    )
    # and the journal holds each item's bytes exactly as they were in the body
    assert [m.raw for m in ledger.audit.messages()] == [first, second]


def test_a_venue_payload_posted_as_json_is_journaled_as_sent(fresh: Any) -> None:
    ledger, client = fresh()
    # A venue's payload laid out over several lines (this one holds no order: it is rejected,
    # which is beside the point): the journal keeps its bytes, line breaks included
    payload = '{\n  "id": "1",\r\n  "symbol": "BTC/USDT"\n}'
    response = client.post(
        "/messages",
        params={"format": "ccxt", "venue": "binance", "account": "alpha"},
        content=("\n" + payload + "\n").encode(),
        headers=JSON,
    )
    assert response.status_code in (200, 422), response.text
    assert [m.raw for m in ledger.audit.messages()] == [payload]


DIGITS = st.text("0123456789", min_size=1, max_size=24)


@st.composite
def number_literal(draw: Any) -> str:
    """A JSON number as text: digits, perhaps a fraction, perhaps an exponent (some out of the
    ledger's range or scale, which are refused alike through either door)."""
    whole: str = draw(DIGITS).lstrip("0") or "0"
    fraction: str = draw(st.one_of(st.just(""), DIGITS.map(lambda d: "." + d)))
    exponent: str = draw(st.sampled_from(["", "", "", "e2", "E-3", "e+1"]))
    return whole + fraction + exponent


@st.composite
def message_lines(draw: Any) -> list[str]:
    """Requests and fills as JSON text, numbers unquoted, some with a key given twice."""
    lines = []
    for index in range(draw(st.integers(1, 5))):
        cid = f"c-{draw(st.integers(0, 2))}"
        if draw(st.booleans()):
            fields = request(cid, quantity="Q", price="P")
        else:
            fields = fill(cid, f"t-{index}", quantity="Q", price="P")
        text = json.dumps(fields, separators=draw(st.sampled_from([(",", ":"), (", ", ": ")])))
        text = text.replace('"Q"', draw(number_literal())).replace('"P"', draw(number_literal()))
        if draw(st.integers(0, 4)) == 0:
            text = text[:-1] + ', "quantity": "1"}'
        lines.append(text)
    return lines


@given(lines=message_lines(), separator=st.sampled_from([",", ", ", ",\n  ", "\n,\t"]))
@settings(
    max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_the_same_messages_as_ndjson_and_as_a_json_array_give_the_same_journal_and_events(
    fresh: Any, lines: list[str], separator: str
) -> None:
    # Given the same messages posted as JSON lines to one ledger and as a JSON array to another
    by_lines, lines_client = fresh()
    by_array, array_client = fresh()
    lines_client.post("/messages", content="\n".join(lines).encode(), headers=NDJSON)
    array_client.post("/messages", content=f"[{separator.join(lines)}]".encode(), headers=JSON)
    # Then both journals hold the same raw bytes with the same outcomes and reasons, and both
    # logs the same events
    assert journal(by_array) == journal(by_lines)
    assert [m[3] for m in journal(by_array)] == lines
    assert events(by_array) == events(by_lines)


# ---------------------------------------------------------------------- no internal error


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        ('{"a":' * 1000 + "1" + "}" * 1000, NDJSON),  # an object in an object, 1,000 deep
        ('{"a":' * 1000 + "1" + "}" * 1000, JSON),
        ("[" + '{"a":' * 1000 + "1" + "}" * 1000 + "]", JSON),
        ("[" * 1000 + "]" * 1000, JSON),
    ],
    ids=["ndjson-object", "json-object", "json-array-of-object", "json-arrays"],
)
def test_json_nested_1000_deep_is_refused_in_one_line(fresh: Any, body: str, headers: dict[str, str]) -> None:
    ledger, client = fresh()
    response = client.post("/messages", content=body.encode(), headers=headers)
    # The line is refused and journaled as such, with the reason the ledger's reader gives
    assert response.status_code == 422, response.text
    assert "\n" not in response.json()["detail"]
    assert [(m.outcome, m.reason) for m in ledger.audit.messages()] == [
        ("rejected", "JSON is nested deeper than 64 levels")
    ]


@pytest.mark.parametrize(
    ("path", "name", "value"),
    [
        # 00:00 at +01:00 on 1 January of year 1 is 23:00 UTC on 31 December of year 0
        ("/orders", "as_of", "0001-01-01T00:00:00+01:00"),
        ("/orders/c-1", "as_of", "0001-01-01T00:00:00+01:00"),
        # 23:59:59 at -01:00 on 31 December 9999 is 00:59:59 UTC in the year 10000
        ("/trades", "since", "9999-12-31T23:59:59-01:00"),
        ("/events", "until", "9999-12-31T23:59:59-01:00"),
        ("/messages", "since", "0001-01-01T00:00:00+14:00"),
    ],
)
def test_a_date_out_of_range_is_a_bad_request(fresh: Any, path: str, name: str, value: str) -> None:
    _, client = fresh()
    response = client.get(path, params={name: value})
    assert response.status_code == 400, response.text
    assert response.json()["detail"] == f"{name} is out of range: {value!r}"


# ---------------------------------------------------------------------- browsers


def test_without_tokens_only_loopback_host_names_are_answered() -> None:
    with running_server() as server:
        server.ledger.ingest_lines([json.dumps(request())])
        port = server.url.rsplit(":", 1)[1]
        # A page on a name the attacker rebinds to 127.0.0.1 sends its own name as Host: every
        # request is refused, reads included, and the ledger's data is not in the answer
        for path in ("/orders", "/messages", "/", "/health"):
            response = httpx2.get(server.url + path, headers={"Host": f"rebind.example:{port}"})
            assert response.status_code == 403, (path, response.text)
            assert "is not a loopback name" in response.json()["detail"]
            assert "c-1" not in response.text
        # Loopback names are answered
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "localhost"):
            assert httpx2.get(server.url + "/orders", headers={"Host": host}).status_code == 200, host


def test_with_tokens_any_host_name_is_answered_to_a_token() -> None:
    with running_server(tokens=TOKENS) as server:
        response = httpx2.get(
            server.url + "/orders", headers={"Host": "ledger.internal", **bearer(WRITE_TOKEN)}
        )
        assert response.status_code == 200, response.text


def test_a_foreign_origin_may_not_write_and_the_servers_own_may() -> None:
    with running_server() as server:
        port = server.url.rsplit(":", 1)[1]
        for origin in ("http://evil.example", f"http://localhost:{port}", "null"):
            for path in ("/messages", "/reconcile?apply=true"):
                response = httpx2.post(server.url + path, json=request(), headers={"Origin": origin})
                assert response.status_code == 403, (origin, path, response.text)
                assert "may not change the ledger" in response.json()["detail"]
        assert server.ledger.audit.messages() == []
        # The page's own origin (scheme, host and port of the server) writes
        own = httpx2.post(server.url + "/messages", json=request(), headers={"Origin": server.url})
        assert own.status_code == 200, own.text


def test_an_allowed_origin_may_write(fresh: Any) -> None:
    ledger = OrderLedger("memory://")
    app = create_app(LedgerService(ledger), allowed_origins=["https://desk.example/"])
    with TestClient(app, base_url=LOOPBACK) as client:
        allowed = client.post("/messages", json=request(), headers={"Origin": "https://desk.example"})
        other = client.post("/messages", json=request("c-2"), headers={"Origin": "https://desk.example:8443"})
    assert (allowed.status_code, other.status_code) == (200, 403)
    assert [m.client_order_id for m in ledger.audit.messages()] == ["c-1"]
    ledger.close()


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        None,
    ],
)
@pytest.mark.parametrize("path", ["/messages", "/reconcile?apply=true"])
def test_writes_in_a_type_any_page_may_send_are_refused(
    fresh: Any, content_type: str | None, path: str
) -> None:
    ledger, client = fresh()
    headers = {} if content_type is None else {"content-type": content_type}
    response = client.post(path, content=json.dumps(request()).encode(), headers=headers)
    assert response.status_code == 415, response.text
    assert "which any web page can send unasked" in response.json()["detail"]
    assert ledger.audit.messages() == [] and ledger.events() == []


ATTACK_PAGE = """<!doctype html><title>cat pictures</title><script>
const target = %(target)s;
const post = (path, body) =>
  fetch(target + path, {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body});
Promise.allSettled([post("/messages", %(message)s), post("/reconcile?apply=true", %(snapshot)s)])
  .then((results) => { document.title = "sent: " + results.map((r) => r.status).join(" "); });
</script>"""


@contextmanager
def page_server(html: str) -> Iterator[str]:
    """Serve one HTML page on localhost at a free port (another origin than the ledger's)."""
    content = html.encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Page)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_page_from_another_origin_cannot_change_the_ledger_in_a_real_browser() -> None:
    require_browser()
    with running_server() as server:
        # Given a ledger with one open order (c-1, requested at 10:00)
        server.ledger.ingest_lines([json.dumps(request())], origin="seed")
        # and a page on another origin that posts, as text/plain (which a browser sends to any
        # site without asking it first), a fill of c-1 and a snapshot of venue-x/alpha with no
        # open order at 11:00, which applied would cancel c-1
        message = json.dumps(fill())
        snapshot = json.dumps(
            {"venue": "venue-x", "account": "alpha", "as_of": "2026-11-20T11:00:00Z", "open_orders": []}
        )
        html = ATTACK_PAGE % {
            "target": json.dumps(server.url),
            "message": json.dumps(message),
            "snapshot": json.dumps(snapshot),
        }
        with page_server(html) as attacker, chromium() as driver:
            # When the operator's browser opens that page and both requests got their answers
            driver.get(attacker)
            wait_until(lambda: driver.title.startswith("sent:"), "the page's two posts")
        # Then the ledger is as it was: one journal line, one event, c-1 still only requested
        assert [m.origin for m in server.ledger.audit.messages()] == ["seed"]
        assert [e.to_json()["type"] for e in server.ledger.events()] == ["OrderRequested"]
        assert server.ledger.order("c-1").status == "requested"


# ---------------------------------------------------------------------- bounded work


@contextmanager
def database_held(ledger: OrderLedger) -> Iterator[None]:
    """Another thread holds a read transaction of the ledger's one in-memory connection until the
    block ends: a verify started meanwhile is in progress and cannot finish."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with ledger.db.read():
            held.set()
            release.wait(BOUND * 3)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert held.wait(BOUND)
    try:
        yield
    finally:
        release.set()
        holder.join(BOUND)


def test_one_more_expensive_read_than_the_limit_is_503_with_retry_after() -> None:
    limit = WorkLimit(concurrency=1, seconds=BOUND * 3)
    with running_server(expensive=limit) as server:
        server.ledger.ingest_lines([json.dumps(request())])
        answers: list[httpx2.Response] = []
        with database_held(server.ledger):
            # Given one verify in progress (the most this server runs at once)
            first = threading.Thread(
                target=lambda: answers.append(httpx2.get(server.url + "/verify", timeout=BOUND * 3))
            )
            first.start()
            wait_until(lambda: limit.running == 1, "the first verify to start")
            # When another verify and a read as of a past time come
            refused = [
                httpx2.get(server.url + "/verify", timeout=BOUND),
                httpx2.get(server.url + "/orders", params={"as_of": "2026-11-20T10:00:00Z"}),
                httpx2.get(server.url + "/orders/c-1", params={"as_of": "2026-11-20T10:00:00Z"}),
            ]
            # Then each is refused at once with 503 and Retry-After, and nothing waits in a queue
            for response in refused:
                assert response.status_code == 503, response.text
                assert response.headers["retry-after"] == "5"
                assert (
                    "1 expensive reads are running, the most this server runs at once"
                    in response.json()["detail"]
                )
            assert limit.running == 1
        # When the first ends, it has its answer, and the place is free again
        first.join(BOUND)
        assert [a.status_code for a in answers] == [200]
        wait_until(lambda: limit.running == 0, "the place to be freed")
        assert httpx2.get(server.url + "/verify", timeout=BOUND).json()["ok"] is True


def test_an_expensive_read_past_its_time_is_503_and_keeps_its_place_until_it_ends() -> None:
    limit = WorkLimit(concurrency=1, seconds=0.2)
    with running_server(expensive=limit) as server:
        with database_held(server.ledger):
            # A verify that cannot finish (the database is held) is answered 503 after 0.2 s
            late = httpx2.get(server.url + "/verify", timeout=BOUND)
            assert late.status_code == 503, late.text
            assert late.json()["detail"].startswith("GET /verify did not finish within 0.2 s")
            assert late.headers["retry-after"] == "5"
            # and its work still holds the one place, so another is refused at once
            assert limit.running == 1
            assert (
                "expensive reads are running"
                in httpx2.get(server.url + "/verify", timeout=BOUND).json()["detail"]
            )
        wait_until(lambda: limit.running == 0, "the given-up verify to end")
        assert httpx2.get(server.url + "/verify", timeout=BOUND).status_code == 200


def test_over_a_file_expensive_reads_answer_from_processes_of_their_own(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    reader = ReaderProcesses(url, 1)
    try:
        with running_server(url, reader=reader) as server:
            server.ledger.ingest_lines([json.dumps(request())])
            requested = server.ledger.events()[0].to_json()["ts_recorded"]
            server.ledger.ingest_lines([json.dumps(fill())])
            # The worker reads what the server committed, and answers as the server itself would
            verified = httpx2.get(server.url + "/verify", timeout=BOUND).json()  # (a worker starts)
            assert (verified["ok"], verified["events"]) == (True, 2)
            # c-1 as the ledger knew it when the request was recorded: nothing filled yet
            then = httpx2.get(server.url + "/orders/c-1", params={"as_of": requested}).json()
            now = httpx2.get(server.url + "/orders/c-1").json()
            assert (then["filled_quantity"], now["filled_quantity"]) == ("0", "1")
            # A worker's refusal is the same problem document
            missing = httpx2.get(server.url + "/orders/nope", params={"as_of": "2026-11-20T10:00:00Z"})
            assert (missing.status_code, missing.json()["detail"]) == (
                404,
                "no order 'nope' (client order ID, venue order ID or alias)",
            )
            early = httpx2.get(server.url + "/orders", params={"as_of": "0001-01-01T00:00:00+01:00"})
            assert (early.status_code, early.json()["detail"]) == (
                400,
                "as_of is out of range: '0001-01-01T00:00:00+01:00'",
            )
    finally:
        reader.close()


def test_a_reader_process_that_dies_is_replaced_not_fatal_to_every_later_read(tmp_path: Any) -> None:
    # A worker killed mid-life (the out-of-memory killer, an operator) breaks a process pool for
    # good: every later expensive read would fail with an internal error until a restart.
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    reader = ReaderProcesses(url, 1)
    try:
        with running_server(url, reader=reader) as server:
            server.ledger.ingest_lines([json.dumps(request())])
            assert httpx2.get(server.url + "/verify", timeout=BOUND).json()["events"] == 1
            [worker] = list(reader.pool._processes.values())
            worker.kill()
            worker.join()
            refused = httpx2.get(server.url + "/verify", timeout=BOUND)
            assert refused.status_code == 503, refused.text
            assert refused.json()["detail"].startswith("a process running expensive reads ended abruptly")
            assert refused.headers["retry-after"] == "5"
            # the next read runs in a new worker and answers as before
            again = httpx2.get(server.url + "/verify", timeout=BOUND)  # (a worker starts)
            assert (again.status_code, again.json()["events"]) == (200, 1), again.text
    finally:
        reader.close()
