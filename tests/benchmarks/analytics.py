"""Analytics at columnar speed: the lake's export and the execution-quality report over a
10M-event simulated history, each beside the ledger's own way of answering in the same run.

    .venv/bin/python tests/benchmarks/analytics.py [--events 10000000] [--build-only]

The history is the simulator's sessions (``orderledger simulate``, 100,000 orders each, each
session's IDs tagged apart), ingested in bulk through the ledger's own write path
(``OrderLedger.ingest_lines``) into one SQLite file, built once and kept under
``$ORDERLEDGER_BENCH_DIR`` (default ``/work/bench/analytics``) as ``history-EVENTS.db``
(written as ``.partial`` and renamed when whole, so an interrupted build is never mistaken for a
history). Measured, in one run:

- **export**: ``export_lake`` into an empty directory (ADBC → Arrow → DuckDB → Parquet), in events
  per second, beside the ledger's ``export events --format parquet`` path (rows through Python)
  over the first ``BASELINE_EVENTS`` events;
- **execution quality** by venue and strategy over every order: from the lake, from the store
  (ADBC read + DuckDB), and beside them the same figures (fill ratio, slippage against the limit,
  fee bps, maker share: what the views hold) computed in Python over the views' rows
  (``iter_orders`` and ``iter_trades``).
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from orderledger.domain.order import order_id_for  # noqa: E402
from orderledger.infrastructure.application.ledger import OrderLedger  # noqa: E402
from orderledger.infrastructure.application.simulator import simulate_lines  # noqa: E402
from orderledger.infrastructure.audit.search import export_rows  # noqa: E402
from orderledger.infrastructure.results.filter import Filter  # noqa: E402
from orderledger.infrastructure.storage.mapper import IndexedStoredEvent  # noqa: E402

SESSION_ORDERS = 100_000
BASELINE_EVENTS = 100_000
BY = "venue,tag:strategy"


def _folder() -> Path:
    folder = Path(os.environ.get("ORDERLEDGER_BENCH_DIR", "/work/bench/analytics"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _whole(partial: Path, path: Path) -> Path:
    """Rename a finished build into place (its SQLite side files gone first)."""
    for suffix in ("-wal", "-shm", "-checked"):
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
    partial.rename(path)
    return path


def base() -> Path:
    """One simulated session of ``SESSION_ORDERS`` orders ingested with its views (~378,000 events)."""
    path = _folder() / "base.db"
    if not path.exists():
        partial = path.with_name("base.db.partial")
        with OrderLedger(f"sqlite:///{partial}") as ledger:
            ledger.ingest_lines(simulate_lines(7, SESSION_ORDERS, tag="s0"))
        _whole(partial, path)
    return path


def history(events: int) -> Path:
    """The cached history of at least ``events`` events: the base session, then copies of its
    events under new client order IDs (``ID.k``), appended through the ledger's own bulk write
    path (``LedgerRecorder.insert_events``: the same rows, payloads and hash chain as ingest
    writes); the views are refolded once after (``main``), as the lake's P&L table reads them."""
    source = base()
    path = _folder() / f"history-{events}.db"
    if path.exists():
        return path
    partial = path.with_name(f"{path.name}.partial")  # a build stopped part way resumes from it
    if not partial.exists():
        shutil.copyfile(source, partial)
    started = time.perf_counter()
    with OrderLedger(f"sqlite:///{source}", project=False) as original, original.db.read() as tx:
        rows = [
            (str(r[0]).encode(), r[1], int(r[2]), r[3], bytes(r[4]), *r[5:])
            for r in tx.all(
                "SELECT client_order_id, originator_id, originator_version, topic, state, event_type,"
                " account, venue, instrument, ts_event, ts_recorded, source FROM events"
                " WHERE client_order_id <> '' ORDER BY notification_id"
            )
        ]
    with OrderLedger(f"sqlite:///{partial}", project=False) as ledger:
        done = ledger.log_position() - len(rows)
        for copy in itertools.count(1 + -(-done // len(rows))):
            if ledger.log_position() >= events:
                break
            batch: list[IndexedStoredEvent] = []
            for (
                coid,
                _,
                version,
                topic,
                state,
                kind,
                account,
                venue,
                instrument,
                ts_event,
                recorded,
                src,
            ) in rows:
                new = f"{coid.decode()}.{copy}"
                quoted = b'"client_order_id":"' + coid + b'"'
                batch.append(
                    IndexedStoredEvent(
                        originator_id=order_id_for(new),
                        originator_version=version,
                        topic=topic,
                        state=state.replace(quoted, b'"client_order_id":"' + new.encode() + b'"', 1),
                        event_type=kind,
                        client_order_id=new,
                        account=account,
                        venue=venue,
                        instrument=instrument,
                        ts_event=ts_event,
                        ts_recorded=recorded,
                        source=src,
                    )
                )
                if len(batch) >= 50_000:
                    ledger.recorder.insert_events(batch)
                    batch = []
            ledger.recorder.insert_events(batch)
            took = time.perf_counter() - started
            print(f"  history: {ledger.log_position():,} events, {took:.0f} s", file=sys.stderr, flush=True)
    return _whole(partial, path)


def timed(call: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def views_report(ledger: OrderLedger) -> dict[tuple[str, str], dict[str, float]]:
    """Fill ratio, slippage vs limit, fee bps and maker share by venue and strategy, computed in
    Python over the views' rows (orders and trades): the ledger's own way before the lake."""
    sums: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    orders: dict[str, tuple[tuple[str, str], int, Decimal | None]] = {}
    for order in ledger.iter_orders(Filter()):
        key = (order.venue, order.tags.get("strategy", ""))
        sign = -1 if order.side.value == "sell" else 1
        orders[order.client_order_id] = (key, sign, order.price)
        bucket = sums[key]
        bucket["quantity"] += order.quantity
        bucket["filled"] += order.filled_quantity
    for trade in ledger.iter_trades(Filter()):
        key, sign, limit = orders[trade.client_order_id]
        bucket = sums[key]
        notional = trade.quantity * trade.price
        bucket["notional"] += notional
        bucket["fees"] += trade.fee or 0
        if trade.liquidity is not None and trade.liquidity.value == "maker":
            bucket["maker"] += trade.quantity
        if limit:
            bucket["cost"] += sign * (notional - limit * trade.quantity)
            bucket["base"] += limit * trade.quantity
    return {
        key: {
            "fill_ratio": float(b["filled"] / b["quantity"]),
            "slippage_vs_limit_bps": float(b["cost"] / b["base"] * 10_000) if b["base"] else 0.0,
            "fee_bps": float(b["fees"] / b["notional"] * 10_000) if b["notional"] else 0.0,
            "maker_share": float(b["maker"] / b["filled"]) if b["filled"] else 0.0,
        }
        for key, b in sums.items()
    }


class _Calls:
    """Python function calls counted while it is set (every thread started meanwhile too): the
    export's Python work does not grow with the events, the count says it."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            self.count += 1

    def __enter__(self) -> _Calls:
        sys.setprofile(self)
        threading.setprofile(self)
        return self

    def __exit__(self, *_: object) -> None:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]


def _lake_and_store(
    ledger: OrderLedger, work: Path, rounds: int
) -> tuple[float, list[float], float, list[Any]]:
    cpu = time.process_time()
    with _Calls() as calls:
        export_s, report = timed(lambda: ledger.analytics.export_lake(work))
    cpu = time.process_time() - cpu
    events = ledger.log_position()
    print(
        f"  export_lake: {export_s:.1f} s, {events / export_s:,.0f} events/s; rows {report.rows};"
        f" {cpu:.1f} CPU-s on every core ({events / cpu:,.0f} events per CPU-second,"
        f" {cpu / events * 1e6:.2f} CPU-s a million events); {calls.count:,} Python calls"
        f" ({calls.count / events:.3f} an event); load average now {os.getloadavg()[0]:.1f}"
    )
    lake_s = [timed(lambda: ledger.analytics.execution_quality(by=BY, lake=work))[0] for _ in range(rounds)]
    store_s, rows = timed(lambda: ledger.analytics.execution_quality(by=BY))
    orders = sum(r.orders for r in rows)
    print(f"  execution quality by {BY}, {orders:,} orders:")
    print(
        f"    from the lake's orders (DuckDB over Parquet): median {statistics.median(lake_s):.2f} s of {lake_s}"
    )
    print(f"    from the store (ADBC → Arrow → DuckDB, every event): {store_s:.2f} s")
    return export_s, lake_s, store_s, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--events", type=int, default=int(os.environ.get("ORDERLEDGER_ANALYTICS_EVENTS", 10**7))
    )
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--db", type=Path, help="Measure this SQLite ledger instead of the cached history.")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    db = args.db or history(args.events)
    if args.build_only:
        return
    work = Path(tempfile.mkdtemp(prefix="analytics-bench-"))
    try:
        with OrderLedger(f"sqlite:///{db}", project=False, create=False) as ledger:
            if ledger.upkeep.views_position() < ledger.log_position():
                # The copies are appended without their views, and the lake's P&L table reads
                # the views (as a user's ledger, whose ingest keeps them current): refold them
                # once, kept in the cached history, outside what is measured.
                print(
                    f"views at {ledger.upkeep.views_position():,} of {ledger.log_position():,}: rebuilding them once"
                )
                ledger.upkeep.rebuild(jobs=2)
            print(f"history: {ledger.log_position():,} events ({db}); load average {os.getloadavg()}")
            _lake_and_store(ledger, work / "history", args.rounds)
        # The views' answer and the Python export are measured on the base session, beside the
        # lake's (folding the views' rows of the whole history in Python would take an hour).
        with OrderLedger(f"sqlite:///{base()}", create=False) as ledger:
            events = ledger.log_position()
            print(f"base session with its views: {events:,} events")
            export_s, lake_s, _, rows = _lake_and_store(ledger, work / "base", args.rounds)
            found = (
                row.to_json() for row in itertools.islice(ledger.audit.iter_events(Filter()), BASELINE_EVENTS)
            )
            base_s, count = timed(lambda: export_rows(found, "parquet", work / "events.parquet"))
            print(
                f"  export events --format parquet (rows through Python), first {count:,}: {base_s:.1f} s,"
                f" {count / base_s:,.0f} events/s; lake / Python = {(events / export_s) / (count / base_s):.1f}×"
            )
            views_s, from_views = timed(lambda: views_report(ledger))
            print(
                f"  the views' rows in Python (fill ratio, slippage vs limit, fee bps, maker share):"
                f" {views_s:.2f} s; views / lake = {views_s / statistics.median(lake_s):.0f}×"
            )
            for row in rows[:2]:
                key = (str(row.group["venue"]), str(row.group["tag:strategy"]))
                print(
                    f"    {key}: DuckDB fill ratio {row.fill_ratio:.6f}, views {from_views[key]['fill_ratio']:.6f}"
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
