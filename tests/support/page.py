"""Reading and driving the operator's page in the browser tests: tabs, cells, rows, clicks and
the requests the page made (the browser's Resource Timing entries)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.browser import chromium
from tests.support.http_api import Server, wait_until


@contextlib.contextmanager
def live_page(server: Server) -> Iterator[Any]:
    """Headless Chromium on the server's page, once its live stream is up."""
    with chromium() as driver:
        driver.get(f"{server.url}/")
        wait_until(lambda: driver.find_element("id", "live").text.startswith("live"), "the live stream")
        yield driver


def tab(browser: Any, name: str) -> None:
    browser.find_element("css selector", f'#tabs button[data-tab="{name}"]').click()
    wait_until(lambda: browser.find_element("id", name).is_displayed(), f"the {name} tab")


def click(browser: Any, selector: str) -> None:
    """Click what ``selector`` finds; the page may re-render it meanwhile (a live refresh), so
    a stale element is looked up again, within the bound."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    def attempt() -> bool:
        try:
            browser.find_element("css selector", selector).click()
        except (StaleElementReferenceException, NoSuchElementException):
            return False
        return True

    wait_until(attempt, f"a click on {selector}")


def texts(browser: Any, selector: str) -> list[str]:
    """The text of everything ``selector`` finds, read in one script call: a live refresh
    replacing the elements cannot make the answer stale."""
    found = browser.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]), (e) => e.textContent)", selector
    )
    return [str(t) for t in found]


def enter(browser: Any, selector: str, text: str) -> None:
    """Type ``text`` into the field ``selector`` finds, in place of what it held, and press Enter
    (a change event, as a person's typing gives)."""
    # selenium is the dev extra's, loaded only by the browser tests
    from selenium.webdriver.common.keys import Keys

    field = browser.find_element("css selector", selector)
    field.clear()
    field.send_keys(text + Keys.ENTER)


def cell(browser: Any, key: str, column: str) -> str:
    found = texts(browser, f'tr[data-key="{key}"] td[data-col="{column}"]')
    return found[0] if found else ""


def rows(browser: Any, container: str) -> list[str]:
    return texts(browser, f"#{container} tbody tr")


def keys(browser: Any, container: str) -> list[str]:
    """The ``data-key`` of every row of a table, top to bottom."""
    found = browser.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]), (e) => e.dataset.key)",
        f"#{container} tbody tr",
    )
    return [str(k) for k in found]


def forget_requests(browser: Any) -> None:
    """Start counting the page's requests afresh (and keep up to 10,000 of them)."""
    browser.execute_script(
        "performance.setResourceTimingBufferSize(10000); performance.clearResourceTimings()"
    )


def requests_made(browser: Any) -> list[tuple[str, dict[str, list[str]]]]:
    """The API requests the page completed since ``forget_requests``: (path, query parameters),
    in order; the page's own files, the long-lived stream, ``/health`` and ``/state`` (which the
    header reads every 2 s for the collectors' figures and the trading states, whatever the test
    does) are left out."""
    names = browser.execute_script("return performance.getEntriesByType('resource').map((e) => e.name)")
    made = []
    for name in names:
        parts = urlsplit(str(name))
        if parts.path.startswith(("/static/", "/assets/")) or parts.path in ("/stream", "/health", "/state"):
            continue
        made.append((parts.path, parse_qs(parts.query)))
    return made
