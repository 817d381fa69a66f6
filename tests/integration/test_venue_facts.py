"""Real venue data: nothing lost, nothing misbooked, whatever order and number the copies arrive in.

Issue 12, items 1, 3 and 4 at the ledger's core (the adapters' own tests are in tests/adapters/):
- an input holding several messages keeps every one of them while their orders are unknown;
- a venue re-sending the same line for an unknown order does not pile up parked rows;
- one ``OrderLedger`` shared by many threads books every fill;
- an order the venue reports without a client order ID is an external order found by its venue
  order ID, and a report of one of our own orders resolves to it;
- repeated requests and fills are reconciled: completed, or kept as anomalies with both
  values, and the result does not depend on which copy came first.
"""

from __future__ import annotations

import json
import random
import sys
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from orderledger.domain.events import AnomalyRecorded, FillCorrected, OrderDetailsAdded
from orderledger.domain.values import Status
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.reads.view_queries import list_positions, list_trades
from orderledger.infrastructure.audit.verify import verify
from orderledger.infrastructure.ingest.inbound import inbound
from orderledger.infrastructure.messages.models import parse_message
from tests.support.integration import fact, fill, journal, lines, request, store_state

D = Decimal


def one_input(*messages: dict[str, Any], fmt: str = "ccxt") -> Any:
    """One raw venue input that an adapter read several messages from (a list of trades, say)."""
    raw = json.dumps(list(messages)).encode()
    return inbound(raw, [parse_message(m) for m in messages], origin="venue", format=fmt)


def trades(ledger: OrderLedger) -> list[tuple[str, str, str, str, str | None, str | None]]:
    return sorted(
        (t["client_order_id"], t["trade_id"], t["quantity"], t["price"], t["fee"], t["fee_currency"])
        for t in list_trades(ledger.db)
    )


def fees(ledger: OrderLedger) -> dict[str, Any]:
    return {p["instrument"]: p["fees"] for p in list_positions(ledger.db)}


# ----------------------------------------------------------------------------- parking


def test_every_message_of_a_parked_input_is_kept_and_applied_once(ledger: OrderLedger) -> None:
    # Given a fetch_my_trades reply of three trades of venue order V-1, before its ack is known
    report = ledger.ingest_inbound(
        [
            one_input(
                fill(None, "t1", "1", "100", venue="V", venue_order_id="V-1", seconds=1),
                fill(None, "t2", "2", "101", venue="V", venue_order_id="V-1", seconds=2),
                fill(None, "t3", "3", "102", venue="V", venue_order_id="V-1", seconds=3),
            )
        ]
    )
    assert report.counts["parked"] == 1
    assert len(store_state(ledger)["parked"]) == 3  # one row per message, all of the same input

    # When the order and its ack arrive
    ledger.ingest_lines(lines(request("c-1"), fact("accepted", "c-1", venue_order_id="V-1")))

    # Then all three trades are booked, once: 1 + 2 + 3 = 6 of 10
    order = ledger.order("c-1")
    assert sorted(order.fills) == ["t1", "t2", "t3"]
    assert order.filled_quantity == D(6)
    assert order.status is Status.PARTIALLY_FILLED
    first = journal(ledger)[0]
    assert (first.outcome, first.event_count) == ("applied", 3)
    assert first.reason == "was parked until its order was known"
    assert store_state(ledger)["parked"] == []
    assert verify(ledger.db, ledger.mapper).ok


def test_an_input_for_two_unknown_orders_stays_parked_until_both_are_known(ledger: OrderLedger) -> None:
    ledger.ingest_inbound(
        [
            one_input(
                fill(None, "t1", "1", venue="V", venue_order_id="V-1"),
                fill(None, "t2", "2", venue="V", venue_order_id="V-2"),
            )
        ]
    )

    ledger.ingest_lines(lines(request("a"), fact("accepted", "a", venue_order_id="V-1")))

    # Half of the input is booked; the rest still waits, and the journal says so.
    assert ledger.order("a").filled_quantity == D(1)
    row = journal(ledger)[0]
    assert (row.outcome, row.event_count) == ("parked", 1)
    assert store_state(ledger)["parked"] == [row.message_id]

    ledger.ingest_lines(lines(request("b"), fact("accepted", "b", venue_order_id="V-2")))

    assert ledger.order("b").filled_quantity == D(2)
    row = journal(ledger)[0]
    assert (row.outcome, row.event_count) == ("applied", 2)
    assert store_state(ledger)["parked"] == []


def test_parked_parts_of_one_input_survive_a_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'l.db'}"
    with_trades = one_input(
        fill("c-1", "t1", "1", seconds=1),
        fill("c-1", "t2", "4", seconds=2),
    )
    first = OrderLedger(url)
    first.ingest_inbound([with_trades])
    first.close()

    again = OrderLedger(url)
    try:
        again.ingest_lines(lines(request("c-1")))
        assert again.order("c-1").filled_quantity == D(5)
        assert store_state(again)["parked"] == []
    finally:
        again.close()


def test_a_resent_line_for_an_unknown_order_is_parked_once(ledger: OrderLedger) -> None:
    line = fill(None, "t1", "1", venue="V", venue_order_id="V-9")

    first = ledger.ingest_lines(lines(line, line))  # twice in one batch
    later = ledger.ingest_lines(lines(line))  # and again in a later one

    assert first.counts["parked"] == 1 and first.counts["duplicate"] == 1
    assert later.counts["duplicate"] == 1
    assert "already parked as message 1" in (journal(ledger)[2].reason or "")
    assert len(store_state(ledger)["parked"]) == 1

    ledger.ingest_lines(lines(request("c-9"), fact("accepted", "c-9", venue_order_id="V-9")))
    assert ledger.order("c-9").filled_quantity == D(1)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_a_database_from_release_0_1_keeps_its_parked_messages(file_ledger_url: str) -> None:
    # Given a ledger whose `parked` table has release 0.1's shape (no `part` column, a key of
    # message, venue, kind and value) and schema version, with a message parked in it
    old = OrderLedger(file_ledger_url)
    old.ingest_lines(lines(fill("c-1", "t1", "2")))
    with old.db.write() as tx:
        tx.execute("ALTER TABLE parked RENAME TO parked_new")
        tx.execute("DROP INDEX IF EXISTS parked_key")
        tx.execute(
            "CREATE TABLE parked (message_id BIGINT NOT NULL, venue TEXT NOT NULL, kind TEXT NOT NULL,"
            f" value TEXT NOT NULL, message {'BYTEA' if tx.dialect == 'postgresql' else 'BLOB'} NOT NULL,"
            " PRIMARY KEY (message_id, venue, kind, value))"
        )
        tx.execute("INSERT INTO parked SELECT message_id, venue, kind, value, message FROM parked_new")
        tx.execute("DROP TABLE parked_new")
        tx.execute("UPDATE ledger_meta SET value = '1' WHERE key = 'schema_version'")
    old.close()

    # When this release opens it and the order arrives
    ledger = OrderLedger(file_ledger_url)
    try:
        ledger.ingest_lines(lines(request("c-1")))
        # Then the message parked by the old release is applied
        assert ledger.order("c-1").filled_quantity == D(2)
        assert store_state(ledger)["parked"] == []
        assert verify(ledger.db, ledger.mapper).ok
    finally:
        ledger.close()


# ----------------------------------------------------------------------------- threads


def stream(client_order_id: str, venue_order_id: str, rng: random.Random) -> list[dict[str, Any]]:
    """A request, its ack and four fills (1 + 2 + 3 + 4 = the whole 10), in a shuffled order;
    half of the fills name the order only by its venue order ID."""
    fills = [
        fill(client_order_id, f"{client_order_id}-t{n}", str(n), seconds=n)
        if n % 2
        else fill(
            None, f"{client_order_id}-t{n}", str(n), venue="V", venue_order_id=venue_order_id, seconds=n
        )
        for n in (1, 2, 3, 4)
    ]
    messages = [request(client_order_id), fact("accepted", client_order_id, venue_order_id=venue_order_id)]
    messages += fills
    rng.shuffle(messages)
    return messages


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_one_ledger_shared_by_many_threads_books_every_fill(make_ledger: Any) -> None:
    # Small batches and single records interleave: every thread's commits race the others'.
    ledger = make_ledger(batch_size=3)
    rng = random.Random(12)
    orders = 120
    # Every order's messages are spread over the threads: its request, ack and fills race.
    messages = [m for n in range(orders) for m in stream(f"c-{n}", f"V-{n}", rng)]
    rng.shuffle(messages)
    work = [messages[n::8] for n in range(8)]
    errors: list[BaseException] = []

    def run(part: list[dict[str, Any]], by_line: bool) -> None:
        try:
            if by_line:
                for message in part:
                    ledger.record(message)
            else:
                for start in range(0, len(part), 4):
                    ledger.ingest_lines(lines(*part[start : start + 4]))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(work[n], n % 2 == 0)) for n in range(8)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can: races show up
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)

    assert errors == []
    unfilled = [n for n in range(orders) if ledger.order(f"c-{n}").filled_quantity != D(10)]
    assert unfilled == []
    assert {ledger.order(f"c-{n}").status for n in range(orders)} == {Status.FILLED}
    assert store_state(ledger)["parked"] == []
    assert len(list_trades(ledger.db)) == orders * 4
    assert verify(ledger.db, ledger.mapper).ok


# ----------------------------------------------------------------------------- external orders


def external_order(venue_order_id: str, **fields: Any) -> dict[str, Any]:
    """A venue's report of an order that carries no client order ID."""
    message = request("unused", venue_order_id=venue_order_id, external=True, source="ccxt", **fields)
    del message["client_order_id"]
    return message


def test_an_order_without_a_client_order_id_is_booked_as_external(ledger: OrderLedger) -> None:
    # Given its fill first (a trade carries only the venue order ID), then the order itself
    ledger.ingest_lines(
        lines(
            fill(None, "t1", "4", venue="V", venue_order_id="V-7"),
            external_order("V-7"),
            external_order("V-7"),  # the next poll reports it again
        )
    )

    order = ledger.order("ext-V-V-7")
    assert order.external
    assert order.venue_order_ids == ["V-7"]
    assert order.filled_quantity == D(4)
    assert ledger.resolve("V-7") == "ext-V-V-7"
    assert [r.outcome for r in journal(ledger)] == ["applied", "applied", "duplicate"]


def test_a_report_of_our_own_order_without_its_client_order_id_resolves_to_it(ledger: OrderLedger) -> None:
    ledger.ingest_lines(lines(request("c-1"), fact("accepted", "c-1", venue_order_id="V-1")))

    report = ledger.ingest_lines(lines(external_order("V-1", time_in_force="GTC")))

    assert report.counts["applied"] == 1  # the time in force it adds; no second order
    assert ledger.order("c-1").time_in_force == "GTC"
    with pytest.raises(Exception, match="no order"):
        ledger.order("ext-V-V-1")


# ----------------------------------------------------------------------------- repeated facts


def test_a_venue_report_completes_the_request_and_keeps_contradictions_as_anomalies(
    ledger: OrderLedger,
) -> None:
    ledger.ingest_lines(lines(request("c-1"), request("c-2", time_in_force="GTC")))

    # The venue reports c-1 with the time in force the caller left out, and c-2 with another one
    report = ledger.ingest_lines(
        lines(
            request("c-1", time_in_force="IOC", source="ccxt"),
            request("c-2", time_in_force="IOC", source="ccxt"),
            request("c-2", time_in_force="IOC", source="ccxt"),  # the next poll
        )
    )

    assert [r.outcome for r in journal(ledger)[2:]] == ["applied", "applied", "duplicate"]
    assert report.counts["rejected"] == 0
    assert ledger.order("c-1").time_in_force == "IOC"
    assert [type(e) for e in ledger.audit.order_events("c-1")][-1] is OrderDetailsAdded
    c2 = ledger.order("c-2")
    assert (c2.time_in_force, c2.anomalies) == ("GTC", ["time_in_force_mismatch"])
    anomaly = ledger.audit.order_events("c-2")[-1]
    assert isinstance(anomaly, AnomalyRecorded)
    assert (anomaly.recorded, anomaly.reported) == ("GTC", "IOC")


def test_the_caller_reusing_its_own_id_with_other_content_is_still_refused(ledger: OrderLedger) -> None:
    ledger.ingest_lines(lines(request("c-1")))

    report = ledger.ingest_lines(lines(request("c-1", price="101")))

    assert report.counts["rejected"] == 1
    assert "different" in (journal(ledger)[1].reason or "")


FILL_WITHOUT_FEE = fill("c-1", "t1", "2", "100", seconds=1)
FILL_FEE_USDT = fill("c-1", "t1", "2", "100", seconds=1, fee="0.2", fee_currency="USDT")
FILL_OTHER_FEE = fill("c-1", "t1", "2", "100", seconds=2, fee="0.25", fee_currency="USDT")


@pytest.mark.parametrize("first_with_fee", [False, True])
def test_a_copy_of_a_fill_that_adds_its_fee_completes_it_in_either_order(
    make_ledger: Any, first_with_fee: bool
) -> None:
    ledger = make_ledger()
    copies = [FILL_WITHOUT_FEE, FILL_FEE_USDT]
    if first_with_fee:
        copies.reverse()

    ledger.ingest_lines(lines(request("c-1"), *copies))

    # 2 at 100 with a fee of 0.2 USDT whichever copy came first
    assert trades(ledger) == [("c-1", "t1", "2", "100", "0.2", "USDT")]
    assert fees(ledger) == {"BTC-USDT": {"USDT": "0.2"}}
    events = ledger.audit.order_events("c-1")
    if first_with_fee:
        assert len(events) == 2  # request, fill: the fee-less copy is a duplicate
    else:
        completed = events[-1]
        assert isinstance(completed, FillCorrected)
        assert (completed.previous_fee, completed.fee, completed.fee_currency) == (None, D("0.2"), "USDT")


@pytest.mark.parametrize("larger_first", [False, True])
def test_a_fill_whose_copies_state_different_fees_books_the_larger_and_keeps_both(
    make_ledger: Any, larger_first: bool
) -> None:
    ledger = make_ledger()
    copies = [FILL_FEE_USDT, FILL_OTHER_FEE]
    if larger_first:
        copies.reverse()

    ledger.ingest_lines(lines(request("c-1"), *copies, *copies))

    # 0.25 > 0.2: the larger fee is booked whichever came first, and the conflict is one anomaly
    assert trades(ledger) == [("c-1", "t1", "2", "100", "0.25", "USDT")]
    assert fees(ledger) == {"BTC-USDT": {"USDT": "0.25"}}
    anomalies = [e for e in ledger.audit.order_events("c-1") if isinstance(e, AnomalyRecorded)]
    assert len(anomalies) == 1
    assert anomalies[0].anomaly == "fee_conflict"
    assert {anomalies[0].recorded, anomalies[0].reported} == {"0.2 USDT", "0.25 USDT"}
    assert ledger.order("c-1").anomalies == ["fee_conflict"]
    assert verify(ledger.db, ledger.mapper).ok


def test_fee_completion_in_another_currency_moves_the_fee_between_currencies(ledger: OrderLedger) -> None:
    ledger.ingest_lines(
        lines(
            request("c-1"),
            fill("c-1", "t1", "2", "100", fee="0.001", fee_currency="BNB"),
            fill("c-1", "t1", "2", "100", fee="0.2", fee_currency="USDT"),
        )
    )

    # |0.2| > |0.001|: the USDT fee is booked and the BNB one leaves the position's fees entirely
    assert fees(ledger) == {"BTC-USDT": {"USDT": "0.2"}}
    assert trades(ledger) == [("c-1", "t1", "2", "100", "0.2", "USDT")]


def test_venue_realized_pnl_is_kept_on_the_fill(ledger: OrderLedger) -> None:
    ledger.ingest_lines(lines(request("c-1"), fill("c-1", "t1", "2", venue_realized_pnl="-1.5")))

    filled = ledger.audit.order_events("c-1")[-1]
    assert filled.venue_realized_pnl == D("-1.5")  # type: ignore[attr-defined]


def test_an_adapters_notes_are_journaled_on_one_bounded_line(ledger: OrderLedger) -> None:
    # A venue's text can hold anything: a CR inside a FIX value, or a very long field
    item = inbound(
        b"raw", [], origin="venue", format="fix", notes=["MsgType 0\r0 is not an order message", "x" * 500]
    )

    ledger.ingest_inbound([item])

    reason = journal(ledger)[0].reason or ""
    assert reason.startswith("MsgType 0\\x0d0 is not an order message; xxx")
    assert "\r" not in reason and len(reason) == 300 and reason.endswith("…")
