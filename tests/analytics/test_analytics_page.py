"""The page's Analytics tab in a real browser (headless Chromium against a real server): it reads
GET /analytics/execution and shows one row per group with the figures the API gives.

Given: s-1 buys 2 BTC-USDT limit 100 (strategy mm) and fills 2 @ 100.10, fee 0.04004 (2 bps of
200.2); s-2 buys 1 @ 100 (strategy arb) and is rejected."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from tests.support.browser import chromium, require_browser
from tests.support.http_api import Server, fill, request, running_server, wait_until


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    require_browser()
    with running_server() as running:
        messages = [
            request("s-1", quantity="2", price="100", tags={"strategy": "mm"}),
            fill("s-1", "t-1", "2", "100.10", fee="0.04004", fee_currency="USDT"),
            request("s-2", quantity="1", price="100", tags={"strategy": "arb"}, ts="2026-11-20T10:00:04Z"),
            {"type": "rejected", "client_order_id": "s-2", "ts": "2026-11-20T10:00:05Z"},
        ]
        response = httpx2.post(f"{running.url}/messages", json=messages)
        assert response.status_code == 200, response.text
        yield running


@pytest.fixture
def browser(server: Server) -> Iterator[Any]:
    with chromium() as driver:
        driver.get(f"{server.url}/")
        yield driver


def _rows(browser: Any) -> list[list[str]]:
    return [
        [cell.text for cell in row.find_elements("css selector", "td")]
        for row in browser.find_elements("css selector", "#analytics tbody tr")
    ]


def test_the_analytics_tab_shows_execution_quality_per_group(browser: Any) -> None:
    browser.find_element("css selector", '#tabs button[data-tab="analytics"]').click()
    # the server's first whole-log read starts its reader process (DuckDB loads there): a wider bound
    wait_until(lambda: len(_rows(browser)) == 2, "the report's two groups", bound=90)
    rows = {row[0]: row for row in _rows(browser)}
    # mm (venue venue-x): 1 order, filled 2 of 2; (100.10 − 100) / 100 × 10,000 = 10.00 bps; fee 2.00 bps
    assert rows["venue-x · mm"][1:3] == ["1", "1.00"]
    assert (rows["venue-x · mm"][3], rows["venue-x · mm"][5]) == ("10.00", "2.00")
    # arb: 1 order, rejected: reject rate 1.00, nothing filled
    assert (rows["venue-x · arb"][1], rows["venue-x · arb"][2], rows["venue-x · arb"][10]) == (
        "1",
        "0.00",
        "1.00",
    )
