"""The page's Risk & exposure tab shows each account's trading state and the limits in force,
who set each and when, beside each limit's status, in headless Chromium against a real server;
a fill and a limit set by another process on the same SQLite file move them without a reload."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2

from orderledger import OrderLedger
from tests.support.http_api import fill, request, running_server, wait_until
from tests.support.page import forget_requests, live_page, requests_made, tab

NINE = datetime(2026, 11, 20, 9, tzinfo=UTC)
SINCE = "2026-11-20T09:00:00.000000Z"


def _rows(browser: Any, table: str) -> list[list[str]]:
    # read in one script: a live refresh replaces the table whole
    rows: list[list[str]] = browser.execute_script(
        "return [...document.querySelectorAll(`#${arguments[0]} tbody tr`)]"
        ".map((row) => [...row.cells].map((cell) => cell.textContent))",
        table,
    )
    return rows


def test_the_tab_shows_the_state_and_each_limit_with_its_status(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'risk.db'}"
    with OrderLedger(url) as setup:
        # Given at most 10 BTC-USDT, orders of alpha of at most 1,000, alpha halted, 8 bought
        setup.risk_controls.set_limit("instrument", "BTC-USDT", "max_position", "10", set_by="alice",
                        reason="desk rule", ts=NINE)  # fmt: skip
        setup.risk_controls.set_limit("account", "alpha", "max_order_notional", "1000", set_by="bob", ts=NINE)
        setup.risk_controls.set_trading_state(
            "halted", account="alpha", set_by="carol", reason="flash crash", ts=NINE
        )
        # (the order as its venue reports it: a fact the risk door records whatever the state)
        setup.record(request(quantity="8", external=True))
        setup.record(fill(quantity="8"))
    with running_server(url) as server, live_page(server) as browser:
        forget_requests(browser)
        tab(browser, "exposure")
        # Then the tab shows alpha halted by carol, and each limit (sorted by scope, target, kind)
        wait_until(lambda: len(_rows(browser, "risk-limits")) == 2, "the two limits")
        assert _rows(browser, "risk-states") == [["alpha", "halted", "carol", SINCE, "", "flash crash"]]
        # 8 of 10 is 80%: near at the threshold of 0.8; the order notional limit bounds each order
        assert _rows(browser, "risk-limits") == [
            ["per order", "max_order_notional", "account", "alpha", "1000", "", "bob", SINCE, ""],
            ["near", "max_position", "instrument", "BTC-USDT", "10", "8", "alice", SINCE, "desk rule"],
        ]
        assert browser.find_element("css selector", "#exposure .bar .status").text == (
            "2 limits, 1 near or breached"
        )
        # Opening the tab read the limits' statuses and the exposure once each
        made = [path for path, _ in requests_made(browser)]
        assert made.count("/risk") == 1 and made.count("/exposure") == 1, made
        # When 3 more are bought over HTTP: 8 + 3 = 11 > 10, breached, without a reload
        more = [request("c-2", quantity="3", external=True), fill("c-2", "t-2", quantity="3")]
        assert httpx2.post(f"{server.url}/messages", json=more).status_code == 200
        wait_until(lambda: _rows(browser, "risk-limits")[1][:1] + _rows(browser, "risk-limits")[1][5:6]
                   == ["breached", "11"], "the breach")  # fmt: skip
        # And a limit set by another process (no order's event) appears: the gross exposure of
        # BTC-USDT (without a definition, its own underlying), which no mark prices: unknown, why
        # in its figure's place
        with OrderLedger(url) as other:
            other.risk_controls.set_limit(
                "underlying", "BTC-USDT", "max_gross_exposure", "50000", set_by="dave", ts=NINE
            )
        wait_until(lambda: len(_rows(browser, "risk-limits")) == 3, "the third limit")
        added = _rows(browser, "risk-limits")[2]
        assert added[:5] == ["unknown", "max_gross_exposure", "underlying", "BTC-USDT", "50000"], added
        assert (added[5], added[6]) == ("no price to value venue-x:BTC-USDT", "dave"), added
