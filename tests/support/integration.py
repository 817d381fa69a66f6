"""Shared helpers for the integration tests: message builders, store inspection, view comparison.

Messages are plain dicts in the ledger's JSON-lines format (see infrastructure/messages.py);
``lines(...)`` turns them into the lines ``OrderLedger.ingest_lines`` reads. The inspection
helpers read the database the way an operator would (row counts, the journal, raw view rows),
so a test can say "nothing was stored" or "the views are exactly the fold of the log".
"""

from __future__ import annotations

import contextlib
import functools
import json
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from orderledger.domain.events import OrderEvent
from orderledger.domain.values import format_timestamp
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.projections import PROJECTIONS
from orderledger.projections.base import TableSpec, fold
from tests.support.postgres import private_schema

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
"""Venue time of the first fact in most scenarios."""

VIEW_SPECS: tuple[TableSpec[Any, Any], ...] = tuple(spec for p in PROJECTIONS for spec in p.tables)
VIEW_NAMES: tuple[str, ...] = tuple(p.name for p in PROJECTIONS)


# ----------------------------------------------------------------------------- time


def at(seconds: float = 0) -> datetime:
    """``T0`` plus some seconds."""
    return T0 + timedelta(seconds=seconds)


def ts(seconds: float = 0) -> str:
    """Venue time ``T0 + seconds`` as the ISO text messages carry."""
    return format_timestamp(at(seconds))


@dataclass
class Clock:
    """A controllable ledger clock (``OrderLedger(clock=...)``): returns ``now`` until moved."""

    now: datetime = field(default_factory=lambda: T0 + timedelta(hours=1))

    def __call__(self) -> datetime:
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment


# ----------------------------------------------------------------------------- messages


def request(
    client_order_id: str,
    *,
    seconds: float = 0,
    account: str = "acc",
    venue: str = "V",
    instrument: str = "BTC-USDT",
    side: str = "buy",
    quantity: str = "10",
    price: str | None = "100",
    order_type: str = "limit",
    **extra: Any,
) -> dict[str, Any]:
    """A request (limit buy of 10 BTC-USDT at 100 on venue V by default)."""
    message: dict[str, Any] = {
        "type": "request",
        "client_order_id": client_order_id,
        "account": account,
        "venue": venue,
        "instrument": instrument,
        "side": side,
        "order_type": order_type,
        "quantity": quantity,
        "ts": ts(seconds),
    }
    if price is not None:
        message["price"] = price
    message.update(extra)
    return message


def fact(
    kind: str, client_order_id: str | None = None, *, seconds: float = 0, **fields: Any
) -> dict[str, Any]:
    """Any non-request fact, addressed by client order ID or (with ``venue=``) by venue identity."""
    message: dict[str, Any] = {"type": kind}
    if client_order_id is not None:
        message["client_order_id"] = client_order_id
    message.update(fields)
    message["ts"] = ts(seconds)
    return message


def fill(
    client_order_id: str | None,
    trade_id: str,
    quantity: str,
    price: str = "100",
    *,
    seconds: float = 0,
    **fields: Any,
) -> dict[str, Any]:
    """One execution."""
    return fact(
        "fill",
        client_order_id,
        seconds=seconds,
        trade_id=trade_id,
        quantity=quantity,
        price=price,
        **fields,
    )


def line(message: dict[str, Any]) -> str:
    """One JSON line."""
    return json.dumps(message, separators=(",", ":"))


def lines(*messages: dict[str, Any] | str) -> list[str]:
    """JSON lines; strings are passed through untouched (for deliberately broken lines)."""
    return [m if isinstance(m, str) else line(m) for m in messages]


def scrambled(messages: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """Swap random neighbours: facts overtake acks and requests (parked), cancels overtake fills."""
    rng = random.Random(seed)
    result = list(messages)
    i = 0
    while i < len(result) - 1:
        if rng.random() < 0.35:
            result[i], result[i + 1] = result[i + 1], result[i]
            i += 1
        i += 1
    return result


# ----------------------------------------------------------------------------- the store


def store_state(ledger: OrderLedger) -> dict[str, Any]:
    """What a reader of the raw tables sees: row counts, last IDs, the journal and identities."""
    with ledger.db.read() as tx:
        return {
            "events": tx.one("SELECT COUNT(*) FROM events")[0],
            "max_notification_id": tx.one("SELECT MAX(notification_id) FROM events")[0],
            "messages": [
                tuple(_plain(v) for v in r)
                for r in tx.all(
                    "SELECT message_id, origin, line_no, raw, outcome, reason, client_order_id,"
                    " event_count FROM messages ORDER BY message_id"
                )
            ],
            "identities": sorted(
                tuple(r) for r in tx.all("SELECT venue, kind, value, client_order_id FROM identities")
            ),
            "parked": sorted(int(r[0]) for r in tx.all("SELECT message_id FROM parked")),
        }


def event_count(ledger: OrderLedger) -> int:
    """Rows in the events table."""
    with ledger.db.read() as tx:
        return int(tx.one("SELECT COUNT(*) FROM events")[0])


@dataclass(frozen=True)
class JournalRow:
    """One row of the messages table, as the tests read it."""

    message_id: int
    origin: str
    line_no: int | None
    raw: bytes
    outcome: str
    reason: str | None
    client_order_id: str | None
    event_count: int


def journal(ledger: OrderLedger) -> list[JournalRow]:
    """Every journal row, in arrival order."""
    with ledger.db.read() as tx:
        rows = tx.all(
            "SELECT message_id, origin, line_no, raw, outcome, reason, client_order_id, event_count"
            " FROM messages ORDER BY message_id"
        )
    return [JournalRow(int(r[0]), r[1], r[2], bytes(r[3]), r[4], r[5], r[6], int(r[7])) for r in rows]


def _plain(value: Any) -> Any:
    return bytes(value) if isinstance(value, memoryview | bytearray) else value


def read_log(ledger: OrderLedger, chunk: int = 10_000, start: int = 1) -> list[tuple[int, OrderEvent]]:
    """The log from ``start`` as (notification ID, event), read the way an eventsourcing follower would."""
    recorder = ledger.recorder
    decode = ledger.mapper.decode
    result: list[tuple[int, OrderEvent]] = []
    while True:
        batch = recorder.select_notifications(start, chunk)
        if not batch:
            return result
        result.extend((n.id, decode(n.topic, n.state, n.originator_id, n.originator_version)) for n in batch)
        start = batch[-1].id + 1


def fact_of(event: OrderEvent) -> tuple[str, str, str]:
    """(client order ID, event type, trade ID): what the ledger must store once."""
    return (event.client_order_id, event.type_name(), str(getattr(event, "trade_id", "")))


def facts(ledger: OrderLedger) -> Counter[tuple[str, str, str]]:
    """(client order ID, event type, trade ID) of every stored event, with multiplicity."""
    return Counter(fact_of(event) for _, event in read_log(ledger))


def event_signatures(ledger: OrderLedger) -> list[dict[str, Any]]:
    """Every event in log order, as JSON data without the recording clock."""
    return [
        event.model_dump(mode="json", exclude={"ts_recorded", "originator_id"})
        for _, event in read_log(ledger)
    ]


# ----------------------------------------------------------------------------- views


def _sort_key(spec: TableSpec[Any, Any], row: tuple[Any, ...]) -> tuple[Any, ...]:
    names = [c.name for c in spec.columns]
    return tuple(row[names.index(k)] for k in spec.key)


def view_rows(ledger: OrderLedger) -> dict[str, list[tuple[Any, ...]]]:
    """The raw rows of every view table (SELECT * ORDER BY the primary key), sorted alike everywhere."""
    result = {}
    with ledger.db.read() as tx:
        for spec in VIEW_SPECS:
            rows = tx.all(f"SELECT * FROM {spec.name} ORDER BY {', '.join(spec.key)}")
            # PostgreSQL orders text by its collation: sort in Python so that backends compare.
            result[spec.name] = sorted((tuple(r) for r in rows), key=functools.partial(_sort_key, spec))
    return result


def folded_rows(ledger: OrderLedger) -> dict[str, list[tuple[Any, ...]]]:
    """What every view table must hold: a fresh pure fold of the whole log, as rows."""
    log = read_log(ledger)
    result = {}
    for projection_class in PROJECTIONS:
        tables = fold(projection_class(), log)
        for spec in projection_class.tables:
            rows = [spec.to_row(value) for value in tables[spec.name].rows.values()]
            result[spec.name] = sorted(rows, key=functools.partial(_sort_key, spec))
    return result


def tracking(ledger: OrderLedger) -> dict[str, int]:
    """Each view's tracking position, read from the database."""
    return ledger.views.positions()


def assert_views_equal_fold(ledger: OrderLedger) -> None:
    """Every view table equals a fresh fold of the log, and every view tracks the log's end."""
    rows = view_rows(ledger)
    expected = folded_rows(ledger)
    for name in expected:
        assert rows[name] == expected[name], f"{name} differs from a fresh fold of the log"
    last = ledger.recorder.max_notification_id() or 0
    assert tracking(ledger) == dict.fromkeys(VIEW_NAMES, last)


# ----------------------------------------------------------------------------- databases


@contextlib.contextmanager
def separate_database(backend: str, tmp_path: Path, name: str) -> Iterator[str]:
    """A second, empty database on the same backend (its own file or PostgreSQL schema)."""
    if backend == "memory":
        yield "memory://"
    elif backend == "sqlite":
        yield f"sqlite:///{tmp_path / f'{name}.db'}"
    else:
        with private_schema(f"ol_test_{name}") as url:
            yield url


@contextlib.contextmanager
def opened(url: str, **kwargs: Any) -> Iterator[OrderLedger]:
    """An OrderLedger closed at the end of the block."""
    ledger = OrderLedger(url, **kwargs)
    try:
        yield ledger
    finally:
        ledger.close()
