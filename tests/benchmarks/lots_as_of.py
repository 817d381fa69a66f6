"""``lots --as-of`` and ``positions --cost-basis fifo --as-of``, in the process: from the stored
heads and their marks, beside the fold of the log's events up to the moment that each such read
made before them, with the answers compared.

    .venv/bin/python tests/benchmarks/lots_as_of.py                    # 20,000 orders
    .venv/bin/python tests/benchmarks/lots_as_of.py --orders 100000

The base ledger is ``lot_reads.py``'s (the simulator's session, seed 3, all but its last 2,000
lines and one fill; under ``$ORDERLEDGER_BENCH_DIR``), copied. The first ``lots`` read folds the
log's fills into the heads and stores them with every mark (timed once, with the marks' rows and
bytes). Then, for moments at 1 %, 10 %, 50 %, 90 % and 99 % of the log (the recorded time of the
event at that place, and its venue time with ``event_time``): the fold (best of ``--rounds``) and
the read from the heads and marks (best of ``--rounds``); and once more after the 2,000 lines are
ingested, for the moment at 99 %.
"""

from __future__ import annotations

import sys
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from orderledger.domain.values import parse_timestamp  # noqa: E402
from orderledger.infrastructure.application import reads  # noqa: E402
from orderledger.infrastructure.application.ledger import OrderLedger  # noqa: E402
from orderledger.infrastructure.application.queries import position_rows  # noqa: E402
from orderledger.infrastructure.results.positions import LotRow  # noqa: E402
from tests.support.bench import best_of, lot_bench_arguments, lot_ledger_copy  # noqa: E402

RULE = "fifo"
PLACES = (0.01, 0.10, 0.50, 0.90, 0.99)


def folded(ledger: OrderLedger, moment: datetime, event_time: bool) -> tuple[list[Any], list[Any]]:
    """Open lots and positions as of ``moment`` as the two reads made them before the marks:
    each a fold of the log's fill events up to it."""
    books = reads.rule_books(ledger, RULE, moment, event_time)
    lots = [LotRow.of_open(RULE, lot) for b in books.values() for lot in b.open]
    books = reads.rule_books(ledger, RULE, moment, event_time)
    paid = [(key, f) for key, b in books.items() for f in b.fills]
    rows = position_rows(
        ledger.db, [b.position for b in books.values()], {}, as_of=moment, event_time=event_time, paid=paid
    )
    return lots, rows


def marked(ledger: OrderLedger, moment: datetime, event_time: bool) -> tuple[list[Any], list[Any]]:
    """The same, as the ledger's two reads answer it now (from the heads and their marks)."""
    lots = list(ledger.lots(cost_basis=RULE, as_of=moment, event_time=event_time))
    return lots, list(ledger.positions(cost_basis=RULE, as_of=moment, event_time=event_time))


def moments(ledger: OrderLedger, place: float) -> tuple[datetime, datetime]:
    """The recorded and the venue time of the event ``place`` of the way through the log."""
    with ledger.db.read() as tx:
        found = tx.one(
            "SELECT ts_recorded, ts_event FROM events WHERE notification_id = ?",
            (max(1, int(ledger.log_position() * place)),),
        )
    return parse_timestamp(str(found[0]), "ts_recorded"), parse_timestamp(str(found[1]), "ts_event")


def main(argv: list[str] | None = None) -> int:
    args = lot_bench_arguments(__doc__, argv)
    with lot_ledger_copy(args.orders, "lots-as-of-") as (ledger, tail):
        print(f"{args.orders:,} orders, {ledger.log_position():,} events, {RULE}")
        first, _ = best_of(partial(ledger.lots, cost_basis=RULE))
        with ledger.db.read() as tx:
            count, size = tx.one("SELECT COUNT(*), SUM(LENGTH(mark)) FROM lot_marks WHERE rule = ?", (RULE,))
        print(
            f"first read (folds the log, stores the heads and {count:,} marks, {size:,} bytes): {first:.0f} ms"
        )
        print(f"{'as of':<8} {'time':<9} {'fold ms':>9} {'marks ms':>9} {'lots':>6} {'rows':>5}  same")
        for place in PLACES:
            for event_time, moment in zip((False, True), moments(ledger, place), strict=True):
                before, expected = best_of(partial(folded, ledger, moment, event_time), args.rounds)
                now, answer = best_of(partial(marked, ledger, moment, event_time), args.rounds)
                kind = "venue" if event_time else "recorded"
                same = "yes" if answer == expected else "NO"
                print(
                    f"{place:>7.0%} {kind:<9} {before:>9.1f} {now:>9.1f} {len(answer[0]):>6} {len(answer[1]):>5}  {same}"
                )
        ledger.ingest_lines(tail)
        for event_time, moment in zip((False, True), moments(ledger, PLACES[-1]), strict=True):
            now, answer = best_of(partial(marked, ledger, moment, event_time))
            same = "yes" if answer == folded(ledger, moment, event_time) else "NO"
            kind = "venue" if event_time else "recorded"
            print(f"after 2,000 more lines, as of 99 % ({kind} time): {now:.1f} ms, same: {same}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
