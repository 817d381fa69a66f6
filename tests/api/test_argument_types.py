"""Every public method of OrderLedger and AsyncOrderLedger refuses a wrong-typed argument with
InvalidInputError (a LedgerError) naming the method and the parameter, and stores nothing.

The methods and their parameters are read from the classes, so a method or parameter added
later is covered without editing this file; only a required parameter needs a valid value in
VALID (the test says so when one is missing).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import io
import threading
import typing
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from eventsourcing.application import Application

from orderledger import AsyncOrderLedger, LedgerError, OrderLedger
from orderledger.domain.errors import InvalidInputError
from orderledger.infrastructure.application.argument_checks import type_hints
from orderledger.infrastructure.results.filter import Filter
from tests.support.integration import fill, lines, request, store_state, view_rows
from tests.support.postgres import private_schema, require_postgres


class Wrong:
    """A value of no type any parameter names: every check but ``Any`` refuses it."""

    def __repr__(self) -> str:
        return "Wrong()"


VALID: dict[str, Any] = {
    "lines": [],
    "items": [],
    "message": request("c-1"),
    "venue": "V",
    "instrument": "BTC-USDT",
    "markets": [],
    "spec": {"venue": "V", "account": "acc", "instrument": "BTC-USDT", "side": "buy", "quantity": "1"},
    "limits": [],
    "order": "c-1",
    "client_order_id": "c-1",
    "as_of": datetime(2026, 11, 20, 10, tzinfo=UTC),
    "where": Filter(),
    "position": 0,
    "limit": 1,
    "reason": "a stray report",
    "by": "ops",
    "cost_basis": "fifo",
    "message_id": 1,
    "table": "trades",
    "out": io.BytesIO(),
    "snapshot": '{"venue": "V", "account": "acc", "as_of": "2026-11-20T10:00:00Z", "orders": []}',
    "account": "acc",
    "owner": "collector-1",
    "pid": 1,
    "figures": {},
    "scope": "account",
    "target": "acc",
    "kind": "max_position",
    "value": "10",
    "set_by": "ops",
    "state": "halted",
}
"""A valid value for each required parameter."""


def public_methods(cls: type) -> list[str]:
    """The API: public methods the class defines itself."""
    return [n for n, v in vars(cls).items() if not n.startswith("_") and inspect.isfunction(v)]


def test_the_ledger_composes_eventsourcing_instead_of_inheriting_what_it_must_hide() -> None:
    # Its API is what it defines: no inherited save, repository or notification log to hide.
    assert not issubclass(OrderLedger, Application)
    assert not any(hasattr(OrderLedger, name) for name in ("save", "repository", "notification_log"))


def checked_parameters(cls: type, name: str) -> list[str]:
    """Parameters with a type hint that says something (not ``Any``, not ``*args``/``**kwargs``)."""
    method = getattr(cls, name)
    hints = type_hints(method)
    return [
        p.name
        for p in list(inspect.signature(method).parameters.values())[1:]
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and hints.get(p.name, Any) is not Any
    ]


CASES = [
    pytest.param(cls, name, parameter, id=f"{cls.__name__}.{name}.{parameter}")
    for cls in (OrderLedger, AsyncOrderLedger)
    for name in public_methods(cls)
    for parameter in checked_parameters(cls, name)
]


def arguments(cls: type, name: str, wrong: str, value: Any) -> dict[str, Any]:
    """Valid values for the required parameters, ``value`` for ``wrong``."""
    given: dict[str, Any] = {}
    for p in list(inspect.signature(getattr(cls, name)).parameters.values())[1:]:
        if p.name == wrong:
            given[p.name] = value
        elif p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            assert p.name in VALID, f"give VALID a value for {name}({p.name}=…)"
            given[p.name] = VALID[p.name]
    return given


def call(ledger: OrderLedger, cls: type, name: str, kwargs: dict[str, Any]) -> Any:
    """Call the method on the synchronous ledger, or on an AsyncOrderLedger wrapping it."""
    if cls is OrderLedger:
        return getattr(ledger, name)(**kwargs)

    async def run() -> Any:
        async with AsyncOrderLedger(ledger=ledger) as aio:
            result = getattr(aio, name)(**kwargs)
            return await result if inspect.isawaitable(result) else result

    return asyncio.run(run())


def stock(ledger: OrderLedger) -> OrderLedger:
    """An order and a fill, so that a stray write would show."""
    ledger.ingest_lines(lines(request("c-1"), fill("c-1", "t-1", quantity="4", price="100")))
    return ledger


@pytest.fixture
def stocked(ledger: OrderLedger) -> OrderLedger:
    """A stocked ledger on each backend."""
    return stock(ledger)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def shared(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrderLedger]:
    """One stocked ledger per backend for the many cases that must leave it as it is (each
    compares the store before and after itself)."""
    with contextlib.ExitStack() as stack:
        if request.param == "postgres":
            require_postgres()
            url = stack.enter_context(private_schema())
        else:
            url = f"sqlite:///{tmp_path_factory.mktemp('arguments') / 'ledger.db'}"
        ledger = stack.enter_context(OrderLedger(url))
        yield stock(ledger)


@pytest.mark.parametrize(("cls", "name", "parameter"), CASES)
def test_a_wrong_typed_argument_is_refused_before_storage_is_touched(
    shared: OrderLedger, cls: type, name: str, parameter: str
) -> None:
    before = (store_state(shared), view_rows(shared))

    with pytest.raises(InvalidInputError) as caught:
        call(shared, cls, name, arguments(cls, name, parameter, Wrong()))

    assert isinstance(caught.value, LedgerError)
    assert caught.value.message.startswith(f"{name}(): {parameter}")
    assert caught.value.message.endswith("not Wrong")
    assert "\n" not in caught.value.message
    assert (store_state(shared), view_rows(shared)) == before


def _ingest_one_string(ledger: OrderLedger) -> object:
    return ledger.ingest_lines('{"type": "fill"}')


@pytest.mark.parametrize(
    ("attempt", "words"),
    [
        # one string instead of lines: would be one rejected journal row per character
        (_ingest_one_string, "ingest_lines(): lines must be Iterable[str | bytes | None], not str"),
        (
            lambda ledger: ledger.ingest_lines([1, 2]),
            "ingest_lines(): lines[0] must be str | bytes | None, not int",
        ),
        (
            lambda ledger: ledger.positions(marks={"X": "64000"}),
            "positions(): marks['X'] must be Decimal, not str",
        ),
        (
            lambda ledger: ledger.positions(marks={"X": 64000.0}),
            "positions(): marks['X'] must be Decimal, not float",
        ),
        # one message as a dict instead of lines: would ingest each key as a rejected line, forever
        (
            lambda ledger: ledger.ingest_lines({"type": "fill"}),
            "ingest_lines(): lines must be Iterable[str | bytes | None], not dict",
        ),
        (lambda ledger: ledger.order(123), "order(): order must be str, not int"),
        (lambda ledger: ledger.follow(since="abc"), "follow(): since must be int, not str"),
        (lambda ledger: ledger.follow(since=-1), "follow(): since must be at least 0, not -1"),
        (lambda ledger: ledger.follow(since=True), "follow(): since must be int, not bool"),
        (lambda ledger: ledger.order("c-1", version=0), "order(): version must be at least 1, not 0"),
        (lambda ledger: ledger.orders(limit=-1), "orders(): limit must be at least 1, not -1"),
        (lambda ledger: ledger.orders(since=datetime(2026, 11, 20)), "orders(): since has no UTC offset"),
        (lambda ledger: ledger.events(types="OrderFilled"), "events(): types must be Sequence[str], not str"),
        (
            lambda ledger: ledger.audit.verify(expect_head=(1, 2)),
            "verify(): expect_head[1] must be str, not int",
        ),
        (lambda ledger: ledger.audit.verify(heads={1: 2}), "verify(): heads[1] must be str, not int"),
        (lambda ledger: ledger.record("{}"), "record(): message must be dict[str, Any], not str"),
        (
            lambda ledger: ledger.venues.reconcile(b"{}", grace=60),
            "reconcile(): grace must be timedelta, not int",
        ),
    ],
)
def test_the_reported_cases_are_refused_with_a_clear_message(
    stocked: OrderLedger, attempt: Callable[[OrderLedger], object], words: str
) -> None:
    before = (store_state(stocked), view_rows(stocked))

    with pytest.raises(InvalidInputError) as caught:
        attempt(stocked)

    assert caught.value.message.startswith(words)
    assert (store_state(stocked), view_rows(stocked)) == before


def test_a_wrong_line_in_a_generator_stops_the_ingest_there(ledger: OrderLedger) -> None:
    # A generator is read once, lazily, so its items are checked as they come: what was committed
    # (and acknowledged) before the wrong item stays; the wrong one stops the call with a clear
    # error, and the batch it was gathered into is not stored (never acknowledged either).
    def feed() -> typing.Iterator[object]:
        yield from lines(request("c-1"))
        yield None  # a live input's pause: what is held is committed
        yield from lines(request("c-2"))
        yield 42

    with pytest.raises(
        InvalidInputError, match=r"ingest_lines\(\): lines\[3\] must be str \| bytes \| None, not int"
    ):
        ledger.ingest_lines(feed())  # type: ignore[arg-type]

    assert [(m.client_order_id, m.outcome) for m in ledger.audit.messages()] == [("c-1", "applied")]


def test_right_types_pass_as_given_beside_the_wrong_ones(stocked: OrderLedger) -> None:
    # the check converts nothing: a right value reaches the method as given, a near miss is refused
    stop = threading.Event()
    stop.set()
    assert [c.position for c in stocked.follow(since=1, poll_seconds=1, stop=stop)] == [2]
    with pytest.raises(InvalidInputError, match=r"follow\(\): since must be int, not str"):
        stocked.follow(since="1", stop=stop)  # type: ignore[arg-type]
    # 4 bought at 100, marked at 101: unrealized (101 - 100) × 4 = 4
    [row] = stocked.positions(marks={"BTC-USDT": Decimal("101")})
    assert row.unrealized_pnl == Decimal("4")
    with pytest.raises(
        InvalidInputError, match=r"positions\(\): marks\['BTC-USDT'\] must be Decimal, not int"
    ):
        stocked.positions(marks={"BTC-USDT": 101})  # type: ignore[dict-item]


def test_a_version_past_the_last_is_refused(stocked: OrderLedger) -> None:
    # c-1 has two events (requested, filled): version 2 is the last, version 3 does not exist
    assert stocked.order("c-1", version=2).version == 2
    with pytest.raises(InvalidInputError, match=r"order 'c-1' has no version 3 \(its last is 2\)"):
        stocked.order("c-1", version=3)


@pytest.mark.parametrize(
    ("construct", "words"),
    [
        (
            lambda: OrderLedger(123),  # type: ignore[arg-type]
            "OrderLedger(): url must be str | None, not int",
        ),
        (
            lambda: OrderLedger(batch_size="10"),  # type: ignore[arg-type]
            "OrderLedger(): batch_size must be int, not str",
        ),
        (
            lambda: OrderLedger(project="no"),  # type: ignore[arg-type]
            "OrderLedger(): project must be bool, not str",
        ),
        (lambda: AsyncOrderLedger(readers=True), "AsyncOrderLedger(): readers must be int, not bool"),
        (
            lambda: AsyncOrderLedger(ledger="x"),  # type: ignore[arg-type]
            "AsyncOrderLedger(): ledger must be OrderLedger | None",
        ),
    ],
)
def test_the_constructors_refuse_wrong_types_before_opening_anything(
    construct: Callable[[], object], words: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # OrderLedger(123) raised AttributeError from inside the URL parsing; a wrong type is bad
    # input like any other, refused before a file is created
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidInputError) as caught:
        construct()

    assert caught.value.message.startswith(words)
    assert list(tmp_path.iterdir()) == []
