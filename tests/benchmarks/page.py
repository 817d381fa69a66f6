"""The operator's page at a desk's size, in headless Chromium: every tab's first paint and a new
fill's time from durable to visible, on a 100,000-trade ledger beside a 1,000-trade one.

    .venv/bin/python tests/benchmarks/page.py            # prints; --write puts the figures in the docs
    .venv/bin/python tests/benchmarks/page.py --quick    # 1,000 and 10,000 trades, 3 rounds

Each ledger is a SQLite file (WAL) written in bulk through the ledger's API (``ingest_lines``)
from a simulated session: every order buys or sells 3 and is filled twice, 1 each time, so the
ledger holds twice as many trades as orders and every order stays open. It is served by the app
on loopback (uvicorn in a thread, with the whole-log reads and the P&L folds in processes of their
own, as ``orderledger serve``) and read by a fresh headless Chromium.

- First paint of a tab: from the click on the tab (the Orders tab: from navigation start) to
  the frame after the tab's first rows are in the DOM (a MutationObserver, then
  requestAnimationFrame, timed with performance.now() in the page).
- Fill visible: from the moment ``POST /messages`` with the fill returns (durable: committed)
  to the frame after the new trade's row is in the blotter, and the order's row shows it on the
  Orders tab (wall clocks of the same machine: Python's and the page's Date.now()).
- The P&L tab drawn: after each round's new fills (a log position its three folds were not asked
  at), from the click on the tab to every chart and table of it in the DOM. Not a first paint (the
  positions are): it says how long the folds and the drawing take at that size.

Targets (issue 35), on the large ledger: every first paint under 1 s, a fill visible under 0.5 s.
Screenshots of the page on both ledgers go to docs/screenshots/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import httpx2  # noqa: E402

from orderledger.infrastructure.application.ledger import OrderLedger  # noqa: E402
from orderledger.infrastructure.http.bounded_reads import CONCURRENCY, ReaderProcesses  # noqa: E402
from tests.support.browser import chromium  # noqa: E402
from tests.support.http_api import running_server, wait_until  # noqa: E402

START_MARK = "<!-- page -->"
END_MARK = "<!-- /page -->"
SCREENSHOTS = ROOT / "docs" / "screenshots"
BEGIN = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
VENUES = (
    ("venueA", "BTC-USDT", 64000.0),
    ("venueA", "ETH-USDT", 3100.0),
    ("venueB", "BTC/USD", 64010.0),
    ("venueB", "SOL/USD", 145.0),
)
ACCOUNTS = ("alpha", "beta", "gamma")
TARGET_PAINT = 1.0
TARGET_FILL = 0.5

# Tabs and what their first rows are; the timeline opens an order.
TABS = (
    ("orders", "#orders-table tbody tr"),
    ("trades", "#trades-table tbody tr"),
    ("pnl", "#positions-table tbody tr"),
    ("timeline", "#timeline-events li"),
    ("linkage", "#parents-table tbody tr"),
    ("journal", "#journal-table > *"),
)

# Resolves with the page's clock at the frame after `predicate` first holds.
WAIT = """
window.__waitFor = (predicate, clock) => new Promise((resolve) => {
  const done = () => requestAnimationFrame(() => resolve(clock()));
  if (predicate()) { done(); return; }
  const observer = new MutationObserver(() => { if (predicate()) { observer.disconnect(); done(); } });
  observer.observe(document, { childList: true, subtree: true, characterData: true });
});
"""

# At document start: the Orders tab's first rows, timed from navigation start.
FIRST_LOAD = (
    WAIT
    + """
document.addEventListener("DOMContentLoaded", () => {
  window.__ordersPainted = null;
  __waitFor(() => document.querySelector("#orders-table tbody tr"), () => performance.now())
    .then((t) => { window.__ordersPainted = t; });
});
"""
)


def stamp(seconds: float) -> str:
    return (BEGIN + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def session(orders: int, seed: int = 35) -> Iterator[str]:
    """A day of a busy bot in the ledger's message format: order b-NNNNNN of an account on a
    venue's instrument, a buy or a sell of 3 near a random-walking price, a child of parent
    P-(N div 20), filled 1 and 1 within the next seconds."""
    rng = random.Random(seed)
    prices = {instrument: price for _, instrument, price in VENUES}
    for n in range(orders):
        venue, instrument, _ = VENUES[n % len(VENUES)]
        prices[instrument] *= 1 + rng.gauss(0, 0.0005)
        price = f"{prices[instrument]:.2f}"
        cid = f"b-{n:06d}"
        at = n * 1.7
        yield json.dumps(
            {
                "type": "request",
                "client_order_id": cid,
                "account": ACCOUNTS[n % len(ACCOUNTS)],
                "venue": venue,
                "instrument": instrument,
                "side": rng.choice(("buy", "sell")),
                "order_type": "limit",
                "quantity": "3",
                "price": price,
                "parent_id": f"P-{n // 20:05d}",
                "ts": stamp(at),
            }
        )
        for leg in (1, 2):
            yield json.dumps(
                {
                    "type": "fill",
                    "client_order_id": cid,
                    "trade_id": f"{cid}-{leg}",
                    "quantity": "1",
                    "price": price,
                    "fee": "0.01",
                    "fee_currency": "USDT" if "USDT" in instrument else "USD",
                    "ts": stamp(at + 0.4 * leg),
                }
            )


def build(url: str, orders: int) -> float:
    """Write the ledger; the seconds it took."""
    began = time.perf_counter()
    ledger = OrderLedger(url, batch_size=5_000)
    try:
        report = ledger.ingest_lines(session(orders), origin="page-benchmark")
        assert not report.rejected, report.rejected
    finally:
        ledger.close()
    return time.perf_counter() - began


def first_paints(driver: Any, url: str, order: str, tabs: tuple[tuple[str, str], ...]) -> dict[str, float]:
    """Seconds to the first rows of each tab, in one fresh page load."""
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": FIRST_LOAD})
    driver.get(f"{url}/")
    wait_until(lambda: driver.execute_script("return window.__ordersPainted"), "the orders' first rows", 60)
    paints = {"orders": driver.execute_script("return window.__ordersPainted") / 1000}
    for tab, selector in tabs[1:]:
        paints[tab] = driver.execute_async_script(
            """const [tab, selector, order, done] = arguments;
               const container = document.querySelector(selector.split(" ")[0]);
               container.replaceChildren();
               const t0 = performance.now();
               __waitFor(() => document.querySelector(selector), () => performance.now()).then((t) => done((t - t0) / 1000));
               if (tab === "timeline") openTimeline(order);
               else document.querySelector(`#tabs button[data-tab="${tab}"]`).click();""",
            tab,
            selector,
            order,
        )
    return paints


def fill_visible(driver: Any, url: str, tab: str, order: str, trade: str, at: str) -> float:
    """Seconds from the fill's POST returning to its row on ``tab`` (trades: the new trade's
    row; orders: the order's row filled 3)."""
    driver.execute_script(f'document.querySelector(`#tabs button[data-tab="{tab}"]`).click()')
    table = "#trades-table" if tab == "trades" else "#orders-table"
    wait_until(
        lambda: driver.execute_script(f"return document.querySelectorAll('{table} tbody tr').length"),
        f"the {tab} tab",
        60,
    )
    if tab == "trades":
        predicate = f'() => document.querySelector(`#trades-table tr[data-key="trade:{order}:{trade}"]`)'
    else:
        predicate = f'() => {{ const c = document.querySelector(`#orders-table tr[data-key="order:{order}"] td[data-col="filled_quantity"]`); return c && c.textContent === "3"; }}'
    driver.execute_script(
        f"window.__seen = null; __waitFor({predicate}, () => Date.now()).then((t) => {{ window.__seen = t; }});"
    )
    price = httpx2.get(f"{url}/orders/{order}").json()["price"]  # the order's limit, as the other fills
    response = httpx2.post(
        f"{url}/messages",
        json={
            "type": "fill",
            "client_order_id": order,
            "trade_id": trade,
            "quantity": "1",
            "price": price,
            "ts": at,
        },
    )
    durable = time.time() * 1000
    assert response.status_code == 200, response.text
    seen = float(
        wait_until(lambda: driver.execute_script("return window.__seen"), "the fill on the page", 30)
    )
    return max(0.0, (seen - durable) / 1000)


# Every chart and table of the P&L tab drawn (the grouped P&L, the daily P&L and the series)
PNL_DRAWN = (
    "document.querySelector('#pnl-charts .main-svg') && document.querySelector('#daily-charts .main-svg')"
    " && document.querySelector('#pnl-table table')"
)


def pnl_drawn(driver: Any) -> float:
    """Seconds from a click on the P&L tab to its every chart and table drawn: its three folds
    at a log position not asked before (the round's new fills), and the drawing."""
    driver.execute_script('document.querySelector(`#tabs button[data-tab="trades"]`).click()')
    return float(
        driver.execute_async_script(
            f"""const done = arguments[0];
               for (const id of ["pnl-charts", "daily-charts", "pnl-table"]) document.getElementById(id).replaceChildren();
               const t0 = performance.now();
               __waitFor(() => {PNL_DRAWN}, () => performance.now()).then((t) => done((t - t0) / 1000));
               document.querySelector(`#tabs button[data-tab="pnl"]`).click();"""
        )
    )


def measure(label: str, orders: int, rounds: int, folder: Path, shots: bool) -> dict[str, Any]:
    url = f"sqlite:///{folder / f'{orders}.db'}"
    built = build(url, orders)
    print(f"{label}: {orders:,} orders, {2 * orders:,} trades written in {built:.1f} s", flush=True)
    paints: dict[str, list[float]] = {tab: [] for tab, _ in TABS}
    fills: dict[str, list[float]] = {"trades": [], "orders": []}
    drawn: list[float] = []
    load = [os.getloadavg()[0]]
    # As `orderledger serve` over a file: whole-log reads and the P&L folds in processes of their own
    reader, folds = ReaderProcesses(url, CONCURRENCY), ReaderProcesses(url, 1, "P&L reads")
    folds.start()
    with running_server(url, reader=reader, folder=folds) as server, chromium() as driver:
        # The Parents tab is measured where the server lists parents (GET /parents)
        listed = httpx2.get(f"{server.url}/parents", params={"limit": 1}).status_code == 200
        tabs = tuple(t for t in TABS if listed or t[0] != "linkage")
        driver.set_script_timeout(60)
        if shots:
            screenshots(driver, server.url, label)
        for round_ in range(rounds):
            for tab, seconds in first_paints(
                driver, server.url, f"b-{orders - 1 - round_:06d}", tabs
            ).items():
                paints[tab].append(seconds)
            # The newest orders are on the blotter's and the orders' first pages
            for tab, offset in (("trades", 0), ("orders", rounds)):
                order = f"b-{orders - 1 - round_ - offset:06d}"
                # the newest trade: a second after the session's last
                at = stamp(orders * 1.7 + 2 * round_ + (1 if tab == "orders" else 0))
                fills[tab].append(fill_visible(driver, server.url, tab, order, f"{order}-3", at))
            drawn.append(pnl_drawn(driver))
    reader.close()
    folds.close()
    load.append(os.getloadavg()[0])
    return {
        "label": label,
        "orders": orders,
        "built": built,
        "paints": paints,
        "fills": fills,
        "drawn": drawn,
        "load": load,
    }


def digits(label: str) -> str:
    return re.sub(r"\D", "", label)


def screenshots(driver: Any, url: str, label: str) -> None:
    size = digits(label)
    driver.get(f"{url}/")
    for tab, height in (("orders", 900), ("trades", 900), ("pnl", 1900), ("linkage", 900)):
        driver.set_window_size(1440, height)
        driver.execute_script(f'document.querySelector(`#tabs button[data-tab="{tab}"]`).click()')
        selector = {"pnl": "#daily-charts .chart .main-svg", "linkage": "#parents-table tbody tr"}.get(
            tab, f"#{tab}-table tbody tr"
        )
        wait_until(
            lambda: driver.execute_script("return document.querySelector(arguments[0])", selector),  # noqa: B023
            f"the {tab} tab",
            600,
        )
        if tab == "pnl":
            wait_until(
                lambda: driver.execute_script(
                    f"return {PNL_DRAWN} && document.querySelector('#fills-chart .chart .main-svg')"
                ),
                "the charts and tables",
                600,
            )
        driver.save_screenshot(str(SCREENSHOTS / f"page-{size}-{tab}.png"))
    driver.set_window_size(1440, 900)


def summary(values: list[float]) -> str:
    if not values:
        return "not measured"
    return f"{statistics.median(values):.3f} s (max {max(values):.3f})"


def table(results: list[dict[str, Any]], rounds: int) -> str:
    small, large = results
    head = f"| | {small['label']} | {large['label']} | target |\n|---|---|---|---|\n"
    lines = []
    names = {
        "orders": "Orders",
        "trades": "Trades",
        "pnl": "Positions & P&L",
        "timeline": "Order timeline",
        "linkage": "Parents",
        "journal": "Journal",
    }
    for tab, _ in TABS:
        lines.append(
            f"| first paint: {names[tab]} | {summary(small['paints'][tab])} | {summary(large['paints'][tab])} | < {TARGET_PAINT:g} s |"
        )
    for tab, name in (
        ("trades", "new fill visible on the blotter"),
        ("orders", "new fill visible on its order's row"),
    ):
        lines.append(
            f"| {name} | {summary(small['fills'][tab])} | {summary(large['fills'][tab])} | < {TARGET_FILL:g} s |"
        )
    lines.append(
        f"| P&L tab, every chart and table drawn (folded anew) | {summary(small['drawn'])} | {summary(large['drawn'])} | — |"
    )
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()},"
        " headless Chromium, SQLite (WAL)"
    )
    loads = " and ".join(f"{r['load'][0]:.2f} → {r['load'][1]:.2f}" for r in results)
    note = (
        f"\nMedian over {rounds} rounds (max in brackets), each round a fresh page load; {machine}."
        f" Ledgers written in bulk through `ingest_lines`: {small['built']:.1f} s and {large['built']:.1f} s."
        f" Load average (1 minute) at the start and end of each ledger's run: {loads}.\n"
    )
    shots = "".join(
        f"\n![the {names[tab]} tab on {r['label']}](screenshots/page-{digits(r['label'])}-{tab}.png)\n"
        for r in results
        for tab in ("trades", "pnl", "linkage")
    )
    return head + "\n".join(lines) + "\n" + note + shots


def write(doc: Path, text: str, heading: str) -> None:
    content = doc.read_text()
    block = f"{START_MARK}\n{text}{END_MARK}"
    if START_MARK in content:
        content = re.sub(
            re.escape(START_MARK) + ".*?" + re.escape(END_MARK), lambda _: block, content, flags=re.S
        )
    else:
        content = content.rstrip("\n") + f"\n\n{heading}\n\n{block}\n"
    doc.write_text(content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 and 10,000 trades, 3 rounds, prints only")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--write", action="store_true", help="write the figures into docs/ and the screenshots"
    )
    args = parser.parse_args()
    rounds = 3 if args.quick else args.rounds
    sizes = (("1,000 trades", 500), ("10,000 trades", 5_000) if args.quick else ("100,000 trades", 50_000))
    with tempfile.TemporaryDirectory(prefix="orderledger-page-") as folder:
        results = [measure(label, orders, rounds, Path(folder), args.write) for label, orders in sizes]
    text = table(results, rounds)
    print(text)
    if args.write:
        write(ROOT / "docs" / "benchmarks.md", text, "## The operator's page at a desk's size")
        write(ROOT / "docs" / "http.md", text, "## The page at a desk's size")


if __name__ == "__main__":
    main()
