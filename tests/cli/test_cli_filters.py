"""One filter for every shell: a list's filters are declared once (``listing.FILTERS``), and the
CLI's options, the Python API's keyword arguments and the HTTP query parameters are those.

So each list command offers exactly the filters its list declares, as ``--PARAM`` with the help
the declaration gives; each list method of ``OrderLedger`` takes exactly them as keywords; and
the ``Filter`` the queries read has a field for each declared filter and no other criterion.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from orderledger.domain.errors import argument_names
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.cli.app import option_name
from orderledger.infrastructure.listing import FILTERS, LISTINGS, filters_of
from orderledger.infrastructure.results import Filter
from tests.support.audit import click_command, orderledger
from tests.support.http_api import fill, request

COMMANDS = {
    "orders": "orders",
    "trades": "trades",
    "events": "events",
    "messages": "messages",
    "positions": "positions",
    "instruments": "instruments",
    "parents": "parents",
}
"""Each list and the command that lists it."""
ELSEWHERE = {
    "parked": "messages",  # `messages --parked` reads the parked list, with the journal's filters
}
"""Lists another list's command reads."""

PAGING = {"newest", "limit", "sort", "cursor"}
"""The fields of ``Filter`` that page and order rows rather than select them."""


def options(command: str) -> dict[str, Any]:
    """A command's options by their name on the command line (``--account`` …)."""
    found = click_command().commands[command].params
    return {name: param for param in found for name in param.opts if name.startswith("--")}


def test_every_list_is_listed_by_a_command_or_named_as_not() -> None:
    assert set(COMMANDS) | set(ELSEWHERE) == set(LISTINGS)
    for listing, command in ELSEWHERE.items():
        assert filters_of(listing) == filters_of(command)


@pytest.mark.parametrize("listing", sorted(COMMANDS))
def test_a_list_command_offers_exactly_the_filters_its_list_declares(listing: str) -> None:
    offered = options(COMMANDS[listing])
    every_filter = {f"--{c.param}" for c in FILTERS}
    assert offered.keys() & every_filter == {f"--{c.param}" for c in filters_of(listing)}


@pytest.mark.parametrize("listing", sorted(COMMANDS))
def test_a_filter_option_says_what_the_declaration_says(listing: str) -> None:
    offered = options(COMMANDS[listing])
    for criterion in filters_of(listing):
        declared = argument_names(criterion.describe(listing), option_name)
        help_text = " ".join(offered[f"--{criterion.param}"].help.split())
        assert help_text == f"{declared[0].upper()}{declared[1:]}.", criterion.param


@pytest.mark.parametrize("listing", sorted(COMMANDS))
def test_a_list_method_takes_exactly_the_filters_its_list_declares(listing: str) -> None:
    keywords = set(inspect.signature(getattr(OrderLedger, listing)).parameters)
    assert keywords & {c.param for c in FILTERS} == {c.param for c in filters_of(listing)}


def test_the_filter_selects_by_the_declared_filters_only() -> None:
    assert {f.name for f in fields(Filter)} - PAGING == {c.name for c in FILTERS}


# ---------------------------------------------------------------------- what the options do


@pytest.fixture
def books(tmp_path: Path) -> str:
    """Positions in two accounts, two venues and two instruments, with the instruments defined;
    the orders of two parents."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    placed = (
        ("c-1", "alpha", "venue-x", "BTC-USDT", "p-1"),
        ("c-2", "beta", "venue-x", "ETH-USDT", "p-2"),
        ("c-3", "alpha", "venue-y", "ETH-USDT", "p-1"),
    )
    with OrderLedger(url) as ledger:
        for venue, instrument in {(v, i) for _, _, v, i, _ in placed}:
            ledger.define_instrument(venue, instrument, kind="spot", ts="2026-11-20T09:00:00Z")
        for cid, account, venue, instrument, parent in placed:
            where = {"account": account, "venue": venue, "instrument": instrument, "parent_id": parent}
            ledger.ingest_lines([json.dumps(request(cid, **where)), json.dumps(fill(cid, f"t-{cid}"))])
    return url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ((), ["alpha venue-x BTC-USDT", "alpha venue-y ETH-USDT", "beta venue-x ETH-USDT"]),
        (("--account", "alpha"), ["alpha venue-x BTC-USDT", "alpha venue-y ETH-USDT"]),
        (("--venue", "venue-x"), ["alpha venue-x BTC-USDT", "beta venue-x ETH-USDT"]),
        (("--instrument", "ETH-USDT", "--account", "beta"), ["beta venue-x ETH-USDT"]),
    ],
)
def test_positions_take_the_positions_filters(
    books: str, given: tuple[str, ...], expected: list[str]
) -> None:
    rows = orderledger("positions", *given, "--json", db=books).json()
    assert [f"{r['account']} {r['venue']} {r['instrument']}" for r in rows] == expected


def test_instruments_take_the_instruments_filters(books: str) -> None:
    rows = orderledger("instruments", "--instrument", "ETH-USDT", "--json", db=books).json()
    assert [(r["venue"], r["instrument"]) for r in rows] == [("venue-x", "ETH-USDT"), ("venue-y", "ETH-USDT")]
    rows = orderledger("instruments", "--venue", "venue-y", "--json", db=books).json()
    assert [(r["venue"], r["instrument"]) for r in rows] == [("venue-y", "ETH-USDT")]


def test_parents_take_the_parents_filters(books: str) -> None:
    rows = orderledger("parents", "--json", db=books).json()
    assert [(r["parent_id"], r["orders"], r["accounts"]) for r in rows] == [
        ("p-1", 2, ["alpha"]),
        ("p-2", 1, ["beta"]),
    ]
    rows = orderledger("parents", "--venue", "venue-y", "--json", db=books).json()
    assert [(r["parent_id"], r["orders"], r["instruments"]) for r in rows] == [("p-1", 1, ["ETH-USDT"])]
    table = orderledger("parents", "--sort=-orders", "--limit", "1", db=books)
    assert table.code == 0 and table.stdout.splitlines()[3].split()[:3] == ["p-1", "2", "2"], table.describe()
    # The rows left out are chosen by --sort and the list's own filters (parents take no --since)
    assert table.stderr == "showing the first 1 parents (--limit 1); --sort and the filters choose which\n"


@pytest.mark.parametrize("command", ["orders", "trades", "events", "messages"])
def test_a_time_filter_is_read_and_refused_in_the_options_words(books: str, command: str) -> None:
    malformed = orderledger(command, "--since", "yesterday", db=books).one_line_failure(2)
    assert "--since is not an ISO 8601 time" in malformed
    empty = orderledger(
        command, "--since", "2026-11-21T00:00:00Z", "--until", "2026-11-20T00:00:00Z", db=books
    )
    assert "--since 2026-11-21T00:00:00Z is after --until 2026-11-20T00:00:00Z" in empty.one_line_failure(2)
