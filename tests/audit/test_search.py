"""Finding events: ``orderledger events`` and ``search_events`` filter the global log by type,
account, venue, instrument, order and time (recorded or venue), stream the matches in log order,
and walk the documented indexes.

The small session below is recorded with a controlled clock, one fact per batch; each line says
which events (notification IDs) it produced. Recorded times are T0 + r seconds, venue times
T0 + v seconds. Every expected selection is worked out from this table by hand.

    r   v    fact                                               events
    0   0    request o1: acc1 V1 BTC-USD buy 2 at 100           1 OrderRequested
    1   1    accepted o1 (VO-1)                                 2 OrderAccepted
    2   2    fill o1 t1: 2 at 100                               3 OrderFilled
    3   3    request o2: acc2 V2 ETH-USD sell 5 at 10           4 OrderRequested
    4   4    fill o2 t2: 1 at 10, naming VO-2                   5 OrderAccepted (implied), 6 OrderFilled
    5   5    request o3: acc1 V2 BTC-USD buy 1 at 100           7 OrderRequested
    6   6    cancel requested o3                                8 OrderCancelRequested
    7   7    canceled o3                                        9 OrderCanceled
    8   3.5  fill o2 t3: 1 at 10 (arrives late)                 10 OrderFilled
    9   9    fill o1 t1 busted                                  11 FillBusted

A second part builds a log of 200,000 events directly in SQLite and shows that a search reads it
in chunks: stopping after ten results reads one chunk, not the log.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any

import pytest

from orderledger.domain.decisions import Stamp
from orderledger.domain.errors import InvalidInputError
from orderledger.domain.events import OrderSpec
from orderledger.domain.order import Order, order_id_for
from orderledger.domain.values import OrderType, Side, format_timestamp
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.audit.search import EventFilter, search_events
from orderledger.infrastructure.storage.chain import GENESIS, link
from orderledger.infrastructure.storage.schema import schema
from tests.support.audit import Clock, Recorder, at, fact, fill, orderledger, query, request, ts


def record_session(ledger: OrderLedger, clock: Clock) -> None:
    feed = Recorder(ledger, clock)
    feed.at(0, request("o1", seconds=0, quantity="2"))
    feed.at(1, fact("accepted", "o1", seconds=1, venue_order_id="VO-1"))
    feed.at(2, fill("o1", "t1", "2", "100", seconds=2))
    feed.at(
        3,
        request(
            "o2",
            seconds=3,
            account="acc2",
            venue="V2",
            instrument="ETH-USD",
            side="sell",
            quantity="5",
            price="10",
        ),
    )
    feed.at(4, fill("o2", "t2", "1", "10", seconds=4, venue_order_id="VO-2"))
    feed.at(5, request("o3", seconds=5, venue="V2", quantity="1"))
    feed.at(6, fact("cancel_requested", "o3", seconds=6))
    feed.at(7, fact("canceled", "o3", seconds=7, reason="user"))
    feed.at(8, fill("o2", "t3", "1", "10", seconds=3.5))
    feed.at(9, fact("fill_busted", "o1", seconds=9, trade_id="t1", reason="erroneous"))
    assert [r.events for r in feed.reports] == [1, 1, 1, 1, 2, 1, 1, 1, 1, 1]


# (command-line filter, the same as an EventFilter, the events it selects)
CASES: list[tuple[list[str], dict[str, Any], list[int]]] = [
    ([], {}, list(range(1, 12))),
    (["--type", "OrderFilled"], {"types": ["OrderFilled"]}, [3, 6, 10]),
    (
        ["--type", "OrderFilled", "--type", "FillBusted"],
        {"types": ["OrderFilled", "FillBusted"]},
        [3, 6, 10, 11],
    ),
    (["--type", "OrderCanceled"], {"types": ["OrderCanceled"]}, [9]),
    (["--type", "OrderRejected"], {"types": ["OrderRejected"]}, []),
    (["--account", "acc1"], {"account": "acc1"}, [1, 2, 3, 7, 8, 9, 11]),
    (["--account", "acc2"], {"account": "acc2"}, [4, 5, 6, 10]),
    (["--venue", "V2"], {"venue": "V2"}, [4, 5, 6, 7, 8, 9, 10]),
    (["--instrument", "BTC-USD"], {"instrument": "BTC-USD"}, [1, 2, 3, 7, 8, 9, 11]),
    (["--instrument", "ETH-USD"], {"instrument": "ETH-USD"}, [4, 5, 6, 10]),
    (["--order", "o2"], {"client_order_id": "o2"}, [4, 5, 6, 10]),
    (["--order", "VO-1"], {"client_order_id": "o1"}, [1, 2, 3, 11]),  # by venue order ID
    # Recorded time: since/until are inclusive.
    (["--since", ts(4), "--until", ts(7)], {"since": at(4), "until": at(7)}, [5, 6, 7, 8, 9]),
    (["--since", ts(8)], {"since": at(8)}, [10, 11]),
    (["--until", ts(0.5)], {"until": at(0.5)}, [1]),
    # Venue time: t3 (event 10) happened at T0+3.5 though recorded at T0+8; results stay in log order.
    (
        ["--since", ts(3), "--until", ts(4), "--event-time"],
        {"since": at(3), "until": at(4), "event_time": True},
        [4, 5, 6, 10],
    ),
    (["--since", ts(8), "--event-time"], {"since": at(8), "event_time": True}, [11]),
    (["--since", ts(3.5), "--until", ts(3.5)], {"since": at(3.5), "until": at(3.5)}, []),
    (
        ["--since", ts(3.5), "--until", ts(3.5), "--event-time"],
        {"since": at(3.5), "until": at(3.5), "event_time": True},
        [10],
    ),
    # Combined filters: every condition must hold.
    (["--type", "OrderFilled", "--account", "acc2"], {"types": ["OrderFilled"], "account": "acc2"}, [6, 10]),
    (["--account", "acc1", "--venue", "V2"], {"account": "acc1", "venue": "V2"}, [7, 8, 9]),
    (
        ["--type", "OrderFilled", "--venue", "V2", "--since", ts(3.7), "--event-time"],
        {"types": ["OrderFilled"], "venue": "V2", "since": at(3.7), "event_time": True},
        [6],
    ),
    (["--instrument", "BTC-USD", "--until", ts(2)], {"instrument": "BTC-USD", "until": at(2)}, [1, 2, 3]),
    (["--order", "o1", "--type", "FillBusted"], {"client_order_id": "o1", "types": ["FillBusted"]}, [11]),
    (["--account", "acc2", "--instrument", "BTC-USD"], {"account": "acc2", "instrument": "BTC-USD"}, []),
]


def test_search_events_selects_what_each_filter_says(make_ledger: Callable[..., OrderLedger]) -> None:
    clock = Clock()
    ledger = make_ledger(clock=clock)
    record_session(ledger, clock)
    for _, wanted, expected in CASES:
        found = list(search_events(ledger.db, ledger.mapper, EventFilter(**wanted)))
        assert [p for p, _, _ in found] == expected, wanted
    by_position = {p: (e, m) for p, e, m in search_events(ledger.db, ledger.mapper, EventFilter())}
    assert [by_position[p][1] for p in range(1, 12)] == [1, 2, 3, 4, 5, 5, 6, 7, 8, 9, 10]
    assert [by_position[p][0].originator_version for p in (4, 5, 6, 10)] == [1, 2, 3, 4]
    with pytest.raises(InvalidInputError, match="unknown event type 'Filled'"):
        list(search_events(ledger.db, ledger.mapper, EventFilter(types=["Filled"])))


@pytest.fixture(params=("sqlite", "postgres"))
def backend(request: pytest.FixtureRequest) -> str:
    """The command runs on the backends another process can share (SQLite file, PostgreSQL)."""
    return str(request.param)


@pytest.fixture
def session(file_ledger_url: str) -> str:
    clock = Clock()
    ledger = OrderLedger(file_ledger_url, clock=clock)
    try:
        record_session(ledger, clock)
    finally:
        ledger.close()
    return file_ledger_url


def test_events_command_filters_and_prints_json_lines_in_log_order(session: str) -> None:
    for args, _, expected in CASES:
        records = orderledger("events", *args, "--json", db=session).json_lines()
        assert [r["position"] for r in records] == expected, args

    by_position = {r["position"]: r for r in orderledger("events", "--json", db=session).json_lines()}
    late = by_position[10]
    assert {k: v for k, v in late.items() if k != "payload"} == {
        "position": 10,
        "type": "OrderFilled",
        "client_order_id": "o2",
        "version": 4,
        "ts_event": ts(3.5),
        "ts_recorded": ts(8),
        "source": "ingest",
        "account": "acc2",
        "venue": "V2",
        "instrument": "ETH-USD",
        "message_id": 9,
    }
    expected_payload: dict[str, Any] = {
        "trade_id": "t3",
        "last_qty": "1",
        "last_px": "10",
        "side": "sell",
        "fee": None,
        "fee_currency": None,
        "liquidity": None,
        "quote_currency": "USD",
        # At its venue time (T0+3.5) the order had no venue order ID yet: it came with the fill
        # of T0+4, which reached the ledger first. The fill is recorded at its own place.
        "venue_order_id": None,
        "tags": {},
        "parent_id": None,
        "late": False,
    }
    assert {k: late["payload"][k] for k in expected_payload} == expected_payload
    assert (by_position[5]["type"], by_position[5]["message_id"], by_position[6]["message_id"]) == (
        "OrderAccepted",
        5,
        5,
    )
    busted = by_position[11]["payload"]
    assert (busted["trade_id"], busted["last_qty"], busted["last_px"], busted["reason"]) == (
        "t1",
        "2",
        "100",
        "erroneous",
    )


def test_events_command_prints_one_line_per_event_and_a_count(session: str) -> None:
    run = orderledger("events", "--account", "acc2", db=session)
    assert run.code == 0 and run.stderr == "4 events\n", run.describe()
    lines = run.stdout.splitlines()
    assert [int(text.split()[0]) for text in lines] == [4, 5, 6, 10]
    assert all(" acc2/V2/ETH-USD " in text for text in lines)
    assert lines[3].split()[1:3] == [ts(8), "OrderFilled"]

    unknown = orderledger("events", "--type", "Filled", db=session).one_line_failure(2)
    assert "unknown event type 'Filled'" in unknown and "OrderFilled" in unknown
    assert "no order 'nope'" in orderledger("events", "--order", "nope", db=session).one_line_failure(2)
    assert "--since" in orderledger("events", "--since", "10:00", db=session).one_line_failure(2)


# ---------------------------------------------------------------------- the documented indexes

INDEXES = {
    "events_by_type": ["event_type", "notification_id"],
    "events_by_account": ["account", "notification_id"],
    "events_by_venue": ["venue", "notification_id"],
    "events_by_instrument": ["instrument", "notification_id"],
    "events_by_recorded": ["ts_recorded"],
    "events_by_venue_time": ["ts_event"],
}


@pytest.mark.parametrize("url_kind", ["memory", "sqlite", "postgres"])
def test_the_documented_indexes_exist(url_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = {"memory": "memory://", "sqlite": f"sqlite:///{tmp_path / 'ledger.db'}"}.get(url_kind)
    if url is None:
        url = str(request.getfixturevalue("postgres_url"))
    ledger = OrderLedger(url)
    try:
        if ledger.db.dialect == "sqlite":
            names = {
                r[0]
                for r in query(
                    ledger, "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'"
                )
            }
            assert set(INDEXES) <= names
            for name, columns in INDEXES.items():
                assert [r[2] for r in query(ledger, f"PRAGMA index_info({name})")] == columns, name
        else:
            found = dict(
                query(
                    ledger,
                    "SELECT indexname, indexdef FROM pg_indexes"
                    " WHERE schemaname = current_schema() AND tablename = 'events'",
                )
            )
            for name, columns in INDEXES.items():
                assert name in found, name
                assert found[name].endswith(f"({', '.join(columns)})"), found[name]
    finally:
        ledger.close()


# ---------------------------------------------------------------------- 200,000 events

ORDERS, EVENTS_PER_ORDER = 400, 500
TOTAL = ORDERS * EVENTS_PER_ORDER


def _template(ledger: OrderLedger) -> list[Any]:
    """One order's 500 events, mapped for storage: request, ack, 496 fills, cancel request, cancel."""
    stamp = Stamp(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC), "bulk")
    spec = OrderSpec(
        client_order_id="o-000000",
        account="acc0",
        venue="V0",
        instrument="BTC-USD",
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        quantity=Decimal(1000),
        price=Decimal(10),
    )
    order, _ = Order.request(spec, stamp)
    order.accept(stamp, "v-000000")
    for k in range(EVENTS_PER_ORDER - 4):
        order.fill(stamp, f"t{k:05d}", Decimal(1), Decimal(10))
    order.request_cancel(stamp)
    order.cancel(stamp, "user")
    events = order.collect_events()
    assert len(events) == EVENTS_PER_ORDER
    return [ledger.mapper.to_stored_event(e) for e in events]


@pytest.fixture(scope="module")
def big_log() -> Iterator[OrderLedger]:
    """A memory ledger holding 200,000 events of 400 orders (order i: account acc{i%4}, venue V{i%2}).

    Rows are written straight into the events table with the ledger's own mapper and hash chain
    (ingesting that many messages would take minutes); the search indexes are created after the
    rows with the ledger's own statements, as a restore would. Event n of order i is
    notification 500 × i + n; the order's OrderCanceled is its last event.
    """
    ledger = OrderLedger("memory://", project=False)
    template = _template(ledger)
    rows, previous, position = [], GENESIS, 0
    for i in range(ORDERS):
        client_order_id, account, venue = f"o-{i:06d}", f"acc{i % 4}", f"V{i % 2}"
        originator = str(order_id_for(client_order_id))
        for stored in template:
            position += 1
            state = (
                stored.state.replace(b'"o-000000"', f'"{client_order_id}"'.encode())
                .replace(b'"account":"acc0"', f'"account":"{account}"'.encode())
                .replace(b'"venue":"V0"', f'"venue":"{venue}"'.encode())
            )
            recorded = format_timestamp(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(milliseconds=position))
            row = (
                position,
                originator,
                stored.originator_version,
                stored.topic,
                state,
                stored.event_type,
                client_order_id,
                account,
                venue,
                stored.instrument,
                stored.ts_event,
                recorded,
                "bulk",
                None,
            )
            previous = link(previous, row)
            rows.append((*row, previous))
    indexes = [s for s in schema("sqlite") if s.startswith("CREATE INDEX IF NOT EXISTS events_")]
    with ledger.db.write() as tx:
        for statement in indexes:
            tx.execute(f"DROP INDEX {statement.split()[5]}")
        tx.executemany(f"INSERT INTO events VALUES ({','.join('?' * 15)})", rows)
        for statement in indexes:
            tx.execute(statement)
    del rows
    yield ledger
    ledger.close()


@dataclass
class ReadSpy:
    """Counts the read transactions a search opens and the rows each query returns."""

    reads: int = 0
    rows: list[int] = field(default_factory=list)
    sql: list[tuple[str, list[Any]]] = field(default_factory=list)


@contextlib.contextmanager
def spying(ledger: OrderLedger, monkeypatch: pytest.MonkeyPatch) -> Iterator[ReadSpy]:
    spy = ReadSpy()
    real_read = ledger.db.read

    class Tx:
        def __init__(self, tx: Any) -> None:
            self.tx = tx
            self.dialect = tx.dialect

        def all(self, sql: str, params: Any = ()) -> list[Any]:
            rows: list[Any] = self.tx.all(sql, params)
            spy.sql.append((sql, list(params)))
            spy.rows.append(len(rows))
            return rows

        def one(self, sql: str, params: Any = ()) -> Any:
            return self.tx.one(sql, params)

    @contextlib.contextmanager
    def read() -> Iterator[Any]:
        spy.reads += 1
        with real_read() as tx:
            yield Tx(tx)

    with monkeypatch.context() as patch:
        patch.setattr(ledger.db, "read", read)
        yield spy


def test_the_big_log_holds_what_the_fixture_says(big_log: OrderLedger) -> None:
    assert query(big_log, "SELECT COUNT(*), MAX(notification_id) FROM events") == [(TOTAL, TOTAL)]
    last = list(
        search_events(
            big_log.db, big_log.mapper, EventFilter(client_order_id="o-000399", types=["OrderCanceled"])
        )
    )
    assert [(p, e.type_name(), e.client_order_id, e.account, e.venue) for p, e, _ in last] == [
        (TOTAL, "OrderCanceled", "o-000399", "acc3", "V1")
    ]


def test_a_search_stops_after_the_results_it_was_asked_for(
    big_log: OrderLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    with spying(big_log, monkeypatch) as spy:
        first = list(islice(search_events(big_log.db, big_log.mapper, EventFilter()), 10))
    assert [p for p, _, _ in first] == list(range(1, 11))
    assert (spy.reads, spy.rows) == (1, [2_000]), "ten results cost one chunk of 2,000 rows, not 200,000"

    with spying(big_log, monkeypatch) as spy:
        first = list(islice(search_events(big_log.db, big_log.mapper, EventFilter(account="acc3")), 10))
    # acc3's first order is o-000003, notifications 1501 … 2000.
    assert [p for p, _, _ in first] == list(range(1501, 1511))
    assert (spy.reads, spy.rows) == (1, [2_000])


def test_a_search_reads_the_log_in_chunks(big_log: OrderLedger, monkeypatch: pytest.MonkeyPatch) -> None:
    with spying(big_log, monkeypatch) as spy:
        found = [
            p
            for p, _, _ in search_events(
                big_log.db, big_log.mapper, EventFilter(types=["OrderCanceled"]), chunk=100
            )
        ]
    assert found == [EVENTS_PER_ORDER * i for i in range(1, ORDERS + 1)]
    # 400 matches in chunks of 100: four full chunks, then an empty one that ends the search.
    assert (spy.reads, spy.rows) == (5, [100, 100, 100, 100, 0])
    # Each chunk starts after the last notification ID of the one before (keyset paging).
    assert [params[-2:] for _, params in spy.sql] == [
        [0, 100],
        [50_000, 100],
        [100_000, 100],
        [150_000, 100],
        [200_000, 100],
    ]

    with spying(big_log, monkeypatch) as spy:
        count = sum(
            1 for _ in search_events(big_log.db, big_log.mapper, EventFilter(account="acc1", venue="V1"))
        )
    assert count == ORDERS // 4 * EVENTS_PER_ORDER  # orders 1, 5, 9, …: 100 orders
    # 50,000 matches in chunks of 2,000: 25 full chunks and an empty one.
    assert spy.reads == 26 and spy.rows == [2_000] * 25 + [0]


def _plan(ledger: OrderLedger, sql: str, params: list[Any]) -> str:
    return " | ".join(str(r[-1]) for r in query(ledger, "EXPLAIN QUERY PLAN " + sql, params))


def _search_sql(
    ledger: OrderLedger, monkeypatch: pytest.MonkeyPatch, wanted: EventFilter
) -> tuple[str, list[Any]]:
    with spying(ledger, monkeypatch) as spy:
        next(search_events(ledger.db, ledger.mapper, wanted), None)
    return spy.sql[0]


@pytest.mark.parametrize(
    ("wanted", "index"),
    [
        (EventFilter(types=["OrderCanceled"]), "events_by_type"),
        (EventFilter(account="acc2"), "events_by_account"),
        (EventFilter(venue="V1"), "events_by_venue"),
        (EventFilter(instrument="BTC-USD"), "events_by_instrument"),
        (EventFilter(types=["OrderFilled"], account="acc1"), "events_by_"),
    ],
    ids=["type", "account", "venue", "instrument", "type+account"],
)
def test_sqlite_walks_an_index_for_each_search_filter(
    big_log: OrderLedger, monkeypatch: pytest.MonkeyPatch, wanted: EventFilter, index: str
) -> None:
    sql, params = _search_sql(big_log, monkeypatch, wanted)
    plan = _plan(big_log, sql, params)
    assert f"USING INDEX {index}" in plan or f"USING COVERING INDEX {index}" in plan, plan
    assert "TEMP B-TREE" not in plan, f"the matches are sorted instead of streamed: {plan}"


def test_sqlite_walks_an_index_for_an_order_filter(
    big_log: OrderLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    sql, params = _search_sql(big_log, monkeypatch, EventFilter(client_order_id="o-000399"))
    plan = _plan(big_log, sql, params)
    assert "client_order_id" in plan or "originator_id" in plan, plan
