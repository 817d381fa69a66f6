"""The operator's page in a real browser: headless Chromium against a real uvicorn server on
127.0.0.1. Screenshots of each test are saved under pytest's temporary directory."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from orderledger.domain.order_state import LISTED, SHOWN
from orderledger.domain.values import INVISIBLE_FILLERS, UNSAFE_CATEGORIES, escape_unsafe
from orderledger.infrastructure.listing import ORDER_COLUMNS
from tests.support.browser import chromium, require_browser
from tests.support.http_api import Server, fill, request, running_server, wait_until
from tests.support.page import cell, click, rows, tab, texts

XSS = "<img src=x onerror=alert(1)>"


def seed() -> list[dict[str, Any]]:
    """Given: alpha's c-1 buys 2 BTC-USDT @ 100 (1 filled), c-2 sells 1 @ 110 (filled), both
    children of parent P-1; beta's e-1 buys 5 ETH-USDT @ 50 (open); an order whose ID is markup;
    and one rejected line (a fill with a negative quantity)."""
    return [
        request("c-1", parent_id="P-1"),
        fill("c-1", "t-1", "1", "100"),
        request("c-2", side="sell", quantity="1", price="110", parent_id="P-1", ts="2026-11-20T10:00:04Z"),
        fill("c-2", "t-2", "1", "110", ts="2026-11-20T10:00:05Z"),
        request(
            "e-1", account="beta", instrument="ETH-USDT", quantity="5", price="50", ts="2026-11-20T10:01:00Z"
        ),
        request(
            XSS, account="beta", quantity="1", price="1", ts="2026-11-20T10:02:00Z", tags={"strategy": XSS}
        ),
        fill("c-1", "t-bad", "-1", "100"),
    ]


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    require_browser()
    with running_server() as running:
        response = httpx2.post(f"{running.url}/messages", json=seed())
        assert response.status_code == 422  # the one negative fill is rejected; the rest recorded
        assert response.json()["counts"]["applied"] == 6
        yield running


@pytest.fixture(scope="module")
def browser(server: Server) -> Iterator[Any]:
    with chromium() as driver:
        driver.get(f"{server.url}/")
        wait_until(lambda: driver.find_element("id", "live").text.startswith("live"), "the live stream")
        yield driver


@pytest.fixture
def shot(
    browser: Any, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[None]:
    """Save a screenshot of the page as each test ends (an artifact, pass or fail)."""
    yield
    folder = tmp_path_factory.getbasetemp() / "screenshots"
    folder.mkdir(exist_ok=True)
    browser.save_screenshot(str(folder / f"{request.node.name}.png"))


def test_the_page_loads_with_the_open_orders(browser: Any, shot: None) -> None:
    tab(browser, "orders")
    # c-2 is filled, so the open orders are c-1, e-1 and the markup-named one
    wait_until(lambda: len(rows(browser, "orders-table")) == 3, "three open orders")
    assert cell(browser, "order:c-1", "filled_quantity") == "1"
    assert cell(browser, "order:c-1", "leaves_quantity") == "1"
    # Numbers are right-aligned, text is not
    align = "return getComputedStyle(document.querySelector(arguments[0])).textAlign"
    assert browser.execute_script(align, 'tr[data-key="order:c-1"] td[data-col="quantity"]') == "right"
    assert browser.execute_script(align, 'tr[data-key="order:c-1"] td[data-col="account"]') in (
        "left",
        "start",
    )


def test_markup_in_the_data_is_shown_as_text(browser: Any, shot: None) -> None:
    tab(browser, "orders")
    wait_until(lambda: cell(browser, f"order:{XSS}", "client_order_id") == XSS, "the markup-named order")
    # The ID is text: no <img> element exists anywhere, and no alert was raised
    assert browser.find_elements("css selector", "main img") == []
    assert browser.execute_script("return document.querySelectorAll('img').length") == 0
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018


def test_a_fill_shows_without_reloading_the_page(server: Server, browser: Any, shot: None) -> None:
    tab(browser, "orders")
    wait_until(lambda: cell(browser, "order:e-1", "filled_quantity") == "0", "e-1 unfilled")
    # When e-1 is filled 2 of 5 through the API
    response = httpx2.post(
        f"{server.url}/messages",
        json=fill("e-1", "t-e1", "2", "50", ts="2026-11-20T10:01:30Z"),
    )
    assert response.status_code == 200
    # Then the open orders show it (filled 2, leaves 3) without reloading the page (how soon is
    # measured by tests/benchmarks/page.py, not by a timed test)
    wait_until(lambda: cell(browser, "order:e-1", "filled_quantity") == "2", "the live fill")
    assert cell(browser, "order:e-1", "leaves_quantity") == "3"


def test_the_blotter_filters(browser: Any, shot: None) -> None:
    tab(browser, "trades")
    wait_until(lambda: len(rows(browser, "trades-table")) >= 2, "the blotter")
    form = browser.find_element("id", "trade-filters")
    field = form.find_element("name", "order")
    field.clear()
    field.send_keys("c-2")
    form.find_element("css selector", 'button[type="submit"]').click()
    # Only c-2's trade t-2 (1 @ 110) is left
    wait_until(lambda: len(rows(browser, "trades-table")) == 1, "one trade")
    assert cell(browser, "trade:c-2:t-2", "price") == "110"
    form.find_element("css selector", 'button[type="reset"]').click()
    wait_until(lambda: len(rows(browser, "trades-table")) >= 2, "every trade again")


def test_the_timeline_shows_each_event_with_its_raw_message(browser: Any, shot: None) -> None:
    tab(browser, "orders")
    wait_until(lambda: cell(browser, "order:c-1", "client_order_id") == "c-1", "c-1 listed")
    click(browser, 'tr[data-key="order:c-1"] td[data-col="client_order_id"] button')
    wait_until(lambda: len(texts(browser, "#timeline-events li")) == 2, "two events")
    types = browser.execute_script(
        "return Array.from(document.querySelectorAll('#timeline-events li'), (e) => e.dataset.type)"
    )
    assert types == ["OrderRequested", "OrderFilled"]
    # Opening the fill's message shows the JSON line it came from
    click(browser, '#timeline-events li[data-type="OrderFilled"] summary')
    [raw] = texts(browser, '#timeline-events li[data-type="OrderFilled"] pre.raw-message')
    assert json.loads(raw) == fill("c-1", "t-1", "1", "100")
    # The linkage: parent P-1 → c-1 (trade t-1) and c-2 (trade t-2)
    [links] = texts(browser, "#timeline-links")
    assert "parent P-1" in links and "trade t-1: 1 @ 100" in links and "trade t-2: 1 @ 110" in links


def test_positions_pnl_chart_and_journal(browser: Any, shot: None) -> None:
    tab(browser, "pnl")
    # alpha bought 1 @ 100 and sold 1 @ 110: realized 10
    wait_until(
        lambda: cell(browser, "position:alpha:venue-x:BTC-USDT", "realized_pnl") == "10", "the realized P&L"
    )
    # The charts (plotly, served by the app): realized P&L in USDT, and the daily P&L in USDT
    wait_until(lambda: texts(browser, "#pnl-charts .chart .gtitle"), "the P&L chart")
    assert texts(browser, "#pnl-charts .chart .ytitle") == ["realized P&L (USDT)"]
    # The daily P&L: alpha's day, 10 realized, drawn as a bar
    wait_until(lambda: texts(browser, "#daily-charts .chart .gtitle"), "the daily P&L chart")
    assert browser.find_elements("css selector", "#daily-charts .chart .bars path")
    assert any("alpha" in row and "10" in row for row in rows(browser, "daily-table"))
    tab(browser, "journal")
    wait_until(lambda: len(rows(browser, "journal-table")) == 1, "the rejected line")
    assert "t-bad" in rows(browser, "journal-table")[0]


def test_a_pasted_snapshot_is_reconciled_as_a_dry_run(server: Server, browser: Any, shot: None) -> None:
    tab(browser, "reconcile")
    snapshot = {"venue": "venue-x", "account": "alpha", "as_of": "2026-11-20T11:00:00Z", "open_orders": []}
    area = browser.find_element("id", "snapshot")
    area.clear()
    # One script call instead of typing character by character
    browser.execute_script("arguments[0].value = arguments[1]", area, json.dumps(snapshot))
    head = httpx2.get(f"{server.url}/health").json()["head"]
    browser.find_element("id", "reconcile-dry").click()
    wait_until(lambda: "dry run" in browser.find_element("id", "reconcile-report").text, "the report")
    assert rows(browser, "reconcile-report")  # c-1 is open here and not at the venue
    assert httpx2.get(f"{server.url}/health").json()["head"] == head


def test_control_bidi_and_zero_width_characters_in_stored_text_are_shown_escaped(
    server: Server, browser: Any, shot: None
) -> None:
    # Free text (a reason) may hold them; shown as themselves, U+202E would reverse what follows
    # it on screen and ESC or a zero-width space would hide what the ledger holds.
    reason = "user \u202eabc\u200b\x1b[31m\u2028end"
    for message in (
        request("bidi-1", ts="2026-11-20T10:03:00Z"),
        {"type": "canceled", "client_order_id": "bidi-1", "reason": reason, "ts": "2026-11-20T10:03:01Z"},
    ):
        response = httpx2.post(f"{server.url}/messages", json=message)
        assert response.status_code == 200 and response.json()["counts"]["applied"] == 1, response.text
    browser.execute_script("openTimeline(arguments[0])", "bidi-1")
    # (the events of bidi-1's cancel, not the two of a timeline an earlier test left open)
    wait_until(
        lambda: (
            "reason=user"
            in "".join(texts(browser, '#timeline-events li[data-type="OrderCanceled"] .payload'))
        ),
        "bidi-1's cancel",
    )
    assert len(texts(browser, "#timeline-events li")) == 2

    [payload] = texts(browser, '#timeline-events li[data-type="OrderCanceled"] .payload')
    assert "reason=user \\u202eabc\\u200b\\x1b[31m\\u2028end" in payload
    [raw] = texts(browser, '#timeline-events li[data-type="OrderCanceled"] pre.raw-message')
    assert "\\u202eabc\\u200b" in raw and "\u202e" not in raw
    # The raw message keeps the line breaks of its pretty-printing, and nothing else unsafe
    assert "\n" in raw
    page = browser.execute_script("return document.body.textContent")
    assert not any(char in page for char in "\u202e\u200b\x1b\u2028")


def test_the_page_escapes_what_the_command_line_escapes(browser: Any, shot: None) -> None:
    # One rule on both sides: every character of the categories Cc, Cf, Zl, Zp, and the invisible
    # fillers (domain/values.py)
    unsafe = INVISIBLE_FILLERS + "".join(
        chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) in UNSAFE_CATEGORIES
    )
    shown = browser.execute_script("return visible(arguments[0])", unsafe)
    assert shown == escape_unsafe(unsafe)
    assert browser.execute_script("return visible(arguments[0])", "plain é 中 <b>") == "plain é 中 <b>"


def test_the_page_rounds_figures_to_the_instruments_tick(server: Server, browser: Any, shot: None) -> None:
    # Given SOL-USDT at venue-x defined with a tick of 0.01 and a lot of 0.001, and gamma buying
    # 3: 1 @ 100.00 and 2 @ 100.01, paying 0.0123 USDT on the second fill
    definition = {
        "type": "instrument",
        "venue": "venue-x",
        "instrument": "SOL-USDT",
        "ts": "2026-11-20T09:00:00Z",
        "price_increment": "0.01",
        "quantity_increment": "0.001",
    }
    buy = request("s-1", account="gamma", instrument="SOL-USDT", quantity="3", price="100.01")
    fills = [
        fill("s-1", "s-t1", "1", "100.00"),
        fill("s-1", "s-t2", "2", "100.01", fee="0.0123", fee_currency="USDT", ts="2026-11-20T10:00:02Z"),
    ]
    response = httpx2.post(f"{server.url}/messages", json=[definition, buy, *fills])
    assert response.status_code == 200, response.text
    # The API stays exact: average (1 × 100.00 + 2 × 100.01) / 3 = 300.02 / 3 = 100.00666…7
    # (34 significant digits), and says how many places a person is shown
    exact = next(p for p in httpx2.get(f"{server.url}/positions").json() if p["account"] == "gamma")
    assert exact["average_price"] == "100.0066666666666666666666666666667"
    assert exact["fees"] == {"USDT": "0.0123"}
    assert exact["precision"] == {"price": 2, "quantity": 3, "money": 2, "currencies": {"USDT": 2}}
    tab(browser, "pnl")
    key = "position:gamma:venue-x:SOL-USDT"
    # Then the page shows the average to the tick (100.00666… → 100.01, marked …), the exact
    # figure as the cell's title, and the fee to cents (0.0123 → 0.01)
    wait_until(lambda: cell(browser, key, "average_price") == "100.01…", "the rounded average")
    selector = f'tr[data-key="{key}"] td[data-col="average_price"]'
    title = browser.execute_script("return document.querySelector(arguments[0]).firstChild.title", selector)
    assert title == "100.0066666666666666666666666666667"
    assert cell(browser, key, "fees") == "0.01… USDT"
    assert cell(browser, key, "quantity") == "3"


def test_the_page_rounds_half_to_even_on_the_digits(browser: Any) -> None:
    # The same rule as the command's tables (Decimal.quantize, ROUND_HALF_EVEN), without floats
    cases = {
        ("0.125", 2): "0.12",  # a half rounds to the even neighbour
        ("0.135", 2): "0.14",
        ("0.1251", 2): "0.13",  # more than a half rounds up
        ("-2.5", 0): "-2",
        ("-0.004", 2): "0.00",  # no minus on a zero
        ("123456789012345678901234.5678", 2): "123456789012345678901234.57",  # past a float's digits
        ("1.5", 3): "1.5",  # already within the places: as is
    }
    for (text, places), expected in cases.items():
        assert (
            browser.execute_script("return roundText(arguments[0], arguments[1])", text, places) == expected
        )


def test_the_orders_table_is_the_declared_one(server: Server, browser: Any, shot: None) -> None:
    # Given d-1 requested post-only, d-2 not post-only and d-3 without saying
    response = httpx2.post(
        f"{server.url}/messages",
        json=[
            request("d-1", account="delta", post_only=True, ts="2026-11-20T12:00:00Z"),
            request("d-2", account="delta", post_only=False, ts="2026-11-20T12:00:01Z"),
            request("d-3", account="delta", ts="2026-11-20T12:00:02Z"),
        ],
    )
    assert response.status_code == 200
    tab(browser, "orders")
    wait_until(lambda: cell(browser, "order:d-3", "client_order_id") == "d-3", "the delta orders")
    # Then the page's columns are the declaration's (ShownOrder's Listed fields, in order, under
    # their headings), served to it: app.js spells none of them
    columns = browser.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]), (td) => td.dataset.col)",
        '#orders-table tr[data-key="order:d-1"] td',
    )
    assert columns == list(LISTED)
    headings = [text.rstrip(" ▲▼") for text in texts(browser, "#orders-table thead th")]
    assert headings == [mark.heading or name for name, mark in LISTED.items()]
    # post-only as yes, no, or empty when the request did not say
    assert [cell(browser, f"order:d-{n}", "post_only") for n in (1, 2, 3)] == ["yes", "no", ""]
    # A heading sorts by the orders list's sort of its column, where there is one
    sorts = browser.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]), (th) => th.dataset.sort || null)",
        "#orders-table thead th",
    )
    assert sorts == [column.sort for column in ORDER_COLUMNS]
    # The order's ID opens its timeline, whose summary shows every field the order shows
    click(browser, 'tr[data-key="order:d-1"] td[data-col="client_order_id"] button')
    wait_until(lambda: texts(browser, '#timeline-summary dd[data-field="client_order_id"]') == ["d-1"], "d-1")
    summary = texts(browser, "#timeline-summary dt")
    assert summary == list(SHOWN)


def test_an_orders_terms_show_in_its_timeline(server: Server, browser: Any, shot: None) -> None:
    # Given a stop-loss that only shrinks the position, in an order list, and a plain order
    stop = request(
        "sl-1", account="sigma", side="sell", order_type="stop_market", price=None, trigger_price="95",
        reduce_only=True, group_id="G-7", contingency="oco", ts="2026-11-20T12:10:00Z",
    )  # fmt: skip
    stop = {name: value for name, value in stop.items() if value is not None}
    plain = request("sl-2", account="sigma", ts="2026-11-20T12:10:01Z")
    response = httpx2.post(f"{server.url}/messages", json=[stop, plain])
    assert response.status_code == 200, response.text
    tab(browser, "orders")
    wait_until(lambda: cell(browser, "order:sl-2", "client_order_id") == "sl-2", "the sigma orders")
    # When the stop's timeline is opened, its terms show as the order holds them; a plain order's
    # are empty
    click(browser, 'tr[data-key="order:sl-1"] td[data-col="client_order_id"] button')
    wait_until(
        lambda: texts(browser, '#timeline-summary dd[data-field="client_order_id"]') == ["sl-1"], "sl-1"
    )
    shown = texts(browser, '#timeline-summary dd[data-field="terms"]')
    assert [json.loads(text) for text in shown] == [
        {"trigger_price": "95", "reduce_only": True, "group_id": "G-7", "contingency": "oco"}
    ]
    tab(browser, "orders")
    click(browser, 'tr[data-key="order:sl-2"] td[data-col="client_order_id"] button')
    wait_until(
        lambda: texts(browser, '#timeline-summary dd[data-field="client_order_id"]') == ["sl-2"], "sl-2"
    )
    assert texts(browser, '#timeline-summary dd[data-field="terms"]') == [""]
