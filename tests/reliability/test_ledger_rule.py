"""A ledger's own cost-basis rule: what its positions and P&L say, for any arrival order of the
same fills, equals the per-query fold under that rule and the reference model of
``test_reference_model.py`` (written from docs/semantics.md alone)."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderledger.infrastructure.application.ledger import OrderLedger
from tests.support.integration import fill, request
from tests.support.reference import reference_position

RULES = ("fifo", "lifo", "hifo")


def _figures(ledger: OrderLedger, cost_basis: str | None = None) -> tuple[Fraction, Fraction]:
    rows = ledger.positions(cost_basis=cost_basis)
    if not rows:
        return Fraction(0), Fraction(0)
    (row,) = rows
    return Fraction(row.quantity), Fraction(row.realized_pnl)


@settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(RULES),
    st.lists(
        st.tuples(
            st.integers(0, 3), st.sampled_from(["buy", "sell"]), st.integers(1, 6), st.integers(95, 105)
        ),
        min_size=1,
        max_size=8,
    ),
    st.data(),
)
def test_the_ledgers_rule_gives_the_same_figures_for_any_arrival_order(
    rule: str, drawn: list[tuple[int, str, int, int]], data: st.DataObject
) -> None:
    requests = [
        request(f"o{n}", side=side, quantity=str(qty), price=None, order_type="market", seconds=second)
        for n, (second, side, qty, _) in enumerate(drawn)
    ]
    # Numeric trade IDs not in the order the fills were made: venue time, then trade ID, decides.
    fills = [
        fill(f"o{n}", str(100 - 7 * n), str(qty), str(px), seconds=second)
        for n, (second, _, qty, px) in enumerate(drawn)
    ]
    standing = [
        (second, str(100 - 7 * n), f"o{n}", Fraction(qty if side == "buy" else -qty), Fraction(px))
        for n, (second, side, qty, px) in enumerate(drawn)
    ]
    expected = reference_position(standing, rule)
    seen = []
    for arrival in (fills, data.draw(st.permutations(fills), label="arrival order")):
        with OrderLedger("memory://") as ledger:
            ledger.upkeep.init_database(cost_basis=rule)
            for message in [*requests, *arrival]:
                assert ledger.record(message).error is None
            got = _figures(ledger)
            assert got == _figures(ledger, rule)  # the per-query fold under the same rule
            seen.append(got)
    assert seen[0] == seen[1]
    assert seen[0][0] == expected[0] and abs(seen[0][1] - expected[1]) < Fraction(1, 10**20), (seen, expected)
