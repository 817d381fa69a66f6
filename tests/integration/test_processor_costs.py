"""What deciding a batch costs in database round trips and memory: O(batch), never O(history).

Issue 14 found two defects in identity resolution: every batch walked every venue identity the
process had ever seen, and a batch's acks of orders requested earlier in the same batch each
opened a read transaction of their own. These tests count what a user would pay.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from orderledger.domain.identity import IdentityKey
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.ingest.gc_threshold import YOUNG_THRESHOLD
from orderledger.infrastructure.ingest.order_caches import IdentityCache
from orderledger.infrastructure.messages.models import FillMessage, message_from_line
from orderledger.infrastructure.storage.db import select_by_keys
from orderledger.infrastructure.storage.store import _CHAINED, _LOADED
from tests.support.integration import fact, fill, line, lines, request


def counting_reads(ledger: OrderLedger) -> list[int]:
    """Count the read transactions the ledger opens from now on."""
    count = [0]
    opened = ledger.db.read

    def read() -> Any:
        count[0] += 1
        return opened()

    ledger.db.read = read  # type: ignore[method-assign]
    return count


def test_a_batch_of_requests_acks_and_fills_reads_the_database_a_bounded_number_of_times(
    ledger: OrderLedger,
) -> None:
    # 100 orders, each requested, acknowledged and filled, all in one batch: the acks name the
    # order by client order ID only, so its venue comes from the request earlier in the batch
    batch = []
    for n in range(100):
        batch += [
            request(f"c-{n}", venue="V"),
            fact("accepted", f"c-{n}", venue_order_id=f"V-{n}"),
            fill(f"c-{n}", f"t-{n}", "10"),
        ]
    reads = counting_reads(ledger)

    report = ledger.ingest_lines(lines(*batch))

    assert report.counts["applied"] == 300
    # One prefetch of orders, one of identities, one look for parked messages, the risk door's
    # one look for any limit or trading state, and the views' (a writer's first batch also reads
    # the heads its commits compare: ``Commit.alone_since``): not one read per acknowledgement.
    assert reads[0] <= 7


def test_the_identity_cache_is_bounded() -> None:
    cache = IdentityCache(maxsize=3)
    for n in range(5):
        cache[IdentityKey.venue_order("V", str(n))] = f"c-{n}"

    assert [IdentityKey.venue_order("V", str(n)) in cache for n in range(5)] == [
        False,
        False,
        True,
        True,
        True,
    ]
    assert cache.get(IdentityKey.venue_order("V", "4")) == "c-4"


def test_ingesting_collects_young_objects_less_often_and_restores_the_thresholds(ledger: OrderLedger) -> None:
    # Given the process's collector at thresholds of its own (not Python's default 700)
    saved = gc.get_threshold()
    gc.set_threshold(900, 11, 12)
    seen: list[tuple[int, int, int]] = []
    try:
        # When a batch is ingested
        ledger.ingest_lines(
            lines(request("c-1"), fill("c-1", "t-1", "10")),
            on_batch=lambda _: seen.append(gc.get_threshold()),
        )
        # Then during the batch the young generation waited for YOUNG_THRESHOLD allocations, the
        # older generations' settings kept; afterwards the thresholds are the process's own again
        assert seen == [(YOUNG_THRESHOLD, 11, 12)]
        assert gc.get_threshold() == (900, 11, 12)
        # And a process that turned the collector's automatic runs off (threshold 0) keeps that
        gc.set_threshold(0)
        ledger.ingest_lines(
            lines(fill("c-1", "t-2", "5")), on_batch=lambda _: seen.append(gc.get_threshold())
        )
        assert seen[-1][0] == 0
    finally:
        gc.set_threshold(*saved)


Lookup = tuple[str, tuple[str, ...], tuple[str, ...], list[Any], str]


def key_lookups(ledger: OrderLedger) -> list[Lookup]:
    """Every batch lookup by key the ledger makes: table, columns read, key, a key's values, and
    the condition on each key's rows."""
    found: list[Lookup] = [
        (
            "identities",
            ("venue", "kind", "value", "client_order_id"),
            ("venue", "kind", "value"),
            ["k"] * 3,
            "",
        ),
        ("events", _LOADED, ("client_order_id",), ["k"], _CHAINED),
    ]
    for projection in ledger.views.by_name.values():
        for spec in projection.tables:
            types = {c.name: c.type for c in spec.columns}
            values = [7 if types[name] == "INTEGER" else "k" for name in spec.key]
            found.append((spec.name, tuple(c.name for c in spec.columns), spec.key, values, ""))
    return found


@pytest.fixture
def acknowledged(file_ledger_url: str) -> Iterator[OrderLedger]:
    """A ledger (SQLite file or PostgreSQL schema, never analysed) holding one acknowledged order:
    c-1, venue order V-1 at venue V."""
    ledger = OrderLedger(file_ledger_url)
    ledger.ingest_lines(lines(request("c-1", venue="V"), fact("accepted", "c-1", venue_order_id="V-1")))
    yield ledger
    ledger.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_looking_up_a_batch_of_rows_by_key_searches_an_index_never_scans_the_table(
    backend: str, acknowledged: OrderLedger
) -> None:
    # SQLite answers a row-value `(a, b) IN (VALUES …)` by scanning the whole table, and
    # PostgreSQL, before its statistics exist (autovacuum's ANALYZE comes a minute or more after
    # a burst of inserts), answered an `IN` list or a join to `VALUES` by scanning the table:
    # every batch's order, identity and view lookups grew with the history until each key got
    # a lookup of its own. The tables here have never been analysed.
    ledger = acknowledged
    with ledger.db.read() as tx:
        for table, columns, key, values, where in key_lookups(ledger):
            sql, params = select_by_keys(table, columns, key, [values] * 3, tx.dialect, where)
            explain = "EXPLAIN QUERY PLAN" if tx.dialect == "sqlite" else "EXPLAIN"
            plan = " | ".join(str(row[-1]) for row in tx.all(f"{explain} {sql}", params))

            if tx.dialect == "sqlite":
                assert f"SCAN {table}" not in plan and "SCAN t" not in plan.replace("SCAN v", ""), (
                    table,
                    plan,
                )
                assert (
                    "USING INDEX" in plan
                    or "USING PRIMARY KEY" in plan
                    or "USING INTEGER PRIMARY KEY" in plan
                ), (table, plan)
            else:
                # An index on the key, never the scan of a range of positions (events_pkey)
                assert "Seq Scan" not in plan and "Index" in plan and "events_pkey" not in plan, (table, plan)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_lookup_by_keys_finds_each_known_key_and_nothing_for_a_null_one(
    backend: str, acknowledged: OrderLedger
) -> None:
    ledger = acknowledged
    columns = ("venue", "kind", "value", "client_order_id")
    with ledger.db.read() as tx:
        keys = [
            (None, "venue_order_id", "V-1"),
            ("V", "venue_order_id", "V-1"),
            ("V", "venue_order_id", "V-9"),
        ]
        assert tx.all(*select_by_keys("identities", columns, columns[:3], keys, tx.dialect)) == [
            ("V", "venue_order_id", "V-1", "c-1")
        ]
        with pytest.raises(ValueError):
            select_by_keys("identities", columns, columns[:3], [], tx.dialect)


def test_the_log_has_no_index_led_by_the_random_order_uuid(file_ledger_url: str) -> None:
    # An order's originator_id is a UUID derived from its client order ID: an index led by it
    # puts each new event on a random page, so every batch rewrites pages all over the index and
    # ingest slows as the log grows. The events' unique key leads with the client order ID.
    ledger = OrderLedger(file_ledger_url)
    ledger.ingest_lines(lines(request("c-1", venue="V"), fact("accepted", "c-1", venue_order_id="V-1")))
    with ledger.db.read() as tx:
        if tx.dialect == "sqlite":
            names = [r[1] for r in tx.all("PRAGMA index_list(events)")]
            leading = {name: next(r[2] for r in tx.all(f"PRAGMA index_info({name})")) for name in names}
            plan = " | ".join(
                str(r[-1])
                for r in tx.all(
                    "EXPLAIN QUERY PLAN SELECT originator_version FROM events"
                    " WHERE originator_id = ? AND notification_id > 0 AND client_order_id = ?",
                    ["x", "c-1"],
                )
            )
            assert re.search(r"USING (COVERING )?INDEX", plan), plan
        else:
            leading = {
                str(name): str(definition).split("(", 1)[1].split(",")[0].split(")")[0].strip()
                for name, definition in tx.all(
                    "SELECT indexname, indexdef FROM pg_indexes"
                    " WHERE schemaname = current_schema() AND tablename = 'events'"
                )
            }
    history = [type(entry.event).__name__ for entry in ledger.history("c-1")]
    ledger.close()

    assert "originator_id" not in leading.values(), leading
    assert "client_order_id" in leading.values(), leading
    assert history == ["OrderRequested", "OrderAccepted"]  # found by the key


def test_a_writer_holds_its_parked_lines_as_stored_and_releases_each_with_its_message(
    ledger: OrderLedger,
) -> None:
    # Fills of orders not known yet, each in a commit of its own: parked, and held by the writer
    # in memory (a whole session in random order holds tens of thousands): as the message each
    # stored, never as a parsed message, about seven times larger.
    early = [fill(f"c-{n}", f"t-{n}", str(n + 1), f"10{n}.5", seconds=n + 1, venue="V") for n in range(40)]
    for message in early:
        ledger.ingest_lines(lines(message))
    index = ledger.processor.parked
    assert len(index) == 40
    gc.collect()
    # At most the last commit's own, which the writer keeps with its last batch's decisions.
    assert len([o for o in gc.get_objects() if isinstance(o, FillMessage)]) <= 1
    # Read again, each is the message as it came in.
    key = IdentityKey.client_order("c-7")
    ((_, read),) = index.held(key)
    assert read == message_from_line(line(early[7]).encode())
    # Released by their orders, a commit later: booked as they came, nothing left parked.
    report = ledger.ingest_lines(lines(*(request(f"c-{n}", quantity="100") for n in range(40))))
    assert report.counts["applied"] == 40
    assert len(index) == 0
    trades = {t.trade_id: (t.quantity, t.price) for t in ledger.trades(limit=100)}
    assert trades == {f"t-{n}": (Decimal(n + 1), Decimal(f"10{n}.5")) for n in range(40)}
    assert ledger.audit.messages(parked=True) == []
