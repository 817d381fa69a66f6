"""Reads bounded per client (issue 45, item 4): a crowd of list readers cannot stall the server.

100 clients read ``/events``, ``/trades``, ``/orders`` and ``/messages`` with the largest page and
``count=true`` at once, against a real server over a SQLite file and over PostgreSQL. List reads
run apart from ``/health`` and the writes (here in threads of their own over a connection of
their own; ``orderledger serve`` runs them in processes of their own), at most ``--list-reads``
at once in all and ``--list-reads-per-client`` per token and per address; one more is refused at
once (429 per client, 503 in all) with ``Retry-After``. The reads the bound admits are held in flight (they
wait at their start until the test lets them go), so what is asserted holds by construction, not
by timing: while they are held, ``/health`` and a write are answered, and the held reads occupy
threads of the list reads' own pool, none of the pool ``/health`` and the writes are run in.

``count=true`` is counted up to a bound (``count_cap``; ``COUNT_CAP`` when served): past it the
answer carries the bound and ``Total-Count-Capped: true``.

Every wait is on a condition; a client's timeout only guards against a hang. The latency figures
under this load are measured by ``tests/benchmarks/read_load.py``.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient

from orderledger.domain.errors import InvalidInputError
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.simulator import simulate_lines
from orderledger.infrastructure.http.app import create_app
from orderledger.infrastructure.http.auth import tokens
from orderledger.infrastructure.http.bounded_reads import (
    LIST_THREADS,
    OwnThreads,
    ReaderProcesses,
    list_limit,
)
from orderledger.infrastructure.http.service import Asked, LedgerService, Listing
from tests.support.http_api import BOUND, LOOPBACK, WRITE_TOKEN, bearer, request, running_server, wait_until

READERS = 100
KEYS = 50
"""Reader ``i`` uses read token ``i % KEYS`` from address 127.0.0.(2 + i % KEYS): two readers a
token and an address."""
PATHS = ("/events", "/trades", "/orders", "/messages")
PLACES = 4
"""List reads at once in all (``--list-reads``); one a token and an address (``--list-reads-per-client``)."""
READ_TOKENS = tuple(f"reader-{n:02d}-0123456789abcdef" for n in range(KEYS))
TOKENS = tokens((WRITE_TOKEN, "write"), *((token, "read") for token in READ_TOKENS))


class HeldLists(LedgerService):
    """The list reads' service as ``orderledger serve`` opens it (a ledger over a connection of
    its own), whose list reads wait at their start until ``release`` is set; records the thread
    each ran in."""

    def __init__(self, ledger: OrderLedger) -> None:
        super().__init__(ledger)
        self.release = threading.Event()
        self.threads: list[str] = []
        self._lock = threading.Lock()

    def answer(self, asked: Asked) -> Any:
        if isinstance(asked, Listing):
            with self._lock:
                self.threads.append(threading.current_thread().name)
            self.release.wait(BOUND)
        return super().answer(asked)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_health_and_writes_are_answered_while_100_readers_hold_every_list_read(
    backend: str, file_ledger_url: str
) -> None:
    url = file_ledger_url
    with OrderLedger(url) as ledger:
        ledger.ingest_lines(simulate_lines(7, 400))
    lists = list_limit(concurrency=PLACES, per_client=1, seconds=BOUND)
    held = HeldLists(OrderLedger(url, create=False))
    answers: dict[int, httpx2.Response] = {}

    def read(number: int, base: str) -> None:
        address = f"127.0.0.{2 + number % KEYS}"
        transport = httpx2.HTTPTransport(local_address=address)
        with httpx2.Client(base_url=base, timeout=BOUND * 2, transport=transport) as client:
            answers[number] = client.get(
                PATHS[number % len(PATHS)],
                params={"limit": 5000, "count": "true"},
                headers=bearer(READ_TOKENS[number % KEYS]),
            )

    def start(numbers: range, base: str) -> list[threading.Thread]:
        threads = [threading.Thread(target=read, args=(n, base), daemon=True) for n in numbers]
        for thread in threads:
            thread.start()
        return threads

    def refused() -> int:
        return sum(1 for a in list(answers.values()) if a.status_code != 200)

    try:
        with running_server(url, TOKENS, lists=lists, lister=OwnThreads(held, PLACES)) as server:
            # Wave 1: readers 0-49, one per token and address: 4 are admitted and held, the
            # other 50 - 4 = 46 are refused at once (all places taken: 503).
            readers = start(range(KEYS), server.url)
            wait_until(lambda: len(held.threads) == PLACES and refused() == KEYS - PLACES, "wave 1")
            # Wave 2: readers 50-99, each sharing the token and address of reader n - 50: the 4
            # partners of held readers are refused per client (429), the other 46 in all (503).
            readers += start(range(KEYS, READERS), server.url)
            wait_until(lambda: refused() == READERS - PLACES, "wave 2")
            with httpx2.Client(base_url=server.url, timeout=BOUND) as client:
                health = client.get("/health")
                written = client.post("/messages", json=request("c-under-load"), headers=bearer(WRITE_TOKEN))
                # Refused at the door, before the token is even looked at (a route would say 401):
                # a crowd that retries at once costs the event loop next to nothing.
                at_the_door = client.get("/events", params={"limit": 5000})
                # A whole-log read has its own bound: not refused by the list reads'.
                elsewhere = client.get("/orders", params={"as_of": "2026-01-01T00:00:00Z"})
            in_flight = lists.running  # taken while every place is still held
            held.release.set()
            for reader in readers:
                reader.join(BOUND * 2)
    finally:
        held.release.set()
        held.close()

    assert health.status_code == 200 and health.json()["status"] == "ok", health.text
    assert written.status_code == 200 and written.json()["counts"]["applied"] == 1, written.text
    assert in_flight == PLACES
    assert at_the_door.status_code == 503 and at_the_door.headers["Retry-After"] == "5", at_the_door.text
    assert "4 list reads are running" in at_the_door.json()["detail"]
    assert at_the_door.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert elsewhere.status_code == 401, elsewhere.text
    # The held reads ran in the list reads' own threads, never in the event loop's pool.
    assert len(held.threads) == PLACES and all(t.startswith(LIST_THREADS) for t in held.threads), held.threads
    statuses = Counter(a.status_code for a in answers.values())
    assert statuses == {200: PLACES, 429: PLACES, 503: READERS - 2 * PLACES}, statuses  # 4, 4, 100 - 8 = 92
    for answer in answers.values():
        if answer.status_code == 200:
            assert int(answer.headers["Total-Count"]) >= 1 and "Total-Count-Capped" not in answer.headers
            continue
        assert answer.headers["Retry-After"] == "5"
        detail = answer.json()["detail"]
        if answer.status_code == 429:  # the token is counted before the address
            assert "this token has 1 list reads running, the most one token may run" in detail, detail
        else:
            assert "4 list reads are running, the most this server runs at once" in detail, detail


def _five_orders(ledger: OrderLedger) -> None:
    """Five orders, c-1 to c-5 (one message and one event each); c-4 and c-5 of account beta."""
    for n in range(1, 6):
        account = "beta" if n > 3 else "alpha"
        report = ledger.ingest_lines([json.dumps(request(f"c-{n}", account=account))])
        assert report.counts["applied"] == 1


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_count_counts_up_to_its_bound(backend: str, file_ledger_url: str) -> None:
    with OrderLedger(file_ledger_url) as ledger:
        _five_orders(ledger)
        exact = ledger.orders(limit=1, count=True)
        assert (exact.total, exact.capped) == (5, False)  # c-1 … c-5
        capped = ledger.orders(limit=1, count=3)
        assert (capped.total, capped.capped) == (3, True)  # 5 > 3: the bound, and "more"
        at_bound = ledger.events(limit=1, count=5)
        assert (at_bound.total, at_bound.capped) == (5, False)  # 5 events, not more than 5
        with pytest.raises(InvalidInputError, match="count"):
            ledger.audit.messages(count=0)

        with TestClient(create_app(LedgerService(ledger), count_cap=3), base_url=LOOPBACK) as client:
            for path in ("/orders", "/events", "/messages"):
                page = client.get(path, params={"limit": 1, "count": "true"})
                assert page.status_code == 200, page.text
                # 5 orders, 5 events, 5 messages: more than 3, so 3 and capped
                assert page.headers["Total-Count"] == "3" and page.headers["Total-Count-Capped"] == "true"
                assert len(page.json()) == 1
            beta = client.get("/orders", params={"account": "beta", "count": "true"})
            assert beta.headers["Total-Count"] == "2" and "Total-Count-Capped" not in beta.headers  # c-4, c-5
            uncounted = client.get("/orders", params={"limit": 1})
            assert "Total-Count" not in uncounted.headers and "Total-Count-Capped" not in uncounted.headers


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_served_over_a_database_list_reads_answer_from_processes_of_their_own(
    backend: str, file_ledger_url: str
) -> None:
    """As ``orderledger serve`` runs them: in worker processes, each over its own connection,
    answering what the server committed, with the same headers and problem documents."""
    lister = ReaderProcesses(file_ledger_url, 2, "list reads")
    try:
        with running_server(file_ledger_url, lister=lister) as server:
            _five_orders(server.ledger)
            assert not lister.pool._processes  # no worker yet: nothing was listed
            # A small uncounted page is read in the server's own list threads: still no worker.
            small = httpx2.get(server.url + "/orders", params={"limit": 3}, timeout=BOUND)
            assert [row["client_order_id"] for row in small.json()] == ["c-1", "c-2", "c-3"]
            assert not lister.pool._processes
            page = httpx2.get(server.url + "/orders", params={"limit": 2, "count": "true"}, timeout=BOUND)
            assert lister.pool._processes  # the read started a worker, and was answered by it
            assert page.status_code == 200, page.text
            assert [row["client_order_id"] for row in page.json()] == ["c-1", "c-2"]
            # 5 orders in all, 2 on this page; the views include every event
            assert (page.headers["Total-Count"], page.headers["Views-Behind"]) == ("5", "0")
            following = httpx2.get(server.url + page.headers["Link"].split(">")[0][1:], timeout=BOUND)
            assert [row["client_order_id"] for row in following.json()] == ["c-3", "c-4"]
            forged = httpx2.get(server.url + "/events", params={"cursor": "garbage"}, timeout=BOUND)
            assert (forged.status_code, forged.headers["content-type"]) == (400, "application/problem+json")
            assert forged.json()["detail"].startswith("cursor is not one this ledger issued")
    finally:
        lister.close()
