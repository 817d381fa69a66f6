"""The operator's page at a desk's size, in headless Chromium against a real server: tables
read one page the server sorted and filtered, a live fill refetches only its rows, the timeline
reads only its order and parent, the header shows the views' lag and the verify result, and the
charts draw each currency on its own axis."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest

from tests.support.browser import chromium, require_browser
from tests.support.http_api import Server, fill, request, running_server, wait_until
from tests.support.page import (
    cell,
    click,
    forget_requests,
    keys,
    requests_made,
    rows,
    tab,
    texts,
)

PAGE = 100
"""Rows a page of the page's tables shows (PAGE_ROWS in app.js)."""
ORDERS = 1_250
"""Orders of the large ledger, each bought or sold 3 and filled 2 × 1: 2,500 trades."""
START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def at(seconds: float) -> str:
    return (START + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def desk() -> list[dict[str, Any]]:
    """Given: order o-NNNN (N = 0 … 1,249) placed at START + 3N s by alpha (even N) or beta (odd),
    a buy (even) or sell (odd) of 3 BTC-USDT at 100 + N mod 50, child of parent P-(N div 10),
    filled 1 at START + 3N + 1 s (trade o-NNNN-a) and 1 at START + 3N + 2 s (o-NNNN-b)."""
    messages = []
    for n in range(ORDERS):
        cid, price = f"o-{n:04d}", str(100 + n % 50)
        messages.append(
            request(
                cid,
                account="alpha" if n % 2 == 0 else "beta",
                side="buy" if n % 2 == 0 else "sell",
                quantity="3",
                price=price,
                parent_id=f"P-{n // 10}",
                ts=at(3 * n),
            )
        )
        messages.append(fill(cid, f"{cid}-a", "1", price, ts=at(3 * n + 1)))
        messages.append(fill(cid, f"{cid}-b", "1", price, ts=at(3 * n + 2)))
    return messages


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    require_browser()
    with running_server() as running:
        response = httpx2.post(f"{running.url}/messages", json=desk(), timeout=120)
        assert response.status_code == 200, response.text
        # 1,250 requests + 2,500 fills
        assert response.json()["counts"]["applied"] == 3 * ORDERS
        yield running


@pytest.fixture(scope="module")
def browser(server: Server) -> Iterator[Any]:
    with chromium() as driver:
        driver.get(f"{server.url}/")
        wait_until(lambda: driver.find_element("id", "live").text.startswith("live"), "the live stream")
        yield driver


def trade_key(n: int, leg: str) -> str:
    return f"trade:o-{n:04d}:o-{n:04d}-{leg}"


def newest_trades(count: int, skip: int = 0) -> list[str]:
    """The keys of the newest trades, newest first: trade j (0 … 2,499) is order j div 2's
    leg a (even j) or b (odd j), at START + 3 (j div 2) + 1 + j mod 2 s: later j, later time."""
    last = 2 * ORDERS - 1 - skip
    return [trade_key(j // 2, "ab"[j % 2]) for j in range(last, last - count, -1)]


def test_the_blotter_shows_one_page_of_a_large_ledger_and_the_next(browser: Any) -> None:
    forget_requests(browser)
    tab(browser, "trades")
    # Then one page of the 2,500 trades is in the DOM: the 100 newest, newest first
    wait_until(lambda: len(rows(browser, "trades-table")) == PAGE, "one page of trades")
    assert keys(browser, "trades-table") == newest_trades(PAGE)
    assert texts(browser, "#trades-table .range") == ["rows 1–100 of 2,500"]
    # and the page asked for one page, never the whole blotter
    [(_, params)] = [r for r in requests_made(browser) if r[0] == "/trades"]
    assert params["limit"] == [str(PAGE)] and params["sort"] == ["newest"]
    # When the next page is asked for, the 100 trades before them replace them
    click(browser, "#trades-table .pager .next")
    wait_until(lambda: keys(browser, "trades-table") == newest_trades(PAGE, skip=PAGE), "the second page")
    assert texts(browser, "#trades-table .range") == ["rows 101–200 of 2,500"]
    click(browser, "#trades-table .pager .previous")
    wait_until(lambda: keys(browser, "trades-table") == newest_trades(PAGE), "the first page again")


def test_a_click_on_a_column_sorts_on_the_server(browser: Any) -> None:
    forget_requests(browser)
    tab(browser, "trades")
    wait_until(lambda: [r for r in requests_made(browser) if r[0] == "/trades"], "the tab's page")
    forget_requests(browser)
    click(browser, '#trades-table th[data-sort="price"] button')
    # Prices are 100 + N mod 50: the lowest, 100, belongs to every order N = 50k (25 orders,
    # 50 trades), so the first page in ascending price starts with 50 trades at 100, then 101
    wait_until(lambda: cell_column(browser, "price")[:1] == ["100"], "the lowest price first")
    prices = cell_column(browser, "price")
    assert prices == ["100"] * 50 + ["101"] * 50
    assert [p["sort"] for path, p in requests_made(browser) if path == "/trades"] == [["price"]]
    # A second click sorts descending: 149 (N = 50k + 49) first
    click(browser, '#trades-table th[data-sort="price"] button')
    wait_until(lambda: cell_column(browser, "price")[:1] == ["149"], "the highest price first")
    assert [p["sort"] for path, p in requests_made(browser) if path == "/trades"] == [["price"], ["-price"]]
    # Two clicks on the time: newest first again (-ts)
    click(browser, '#trades-table th[data-sort="ts"] button')
    wait_until(lambda: texts(browser, '#trades-table th[data-sort="ts"]') == ["ts_event ▲"], "oldest first")
    click(browser, '#trades-table th[data-sort="ts"] button')
    wait_until(lambda: keys(browser, "trades-table") == newest_trades(PAGE), "newest first again")


def cell_column(browser: Any, column: str) -> list[str]:
    return texts(browser, f'#trades-table tbody td[data-col="{column}"]')


def test_a_live_fill_refetches_only_its_order_and_the_new_trade(server: Server, browser: Any) -> None:
    forget_requests(browser)
    tab(browser, "orders")
    # The open orders, newest first: o-1249 on top, filled 2 of 3 (read by the tab, not left
    # in the DOM by an earlier test: the tab's read is over before the requests are forgotten)
    wait_until(lambda: [r for r in requests_made(browser) if r[0] == "/orders"], "the tab's page")
    wait_until(lambda: cell(browser, "order:o-1249", "filled_quantity") == "2", "o-1249 filled 2")
    assert len(rows(browser, "orders-table")) == PAGE
    forget_requests(browser)
    # When o-1249 (a sell at 100 + 1249 mod 50 = 149) is filled its third 1
    posted = httpx2.post(
        f"{server.url}/messages", json=fill("o-1249", "o-1249-c", "1", "149", ts=at(3 * 1249 + 3))
    )
    assert posted.status_code == 200, posted.text
    # Then its row shows filled 3, leaves 0, and the only read was that one order
    wait_until(lambda: cell(browser, "order:o-1249", "filled_quantity") == "3", "the live fill")
    assert cell(browser, "order:o-1249", "leaves_quantity") == "0"
    assert [path for path, _ in requests_made(browser)] == ["/orders/o-1249"]
    assert len(rows(browser, "orders-table")) == PAGE

    # On the blotter, a new fill of o-1248 is read as the one newest trade and put on top
    tab(browser, "trades")
    wait_until(lambda: keys(browser, "trades-table")[:1] == [trade_key(1249, "c")], "the blotter")
    forget_requests(browser)
    posted = httpx2.post(
        f"{server.url}/messages", json=fill("o-1248", "o-1248-c", "1", "148", ts=at(3 * 1249 + 4))
    )
    assert posted.status_code == 200, posted.text
    wait_until(lambda: keys(browser, "trades-table")[:1] == [trade_key(1248, "c")], "the new trade on top")
    made = requests_made(browser)
    # (newest first: the default, or -ts as the sort test left it)
    [(path, params)] = made
    assert (path, params["limit"]) == ("/trades", ["1"]) and params["sort"] in (["newest"], ["-ts"])
    assert keys(browser, "trades-table")[1] == trade_key(1249, "c")
    assert len(rows(browser, "trades-table")) == PAGE + 1  # the page grew by the live row
    assert texts(browser, "#trades-table .range") == ["rows 1–101 of 2,502"]


def test_the_timeline_reads_only_its_order_and_its_parents_children(browser: Any) -> None:
    tab(browser, "orders")
    wait_until(lambda: cell(browser, "order:o-1245", "client_order_id") == "o-1245", "o-1245 listed")
    forget_requests(browser)
    click(browser, 'tr[data-key="order:o-1245"] td[data-col="client_order_id"] button')
    # o-1245's two events... and its request: OrderRequested, then two OrderFilled
    wait_until(lambda: len(texts(browser, "#timeline-events li")) == 3, "three events")
    # The tree of parent P-124 (1245 div 10): o-1240 … o-1249, with their trades
    wait_until(lambda: "parent P-124" in "".join(texts(browser, "#timeline-links")), "the parent tree")
    [links] = texts(browser, "#timeline-links")
    assert all(f"o-{n}" in links for n in range(1240, 1250))
    assert "o-1239" not in links and "o-1250" not in links
    made = requests_made(browser)
    assert sorted(path for path, _ in made) == [
        "/orders",
        "/orders/o-1245",
        "/orders/o-1245/history",
        "/trades",
    ]
    # The lists were read for that parent only
    assert [p["parent"] for path, p in made if path in ("/orders", "/trades")] == [["P-124"], ["P-124"]]


def parent_keys(first: int, last: int) -> list[str]:
    """The Parents rows P-first down to P-last, newest first order first."""
    return [f"parent:P-{n}" for n in range(first, last - 1, -1)]


def test_the_parents_tab_lists_a_page_of_parents_and_opens_one_parents_children(
    server: Server, browser: Any
) -> None:
    forget_requests(browser)
    tab(browser, "linkage")
    # Then one page of the 125 parents P-0 … P-124 (P-N: orders o-(10N) … o-(10N + 9)), the
    # newest first order first: P-124 … P-25
    wait_until(lambda: keys(browser, "parents-table") == parent_keys(124, 25), "one page of parents")
    assert texts(browser, "#parents-table .range") == ["rows 1–100 of 125"]
    # P-123: o-1230 … o-1239, all open (3 each, filled 2), alpha's even and beta's odd ones,
    # its first order placed at START + 3 × 1230 s and its last fill at START + 3 × 1239 + 2 s
    assert [
        cell(browser, "parent:P-123", c) for c in ("orders", "open_orders", "accounts", "instruments")
    ] == [
        "10",
        "10",
        "alpha, beta",
        "BTC-USDT",
    ]
    assert cell(browser, "parent:P-123", "created_at") == at(3 * 1230).replace("Z", ".000000Z")
    assert cell(browser, "parent:P-123", "updated_at") == at(3 * 1239 + 2).replace("Z", ".000000Z")
    [(path, params)] = requests_made(browser)
    assert (path, params["limit"], params["sort"]) == ("/parents", [str(PAGE)], ["-created"])
    click(browser, "#parents-table .pager .next")
    wait_until(lambda: keys(browser, "parents-table") == parent_keys(24, 0), "the second page")
    assert texts(browser, "#parents-table .range") == ["rows 101–125 of 125"]
    click(browser, "#parents-table .pager .previous")
    wait_until(lambda: keys(browser, "parents-table")[:1] == ["parent:P-124"], "the first page again")

    # When P-123 is opened, its ten orders and their trades are read with the parent filter only
    forget_requests(browser)
    click(browser, 'tr[data-key="parent:P-123"] td[data-col="parent_id"] button')
    wait_until(lambda: "parent P-123" in "".join(texts(browser, "#linkage-tree")), "P-123's tree")
    [tree] = texts(browser, "#linkage-tree")
    assert all(f"o-{n}" in tree and f"trade o-{n}-b" in tree for n in range(1230, 1240))
    assert "o-1229" not in tree and "o-1240" not in tree
    # below the list of 100 parents, the tree is scrolled into view: its heading at the top
    top, height = browser.execute_script(
        "return [document.getElementById('linkage-title').getBoundingClientRect().top, window.innerHeight]"
    )
    assert 0 <= top < height / 2
    made = requests_made(browser)
    assert sorted((path, p["parent"][0]) for path, p in made) == [("/orders", "P-123"), ("/trades", "P-123")]

    # A live fill of one of its orders reads that parent's children again, and nothing else
    forget_requests(browser)
    posted = httpx2.post(
        f"{server.url}/messages", json=fill("o-1235", "o-1235-c", "1", "135", ts=at(3 * 1249 + 9))
    )
    assert posted.status_code == 200, posted.text
    wait_until(lambda: "trade o-1235-c" in "".join(texts(browser, "#linkage-tree")), "the live fill")
    assert {(path, p["parent"][0]) for path, p in requests_made(browser)} == {
        ("/orders", "P-123"),
        ("/trades", "P-123"),
    }
