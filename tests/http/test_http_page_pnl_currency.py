"""The page's P&L tab in one desk currency (docs/risk.md, "P&L in one currency"), in real
Chromium over a real server: the realized P&L by day in its two P&L currencies, then in USD
once both rates are recorded, and the refusal in one line while one is missing.

The desk (tests/support/desk_currency.py): 12.5 USDT and 3 USDC realized on 2026-11-20; the
marks USDT/USD 0.999 and USDC-USD 1.0002 make 12.5 × 0.999 + 3 × 1.0002 = 12.4875 + 3.0006 =
15.4881 USD.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from tests.support.browser import require_browser
from tests.support.desk_currency import DESK_USD, NO_USDC_RATE, USDC_MARK, USDT_MARK, fills
from tests.support.http_api import Server, running_server, wait_until
from tests.support.page import enter, live_page, tab, texts


@pytest.fixture()
def server(tmp_path: Any) -> Iterator[Server]:
    require_browser()
    with running_server(f"sqlite:///{tmp_path / 'desk.db'}") as running:
        # Given the desk's four trades and the USDT/USD mark (no USDC rate yet)
        _post(running, [*fills(), USDT_MARK])
        yield running


def _post(server: Server, messages: list[dict[str, Any]]) -> None:
    response = httpx2.post(f"{server.url}/messages", json=messages)
    assert response.status_code == 200, response.text
    assert response.json()["counts"]["applied"] == len(messages), response.text


def _pnl(browser: Any) -> list[tuple[str, ...]]:
    """Each row of the grouped P&L as (its P&L currency, its realized P&L as shown, its exact
    value), read in one script (a refresh replaces the table whole). A figure past the
    currency's places is shown rounded and marked, the exact value in its title."""
    found: list[list[str]] = browser.execute_script(
        "return [...document.querySelectorAll('#pnl-table tbody tr')].map((row) => {"
        "  const pnl = row.querySelector('td[data-col=realized_pnl]');"
        "  const exact = pnl.querySelector('.rounded');"
        "  return [row.querySelector('td[data-col=pnl_currency]').textContent, pnl.textContent,"
        "          exact ? exact.title : pnl.textContent];"
        "});"
    )
    return [tuple(row) for row in found]


def test_the_pnl_tab_in_one_desk_currency_and_a_missing_rate_in_one_line(server: Server) -> None:
    with live_page(server) as browser:
        tab(browser, "pnl")
        # Then the day's P&L is shown in each of its currencies: 112.5 − 100 = 12.5 USDT and
        # 13 − 10 = 3 USDC
        wait_until(
            lambda: sorted(_pnl(browser)) == [("USDC", "3", "3"), ("USDT", "12.5", "12.5")],
            "the P&L as recorded",
        )
        # When it is asked in USD with no USDC rate recorded: the refusal, in one line, in the
        # table's place (a rate is never taken as 1)
        enter(browser, "#pnl-in-currency", "USD")
        wait_until(lambda: texts(browser, "#pnl-table .error"), "the refusal")
        assert texts(browser, "#pnl-table .error") == [NO_USDC_RATE]
        # When USDC-USD is marked at 1.0002 and USD is asked again: one row of
        # 12.4875 + 3.0006 = 15.4881 USD
        _post(server, [USDC_MARK])
        enter(browser, "#pnl-in-currency", "USD")
        # (USD's two places show 15.49, marked as rounded, the exact figure in its title)
        wait_until(lambda: _pnl(browser) == [("USD", "15.49…", str(DESK_USD))], "the P&L in USD")
        # And an empty field is the P&L as recorded again
        enter(browser, "#pnl-in-currency", "")
        wait_until(
            lambda: sorted(_pnl(browser)) == [("USDC", "3", "3"), ("USDT", "12.5", "12.5")],
            "the P&L as recorded",
        )
