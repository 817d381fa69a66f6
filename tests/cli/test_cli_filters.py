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

from orderledger import AsyncOrderLedger
from orderledger.domain.errors import InvalidInputError, argument_names
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.cli.app import option_name
from orderledger.infrastructure.listing import FILTERS, LISTINGS, filters_of
from orderledger.infrastructure.results.filter import Filter
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


def _filter_keywords_of(listing: str) -> set[str]:
    """What ``Filter`` itself says ``listing``'s methods take: each field whose declared lists
    name it, under its keyword, and the fields that page every list."""
    return {
        f.metadata.get("param") or f.name
        for f in fields(Filter)
        if "lists" not in f.metadata or listing in f.metadata["lists"]
    }


LIST_METHODS = {name: name for name in COMMANDS}


@pytest.mark.parametrize("listing", sorted(COMMANDS))
def test_a_list_method_takes_exactly_the_filters_its_list_declares(listing: str) -> None:
    # Given the keywords of the list method (sync and async), and those Filter declares for it
    for cls in (OrderLedger, AsyncOrderLedger):
        signature = inspect.signature(getattr(cls, LIST_METHODS[listing]))
        keywords = set(signature.parameters)
        every_filter = {f.metadata.get("param") or f.name for f in fields(Filter)}
        # Then they are the same: a field added to Filter is a keyword of each list that takes it
        assert keywords & every_filter == _filter_keywords_of(listing)
        # and they are typed as Filter types them, with its defaults
        assert signature.parameters["where"].default is None
        for f in fields(Filter):
            param = f.metadata.get("param") or f.name
            if param in keywords:
                assert (
                    signature.parameters[param].annotation == f.type
                    and signature.parameters[param].default == f.default
                ), param


@pytest.mark.parametrize("listing", sorted(COMMANDS))
def test_the_list_methods_spell_no_filter_keyword_themselves(listing: str) -> None:
    # The method as written takes the whole Filter (``where``) and its list's own keywords only
    written = inspect.unwrap(getattr(OrderLedger, LIST_METHODS[listing]))
    own = inspect.signature(written, follow_wrapped=False).parameters
    assert "where" in own and not own.keys() & {f.metadata.get("param") or f.name for f in fields(Filter)}


def test_an_iter_method_takes_a_filter_and_no_filter_keyword() -> None:
    every_filter = {f.metadata.get("param") or f.name for f in fields(Filter)}
    for name in ("iter_orders", "iter_trades", "iter_events", "iter_messages"):
        parameters = inspect.signature(getattr(OrderLedger, name)).parameters
        assert parameters["where"].annotation == "Filter" and not parameters.keys() & every_filter, name


def test_a_list_method_takes_a_filter_whole_or_its_keywords_never_both() -> None:
    # Given two orders in two accounts
    with OrderLedger("memory://") as ledger:
        for cid, account in (("c-1", "alpha"), ("c-2", "beta")):
            ledger.record(request(cid, account=account))
        # When the orders of alpha are asked for by keyword, and by a Filter given whole
        by_keyword = ledger.orders(account="alpha")
        by_filter = ledger.orders(Filter(account="alpha"))
        # Then both answer c-1 alone (and `order=` is the client_order_id field, by its keyword)
        assert [o.client_order_id for o in by_keyword] == [o.client_order_id for o in by_filter] == ["c-1"]
        assert ledger.events(order="c-2").total is None and {
            e.client_order_id for e in ledger.events(order="c-2")
        } == {"c-2"}
        # And a Filter with filter keywords besides is refused, naming both ways
        with pytest.raises(
            InvalidInputError,
            match=r"^orders\(\): give a Filter \(where\) or the filter keywords \(account\), not both$",
        ):
            ledger.orders(Filter(venue="x"), account="alpha")
        # And a filter the list does not take is no keyword of it
        with pytest.raises(TypeError, match="parent"):
            ledger.positions(parent="p-1")


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
            ledger.venues.define_instrument(venue, instrument, kind="spot", ts="2026-11-20T09:00:00Z")
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
