"""The P&L tab's series (``pnl_series``, ``GET /pnl/series?points=N``), in the process: the read
as the contract walks it (every entry read and its time parsed, sorted and added one by one:
``tests/support/series.walked_series``) beside the series from the running sums kept per entry
(``application.reads.pnl_run_slices``: what the page reads), the series from the view's entries (the read
where the sums cannot be kept), and a plain ``SELECT`` of the entry rows rendered with orjson
(the storage's own speed), with the answers compared.

    .venv/bin/python tests/benchmarks/pnl_series.py                  # 20,000 orders
    .venv/bin/python tests/benchmarks/pnl_series.py --orders 100000 --points 500 50 5000

The base ledger is ``lot_reads.py``'s (the simulator's session, seed 3, all but its last 2,000
lines and one fill; under ``$ORDERLEDGER_BENCH_DIR``), copied. The first read sums every entry
and keeps the sums (timed once); then each read best of ``--rounds``; then the 2,000 lines are
ingested (new fills), and the page's series read again: the first read after them (which sums
the new entries) and the next.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from orderledger.infrastructure.application.ledger import OrderLedger  # noqa: E402
from orderledger.infrastructure.application.reads.pnl_series import realized_series  # noqa: E402
from orderledger.infrastructure.storage import pnl_runs  # noqa: E402
from tests.support.bench import best_of, lot_ledger_copy  # noqa: E402
from tests.support.series import walked_series  # noqa: E402

ENTRIES = (
    "SELECT position, ts_event, account, venue, instrument, quote_currency, realized"
    " FROM pnl_entries_view ORDER BY position"
)


def plain(ledger: OrderLedger) -> bytes:
    """The entry rows the walk reads, straight from the storage, as JSON."""
    with ledger.db.read() as tx:
        return orjson.dumps(tx.all(ENTRIES))


def same(one: list[Any], other: list[Any]) -> str:
    """Equal rows, and equal as JSON (every amount's digits)."""
    return "yes" if one == other and [r.to_json() for r in one] == [r.to_json() for r in other] else "NO"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=20_000, help="orders in the session (default 20,000)")
    parser.add_argument("--rounds", type=int, default=3, help="reads of each, the best kept (default 3)")
    parser.add_argument(
        "--points", type=int, nargs="*", default=[500], help="slices (default 500: the page's)"
    )
    args = parser.parse_args(argv)
    with lot_ledger_copy(args.orders, "pnl-series-") as (ledger, tail):
        with ledger.db.read() as tx:
            entries = tx.one("SELECT count(*) FROM pnl_entries_view")[0]
        print(f"{args.orders:,} orders, {ledger.log_position():,} events, {entries:,} P&L entries")
        storage, _ = best_of(partial(plain, ledger), args.rounds)
        print(f"plain SELECT of the {entries:,} entry rows + orjson: {storage:.1f} ms")
        points = args.points[0]
        with ledger.db.write() as tx:
            pnl_runs.forget(tx)
        first, _ = best_of(partial(realized_series, ledger.db, points), 1)
        print(f"the first read, {points:,} points, summing every entry and keeping the sums: {first:.1f} ms")
        print(f"{'points':>7} {'walk ms':>8} {'view ms':>8} {'kept ms':>8} {'rows':>7}  same")
        for points in [*args.points, None]:
            before, expected = best_of(partial(walked_series, ledger.db, points), args.rounds)
            view, read = best_of(partial(realized_series, ledger.db, points, keep=False), args.rounds)
            now, answer = best_of(partial(realized_series, ledger.db, points), args.rounds)
            shown = "all" if points is None else f"{points:,}"
            agree = same(answer, expected) if same(read, expected) == "yes" else "NO (view)"
            print(f"{shown:>7} {before:>8.1f} {view:>8.1f} {now:>8.1f} {len(answer):>7,}  {agree}")
        ledger.ingest_lines(tail)
        points = args.points[0]
        caught, _ = best_of(partial(realized_series, ledger.db, points), 1)
        before, expected = best_of(partial(walked_series, ledger.db, points), args.rounds)
        now, answer = best_of(partial(realized_series, ledger.db, points), args.rounds)
        print(
            f"after 2,000 more lines, {points:,} points: walk {before:.1f} ms, the first read (summing"
            f" the new entries) {caught:.1f} ms, then {now:.1f} ms, {len(answer):,} rows,"
            f" same: {same(answer, expected)}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
