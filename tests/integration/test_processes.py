"""Several processes write one ledger at once; a follower tails it. Nothing lost, nothing twice.

Each writer is the real ``orderledger ingest`` in its own process, on a SQLite file and on
PostgreSQL. Two scenarios whose right answer does not depend on how the processes interleave:

- *hot orders*: every writer sends the same whole session, in order, at the same time, so
  each fact arrives several times concurrently and must be stored exactly once;
- *split facts*: requests, fills and acknowledgements of the same orders come through three
  different processes, so facts often arrive before their order exists (parked, then applied
  when another process creates it). Fills commute and a late ack only records the venue
  order ID, so every interleaving ends in the same state.

A follower catches up all the while and must see every notification once, in order.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

from orderledger.domain.events import OrderEvent
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.reads.view_queries import list_orders, list_positions, list_trades
from orderledger.infrastructure.application.simulator import simulate_lines
from orderledger.projections import PROJECTIONS
from orderledger.projections.base import fold

ROOT = Path(__file__).resolve().parents[2]


def _facts(ledger: OrderLedger) -> Counter[tuple[str, str, str]]:
    """(client order ID, event type, trade ID) of every stored event, with multiplicity."""
    facts: Counter[tuple[str, str, str]] = Counter()
    for _, event in _log(ledger):
        facts[(event.client_order_id, event.type_name(), str(getattr(event, "trade_id", "")))] += 1
    return facts


def _log(ledger: OrderLedger) -> list[tuple[int, OrderEvent]]:
    return [
        (n.id, ledger.mapper.decode(n.topic, n.state, n.originator_id, n.originator_version))
        for n in ledger.recorder.select_notifications(1, 10_000_000)
    ]


class Follower:
    """Catches up in a thread while writers run, recording every notification it folds."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.seen: list[int] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run)
        self.errors: list[BaseException] = []

    def _run(self) -> None:
        follower = OrderLedger(self.url)
        read = follower.views._read

        def recording_read(after: int, limit: int):  # type: ignore[no-untyped-def]
            batch = read(after, limit)
            self.seen.extend(position for position, _ in batch)
            return batch

        follower.views._read = recording_read  # type: ignore[method-assign]
        try:
            while not self.stop.is_set():
                follower.upkeep.catch_up()
                self.stop.wait(0.02)
            follower.upkeep.catch_up()
        except BaseException as error:  # reported by the test
            self.errors.append(error)
        finally:
            follower.close()

    def __enter__(self) -> Follower:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=120)


def _run_writers(url: str, files: list[Path]) -> None:
    writers = [
        subprocess.Popen(
            # The writers leave the views to the follower, which must fold every event itself.
            [sys.executable, "-m", "orderledger", "--db", url, "ingest", "--no-project", str(path)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for path in files
    ]
    for writer in writers:
        stdout, stderr = writer.communicate(timeout=300)
        assert writer.returncode == 0, (stdout, stderr)


def _assert_views_match_fold(ledger: OrderLedger) -> None:
    ledger.upkeep.catch_up()
    events = _log(ledger)
    orders = fold(PROJECTIONS[0](), events)["orders_view"].rows  # type: ignore[arg-type]
    assert {o["client_order_id"]: o for o in list_orders(ledger.db)} == {
        k: v.snapshot() for k, v in orders.items()
    }


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_same_session_from_four_processes_is_stored_once(file_ledger_url: str, tmp_path: Path) -> None:
    lines = list(simulate_lines(21, 120))
    reference = OrderLedger("memory://")
    reference.ingest_lines(lines)
    shared = OrderLedger(file_ledger_url)
    path = tmp_path / "session.jsonl"
    path.write_text("\n".join(lines) + "\n")

    with Follower(file_ledger_url) as follower:
        _run_writers(file_ledger_url, [path] * 4)
    assert not follower.errors

    assert _facts(shared) == _facts(reference)
    assert follower.seen == list(range(1, sum(_facts(reference).values()) + 1))
    shared.upkeep.catch_up()
    assert list_orders(shared.db) == list_orders(reference.db)
    assert list_trades(shared.db) == list_trades(reference.db)
    assert list_positions(shared.db) == list_positions(reference.db)
    _assert_views_match_fold(shared)
    shared.close()
    reference.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_facts_split_across_processes_are_parked_then_applied(file_ledger_url: str, tmp_path: Path) -> None:
    orders = 150
    ts = "2026-11-20T10:00:00Z"
    requests, fills, acks = [], [], []
    for n in range(orders):
        coid = f"split-{n:04d}"
        requests.append(
            {
                "type": "request",
                "client_order_id": coid,
                "account": "acc",
                "venue": "v",
                "instrument": "BTC-USDT",
                "side": "buy" if n % 2 else "sell",
                "order_type": "limit",
                "quantity": "2",
                "price": "100",
                "ts": ts,
            }
        )
        fills.append(
            {
                "type": "fill",
                "client_order_id": coid,
                "trade_id": f"t{n}",
                "quantity": "2",
                "price": "100",
                "ts": ts,
            }
        )
        acks.append({"type": "accepted", "client_order_id": coid, "venue_order_id": f"V{n}", "ts": ts})
    files = []
    # Fills and acks go first in their files, so they often beat the requests.
    for name, messages in (("fills", fills), ("acks", acks), ("requests", requests)):
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps(m) + "\n" for m in messages))
        files.append(path)
    shared = OrderLedger(file_ledger_url)

    with Follower(file_ledger_url) as follower:
        _run_writers(file_ledger_url, files)
    assert not follower.errors

    shared.upkeep.catch_up()
    with shared.db.read() as tx:
        assert tx.one("SELECT COUNT(*) FROM parked")[0] == 0
        outcomes = dict(tx.all("SELECT outcome, COUNT(*) FROM messages GROUP BY outcome"))
    assert outcomes == {"applied": 3 * orders}
    rows = list_orders(shared.db)
    assert len(rows) == orders
    assert all(r["status"] == "filled" and r["filled_quantity"] == "2" for r in rows)
    assert all(
        r["venue_order_ids"] == [f"V{r['client_order_id'].split('-')[1].lstrip('0') or '0'}"] for r in rows
    )
    facts = _facts(shared)
    assert all(count == 1 for count in facts.values())
    assert sum(facts.values()) == 3 * orders
    assert follower.seen == list(range(1, 3 * orders + 1))
    _assert_views_match_fold(shared)
    shared.close()


def test_exhausted_retries_give_a_clear_error_and_store_nothing(tmp_path: Path) -> None:
    import sqlite3

    from orderledger.infrastructure.errors import ConcurrencyError

    ledger = OrderLedger(f"sqlite:///{tmp_path / 'l.db'}")
    attempts = 0

    def always_conflicting(batch: object, after: object = None) -> list[int]:
        nonlocal attempts
        attempts += 1
        raise sqlite3.IntegrityError(
            "UNIQUE constraint failed: events.originator_id, events.originator_version"
        )

    ledger.recorder.commit = always_conflicting  # type: ignore[method-assign]
    line = json.dumps(
        {
            "type": "request",
            "client_order_id": "c1",
            "account": "a",
            "venue": "v",
            "instrument": "X-Y",
            "side": "buy",
            "order_type": "limit",
            "quantity": "1",
            "price": "1",
            "ts": "2026-11-20T10:00:00Z",
        }
    )
    with pytest.raises(ConcurrencyError, match="gave up after 8 attempts"):
        ledger.ingest_lines([line])
    assert attempts == 8
    assert ledger.recorder.max_notification_id() is None
    ledger.close()
