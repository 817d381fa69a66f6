"""Filled totals a venue reports of one order over its reports, in venue time, for properties
of fills inferred one per total (``application.cumulative``)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import strategies as st

FILLINGS = ("never", "grows", "repeats")


@st.composite
def totals(
    draw: st.DrawFn, reports: int, unit: Decimal, fillings: tuple[str, ...] = FILLINGS
) -> list[Decimal]:
    """The totals of ``reports`` reports, as one of ``fillings`` moves them: never off zero;
    ``unit`` more at each report; or 0, 1 or 2 units more at each (a total later reports repeat,
    perhaps from the first on). A total never falls: a venue's total below one it reported
    earlier is a bust the ledger lacks, reported and not changed (docs/reconciliation.md)."""
    filling = draw(st.sampled_from(fillings), label="filling")
    if filling == "never":
        return [Decimal(0)] * reports
    if filling == "grows":
        return [unit * n for n in range(1, reports + 1)]
    steps = draw(st.lists(st.integers(0, 2), min_size=reports, max_size=reports))
    return [unit * sum(steps[: n + 1]) for n in range(reports)]
