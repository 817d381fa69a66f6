"""``GET /pnl?in_currency=`` and ``GET /positions?in_currency=`` over a real server on SQLite and
PostgreSQL: the P&L in USDT and USDC as one USD figure at the recorded marks; a missing mark is a
problem document naming the pair (tests/support/desk_currency.py works the figures by hand)."""

from __future__ import annotations

import httpx2
import pytest

from tests.support.desk_currency import BTC_USD, DESK_USD, ETH_USD, NO_USDC_RATE, USDC_MARK, USDT_MARK, fills
from tests.support.http_api import BOUND, assert_problem, running_server


@pytest.fixture(params=("sqlite", "postgres"))
def backend(request: pytest.FixtureRequest) -> str:
    """A server's ledger on a file backend (overrides tests/conftest.py's, which adds memory)."""
    return str(request.param)


def test_pnl_and_positions_in_one_currency_over_http(file_ledger_url: str) -> None:
    with (
        running_server(file_ledger_url) as server,
        httpx2.Client(base_url=server.url, timeout=BOUND) as client,
    ):
        # Given 12.5 USDT and 3 USDC realized on main, and only USDT/USD marked
        assert client.post("/messages", json=[*fills(), USDT_MARK]).status_code == 200
        # Then the P&L in USD is a problem naming the missing pair
        refused = client.get("/pnl", params={"by": "account", "in_currency": "USD"})
        assert assert_problem(refused, 400, NO_USDC_RATE)["detail"] == NO_USDC_RATE
        # When USDC-USD is marked too
        assert client.post("/messages", json=USDC_MARK).status_code == 200
        # Then main's P&L is one USD row: 12.4875 + 3.0006 = 15.4881
        [row] = client.get("/pnl", params={"by": "account", "in_currency": "USD"}).json()
        assert (row["account"], row["pnl_currency"], row["realized_pnl"]) == ("main", "USD", str(DESK_USD))
        # And each position's realized P&L in USD: 12.5 × 0.999 and 3 × 1.0002
        rows = client.get("/positions", params={"in_currency": "USD"}).json()
        assert [(r["instrument"], r["pnl_currency"], r["realized_pnl"]) for r in rows] == [
            ("BTC/USDT", "USD", str(BTC_USD)),
            ("ETH/USDC", "USD", str(ETH_USD)),
        ]
