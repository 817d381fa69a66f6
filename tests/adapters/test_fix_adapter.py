"""FIX ExecutionReports (35=8) and OrderCancelRejects (35=9) → ledger messages → order states.

The reports are FIX 4.4 field sets as a venue's drop copy or order-entry session sends them:
ExecType 150 drives the fact, ClOrdID 11 / OrigClOrdID 41 / OrderID 37 name the order,
ExecID 17 / ExecRefID 19 name trades.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from orderledger.domain.errors import OrderNotFoundError
from orderledger.domain.values import Status
from orderledger.infrastructure.adapters.fix.messages import (
    CLORDID_ALIAS,
    FixError,
    cancel_reject_messages,
    clordid_alias,
    execution_report_messages,
    fix_messages,
    parse_fix,
    transact_time,
)
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.reads.view_queries import list_trades
from orderledger.infrastructure.messages.models import Message
from tests.support.adapters import Feed, Valid

VENUE = "venueX"
FIXTURES = Path(__file__).parent / "fixtures"


def report(**tags: Any) -> dict[int, str]:
    """An ExecutionReport for ClOrdID F-1 / OrderID O-100 (buy 10 BTC-USD @ 100), tags overridden.

    Keyword names are ``t<tag>``; ``None`` removes a tag.
    """
    fields: dict[int, str] = {
        35: "8",
        11: "F-1",
        37: "O-100",
        17: "X-1",
        150: "0",
        39: "0",
        55: "BTC-USD",
        54: "1",
        38: "10",
        40: "2",
        44: "100",
        59: "1",
        14: "0",
        6: "0",
        60: "20261120-10:00:00.100",
    }
    for name, value in tags.items():
        tag = int(name.lstrip("t"))
        if value is None:
            fields.pop(tag, None)
        else:
            fields[tag] = str(value)
    return fields


def translate(fields: dict[int, str], **options: Any) -> list[Message]:
    return execution_report_messages(fields, venue=VENUE, **options)


def request(client_order_id: str = "F-1", **extra: Any) -> dict[str, Any]:
    """The trading system's own request, recorded before it sends the NewOrderSingle."""
    return {
        "type": "request",
        "client_order_id": client_order_id,
        "account": "ACC-7",
        "venue": VENUE,
        "instrument": "BTC-USD",
        "side": "buy",
        "order_type": "limit",
        "quantity": "10",
        "price": "100",
        "time_in_force": "GTC",
        "ts": "2026-11-20T10:00:00Z",
        **extra,
    }


def alias(clordid: str) -> str:
    return f"{CLORDID_ALIAS}:{clordid}"


# ---------------------------------------------------------------------- reading FIX


def test_parse_fix_reads_pipe_and_soh_text() -> None:
    # Body "35=8|150=F|58=a=b|" is 5 + 6 + 7 = 18 bytes; the checksum is worked out in test_fix_session.
    piped = "8=FIX.4.4|9=18|35=8|150=F|58=a=b|10=164|"
    assert parse_fix(piped) == {8: "FIX.4.4", 9: "18", 35: "8", 150: "F", 58: "a=b", 10: "164"}
    soh = "8=FIX.4.4\x0135=8\x0158=left|right\x01"
    assert parse_fix(soh.encode())[58] == "left|right"  # SOH present: '|' is just text
    assert parse_fix("35=8|448=A|448=B|\n")[448] == "A"  # a repeating group keeps its first value
    with pytest.raises(FixError, match="not a FIX field"):
        parse_fix("35=8|garbage|")
    with pytest.raises(FixError, match="empty"):
        parse_fix("||")


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("20261120-10:00:00", "2026-11-20T10:00:00.000000Z"),
        ("20261120-10:00:00.123", "2026-11-20T10:00:00.123000Z"),
        ("20261120-10:00:00.123456", "2026-11-20T10:00:00.123456Z"),
        ("20261120-10:00:00.123456789", "2026-11-20T10:00:00.123456Z"),  # nanoseconds dropped
    ],
)
def test_transact_time_is_utc_iso(text: str, iso: str) -> None:
    assert transact_time(text) == iso


@pytest.mark.parametrize("text", ["2026-11-20T10:00:00Z", "20261131-10:00:00", "20261120-25:00:00", ""])
def test_a_bad_transact_time_is_refused(text: str) -> None:
    with pytest.raises(FixError):
        transact_time(text)


# ---------------------------------------------------------------------- ExecType mapping


STATED = {"instrument": "BTC-USD", "side": "buy"}
"""What the reports below state of their order (Symbol 55, Side 54; no Account 1), for the ledger
to compare with the order's facts."""


def test_new_is_an_acknowledgement_that_records_the_clordid(valid: Valid) -> None:
    assert valid(translate(report())) == [
        {
            "type": "accepted",
            "client_order_id": "F-1",
            "venue": VENUE,
            "venue_order_id": "O-100",
            "aliases": {alias("F-1"): "F-1"},
            **STATED,
            "ts": "2026-11-20T10:00:00.100000Z",
            "source": "fix",
        }
    ]


def test_a_trade_is_a_fill_named_by_order_id_and_clordid(valid: Valid) -> None:
    fill = valid(
        translate(
            report(t150="F", t17="X-2", t32="3", t31="100.50", t12="0.3", t13="3", t479="USD", t851="1")
        )
    )
    assert fill == [
        {
            "type": "fill",
            "venue": VENUE,
            "venue_order_id": "O-100",
            "aliases": {alias("F-1"): "F-1"},
            **STATED,
            "trade_id": "X-2",
            "quantity": "3",
            "price": "100.5",
            "fee": "0.3",
            "fee_currency": "USD",
            "liquidity": "maker",
            "ts": "2026-11-20T10:00:00.100000Z",
            "source": "fix",
        }
    ]
    # FIX 4.2 spelled trades 1 (partial fill) and 2 (fill).
    for old in ("1", "2"):
        assert valid(translate(report(t150=old, t17="X-2", t32="3", t31="100")))[0]["type"] == "fill"


@pytest.mark.parametrize(
    ("tags", "fee", "currency"),
    [
        ({"t12": "0.3", "t13": "3", "t15": "USD"}, "0.3", "USD"),  # absolute
        ({"t12": "0.3", "t15": "USD"}, "0.3", "USD"),  # no CommType: absolute
        ({"t12": "0.01", "t13": "1", "t479": "EUR", "t15": "USD"}, "0.03", "EUR"),  # per unit × LastQty 3
        ({"t12": "0.1", "t13": "2"}, None, None),  # percentage: not guessed
    ],
)
def test_commission(tags: dict[str, str], fee: str | None, currency: str | None, valid: Valid) -> None:
    fill = valid(translate(report(t150="F", t17="X-2", t32="3", t31="100", **tags)))[0]
    assert (fill.get("fee"), fill.get("fee_currency")) == (fee, currency)


def test_trade_cancel_and_correct_name_the_original_execution(valid: Valid) -> None:
    bust = valid(translate(report(t150="H", t17="X-9", t19="X-2", t58="erroneous")))[0]
    assert (bust["type"], bust["trade_id"], bust["reason"]) == ("fill_busted", "X-2", "erroneous")
    fix = valid(translate(report(t150="G", t17="X-10", t19="X-3", t32="2", t31="99.5")))[0]
    assert (fix["type"], fix["trade_id"], fix["quantity"], fix["price"]) == (
        "fill_corrected",
        "X-3",
        "2",
        "99.5",
    )


@pytest.mark.parametrize(
    ("exec_type", "expected"),
    [
        ("4", ["canceled"]),
        ("C", ["expired"]),
        ("8", ["rejected"]),
        ("5", ["amended"]),
        ("D", ["amended"]),
        ("6", []),  # pending cancel: our intent, not a venue fact
        ("E", []),  # pending replace
        ("I", []),  # order status: for reconciliation
        ("A", []),  # pending new
        ("3", []),  # done for day
    ],
)
def test_exec_types_map_to_facts(exec_type: str, expected: list[str], valid: Valid) -> None:
    assert [m["type"] for m in valid(translate(report(t150=exec_type, t58="why")))] == expected


def test_a_rejection_names_the_order_by_client_id_without_acknowledging_it(valid: Valid) -> None:
    out = valid(translate(report(t150="8", t39="8", t37="NONE", t58=None, t103="3")))
    assert out == [
        {
            "type": "rejected",
            "client_order_id": "F-1",
            "venue": VENUE,
            **STATED,
            "ts": "2026-11-20T10:00:00.100000Z",
            "source": "fix",
            "reason": "3",
        }
    ]


def test_restated_without_terms_is_nothing_and_keys_may_be_strings(valid: Valid) -> None:
    assert translate(report(t150="D", t38=None, t44=None)) == []
    as_strings = {str(k): v for k, v in report(t150="F", t17="X-2", t32="1", t31="100").items()}
    assert valid(execution_report_messages(as_strings, venue=VENUE))[0]["trade_id"] == "X-2"


@pytest.mark.parametrize(
    ("tags", "error"),
    [
        ({"t150": None}, "ExecType"),
        ({"t35": "D"}, "not an ExecutionReport"),
        ({"t150": "F", "t17": None, "t32": "1", "t31": "1"}, "ExecID"),
        ({"t150": "F", "t17": "X", "t32": "0", "t31": "1"}, "positive LastQty"),
        ({"t150": "H", "t19": None}, "ExecRefID"),
        ({"t150": "G", "t19": "X-1", "t32": None, "t31": None}, "LastQty"),
        ({"t150": "5", "t38": None, "t44": None}, "OrderQty"),
        ({"t60": None}, "TransactTime"),
        ({"t150": "F", "t17": "X", "t32": "1", "t31": "1", "t11": None, "t37": None}, "names no order"),
        ({"t150": "0", "t11": None}, "ClOrdID"),
    ],
)
def test_reports_that_cannot_be_translated_are_refused(tags: dict[str, Any], error: str) -> None:
    with pytest.raises(FixError, match=error):
        translate(report(**tags))


def test_a_new_with_account_also_requests_the_order(valid: Valid, feed: Feed, ledger: OrderLedger) -> None:
    out = valid(translate(report(), account="ACC-7"))
    assert [m["type"] for m in out] == ["request", "accepted"]
    assert {
        k: out[0][k] for k in ("instrument", "side", "order_type", "quantity", "price", "time_in_force")
    } == {
        "instrument": "BTC-USD",
        "side": "buy",
        "order_type": "limit",
        "quantity": "10",
        "price": "100",
        "time_in_force": "GTC",
    }
    feed([request()])
    result = feed(out)
    assert result.counts == {"applied": 1, "duplicate": 1, "parked": 0, "ignored": 0, "rejected": 0}
    market = valid(translate(report(t40="1", t44=None, t54="2"), account="ACC-7"))[0]
    assert (market["order_type"], market["side"], "price" in market) == ("market", "sell", False)


# ---------------------------------------------------------------------- sequences through the ledger


def test_new_trade_bust_correct_cancel_session(valid: Valid, feed: Feed, ledger: OrderLedger) -> None:
    lines = [
        line
        for line in (FIXTURES / "fix_trade_cancel_correct.log").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    feed([request()])
    expected = [
        (Status.ACCEPTED, "0"),
        (Status.PARTIALLY_FILLED, "3"),
        (Status.PARTIALLY_FILLED, "5"),
        (Status.PARTIALLY_FILLED, "2"),  # X-2 busted
        (Status.PARTIALLY_FILLED, "2"),  # X-3 corrected in price only
        (Status.PARTIALLY_FILLED, "2"),  # pending cancel at the venue: nothing recorded
        (Status.CANCELED, "2"),
    ]
    for line, (status, filled) in zip(lines, expected, strict=True):
        result = feed(valid(fix_messages(line, venue=VENUE)))
        assert result.counts["rejected"] == 0, result.rejected
        order = ledger.order("F-1")
        assert (order.status, order.filled_quantity) == (status, Decimal(filled)), line
    order = ledger.order("F-1")
    assert order.venue_order_ids == ["O-100"]
    assert order.fills["X-2"].busted
    assert (order.fills["X-3"].qty, order.fills["X-3"].px) == (Decimal(2), Decimal("99.5"))
    assert order.average_price == Decimal("99.5")
    assert order.reason == "canceled by user"
    assert order.aliases == {alias("F-1"): "F-1", alias("F-1-C"): "F-1-C"}
    trades = list_trades(ledger.db, client_order_id="F-1")
    assert [(t["trade_id"], t["price"]) for t in trades] == [("X-3", "99.5")]
    # The whole session again (a FIX resend after a reconnect) changes nothing.
    again = feed([m for line in lines for m in fix_messages(line, venue=VENUE)])
    assert again.counts["applied"] == 0 and again.counts["rejected"] == 0
    assert ledger.order("F-1").version == order.version


def chain_reports() -> list[dict[int, str]]:
    """F-1 is replaced by F-2 (same OrderID), then by F-3 (the venue assigns OrderID O-200),
    then canceled by F-4; trades between carry the current ClOrdID and no OrigClOrdID."""
    return [
        report(t150="0", t17="X-1", t60="20261120-10:00:00"),
        report(t150="F", t17="X-2", t32="2", t31="100", t39="1", t60="20261120-10:00:01"),
        report(t150="E", t17="X-3", t11="F-2", t41="F-1", t39="E", t60="20261120-10:00:02"),
        report(
            t150="5", t17="X-4", t11="F-2", t41="F-1", t38="15", t44="101", t39="5", t60="20261120-10:00:03"
        ),
        report(
            t150="F", t17="X-5", t11="F-2", t32="3", t31="101", t38="15", t44="101", t60="20261120-10:00:04"
        ),
        report(
            t150="5",
            t17="X-6",
            t11="F-3",
            t41="F-2",
            t37="O-200",
            t38="20",
            t44="101",
            t60="20261120-10:00:05",
        ),
        report(
            t150="F",
            t17="X-7",
            t11="F-3",
            t37="O-200",
            t32="5",
            t31="101",
            t38="20",
            t44="101",
            t60="20261120-10:00:06",
        ),
        report(
            t150="6",
            t17="X-8",
            t11="F-4",
            t41="F-3",
            t37="O-200",
            t38="20",
            t44="101",
            t60="20261120-10:00:07",
        ),
        report(
            t150="4",
            t17="X-9",
            t11="F-4",
            t41="F-3",
            t37="O-200",
            t38="20",
            t44="101",
            t60="20261120-10:00:08",
        ),
    ]


def assert_chain_booked(ledger: OrderLedger) -> None:
    order = ledger.order("F-1")
    assert order.status is Status.CANCELED
    assert (order.quantity, order.price, order.filled_quantity) == (Decimal(20), Decimal(101), Decimal(10))
    assert order.venue_order_ids == ["O-100", "O-200"]
    assert order.aliases == {alias(c): c for c in ("F-1", "F-2", "F-3", "F-4")}
    assert sorted(order.fills) == ["X-2", "X-5", "X-7"]
    for later in ("F-2", "F-3", "F-4"):  # never re-keyed, no phantom orders
        with pytest.raises(OrderNotFoundError):
            ledger.order(later)
    assert ledger.resolve(f"{alias('F-3')}=F-3") == "F-1"


def test_a_cancel_replace_chain_stays_one_order(valid: Valid, feed: Feed, ledger: OrderLedger) -> None:
    feed([request()])
    for fields in chain_reports():
        result = feed(valid(translate(fields)))
        assert result.counts["rejected"] == 0, (fields, result.rejected)
    assert_chain_booked(ledger)


def test_replaced_messages_record_the_new_clordid_and_order_id(valid: Valid) -> None:
    replaced = valid(translate(chain_reports()[5]))
    assert replaced == [
        {
            "type": "amended",
            "venue": VENUE,
            "venue_order_id": "O-200",
            "aliases": {alias("F-2"): "F-2", alias("F-3"): "F-3"},
            **STATED,
            "quantity": "20",
            "price": "101",
            "ts": "2026-11-20T10:00:05.000000Z",
            "source": "fix",
        },
        {
            "type": "accepted",
            "venue": VENUE,
            "aliases": {alias("F-2"): "F-2", alias("F-3"): "F-3"},
            "ts": "2026-11-20T10:00:05.000000Z",
            "source": "fix",
        },
    ]


def test_a_chain_whose_request_comes_last_is_resolved_from_parking(
    valid: Valid, feed: Feed, ledger: OrderLedger
) -> None:
    # A venue that keeps its OrderID across replaces: every report waits, then resolves.
    reports = [r for r in chain_reports() if r[37] == "O-100"] + [
        report(t150="4", t17="X-9", t11="F-4", t41="F-2", t38="15", t44="101", t60="20261120-10:00:08")
    ]
    messages = valid([m for r in reports for m in translate(r)])
    assert feed(messages).counts["parked"] == len(messages)  # all of them wait for the order
    feed([request()])
    order = ledger.order("F-1")
    assert order.status is Status.CANCELED
    assert (order.quantity, order.filled_quantity) == (Decimal(15), Decimal(5))
    assert set(order.aliases) == {alias("F-1"), alias("F-2"), alias("F-4")}


def test_a_clordid_alias_on_the_request_resolves_reports_before_the_new(
    valid: Valid, feed: Feed, ledger: OrderLedger
) -> None:
    feed([request(aliases=clordid_alias("F-1"))])
    # The trade arrives before the New (a drop copy that lost it): found by its ClOrdID alias.
    result = feed(valid(translate(report(t150="F", t17="X-2", t32="2", t31="100", t37=None))))
    assert result.counts["applied"] == 1
    assert ledger.order("F-1").filled_quantity == Decimal(2)


def test_cancel_and_replace_rejects(valid: Valid, feed: Feed, ledger: OrderLedger) -> None:
    feed([request()])
    feed(valid(translate(report())))
    feed([{"type": "cancel_requested", "client_order_id": "F-1", "ts": "2026-11-20T10:00:01Z"}])
    assert ledger.order("F-1").status is Status.PENDING_CANCEL
    reject = {
        35: "9",
        11: "F-1-C",
        41: "F-1",
        37: "O-100",
        39: "0",
        434: "1",
        102: "0",
        60: "20261120-10:00:02",
    }
    out = valid(fix_messages(reject, venue=VENUE))
    assert [(m["type"], m["reason"]) for m in out] == [("cancel_rejected", "too late to cancel")]
    feed(out)
    assert ledger.order("F-1").status is Status.ACCEPTED
    feed(
        [
            {
                "type": "amend_requested",
                "client_order_id": "F-1",
                "quantity": "12",
                "ts": "2026-11-20T10:00:03Z",
            }
        ]
    )
    amend_reject = "35=9|11=F-1-R|41=F-1|37=O-100|39=0|434=2|58=price out of band|60=20261120-10:00:04|"
    out = valid(cancel_reject_messages(amend_reject, venue=VENUE))
    assert [(m["type"], m["reason"]) for m in out] == [("amend_rejected", "price out of band")]
    feed(out)
    order = ledger.order("F-1")
    assert (order.status, order.quantity) == (Status.ACCEPTED, Decimal(10))
    with pytest.raises(FixError, match="CxlRejResponseTo"):
        cancel_reject_messages({35: "9", 11: "A", 60: "20261120-10:00:04"}, venue=VENUE)
    assert fix_messages("35=0|112=heartbeat|", venue=VENUE) == []  # no order fact in other messages


def test_rejected_and_expired_orders(valid: Valid, feed: Feed, ledger: OrderLedger) -> None:
    feed([request("F-8"), request("F-9")])
    feed(valid(translate(report(t11="F-8", t150="8", t39="8", t37="NONE", t58="insufficient margin"))))
    rejected = ledger.order("F-8")
    assert (rejected.status, rejected.reason, rejected.venue_order_ids) == (
        Status.REJECTED,
        "insufficient margin",
        [],
    )
    feed(valid(translate(report(t11="F-9", t37="O-9"))))
    feed(valid(translate(report(t11="F-9", t37="O-9", t150="C", t39="C", t17="X-2"))))
    assert ledger.order("F-9").status is Status.EXPIRED


def test_a_restatement_is_the_venues_word_on_the_terms(valid: Valid, feed: Feed, ledger: OrderLedger) -> None:
    feed([request()])
    feed(valid(translate(report())))
    feed(valid(translate(report(t150="D", t17="X-2", t38="8", t378="3", t60="20261120-10:00:01"))))
    assert ledger.order("F-1").quantity == Decimal(8)
    unchanged = feed(valid(translate(report(t150="D", t17="X-3", t38="8", t60="20261120-10:00:02"))))
    assert unchanged.counts["duplicate"] == 1


def test_a_chain_that_re_ids_the_order_before_its_request_is_known(feed: Feed, ledger: OrderLedger) -> None:
    feed([m for r in chain_reports() for m in translate(r)])
    feed([request()])
    assert_chain_booked(ledger)


# ---------------------------------------------------------------------- chain steps with a new OrderID


def test_a_cancel_answering_a_chain_request_records_its_new_order_id_first(valid: Valid) -> None:
    canceled = report(t150="4", t39="4", t11="F-2", t41="F-1", t37="O-200", t58="by user")
    out = valid(translate(canceled))
    key = {
        "venue": VENUE,
        "venue_order_id": "O-200",
        "aliases": {alias("F-1"): "F-1", alias("F-2"): "F-2"},
        **STATED,
    }
    ts = "2026-11-20T10:00:00.100000Z"
    assert out == [
        # The order's terms as the report states them (10 at 100) and the OrderID it now has.
        {"type": "amended", **key, "quantity": "10", "price": "100", "ts": ts, "source": "fix"},
        {"type": "canceled", **key, "reason": "by user", "ts": ts, "source": "fix"},
        {"type": "accepted", "venue": VENUE, "aliases": key["aliases"], "ts": ts, "source": "fix"},
    ]
    # An unsolicited cancel (no OrigClOrdID) names the order as before: no amendment.
    assert [m["type"] for m in valid(translate(report(t150="4", t39="4")))] == ["canceled"]


def test_a_new_answering_a_replace_with_a_new_order_id(valid: Valid, feed: Feed, ledger: OrderLedger) -> None:
    feed([request()])
    feed(valid(translate(report())))
    # Some venues answer a replace with a New for the replacement order, under a new OrderID.
    out = valid(
        translate(report(t150="0", t11="F-2", t41="F-1", t37="O-300", t38="12", t60="20261120-10:00:01"))
    )
    assert [m["type"] for m in out] == ["amended", "accepted"]
    assert feed(out).counts["applied"] == 2  # one line per message here
    order = ledger.order("F-1")
    assert (order.quantity, order.venue_order_ids) == (Decimal(12), ["O-100", "O-300"])
    assert order.aliases == {alias("F-1"): "F-1", alias("F-2"): "F-2"}


# ---------------------------------------------------------------------- drop copies and notes


def test_drop_copy_requests_are_the_callers_intent(valid: Valid) -> None:
    stop = {
        35: "D",
        11: "D-1",
        1: "ACC-2",
        55: "BTC-USD",
        54: "2",
        38: "3",
        40: "3",
        99: "90",
        60: "20261120-10:00:00",
    }
    (requested,) = valid(fix_messages(stop, venue=VENUE))
    assert requested == {
        "type": "request",
        "client_order_id": "D-1",
        "account": "ACC-2",
        "venue": VENUE,
        "instrument": "BTC-USD",
        "side": "sell",
        "order_type": "stop_market",  # OrdType 3: a market order once StopPx 99 trades
        "quantity": "3",
        "trigger_price": "90",
        "aliases": {alias("D-1"): "D-1"},
        "ts": "2026-11-20T10:00:00.000000Z",
        "source": "fix",
    }
    with pytest.raises(FixError, match=r"NewOrderSingle 'D-1' needs an account \(--account or Account 1\)"):
        fix_messages({**stop, 1: ""}, venue=VENUE)
    cancel = {35: "F", 11: "D-2", 41: "D-1", 60: "20261120-10:00:01"}
    assert valid(fix_messages(cancel, venue=VENUE)) == [
        {
            "type": "cancel_requested",
            "venue": VENUE,
            "aliases": {alias("D-1"): "D-1", alias("D-2"): "D-2"},
            "ts": "2026-11-20T10:00:01.000000Z",
            "source": "fix",
        }
    ]
    replace = {35: "G", 11: "D-3", 41: "D-2", 38: "4", 44: "91", 60: "20261120-10:00:02"}
    (amend,) = valid(fix_messages(replace, venue=VENUE))
    assert (amend["type"], amend["quantity"], amend["price"]) == ("amend_requested", "4", "91")


def test_what_is_not_booked_is_noted(valid: Valid) -> None:
    notes: list[str] = []
    heartbeat = "8=FIX.4.4|35=0|34=7|"
    assert fix_messages(heartbeat * 3, venue=VENUE, notes=notes) == []
    assert notes == ["MsgType 0 (Heartbeat) carries no order fact (×3)"]
    notes.clear()
    fill = valid(
        fix_messages(
            report(t150="F", t17="X-2", t32="3", t31="100", t12="0.1", t13="2"), venue=VENUE, notes=notes
        )
    )
    assert "fee" not in fill[0]
    assert notes == ["trade X-2: Commission (12) 0.1 on a percentage basis not booked (venue-specific)"]
