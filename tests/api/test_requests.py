"""Typed requests: every read is a frozen request value answered by ``OrderLedger.handle``, each
list's taking one ``Filter``; the read methods are that dispatch with their keywords.

The session is ``tests/support/api_session.py`` (venue time ``T0 + s``):

* A: buy 10 BTC-USDT at 100 (acc/V), requested at s=0; filled 4 at 100 at s=1, fee 0.4 USDT.
* B: sell 3 BTC-USDT at 110 (acc/V), requested at s=5; filled 3 at 110 at s=6.
* C: buy 1 ETH-USDT at 50 (other/W), requested at s=10; never filled.
"""

from __future__ import annotations

import asyncio
import pickle
from decimal import Decimal
from typing import Any

import pytest

from orderledger import AsyncOrderLedger, Filter, InvalidInputError, OrderLedger, Snapshot
from orderledger.infrastructure.application.bootstrap import command_handlers
from orderledger.infrastructure.application.handlers import READ_HANDLERS
from orderledger.requests import (
    REQUESTS,
    Events,
    ExecutionQuality,
    History,
    Instruments,
    Lag,
    LogPosition,
    Lots,
    Messages,
    OrderAt,
    Orders,
    Parents,
    Pnl,
    Positions,
    Reconcile,
    Trades,
    Verify,
)
from tests.support.api_session import SESSION
from tests.support.integration import at, lines


@pytest.fixture
def session(ledger: OrderLedger) -> OrderLedger:
    report = ledger.ingest_lines(lines(*SESSION))
    assert report.counts["applied"] == len(SESSION)
    return ledger


def test_one_filter_serves_every_list(session: OrderLedger) -> None:
    # Given one filter: account acc (A and B, both on V in BTC-USDT)
    where = Filter(account="acc")
    # When every list that takes an account is asked with it
    orders = session.handle(Orders(where))
    trades = session.handle(Trades(where))
    events = session.handle(Events(where, ("OrderFilled",)))
    positions = session.handle(Positions(where))
    parents = session.handle(Parents(where))
    # Then each answers acc's rows only: orders A, B; fills of A (4) and B (3); one position of
    # 4 − 3 = 1 BTC-USDT with (110 − 100) × 3 = 30 realized; no parent named
    assert [r.client_order_id for r in orders] == ["A", "B"]
    assert [(t.client_order_id, t.quantity) for t in trades] == [("A", Decimal("4")), ("B", Decimal("3"))]
    assert [e.client_order_id for e in events] == ["A", "B"]
    [position] = positions
    assert (position.instrument, position.quantity, position.realized_pnl) == (
        "BTC-USDT",
        Decimal("1"),
        Decimal("30"),
    )
    assert list(parents) == []
    # And the keyword methods are the same dispatch: the same rows
    assert session.orders(account="acc") == orders
    assert session.trades(account="acc") == trades
    assert session.positions(account="acc") == positions


def test_a_list_request_carries_its_own_options_beside_the_filter(session: OrderLedger) -> None:
    # Open orders (A: 4 of 10 filled; C: none; B is filled 3 of 3), newest first, counted
    page = session.handle(Orders(Filter(newest=True), open=True, count=True))
    assert [r.client_order_id for r in page] == ["C", "A"]
    assert page.total == 2
    # As the ledger knew them at venue time s=2: only A, with its first fill
    [a] = session.handle(Orders(as_of=at(2), event_time=True))
    assert (a.client_order_id, a.filled_quantity) == ("A", Decimal("4"))
    # A position valued at a mark: 1 BTC-USDT at 100, marked 120 → unrealized 20
    [marked] = session.handle(Positions(Filter(instrument="BTC-USDT"), (("BTC-USDT", Decimal("120")),)))
    assert marked.unrealized_pnl == Decimal("20")
    # Instruments: none defined in the session
    defined = session.handle(Instruments(Filter(venue="V")))
    assert list(defined) == []


def test_single_answers_and_figures_are_requests_too(session: OrderLedger) -> None:
    assert session.handle(OrderAt("B")).snapshot()["status"] == "filled"
    assert [type(h.event).__name__ for h in session.handle(History("C"))] == ["OrderRequested"]
    # realized by account: acc 30 (B closed 3 at 110 against A's 100)
    assert [(r.group, r.realized_pnl) for r in session.handle(Pnl(by="account"))] == [("acc", Decimal("30"))]
    assert session.handle(LogPosition()) == session.log_position()
    assert session.handle(Lag()).behind == 0


def test_a_request_is_a_value_kept_compared_and_sent_to_another_process() -> None:
    asked = Orders(Filter(account="acc", since=at(5)), open=True)
    assert asked == Orders(Filter(account="acc", since=at(5)), open=True)
    assert hash(asked) == hash(Orders(Filter(account="acc", since=at(5)), open=True))
    assert pickle.loads(pickle.dumps(asked)) == asked
    with pytest.raises(AttributeError):
        asked.open = False  # type: ignore[misc]


def test_a_snapshot_made_in_python_is_reconciled_through_the_one_dispatch(
    session: OrderLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the venue's view of acc on V an hour in, made in Python: no order open or closed
    snapshot = Snapshot("V", "acc", at(3600), [], [], [], {})
    # Then the request is a value like any other: compared, hashed, sent to another process
    asked = Reconcile(snapshot)
    assert asked == Reconcile(Snapshot("V", "acc", at(3600), [], [], [], {}))
    assert hash(asked) == hash(Reconcile(Snapshot("V", "acc", at(3600), [], [], [], {})))
    assert pickle.loads(pickle.dumps(asked)) == asked
    # And handed to the ledger it answers as the method does: A (bought 10, filled 4) is open in
    # the ledger and absent at the venue, so closed as canceled; B is filled, C is on W
    report = session.handle(asked)
    assert [(d.kind, d.client_order_id) for d in report.differences] == [("absent_at_venue", "A")]
    assert session.venues.reconcile(snapshot) == report
    # And the method asks by that request, through the one dispatch, as it does for JSON text
    handler, seen = READ_HANDLERS[Reconcile], []

    def spy(ledger: Any, request: Reconcile) -> Any:
        seen.append(request)
        return handler(ledger, request)

    monkeypatch.setitem(READ_HANDLERS, Reconcile, spy)
    session.venues.reconcile(snapshot)
    session.venues.reconcile(
        b'{"venue": "V", "account": "acc", "as_of": "2026-11-20T11:00:00Z", "open_orders": []}'
    )
    assert [type(request.snapshot) for request in seen] == [Snapshot, bytes]


def test_handle_refuses_a_request_with_a_wrong_typed_field(session: OrderLedger) -> None:
    with pytest.raises(InvalidInputError, match=r"^Orders\(\): where must be Filter, not str$"):
        session.handle(Orders(where="acc"))  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=r"^Positions\(\): marks must be tuple"):
        session.handle(Positions(marks={"BTC-USDT": Decimal("1")}))  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=r"^Messages\(\): parked must be bool, not str$"):
        session.handle(Messages(parked="yes"))  # type: ignore[arg-type]
    with pytest.raises(
        InvalidInputError, match=r"^Reconcile\(\): snapshot must be bytes \| str \| Snapshot, not dict$"
    ):
        session.handle(Reconcile({"venue": "V"}))  # type: ignore[arg-type]


def test_handle_refuses_what_is_not_a_request(session: OrderLedger) -> None:
    with pytest.raises(InvalidInputError, match=r"^handle\(\): request must be Request, not str$"):
        session.handle("orders")  # type: ignore[arg-type]


def test_a_request_says_whether_it_reads_the_whole_log_or_the_views() -> None:
    # Orders now: from the orders view; as of a time: folded from the whole log
    assert (Orders().from_views, Orders().whole_log) == (True, False)
    assert (Orders(as_of=at(2)).from_views, Orders(as_of=at(2)).whole_log) == (False, True)
    assert OrderAt("A", as_of=at(2)).whole_log and not OrderAt("A").whole_log
    # Trades and parents: views; the log's events and the journal: indexes, neither
    assert Trades().from_views and Parents().from_views
    assert not (Events().from_views or Events().whole_log or Messages().whole_log)
    # Lots, verification and the analytics read everything
    assert Lots().whole_log and Verify().whole_log and ExecutionQuality().whole_log


def test_every_request_type_has_its_one_handler() -> None:
    # The reads' table and the commands' (imported when the first command is asked) together
    # name every request once.
    commands = command_handlers()
    assert set(READ_HANDLERS) | set(commands) == set(REQUESTS)
    assert not set(READ_HANDLERS) & set(commands)


def test_the_async_ledger_handles_requests_too(ledger_url: str) -> None:
    async def scenario() -> list[str]:
        async with AsyncOrderLedger(ledger_url) as ledger:
            await ledger.ingest_lines(lines(*SESSION))
            page = await ledger.handle(Orders(Filter(account="other")))
            return [r.client_order_id for r in page]

    assert asyncio.run(scenario()) == ["C"]
