"""The page's Risk & exposure tab shows the denials and breaches the risk door recorded (GET
/denials), newest first, each breach as "limit value → figure", and adds the row of a breach
recorded while it is open from its ``breach`` frame on /risk/stream, without a reload; its
currency field shows the exposure in one desk currency at the recorded rates, and a currency the
API refuses as one line in the table's place. Headless Chromium against a real server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from tests.support.browser import require_browser
from tests.support.http_api import Server, fill, request, running_server, wait_until
from tests.support.page import enter, forget_requests, live_page, requests_made, tab, texts

MAIN = {"account": "main", "quantity": "3", "price": "100"}
"""A buy of 3 BTC-USDT at 100 on main: a notional of 3 × 100 = 300."""
HOSTILE = "<img src=x onerror=alert(1)>"
"""An order ID that is markup: the page shows it, never runs it."""


def _mark(instrument: str, price: str) -> dict[str, Any]:
    return {"type": "mark", "venue": "venue-x", "instrument": instrument, "price": price,
            "ts": "2026-11-20T11:00:00Z"}  # fmt: skip


def _post(server: Server, messages: Any) -> list[dict[str, Any]]:
    """Each line's result (a batch of denials alone is answered 403, its results in the body)."""
    response = httpx2.post(f"{server.url}/messages", json=messages)
    assert response.status_code in (200, 403), response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require_browser()
    url = f"sqlite:///{tmp_path_factory.mktemp('denials') / 'risk.db'}"
    with running_server(url) as running:
        # Given orders of main of at most 250 in notional
        running.ledger.risk_controls.set_limit("account", "main", "max_order_notional", "250", set_by="alice")
        # And a request of ours of 300 (denied), then the venue's order of 300 placed elsewhere
        # (recorded, flagged), filled: main holds 3 BTC-USDT, marked at 110
        denied = _post(running, request("c-1", **MAIN))
        flagged = _post(running, [request("v-1", external=True, venue_order_id="9", **MAIN),
                                  fill("v-1", "t-1", quantity="3"), _mark("BTC-USDT", "110")])  # fmt: skip
        assert [r["outcome"] for r in denied + flagged] == ["denied", "applied", "applied", "applied"]
        yield running


def _table(browser: Any, container: str) -> list[dict[str, str]]:
    """Each row of the table as {column title: text}, read in one script (a live refresh
    replaces the table whole)."""
    found: list[dict[str, str]] = browser.execute_script(
        "const table = document.querySelector(`#${arguments[0]} table`);"
        "if (!table) return [];"
        "const titles = [...table.tHead.rows[0].cells].map((c) => c.textContent);"
        "return [...table.tBodies[0].rows].map((row) =>"
        "  Object.fromEntries([...row.cells].map((c, i) => [titles[i], c.textContent])));",
        container,
    )
    return found


def _denials(browser: Any) -> list[tuple[str, ...]]:
    return [(r["action"], r["order"], r["account"], r["breaches"], r["by"], r["why"])
            for r in _table(browser, "risk-denials")]  # fmt: skip


def test_the_denials_and_breaches_newest_first_and_a_new_one_without_a_reload(server: Server) -> None:
    with live_page(server) as browser:
        tab(browser, "exposure")
        # Then the flagged venue order is first, the denied request after it: each 3 × 100 = 300
        # over main's 250
        wait_until(lambda: len(_denials(browser)) == 2, "the two rows")
        assert _denials(browser) == [
            ("flagged", "v-1", "main", "max_order_notional 250 → 300", "", ""),
            ("denied", "c-1", "main", "max_order_notional 250 → 300", "", ""),
        ]
        at = [r["at"] for r in _table(browser, "risk-denials")]
        assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", t) for t in at), at
        assert texts(browser, "#risk-denials .verdict") == ["flagged", "denied"]
        forget_requests(browser)
        # When another request of ours is denied while the tab is open: 4 × 100 = 400 > 250 (its
        # ID markup, shown as text)
        assert _post(server, request(HOSTILE, **{**MAIN, "quantity": "4"}))[0]["outcome"] == "denied"
        # Then its row is added at the top from the breach frame, without reading GET /denials
        wait_until(lambda: len(_denials(browser)) == 3, "the new row")
        assert _denials(browser)[0] == ("denied", HOSTILE, "main", "max_order_notional 250 → 400", "", "")
        assert texts(browser, "#risk-denials img") == []
        assert "/denials" not in [path for path, _ in requests_made(browser)]


def _exposure(browser: Any) -> list[dict[str, str]]:
    return _table(browser, "exposure-table")


def test_the_exposure_in_one_desk_currency_and_a_refused_currency_in_one_line(server: Server) -> None:
    with live_page(server) as browser:
        tab(browser, "exposure")
        # Given main's 3 BTC-USDT at the mark of 110: 3 × 110 = 330 USDT net and gross
        wait_until(lambda: _exposure(browser), "the exposure")
        [row] = _exposure(browser)
        assert (row["net value"], row["gross value"]) == ("330 USDT", "330 USDT"), row
        # (BTC-USDT has no definition: it is its own underlying, said in the notes)
        own = "own underlying: venue-x:BTC-USDT"
        assert row["notes"] == own, row
        # When it is asked in USD with no USDT/USD mark: no figure in USD, the leg named
        enter(browser, "#exposure [name=in_currency]", "USD")
        wait_until(lambda: "net in USD" in (_exposure(browser) or [{}])[0], "the USD columns")
        [row] = _exposure(browser)
        assert (row["net in USD"], row["gross in USD"], row["notes"]) == (
            "", "", f"{own}; no rate into USD: venue-x:USDT"
        ), row  # fmt: skip
        # And a name that is no currency is the API's refusal in one line, in the table's place
        enter(browser, "#exposure [name=in_currency]", "US D")
        wait_until(lambda: texts(browser, "#exposure-table .error"), "the refusal")
        assert texts(browser, "#exposure-table .error") == [
            "in_currency: the name of one currency, such as USDT"
        ]
        # When USDT/USD is marked at 0.999, USD again: 330 × 0.999 = 329.67 net and gross
        _post(server, _mark("USDT/USD", "0.999"))
        enter(browser, "#exposure [name=in_currency]", "USD")
        wait_until(lambda: (_exposure(browser) or [{}])[0].get("net in USD") == "329.67", "the USD figure")
        [row] = _exposure(browser)
        assert (row["gross in USD"], row["notes"]) == ("329.67", own), row
        # And an empty field is the exposure as recorded again
        enter(browser, "#exposure [name=in_currency]", "")
        wait_until(lambda: "net in USD" not in (_exposure(browser) or [{"net in USD": ""}])[0], "as recorded")
        assert _exposure(browser)[0]["net value"] == "330 USDT"
