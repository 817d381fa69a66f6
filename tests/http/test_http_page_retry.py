"""The page asks again for a read the server's bounds refused for now (429, 503 with
``Retry-After``), in headless Chromium against a real server: its tabs and live refreshes read
several lists at once, and a tab whose read was refused would otherwise stay empty."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx2
import pytest

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.http import bounded_reads
from orderledger.infrastructure.http.bounded_reads import OwnThreads, list_limit
from orderledger.infrastructure.http.service import Asked, LedgerService, Listing
from tests.support.browser import chromium, require_browser
from tests.support.http_api import BOUND, fill, request, running_server, wait_until
from tests.support.page import keys, tab

HELD = 5000
"""The page size of the test's own list read, the one the server holds in flight."""
STATUSES = """
window.__refused = [];
const plainFetch = window.fetch;
window.fetch = async (...args) => {
  const answer = await plainFetch(...args);
  if (answer.status === 429 || answer.status === 503) window.__refused.push(String(args[0]));
  return answer;
};
"""


class HeldReads(LedgerService):
    """The list reads' service, whose reads of ``HELD`` rows wait at their start until
    ``release`` is set (the page's own reads are smaller and run)."""

    def __init__(self, ledger: OrderLedger) -> None:
        super().__init__(ledger)
        self.release = threading.Event()
        self.holding = threading.Event()

    def answer(self, asked: Asked) -> Any:
        if isinstance(asked, Listing) and asked.request.where.limit == HELD:
            self.holding.set()
            self.release.wait(BOUND)
        return super().answer(asked)


def test_a_tab_whose_list_read_was_refused_fills_in_once_the_server_admits_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_browser()
    # The refusal's Retry-After: 0 s, so that the page's pause is its floor (a quarter second)
    monkeypatch.setattr(bounded_reads, "RETRY_AFTER", 0)
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with OrderLedger(url) as ledger:
        for message in (request("c-1", parent_id="P-1"), fill("c-1", "t-1", "1", "100")):
            ledger.record(message)
        ledger.record(request("c-2", parent_id="P-2", ts="2026-11-20T10:00:04Z"))
    held = HeldReads(OrderLedger(url, create=False))
    # One list read at a time per client: the page and this test are one address, no token
    lists = list_limit(concurrency=4, per_client=1, seconds=BOUND)
    with running_server(url, lists=lists, lister=OwnThreads(held, 4)) as server, chromium() as driver:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": STATUSES})
        driver.get(f"{server.url}/")
        wait_until(lambda: driver.find_element("id", "live").text.startswith("live"), "the live stream")
        # Given a list read of this address held in flight
        reader = threading.Thread(
            target=lambda: httpx2.get(f"{server.url}/orders", params={"limit": HELD}, timeout=BOUND * 2),
            daemon=True,
        )
        reader.start()
        wait_until(held.holding.is_set, "the held read in flight")
        # When the Parents tab is opened: its read of the parents is refused (429) while it is held
        tab(driver, "linkage")
        wait_until(
            lambda: any("/parents" in p for p in driver.execute_script("return window.__refused")),
            "the parents' read refused",
        )
        assert keys(driver, "parents-table") == []
        held.release.set()
        reader.join(BOUND)
        # Then the page asks again and the tab shows both parents, the newest first order first
        wait_until(
            lambda: keys(driver, "parents-table") == ["parent:P-2", "parent:P-1"], "the parents listed"
        )
