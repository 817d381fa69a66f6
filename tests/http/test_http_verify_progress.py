"""The page's verify button runs verify in the server's background and shows how far it is.

In headless Chromium against a real server over PostgreSQL: another connection holds the
settlements table locked, so the verify the button starts checks every event of the log, then
waits at the journal's settlements. Meanwhile the server answers other requests, the progress
says every event is checked and the verify still runs, and the page shows it; once the lock is
released the verify ends and the page shows its result.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from tests.support.audit import raw_sql
from tests.support.browser import require_browser
from tests.support.http_api import Server, fill, request, running_server, wait_until
from tests.support.page import click, live_page, texts


@pytest.fixture
def server(postgres_url: str) -> Iterator[Server]:
    require_browser()
    with running_server(postgres_url) as running:
        # Given: 3 orders, each requested and filled: 6 messages, each one event
        lines = [m for n in (1, 2, 3) for m in (request(f"c-{n}"), fill(f"c-{n}", f"t-{n}", "1", "100"))]
        response = httpx2.post(f"{running.url}/messages", json=lines)
        assert response.status_code == 200 and response.json()["counts"]["applied"] == 6, response.text
        yield running


@pytest.fixture
def browser(server: Server) -> Iterator[Any]:
    with live_page(server) as driver:
        yield driver


def test_the_verify_button_shows_progress_while_the_server_answers_other_requests(
    server: Server, browser: Any
) -> None:
    assert httpx2.get(f"{server.url}/verify/progress").json() == {
        "state": "idle",
        "checked": 0,
        "total": 0,
        "report": None,
        "error": None,
    }
    with raw_sql(server.ledger.url) as db, db.conn.transaction():
        db.execute("LOCK TABLE settlements IN ACCESS EXCLUSIVE MODE")
        # When the button is clicked while the verify cannot finish
        click(browser, "#verify")
        wait_until(
            lambda: httpx2.get(f"{server.url}/verify/progress").json()["checked"] == 6, "the events checked"
        )
        # Then the progress says all 6 events are checked and the verify still runs
        running = httpx2.get(f"{server.url}/verify/progress").json()
        assert (running["state"], running["checked"], running["total"], running["report"]) == (
            "running",
            6,
            6,
            None,
        )
        # And the server answers other requests meanwhile
        assert httpx2.get(f"{server.url}/health").status_code == 200
        assert httpx2.get(f"{server.url}/orders/c-1").json()["client_order_id"] == "c-1"
        # And a second start answers with the verify that runs rather than starting another
        again = httpx2.post(f"{server.url}/verify")
        assert again.status_code == 202 and again.json()["state"] == "running"
        # And the page shows how far it is
        wait_until(lambda: texts(browser, "#verify-result") == ["verifying… 6 of 6 events"], "progress")
    # When the lock is released, the verify ends: the page shows its result, and so does the server
    wait_until(lambda: texts(browser, "#verify-result") == ["verify ok · 6 events"], "verify ok")
    done = httpx2.get(f"{server.url}/verify/progress").json()
    assert (done["state"], done["checked"], done["total"]) == ("done", 6, 6)
    assert done["report"]["ok"] is True and done["report"]["full"] is True
