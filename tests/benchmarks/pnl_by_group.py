"""``pnl`` by parent or tag, in the process: from the heads whose days count each fill by its group
(``in:parent``, ``in:tag:NAME``), beside the read each made before them (under a lot rule the fold
of every fill of the log, under average every P&L entry of the view), with the answers compared.

    .venv/bin/python tests/benchmarks/pnl_by_group.py                  # 20,000 orders
    .venv/bin/python tests/benchmarks/pnl_by_group.py --orders 100000

The base ledger is ``lot_reads.py``'s (the simulator's session, seed 3, all but its last 2,000
lines and one fill; under ``$ORDERLEDGER_BENCH_DIR``), copied. For each rule (FIFO, then the
ledger's own average) and grouping: the read before (best of ``--rounds``), the first read from
the heads (which folds the log's fills and stores them), the read from the stored heads (best of
``--rounds``), and, after the 2,000 lines are ingested, the read that folds only them.
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from orderledger.infrastructure.application.ledger import OrderLedger  # noqa: E402
from orderledger.infrastructure.application.reads import order_figures  # noqa: E402
from orderledger.infrastructure.application.reads.view_queries import (  # noqa: E402
    cash_flows_by,
    grouped_pnl,
    order_parents,
    pnl_rows,
    recorded_rates,
)
from tests.support.bench import best_of, lot_bench_arguments, lot_ledger_copy  # noqa: E402

GROUPINGS = ("parent", "tag:strategy")
RULES = ("fifo", "average")


def folded(ledger: OrderLedger, by: str, rule: str) -> list[Any]:
    """``pnl`` by parent or tag under a lot rule as it was read before the heads kept it: every
    fill of the log folded in its account book, counted for its group."""
    fills = [f for b in order_figures.rule_books(ledger, rule, None, False).values() for f in b.fills]
    parents = order_parents(ledger.db) if by == "parent" else {}
    tag = by[4:] if by.startswith("tag:") else None

    def group(f: Any) -> Any:
        return f.tags.get(tag) if tag is not None else parents.get(f.client_order_id)

    return grouped_pnl(
        by,
        ((group(f), f.realized, f.fee, f.fee_currency, f.pnl_currency, 1, f) for f in fills),
        cash_flows_by(ledger.db, by),
        recorded_rates(ledger.db, fills),
    )


def entries(ledger: OrderLedger, by: str) -> list[Any]:
    """``pnl`` by parent or tag on an average-cost ledger as it was read before: every P&L entry
    of the view (less the rows of groups where nothing stands, which no head holds)."""
    return [r for r in pnl_rows(ledger.db, by) if r.fills or r.realized_pnl or r.fees or r.funding]


def earlier(ledger: OrderLedger, by: str, rule: str) -> list[Any]:
    """The read before the heads: the fold (a lot rule) or the entries (average)."""
    return entries(ledger, by) if rule == "average" else folded(ledger, by, rule)


def heads(ledger: OrderLedger, by: str, rule: str) -> list[Any]:
    """``pnl`` as the ledger reads it (average: its own rule, no ``cost_basis`` named)."""
    return ledger.pnl(by=by, cost_basis=None if rule == "average" else rule)


def main(argv: list[str] | None = None) -> int:
    args = lot_bench_arguments(__doc__, argv)
    with lot_ledger_copy(args.orders, "pnl-by-group-") as (ledger, tail):
        print(f"{args.orders:,} orders, {ledger.log_position():,} events")
        print(
            f"{'rule':<8} {'--by':<13} {'before ms':>10} {'first ms':>9} {'stored ms':>10} {'rows':>5}  same"
        )
        for rule in RULES:
            for by in GROUPINGS:
                before, expected = best_of(partial(earlier, ledger, by, rule), args.rounds)
                first, _ = best_of(partial(heads, ledger, by, rule))
                stored, answer = best_of(partial(heads, ledger, by, rule), args.rounds)
                same = "yes" if answer == expected else "NO"
                print(
                    f"{rule:<8} {by:<13} {before:>10.1f} {first:>9.1f} {stored:>10.2f} {len(answer):>5}  {same}"
                )
        ledger.ingest_lines(tail)
        for rule in RULES:
            for by in GROUPINGS:
                new, answer = best_of(partial(heads, ledger, by, rule))
                same = "yes" if answer == earlier(ledger, by, rule) else "NO"
                print(f"after 2,000 more lines: {rule} by {by}: {new:.1f} ms, same: {same}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
