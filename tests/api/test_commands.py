"""One facade: every command and query of the Python API is a typed request answered by
``OrderLedger.handle`` (issue 48, "one facade, typed requests"). Each public method of the ledger
builds its request and hands it to the one dispatch; ``placing`` and ``follow`` stay methods,
built over requests for their parts (the request and the answer are ``Record`` requests, the
follower's reads ``CommittedAfter``).

The session is ``tests/support/api_session.py``: A bought 4 BTC-USDT at 100, B sold 3 at 110,
C (ETH-USDT, account other) is open.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from orderledger import Filter, InvalidInputError, OrderLedger
from orderledger.infrastructure.application import bootstrap, ledger_groups
from orderledger.infrastructure.application import ledger as ledger_module
from orderledger.infrastructure.application import requests as asks
from orderledger.infrastructure.application.requests import REQUESTS, Request
from orderledger.infrastructure.ingest.inbound import Inbound
from tests.support.api_session import SESSION
from tests.support.integration import at, line, lines, request


def _refused(call: Callable[[], Any]) -> None:
    with pytest.raises(InvalidInputError):
        call()


def _deprecated(call: Callable[[], Any]) -> Any:
    with pytest.deprecated_call():
        return call()


CASES: dict[str, tuple[Callable[[OrderLedger, Path], Any], type[Request[Any]]]] = {
    # recording
    "ingest_lines": (lambda x, _: x.ingest_lines(lines(request("D", seconds=20))), asks.IngestStream),
    "ingest_inbound": (
        lambda x, _: x.ingest_inbound(
            [Inbound(raw=line(request("E", seconds=21)).encode(), origin="t", line_no=1, format="ledger")]
        ),
        asks.IngestInbound,
    ),
    "record": (lambda x, _: x.record(request("F", seconds=22)), asks.Record),
    "define_instrument": (
        lambda x, _: x.venues.define_instrument("V", "BTC-PERP", kind="perpetual", settle_currency="USDT"),
        asks.DefineInstrument,
    ),
    "load_ccxt_markets": (lambda x, _: x.venues.load_ccxt_markets({}, venue="V"), asks.LoadCcxtMarkets),
    "settle": (
        lambda x, _: _refused(lambda: x.venues.settle(10**9, reason="r", by="b")),
        asks.Settle,
    ),
    "reconcile": (
        lambda x, _: x.venues.reconcile(b'{"venue": "V", "account": "acc", "as_of": "2026-01-05T11:00:00Z"}'),
        asks.Reconcile,
    ),
    # limits, trading states, the pre-trade check
    "set_limit": (
        lambda x, _: x.risk_controls.set_limit("account", "acc", "max_position", "5", set_by="ops"),
        asks.SetLimit,
    ),
    "clear_limit": (
        lambda x, _: x.risk_controls.clear_limit("account", "acc", "max_position", set_by="ops"),
        asks.ClearLimit,
    ),
    "set_trading_state": (
        lambda x, _: x.risk_controls.set_trading_state("active", set_by="ops"),
        asks.SetTradingState,
    ),
    "limits": (lambda x, _: x.risk_controls.limits(), asks.Limits),
    "trading_states": (lambda x, _: x.risk_controls.trading_states(), asks.TradingStates),
    "denials": (lambda x, _: x.risk_controls.denials(), asks.Denials),
    "risk": (lambda x, _: x.risk(), asks.Risk),
    "risk_replay": (lambda x, _: x.risk_controls.risk_replay([]), asks.ReplayLimits),
    "check": (lambda x, _: x.check(_spec()), asks.Check),
    "place": (lambda x, _: x.place(_spec()), asks.PlaceOrder),
    "respond": (lambda x, _: x.risk_controls.respond(), asks.Respond),
    "exposure": (lambda x, _: x.risk_controls.exposure(), asks.Exposure),
    # one order
    "resolve": (lambda x, _: x.resolve("A"), asks.Resolve),
    "order_events": (lambda x, _: x.audit.order_events("A"), asks.OrderEvents),
    "order": (lambda x, _: x.order("A"), asks.OrderAt),
    "get_order": (lambda x, _: _deprecated(lambda: x.get_order("A")), asks.OrderAt),
    "order_as_of": (
        lambda x, _: _deprecated(lambda: x.order_as_of("A", at(3), event_time=True)),
        asks.OrderAt,
    ),
    "history": (lambda x, _: x.history("A"), asks.History),
    # lists and their iterators
    "orders": (lambda x, _: x.orders(), asks.Orders),
    "iter_orders": (lambda x, _: list(x.iter_orders(Filter())), asks.IterOrders),
    "trades": (lambda x, _: x.trades(), asks.Trades),
    "iter_trades": (lambda x, _: list(x.iter_trades(Filter())), asks.IterTrades),
    "events": (lambda x, _: x.events(), asks.Events),
    "iter_events": (lambda x, _: list(x.audit.iter_events(Filter())), asks.IterEvents),
    "messages": (lambda x, _: x.audit.messages(), asks.Messages),
    "iter_messages": (lambda x, _: list(x.audit.iter_messages(Filter())), asks.IterMessages),
    "positions": (lambda x, _: x.positions(), asks.Positions),
    "instruments": (lambda x, _: x.venues.instruments(), asks.Instruments),
    "parents": (lambda x, _: x.parents(), asks.Parents),
    # figures
    "lots": (lambda x, _: x.analytics.lots(), asks.Lots),
    "pnl": (lambda x, _: x.pnl(), asks.Pnl),
    "pnl_daily": (lambda x, _: x.analytics.pnl_daily(), asks.PnlDaily),
    "pnl_series": (lambda x, _: x.analytics.pnl_series(), asks.PnlSeries),
    "execution_quality": (lambda x, _: x.analytics.execution_quality(), asks.ExecutionQuality),
    # the log, its checks, the views
    "verify": (lambda x, _: x.audit.verify(progress=lambda done, total: None), asks.Verify),
    "head": (lambda x, _: x.audit.head(), asks.ChainHead),
    "log_position": (lambda x, _: x.log_position(), asks.LogPosition),
    "events_after": (lambda x, _: x.audit.events_after(0, 2), asks.EventsAfter),
    "views_lag": (lambda x, _: x.upkeep.views_lag(), asks.Lag),
    "views_position": (lambda x, _: x.upkeep.views_position(), asks.ViewsPosition),
    "catch_up": (lambda x, _: x.upkeep.catch_up(), asks.CatchUp),
    "rebuild": (lambda x, _: x.upkeep.rebuild(["orders"]), asks.Rebuild),
    # settings
    "cost_basis": (lambda x, _: x.analytics.cost_basis(), asks.CostBasis),
    "set_cost_basis": (lambda x, _: x.analytics.set_cost_basis("average"), asks.SetCostBasis),
    "rotate_cursor_secret": (lambda x, _: x.upkeep.rotate_cursor_secret(), asks.RotateCursorSecret),
    "init_database": (lambda x, _: x.upkeep.init_database(), asks.InitDatabase),
    # exports
    "export": (lambda x, _: x.analytics.export("trades", io.BytesIO()), asks.Export),
    "export_lake": (lambda x, tmp: x.analytics.export_lake(tmp / "lake"), asks.ExportLake),
    # collectors
    "collector_lease": (lambda x, _: x.upkeep.collector_lease("V", "acc", "me", 1), asks.CollectorLease),
    "collector_heartbeat": (
        lambda x, _: x.upkeep.collector_heartbeat("V", "acc", "me", {"lines": 1}),
        asks.CollectorHeartbeat,
    ),
    "collector_release": (lambda x, _: x.upkeep.collector_release("V", "acc", "me"), asks.CollectorRelease),
    "collectors": (lambda x, _: x.upkeep.collectors(), asks.Collectors),
    "last_venue_time": (lambda x, _: x.venues.last_venue_time("V", "acc"), asks.LastVenueTime),
}
"""Each public method of the ledger, called, and the request type it hands to ``handle``."""

NOT_REQUESTS = {
    "handle": "the one dispatch itself",
    "close": "the ledger's lifecycle: it releases the connection, it asks the ledger nothing",
    "check_ahead": "the ledger's lifecycle: starts the database's own check before the first write",
    "check_storage": "the ledger's lifecycle: raises the store's failure, if any",
    "placing": "a context manager around the caller's send, over Record requests (tested below)",
    "follow": "a live iterator waiting on this process's commits, over CommittedAfter requests (below)",
    "view_names": "a property naming the views the ledger was built with (no question to the database)",
}
"""The public names of the ledger that are not a request, each with why."""


def _spec() -> dict[str, Any]:
    """The fields of a new order's request (as ``placing`` and ``check`` take them)."""
    return {k: v for k, v in SESSION[0].items() if k not in ("type", "client_order_id", "ts")}


@pytest.fixture
def session(ledger: OrderLedger) -> OrderLedger:
    ledger.ingest_lines(lines(*SESSION))
    return ledger


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[Request[Any]]:
    """Every request the ledger's one dispatch is handed from now on."""
    seen: list[Request[Any]] = []
    dispatch = bootstrap.answer

    def spy(ledger: Any, request: Request[Any]) -> Any:
        seen.append(request)
        return dispatch(ledger, request)

    monkeypatch.setattr(ledger_module, "answer", spy)
    monkeypatch.setattr(ledger_groups, "answer", spy)  # the calls grouped by concern ask the same way
    return seen


def _public(cls: type) -> set[str]:
    return {
        name for name in dir(cls) if not name.startswith("_") and name not in ("name", "url", "batch_size")
    }


def test_every_public_name_of_the_ledger_is_a_request_or_says_why_not() -> None:
    groups = [ledger_groups.RiskControls, ledger_groups.Audit, ledger_groups.Analytics]
    groups += [ledger_groups.Upkeep, ledger_groups.Venues]
    own = {n for n in _public(OrderLedger) if n not in vars(ledger_groups.MovedCalls)}
    members = {n for n in own if callable(getattr(OrderLedger, n))} | {n for g in groups for n in _public(g)}
    assert members == set(CASES) | set(NOT_REQUESTS)


def test_every_command_and_query_method_hands_its_request_to_the_one_dispatch(
    session: OrderLedger, asked: list[Request[Any]], tmp_path: Path
) -> None:
    for name, (call, kind) in CASES.items():
        asked.clear()
        call(session, tmp_path)
        # the first request the method hands over is its own (a command may ask more inside)
        assert asked and type(asked[0]) is kind, (name, [type(a).__name__ for a in asked])
    # every request type has its method, but the HTTP API's Ingest and follow's CommittedAfter
    assert {kind for _, kind in CASES.values()} == set(REQUESTS) - {asks.Ingest, asks.CommittedAfter}


def _same(answer: Any) -> Any:
    return list(answer) if isinstance(answer, Iterator) else answer


READS: dict[str, tuple[Callable[[OrderLedger], Any], Request[Any]]] = {
    "cost_basis": (lambda x: x.analytics.cost_basis(), asks.CostBasis()),
    "head": (lambda x: x.audit.head(), asks.ChainHead()),
    "resolve": (lambda x: x.resolve("A"), asks.Resolve("A")),
    "order_events": (lambda x: x.audit.order_events("A"), asks.OrderEvents("A")),
    "views_position": (lambda x: x.upkeep.views_position(), asks.ViewsPosition()),
    "iter_orders": (lambda x: x.iter_orders(Filter(account="acc")), asks.IterOrders(Filter(account="acc"))),
    "iter_trades": (
        lambda x: x.iter_trades(Filter(client_order_id="A")),
        asks.IterTrades(Filter(client_order_id="A")),
    ),
    "iter_events": (
        lambda x: x.audit.iter_events(Filter(), types=["OrderFilled"]),
        asks.IterEvents(Filter(), ("OrderFilled",)),
    ),
    "iter_messages": (
        lambda x: x.audit.iter_messages(Filter(newest=True)),
        asks.IterMessages(Filter(newest=True)),
    ),
    "collectors": (lambda x: x.upkeep.collectors(), asks.Collectors()),
    "last_venue_time": (lambda x: x.venues.last_venue_time("V", "acc"), asks.LastVenueTime("V", "acc")),
}


@pytest.mark.parametrize("name", READS)
def test_a_read_method_and_its_request_give_the_same_answer(session: OrderLedger, name: str) -> None:
    method, asked = READS[name]
    assert _same(method(session)) == _same(session.handle(asked))


def test_the_commands_answer_through_handle_as_through_their_methods(session: OrderLedger) -> None:
    # Given an order recorded through its request, and one through the method
    by_request = session.handle(asks.Record(request("R1", seconds=30)))
    by_method = session.record(request("R2", seconds=31))
    assert by_request.outcome == by_method.outcome and by_request.outcome.value == "applied"
    # The rule is changed and read back either way
    assert session.handle(asks.SetCostBasis("fifo")) == "average"
    assert session.analytics.cost_basis() == "fifo" == session.handle(asks.CostBasis())
    # A stream of lines is ingested as it is read, each batch told to the callback
    told: list[int] = []
    stream = iter(lines(request("R3", seconds=32), request("R4", seconds=33)))
    report = session.handle(asks.IngestStream(stream, origin="t", on_batch=lambda r: told.append(len(r))))
    assert report.counts["applied"] == 2 and sum(told) == 2
    # A refused rebuild is refused by its request, before any work
    with pytest.raises(InvalidInputError, match="no view is named 'nope'"):
        session.handle(asks.Rebuild(("nope",)))


def test_a_stream_request_is_one_shot_equal_to_itself_only() -> None:
    # its lines are read as it is answered: two made alike are two commands, not one value
    one, two = asks.IngestStream(iter(())), asks.IngestStream(iter(()))
    assert one == one and one != two and hash(one) != hash(two)
    # a value request's callback is left out of its value (not compared)
    assert asks.Verify(progress=print) == asks.Verify() and asks.Rebuild(progress=print) == asks.Rebuild()
    # a password is not shown
    assert "secret" not in repr(asks.InitDatabase("app", "secret"))


def test_handle_checks_a_stream_request_line_by_line(session: OrderLedger) -> None:
    with pytest.raises(InvalidInputError, match=r"IngestStream\(\): lines\[1\] must be str \| bytes \| None"):
        given: list[Any] = [line(request("S1", seconds=40)), 7]
        session.handle(asks.IngestStream(iter(given)))


def test_placing_records_its_request_and_answer_as_record_requests(
    session: OrderLedger, asked: list[Request[Any]]
) -> None:
    with session.placing(_spec()) as placement:
        placement.accepted("v-1")
    records = [a for a in asked if isinstance(a, asks.Record)]
    assert [r.message["type"] for r in records] == ["request", "accepted"]


def test_follow_reads_the_log_with_committed_after_requests(
    session: OrderLedger, asked: list[Request[Any]]
) -> None:
    stop = threading.Event()
    followed = session.follow(0, poll_seconds=0.01, stop=stop)
    first = [next(followed).position for _ in range(5)]
    stop.set()
    assert first == [1, 2, 3, 4, 5]
    assert any(isinstance(a, asks.CommittedAfter) and a.position == 0 for a in asked)
