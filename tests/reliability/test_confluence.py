"""Confluence: the books are a function of the messages, not of their arrival.

Backs docs/semantics.md ("Arrival order does not matter"): for a session, the final orders,
trades, positions, lots and P&L are the same for every arrival order and every split into
commits, ledgers reopened between them (as separate processes are), and writers, on SQLite and
PostgreSQL. Sessions come from the simulator and from the repository's venue examples; each is
reordered with every line moved at most ``window`` places (what WebSocket/REST races,
reconnects and two writers produce), then cut into commits. The in-order run, in one commit, is
the reference.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderledger.domain.values import Status
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.reads.view_queries import list_trades
from orderledger.infrastructure.application.simulator import simulate_lines
from orderledger.infrastructure.ingest.inbound import Inbound
from orderledger.infrastructure.results.filter import Filter
from tests.support.books import all_books
from tests.support.fixlog import Session, session_lines
from tests.support.postgres import empty_database, private_schema, require_postgres
from tests.support.totals import totals
from tests.support.tradier_examples import (
    ACCOUNT,
    PENDING,
    REJECTED,
    REJECTION,
    SPY_CALL,
    VENUE,
    combo_poll,
    poll,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
SOAK = bool(os.environ.get("ORDERLEDGER_SOAK"))
PROPERTY = settings(
    max_examples=60 if SOAK else 6,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def reorder(lines: list[str], window: int, rng: random.Random) -> list[str]:
    """The lines with each moved at most ``window`` places: sorted by position plus a draw in
    [0, window), so no line overtakes one more than ``window`` places ahead of it."""
    keyed = sorted((i + rng.uniform(0, window), i) for i in range(len(lines)))
    return [lines[i] for _, i in keyed]


def cut(lines: list[str], rng: random.Random, low: int, high: int) -> list[list[str]]:
    """The lines in consecutive chunks of ``low``–``high`` lines."""
    chunks, start = [], 0
    while start < len(lines):
        size = rng.randint(low, high)
        chunks.append(lines[start : start + size])
        start += size
    return chunks


def in_order(lines: list[str], **ingest: object) -> dict[str, object]:
    with OrderLedger("memory://") as ledger:
        ledger.ingest_lines(lines, **ingest)  # type: ignore[arg-type]
        return all_books(ledger)


def by_chunks(
    url: str, chunks: list[list[str]], reopen: Callable[[int], bool], **ingest: object
) -> dict[str, object]:
    """Each chunk its own ingest (its own commits); a ledger closed and opened again before the
    chunks ``reopen`` picks, as a new process would."""
    ledger = OrderLedger(url)
    try:
        for number, chunk in enumerate(chunks):
            if number and reopen(number):
                ledger.close()
                ledger = OrderLedger(url)
            ledger.ingest_lines(chunk, **ingest)  # type: ignore[arg-type]
        return all_books(ledger)
    finally:
        ledger.close()


SESSION_SEEDS = st.integers(min_value=0, max_value=10_000)


@PROPERTY
@given(seed=SESSION_SEEDS, orders=st.integers(5, 40), window=st.sampled_from([1, 3, 10, 30]), data=st.data())
def test_a_simulated_session_in_any_order_and_commits_gives_the_same_books(
    tmp_path_factory: pytest.TempPathFactory, seed: int, orders: int, window: int, data: st.DataObject
) -> None:
    lines = list(simulate_lines(seed=seed, orders=orders))
    rng = random.Random(data.draw(st.integers(0, 2**32), label="shuffle"))
    low = data.draw(st.integers(1, 50), label="smallest commit")
    chunks = cut(reorder(lines, window, rng), rng, low, low * 4)
    url = f"sqlite:///{tmp_path_factory.mktemp('confluence') / 'ledger.db'}"
    expected = in_order(lines)
    assert expected["parked"] == 0 and expected["rejected"] == 0
    assert by_chunks(url, chunks, lambda n: rng.random() < 0.3) == expected


@pytest.mark.parametrize(
    ("name", "fmt", "venue", "account"),
    [
        ("session.jsonl", "ledger", None, None),
        ("session-2.jsonl", "ledger", None, None),
        ("lifecycle.jsonl", "ledger", None, None),
        ("pnl.jsonl", "ledger", None, None),
        ("bad-lines.jsonl", "ledger", None, None),
        ("fix-44.log", "fix", "desk1", None),
        ("fix-42.log", "fix", "desk1", None),
        ("fix-zerohash.log", "fix", "desk1", None),
        ("ccxt-binance.jsonl", "ccxt", "binance", "main"),
        ("ccxt-okx.jsonl", "ccxt", "okx", "main"),
        ("ccxt-bybit.jsonl", "ccxt", "bybit", "main"),
        ("ccxt-kraken.jsonl", "ccxt", "kraken", "main"),
        ("ccxt-hyperliquid.jsonl", "ccxt", "hyperliquid", "main"),
        ("ccxt-lighter.jsonl", "ccxt", "lighter", "main"),
        ("lighter.jsonl", "lighter", "lighter", "1077"),
        ("hyperliquid.jsonl", "hyperliquid", "hyperliquid", "main"),
        ("tradier.jsonl", "tradier", "tradier", "VA000000"),
        ("snapshots.jsonl", "snapshots", None, None),
    ],
)
def test_venue_examples_reversed_and_shuffled_give_the_same_books(
    tmp_path: Path, name: str, fmt: str, venue: str | None, account: str | None
) -> None:
    """The repository's examples (venue payloads through their adapters), reversed line by
    line in separate commits and shuffled in one: the same books as in order."""
    lines = [line for line in (EXAMPLES / name).read_text().splitlines() if line.strip()]
    ingest = {"format": fmt, "venue": venue, "account": account}
    expected = in_order(lines, **ingest)
    reversed_lines = [[line] for line in reversed(lines)]
    assert (
        by_chunks(f"sqlite:///{tmp_path / 'r.db'}", reversed_lines, lambda n: n % 3 == 0, **ingest)
        == expected
    )
    shuffled = lines[:]
    random.Random(7).shuffle(shuffled)
    assert by_chunks(f"sqlite:///{tmp_path / 's.db'}", [shuffled], lambda n: False, **ingest) == expected


CONTEXT_EXAMPLES = [
    # Lighter names markets by number: the market map (order_books) is the first line.
    ("lighter.jsonl", "lighter", "lighter", "1077"),
    # Hyperliquid's spot meta is the first line.
    ("hyperliquid.jsonl", "hyperliquid", "hyperliquid", "main"),
]


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
@pytest.mark.parametrize(("name", "fmt", "venue", "account"), CONTEXT_EXAMPLES)
def test_examples_whose_context_line_comes_last_one_line_per_ingest_give_the_same_books(
    tmp_path: Path, kind: str, name: str, fmt: str, venue: str, account: str
) -> None:
    """Examples whose first line is context the others need (a market map, spot names), one line
    per ingest of a ledger reopened each time (separate processes): reversed, so the context is
    recorded last, and shuffled. The lines that came first wait for it, and the books are the
    in-order run's: nothing more parked, nothing refused."""
    lines = [line for line in (EXAMPLES / name).read_text().splitlines() if line.strip()]
    ingest = {"format": fmt, "venue": venue, "account": account}
    expected = in_order(lines, **ingest)
    assert expected["rejected"] == 0
    shuffled = lines[:]
    random.Random(11).shuffle(shuffled)
    for number, order in enumerate([lines[::-1], shuffled]):
        with empty_database(kind, tmp_path, f"{number}.db") as url:
            assert by_chunks(url, [[line] for line in order], lambda n: True, **ingest) == expected


def test_separate_ingest_processes_on_one_file_give_the_same_books(tmp_path: Path) -> None:
    """Chunks of a reordered session, each ingested by its own `orderledger ingest` process."""
    lines = list(simulate_lines(seed=11, orders=60))
    rng = random.Random(11)
    chunks = cut(reorder(lines, 30, rng), rng, 50, 200)
    db = tmp_path / "ledger.db"
    for number, chunk in enumerate(chunks):
        path = tmp_path / f"chunk-{number}.jsonl"
        path.write_text("\n".join(chunk) + "\n")
        done = subprocess.run(
            [sys.executable, "-m", "orderledger", "--db", f"sqlite:///{db}", "ingest", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    with OrderLedger(f"sqlite:///{db}") as ledger:
        assert all_books(ledger) == in_order(lines)


@PROPERTY
@given(seed=SESSION_SEEDS, window=st.sampled_from([3, 30]), data=st.data())
def test_postgres_reordered_commits_give_the_same_books(seed: int, window: int, data: st.DataObject) -> None:
    require_postgres()
    lines = list(simulate_lines(seed=seed, orders=25))
    rng = random.Random(data.draw(st.integers(0, 2**32), label="shuffle"))
    chunks = cut(reorder(lines, window, rng), rng, 5, 60)
    with private_schema() as url:
        assert by_chunks(url, chunks, lambda n: rng.random() < 0.3) == in_order(lines)


@pytest.mark.parametrize("writers", [2, 4])
def test_postgres_writers_sharing_orders_give_the_same_books(writers: int) -> None:
    """Lines split at random between writers that run at once (each its own ledger, in its own
    thread, committing small batches): orders are shared between writers."""
    require_postgres()
    lines = list(simulate_lines(seed=writers, orders=120))
    rng = random.Random(writers)
    shares: list[list[str]] = [[] for _ in range(writers)]
    for line in lines:
        shares[rng.randrange(writers)].append(line)
    with private_schema() as url:
        OrderLedger(url).close()  # the schema exists before the writers start
        failures: list[BaseException] = []

        def write(share: list[str]) -> None:
            try:
                with OrderLedger(url) as ledger:
                    for chunk in cut(share, random.Random(len(share)), 1, 20):
                        ledger.ingest_lines(chunk)
            except BaseException as error:  # reported by the test, not lost in the thread
                failures.append(error)

        threads = [threading.Thread(target=write, args=(share,)) for share in shares]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not failures
        with OrderLedger(url) as ledger:
            books, expected = all_books(ledger), in_order(lines)
        assert books == expected


# ---------------------------------------------------------------------------- the cases found

REQUEST = {
    "type": "request",
    "account": "alpha",
    "venue": "X",
    "instrument": "BTC-USD",
    "side": "buy",
    "order_type": "limit",
    "quantity": "2",
    "price": "100",
}


def _lines(*messages: dict[str, object]) -> list[str]:
    return [json.dumps(m) for m in messages]


def _ingest(batches: list[list[str]]) -> OrderLedger:
    ledger = OrderLedger("memory://")
    for batch in batches:
        ledger.ingest_lines(batch)
    return ledger


def test_a_bust_and_the_acceptance_that_releases_its_fill_in_another_batch() -> None:
    """A fill for V-5 and the request of b-5 in one ingest, then the bust of that fill and the
    acceptance b-5 → V-5 in the next: the fill is booked and busted, nothing is parked or refused
    (the acceptance was refused with "order 'b-5' has no trade 'T-5'")."""
    request, fill, bust, accepted = _lines(
        {**REQUEST, "client_order_id": "b-5", "ts": "2026-01-01T00:00:00Z"},
        {"type": "fill", "venue": "X", "venue_order_id": "V-5", "trade_id": "T-5", "quantity": "1",
         "price": "100", "ts": "2026-01-01T00:00:02Z"},
        {"type": "fill_busted", "venue": "X", "venue_order_id": "V-5", "trade_id": "T-5",
         "ts": "2026-01-01T00:00:03Z"},
        {"type": "accepted", "client_order_id": "b-5", "venue_order_id": "V-5", "ts": "2026-01-01T00:00:01Z"},
    )  # fmt: skip
    splits = (
        [[fill, request], [bust, accepted]],
        [[fill, request, bust, accepted]],
        [[bust], [fill], [accepted], [request]],
    )
    for batches in splits:
        with _ingest(batches) as ledger:
            order = ledger.order("b-5")
            assert (order.status.value, order.filled_quantity, order.venue_order_ids) == (
                "accepted",
                0,
                ["V-5"],
            )
            outcomes = [m.outcome.value for m in ledger.audit.iter_messages(Filter())]
            assert outcomes == ["applied"] * 4
            assert ledger.trades() == []


def test_a_writer_holds_no_line_it_parked_under_keys_the_table_answers(tmp_path: Path) -> None:
    """A fill for V-9 parked by one process; a second process (its index read from the table:
    V-9 has lines it did not park) parks another fill for V-9: it holds none of it in memory (the
    table answers for V-9), and the request and acceptance release both from the table."""
    request, first, second, accepted = _lines(
        {**REQUEST, "client_order_id": "c-9", "ts": "2026-01-01T00:00:00Z"},
        {"type": "fill", "venue": "X", "venue_order_id": "V-9", "trade_id": "T-1", "quantity": "1",
         "price": "100", "ts": "2026-01-01T00:00:02Z"},
        {"type": "fill", "venue": "X", "venue_order_id": "V-9", "trade_id": "T-2", "quantity": "1",
         "price": "101", "ts": "2026-01-01T00:00:03Z"},
        {"type": "accepted", "client_order_id": "c-9", "venue_order_id": "V-9", "ts": "2026-01-01T00:00:01Z"},
    )  # fmt: skip
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with OrderLedger(url) as ledger:
        assert ledger.ingest_lines([first]).counts["parked"] == 1
        assert len(ledger.processor.parked) == 1  # the line it parked itself
    with OrderLedger(url) as ledger:
        ledger.processor.parked.keys()  # the index read: V-9 waits, with lines of another writer
        assert ledger.ingest_lines([second]).counts["parked"] == 1
        assert len(ledger.processor.parked) == 0
        assert ledger.ingest_lines([request, accepted]).counts["applied"] == 2
        order = ledger.order("c-9")
        # 1 @ 100 and 1 @ 101 of 2: filled, both released.
        assert (order.status.value, order.filled_quantity) == ("filled", 2)
        assert [m.outcome.value for m in ledger.audit.iter_messages(Filter())] == ["applied"] * 4


def _shared_store(stack: contextlib.ExitStack, store: str, tmp_path: Path) -> str:
    """The URL of a store that two writers open: a private PostgreSQL schema, or a SQLite file."""
    if store == "postgres":
        require_postgres()
        return stack.enter_context(private_schema())
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_a_bust_parked_by_another_writer_under_a_name_the_order_takes_later_is_released(
    tmp_path: Path, store: str
) -> None:
    """Two writers: the first books c-7's fill T-7 (its index of parked lines read then: nothing
    waits); the second parks a bust of T-7 named by V-7, unknown to it; the first then learns
    that c-7 is V-7. Its index cannot know of the bust; the commit's check must send the batch
    back, and the bust is released (it stayed parked for good: its key, T-7 of V-7, was released
    in memory but not checked at commit)."""
    request, fill, bust, accepted = _lines(
        {**REQUEST, "client_order_id": "c-7", "ts": "2026-01-01T00:00:00Z"},
        {"type": "fill", "client_order_id": "c-7", "trade_id": "T-7", "quantity": "1",
         "price": "100", "ts": "2026-01-01T00:00:02Z"},
        {"type": "fill_busted", "venue": "X", "venue_order_id": "V-7", "trade_id": "T-7",
         "ts": "2026-01-01T00:00:03Z"},
        {"type": "accepted", "client_order_id": "c-7", "venue_order_id": "V-7", "ts": "2026-01-01T00:00:01Z"},
    )  # fmt: skip
    with contextlib.ExitStack() as stack:
        url = _shared_store(stack, store, tmp_path)
        first = stack.enter_context(OrderLedger(url))
        assert first.ingest_lines([request, fill]).counts["applied"] == 2
        assert first.processor.parked.keys() == set()  # read: nothing waits
        with OrderLedger(url) as second:
            assert second.ingest_lines([bust]).counts["parked"] == 1
        assert first.ingest_lines([accepted]).counts["applied"] == 1
        # 1 of 2 @ 100 booked, then busted: nothing filled, nothing left waiting.
        order = first.order("c-7")
        assert (order.status.value, order.filled_quantity) == ("accepted", 0)
        assert [m.outcome.value for m in first.audit.iter_messages(Filter())] == ["applied"] * 4


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_a_message_decided_before_another_writer_created_its_order_is_decided_again(
    tmp_path: Path, store: str
) -> None:
    """The first writer's batch (a cancel request of c-8, then a fill naming it V-8) reads which
    orders exist; the second writer then commits c-8, accepted as V-8. The fill finds c-8 by V-8,
    so the batch reads c-8 after all; the cancel request, decided on the first read, had parked
    waiting for an order that exists, and stayed parked for good (the commit's check passed: the
    batch had read c-8). The batch is decided again: both are applied, nothing waits."""
    request, accepted, cancel, fill = _lines(
        {**REQUEST, "client_order_id": "c-8", "ts": "2026-01-01T00:00:00Z"},
        {"type": "accepted", "client_order_id": "c-8", "venue_order_id": "V-8", "ts": "2026-01-01T00:00:01Z"},
        {"type": "cancel_requested", "client_order_id": "c-8", "ts": "2026-01-01T00:00:02Z"},
        {"type": "fill", "venue": "X", "venue_order_id": "V-8", "trade_id": "T-8", "quantity": "1",
         "price": "100", "ts": "2026-01-01T00:00:03Z"},
    )  # fmt: skip
    with contextlib.ExitStack() as stack:
        url = _shared_store(stack, store, tmp_path)
        first = stack.enter_context(OrderLedger(url))
        second = stack.enter_context(OrderLedger(url))
        prefetch = first.processor.prefetch
        meanwhile = [[request, accepted]]

        def then_the_other_writer(items: Sequence[Inbound]) -> None:
            prefetch(items)
            while meanwhile:  # once: between the first writer's reads and its decisions
                assert second.ingest_lines(meanwhile.pop()).counts["applied"] == 2

        first.processor.prefetch = then_the_other_writer  # type: ignore[method-assign]
        assert first.ingest_lines([cancel, fill]).counts["applied"] == 2
        order = first.order("c-8")
        assert (order.status.value, order.filled_quantity) == ("pending_cancel", 1)
        assert [m.outcome.value for m in first.audit.iter_messages(Filter())] == ["applied"] * 4


def test_a_bust_before_its_fill_waits_for_it() -> None:
    request, bust, fill = _lines(
        {**REQUEST, "client_order_id": "c-1", "ts": "2026-01-01T00:00:00Z"},
        {"type": "fill_busted", "client_order_id": "c-1", "trade_id": "t-1", "ts": "2026-01-01T00:00:03Z"},
        {"type": "fill", "client_order_id": "c-1", "trade_id": "t-1", "quantity": "2", "price": "100",
         "ts": "2026-01-01T00:00:02Z"},
    )  # fmt: skip
    with _ingest([[request], [bust]]) as ledger:
        parked = [m for m in ledger.audit.iter_messages(Filter()) if m.outcome.value == "parked"]
        assert [m.reason for m in parked] == ["no fill known for trade 't-1' of client_order_id 'c-1' yet"]
        ledger.ingest_lines([fill])
        assert ledger.order("c-1").status.value == "accepted"  # filled, then reopened by the bust
        assert [m.outcome.value for m in ledger.audit.iter_messages(Filter())] == ["applied"] * 3


def test_a_request_released_messages_keep_their_own_fates() -> None:
    """A fill of c-1, an amend request of c-1, then its request, in one batch: the request is
    applied whatever the messages it releases do (the request was refused with the amendment's
    reason, and the order never existed)."""
    fill, amend, request = _lines(
        {"type": "fill", "client_order_id": "c-1", "trade_id": "t-1", "quantity": "2", "price": "100",
         "ts": "2026-01-01T00:00:03Z"},
        {"type": "amend_requested", "client_order_id": "c-1", "quantity": "3", "ts": "2026-01-01T00:00:02Z"},
        {**REQUEST, "client_order_id": "c-1", "ts": "2026-01-01T00:00:00Z"},
    )  # fmt: skip
    with _ingest([[fill, amend, request]]) as ledger, _ingest([[request, amend, fill]]) as reference:
        assert all_books(ledger) == all_books(reference)
        order = ledger.order("c-1")
        # In venue time: requested 2, amend to 3 asked, then a fill of 2 completes the order,
        # which drops the pending marker (docs/semantics.md): filled, 2 of 2.
        assert (order.status.value, order.filled_quantity, order.quantity) == ("filled", 2, 2)
        assert [m.outcome.value for m in ledger.audit.iter_messages(Filter())] == ["applied"] * 3


def test_our_request_and_an_amendment_that_renames_the_order_in_one_ingest() -> None:
    """Request, acceptance as V-100, amend request and the amendment moving the order to V-101:
    in one ingest, reversed, and one line per ingest, the order is accepted at 4 @ 101 with both
    venue order IDs (the request was refused: "acknowledged as venue order 'V-101', not 'V-100'")."""
    lines = _lines(
        {**REQUEST, "client_order_id": "c-1", "quantity": "5", "ts": "2026-01-01T00:00:00Z"},
        {"type": "accepted", "client_order_id": "c-1", "venue_order_id": "V-100",
         "ts": "2026-01-01T00:00:01Z"},
        {"type": "amend_requested", "client_order_id": "c-1", "quantity": "4", "price": "101",
         "ts": "2026-01-01T00:00:02Z"},
        {"type": "amended", "venue": "X", "venue_order_id": "V-101", "client_order_id": "c-1",
         "quantity": "4", "price": "101", "ts": "2026-01-01T00:00:03Z"},
    )  # fmt: skip
    for batches in ([lines], [lines[::-1]], [[line] for line in lines], [[line] for line in lines[::-1]]):
        with _ingest(batches) as ledger:
            order = ledger.order("c-1")
            assert (order.status.value, order.quantity, order.price) == ("accepted", 4, 101)
            assert order.venue_order_ids == ["V-100", "V-101"]


def test_a_cancel_request_after_the_order_ended_is_a_fact_not_an_error(tmp_path: Path) -> None:
    """The cancel request lost the race: it reaches the ledger after the venue's `canceled`. It
    is applied at its place in venue time (before the cancel), `ingest` exits 0, and the order
    is canceled as in order."""
    request, accepted, cancel_requested, canceled = _lines(
        {**REQUEST, "client_order_id": "c-1", "ts": "2026-01-01T00:00:00Z"},
        {"type": "accepted", "client_order_id": "c-1", "venue_order_id": "V-1", "ts": "2026-01-01T00:00:01Z"},
        {"type": "cancel_requested", "client_order_id": "c-1", "ts": "2026-01-01T00:00:02Z"},
        {"type": "canceled", "client_order_id": "c-1", "ts": "2026-01-01T00:00:03Z"},
    )  # fmt: skip
    path = tmp_path / "late.jsonl"
    path.write_text("\n".join([request, accepted, canceled, cancel_requested]) + "\n")
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "orderledger", "--db", db, "ingest", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    with OrderLedger(db) as ledger:
        assert ledger.order("c-1").status.value == "canceled"
        late = list(ledger.audit.iter_messages(Filter()))[-1]
        assert (late.outcome.value, late.reason) == (
            "applied",
            "arrived after later facts of its order: applied at its place in venue time",
        )
        assert all_books(ledger) == in_order([request, accepted, cancel_requested, canceled])


def test_a_fill_before_a_cancel_in_venue_time_that_arrives_after_it_fills_the_order() -> None:
    """Venue time: the order fills completely (t=2), then a cancel (t=3) is too late. The
    `canceled` arrives first: once the fill arrives the order is filled (filled outranks
    canceled), not a canceled order with a late fill. The other way round, a fill after the
    cancel in venue time is late even when it arrives first."""
    request, fill, canceled = _lines(
        {**REQUEST, "client_order_id": "c-1", "ts": "2026-01-01T00:00:00Z"},
        {"type": "fill", "client_order_id": "c-1", "trade_id": "t-1", "quantity": "2", "price": "100",
         "ts": "2026-01-01T00:00:02Z"},
        {"type": "canceled", "client_order_id": "c-1", "ts": "2026-01-01T00:00:03Z"},
    )  # fmt: skip
    with _ingest([[request], [canceled], [fill]]) as ledger:
        order = ledger.order("c-1")
        assert (order.status.value, order.anomalies, ledger.trades()[0].late) == ("filled", [], False)
    late_fill = fill.replace("00:00:02Z", "00:00:04Z")
    with _ingest([[request], [late_fill], [canceled]]) as ledger:
        order = ledger.order("c-1")
        assert (order.status.value, order.anomalies, ledger.trades()[0].late) == (
            "canceled",
            ["late_fill"],
            True,
        )


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_reject_after_the_brokers_acknowledgement_ends_the_order_rejected_in_any_order(
    tmp_path: Path, kind: str
) -> None:
    """Tradier's polls of 228175: `pending` (Tradier holds it: held at its creation, 12:02:29),
    then `rejected` (at its last update, 12:30:02). In order; reversed, one poll per commit of a
    reopened ledger (the broker's acknowledgement then arrives after the reject, and is decided
    at its place in venue time, before it); reversed in one commit: the same books, the order
    rejected with the reject's reason, and no line refused (the reject was refused: "only a
    requested order can be rejected")."""
    lines = [json.dumps(PENDING), json.dumps(REJECTED)]
    ingest = {"format": "tradier", "venue": VENUE, "account": ACCOUNT}
    expected = in_order(lines, **ingest)
    assert expected["rejected"] == 0 and expected["trades"] == [] and expected["positions"] == []
    (order,) = (dict(o) for o in expected["orders"])  # type: ignore[attr-defined]
    assert (order["status"], order["reason"], order["venue_order_ids"]) == (
        "rejected",
        REJECTION,
        "['228175']",
    )
    reversed_lines = [[line] for line in reversed(lines)]
    with empty_database(kind, tmp_path, "r.db") as url:
        assert by_chunks(url, reversed_lines, lambda n: True, **ingest) == expected
    with empty_database(kind, tmp_path, "one.db") as url:
        assert by_chunks(url, [lines[::-1]], lambda n: False, **ingest) == expected


@pytest.mark.parametrize("batch", [20, 10_000])
def test_a_fix_session_shuffled_whole_gives_the_same_books(batch: int) -> None:
    """A FIX drop copy of 1,200 messages in random order, in one batch and in batches of 20:
    every line journaled, the same books (shuffled FIX once stopped the input with an internal
    error while releasing parked messages)."""
    lines = [line.decode() for line in session_lines(400)]
    shuffled = lines[:]
    random.Random(batch).shuffle(shuffled)
    with OrderLedger("memory://") as ledger:
        for start in range(0, len(shuffled), batch):
            ledger.ingest_lines(shuffled[start : start + batch], format="fix", venue="desk1")
        assert sum(1 for _ in ledger.audit.iter_messages(Filter())) == len(lines)
        assert all_books(ledger) == in_order(lines, format="fix", venue="desk1")


# A FIX cancel/replace chain: R-1's New (10 SOL-USD at 150, OrderID V-7), a fill of 3 at 150
# under R-1, the Replaced (11 = R-2, 41 = R-1: 12 at 150), a fill of 5 at 151 under R-2 alone (no
# 41, as most venues report a replaced order's fills), and the New and the Replaced resent by a
# gap fill (PossDupFlag 43 = Y, OrigSendingTime 122).
CHAIN_TERMS = "1=ACC-7|37=V-7|55=SOL-USD|54=1|40=2|44=150"
CHAIN_AT = [f"20261120-11:00:0{n}.000" for n in range(4)]
CHAIN_NEW = f"11=R-1|{CHAIN_TERMS}|17=Y-1|150=0|39=0|38=10|60={CHAIN_AT[0]}"
CHAIN_REPLACED = f"11=R-2|41=R-1|{CHAIN_TERMS}|17=Y-3|150=5|39=5|38=12|60={CHAIN_AT[2]}"


def chain_lines() -> list[str]:
    venue = Session(sender="VENUEX", target="DROPCOPY")
    resend = Session(sender="VENUEX", target="DROPCOPY", seq=1)
    return [
        venue.message(CHAIN_AT[0], f"35=8|{CHAIN_NEW}"),
        venue.message(
            CHAIN_AT[1], f"35=8|11=R-1|{CHAIN_TERMS}|17=Y-2|150=F|39=1|38=10|32=3|31=150|60={CHAIN_AT[1]}"
        ),
        venue.message(CHAIN_AT[2], f"35=8|{CHAIN_REPLACED}"),
        venue.message(
            CHAIN_AT[3], f"35=8|11=R-2|{CHAIN_TERMS}|17=Y-4|150=F|39=1|38=12|32=5|31=151|60={CHAIN_AT[3]}"
        ),
        resend.message("20261120-11:00:05.000", f"35=8|43=Y|122={CHAIN_AT[0]}|{CHAIN_NEW}"),
        resend.message("20261120-11:00:05.000", f"35=8|43=Y|122={CHAIN_AT[2]}|{CHAIN_REPLACED}"),
    ]


def chain_books(ledger: OrderLedger) -> tuple[object, ...]:
    """The chain's books, whichever of its ClOrdIDs keys the order (the first one read)."""
    [order] = ledger.orders()
    trades = sorted((t["trade_id"], t["quantity"], t["price"]) for t in list_trades(ledger.db))
    shown = (order.status, order.quantity, order.filled_quantity, order.average_price)
    outcomes = {m.outcome.value for m in ledger.audit.messages()}
    return (*shown, tuple(order.venue_order_ids), order.aliases, order.created_at, trades, outcomes)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
@settings(PROPERTY, max_examples=60 if SOAK else 12)
@given(data=st.data())
def test_a_fix_chain_in_any_arrival_order_gives_the_same_books(
    tmp_path: Path, kind: str, data: st.DataObject
) -> None:
    # Given the chain's six lines in any order, read in one ingest or each line its own,
    lines = data.draw(st.permutations(chain_lines()), label="arrival order")
    each = data.draw(st.booleans(), label="each line its own ingest")
    with empty_database(kind, tmp_path, f"chain-{uuid4().hex}.db") as url, OrderLedger(url) as ledger:
        for chunk in [[line] for line in lines] if each else [lines]:
            ledger.ingest_lines(chunk, format="fix", venue="desk1")
        # then it is one order going by both ClOrdIDs: 12 SOL-USD (the Replaced's) of which 3 at
        # 150 and 5 at 151 are filled, (3 × 150 + 5 × 151) / 8 = (450 + 755) / 8 = 150.625 on
        # average, created when the New says; nothing refused, nothing left waiting.
        assert chain_books(ledger) == (
            Status.PARTIALLY_FILLED,
            Decimal(12),
            Decimal(8),
            Decimal("150.625"),
            ("V-7",),
            {"fix_clordid:R-1": "R-1", "fix_clordid:R-2": "R-2"},
            datetime(2026, 11, 20, 11, 0, tzinfo=UTC),
            [("Y-2", "3", "150"), ("Y-4", "5", "151")],
            {"applied", "duplicate"},
        )


# ------------------------------------------------------ Tradier's polls: totals, not trades

TRADIER = {"format": "tradier", "venue": VENUE, "account": ACCOUNT}
SESSION_POLLS = [
    # 228175 (AAPL buy 50, limit 22) fills over three polls ...
    poll("partially_filled", "10", "21.9", "21.9", "10", at="2018-06-01T12:10:00.000Z"),
    poll("partially_filled", "25", "21.94", "21.97", "15", at="2018-06-01T12:15:00.000Z"),
    poll("partially_filled", "40", "21.96", "21.99", "15", at="2018-06-01T12:20:00.000Z"),
    # ... while leg 229064 (SPY buy 100) of combo 229063 fills over two ...
    combo_poll("partially_filled", "30", "274.5", "2018-06-12T21:14:00.000Z"),
    combo_poll("partially_filled", "70", "274.6", "2018-06-12T21:15:00.000Z"),
    # ... and the account's orders at the end, in one reply: 228175 expired with 40 filled (the
    # published status and transaction_date, 12:30:02.385), the SPY call filled (1 @ 2.37 at
    # its published transaction_date), the combo canceled with 70 filled.
    {"orders": {"order": [
        poll("expired", "40", "21.96", "21.99", "15")["order"],
        dict(SPY_CALL, status="filled", exec_quantity=1, avg_fill_price=2.37, last_fill_price=2.37,
             last_fill_quantity=1),
        combo_poll("canceled", "70", "274.6", "2018-06-12T21:18:41.604Z")["order"],
    ]}},
]  # fmt: skip
SESSION_FILLS = sorted(
    [
        # 228175: one fill per total, priced so Tradier's average holds.
        ("ext-tradier-228175", "10", "21.9", "2018-06-01T12:10:00.000000Z"),  # 10 × 21.9 / 10
        # (25 × 21.94 − 219) / 15 = 329.5 / 15 = 21.9666…, to 12 places (half-even) 21.966666666667
        ("ext-tradier-228175", "15", "21.966666666667", "2018-06-01T12:15:00.000000Z"),
        # (40 × 21.96 − (219 + 15 × 21.966666666667)) / 15 = (878.4 − 548.500000000005) / 15
        # = 329.899999999995 / 15 = 21.993333333333 (the 12:30:02 poll reports the same 40)
        ("ext-tradier-228175", "15", "21.993333333333", "2018-06-01T12:20:00.000000Z"),
        ("ext-tradier-228749", "1", "2.37", "2018-06-06T20:16:17.357000Z"),
        ("ext-tradier-229064", "30", "274.5", "2018-06-12T21:14:00.000000Z"),
        # (70 × 274.6 − 30 × 274.5) / 40 = (19222 − 8235) / 40 = 10987 / 40 = 274.675
        ("ext-tradier-229064", "40", "274.675", "2018-06-12T21:15:00.000000Z"),
    ]
)


def _fills(books: dict[str, object]) -> list[tuple[str, ...]]:
    """(order, quantity, price, venue time) of every trade of ``all_books``."""
    rows = [dict(row) for row in books["trades"]]  # type: ignore[attr-defined]
    return sorted((r["client_order_id"], r["quantity"], r["price"], r["ts_event"]) for r in rows)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_tradier_polls_in_any_order_and_commits_give_the_same_fills(tmp_path: Path, kind: str) -> None:
    """Tradier reports totals (``exec_quantity``/``avg_fill_price``), and the ledger infers one
    fill per total. Polls read after later ones (reversed, shuffled; one poll per commit of a
    reopened ledger, or all in one) give the fills, orders, positions, lots and P&L of the polls
    read in venue time (reversed, the first poll read gave one fill of 40 @ 21.96 at 12:30:02;
    the others then added nothing), and the polls read again change nothing."""
    lines = [json.dumps(p) for p in SESSION_POLLS]
    expected = in_order(lines, **TRADIER)
    assert (expected["rejected"], expected["parked"]) == (0, 0)
    assert _fills(expected) == SESSION_FILLS
    rng = random.Random(43)
    shuffles = [rng.sample(lines, len(lines)) for _ in range(3)]
    arrangements: list[tuple[list[list[str]], Callable[[int], bool]]] = [
        ([[line] for line in reversed(lines)], lambda n: n % 2 == 0),
        ([lines[::-1]], lambda n: False),
        *(([[line] for line in shuffled], lambda n: n % 3 == 0) for shuffled in shuffles),
        ([shuffles[0]], lambda n: False),
        ([[line] for line in reversed(lines)] + [lines], lambda n: True),  # and read again
    ]
    for number, (chunks, reopen) in enumerate(arrangements):
        with empty_database(kind, tmp_path, f"{number}.db") as url:
            assert by_chunks(url, chunks, reopen, **TRADIER) == expected, number


def test_tradier_polls_of_one_time_in_every_order_give_the_same_fills() -> None:
    """Polls that share one ``transaction_date`` (the published 12:30:02.385, as the collector
    tests' polls do), then the order's expiry at 12:45, read in every order, in one commit and
    one per commit: one fill per total, each in its place. Read 45, 20, 35, the fill of 45 is
    split twice at one time (its corrections are two, not one correction and its copy); read
    after the expiry, a fill of 12:30:02 is judged with the corrections of the fills of its
    time (it was refused as an overfill: 20 + the uncorrected 45 > 50)."""
    polls = [
        poll("partially_filled", "20", "21.95", "21.95", "20"),
        poll("partially_filled", "35", "21.97", "22", "15"),
        poll("partially_filled", "45", "21.98", "22", "10"),
        poll("expired", "45", "21.98", "22", "10", at="2018-06-01T12:45:00.000Z"),
    ]
    lines = [json.dumps(p) for p in polls]
    at = "2018-06-01T12:30:02.385000Z"
    expected = in_order(lines, **TRADIER)
    assert (expected["rejected"], expected["parked"]) == (0, 0)
    assert _fills(expected) == sorted(
        [
            ("ext-tradier-228175", "20", "21.95", at),
            # (35 × 21.97 − 20 × 21.95) / 15 = (768.95 − 439) / 15 = 329.95 / 15 = 21.99666…,
            # to 12 places 21.996666666667
            ("ext-tradier-228175", "15", "21.996666666667", at),
            # (45 × 21.98 − (439 + 15 × 21.996666666667)) / 10 = (989.1 − 768.950000000005) / 10
            # = 22.0149999999995, to 12 places half-even (…9|5, 9 odd: up) 22.015
            ("ext-tradier-228175", "10", "22.015", at),
        ]
    )
    for order in itertools.permutations(lines):
        for chunks in ([list(order)], [[line] for line in order]):
            assert by_chunks("memory://", chunks, lambda n: False, **TRADIER) == expected, order


@st.composite
def tradier_polls(draw: st.DrawFn) -> list[str]:
    """Polls of 228175 (AAPL buy 50) at 3 to 6 minutes past 12:00, its total 0, 4 or 8 more at
    each (``totals``) at an average of 21.9 + 0.01 per 4 filled, the last total polled again
    later (at 12:30, as a poll that finds nothing new); perhaps then reported expired at 12:40."""
    minutes = sorted(draw(st.lists(st.integers(3, 29), min_size=2, max_size=5, unique=True)))
    shown = draw(totals(len(minutes), Decimal(4), ("repeats", "falls")))
    minutes, shown = [*minutes, 30], [*shown, shown[-1]]
    if draw(st.booleans()):
        minutes, shown = [*minutes, 40], [*shown, shown[-1]]
    lines = []
    for minute, filled in zip(minutes, shown, strict=True):
        status = "expired" if minute == 40 else "partially_filled" if filled else "open"
        average = str(Decimal("21.9") + Decimal("0.01") * filled / 4) if filled else "0"
        at = f"2018-06-01T12:{minute:02d}:00.000Z"
        lines.append(json.dumps(poll(status, str(filled), average, average, "0", at=at)))
    return lines


@PROPERTY
@given(lines=tradier_polls(), data=st.data())
def test_tradier_polls_repeating_totals_in_any_order_and_commits_give_the_books_of_venue_time(
    tmp_path_factory: pytest.TempPathFactory, lines: list[str], data: st.DataObject
) -> None:
    """Polls permuted at random and cut into commits, the ledger reopened before some of them:
    the books of the polls read in venue time, whether a later poll repeats a total or not."""
    expected = in_order(lines, **TRADIER)
    assert (expected["rejected"], expected["parked"]) == (0, 0)
    arrival = data.draw(st.permutations(lines), label="arrival")
    cuts = sorted(data.draw(st.sets(st.integers(1, len(lines) - 1)), label="cuts"))
    chunks = [arrival[a:b] for a, b in itertools.pairwise([0, *cuts, len(lines)])]
    reopen = data.draw(st.lists(st.booleans(), min_size=len(chunks), max_size=len(chunks)), label="reopen")
    url = f"sqlite:///{tmp_path_factory.mktemp('polls') / 'ledger.db'}"
    assert by_chunks(url, chunks, lambda n: reopen[n], **TRADIER) == expected
