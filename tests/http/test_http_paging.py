"""Every list endpoint answers a page at a time: its pages, followed by their cursors, are exactly
the unpaged list in each sort; rows recorded between two pages are neither skipped nor shown
twice; a wrong parameter is a 400 naming it (docs/http.md, "Lists and pages")."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.http.app import create_app
from orderledger.infrastructure.http.service import LedgerService
from orderledger.infrastructure.listing import LISTINGS
from tests.support.http_api import LOOPBACK, assert_problem, fill, request, running_server
from tests.support.http_docs import ROOT
from tests.support.listing import PATHS, seed


@pytest.fixture
def seeded(make_ledger: Callable[..., OrderLedger]) -> Iterator[tuple[OrderLedger, TestClient]]:
    ledger = make_ledger()
    seed(ledger)
    with TestClient(
        create_app(LedgerService(ledger)), base_url=LOOPBACK, raise_server_exceptions=False
    ) as client:
        yield ledger, client


def follow(client: TestClient, path: str, **query: Any) -> tuple[list[dict[str, Any]], int]:
    """Every row of a list, read by following each page's Link; and how many pages it took."""
    rows: list[dict[str, Any]] = []
    response = client.get(path, params=query)
    pages = 1
    while True:
        assert response.status_code == 200, response.text
        rows += response.json()
        link = response.headers.get("Link")
        if link is None:
            assert "Next-Cursor" not in response.headers
            return rows, pages
        target = re.fullmatch(r'<(/[^>]*)>; rel="next"', link)
        assert target is not None, link
        assert f"cursor={response.headers['Next-Cursor']}" in target.group(1)
        response = client.get(target.group(1))
        pages += 1


def sorts_of(listing: str) -> list[str]:
    """Every sort a list offers: oldest, newest, each column ascending and descending."""
    return [
        sort
        for name in LISTINGS[listing].sort_names
        for sort in ((name,) if name in ("oldest", "newest") else (name, f"-{name}"))
    ]


@pytest.mark.parametrize("listing", list(PATHS))
def test_pages_concatenate_to_the_unpaged_list(seeded: Any, listing: str) -> None:
    _, client = seeded
    path, query = PATHS[listing]
    for sort in sorts_of(listing):
        # Given the whole list in one read, in this sort
        whole = client.get(path, params={**query, "sort": sort, "limit": 5000})
        assert whole.status_code == 200 and "Link" not in whole.headers
        assert whole.json(), sort
        # When it is read 3 rows a page (1 for a list of 3 rows or fewer)
        size = 3 if len(whole.json()) > 3 else 1
        rows, pages = follow(client, path, **query, sort=sort, limit=size)
        # Then the pages hold the same rows in the same order, in ceil(n / size) pages (the
        # page that ends the list says so: no empty page follows)
        assert rows == whole.json(), sort
        assert pages == -(-len(rows) // size), sort


def test_amounts_sort_as_numbers_with_ties_broken_by_log_position(seeded: Any) -> None:
    _, client = seeded
    # When the trades are sorted by price, highest first
    rows = client.get("/trades", params={"sort": "-price"}).json()
    # Then 1000 > 100.25 > 100 = 100 > 99.5 > 50 > 7 (as text "99.5" would come before "7" and
    # "1000" after "100.25"); the two fills at 100 (t-0 recorded before t-3) come in log order
    # reversed, as the whole sort is descending
    assert [(r["price"], r["trade_id"]) for r in rows] == [
        ("1000", "t-5"),
        ("100.25", "t-2"),
        ("100", "t-3"),
        ("100", "t-0"),
        ("99.5", "t-1"),
        ("50", "t-m"),
        ("7", "t-4"),
    ]


def test_a_market_order_without_price_sorts_lowest(seeded: Any) -> None:
    _, client = seeded
    rows = client.get("/orders", params={"sort": "price"}).json()
    # The market order has no price: lowest; then 7 < 99.5 < 100 = 100 (c-0 before c-3 by client
    # order ID) < 100.25 < 1000
    assert [r["client_order_id"] for r in rows] == [
        "alpha-m-1",
        "alpha-c-4",
        "alpha-c-1",
        "alpha-c-0",
        "alpha-c-3",
        "alpha-c-2",
        "alpha-c-5",
    ]


def test_total_count_counts_what_the_filter_selects(seeded: Any) -> None:
    _, client = seeded
    # Seven trades in all (six fills of limit orders, one of the market order); one page of 2
    response = client.get("/trades", params={"limit": 2, "count": "true"})
    assert response.headers["Total-Count"] == "7" and len(response.json()) == 2
    # The next page still counts 7 (the count ignores the cursor); trades of c-2: one
    following = client.get(
        "/trades", params={"limit": 2, "count": "true", "cursor": response.headers["Next-Cursor"]}
    )
    assert following.headers["Total-Count"] == "7"
    only = client.get("/trades", params={"order": "alpha-c-2", "count": "true"})
    assert only.headers["Total-Count"] == "1"
    # Without count=true, no header
    assert "Total-Count" not in client.get("/trades").headers


def test_the_default_page_is_500_rows(make_ledger: Callable[..., OrderLedger]) -> None:
    ledger = make_ledger()
    # 501 orders: the first page holds 500 and says more follow; the second holds the 501st
    ledger.ingest_lines(json.dumps(request(f"c-{i:03}")) for i in range(501))
    with TestClient(create_app(LedgerService(ledger)), base_url=LOOPBACK) as client:
        first = client.get("/orders")
        assert len(first.json()) == 500 and "Next-Cursor" in first.headers
        second = client.get("/orders", params={"cursor": first.headers["Next-Cursor"]})
        assert [r["client_order_id"] for r in second.json()] == ["c-500"]
        assert "Link" not in second.headers


@pytest.mark.parametrize(
    ("path", "query", "named"),
    [
        ("/orders", {"limit": "-1"}, "limit"),
        ("/orders", {"limit": "0"}, "limit"),
        ("/trades", {"limit": "5001"}, "limit"),
        ("/trades", {"limit": "lots"}, "limit"),
        ("/orders", {"sort": "sideways"}, "sort"),
        ("/trades", {"sort": "-status"}, "sort"),  # a column of orders, not of trades
        ("/trades", {"since": "yesterday"}, "since"),
        ("/orders", {"until": "2026-11-20T10:00:00"}, "until"),  # no UTC offset
        ("/events", {"since": "2026-11-21T00:00:00Z", "until": "2026-11-20T00:00:00Z"}, "since"),
        ("/trades", {"cursor": "not-a-cursor"}, "cursor"),
        ("/messages", {"cursor": ""}, None),  # an empty cursor is no cursor: 200
        ("/orders", {"acount": "alpha"}, "acount"),
        ("/trades", {"open": "true"}, "open"),  # /orders takes open, /trades does not
        ("/events", {"count": "maybe"}, "count"),
    ],
)
def test_each_bad_parameter_is_a_400_naming_it(
    client: TestClient, path: str, query: dict[str, str], named: str | None
) -> None:
    # (the parameters are read before the ledger is: one backend is enough)
    response = client.get(path, params=query)
    if named is None:
        assert response.status_code == 200, response.text
    else:
        assert_problem(response, 400, named)


def test_a_cursor_is_bound_to_its_filter_and_sort_and_sealed(seeded: Any) -> None:
    _, client = seeded
    cursor = client.get("/trades", params={"sort": "-price", "limit": 2}).headers["Next-Cursor"]
    # The same filter and sort continue; another sort, another filter: refused naming cursor
    assert client.get("/trades", params={"sort": "-price", "limit": 2, "cursor": cursor}).status_code == 200
    assert_problem(client.get("/trades", params={"sort": "price", "cursor": cursor}), 400, "cursor")
    assert_problem(
        client.get("/trades", params={"sort": "-price", "account": "beta", "cursor": cursor}), 400, "cursor"
    )
    assert_problem(client.get("/orders", params={"sort": "-price", "cursor": cursor}), 400, "cursor")
    # One character changed anywhere in it: refused, never a 500 or a wrong page
    for i in range(len(cursor)):
        changed = cursor[:i] + ("A" if cursor[i] != "A" else "B") + cursor[i + 1 :]
        assert_problem(client.get("/trades", params={"sort": "-price", "cursor": changed}), 400, "cursor")


def test_parked_messages_are_a_list_of_their_own(seeded: Any) -> None:
    _, client = seeded
    # The one fill nobody requested is parked; the journal holds 19 lines: 7 requests, 7 fills,
    # the rejected fill, the parked one, 3 definitions (7 + 7 + 1 + 1 + 3 = 19)
    parked = client.get("/messages", params={"parked": "true", "count": "true"})
    assert [m["client_order_id"] for m in parked.json()] == ["alpha-nobody"]
    assert parked.headers["Total-Count"] == "1"
    assert client.get("/messages", params={"count": "true"}).headers["Total-Count"] == "19"


# ---------------------------------------------------------------------- under concurrent ingest


_accounts = itertools.count()


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(
    first=st.lists(st.integers(0, 59), min_size=1, max_size=12),
    between=st.lists(st.lists(st.integers(0, 59), max_size=3), min_size=1, max_size=6),
    size=st.integers(1, 4),
    descending=st.booleans(),
)
def test_rows_recorded_between_pages_are_neither_skipped_nor_repeated(
    make_ledger: Callable[..., OrderLedger],
    first: list[int],
    between: list[list[int]],
    size: int,
    descending: bool,
) -> None:
    # One ledger for every example (a database per example would be slow on PostgreSQL): each
    # example trades in an account of its own and lists only that account's trades
    ledger = _shared(make_ledger)
    account = f"acct-{next(_accounts)}"
    counter = itertools.count()

    def record(seconds: list[int]) -> set[str]:
        made = []
        for second in seconds:
            n = next(counter)
            cid = f"{account}-{n}"
            ledger.ingest_lines(
                [
                    json.dumps(request(cid, account=account)),
                    json.dumps(fill(cid, f"t-{n}", "1", "100", ts=f"2026-11-20T10:00:{second:02}Z")),
                ]
            )
            made.append(f"t-{n}")
        return set(made)

    # Given trades at the venue times drawn
    before = record(first)
    sort = "-ts" if descending else "ts"
    seen: list[dict[str, Any]] = []
    added: set[str] = set()
    with TestClient(create_app(LedgerService(ledger)), base_url=LOOPBACK) as client:
        response = client.get("/trades", params={"account": account, "sort": sort, "limit": size})
        for batch in itertools.chain(between, itertools.repeat([])):
            seen += response.json()
            if "Next-Cursor" not in response.headers:
                break
            # When more trades are recorded before the next page is read (some earlier in venue
            # time than the page's last row, some later)
            added |= record(batch)
            response = client.get(
                "/trades",
                params={
                    "account": account,
                    "sort": sort,
                    "limit": size,
                    "cursor": response.headers["Next-Cursor"],
                },
            )
    ids = [r["trade_id"] for r in seen]
    # Then no trade is shown twice, every trade there before the first page is shown, and the
    # rows shown are in the sort's order (those recorded meanwhile that sort after the page
    # being read are shown in their place; those that sort before it are not: a fresh read
    # from the start shows them)
    assert len(ids) == len(set(ids))
    assert before <= set(ids) <= before | added
    times = [r["ts_event"] for r in seen]
    assert times == sorted(times, reverse=descending)


_shared_ledgers: dict[int, OrderLedger] = {}


def _shared(make_ledger: Callable[..., OrderLedger]) -> OrderLedger:
    """The one ledger of this test's examples (``make_ledger`` is the same for all of them)."""
    key = id(make_ledger)
    if key not in _shared_ledgers:
        _shared_ledgers.clear()
        _shared_ledgers[key] = make_ledger()
    return _shared_ledgers[key]


# ---------------------------------------------------------------------- the Python API


def test_the_python_api_pages_as_the_http_api_does(seeded: Any) -> None:
    ledger, client = seeded
    # A page of two trades by price, highest first; its cursor continues where it stopped
    first = ledger.trades(sort="-price", limit=2, count=True)
    assert [t.trade_id for t in first] == ["t-5", "t-2"] and first.total == 7
    second = ledger.trades(sort="-price", limit=2, cursor=first.next_cursor)
    assert [t.trade_id for t in second] == ["t-3", "t-0"]
    # The HTTP API's cursor is the same cursor: the Python API continues an HTTP page
    header = client.get("/trades", params={"sort": "-price", "limit": 2}).headers["Next-Cursor"]
    assert [t.trade_id for t in ledger.trades(sort="-price", limit=2, cursor=header)] == ["t-3", "t-0"]
    # A list without limit is the whole list, a list as before (next_cursor None)
    everything = ledger.orders()
    assert len(everything) == 7 and everything.next_cursor is None


def test_orders_as_of_a_time_page_as_the_view_does(seeded: Any) -> None:
    ledger, _ = seeded
    moment = "2099-01-01T00:00:00Z"  # after everything: the fold equals the view
    for sort in ("price", "-quantity", "newest", "status"):
        whole = [o.client_order_id for o in ledger.orders(sort=sort)]
        paged: list[str] = []
        cursor = None
        while True:
            page = ledger.orders(sort=sort, as_of=_utc(moment), limit=2, cursor=cursor)
            paged += [o.client_order_id for o in page]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert paged == whole, sort


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# ---------------------------------------------------------------------- the docs' example


def test_the_docs_paging_example_reads_the_whole_list() -> None:
    doc = (ROOT / "docs" / "http.md").read_text(encoding="utf-8")
    section = doc[doc.index("### Lists and pages") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    namespace: dict[str, Any] = {}
    exec(compile(code.group(1), "docs/http.md", "exec"), namespace)
    with running_server() as server:
        seed(server.ledger)
        with TestClient(create_app(LedgerService(server.ledger)), base_url=LOOPBACK) as client:
            for path, sort in (("/trades", "-price"), ("/orders", "newest"), ("/events", "type")):
                whole = client.get(path, params={"sort": sort}).json()
                assert namespace["every_row"](server.url, path, sort=sort) == whole


def test_parents_count_their_orders(seeded: Any) -> None:
    _, client = seeded
    # P1: c-0 (1 of 1 filled: closed) and c-1 (1 of 2: open); P2: c-2 (1 of 3: open); P3: c-3,
    # c-4, c-5 (1 of 4, 5, 6: all open), in BTC-USDT, ETH-USDT and SOL-USDT
    rows = client.get("/parents", params={"sort": "-orders"}).json()
    assert [(r["parent_id"], r["orders"], r["open_orders"]) for r in rows] == [
        ("P3", 3, 3),
        ("P1", 2, 1),
        ("P2", 1, 1),
    ]
    assert rows[0]["instruments"] == ["BTC-USDT", "ETH-USDT", "SOL-USDT"]
    assert rows[0]["created_at"] == "2026-11-20T10:00:03.000000Z"
    # Only the orders in ETH-USDT: P3 alone, with its one order there
    only = client.get("/parents", params={"instrument": "ETH-USDT"}).json()
    assert [(r["parent_id"], r["orders"]) for r in only] == [("P3", 1)]
