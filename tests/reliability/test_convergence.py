"""Convergence: the same facts, in any order and any number of times, give the same ledger.

Backs docs/reliability.md on convergence (fills commute: same order state, trade history,
position quantity and total P&L) and first principle 5 with "fact for an unknown order: parked,
not lost; applied automatically once the order's request arrives". Each property is checked
on the aggregate and through ``OrderLedger.ingest_lines`` with JSON lines cut into small group
commits and several ingest calls; the parking property also on a SQLite file that is closed
and reopened between ingest calls.
"""

from __future__ import annotations

import itertools
import json
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from orderledger.domain.decisions import Stamp
from orderledger.domain.events import OrderSpec
from orderledger.domain.order import Order
from orderledger.domain.outcomes import Outcome
from orderledger.domain.values import OrderType, Side, Status
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.reads.view_queries import list_positions, list_trades
from orderledger.infrastructure.audit.search import list_messages
from orderledger.infrastructure.ingest.inbound import Result

T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
VENUE, ACCOUNT, INSTRUMENT = "SIM", "ACC-1", "BTC-USD"
ORDER_QUANTITY = Decimal(5)
MARK = Decimal("101.37")

CHEAP = settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def cents(amount: int) -> Decimal:
    """An exact two-decimal amount from an integer number of cents."""
    return Decimal(amount).scaleb(-2)


def iso(seconds: int) -> str:
    """Venue time ``T0 + seconds`` as the message format writes it."""
    return (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class FillFact:
    """One execution, with the venue time it always carries (re-deliveries are identical)."""

    client_order_id: str
    trade_id: str
    qty: Decimal
    px: Decimal
    ts: int
    by_venue_order_id: bool = False

    def line(self) -> str:
        """The fill as a JSON line, keyed by client order ID or by venue + venue order ID."""
        key: dict[str, str] = (
            {"venue": VENUE, "venue_order_id": venue_order_id(self.client_order_id)}
            if self.by_venue_order_id
            else {"client_order_id": self.client_order_id}
        )
        return line(type="fill", **key, trade_id=self.trade_id, quantity=self.qty, price=self.px, ts=self.ts)


def line(**fields: Any) -> str:
    """One message of the ledger format; amounts as strings, ``ts`` as seconds after T0."""
    fields["ts"] = iso(fields["ts"])
    return json.dumps({k: str(v) if isinstance(v, Decimal) else v for k, v in fields.items()})


def venue_order_id(client_order_id: str) -> str:
    """The venue's ID for one of our orders (the venue acknowledges every order with one)."""
    return f"V-{client_order_id}"


def side_of(client_order_id: str) -> Side:
    """Orders named B-… buy and S-… sell, so that positions net and realise P&L."""
    return Side.SELL if client_order_id.startswith("S") else Side.BUY


def request_line(client_order_id: str) -> str:
    """The request that creates the order: a limit order of 5 at 100."""
    return line(
        type="request",
        client_order_id=client_order_id,
        account=ACCOUNT,
        venue=VENUE,
        instrument=INSTRUMENT,
        side=side_of(client_order_id).value,
        order_type="limit",
        quantity=ORDER_QUANTITY,
        price=Decimal(100),
        ts=0,
    )


def ack_line(client_order_id: str) -> str:
    """The venue's acknowledgement, with its venue order ID."""
    return line(
        type="accepted", client_order_id=client_order_id, venue_order_id=venue_order_id(client_order_id), ts=1
    )


def fill_sets(
    client_order_id: str, *, complete: bool | None = None, venue_keyed: bool = False
) -> st.SearchStrategy[list[FillFact]]:
    """Fills with distinct trade IDs summing to at most the order quantity (or exactly, if asked)."""

    @st.composite
    def build(draw: st.DrawFn) -> list[FillFact]:
        amounts = draw(st.lists(st.integers(1, 200), min_size=1, max_size=6))
        fills: list[FillFact] = []
        total = Decimal(0)
        for index, amount in enumerate(amounts):
            qty = min(cents(amount), ORDER_QUANTITY - total)
            if qty <= 0:
                break
            total += qty
            px = cents(draw(st.integers(9_500, 10_500)))
            keyed = venue_keyed and draw(st.booleans())
            fills.append(FillFact(client_order_id, f"{client_order_id}-T{index}", qty, px, 10 + index, keyed))
        if complete is True and total < ORDER_QUANTITY:
            last = len(fills)
            fills.append(
                FillFact(
                    client_order_id,
                    f"{client_order_id}-T{last}",
                    ORDER_QUANTITY - total,
                    cents(10_000),
                    10 + last,
                )
            )
        if complete is False and total == ORDER_QUANTITY:
            head = fills[-1]
            if head.qty == cents(1):
                fills.pop()
            else:
                fills[-1] = FillFact(
                    head.client_order_id,
                    head.trade_id,
                    head.qty - cents(1),
                    head.px,
                    head.ts,
                    head.by_venue_order_id,
                )
        return fills

    return build()


# ============================================================================= the aggregate


def spec(client_order_id: str = "B-1") -> OrderSpec:
    """The order of ``request_line`` as a domain spec."""
    return OrderSpec(
        client_order_id=client_order_id,
        account=ACCOUNT,
        venue=VENUE,
        instrument=INSTRUMENT,
        side=side_of(client_order_id),
        order_type=OrderType.LIMIT,
        quantity=ORDER_QUANTITY,
        price=Decimal(100),
    )


def at(seconds: int) -> Stamp:
    """A stamp at venue time ``T0 + seconds``."""
    moment = T0 + timedelta(seconds=seconds)
    return Stamp(moment, moment, "convergence")


Delivery = Callable[[Order], Outcome]


def deliver_fill(fill: FillFact) -> Delivery:
    """Deliver a fill to the aggregate."""
    return lambda order: order.fill(at(fill.ts), fill.trade_id, fill.qty, fill.px).kind


def deliver_ack(order: Order) -> Outcome:
    """Deliver the acknowledgement to the aggregate."""
    return order.accept(at(1), venue_order_id(order.client_order_id)).kind


def deliver_cancel(order: Order) -> Outcome:
    """Deliver the venue's cancel to the aggregate."""
    return order.cancel(at(2), "user").kind


def exact_average(fills: list[FillFact]) -> Fraction:
    """Σ qty × px / Σ qty, exactly."""
    notional = sum((Fraction(f.qty) * Fraction(f.px) for f in fills), Fraction(0))
    return notional / sum((Fraction(f.qty) for f in fills), Fraction(0))


def trades_of(order: Order) -> set[tuple[str, Decimal, Decimal]]:
    """The order's trade history as a set (arrival order is not part of the state)."""
    return {(f.trade_id, f.qty, f.px) for f in order.fills.values() if not f.busted}


@settings(CHEAP, max_examples=300)
@given(data=st.data(), fills=fill_sets("B-1"))
def test_fills_and_acks_in_any_order_and_number_give_one_order_state(
    data: st.DataObject, fills: list[FillFact]
) -> None:
    """Fills (and the ack: a fill before it implies acceptance) commute and deduplicate."""
    copies = data.draw(st.lists(st.sampled_from(fills), max_size=6), label="fills delivered again")
    acks = data.draw(st.integers(1, 3), label="acks delivered")
    deliveries: list[tuple[str, Delivery]] = [(f.trade_id, deliver_fill(f)) for f in fills + copies]
    deliveries += [("ack", deliver_ack)] * acks
    order, _ = Order.request(spec(), at(0))
    kinds: dict[str, list[Outcome]] = {}
    for key, delivery in data.draw(st.permutations(deliveries), label="arrival order"):
        kinds.setdefault(key, []).append(delivery(order))

    total = sum(f.qty for f in fills)
    assert order.status is (Status.FILLED if total == ORDER_QUANTITY else Status.PARTIALLY_FILLED)
    assert order.filled_quantity == total
    assert order.leaves_quantity == (0 if total == ORDER_QUANTITY else ORDER_QUANTITY - total)
    assert trades_of(order) == {(f.trade_id, f.qty, f.px) for f in fills}
    assert order.average_price is not None
    assert abs(Fraction(order.average_price) - exact_average(fills)) <= Fraction(1, 10**28)
    assert order.venue_order_ids == ["V-B-1"]
    assert order.anomalies == []
    # Each fact is applied by its first delivery only: every later one is a duplicate.
    for key, seen in kinds.items():
        assert seen[0] is Outcome.APPLIED, (key, seen)
        assert set(seen[1:]) <= {Outcome.DUPLICATE}, (key, seen)
    assert order.version == 1 + 1 + len(fills)


@settings(CHEAP, max_examples=300)
@given(data=st.data(), complete=st.booleans())
def test_a_cancel_racing_fills_never_loses_a_fill(data: st.DataObject, complete: bool) -> None:
    """A venue cancel anywhere among fills: every fill booked; filled outranks canceled."""
    fills = data.draw(fill_sets("B-1", complete=complete), label="fills")
    copies = data.draw(st.lists(st.sampled_from(fills), max_size=4), label="fills delivered again")
    deliveries: list[tuple[str, Delivery]] = [(f.trade_id, deliver_fill(f)) for f in fills + copies]
    deliveries += [("ack", deliver_ack), ("cancel", deliver_cancel)]
    arrival = data.draw(st.permutations(deliveries), label="arrival order")
    order, _ = Order.request(spec(), at(0))
    for _key, delivery in arrival:
        delivery(order)

    keys = [key for key, _ in arrival]
    cancel_at = keys.index("cancel")
    first_fill_at = {f.trade_id: keys.index(f.trade_id) for f in fills}
    completed_before_cancel = complete and max(first_fill_at.values()) < cancel_at
    total = sum(f.qty for f in fills)
    assert order.filled_quantity == total
    assert trades_of(order) == {(f.trade_id, f.qty, f.px) for f in fills}
    assert order.leaves_quantity == 0
    assert order.status is (Status.FILLED if completed_before_cancel else Status.CANCELED)
    late = {t for t, index in first_fill_at.items() if index > cancel_at and not completed_before_cancel}
    assert {t for t, f in order.fills.items() if f.late} == late
    assert order.anomalies == (["late_fill"] if late else [])


# ============================================================================= through the ledger


def in_calls(lines: list[str], cuts: list[int]) -> list[list[str]]:
    """``lines`` cut at ``cuts`` into the inputs of several ``ingest_lines`` calls (none empty)."""
    bounds = [0, *sorted(set(cuts)), len(lines)]
    return [lines[a:b] for a, b in itertools.pairwise(bounds) if a < b]


def ingest(ledger: OrderLedger, lines: list[str]) -> list[Result]:
    """One ``ingest_lines`` call; the result of every line, in input order."""
    results: list[Result] = []
    ledger.ingest_lines(lines, on_batch=results.extend)
    assert len(results) == len(lines)
    return results


def order_view(ledger: OrderLedger, client_order_id: str) -> dict[str, Any]:
    """The fields of an order that must not depend on arrival order."""
    snapshot = ledger.order(client_order_id).snapshot()
    keys = ("status", "quantity", "filled_quantity", "leaves_quantity", "average_price", "venue_order_ids")
    return {k: snapshot[k] for k in keys} | {"anomalies": snapshot["anomalies"]}


def ledger_trades(ledger: OrderLedger) -> set[tuple[str, str, Decimal, Decimal]]:
    """The trade blotter as a set of (order, trade, quantity, price)."""
    return {
        (t["client_order_id"], t["trade_id"], Decimal(t["quantity"]), Decimal(t["price"]))
        for t in list_trades(ledger.db)
    }


def position_totals(ledger: OrderLedger) -> tuple[Decimal, Decimal]:
    """(position quantity, realized + unrealized P&L at MARK) of the one instrument traded."""
    [position] = list_positions(ledger.db, {INSTRUMENT: MARK})
    with localcontext(prec=100):  # the default 28 digits would round the sum
        total = Decimal(position["realized_pnl"]) + Decimal(position["unrealized_pnl"])
    return Decimal(position["quantity"]), total


@settings(CHEAP, max_examples=150)
@given(
    data=st.data(),
    buys=fill_sets("B-1"),
    sells=fill_sets("S-1"),
    batch_size=st.integers(1, 4),
)
def test_fills_commute_through_the_ledger(
    data: st.DataObject, buys: list[FillFact], sells: list[FillFact], batch_size: int
) -> None:
    """Same order states, trade blotter, position quantity and total P&L for any arrival order."""
    fills = buys + sells
    canonical = [request_line("B-1"), request_line("S-1"), ack_line("B-1"), ack_line("S-1")]
    canonical += [f.line() for f in fills]
    copies = data.draw(st.lists(st.sampled_from(fills), max_size=5), label="fills delivered again")
    acks = data.draw(st.lists(st.sampled_from(["B-1", "S-1"]), max_size=2), label="acks delivered again")
    racing = canonical[2:] + [f.line() for f in copies] + [ack_line(c) for c in acks]
    arrival = canonical[:2] + data.draw(st.permutations(racing), label="arrival order")
    cuts = data.draw(st.lists(st.integers(0, len(arrival)), max_size=3), label="ingest calls")

    reference = OrderLedger("memory://")
    shuffled = OrderLedger("memory://", batch_size=batch_size)
    try:
        reference.ingest_lines(canonical)
        outcomes = Counter(r.outcome for call in in_calls(arrival, cuts) for r in ingest(shuffled, call))

        for client_order_id in ("B-1", "S-1"):
            assert order_view(shuffled, client_order_id) == order_view(reference, client_order_id)
            assert order_view(shuffled, client_order_id)["venue_order_ids"] == [
                venue_order_id(client_order_id)
            ]
            assert len(shuffled.audit.order_events(client_order_id)) == len(
                reference.audit.order_events(client_order_id)
            )
        assert ledger_trades(shuffled) == ledger_trades(reference)
        assert ledger_trades(shuffled) == {(f.client_order_id, f.trade_id, f.qty, f.px) for f in fills}
        quantity, total_pnl = position_totals(shuffled)
        reference_quantity, reference_pnl = position_totals(reference)
        assert quantity == reference_quantity == sum(f.qty for f in buys) - sum(f.qty for f in sells)
        # The realized/unrealized split is path-dependent (average cost); the total is not, and it
        # is exact: the cost is carried exactly, and what a partial close removes leaves it whole.
        assert total_pnl == reference_pnl
        with localcontext(prec=100):
            exact = sum(f.qty * f.px for f in sells) - sum(f.qty * f.px for f in buys) + quantity * MARK
        assert total_pnl == exact
        assert outcomes == Counter(applied=len(canonical), duplicate=len(copies) + len(acks))
    finally:
        reference.close()
        shuffled.close()


# ============================================================================= parked messages


@dataclass(frozen=True)
class Session:
    """Every message of a few orders, each possibly more than once, in one arrival order."""

    lines: list[str]
    cuts: list[int]
    fills: dict[str, list[FillFact]]
    batch_size: int


ORDER_IDS = ("B-1", "S-1", "B-2")


@st.composite
def sessions(draw: st.DrawFn) -> Session:
    """Requests, acks and fills of 1–3 orders, duplicated and shuffled: requests often come late."""
    count = draw(st.integers(1, len(ORDER_IDS)))
    fills = {c: draw(fill_sets(c, venue_keyed=True), label=f"fills of {c}") for c in ORDER_IDS[:count]}
    lines: list[str] = []
    for client_order_id, order_fills in fills.items():
        lines += [request_line(client_order_id)] * draw(st.integers(1, 2))
        lines += [ack_line(client_order_id)] * draw(st.integers(1, 2))
        for fill in order_fills:
            lines += [fill.line()] * draw(st.integers(1, 2))
    arrival = draw(st.permutations(lines), label="arrival order")
    cuts = draw(st.lists(st.integers(0, len(arrival)), max_size=3), label="ingest calls")
    return Session(arrival, cuts, fills, draw(st.integers(1, 3), label="batch size"))


def batch_numbers(session: Session) -> list[int]:
    """The group commit each line lands in: ingest calls are cut into batches of batch_size."""
    numbers: list[int] = []
    bounds = [0, *sorted(set(session.cuts)), len(session.lines)]
    batch = 0
    for start, end in itertools.pairwise(bounds):
        for offset in range(end - start):
            numbers.append(batch + offset // session.batch_size)
        batch += -(-(end - start) // session.batch_size)
    return numbers


def expected_parked(session: Session) -> list[bool]:
    """Which lines the ingest call reports as parked: those whose order is known only in a later batch.

    A line keyed by client order ID waits for the order's first request; one keyed by venue order
    ID also for the first ack that records that ID. Parked and released inside one batch, a line
    reports its final outcome (docs/messages.md, "Group commit"). A line that repeats one still
    parked is a duplicate: re-sent lines for an unknown order do not pile up.
    """
    batches = batch_numbers(session)
    first: dict[str, int] = {}
    for text, batch in zip(session.lines, batches, strict=True):
        message = json.loads(text)
        key = f"{message['type']}:{message.get('client_order_id')}"
        first.setdefault(key, batch)
    parked = []
    waiting_texts: set[str] = set()
    for text, batch in zip(session.lines, batches, strict=True):
        message = json.loads(text)
        if message["type"] == "request":
            parked.append(False)
            continue
        client_order_id = message.get("client_order_id") or message["venue_order_id"][2:]
        known_in = first[f"request:{client_order_id}"]
        if "venue_order_id" in message and "client_order_id" not in message:
            known_in = max(known_in, first[f"accepted:{client_order_id}"])
        waiting = known_in > batch
        parked.append(waiting and text not in waiting_texts)
        if waiting:
            waiting_texts.add(text)
    return parked


def check_parking_session(session: Session, url: str, *, restart: bool) -> None:
    """Ingest the session (reopening the ledger between calls if ``restart``), then check that
    every parked message was applied exactly once."""
    ledger = OrderLedger(url, batch_size=session.batch_size)
    try:
        reported: list[str] = []
        for call in in_calls(session.lines, session.cuts):
            if restart and reported:
                ledger.close()
                ledger = OrderLedger(url, batch_size=session.batch_size)
            reported += [result.outcome for result in ingest(ledger, call)]
        if restart:
            ledger.close()
            ledger = OrderLedger(url, batch_size=session.batch_size)

        predicted = expected_parked(session)
        event(f"lines parked: {min(sum(predicted), 3)}{'+' if sum(predicted) >= 3 else ''}")
        assert [o == "parked" for o in reported] == predicted
        assert set(reported) <= {"applied", "duplicate", "parked"}

        # The journal: one row per line, none left parked; each fact applied by exactly one line.
        journal = list(list_messages(ledger.db))
        assert [row["raw"] for row in journal] == session.lines
        by_fact: dict[str, list[str]] = {}
        for row, was in zip(journal, reported, strict=True):
            by_fact.setdefault(row["raw"], []).append(row["outcome"])  # same line = same fact
            if was == "parked":
                assert str(row["reason"]).startswith("was parked"), row
        for fact, outcomes in by_fact.items():
            assert sorted(outcomes) == ["applied"] + ["duplicate"] * (len(outcomes) - 1), (fact, outcomes)
        with ledger.db.read() as tx:
            assert tx.one("SELECT COUNT(*) FROM parked")[0] == 0, "a message is still parked"

        for client_order_id, fills in session.fills.items():
            order = ledger.order(client_order_id)
            total = sum((f.qty for f in fills), Decimal(0))
            assert trades_of(order) == {(f.trade_id, f.qty, f.px) for f in fills}
            assert order.filled_quantity == total
            assert order.status is (Status.FILLED if total == ORDER_QUANTITY else Status.PARTIALLY_FILLED)
            assert order.venue_order_ids == [venue_order_id(client_order_id)]
            assert order.version == 1 + 1 + len(fills), "a parked message was applied more than once"
        assert ledger_trades(ledger) == {
            (f.client_order_id, f.trade_id, f.qty, f.px) for fs in session.fills.values() for f in fs
        }
    finally:
        ledger.close()


@settings(CHEAP, max_examples=200)
@given(session=sessions())
def test_parked_messages_are_applied_exactly_once_when_their_order_arrives(session: Session) -> None:
    """Facts that overtake their request are parked, then applied once, across batches and calls."""
    check_parking_session(session, "memory://", restart=False)


@settings(CHEAP, max_examples=20)
@given(session=sessions())
def test_parked_messages_survive_a_restart_on_a_sqlite_file(session: Session) -> None:
    """The same on a SQLite file, closed and reopened between ingest calls (parking is durable)."""
    with tempfile.TemporaryDirectory() as directory:
        check_parking_session(session, f"sqlite:///{directory}/x.db", restart=True)
