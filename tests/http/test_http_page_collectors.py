"""The page's header shows the collectors running on its ledger, in headless Chromium against a
real server: the documented FIX collector (``orderledger collect fix``, docs/collect.md "Try it:
fix") runs as its own process on the same SQLite file, and the page reads its figures from
``GET /health``."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.browser import chromium, require_browser
from tests.support.collect_docs import block, run, start, stop
from tests.support.http_api import running_server, wait_until
from tests.support.page import texts

LINE = re.compile(
    r"desk1: streaming · [\d.]+ frames/s · [\d.]+ events/s · last frame [\d.]+s ago"
    r" · backlog 0 · reconnects 0 · parked 0"
)
"""The FIX collector's line once all is durable (the rates and the age move with the clock)."""


def test_the_header_shows_each_collectors_figures_while_it_runs(tmp_path: Path) -> None:
    require_browser()
    touch, collect, write, _, _ = block("Try it: fix")
    run(touch, tmp_path)
    with running_server(f"sqlite:///{tmp_path / 'collect.db'}") as server, chromium() as browser:
        browser.get(f"{server.url}/")
        # Given no collector on the ledger, the header says so;
        wait_until(lambda: texts(browser, "#collectors") == ["no collectors"], "no collectors")
        collector = start(collect, tmp_path)
        try:
            # when the FIX collector (the header showing it streaming, nothing read yet)
            wait_until(
                lambda: (
                    [t.split(" · ")[0] for t in texts(browser, "#collectors .collector")]
                    == ["desk1: streaming"]
                ),
                "the collector streaming",
            )
            # has followed a log the engine wrote 12 execution reports to (4 orders, 8 trades),
            # each chunk it read journaled as one frame,
            run(write, tmp_path)
            ledger = server.ledger
            wait_until(lambda: len(ledger.trades()) == 8, "the 8 trades")
            totals = f"\n{len(ledger.audit.messages())} frames, {ledger.log_position()} events; "

            def shown() -> tuple[str, str, str] | None:
                found = browser.execute_script(
                    "return Array.from(document.querySelectorAll('#collectors .collector'),"
                    " (e) => [e.textContent, e.title, e.className])"
                )
                return tuple(found[0]) if len(found) == 1 and totals in found[0][1] else None

            # then the header shows it streaming, every frame durable, nothing parked, in green,
            line, title, classes = wait_until(shown, "the collector's totals")
            assert LINE.fullmatch(line), line
            assert "on" in classes.split()
            # with its totals and latency in the title.
            assert re.search(r"latency p50 [\d.]+ ms, p99 [\d.]+ ms$", title), title
        finally:
            stop(collector)
        # Once the collector has stopped (its lease given up), the header says so again.
        wait_until(lambda: texts(browser, "#collectors") == ["no collectors"], "the collector gone")
