"""Positions and P&L do not depend on arrival order nor on which writer stored what (SQLite file
and PostgreSQL): the positions view folds fills in venue time, so the same set of fills gives
the same figures through any number of ledgers writing one database."""

from __future__ import annotations

import contextlib
import random
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.reads.view_queries import list_positions, parse_marks, pnl_by
from orderledger.infrastructure.application.simulator import simulate
from tests.support.integration import assert_views_equal_fold, fill, lines, opened, request
from tests.support.postgres import private_schema, require_postgres

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgres"])

MARKS = parse_marks(["BTC-USDT=64100", "ETH-USDT=3090", "BTC/USD=63900", "SOL/USD=150"])


def _figures(ledger: OrderLedger, marks: Any = None) -> dict[str, Any]:
    return {
        "positions": list_positions(ledger.db, marks),
        "by_day": pnl_by(ledger.db, "day"),
        "by_tag": pnl_by(ledger.db, "tag:strategy"),
    }


@contextlib.contextmanager
def _database(backend: str) -> Iterator[str]:
    """A new empty database for one example."""
    if backend == "postgres":
        require_postgres()
        with private_schema() as url:
            yield url
    else:
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'ledger.db'}"


# Ten orders on one book, each filled once, in venue seconds 0-3 (equal times are common).
ORDERS = 10
fill_strategy = st.tuples(
    st.sampled_from(["buy", "sell"]), st.integers(1, 5), st.integers(95, 105), st.integers(0, 3)
)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(fill_strategy, min_size=ORDERS, max_size=ORDERS), st.data())
def test_fills_in_any_order_through_any_writers_give_the_same_positions(
    backend: str, fills: list[tuple[str, int, int, int]], data: st.DataObject
) -> None:
    requests = [
        request(f"o{n}", side=side, quantity=str(qty), price=str(px))
        for n, (side, qty, px, _) in enumerate(fills)
    ]
    executions = [
        fill(f"o{n}", f"t{n}", str(qty), str(px), seconds=second, fee="0.01", fee_currency="USDT")
        for n, (_, qty, px, second) in enumerate(fills)
    ]
    in_time = sorted(range(ORDERS), key=lambda n: (fills[n][3], f"t{n}"))
    with _database(backend) as url, opened(url) as alone:
        alone.ingest_lines(lines(*requests, *(executions[n] for n in in_time)))
        expected = _figures(alone)
    order = data.draw(st.permutations(range(ORDERS)))
    writers = data.draw(st.lists(st.integers(0, 2), min_size=ORDERS, max_size=ORDERS))
    with _database(backend) as url, opened(url) as a, opened(url) as b, opened(url) as c:
        a.ingest_lines(lines(*requests))
        for n, writer in zip(order, writers, strict=True):
            report = (a, b, c)[writer].ingest_lines(lines(executions[n]))
            assert report.counts["applied"] == 1, report.rejected
        for ledger in (a, b, c):
            ledger.upkeep.catch_up()
            assert _figures(ledger) == expected
        assert_views_equal_fold(a)


def test_a_session_split_across_three_concurrent_writers_gives_one_writers_pnl(file_ledger_url: str) -> None:
    """The simulated session, each order's messages sent by one of three writers at once (so the
    log interleaves the orders differently from the session), gives the positions and P&L of
    the session ingested by one writer."""
    session = simulate(11, 240)
    with opened("memory://") as alone:
        assert alone.ingest_lines(lines(*session)).counts["rejected"] == 0
        expected = _figures(alone, MARKS)
    rng = random.Random(5)
    owner: dict[str, int] = {}
    parts: list[list[dict[str, Any]]] = [[], [], []]
    order_of: dict[str, str] = {}  # venue order ID → client order ID (some facts name only the first)
    for message in session:
        if "client_order_id" in message and "venue_order_id" in message:
            order_of[message["venue_order_id"]] = message["client_order_id"]
        order = message.get("client_order_id") or order_of[message["venue_order_id"]]
        parts[owner.setdefault(order, rng.randrange(3))].append(message)
    with (
        opened(file_ledger_url, batch_size=7) as a,
        opened(file_ledger_url, batch_size=5) as b,
        opened(file_ledger_url, batch_size=3) as c,
    ):
        errors: list[BaseException] = []
        start = threading.Barrier(3)

        def run(ledger: OrderLedger, messages: list[dict[str, Any]]) -> None:
            try:
                start.wait(timeout=30)
                report = ledger.ingest_lines(lines(*messages))
                assert report.counts["rejected"] == 0, report.rejected
            except BaseException as error:  # reported by the test
                errors.append(error)

        threads = [threading.Thread(target=run, args=pair) for pair in zip((a, b, c), parts, strict=True)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert not any(t.is_alive() for t in threads)
        assert errors == []
        a.upkeep.catch_up()
        assert _figures(a, MARKS) == expected
        assert_views_equal_fold(a)
