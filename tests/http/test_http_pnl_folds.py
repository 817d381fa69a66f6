"""The P&L reads at a desk's size: ``GET /pnl/series?points=N`` answers a chart's worth whatever
the ledger's size, exact at every slice's end; ``/pnl``, ``/pnl/daily`` and ``/pnl/series`` fold
once per position of the log (the same read again, or at once, is answered from that one fold),
and over a database file they fold in a process of their own with the same answers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.requests import Ingest, Pnl, PnlDaily, PnlSeries
from orderledger.infrastructure.http.app import create_app
from orderledger.infrastructure.http.bounded_reads import ReaderProcesses, in_threads
from orderledger.infrastructure.http.pnl_reads import Folds
from orderledger.infrastructure.http.service import Asked, LedgerService
from tests.support.cli import cli_command, cli_env
from tests.support.cost_basis import SESSION
from tests.support.http_api import (
    BOUND,
    LOOPBACK,
    fill,
    free_port,
    request,
    running_server,
    wait_answering,
    wait_until,
)

PNL_READS = ("/pnl/daily", "/pnl?by=day", "/pnl/series")


def trade(cid: str, account: str, side: str, price: str, second: int) -> list[dict[str, Any]]:
    """Order ``cid`` of ``account`` for 1 BTC-USDT, filled whole at 10:00:00 + ``second`` s."""
    ts = f"2026-11-20T10:{second // 60:02d}:{second % 60:02d}Z"
    return [
        request(cid, account=account, side=side, quantity="1", price=price, ts=ts),
        fill(cid, f"{cid}-t", "1", price, ts=ts),
    ]


def session() -> list[dict[str, Any]]:
    """Given, in time order, realized P&L at average cost (no fees), running total in USDT:

    - a1 alpha buys 1 @ 100 at +0 s   (0; 0)     - b1 beta buys 1 @ 100 at +5 s  (0; 0)
    - a2 alpha sells 1 @ 110 at +10 s (+10; 10)  - a3 alpha buys 1 @ 100 at +20 s (0; 10)
    - a4 alpha sells 1 @ 90 at +30 s  (-10; 0)   - a5 alpha buys 1 @ 100 at +40 s (0; 0)
    - b2 beta sells 1 @ 105 at +50 s  (+5; 5)    - a6 alpha sells 1 @ 130 at +60 s (+30; 35)
    """
    return [
        *trade("a1", "alpha", "buy", "100", 0),
        *trade("b1", "beta", "buy", "100", 5),
        *trade("a2", "alpha", "sell", "110", 10),
        *trade("a3", "alpha", "buy", "100", 20),
        *trade("a4", "alpha", "sell", "90", 30),
        *trade("a5", "alpha", "buy", "100", 40),
        *trade("b2", "beta", "sell", "105", 50),
        *trade("a6", "alpha", "sell", "130", 60),
    ]


def points(rows: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    return [(r["account"], r["ts_event"], r["realized_pnl"], r["cumulative_realized_pnl"]) for r in rows]


@pytest.fixture
def ran() -> list[str]:
    """The folds the app ran (their requests' types), in order."""
    return []


@pytest.fixture
def client(ledger: OrderLedger, ran: list[str]) -> Iterator[TestClient]:
    """The app whose P&L folds run in threads, each one recorded in ``ran``."""
    service = LedgerService(ledger)
    threads = in_threads(service)

    async def folder(asked: Asked) -> Any:
        ran.append(type(asked).__name__)
        return await threads(asked)

    with TestClient(create_app(service, folder=folder), base_url=LOOPBACK) as test_client:
        yield test_client


def test_a_series_in_slices_sums_each_accounts_fills_and_is_exact_at_every_slice_end(
    client: TestClient,
) -> None:
    assert client.post("/messages", json=session()).json()["counts"]["applied"] == 16
    every = client.get("/pnl/series").json()
    assert [r["cumulative_realized_pnl"] for r in every] == ["0", "0", "10", "10", "0", "0", "5", "35"]
    # When asked in 2 slices of the 60 s from the first fill to the last (+0 … +30 s, +30 … +60 s)
    sliced = client.get("/pnl/series", params={"points": 2}).json()
    # Then each account's line has one row per slice: the slice's last fill, realized the
    # slice's sum (alpha: 0 + 10 + 0, then -10 + 0 + 30; beta: 0, then 5), with the running
    # total in USDT at that fill, in log order
    assert points(sliced) == [
        ("beta", "2026-11-20T10:00:05.000000Z", "0", "0"),
        ("alpha", "2026-11-20T10:00:20.000000Z", "10", "10"),
        ("beta", "2026-11-20T10:00:50.000000Z", "5", "5"),
        ("alpha", "2026-11-20T10:01:00.000000Z", "20", "35"),
    ]
    # More slices than fills: every fill, as without
    assert client.get("/pnl/series", params={"points": 100}).json() == every
    refused = client.get("/pnl/series", params={"points": 0})
    assert (refused.status_code, refused.json()["detail"]) == (
        400,
        "query parameter points: Input should be greater than or equal to 1",
    )


def test_a_series_in_slices_goes_in_venue_time_when_the_log_is_not(client: TestClient) -> None:
    # Given, in log order: alpha buys 1 @ 100 at +0 s and sells 1 @ 130 at +60 s (+30), then
    # beta buys 1 @ 100 at +5 s and sells 1 @ 110 at +10 s (+10)
    log = [
        *trade("a1", "alpha", "buy", "100", 0),
        *trade("a2", "alpha", "sell", "130", 60),
        *trade("b1", "beta", "buy", "100", 5),
        *trade("b2", "beta", "sell", "110", 10),
    ]
    assert client.post("/messages", json=log).json()["counts"]["applied"] == 8
    # Without slices: entry by entry in log order, the running total in that order
    assert [r["cumulative_realized_pnl"] for r in client.get("/pnl/series").json()] == ["0", "30", "30", "40"]
    # In 2 slices of the 60 s (+0 … +30 s, +30 … +60 s): venue time order a1, b1, b2, a2, running
    # total 0, 0, 10, 40; alpha's first slice ends at a1, beta's at b2, alpha's second at a2
    sliced = client.get("/pnl/series", params={"points": 2}).json()
    assert points(sliced) == [
        ("alpha", "2026-11-20T10:00:00.000000Z", "0", "0"),
        ("beta", "2026-11-20T10:00:10.000000Z", "10", "10"),
        ("alpha", "2026-11-20T10:01:00.000000Z", "30", "40"),
    ]
    # More slices than entries: every entry, in venue time
    assert [
        r["cumulative_realized_pnl"] for r in client.get("/pnl/series", params={"points": 100}).json()
    ] == [
        "0",
        "0",
        "10",
        "40",
    ]


def test_a_pnl_read_under_the_ledgers_rule_answers_under_the_rule_db_cost_basis_set_while_serving(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    served = OrderLedger(url)
    served.upkeep.init_database(cost_basis="fifo")
    try:
        with TestClient(create_app(LedgerService(served)), base_url=LOOPBACK) as client:
            assert client.post("/messages", json=[json.loads(line) for line in SESSION]).status_code == 200
            # Buys 1 @ 100, 140, 120, 110; sells 2 @ 130: FIFO (130 − 100) + (130 − 140) = 20
            assert [day["realized_pnl"] for day in client.get("/pnl/daily").json()] == ["20"]
            # When `db cost-basis lifo` changes the rule from another process's connection, the
            # log and the views unmoved: LIFO (130 − 110) + (130 − 120) = 30
            other = OrderLedger(url)
            try:
                assert other.analytics.set_cost_basis("lifo") == "fifo"
            finally:
                other.close()
            assert [day["realized_pnl"] for day in client.get("/pnl/daily").json()] == ["30"]
    finally:
        served.close()


def test_each_pnl_read_folds_once_per_position_of_the_log(client: TestClient, ran: list[str]) -> None:
    client.post("/messages", json=session()[:4])  # a1 and b1: bought, nothing realized
    first = {path: client.get(path).json() for path in PNL_READS}
    # Asked again with nothing new in the log: the same answers, nothing folded again
    assert {path: client.get(path).json() for path in PNL_READS} == first
    assert sorted(ran) == ["Pnl", "PnlDaily", "PnlSeries"]
    # Another grouping is another read
    client.get("/pnl", params={"by": "account"})
    assert ran[3:] == ["Pnl"]
    # When a2 sells at 110 (+10), every read folds again and shows it
    client.post("/messages", json=session()[4:6])
    again = {path: client.get(path).json() for path in PNL_READS}
    assert sorted(ran[4:]) == ["Pnl", "PnlDaily", "PnlSeries"]
    assert again["/pnl?by=day"][0]["realized_pnl"] == "10"
    assert [r["realized_pnl"] for r in again["/pnl/daily"]] == ["10", "0"]  # alpha, beta
    assert again["/pnl/series"][-1]["cumulative_realized_pnl"] == "10"


def test_the_same_read_asked_while_it_folds_waits_for_that_one_fold(ledger: OrderLedger) -> None:
    service = LedgerService(ledger)
    service.answer(Ingest(tuple(json.dumps(m).encode() for m in session()), origin="test"))
    threads = in_threads(service)
    ran: list[str] = []

    async def scenario() -> tuple[Any, Any]:
        opened = asyncio.Event()

        async def folder(asked: Asked) -> Any:
            ran.append(type(asked).__name__)
            await opened.wait()
            return await threads(asked)

        folds = Folds(folder)
        at = service.views_at()
        first = asyncio.ensure_future(folds.answer(at, Pnl(by="account")))
        second = asyncio.ensure_future(folds.answer(at, Pnl(by="account")))
        await asyncio.sleep(0)  # let both ask before the fold may end
        opened.set()
        return await first, await second

    first, second = asyncio.run(scenario())
    assert ran == ["Pnl"]
    assert first == second == service.answer(Pnl(by="account"))


def test_answers_are_kept_up_to_a_bound_on_their_rows_the_latest_asked_first(ledger: OrderLedger) -> None:
    service = LedgerService(ledger)
    service.answer(Ingest(tuple(json.dumps(m).encode() for m in session()), origin="test"))
    threads = in_threads(service)
    ran: list[Any] = []

    async def folder(asked: Asked) -> Any:
        assert isinstance(asked, PnlSeries)
        ran.append(asked.points)
        return await threads(asked)

    async def ask(folds: Folds, *points: int | None) -> None:
        for n in points:
            await folds.answer(service.views_at(), PnlSeries(n))

    # Room for 5 rows: the series in 2 slices is 4 rows (kept), in all 8 fills is not kept
    folds = Folds(folder, kept_rows=5)
    asyncio.run(ask(folds, 2, 2, None, None))
    assert ran == [2, None, None]
    # In 1 slice: 2 rows (one per account); with the 4 of 2 slices, more than room for: the
    # least recently asked (2 slices) goes
    asyncio.run(ask(folds, 1, 1, 2))
    assert ran == [2, None, None, 1, 2]


def test_a_fold_is_asked_again_once_a_follower_moved_the_views(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with running_server(url) as server:
        # Another process stores the session and leaves the views to a follower (ingest --no-project)
        other = OrderLedger(url)
        other.project = False
        other.ingest_lines([json.dumps(m) for m in session()])
        other.close()
        behind = httpx2.get(server.url + "/pnl", params={"by": "parent"}, timeout=BOUND)
        assert (behind.headers["Views-Behind"], behind.json()) == ("16", [])
        # By account the P&L comes from the books' heads, current with the log whatever the
        # views: alpha realized 10 − 10 + 30 = 30, beta 5, and no views' lag to tell
        current = httpx2.get(server.url + "/pnl", params={"by": "account"}, timeout=BOUND)
        assert "Views-Behind" not in current.headers
        assert [(r["account"], r["realized_pnl"]) for r in current.json()] == [("alpha", "30"), ("beta", "5")]
        # When the follower has folded the views (the log's end unchanged), the read from them
        # folds again: no order has a parent, 30 + 5 under "(none)"
        server.ledger.upkeep.catch_up()
        current = httpx2.get(server.url + "/pnl", params={"by": "parent"}, timeout=BOUND)
        assert current.headers["Views-Behind"] == "0"
        assert [(r["parent"], r["realized_pnl"]) for r in current.json()] == [("(none)", "35")]


def test_over_a_file_the_pnl_reads_fold_in_a_process_of_their_own_with_the_same_answers(
    tmp_path: Any,
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    folder = ReaderProcesses(url, 1)
    try:
        with running_server(url, folder=folder) as server:
            server.ledger.ingest_lines([json.dumps(m) for m in session()])
            service = LedgerService(server.ledger)
            expected = {
                "/pnl/daily": service.answer(PnlDaily(by="account")),
                "/pnl?by=day": service.answer(Pnl(by="day")),
                "/pnl/series": service.answer(PnlSeries()),
            }
            answers = {path: httpx2.get(server.url + path, timeout=BOUND).json() for path in PNL_READS}
            assert answers == expected
            # A refusal in the process is the same one-line problem
            refused = httpx2.get(server.url + "/pnl/daily", params={"by": "venue"}, timeout=BOUND)
            assert refused.status_code == 400
            assert refused.json()["detail"] == "by 'venue': daily P&L groups by account, parent or tag:NAME"
    finally:
        folder.close()


def workers_of(pid: int) -> list[int]:
    """The running worker processes ``pid`` spawned (multiprocessing's spawn_main), by id; one
    that has ended (a zombie's command line is empty, or it is gone) is not among them."""
    workers = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children = (task / "children").read_text().split()
        except FileNotFoundError:
            continue  # a thread that ended while the tasks were listed
        for child in children:
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                    workers.append(int(child))
    return workers


def test_serve_over_a_file_starts_its_pnl_worker_with_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'l.db'}"
    port = free_port()
    server = subprocess.Popen(
        cli_command("serve", "--port", str(port), db=url),
        cwd=tmp_path,
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"

    try:
        wait_answering(server, base)
        # Before any read: two workers, the P&L folds' and the list reads' first (the expensive
        # reads' start on their first, the other list reads' when more run at once)
        wait_until(lambda: len(workers_of(server.pid)) == 2, "the P&L worker and a list reads' worker")
        assert httpx2.post(base + "/messages", json=session()).json()["counts"]["applied"] == 16
        daily = httpx2.get(base + "/pnl/daily", timeout=BOUND)
        # alpha realized 10 − 10 + 30 = 30 and beta 5 on 2026-11-20, both flat at the day's end
        assert [(r["account"], r["realized_pnl"]) for r in daily.json()] == [("alpha", "30"), ("beta", "5")]
        assert len(workers_of(server.pid)) == 2
    finally:
        server.terminate()
        server.wait(BOUND)


def test_a_pnl_worker_that_dies_costs_its_reads_a_503_and_the_next_read_a_new_worker(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    folder = ReaderProcesses(url, 1, "P&L reads")
    try:
        with running_server(url, folder=folder) as server:
            server.ledger.ingest_lines([json.dumps(m) for m in session()])
            assert httpx2.get(server.url + "/pnl/daily", timeout=BOUND).status_code == 200
            [worker] = workers_of(os.getpid())  # the server runs in this process
            os.kill(worker, signal.SIGKILL)
            wait_until(lambda: worker not in workers_of(os.getpid()), "the P&L worker to end")
            server.ledger.ingest_lines([json.dumps(m) for m in trade("c1", "gamma", "buy", "100", 70)])
            refused = httpx2.get(server.url + "/pnl/daily", timeout=BOUND)
            assert (refused.status_code, refused.headers["retry-after"]) == (503, "5"), refused.text
            assert refused.json()["detail"] == (
                "a process running P&L reads ended abruptly; a new one is started: retry in 5 s"
            )
            # the next read runs in a new worker: gamma's buy realized nothing
            again = httpx2.get(server.url + "/pnl/daily", timeout=BOUND)  # (a worker starts)
            assert again.status_code == 200, again.text
            assert [(r["account"], r["realized_pnl"]) for r in again.json()] == [
                ("alpha", "30"),
                ("beta", "5"),
                ("gamma", "0"),
            ]
    finally:
        folder.close()
