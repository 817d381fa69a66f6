"""The page's header shows the trading state and who set it, in headless Chromium against a real
server: a halt recorded by another process on the same SQLite file appears, then its resumption."""

from __future__ import annotations

from pathlib import Path

from orderledger import OrderLedger
from tests.support.browser import chromium, require_browser
from tests.support.http_api import running_server, wait_until
from tests.support.page import texts


def test_the_header_shows_who_halted_trading(tmp_path: Path) -> None:
    require_browser()
    url = f"sqlite:///{tmp_path / 'risk.db'}"
    with running_server(url) as server, chromium() as browser:
        browser.get(f"{server.url}/")
        # Given no state ever set: trading is active
        wait_until(lambda: texts(browser, "#trading") == ["trading active"], "trading active")
        # When alice halts the account from another ledger on the same file
        with OrderLedger(url) as other:
            other.risk_controls.set_trading_state(
                "halted", account="main", set_by="alice", reason="flash crash"
            )
        # Then the header says who halted it, and why in its title
        wait_until(lambda: texts(browser, "#trading") == ["main: halted by alice"], "the halt")
        title = browser.execute_script("return document.querySelector('#trading .trading').title")
        assert title.startswith("flash crash (since "), title
        # And once resumed, trading is active again
        with OrderLedger(url) as other:
            other.risk_controls.set_trading_state("active", account="main", set_by="bob")
        wait_until(lambda: texts(browser, "#trading") == ["trading active"], "trading active again")
