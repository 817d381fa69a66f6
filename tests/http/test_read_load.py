"""Reads bounded per client (issue 45, item 4): a crowd of list readers cannot stall the server.

Many clients reading ``/events``, ``/trades``, ``/orders`` and ``/messages`` with the largest
page and ``count=true`` at once: list reads run on a connection of their own, at most
``--list-reads`` at once in all and ``--list-reads-per-client`` per token and per address; one
more is refused at once (429 per client, 503 in all) with ``Retry-After``. Meanwhile ``/health``
and a write are answered, while the readers are still at it.

A bounded soak against a real server over a SQLite file: every wait is on a condition; the
client's timeout only guards against a hang.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import httpx2

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.simulator import simulate_lines
from orderledger.infrastructure.http.limits import list_limit
from orderledger.infrastructure.http.service import LedgerService
from tests.support.http_api import BOUND, request, running_server, wait_until

READERS = 24
PATHS = ("/events", "/trades", "/orders", "/messages")


def test_health_and_writes_are_answered_while_list_reads_are_saturated(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with OrderLedger(url) as ledger:
        ledger.ingest_lines(simulate_lines(7, 400))
    lists = list_limit(concurrency=4, per_client=2, seconds=BOUND)
    lister = LedgerService(OrderLedger(url, create=False))  # as `orderledger serve` opens it
    statuses: Counter[int] = Counter()
    refusals: list[httpx2.Response] = []
    stop = threading.Event()

    def read(number: int, base: str) -> None:
        path = PATHS[number % len(PATHS)]
        with httpx2.Client(base_url=base, timeout=BOUND) as client:
            while not stop.is_set():
                answer = client.get(path, params={"limit": 5000, "count": "true"})
                statuses[answer.status_code] += 1
                if answer.status_code in (429, 503):
                    refusals.append(answer)

    try:
        with running_server(url, lists=lists, lister=lister) as server:
            readers = [
                threading.Thread(target=read, args=(n, server.url), daemon=True) for n in range(READERS)
            ]
            for reader in readers:
                reader.start()
            wait_until(lambda: refusals, "a list read beyond the bound to be refused")
            with httpx2.Client(base_url=server.url, timeout=BOUND) as client:
                health = client.get("/health")
                written = client.post("/messages", json=request("c-under-load"))
                still_reading = lists.running  # the readers have not stopped: reads are running
            stop.set()
            for reader in readers:
                reader.join(BOUND)
    finally:
        stop.set()
        lister.close()

    assert health.status_code == 200 and health.json()["status"] == "ok", health.text
    assert written.status_code == 200, written.text
    assert still_reading >= 1
    assert statuses[200] >= 1, statuses  # the bound admits reads: it does not starve them
    assert set(statuses) <= {200, 429, 503}, statuses
    first = refusals[0]
    assert first.headers["Retry-After"] == "5"
    detail = first.json()["detail"]
    # All the readers share one address: the per-client bound refuses first.
    assert first.status_code == 429 and "the most one address may run at once" in detail, detail
