"""The page's header and charts, in headless Chromium against a real server over a SQLite file:
the views' lag, the verify result with its failing sections, and the P&L, daily P&L and fills
charts, one currency per axis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from orderledger.infrastructure.application.ledger import OrderLedger
from tests.support.audit import raw_sql
from tests.support.browser import require_browser
from tests.support.http_api import Server, fill, request, running_server, wait_until
from tests.support.page import click, forget_requests, live_page, requests_made, tab, texts


def two_currencies() -> list[dict[str, Any]]:
    """Given: alpha buys 1 BTC-USDT @ 100 and sells it @ 110 (realized 110 − 100 = 10 USDT on
    2026-11-20); beta buys 2 ETH-USD @ 50 and sells them @ 55 (realized 2 × (55 − 50) = 10 USD
    on 2026-11-21)."""
    return [
        request("c-1", quantity="1"),
        fill("c-1", "t-1", "1", "100"),
        request("c-2", side="sell", quantity="1", price="110", ts="2026-11-20T10:00:04Z"),
        fill("c-2", "t-2", "1", "110", ts="2026-11-20T10:00:05Z"),
        request(
            "e-1", account="beta", instrument="ETH-USD", quantity="2", price="50", ts="2026-11-21T10:01:00Z"
        ),
        fill("e-1", "te-1", "2", "50", ts="2026-11-21T10:01:01Z"),
        request(
            "e-2",
            account="beta",
            side="sell",
            instrument="ETH-USD",
            quantity="2",
            price="55",
            ts="2026-11-21T10:02:00Z",
        ),
        fill("e-2", "te-2", "2", "55", ts="2026-11-21T10:02:01Z"),
    ]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    require_browser()
    with running_server(f"sqlite:///{tmp_path / 'ledger.db'}") as running:
        response = httpx2.post(f"{running.url}/messages", json=two_currencies())
        assert response.status_code == 200 and response.json()["counts"]["applied"] == 8, response.text
        yield running


@pytest.fixture
def browser(server: Server) -> Iterator[Any]:
    with live_page(server) as driver:
        yield driver


def test_the_header_shows_how_far_behind_the_views_are(server: Server, browser: Any) -> None:
    wait_until(lambda: texts(browser, "#views") == ["views current"], "views current")
    # When another process records an order without folding it into the views
    # (ingest --no-project), the log has one event the views lack
    writer = OrderLedger(server.ledger.url, project=False)
    try:
        writer.record(request("late-1", ts="2026-11-21T12:00:00Z"))
    finally:
        writer.close()
    # Then the page, reading the new order's rows on the live event, says so
    wait_until(lambda: texts(browser, "#views") == ["views 1 behind"], "views 1 behind")
    assert "off" in browser.find_element("id", "views").get_attribute("class")


def test_the_header_shows_the_verify_result_and_the_failing_sections(server: Server, browser: Any) -> None:
    click(browser, "#verify")
    # 8 messages, each one event
    wait_until(lambda: texts(browser, "#verify-result") == ["verify ok · 8 events"], "verify ok")
    # When a row of a view is changed behind the ledger's back
    with raw_sql(server.ledger.url) as db:
        db.execute("UPDATE positions_view SET quantity = '7' WHERE account = 'alpha'")
    click(browser, "#verify")
    # Then verify fails on the views section, and the title says which row
    wait_until(lambda: texts(browser, "#verify-result") == ["verify failed: view (1)"], "verify failed")
    title = browser.find_element("id", "verify-result").get_attribute("title")
    assert title.startswith("view: view positions_view: row ('alpha', 'venue-x', 'BTC-USDT') differs")


def plots(browser: Any, selector: str) -> list[dict[str, Any]]:
    """What plotly drew in each chart under ``selector``: its currency, titles, legend and traces."""
    found = browser.execute_script(
        """return Array.from(document.querySelectorAll(arguments[0]), (gd) => ({
             currency: gd.dataset.currency || null,
             title: gd.querySelector('.gtitle').textContent,
             y: gd.querySelector('.ytitle').textContent,
             legend: Array.from(gd.querySelectorAll('.legendtext'), (t) => t.textContent),
             traces: gd.data.map((t) => ({ name: t.name, x: Array.from(t.x), y: Array.from(t.y),
                                           symbol: t.marker ? t.marker.symbol : null })),
             width: gd.getBoundingClientRect().width,
             column: gd.parentElement.getBoundingClientRect().width,
           }))""",
        selector,
    )
    return list(found)


def test_realized_pnl_is_drawn_per_currency_with_legend_and_units(browser: Any) -> None:
    forget_requests(browser)
    tab(browser, "pnl")
    wait_until(lambda: len(plots(browser, "#pnl-charts .chart")) == 2, "two P&L charts")
    # The series is asked for in slices of time (SERIES_POINTS in charts.js): its size is bounded
    # by accounts × currencies × slices, never by the ledger's fills
    [series] = [params for path, params in requests_made(browser) if path == "/pnl/series"]
    assert series == {"points": ["500"]}
    usd, usdt = plots(browser, "#pnl-charts .chart")
    # Two currencies: two charts, each axis titled in its own currency, never both on one
    assert (usd["currency"], usd["y"], usd["legend"]) == ("USD", "realized P&L (USD)", ["beta (USD)"])
    assert (usdt["currency"], usdt["y"], usdt["legend"]) == ("USDT", "realized P&L (USDT)", ["alpha (USDT)"])
    # alpha's running total: 0 at the buy (nothing closed), 110 − 100 = 10 USDT at the sell;
    # beta's: 0, then 2 × (55 − 50) = 10 USD
    assert usdt["traces"] == [
        {
            "name": "alpha (USDT)",
            "x": ["2026-11-20T10:00:01.000000Z", "2026-11-20T10:00:05.000000Z"],
            "y": [0, 10],
            "symbol": None,
        }
    ]
    assert usd["traces"][0]["y"] == [0, 10]
    # Each chart fits its column
    assert all(chart["width"] <= chart["column"] for chart in (usd, usdt))
    # The daily P&L: one chart per currency, a bar for the group and day
    wait_until(lambda: len(plots(browser, "#daily-charts .chart")) == 2, "two daily charts")
    daily = {chart["currency"]: chart for chart in plots(browser, "#daily-charts .chart")}
    assert daily["USDT"]["y"] == "net realized P&L (USDT)"
    assert daily["USDT"]["traces"] == [{"name": "alpha", "x": ["2026-11-20"], "y": [10], "symbol": None}]
    assert daily["USD"]["traces"] == [{"name": "beta", "x": ["2026-11-21"], "y": [10], "symbol": None}]


def test_fills_are_marked_on_the_instruments_price(browser: Any) -> None:
    tab(browser, "pnl")
    wait_until(lambda: plots(browser, "#fills-chart .chart"), "the fills chart")
    [btc] = plots(browser, "#fills-chart .chart")
    # BTC-USDT (the first instrument): the buy at 100 (entry) and the sell at 110 (exit)
    assert btc["title"] == "Fills of BTC-USDT" and btc["y"] == "price (USDT)"
    price, buys, sells = btc["traces"]
    assert (buys["symbol"], buys["y"], buys["x"]) == ("triangle-up", [100], ["2026-11-20T10:00:01.000000Z"])
    assert (sells["symbol"], sells["y"], sells["x"]) == (
        "triangle-down",
        [110],
        ["2026-11-20T10:00:05.000000Z"],
    )
    assert price["y"] == [100, 110]
    assert btc["legend"] == [
        "traded price",
        "buy (entry long / exit short)",
        "sell (entry short / exit long)",
    ]
    # Choosing ETH-USD draws its fills, in USD
    select = browser.find_element("id", "fills-instrument")
    from selenium.webdriver.support.ui import Select

    Select(select).select_by_value("ETH-USD")
    wait_until(
        lambda: plots(browser, "#fills-chart .chart")[0]["title"] == "Fills of ETH-USD", "ETH-USD's fills"
    )
    [eth] = plots(browser, "#fills-chart .chart")
    assert eth["y"] == "price (USD)"
    assert [t["y"] for t in eth["traces"]] == [[50, 55], [50], [55]]


def test_live_fills_read_the_pnl_tab_again_once_per_burst(server: Server, browser: Any) -> None:
    tab(browser, "pnl")
    wait_until(lambda: len(plots(browser, "#daily-charts .chart")) == 2, "the P&L tab")
    forget_requests(browser)
    # When alpha buys 1 BTC-USDT @ 100 and sells it @ 130 (realized 30 USDT on 2026-11-20),
    # four events in one post
    burst = [
        request("c-3", quantity="1", ts="2026-11-20T11:00:00Z"),
        fill("c-3", "t-3", "1", "100", ts="2026-11-20T11:00:01Z"),
        request("c-4", side="sell", quantity="1", price="130", ts="2026-11-20T11:00:02Z"),
        fill("c-4", "t-4", "1", "130", ts="2026-11-20T11:00:03Z"),
    ]
    assert httpx2.post(f"{server.url}/messages", json=burst).json()["counts"]["applied"] == 4
    # Then the position, the grouped P&L, the series and the daily P&L show 10 + 30 = 40 USDT
    wait_until(
        lambda: texts(browser, '#pnl-table td[data-col="realized_pnl"]') == ["40", "10"], "the grouped P&L"
    )
    assert texts(browser, '#positions-table td[data-col="realized_pnl"]')[0] == "40"
    wait_until(
        lambda: [c["traces"][0]["y"][-1] for c in plots(browser, "#pnl-charts .chart")] == [10, 40],
        "the series",
    )
    wait_until(
        lambda: [c["traces"][0]["y"] for c in plots(browser, "#daily-charts .chart")] == [[10], [40]],
        "the daily P&L",
    )
    # and the tab was read once for the burst (its events, gathered for 20 ms, come well within
    # the second the page waits before reading)
    assert [path for path, _ in requests_made(browser) if path == "/pnl/daily"] == ["/pnl/daily"]


HOLD_DAILY_READS = """
    window.heldReads = [];
    const unheld = window.fetch;
    window.fetch = (path, options) => String(path).startsWith('/pnl/daily')
      ? new Promise((go) => window.heldReads.push(() => go(unheld(path, options))))
      : unheld(path, options);
"""
"""The page's reads of the daily P&L wait (``heldReads``) until the test lets them go, as a
large ledger's fold of seconds would hold them."""


def alpha_round_trip(cid: str, hour: int, sell: str) -> list[dict[str, Any]]:
    """alpha buys 1 BTC-USDT @ 100 and sells it @ ``sell`` at ``hour``:00 on 2026-11-20."""
    return [
        request(f"{cid}-b", quantity="1", ts=f"2026-11-20T{hour}:00:00Z"),
        fill(f"{cid}-b", f"{cid}-tb", "1", "100", ts=f"2026-11-20T{hour}:00:01Z"),
        request(f"{cid}-s", side="sell", quantity="1", price=sell, ts=f"2026-11-20T{hour}:00:02Z"),
        fill(f"{cid}-s", f"{cid}-ts", "1", sell, ts=f"2026-11-20T{hour}:00:03Z"),
    ]


def test_fills_while_the_pnl_tab_is_read_are_read_once_after_that_reading(
    server: Server, browser: Any
) -> None:
    tab(browser, "pnl")
    wait_until(lambda: len(plots(browser, "#daily-charts .chart")) == 2, "the P&L tab")
    browser.execute_script(HOLD_DAILY_READS)
    forget_requests(browser)

    def held() -> int:
        return int(browser.execute_script("return window.heldReads.length"))

    # When fills arrive (alpha realizes 30 USDT), the tab is read, its daily P&L held,
    assert httpx2.post(f"{server.url}/messages", json=alpha_round_trip("c-3", 11, "130")).status_code == 200
    wait_until(lambda: held() == 1, "the first reading, held")
    # and more fills arrive while that reading runs (alpha realizes 20 USDT more),
    assert httpx2.post(f"{server.url}/messages", json=alpha_round_trip("c-4", 12, "120")).status_code == 200
    wait_until(lambda: browser.execute_script("return state.pnlStale"), "the fills seen while reading")
    # Then no reading is scheduled while the first runs,
    assert browser.execute_script("return state.pnlTimer") is None
    # and once it ends, the tab is read once more, which shows both: 10 + 30 + 20 = 60 USDT
    browser.execute_script("window.heldReads.shift()()")
    wait_until(lambda: held() == 1, "the second reading, held")
    browser.execute_script("window.heldReads.shift()()")
    wait_until(
        lambda: [c["traces"][0]["y"] for c in plots(browser, "#daily-charts .chart")] == [[10], [60]],
        "the daily P&L",
    )
    # (a resource's timing entry may be recorded just after its response was used: wait for it)
    wait_until(
        lambda: [path for path, _ in requests_made(browser) if path == "/pnl/daily"] == ["/pnl/daily"] * 2,
        "the two readings, counted",
    )
    assert [path for path, _ in requests_made(browser) if path == "/pnl/daily"] == ["/pnl/daily"] * 2
