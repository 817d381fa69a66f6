"""``GET /exposure`` over a real server on SQLite and PostgreSQL, and the page's Exposure tab in a
real browser (headless Chromium): the desk of ``tests/support/exposure.py`` (every figure worked
out by hand there) per account and across accounts; a bad ``by`` or parameter is a problem
document and stores nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest

from tests.support.browser import chromium, require_browser
from tests.support.exposure import BTC_ACROSS_ACCOUNTS, BY_ACCOUNT, DESK, exact, expected
from tests.support.http_api import Server, assert_problem, running_server, wait_until


@pytest.fixture(params=("sqlite", "postgres"))
def backend(request: pytest.FixtureRequest) -> str:
    """A server's ledger on a file backend (overrides tests/conftest.py's, which adds memory)."""
    return str(request.param)


@pytest.fixture
def server(file_ledger_url: str) -> Iterator[Server]:
    with running_server(file_ledger_url) as running:
        response = httpx2.post(f"{running.url}/messages", json=DESK)
        assert response.status_code == 200, response.text
        yield running


def test_get_exposure_per_account_and_across_accounts(server: Server) -> None:
    per_account = httpx2.get(f"{server.url}/exposure")
    assert per_account.status_code == 200, per_account.text
    assert [exact(row) for row in per_account.json()] == expected(BY_ACCOUNT)
    assert per_account.headers["Views-Behind"] == "0"
    across = httpx2.get(f"{server.url}/exposure", params={"by": "underlying"})
    assert exact(across.json()[0]) == expected([BTC_ACROSS_ACCOUNTS])[0]
    # a mark given instead of the recorded one: beta's perp −1.5 BTC at 62000 is −93000 USDT
    marked = httpx2.get(f"{server.url}/exposure", params={"mark": "BTC-PERP=62000"}).json()
    assert exact(marked[2]["net_value"]) == {"USD": 62000, "USDT": -93000}
    # in one currency: beta's 62000 USD at inv-d have no rate in USDT, so beta has no figure in it
    beta = httpx2.get(f"{server.url}/exposure", params={"in_currency": "USDT"}).json()[2]
    assert (beta["in_currency"], beta["net_in"], beta["gross_in"], beta["unconverted"]) == (
        "USDT",
        None,
        None,
        ["inv-d:USD"],
    )


def test_get_exposure_as_of_a_past_time(server: Server) -> None:
    # Given the desk recorded before T, and alpha's open bid of 1 BTC/USDT filled after T
    then = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    fill = {"type": "fill", "client_order_id": "a-bid", "trade_id": "t-a-bid", "quantity": "1"}
    late = httpx2.post(
        f"{server.url}/messages", json=[{**fill, "price": "59000", "ts": "2026-11-20T11:00:00Z"}]
    )
    assert late.status_code == 200, late.text
    # Then now alpha holds 2 + 1 BTC/USDT and a call: 4 BTC, and no bid is open
    alpha = httpx2.get(f"{server.url}/exposure").json()[0]
    assert (exact(alpha["net_units"]), exact(alpha["open_long_units"])) == (4, 0)
    # And as of T the desk stands as worked out in tests/support/exposure.py
    found = httpx2.get(f"{server.url}/exposure", params={"as_of": then})
    assert found.status_code == 200, found.text
    assert [exact(row) for row in found.json()] == expected(BY_ACCOUNT)
    # And a time that is not one is a problem document
    assert_problem(httpx2.get(f"{server.url}/exposure", params={"as_of": "soon"}), 400, "as_of")


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"by": "account"}, "by: exposure is per underlying; include underlying"),
        ({"by": "desk,underlying"}, "by: 'desk' is not one of account, venue, underlying"),
        ({"mark": "SOL=1"}, "mark SOL: no position or open order in that instrument"),
        ({"group": "account"}, "group"),
        ({"in_currency": "US D"}, "in_currency: the name of one currency, such as USDT"),
    ],
)
def test_a_bad_parameter_is_a_problem_and_stores_nothing(
    server: Server, params: dict[str, str], says: str
) -> None:
    before = server.ledger.log_position()
    assert_problem(httpx2.get(f"{server.url}/exposure", params=params), 400, says)
    assert server.ledger.log_position() == before


# ---------------------------------------------------------------------- the page


@pytest.fixture(scope="module")
def page_server() -> Iterator[Server]:
    require_browser()
    with running_server() as running:
        response = httpx2.post(f"{running.url}/messages", json=DESK)
        assert response.status_code == 200, response.text
        yield running


@pytest.fixture
def browser(page_server: Server) -> Iterator[Any]:
    with chromium() as driver:
        driver.get(f"{page_server.url}/")
        yield driver


def _rows(browser: Any) -> list[list[str]]:
    # read in one script: the table is replaced whole when the figures move
    rows: list[list[str]] = browser.execute_script(
        "return [...document.querySelectorAll('#exposure-table tbody tr')]"
        ".map((row) => [...row.cells].map((cell) => cell.textContent))"
    )
    return rows


def test_the_exposure_tab_shows_each_account_and_underlying(browser: Any, page_server: Server) -> None:
    browser.find_element("css selector", '#tabs button[data-tab="exposure"]').click()
    wait_until(lambda: len(_rows(browser)) == 3, "the desk's three rows")
    # The desk sets no limit and no trading state: the tab says so above the exposure
    risk = "return ['risk-limits', 'risk-states'].map((id) => document.getElementById(id).textContent)"
    shown = ["no limit in force", "every account active (no state ever set)"]
    wait_until(lambda: browser.execute_script(risk) == shown, "no limit, no state")
    rows = {(r[0], r[1]): r for r in _rows(browser)}
    # alpha BTC: net 3, 186050 USDT (gross the same: both legs long), options 1, open long 1,
    # open short −2, worst 4 and 1
    assert rows[("alpha", "BTC")][2:10] == ["3", "186050 USDT", "186050 USDT", "1", "1", "-2", "4", "1"]
    # beta BTC: −1.5 + 0.96875 = −0.53125, in two currencies; gross 62000 USD and |−93150| USDT
    assert rows[("beta", "BTC")][2:5] == ["-0.53125", "62000 USD -93150 USDT", "62000 USD 93150 USDT"]
    # ETH-USDT has no definition and no mark: the page says both
    assert rows[("alpha", "ETH-USDT")][-1] == "own underlying: spot-a:ETH-USDT; no price: spot-a:ETH-USDT"
    # When the grouping is across accounts, BTC nets to 2.46875
    browser.find_element("css selector", '#exposure select[name="by"] option[value="underlying"]').click()
    wait_until(lambda: len(_rows(browser)) == 2, "one row per underlying")
    assert _rows(browser)[0][:2] == ["BTC", "2.46875"]
    # And a new fill moves it without a reload: alpha sells 1 BTC/USDT (the live stream)
    fill = [
        {"type": "request", "client_order_id": "a-sell", "account": "alpha", "venue": "spot-a",
         "instrument": "BTC/USDT", "side": "sell", "order_type": "market", "quantity": "1",
         "ts": "2026-11-20T10:00:05Z"},
        {"type": "fill", "client_order_id": "a-sell", "trade_id": "t-a-sell", "quantity": "1",
         "price": "62000", "ts": "2026-11-20T10:00:06Z"},
    ]  # fmt: skip
    assert httpx2.post(f"{page_server.url}/messages", json=fill).status_code == 200
    wait_until(lambda: _rows(browser)[0][:2] == ["BTC", "1.46875"], "2.46875 − 1 = 1.46875 after the sale")
