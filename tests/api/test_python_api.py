"""The Python API is the product: every question the CLI answers is an ``OrderLedger`` method
returning typed rows (Decimals, aware datetimes, the domain's enums), on every backend.

One small session (``tests/support/api_session.py``) is used throughout (venue time ``T0 + s``):

* A: buy 10 BTC-USDT at 100 (acc/V), requested at s=0; filled 4 at 100 at s=1, fee 0.4 USDT.
* B: sell 3 BTC-USDT at 110 (acc/V), requested at s=5; filled 3 at 110 at s=6.
* C: buy 1 ETH-USDT at 50 (other/W), requested at s=10; never filled.

So the BTC-USDT position is 4 − 3 = 1 at an average of 100, with (110 − 100) × 3 = 30 realized.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderledger import (
    EventRecord,
    Filter,
    InvalidInputError,
    MessageError,
    OrderLedger,
    OrderNotFoundError,
    OrderRow,
    OverfillError,
    PnlRow,
    PositionRow,
    TradeRow,
)
from orderledger.domain.values import Liquidity, Side, Status
from tests.support.api_session import SESSION
from tests.support.integration import at, fact, fill, lines, ts


@pytest.fixture
def session(ledger: OrderLedger) -> OrderLedger:
    report = ledger.ingest_lines(lines(*SESSION))
    assert report.counts["applied"] == len(SESSION)
    return ledger


# ----------------------------------------------------------------------------- orders


def test_orders_are_typed_rows(session: OrderLedger) -> None:
    rows = session.orders()

    assert [r.client_order_id for r in rows] == ["A", "B", "C"]  # by creation (venue) time
    a = rows[0]
    assert isinstance(a, OrderRow)
    assert a.side is Side.BUY and a.status is Status.PARTIALLY_FILLED
    assert a.quantity == Decimal("10") and a.filled_quantity == Decimal("4")
    assert a.leaves_quantity == Decimal("6")  # 10 − 4
    assert a.average_price == Decimal("100")
    assert a.created_at == at(0) and a.created_at.tzinfo is not None
    # The JSON form is the order's own snapshot, field for field.
    assert a.to_json() == session.order("A").snapshot()
    assert OrderRow.from_json(a.to_json()) == a


def test_orders_filters(session: OrderLedger) -> None:
    def ids(**where: Any) -> list[str]:
        return [r.client_order_id for r in session.orders(**where)]

    assert ids(open=True) == ["A", "C"]  # B is filled (3 of 3)
    assert ids(account="other") == ["C"]
    assert ids(venue="V", instrument="BTC-USDT") == ["A", "B"]
    assert ids(since=at(5)) == ["B", "C"]  # inclusive
    assert ids(until=at(5)) == ["A", "B"]
    assert ids(newest=True, limit=2) == ["C", "B"]
    # As of venue time s=2: only A existed, and had its first fill.
    [a] = session.orders(as_of=at(2), event_time=True)
    assert (a.client_order_id, a.filled_quantity) == ("A", Decimal("4"))
    assert session.orders(as_of=at(-1), event_time=True) == []


def test_an_empty_time_range_is_refused_not_answered_with_nothing(session: OrderLedger) -> None:
    with pytest.raises(InvalidInputError, match="is after until"):
        session.orders(since=at(10), until=at(0))
    with pytest.raises(InvalidInputError, match="no UTC offset"):
        session.trades(since=datetime(2026, 11, 20, 10, 0))  # naive


def test_one_order_by_any_of_its_names_and_at_a_version(session: OrderLedger) -> None:
    session.record(fact("accepted", "C", venue_order_id="W-9", seconds=11))

    assert session.order("W-9").client_order_id == "C"
    assert session.order("C", version=1).status is Status.REQUESTED
    assert session.order("C").status is Status.ACCEPTED
    with pytest.raises(InvalidInputError):
        session.order("C", version=1, as_of=at(11))
    with pytest.raises(OrderNotFoundError):
        session.order("nope")


# ----------------------------------------------------------------------------- trades, positions, P&L


def test_trades_are_typed_rows(session: OrderLedger) -> None:
    a1, b1 = session.trades()

    assert isinstance(a1, TradeRow)
    assert (a1.trade_id, a1.quantity, a1.price, a1.fee) == (
        "a1",
        Decimal("4"),
        Decimal("100"),
        Decimal("0.4"),
    )
    assert a1.ts_event == at(1) and a1.side is Side.BUY and a1.liquidity is None
    assert (b1.trade_id, b1.side, b1.fee) == ("b1", Side.SELL, None)
    assert [t.trade_id for t in session.trades(order="A")] == ["a1"]
    assert [t.trade_id for t in session.trades(since=at(2))] == ["b1"]
    assert TradeRow.from_json(a1.to_json()) == a1


def test_export_writes_a_table_and_never_over_a_file_unasked(session: OrderLedger, tmp_path: Any) -> None:
    target = tmp_path / "trades.jsonl"
    assert session.analytics.export("trades", target) == 2  # a1 and b1
    assert [json.loads(line)["trade_id"] for line in target.read_text().splitlines()] == ["a1", "b1"]

    # The API names its own arguments; the command line spells them as options (--out, --force).
    with pytest.raises(
        InvalidInputError, match=r"^`out` '.*trades.jsonl' exists: give `force` to replace it$"
    ):
        session.analytics.export("trades", target, format="csv")
    assert session.analytics.export("trades", target, format="csv", force=True) == 2
    header, *rows = target.read_text().splitlines()
    assert "trade_id" in header.split(",") and len(rows) == 2
    with pytest.raises(InvalidInputError, match=r"^`format` must be csv, jsonl or parquet, not 'xlsx'$"):
        session.analytics.export("orders", tmp_path / "o.x", format="xlsx")
    with pytest.raises(InvalidInputError, match=r"^`raw` goes with `format` csv"):
        session.analytics.export("orders", tmp_path / "o.jsonl", raw=True)
    assert not (tmp_path / "o.jsonl").exists() and not (tmp_path / "o.x").exists()
    # A binary stream, buffered or raw (an unbuffered process's stdout is a raw FileIO).
    with open(tmp_path / "raw.jsonl", "wb", buffering=0) as raw:
        assert session.analytics.export("trades", raw) == 2
    assert [json.loads(line)["trade_id"] for line in (tmp_path / "raw.jsonl").read_text().splitlines()] == [
        "a1",
        "b1",
    ]


def test_positions_with_a_mark(session: OrderLedger) -> None:
    [position] = session.positions(marks={"BTC-USDT": Decimal("120")})

    assert isinstance(position, PositionRow)
    assert position.quantity == Decimal("1")  # 4 bought − 3 sold
    assert position.average_price == Decimal("100")
    assert position.realized_pnl == Decimal("30")  # (110 − 100) × 3
    assert position.unrealized_pnl == Decimal("20")  # (120 − 100) × 1
    assert position.fees == {"USDT": Decimal("0.4")}
    [unmarked] = session.positions()
    assert unmarked.unrealized_pnl is None and unmarked.mark is None
    # As of venue time s=2 only A's fill was booked: 4 held, nothing realized.
    [early] = session.positions(as_of=at(2), event_time=True)
    assert (early.quantity, early.realized_pnl) == (Decimal("4"), Decimal("0"))


def test_a_mark_for_an_instrument_without_a_position_is_refused(session: OrderLedger) -> None:
    with pytest.raises(InvalidInputError, match="no position in that instrument"):
        session.positions(marks={"DOGE-USDT": Decimal("1")})


def test_pnl_grouped(session: OrderLedger) -> None:
    [row] = session.pnl(by="account")

    assert isinstance(row, PnlRow)
    assert (row.group, row.realized_pnl, row.fills) == ("acc", Decimal("30"), 2)
    assert row.to_json()["account"] == "acc"  # keyed by the grouping
    with pytest.raises(InvalidInputError):
        session.pnl(by="colour")


# ----------------------------------------------------------------------------- the log and the journal


def test_events_and_history(session: OrderLedger) -> None:
    fills = session.events(types=["OrderFilled"])

    assert [(e.client_order_id, e.payload["trade_id"]) for e in fills] == [("A", "a1"), ("B", "b1")]
    assert all(isinstance(e, EventRecord) and e.event.type_name() == "OrderFilled" for e in fills)
    assert [e.client_order_id for e in session.events(order="B")] == ["B", "B"]
    assert [e.type for e in session.events(account="other")] == ["OrderRequested"]
    history = session.history("A")
    assert [h.event.type_name() for h in history] == ["OrderRequested", "OrderFilled"]
    assert json.loads(history[1].message_raw or b"")["trade_id"] == "a1"
    last = session.log_position()
    assert [e.position for e in session.audit.events_after(last - 1, 10)] == [last]


def test_messages_and_parked_ones(session: OrderLedger) -> None:
    parked = session.record(fill("Z", "z1", "1", seconds=20))
    assert parked.outcome == "parked"

    journal = session.audit.messages()
    assert [m.outcome for m in journal] == ["applied"] * len(SESSION) + ["parked"]
    assert journal[0].received_at.tzinfo is not None
    [still] = session.audit.messages(parked=True)
    assert still.message_id == parked.message_id
    # Received "now": not yet parked for an hour; parked for longer than zero seconds.
    assert session.audit.messages(parked=True, older_than=timedelta(hours=1)) == []
    assert [m.message_id for m in session.audit.messages(parked=True, older_than=timedelta(0))] == [
        parked.message_id
    ]
    with pytest.raises(InvalidInputError):
        session.audit.messages(outcome="applied", parked=True)
    with pytest.raises(InvalidInputError):
        session.audit.messages(older_than=timedelta(hours=1))


# ----------------------------------------------------------------------------- record


def test_record_returns_the_typed_error_or_raises_it(session: OrderLedger) -> None:
    too_much = fill("A", "a2", "7", seconds=30)  # 4 + 7 = 11 > 10

    result = session.record(too_much)
    assert result.outcome == "rejected"
    assert isinstance(result.error, OverfillError)
    with pytest.raises(OverfillError):
        session.record({**too_much, "trade_id": "a3"}, strict=True)
    with pytest.raises(MessageError):
        session.record({"type": "nonsense"}, strict=True)
    negative = session.record(fill("A", "a4", "-1", seconds=31))
    assert isinstance(negative.error, InvalidInputError) and negative.error.field == "quantity"

    # Nothing was booked, and each refused message is in the journal with its reason.
    assert session.order("A").filled_quantity == Decimal("4")
    refused = session.audit.messages(outcome="rejected")
    assert len(refused) == 4
    assert all(m.reason for m in refused)


def test_a_good_record_carries_no_error(session: OrderLedger) -> None:
    result = session.record(fill("A", "a2", "6", seconds=30), strict=True)  # 4 + 6 = 10: filled

    assert (result.outcome, result.error) == ("applied", None)
    assert session.order("A").status is Status.FILLED


# ----------------------------------------------------------------------------- audit


def test_verify_and_head(session: OrderLedger) -> None:
    report = session.audit.verify()

    assert report.ok and report.events == session.log_position()
    head = session.audit.head()
    assert head is not None and head.position == session.log_position()
    assert report.head_text == str(head)
    again = session.audit.verify(expect_head=head)
    assert (again.ok, again.heads_checked) == (True, 2)  # the log's head and the journal's
    assert session.audit.verify(expect_head=(head.position, "0" * 64)).ok is False
    # Two hashes for one position is refused naming the argument (the CLI spells it as its option)
    with pytest.raises(InvalidInputError, match=r"^`expect_head`: two different hashes"):
        session.audit.verify(expect_head=(head.position, "0" * 64), heads={head.position: head.hash})


def test_reconcile_reports_then_applies(session: OrderLedger) -> None:
    # The venue says acc has no open orders: A (6 left) is absent there.
    snapshot = json.dumps({"venue": "V", "account": "acc", "as_of": ts(600), "open_orders": []})

    dry = session.venues.reconcile(snapshot, grace=timedelta(0))
    assert [d.kind for d in dry.differences] == ["absent_at_venue"]
    assert dry.unresolved == list(dry.differences)  # a dry run resolves nothing
    assert session.order("A").status is Status.PARTIALLY_FILLED

    done = session.venues.reconcile(snapshot, apply=True, grace=timedelta(0))
    assert done.unresolved == []
    assert session.order("A").status is Status.CANCELED
    assert done.to_json()["applied"] is True


# ----------------------------------------------------------------------------- the ledger's lifetime


def test_with_closes_the_database(ledger_url: str, backend: str) -> None:
    if backend == "memory":
        pytest.skip("a memory ledger has nothing to reopen")
    with OrderLedger(ledger_url) as ledger:
        ledger.ingest_lines(lines(*SESSION))
    with pytest.raises(Exception):  # noqa: B017 — any use of a closed connection fails
        ledger.orders()
    with OrderLedger(ledger_url, create=False) as reopened:
        assert len(reopened.orders()) == 3


def test_a_filter_is_one_value(session: OrderLedger) -> None:
    where = Filter(account="acc", newest=True)

    assert [r.client_order_id for r in session.iter_orders(where)] == ["B", "A"]
    assert [r.trade_id for r in session.iter_trades(where)] == ["b1", "a1"]
    with pytest.raises(InvalidInputError):
        Filter(limit=0)


# ----------------------------------------------------------------------------- JSON, exactly


AMOUNTS = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("1e12"), places=8)
TIMES = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))


@given(quantity=AMOUNTS, price=AMOUNTS, fee=st.none() | AMOUNTS, moment=TIMES, maker=st.booleans())
def test_a_trade_row_survives_its_json_exactly(
    quantity: Decimal, price: Decimal, fee: Decimal | None, moment: datetime, maker: bool
) -> None:
    row = TradeRow(
        account="acc",
        venue="V",
        instrument="BTC-USDT",
        side=Side.BUY,
        client_order_id="A",
        venue_order_id=None,
        trade_id="t",
        quantity=quantity,
        price=price,
        fee=fee,
        fee_currency=None if fee is None else "USDT",
        liquidity=Liquidity.MAKER if maker else None,
        ts_event=moment,
        tags={"strategy": "s"},
        parent_id=None,
        late=False,
    )
    data = row.to_json()

    assert json.loads(json.dumps(data)) == data  # plain JSON: strings, not floats
    assert data["quantity"] == format(quantity, "f")
    assert TradeRow.from_json(data) == row
