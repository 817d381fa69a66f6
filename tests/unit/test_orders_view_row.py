"""The orders view's row: the snapshot's texts first, and enough to restore the order."""

from __future__ import annotations

import copy
import gc
import pickle
import threading
from collections.abc import Iterator
from dataclasses import fields, replace
from datetime import datetime
from decimal import Decimal

import orjson
import pytest

from orderledger.domain.events import (
    AnomalyRecorded,
    OrderAmended,
    OrderCanceled,
    OrderDetailsAdded,
    OrderFilled,
    OrderRequested,
)
from orderledger.domain.order import Order
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.reads import view_queries
from orderledger.infrastructure.application.simulator import simulate
from orderledger.infrastructure.results.filter import Filter
from orderledger.infrastructure.results.orders import OrderRow
from orderledger.projections.orders import OPEN_SHOWN, ORDERS_TABLE, SHOWN_COLUMNS, SHOWN_DECODERS, shown
from tests.support.integration import read_log


def test_a_stored_row_shows_the_snapshot_and_restores_the_order() -> None:
    with OrderLedger("sqlite:///:memory:") as ledger:
        for message in simulate(5, 40):
            ledger.record(message)
        orders = [ledger.order(r.client_order_id) for r in ledger.orders()]
    assert orders
    for order in orders:
        row = ORDERS_TABLE.to_row(order)
        assert tuple(shown(row)) == SHOWN_COLUMNS
        assert shown(row) == order.snapshot()
        restored = ORDERS_TABLE.from_row(row)
        assert ORDERS_TABLE.to_row(restored) == row
        assert restored.fills.keys() == order.fills.keys()


def test_a_stored_row_reads_back_as_the_typed_row_of_its_snapshot() -> None:
    read = OrderRow.stored_reader(SHOWN_DECODERS)
    with OrderLedger("sqlite:///:memory:") as ledger:
        for message in simulate(5, 40):
            ledger.record(message)
        orders = [ledger.order(r.client_order_id) for r in ledger.orders()]
    rows = [ORDERS_TABLE.to_row(order) for order in orders]
    typed = read(rows)  # the stored row has more columns after the snapshot's: they are left alone
    assert typed == [OrderRow.from_json(order.snapshot()) for order in orders]
    assert [row.to_json() for row in typed] == [order.snapshot() for order in orders]
    for row in typed:
        assert isinstance(row.quantity, Decimal) and isinstance(row.created_at, datetime)
        assert type(row.venue_order_ids) is tuple and type(row.tags) is dict and type(row.external) is bool
    # Each row has its own mappings, however many rows stored the same text.
    assert len({id(row.tags) for row in typed}) == len(typed)
    # A NULL stays None; the reader is made once per class and decoders.
    assert OrderRow.stored_reader(SHOWN_DECODERS) is read
    nulls = read(
        [tuple(None if name == "price" else v for name, v in zip(SHOWN_COLUMNS, rows[0], strict=False))]
    )
    assert nulls[0].price is None
    assert OrderRow.from_stored(list(typed[0].to_json().values())) == typed[0]


def test_the_columns_a_row_keeps_from_its_first_write_never_change() -> None:
    # ``ORDERS_TABLE.fixed`` is left out of the view's upserts, so folding an order's events one
    # at a time must leave those columns as its request wrote them: through fills, cancels,
    # amendments, anomalies and a repeated request that adds details.
    first = {"type": "request", "client_order_id": "x-1", "account": "acc", "venue": "V",
             "instrument": "BTC-USDT", "side": "buy", "order_type": "limit", "quantity": "1",
             "price": "100", "ts": "2026-11-20T09:30:00Z"}  # fmt: skip
    with OrderLedger("sqlite:///:memory:") as ledger:
        for message in simulate(5, 60):
            ledger.record(message)
        ledger.record(first)
        ledger.record({**first, "tags": {"desk": "a"}, "time_in_force": "GTC", "parent_id": "p-1"})
        ledger.record({**first, "source": "venue", "quantity": "2", "external": False})  # an anomaly
        later = {"client_order_id": "x-1", "ts": "2026-11-20T09:31:00Z"}
        ledger.record({"type": "accepted", **later, "venue_order_id": "v-1"})
        ledger.record({"type": "amend_requested", **later, "quantity": "3", "price": "101"})
        ledger.record({"type": "amended", **later, "quantity": "3", "price": "101"})
        log = [event for _, event in read_log(ledger)]
    kinds = {type(event) for event in log}
    assert {OrderAmended, OrderDetailsAdded, AnomalyRecorded, OrderCanceled, OrderFilled} <= kinds
    names = [c.name for c in ORDERS_TABLE.columns]
    at = [names.index(name) for name in ORDERS_TABLE.fixed]
    orders: dict[str, Order] = {}
    written: dict[str, tuple[object, ...]] = {}
    for event in log:
        if isinstance(event, OrderRequested):
            order = orders[event.client_order_id] = Order(event)
        elif event.client_order_id in orders:
            order = orders[event.client_order_id]
            order.apply(event)
        else:
            continue
        row = ORDERS_TABLE.to_row(order)
        assert written.setdefault(order.client_order_id, tuple(row[i] for i in at)) == tuple(
            row[i] for i in at
        )
    assert len(written) > 60


def _folded_open(ledger: OrderLedger) -> list[OrderRow]:
    """The open orders as their events fold (oldest created first), not as the view has them."""
    orders = [ledger.order(r.client_order_id) for r in ledger.orders()]
    return [OrderRow.from_json(o.snapshot()) for o in orders if o.status.is_open]


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(view_queries, "PAGE", 3)  # listings span many pages
    yield


@pytest.mark.usefixtures("small_pages")
@pytest.mark.parametrize("collector", [True, False])
def test_open_orders_are_the_folded_orders_still_open_and_the_collector_is_left_as_it_was(
    collector: bool,
) -> None:
    with OrderLedger("sqlite:///:memory:") as ledger:
        for message in simulate(7, 120):
            ledger.record(message)
        folded = _folded_open(ledger)
        assert len(folded) > 6
        was = gc.isenabled()
        try:
            (gc.enable if collector else gc.disable)()
            listed = ledger.orders(open=True)
            iterated = list(ledger.iter_orders(Filter(), open=True))
            newest = ledger.orders(open=True, newest=True, limit=5)
            assert gc.isenabled() is collector
        finally:
            (gc.enable if was else gc.disable)()
        as_json = view_queries.list_orders(ledger.db, open_only=True)
    assert listed == iterated == folded
    assert newest == folded[::-1][:5]
    assert [row.to_json() for row in listed] == as_json


@pytest.mark.usefixtures("small_pages")
def test_threads_listing_at_once_leave_the_collector_on() -> None:
    with OrderLedger("sqlite:///:memory:") as ledger:
        for message in simulate(7, 120):
            ledger.record(message)
        expected = ledger.orders(open=True)
        start = threading.Barrier(4)
        results: list[list[OrderRow]] = []

        def list_open() -> None:
            start.wait()
            for _ in range(20):
                results.append(ledger.orders(open=True))

        threads = [threading.Thread(target=list_open) for _ in range(4)]
        assert gc.isenabled()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert gc.isenabled()
    assert len(results) == 80 and all(rows == expected for rows in results)


def test_an_open_orders_row_holds_its_packed_snapshot_until_closed() -> None:
    # Given an order requested, then accepted, then filled in full
    request = {"type": "request", "client_order_id": "p-1", "account": "acc", "venue": "V",
               "instrument": "BTC-USDT", "side": "buy", "order_type": "limit", "quantity": "2",
               "price": "100.5", "ts": "2026-11-20T09:30:00Z", "tags": {"desk": "a"}}  # fmt: skip
    fill = {"type": "fill", "client_order_id": "p-1", "trade_id": "t-1", "quantity": "2",
            "price": "100.5", "ts": "2026-11-20T09:30:01Z"}  # fmt: skip
    with OrderLedger("sqlite:///:memory:") as ledger:
        ledger.record(request)
        order = ledger.order("p-1")
        row = ORDERS_TABLE.to_row(order)
        packed = row[[c.name for c in ORDERS_TABLE.columns].index(OPEN_SHOWN)]
        # Then while open, the packed column is the snapshot's stored columns as one JSON array
        assert orjson.loads(packed) == list(row[: len(SHOWN_COLUMNS)])
        assert shown(orjson.loads(packed))["quantity"] == "2"
        listed = ledger.orders(open=True)
        assert [r.client_order_id for r in listed] == ["p-1"]
        assert listed[0].price == Decimal("100.5") and listed[0].tags == {"desk": "a"}
        ledger.record(fill)
        closed = ORDERS_TABLE.to_row(ledger.order("p-1"))
        # and once the order is filled, the column is NULL and the order is listed as closed
        assert closed[[c.name for c in ORDERS_TABLE.columns].index(OPEN_SHOWN)] is None
        assert ledger.orders(open=True) == []
        with ledger.db.read() as tx:
            assert tx.all(f"SELECT {OPEN_SHOWN} FROM orders_view") == [(None,)]


def test_a_packed_row_decodes_on_its_first_read_and_is_then_like_any_row() -> None:
    with OrderLedger("sqlite:///:memory:") as ledger:
        for message in simulate(5, 40):
            ledger.record(message)
        orders = [ledger.order(r.client_order_id) for r in ledger.orders()]
    stored = [ORDERS_TABLE.to_row(order)[: len(SHOWN_COLUMNS)] for order in orders]
    eager = OrderRow.stored_reader(SHOWN_DECODERS)(stored)
    packed = [(orjson.dumps(values).decode(),) for values in stored]

    def fresh() -> list[OrderRow]:
        return OrderRow.packed_reader(SHOWN_DECODERS)(packed)

    # Every way of reading a row reads its fields
    assert fresh() == eager
    assert [row.to_json() for row in fresh()] == [order.snapshot() for order in orders]
    assert [repr(row) for row in fresh()] == [repr(row) for row in eager]
    assert [pickle.loads(pickle.dumps(row)) for row in fresh()] == eager
    assert [copy.deepcopy(row) for row in fresh()] == eager
    assert [replace(row, version=0) for row in fresh()] == [replace(row, version=0) for row in eager]
    # One field's read decodes the row whole: afterwards its __dict__ holds fields only
    row = fresh()[0]
    assert isinstance(row.quantity, Decimal)
    assert set(vars(row)) == {f.name for f in fields(OrderRow)}
    # A name that is no field is still an AttributeError, before and after decoding
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        getattr(fresh()[0], "nonsense")  # noqa: B009
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        getattr(row, "nonsense")  # noqa: B009


def test_threads_reading_one_packed_row_at_once_see_the_same_values() -> None:
    with OrderLedger("sqlite:///:memory:") as ledger:
        for message in simulate(5, 40):
            ledger.record(message)
        expected = ledger.orders()
        packed_rows = ledger.orders(open=True)
    eager = {r.client_order_id: r for r in expected}
    start = threading.Barrier(4)
    seen: list[list[tuple[object, ...]]] = []

    def read_all() -> None:
        start.wait()
        seen.append([(r.client_order_id, r.status, r.leaves_quantity, r.updated_at) for r in packed_rows])

    threads = [threading.Thread(target=read_all) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    want = [(r.client_order_id, r.status, r.leaves_quantity, r.updated_at) for r in packed_rows]
    assert packed_rows and all(s == want for s in seen)
    assert all(eager[r.client_order_id] == r for r in packed_rows)


def test_an_order_folded_by_the_view_differs_only_by_the_fingerprints_it_does_not_keep() -> None:
    # Given every order of a simulated session, replayed from its events as the writer does
    with OrderLedger("sqlite:///:memory:") as ledger:
        for message in simulate(7, 40):
            ledger.record(message)
        histories = [ledger.audit.order_events(r.client_order_id) for r in ledger.orders()]
    fingerprinted = 0
    for events in histories:
        request = events[0]
        assert isinstance(request, OrderRequested)
        deciding, folded = Order(request), Order(request)
        # When the view folds the same events without deciding
        for event in events[1:]:
            deciding.apply(event)
            folded.apply(event, deciding=False)
        # Then its state is the writer's but for the fingerprints only commands consult
        kept = deciding.to_state()
        fingerprinted += bool(kept["seen"])
        assert folded.to_state() == {**kept, "seen": []}
        assert ORDERS_TABLE.to_row(folded) == ORDERS_TABLE.to_row(deciding)
    assert fingerprinted >= 5, "the session's orders have facts the writer fingerprints"
