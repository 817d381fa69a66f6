"""``lots --as-of``, ``lots --closed --as-of`` and ``positions --cost-basis fifo --as-of``, in the
process: from the stored heads, their marks and the closed lots kept with them, beside the fold
of the log's events up to the moment that each such read made before them, with the answers
compared.

    .venv/bin/python tests/benchmarks/lots_as_of.py                    # 20,000 orders
    .venv/bin/python tests/benchmarks/lots_as_of.py --orders 100000

The base ledger is ``lot_reads.py``'s (the simulator's session, seed 3, all but its last 2,000
lines and one fill; under ``$ORDERLEDGER_BENCH_DIR``), copied. The first ``lots`` read folds the
log's fills into the heads and stores them with every mark, and the first ``lots --closed`` read
the heads that keep their closed lots, with theirs (each timed once, with the rows and bytes).
Then, for moments at 1 %, 10 %, 50 %, 90 % and 99 % of the log (the recorded time of the event at
that place, and its venue time with ``event_time``): the open lots and positions folded (best of
``--rounds``) and read from the heads and marks (best of ``--rounds``), and the closed lots the
same; and once more after the 2,000 lines are ingested, for the moment at 99 %.
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
from orderledger.infrastructure.application.ledger import OrderLedger  # noqa: E402
from orderledger.infrastructure.application.reads import order_figures  # noqa: E402
from orderledger.infrastructure.application.reads.view_queries import position_rows  # noqa: E402
from orderledger.infrastructure.results.positions import LotRow  # noqa: E402
from tests.support.bench import best_of, lot_bench_arguments, lot_ledger_copy  # noqa: E402

RULE = "fifo"
PLACES = (0.01, 0.10, 0.50, 0.90, 0.99)


def folded(ledger: OrderLedger, moment: datetime, event_time: bool) -> tuple[list[Any], list[Any]]:
    """Open lots and positions as of ``moment`` as the two reads made them before the marks:
    each a fold of the log's fill events up to it."""
    books = order_figures.rule_books(ledger, RULE, moment, event_time)
    lots = [LotRow.of_open(RULE, lot) for b in books.values() for lot in b.open]
    books = order_figures.rule_books(ledger, RULE, moment, event_time)
    paid = [(key, f) for key, b in books.items() for f in b.fills]
    rows = position_rows(
        ledger.db, [b.position for b in books.values()], {}, as_of=moment, event_time=event_time, paid=paid
    )
    return lots, rows


def marked(ledger: OrderLedger, moment: datetime, event_time: bool) -> tuple[list[Any], list[Any]]:
    """The same, as the ledger's two reads answer it now (from the heads and their marks)."""
    lots = list(ledger.analytics.lots(cost_basis=RULE, as_of=moment, event_time=event_time))
    return lots, list(ledger.positions(cost_basis=RULE, as_of=moment, event_time=event_time))


def folded_closed(ledger: OrderLedger, moment: datetime, event_time: bool) -> list[Any]:
    """Closed lots as of ``moment`` as the read made them before: a fold of the log's fill
    events up to it."""
    books = order_figures.rule_books(ledger, RULE, moment, event_time)
    return [LotRow.of_closed(RULE, lot) for b in books.values() for lot in b.closed]


def read_closed(ledger: OrderLedger, moment: datetime, event_time: bool) -> list[Any]:
    """The same, as the ledger answers it now (from the stored closed lots and the marks)."""
    return list(ledger.analytics.lots(cost_basis=RULE, closed=True, as_of=moment, event_time=event_time))


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
        for closed in (False, True):
            first, _ = best_of(partial(ledger.analytics.lots, cost_basis=RULE, closed=closed))
            grouping = "closed" if closed else "account"
            with ledger.db.read() as tx:
                count, size = tx.one(
                    "SELECT COUNT(*), SUM(LENGTH(mark)) FROM lot_marks WHERE rule = ? AND grouping = ?",
                    (RULE, grouping),
                )
                lots, bytes_ = tx.one(
                    "SELECT COUNT(*), SUM(LENGTH(lot)) FROM closed_lots WHERE rule = ?", (RULE,)
                )
            kept = f", {lots:,} closed lots, {bytes_:,} bytes" if closed else ""
            print(
                f"first {'lots --closed' if closed else 'lots'} read (folds the log, stores the heads and"
                f" {count:,} marks, {size:,} bytes{kept}): {first:.0f} ms"
            )
        print(
            f"{'as of':<8} {'time':<9} {'fold ms':>9} {'marks ms':>9} {'lots':>6} {'rows':>5}  same"
            f"  {'closed: fold ms':>15} {'read ms':>8} {'lots':>6}  same"
        )
        for place in PLACES:
            for event_time, moment in zip((False, True), moments(ledger, place), strict=True):
                before, expected = best_of(partial(folded, ledger, moment, event_time), args.rounds)
                now, answer = best_of(partial(marked, ledger, moment, event_time), args.rounds)
                fold_closed, closed_expected = best_of(
                    partial(folded_closed, ledger, moment, event_time), args.rounds
                )
                read, closed_answer = best_of(partial(read_closed, ledger, moment, event_time), args.rounds)
                kind = "venue" if event_time else "recorded"
                same = "yes" if answer == expected else "NO"
                same_closed = "yes" if closed_answer == closed_expected else "NO"
                print(
                    f"{place:>7.0%} {kind:<9} {before:>9.1f} {now:>9.1f} {len(answer[0]):>6} {len(answer[1]):>5}  {same:<4}"
                    f"  {fold_closed:>15.1f} {read:>8.1f} {len(closed_answer):>6}  {same_closed}"
                )
        ledger.ingest_lines(tail)
        for event_time, moment in zip((False, True), moments(ledger, PLACES[-1]), strict=True):
            now, answer = best_of(partial(marked, ledger, moment, event_time))
            same = "yes" if answer == folded(ledger, moment, event_time) else "NO"
            read, closed_answer = best_of(partial(read_closed, ledger, moment, event_time))
            same_closed = "yes" if closed_answer == folded_closed(ledger, moment, event_time) else "NO"
            kind = "venue" if event_time else "recorded"
            print(
                f"after 2,000 more lines, as of 99 % ({kind} time): {now:.1f} ms, same: {same};"
                f" closed lots {read:.1f} ms, same: {same_closed}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
