"""A writer alone on its ledger commits without checking for other writers' commits.

A commit checks, under the log lock, what another writer may have changed since the batch read
the ledger: the versions of the orders it consulted, and that nobody created an order it parked
a message for or parked a message under a key it made resolvable. While the journal's and the
log's heads are still where the writer's own last commit left them (and no other writer had
committed since its caches were emptied), nobody has, and the checks are skipped
(``Commit.alone_since``). Once another writer's commit is seen, every commit checks again.
"""

from __future__ import annotations

import contextlib
import json
import random
from pathlib import Path

import pytest

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.simulator import simulate_lines
from orderledger.infrastructure.storage.store import LedgerRecorder
from tests.support.books import all_books
from tests.support.postgres import private_schema, require_postgres


def _three_lines() -> tuple[str, str, str]:
    """A request of c-0; a request of c-1 and a fill of it. The requests are as a venue reports them
    (``external``): a request of ours is decided under the log's write lock from its first attempt
    (the risk door), so no other writer could commit between its reads and its commit."""
    header = {"account": "a", "venue": "X", "instrument": "BTC-USD", "side": "buy", "order_type": "limit",
              "external": True}  # fmt: skip
    other, request, fill = (
        json.dumps(m)
        for m in (
            {"type": "request", "client_order_id": "c-0", **header, "quantity": "1", "price": "100",
             "ts": "2026-01-01T00:00:00Z"},
            {"type": "request", "client_order_id": "c-1", **header, "quantity": "2", "price": "100",
             "ts": "2026-01-01T00:00:00Z"},
            {"type": "fill", "client_order_id": "c-1", "trade_id": "T-1", "quantity": "1", "price": "100",
             "ts": "2026-01-01T00:00:02Z"},
        )
    )  # fmt: skip
    return other, request, fill


def _after_the_batch_reads(
    first: OrderLedger, second: OrderLedger, line: str, outcome: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``second`` ingests ``line`` (with that outcome) once, after the reads of ``first``'s next
    batch and before its commit."""
    processor = first.processor
    read = processor.prefetch
    meanwhile = [[line]]

    def then_the_other_writer(items: object) -> None:
        read(items)  # type: ignore[arg-type]
        while meanwhile:
            assert second.ingest_lines(meanwhile.pop()).counts[outcome] == 1

    monkeypatch.setattr(processor, "prefetch", then_the_other_writer)


def _database(stack: contextlib.ExitStack, store: str, tmp_path: Path) -> str:
    """The URL of an empty ledger of ``store``: a SQLite file, or a private PostgreSQL schema."""
    if store == "postgres":
        require_postgres()
        return stack.enter_context(private_schema())
    return f"sqlite:///{tmp_path / 'ledger.db'}"


def _shuffled(orders: int, seed: int) -> list[str]:
    lines = list(simulate_lines(seed=seed, orders=orders))
    random.Random(seed).shuffle(lines)
    return lines


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_a_lone_writer_skips_the_checks_until_another_writer_commits(
    tmp_path: Path, store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks: list[str] = []
    real_parking, real_versions = LedgerRecorder._check_parking, LedgerRecorder._check_versions

    def parking(self: LedgerRecorder, tx: object, batch: object) -> None:
        checks.append("parking")
        real_parking(self, tx, batch)  # type: ignore[arg-type]

    def versions(self: LedgerRecorder, tx: object, batch: object) -> None:
        checks.append("versions")
        real_versions(self, tx, batch)  # type: ignore[arg-type]

    monkeypatch.setattr(LedgerRecorder, "_check_parking", parking)
    monkeypatch.setattr(LedgerRecorder, "_check_versions", versions)
    lines = _shuffled(60, seed=11)
    with contextlib.ExitStack() as stack:
        url = _database(stack, store, tmp_path)
        ledger = stack.enter_context(OrderLedger(url, batch_size=20))
        report = ledger.ingest_lines(lines[:120])
        assert report.counts["parked"] > 0  # commits that parked and settled lines
        assert checks == []  # alone: nothing to check
        with OrderLedger(url) as other:
            other.ingest_lines(lines[120:140])
        ledger.ingest_lines(lines[140:])
        assert checks  # another writer's commit was seen: every commit checks from then on
        books = all_books(ledger)
    with OrderLedger("memory://") as reference:
        reference.ingest_lines(list(simulate_lines(seed=11, orders=60)))
        assert books == all_books(reference)


def test_a_commit_of_another_writer_between_the_batch_reads_and_its_commit_is_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The heads are read again under the log lock: another writer's commit after the batch's
    reads (its decisions made on what it read) sends the batch through the checks, which find
    the order it parked a message for created meanwhile; the batch is decided again and the
    fill applied, not parked for good."""
    other, request, fill = _three_lines()
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with OrderLedger(url) as first, OrderLedger(url) as second:
        assert first.ingest_lines([other]).counts["applied"] == 1  # alone so far
        _after_the_batch_reads(first, second, request, "applied", monkeypatch)
        assert first.ingest_lines([fill]).counts["applied"] == 1
        assert first.order("c-1").filled_quantity == 1


def test_a_batch_decided_alone_without_keys_is_decided_again_when_another_writer_parked_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lone writer with nothing parked builds no keys for what its facts resolve
    (``Parking._quiet``). Another writer parks a fill for the order the batch creates, after the
    batch's reads: the commit, no longer alone, cannot check that fill against keys it never
    built, so it refuses the batch as stale; decided again, the batch releases the fill."""
    other, request, fill = _three_lines()
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with OrderLedger(url) as first, OrderLedger(url) as second:
        assert first.ingest_lines([other]).counts["applied"] == 1  # alone so far
        _after_the_batch_reads(first, second, fill, "parked", monkeypatch)
        assert first.ingest_lines([request]).counts["applied"] == 1
        assert first.order("c-1").filled_quantity == 1
        assert second.order("c-1").filled_quantity == 1


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_a_batch_decided_alone_without_keys_commits_at_once_when_nothing_is_parked_anywhere(
    tmp_path: Path, store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer's commit between the batch's reads and its commit, with nothing parked
    anywhere: the keys the batch did not build could only have found lines parked elsewhere, so
    the commit checks what it can and stores the batch without deciding it again."""
    other, request, _ = _three_lines()
    own = other.replace('"c-0"', '"c-2"')
    with contextlib.ExitStack() as stack:
        url = _database(stack, store, tmp_path)
        first = stack.enter_context(OrderLedger(url))
        second = stack.enter_context(OrderLedger(url))
        assert first.ingest_lines([other]).counts["applied"] == 1  # alone so far
        attempts = []
        real_attempt = first.processor._attempt

        def counted(items: object, strict: bool) -> object:
            attempts.append(real_attempt(items, strict))  # type: ignore[arg-type]
            return attempts[-1]

        monkeypatch.setattr(first.processor, "_attempt", counted)
        _after_the_batch_reads(first, second, request, "applied", monkeypatch)
        assert first.ingest_lines([own]).counts["applied"] == 1
        assert len(attempts) == 1 and attempts[0] != "stale"  # one decision, committed
        assert {o.client_order_id for o in first.orders()} == {"c-0", "c-1", "c-2"}
