"""Regenerate what docs/ shows of the HTTP layer from the current code:

    .venv/bin/python -m tests.support.http_docs     # docs/openapi.json and docs/screenshots/orderledger.png

The screenshot is the page over the demo's simulated session, taken in headless Chromium.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

OPENAPI = ROOT / "docs" / "openapi.json"
SCREENSHOT = ROOT / "docs" / "screenshots" / "orderledger.png"


def openapi_document() -> str:
    from orderledger.infrastructure.application.ledger import OrderLedger
    from orderledger.infrastructure.http.app import create_app, openapi_text
    from orderledger.infrastructure.http.service import LedgerService

    ledger = OrderLedger("memory://")
    try:
        return openapi_text(create_app(LedgerService(ledger)))
    finally:
        ledger.close()


def screenshot(path: Path) -> None:
    from orderledger.infrastructure.application.simulator import simulate_lines
    from tests.support.browser import chromium
    from tests.support.http_api import running_server, wait_until

    with running_server() as server, chromium() as driver:
        server.ledger.ingest_lines(simulate_lines(7, 40), origin="demo:seed=7")
        driver.get(f"{server.url}/")
        wait_until(lambda: driver.find_element("id", "live").text.startswith("live"), "the live stream")
        wait_until(lambda: driver.find_elements("css selector", "#orders-table tbody tr"), "the open orders")
        path.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(path))


if __name__ == "__main__":
    OPENAPI.write_text(openapi_document(), encoding="utf-8")
    print(f"wrote {OPENAPI.relative_to(ROOT)}")
    screenshot(SCREENSHOT)
    print(f"wrote {SCREENSHOT.relative_to(ROOT)}")
