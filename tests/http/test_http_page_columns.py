"""The page's orders table is the order's declaration: ``GET /assets/columns.json`` serves
``domain.order_state.ShownOrder``'s ``Listed`` fields, in order, each with its heading, how it
is shown and the orders list's sort by it, and app.js names none of them itself. So a field
declared there shows on the page (and in the CLI) with no change to app.js; the browser test
of what the page draws from it is in ``test_http_browser.py``."""

from __future__ import annotations

import re
from dataclasses import fields, is_dataclass

from fastapi.testclient import TestClient

from orderledger.domain.order_state import LISTED
from orderledger.infrastructure.http.app import STATIC
from orderledger.infrastructure.listing import LISTINGS
from orderledger.infrastructure.results import log, orders, pnl, positions, trades


def test_the_served_orders_columns_are_the_declared_ones(secured: TestClient) -> None:
    # No token: the columns are no ledger data (the page reads them before it has one)
    answer = secured.get("/assets/columns.json")
    assert answer.status_code == 200
    table = answer.json()["orders"]
    columns = {c["field"]: c for c in table["columns"]}
    # Every field marked Listed, in declaration order, under its heading (its name unless declared)
    assert list(columns) == list(LISTED)
    assert [c["heading"] for c in columns.values()] == [mark.heading or name for name, mark in LISTED.items()]
    # Each shown by its kind: the order's ID opens its timeline, a flag is yes/no, a figure is
    # rounded to its instrument's price or quantity places, a list shows its items
    assert columns["client_order_id"]["shown"] == "link"
    assert columns["side"]["shown"] == "side"
    assert columns["post_only"] == {
        "field": "post_only",
        "heading": "post-only",
        "shown": "flag",
        "places": None,
        "sort": None,
    }
    assert (columns["filled_quantity"]["shown"], columns["filled_quantity"]["places"]) == (
        "figure",
        "quantity",
    )
    assert (columns["average_price"]["shown"], columns["average_price"]["places"]) == ("figure", "price")
    assert columns["anomalies"]["shown"] == "list"
    assert columns["created_at"]["shown"] == "time"
    assert columns["status"]["shown"] == "text"
    # A column is sortable by exactly the orders list's sort of its stored column
    orders = LISTINGS["orders"]
    assert {f: c["sort"] for f, c in columns.items() if c["sort"]} == {
        key.column: name for name, key in orders.sorts.items() if key.column in LISTED
    }
    assert columns["created_at"]["sort"] == "created"
    assert columns["leaves_quantity"]["sort"] is None  # derived: the server cannot sort by it
    # Live orders go on top of the sorts that put the newest first
    assert table["newest"] == ["newest", "-created"]


def test_app_js_names_no_field_only_the_orders_table_shows() -> None:
    # The order's fields no other row has (a trade's, a position's, ...): app.js could only
    # name them to spell the orders table (or an order's summary) by hand
    others = {
        f.name
        for module in (orders, trades, positions, pnl, log)
        for row in vars(module).values()
        if isinstance(row, type)
        and is_dataclass(row)
        and row.__name__.endswith("Row")
        and row is not orders.OrderRow
        for f in fields(row)
    }
    only_orders = {name for name in LISTED if name not in others}
    assert {"post_only", "filled_quantity", "leaves_quantity", "anomalies", "order_type"} <= only_orders
    script = (STATIC / "app.js").read_text(encoding="utf-8")
    named = set(re.findall(r"[\"'`]([a-z_]+)[\"'`]", script))
    assert not named & only_orders, sorted(named & only_orders)
    assert "ORDER_SORTS" not in script
