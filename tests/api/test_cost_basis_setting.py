"""A ledger's cost-basis rule in Python (sync and asyncio) on every backend: set at creation,
kept across reopening, changed only by ``set_cost_basis``, and what positions and P&L read."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from orderledger import AsyncOrderLedger, InvalidInputError, OrderLedger
from tests.support.cost_basis import SESSION


def _realized(ledger: OrderLedger) -> Decimal:
    (row,) = ledger.positions()
    return row.realized_pnl


def test_the_rule_is_kept_with_the_ledger(ledger_url: str, backend: str) -> None:
    # SESSION: buys of 1 @ 100, 140, 120, 110, then a sell of 2 @ 130. Realized by hand: FIFO
    # (130 − 100) + (130 − 140) = 20; LIFO (130 − 110) + (130 − 120) = 30; HIFO (130 − 140) +
    # (130 − 120) = 0; average (130 − 470 / 4) × 2 = 25.
    with OrderLedger(ledger_url) as ledger:
        assert ledger.analytics.cost_basis() == "average"  # none stored: a ledger from before reads so
        assert ledger.upkeep.init_database(cost_basis="fifo")[-1] == "positions and P&L use cost basis fifo"
        ledger.ingest_lines(SESSION)
        assert (ledger.analytics.cost_basis(), _realized(ledger)) == ("fifo", 20)
        assert [Decimal(r.realized_pnl) for r in ledger.pnl()] == [20]
        with pytest.raises(InvalidInputError, match="already has events under fifo"):
            ledger.upkeep.init_database(cost_basis="lifo")
        with pytest.raises(InvalidInputError, match="cost basis 'LIFO': expected one of"):
            ledger.analytics.set_cost_basis("LIFO")
        assert ledger.analytics.set_cost_basis("lifo") == "fifo"
        assert _realized(ledger) == 30
        assert ledger.positions(cost_basis="hifo")[0].realized_pnl == 0  # a query's rule wins
    if backend == "memory":
        return  # nothing to reopen
    with OrderLedger(ledger_url, create=False) as reopened:
        assert (reopened.analytics.cost_basis(), _realized(reopened)) == ("lifo", 30)

        async def use() -> tuple[str, str, Decimal]:
            async with AsyncOrderLedger(ledger=reopened) as wrapped:
                previous = await wrapped.analytics.set_cost_basis("average")
                (row,) = await wrapped.positions()
                return previous, await wrapped.analytics.cost_basis(), row.realized_pnl

        assert asyncio.run(use()) == ("lifo", "average", 25)
