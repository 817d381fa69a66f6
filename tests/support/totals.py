"""Filled totals a venue reports of one order over its reports, in venue time, for properties
of fills inferred one per total (``adapters.tradier.cumulative``)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import strategies as st

FILLINGS = ("never", "grows", "repeats", "falls")


@st.composite
def totals(
    draw: st.DrawFn, reports: int, unit: Decimal, fillings: tuple[str, ...] = FILLINGS
) -> list[Decimal]:
    """The totals of ``reports`` reports, as one of ``fillings`` moves them: never off zero;
    ``unit`` more at each report; 0, 1 or 2 units more at each (a total later reports repeat,
    perhaps from the first on); or 2 units less to 2 more at each, never below zero (a total
    below one reported earlier is a bust the ledger lacks: reported, and the fills stay those
    of the highest total so far, docs/reconciliation.md)."""
    filling = draw(st.sampled_from(fillings), label="filling")
    if filling == "never":
        return [Decimal(0)] * reports
    if filling == "grows":
        return [unit * n for n in range(1, reports + 1)]
    low = -2 if filling == "falls" else 0
    steps = draw(st.lists(st.integers(low, 2), min_size=reports, max_size=reports))
    shown, total = [], 0
    for step in steps:
        total = max(total + step, 0)
        shown.append(unit * total)
    return shown
