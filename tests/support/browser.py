"""Headless Chromium (Debian's ``chromium`` and ``chromedriver``) driven by Selenium.

Nothing is downloaded: the browser and its driver are the system's. When they are missing the
browser tests are skipped with the reason, unless ``ORDERLEDGER_REQUIRE_BROWSER=1`` (set by CI,
which installs them) turns that into a failure.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("ORDERLEDGER_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("ORDERLEDGER_CHROMEDRIVER", "/usr/bin/chromedriver")
REQUIRE_BROWSER = os.environ.get("ORDERLEDGER_REQUIRE_BROWSER") == "1"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1440,900",
)


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not Path(path).exists():
            return f"{path} is missing: apt-get install chromium chromium-driver (package {package})"
    return None


def require_browser() -> None:
    reason = browser_missing()
    if reason:
        if REQUIRE_BROWSER:
            pytest.fail(reason + " (ORDERLEDGER_REQUIRE_BROWSER=1)")
        pytest.skip(reason)


@contextmanager
def chromium() -> Iterator[Any]:
    """A fresh headless Chromium with its own profile directory, closed afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="orderledger-chromium-")
    options = Options()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
