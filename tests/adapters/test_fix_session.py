"""FIX 4.2 and 4.4 session logs, ingested end to end on SQLite and PostgreSQL.

Each flow is a log in the shape engines write it (QuickFIX/J or QuickFIX/n FileLog lines,
SOH- or ``|``-separated, true BodyLength and CheckSum from :mod:`tests.support.fixlog`) fed to
``OrderLedger.ingest_lines(..., format="fix", venue=...)``; then the orders, trades, positions
and the journal say what a user would check. Real captures are quoted verbatim with their
original checksums, their source named beside them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from orderledger.domain.errors import OrderNotFoundError
from orderledger.domain.values import Status
from orderledger.infrastructure.adapters.fix.messages import CLORDID_ALIAS, FixError, fix_messages, read_fix
from orderledger.infrastructure.adapters.fix.venue import FixOptions
from orderledger.infrastructure.application.ledger import IngestReport, OrderLedger
from orderledger.infrastructure.application.reads.view_queries import list_positions, list_trades
from orderledger.infrastructure.audit.search import list_messages
from orderledger.infrastructure.ingest.inbound import inbound
from tests.support.adapters import check_valid
from tests.support.fixlog import SOH, Session, fix_text

VENUE = "desk1"
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"

# Real captures, verbatim (checksums as published).
# KodiEhf/erlangfix, src/fix_parser.erl: the FIX 4.2 ExecutionReport also quoted by Wikipedia's
# FIX article (PHLX, ExecTransType 3 = status, ExecType E = pending replace) ...
PHLX_STATUS = (
    "8=FIX.4.2|9=178|35=8|49=PHLX|56=PERS|52=20071123-05:30:00.000|11=ATOMNOCCC9990900|20=3|150=E|"
    "39=E|55=MSFT|167=CS|54=1|38=15|40=2|44=15|58=PHLX EQUITY TESTING|59=0|47=C|32=0|31=0|151=15|14=0|"
    "6=0|10=128|"
)
# ... and a FIX 4.2 Restated report from the same file (BodyLength written with a leading zero).
INORD_RESTATED = (
    "8=FIX.4.2|9=0186|35=8|34=1|52=20101119-10:37:46|49=INORD|50=S|56=Y48|57=Y4805|43=Y|"
    "122=20101119-06:55:00|6=0.0|11=KODVRSKTKOLJP|14=0|17=0|20=0|37=309|39=0|54=1|55=10771|150=D|"
    "151=0|109=Y48|378=1|198=163|10=169|"
)
# A QuickFIX session's NewOrderSingle and its partial fill (MSFT, 7,000 at market; 3,500 filled at
# 113.35), the TESTBUY1/TESTSELL1 capture reproduced in many public FIX tools' READMEs and tests
# (for instance a QuickFIX-based "fixprinter" README, and Java/Go/Rust parser tests).
MSFT_ORDER = (
    "8=FIX.4.4|9=148|35=D|34=1080|49=TESTBUY1|52=20180920-18:14:19.508|56=TESTSELL1|"
    "11=636730640278898634|15=USD|21=2|38=7000|40=1|54=1|55=MSFT|60=20180920-18:14:19.492|10=092|"
)
MSFT_FILL = (
    "8=FIX.4.4|9=289|35=8|34=1090|49=TESTSELL1|52=20180920-18:23:53.671|56=TESTBUY1|6=113.35|"
    "11=636730640278898634|14=3500.0000000000|15=USD|17=20636730646335310000|21=2|31=113.35|32=3500|"
    "37=20636730646335310000|38=7000|39=1|40=1|54=1|55=MSFT|60=20180920-18:23:53.531|150=F|151=3500|"
    "453=1|448=BRK2|447=D|452=1|10=151|"
)


@pytest.fixture
def book(stored_ledger: OrderLedger) -> OrderLedger:
    """An empty ledger on a SQLite file, then on a private PostgreSQL schema (conftest.py)."""
    return stored_ledger


def ingest(ledger: OrderLedger, lines: Sequence[str | bytes], **options: Any) -> IngestReport:
    return ledger.ingest_lines(lines, format="fix", venue=VENUE, origin="fix-log", **options)


def journal(ledger: OrderLedger) -> list[tuple[str, str | None]]:
    """(outcome, reason) of every journaled line, in arrival order."""
    return [(row["outcome"], row["reason"]) for row in list_messages(ledger.db)]


def alias(clordid: str) -> str:
    return f"{CLORDID_ALIAS}:{clordid}"


def position(ledger: OrderLedger, instrument: str) -> dict[str, Any]:
    (found,) = [p for p in list_positions(ledger.db) if p["instrument"] == instrument]
    return found


# ---------------------------------------------------------------------- reading logs


def test_the_checksum_helper_agrees_with_real_captures() -> None:
    # Given the bodies of real captures, the helper computes the BodyLength and CheckSum they carry.
    assert (
        fix_text(PHLX_STATUS.split("|", 2)[2].rsplit("|10=", 1)[0], begin="FIX.4.2", sep="|") == PHLX_STATUS
    )
    assert fix_text(MSFT_ORDER.split("|", 2)[2].rsplit("|10=", 1)[0], sep="|") == MSFT_ORDER
    assert fix_text(MSFT_FILL.split("|", 2)[2].rsplit("|10=", 1)[0], sep="|") == MSFT_FILL


def test_real_captures_are_read_and_checked() -> None:
    for capture in (PHLX_STATUS, INORD_RESTATED, MSFT_ORDER, MSFT_FILL):
        for text in (capture, capture.replace("|", SOH)):  # SOH on the wire, '|' in shared logs
            (fields,) = read_fix(text)
            assert fields[10] == capture[-4:-1]
    # The MiscFees-free party group keeps every entry in order; the mapping keeps the first.
    (fill,) = read_fix(MSFT_FILL)
    assert fill.pairs[-5:-1] == [(453, "1"), (448, "BRK2"), (447, "D"), (452, "1")]


def test_log_prefixes_are_dropped_and_a_line_of_several_messages_is_split() -> None:
    # QuickFIX/J and QuickFIX/n prefix each message with the time it was logged.
    assert read_fix(f"20180920-18:14:19.510: {MSFT_ORDER.replace('|', SOH)}")[0][11] == "636730640278898634"
    assert read_fix(f"20180920-18:14:19.510 : {MSFT_ORDER}")[0][35] == "D"
    # A log written without newlines: three messages on one line, each framed by its BodyLength.
    line = "20180920-18:23:53.700 : " + MSFT_ORDER + MSFT_FILL + PHLX_STATUS
    assert [m[35] for m in read_fix(line)] == ["D", "8", "8"]
    assert [m[34] for m in read_fix(line)[:2]] == ["1080", "1090"]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        # The real New with its CheckSum off by one (128 → 129).
        (PHLX_STATUS.replace("10=128", "10=129"), "CheckSum (10) is 129 but the message's bytes sum to 128"),
        # Body "35=8|11=B-1|37=V-1|150=F|17=T-1|32=1|31=10|60=20261120-10:00:00|" counted by hand:
        # 5 + 7 + 7 + 6 + 7 + 5 + 6 + 21 = 64 bytes; the message claims 65.
        (
            "8=FIX.4.4|9=65|35=8|11=B-1|37=V-1|150=F|17=T-1|32=1|31=10|60=20261120-10:00:00|10=000|",
            "BodyLength (9) is 65 but the body holds 64 bytes",
        ),
        (MSFT_ORDER.replace("10=092", "10=92"), "CheckSum (10) must be three digits"),
        (MSFT_ORDER.replace("|9=148|", "|9=14x|"), "BodyLength (9) is not a whole number"),
        (
            MSFT_ORDER.replace("|10=092|", "|10=092|58=after|"),
            "text after CheckSum (10) is not a FIX message",
        ),
        ("35=8|8=FIX.4.4|9=5|35=0|10=000|", "text before BeginString (8) is not a log prefix"),
    ],
)
def test_a_bad_frame_is_refused_with_its_reason(line: str, reason: str) -> None:
    with pytest.raises(FixError, match=re.escape(reason)):
        read_fix(line)


def test_a_bad_checksum_rejects_the_whole_line_and_stores_nothing(book: OrderLedger) -> None:
    # Given a line holding a NewOrderSingle and a New whose CheckSum is off by one,
    venue = Session()
    order = venue.text(
        "20261120-10:00:00.000", "35=D|11=K-1|1=ACC-7|55=BTC-USD|54=1|38=1|40=2|44=100|60=20261120-10:00:00"
    )
    ack = venue.text("20261120-10:00:00.100", "35=8|11=K-1|37=V-1|17=E-1|150=0|39=0|60=20261120-10:00:00.100")
    stated = int(ack[-4:-1])
    bad_ack = ack[:-4] + f"{(stated + 1) % 256:03d}" + SOH
    # when it is ingested,
    report = ingest(book, ["20261120-10:00:00.100: " + order + bad_ack])
    # then the line is rejected with the reason, and not even the request before it is stored.
    assert report.counts["rejected"] == 1 and report.events == 0
    (rejected,) = report.rejected
    assert f"CheckSum (10) is {(stated + 1) % 256:03d} but the message's bytes sum to {stated:03d}" in (
        rejected.reason or ""
    )
    with pytest.raises(OrderNotFoundError):
        book.order("K-1")
    assert [outcome for outcome, _ in journal(book)] == ["rejected"]
    # The same line with the true checksum books both messages.
    fixed = ingest(book, ["20261120-10:00:00.100: " + order + ack])
    assert fixed.counts["applied"] == 1 and book.order("K-1").venue_order_ids == ["V-1"]


# ---------------------------------------------------------------------- FIX 4.4 flows


def filled_order_session() -> list[str]:
    """A QuickFIX/J log of a buy of 10 ETH-USD at 100.5: New, a fill of 4 at 100.25 (fee 0.4),
    a fill of 6 at 100.5 (fee 0.9); the account is tag 1."""
    venue = Session()
    order = "1=ACC-7|11=ORD-1|37=VX-1|55=ETH-USD|54=1|38=10|40=2|44=100.5|59=1|15=USD"
    return [
        venue.message(
            "20261120-10:00:00.105",
            f"35=8|{order}|17=E-1|150=0|39=0|14=0|151=10|6=0|60=20261120-10:00:00.100",
        ),
        venue.message(
            "20261120-10:00:01.005",
            f"35=8|{order}|17=E-2|150=F|39=1|32=4|31=100.25|14=4|151=6|6=100.25|12=0.4|13=3|479=USD"
            "|851=1|60=20261120-10:00:01",
        ),
        venue.message(
            "20261120-10:00:02.005",
            f"35=8|{order}|17=E-3|150=F|39=2|32=6|31=100.5|14=10|151=0|6=100.4|12=0.9|13=3|479=USD"
            "|851=2|60=20261120-10:00:02",
        ),
    ]


def test_new_partial_fill_with_the_account_from_tag_1(book: OrderLedger) -> None:
    # Given the log of a New and two fills, no --account given,
    # when the log is ingested,
    report = ingest(book, filled_order_session())
    # then every line is applied and the order is filled at the average (4×100.25 + 6×100.5)/10
    # = (401 + 603)/10 = 100.4, in account ACC-7 (tag 1).
    assert report.counts == {"applied": 3, "duplicate": 0, "parked": 0, "ignored": 0, "rejected": 0}
    order = book.order("ORD-1")
    assert (order.account, order.status, order.filled_quantity) == ("ACC-7", Status.FILLED, 10)
    assert (order.average_price, order.quote_currency) == (Decimal("100.4"), "USD")
    trades = list_trades(book.db, client_order_id="ORD-1")
    assert [(t["trade_id"], t["quantity"], t["price"], t["fee"], t["liquidity"]) for t in trades] == [
        ("E-2", "4", "100.25", "0.4", "maker"),
        ("E-3", "6", "100.5", "0.9", "taker"),
    ]
    held = position(book, "ETH-USD")
    # Fees 0.4 + 0.9 = 1.3 USD.
    assert (held["account"], held["quantity"], held["average_price"], held["fees"]) == (
        "ACC-7",
        "10",
        "100.4",
        {"USD": "1.3"},
    )
    # An --account given on the command line wins over tag 1.
    second = Session(seq=10).message(
        "20261120-10:00:03.000",
        "35=8|1=ACC-7|11=ORD-2|37=VX-2|55=ETH-USD|54=1|38=1|40=2|44=100|17=E-9|150=0|39=0|60=20261120-10:00:03",
    )
    ingest(book, [second], account="MAIN")
    assert book.order("ORD-2").account == "MAIN"


def drop_copy_session() -> list[str]:
    """A drop copy of a sell of 5 BTC-USD at 64,000: the desk's D, G and F beside the venue's
    reports; the venue assigns a new OrderID on the replace (V-101) and again on the cancel (V-102)."""
    desk, venue = Session("DESK1", "VENUEX"), Session()
    terms = "1=ACC-7|55=BTC-USD|54=2|40=2"
    return [
        desk.message("20261120-10:00:00.000", f"35=D|11=C-1|{terms}|38=5|44=64000|59=0|60=20261120-10:00:00"),
        venue.message(
            "20261120-10:00:00.050",
            f"35=8|11=C-1|37=V-100|17=X-1|150=0|39=0|{terms}|38=5|44=64000|59=0|14=0|151=5|6=0|60=20261120-10:00:00.040",
        ),
        venue.message(
            "20261120-10:00:01.000",
            f"35=8|11=C-1|37=V-100|17=X-2|150=F|39=1|{terms}|38=5|44=64000|32=2|31=64000|14=2|151=3|6=64000"
            "|60=20261120-10:00:01",
        ),
        desk.message(
            "20261120-10:00:02.000", f"35=G|11=C-2|41=C-1|37=V-100|{terms}|38=4|44=64100|60=20261120-10:00:02"
        ),
        venue.message(
            "20261120-10:00:02.050",
            f"35=8|11=C-2|41=C-1|37=V-101|17=X-3|150=5|39=1|{terms}|38=4|44=64100|14=2|151=2|6=64000"
            "|60=20261120-10:00:02.040",
        ),
        desk.message(
            "20261120-10:00:03.000", f"35=F|11=C-3|41=C-2|37=V-101|{terms}|38=4|60=20261120-10:00:03"
        ),
        venue.message(
            "20261120-10:00:03.050",
            f"35=8|11=C-3|41=C-2|37=V-101|17=X-4|150=6|39=6|{terms}|38=4|44=64100|14=2|151=2|6=64000"
            "|60=20261120-10:00:03.040",
        ),
        venue.message(
            "20261120-10:00:03.150",
            f"35=8|11=C-3|41=C-2|37=V-102|17=X-5|150=4|39=4|{terms}|38=4|44=64100|14=2|151=0|6=64000"
            "|58=canceled by user|60=20261120-10:00:03.140",
        ),
    ]


def test_drop_copy_intent_replace_chain_and_a_cancel_with_a_new_order_id(book: OrderLedger) -> None:
    lines = drop_copy_session()
    statuses = []
    for line in lines:
        report = ingest(book, [line])
        assert report.counts["rejected"] == 0, report.rejected[0].reason
        statuses.append(book.order("C-1").status)
    # The desk's D is the request; G and F put the order in a pending state before the venue answers.
    assert statuses == [
        Status.REQUESTED,
        Status.ACCEPTED,
        Status.PARTIALLY_FILLED,
        Status.PENDING_AMEND,  # 35=G
        Status.PARTIALLY_FILLED,  # replaced: 4 at 64,100, OrderID V-101
        Status.PENDING_CANCEL,  # 35=F
        Status.PENDING_CANCEL,  # the venue's pending cancel adds no fact
        Status.CANCELED,  # canceled under the new OrderID V-102: recorded, not refused
    ]
    order = book.order("C-1")
    assert (order.side.value, order.quantity, order.price, order.filled_quantity) == ("sell", 4, 64100, 2)
    assert order.venue_order_ids == ["V-100", "V-101", "V-102"]
    assert order.aliases == {alias(c): c for c in ("C-1", "C-2", "C-3")}
    assert order.reason == "canceled by user"
    assert book.resolve("V-102") == "C-1"
    outcomes = journal(book)
    assert outcomes[6] == ("ignored", "ExecType 6 (Pending Cancel) for ClOrdID C-3: no fact recorded")
    # A later report under the new OrderID resolves: the venue busts the one trade.
    bust = Session(seq=20).message(
        "20261120-10:05:00.000",
        "35=8|11=C-3|37=V-102|17=X-6|19=X-2|150=H|39=4|58=busted|60=20261120-10:05:00",
    )
    assert ingest(book, [bust]).counts["applied"] == 1
    assert book.order("C-1").filled_quantity == 0
    # The whole log again (a resend after a reconnect) changes nothing.
    again = ingest(book, lines)
    assert again.counts["applied"] == 0 and again.counts["rejected"] == 0


def two_on_a_line_session() -> list[str]:
    """A New, then one line (a log written without newlines) holding the Replaced that raises the
    order to 12 and the trade that fills all 12."""
    venue = Session()
    terms = "1=ACC-7|55=SOL-USD|54=1|40=2"
    new = venue.message(
        "20261120-11:00:00.000",
        f"35=8|11=R-1|37=V-7|17=Y-1|150=0|39=0|{terms}|38=10|44=150|60=20261120-11:00:00",
    )
    replaced = venue.text(
        "20261120-11:00:01.000",
        f"35=8|11=R-2|41=R-1|37=V-7|17=Y-2|150=5|39=5|{terms}|38=12|44=150|60=20261120-11:00:01",
    )
    traded = venue.text(
        "20261120-11:00:01.000",
        f"35=8|11=R-2|37=V-7|17=Y-3|150=F|39=2|{terms}|38=12|44=150|32=12|31=150|60=20261120-11:00:01.500",
    )
    return [new, "20261120-11:00:01.600: " + replaced + traded]


def test_two_messages_on_one_line_are_both_booked(book: OrderLedger) -> None:
    report = ingest(book, two_on_a_line_session())
    # The second line is one applied input that booked both facts.
    assert report.counts == {"applied": 2, "duplicate": 0, "parked": 0, "ignored": 0, "rejected": 0}
    order = book.order("R-1")
    assert (order.status, order.quantity, order.filled_quantity) == (Status.FILLED, 12, 12)
    assert [t["trade_id"] for t in list_trades(book.db, client_order_id="R-1")] == ["Y-3"]


def test_misc_fees_are_booked_with_the_commission(book: OrderLedger) -> None:
    # Given a fill with a commission of 1.5 USD and three MiscFees: 0.25 USD exchange fees, 0.1 USD
    # regulatory, 0.2 EUR tax; and a second fill with only a MiscFee of 0.05 USD,
    venue = Session()
    terms = "1=ACC-7|55=AAPL|54=1|40=2|38=20|44=190|15=USD"
    log = [
        venue.message(
            "20261120-14:30:00.000", f"35=8|11=M-1|37=V-9|17=Z-1|150=0|39=0|{terms}|60=20261120-14:30:00"
        ),
        venue.message(
            "20261120-14:30:01.000",
            f"35=8|11=M-1|37=V-9|17=Z-2|150=F|39=1|{terms}|32=10|31=190|12=1.5|13=3"
            "|136=3|137=0.25|138=USD|139=4|137=0.1|138=USD|139=1|137=0.2|138=EUR|139=2|60=20261120-14:30:01",
        ),
        venue.message(
            "20261120-14:30:02.000",
            f"35=8|11=M-1|37=V-9|17=Z-3|150=F|39=2|{terms}|32=10|31=190|136=1|137=0.05|139=4|60=20261120-14:30:02",
        ),
    ]
    # when ingested,
    report = ingest(book, log)
    assert report.counts["applied"] == 3
    # then the first fill's fee is 1.5 + 0.25 + 0.1 = 1.85 USD, the second's 0.05 USD (MiscFeeCurr
    # absent: Currency 15, USD), and the EUR tax is named in the journal, not booked.
    trades = list_trades(book.db, client_order_id="M-1")
    assert [(t["trade_id"], t["fee"], t["fee_currency"]) for t in trades] == [
        ("Z-2", "1.85", "USD"),
        ("Z-3", "0.05", "USD"),
    ]
    fees = position(book, "AAPL")["fees"]
    assert {k: Decimal(v) for k, v in fees.items()} == {"USD": Decimal("1.9")}  # 1.85 + 0.05
    assert journal(book)[1] == (
        "applied",
        "trade Z-2: MiscFee (tax) 0.2 EUR not booked: the fill's fee is in USD,"
        " and a fill carries one fee currency",
    )


# ---------------------------------------------------------------------- FIX 4.2 flows


def fix42_session() -> list[str]:
    """A FIX 4.2 QuickFIX/n log ('|' shown for SOH): buy 300 IBM at 140; fills A-2 (100 @ 139.9)
    and A-3 (100 @ 140); A-3 corrected to 139.95 (ExecTransType 2); A-2 busted (1); a status
    report repeating A-3 (3); the last 200 filled at 140.1."""
    venue = Session(begin="FIX.4.2", sep="|", style="quickfixn")
    order = "1=ACC-9|11=N-1|37=P-1|55=IBM|54=1|38=300|40=2|44=140|59=0|15=USD"
    return [
        venue.message(
            "20261120-15:00:00.010",
            f"35=8|{order}|17=A-1|20=0|150=0|39=0|14=0|151=300|6=0|60=20261120-15:00:00",
        ),
        venue.message(
            "20261120-15:00:01.010",
            f"35=8|{order}|17=A-2|20=0|150=1|39=1|32=100|31=139.9|14=100|151=200|6=139.9|12=1|13=3|60=20261120-15:00:01",
        ),
        venue.message(
            "20261120-15:00:02.010",
            f"35=8|{order}|17=A-3|20=0|150=1|39=1|32=100|31=140|14=200|151=100|6=139.95|12=1|13=3|60=20261120-15:00:02",
        ),
        venue.message(
            "20261120-15:00:03.010",
            f"35=8|{order}|17=A-4|19=A-3|20=2|150=1|39=1|32=100|31=139.95|14=200|151=100|6=139.925|12=1|13=3"
            "|58=price corrected|60=20261120-15:00:03",
        ),
        venue.message(
            "20261120-15:00:04.010",
            f"35=8|{order}|17=A-5|19=A-2|20=1|150=1|39=1|32=100|31=139.9|14=100|151=200|6=139.95"
            "|58=trade busted|60=20261120-15:00:04",
        ),
        venue.message(
            "20261120-15:00:05.010",
            f"35=8|{order}|17=A-6|20=3|150=1|39=1|32=100|31=139.95|14=100|151=200|6=139.95|60=20261120-15:00:05",
        ),
        venue.message(
            "20261120-15:00:06.010",
            f"35=8|{order}|17=A-7|20=0|150=2|39=2|32=200|31=140.1|14=300|151=0|6=140.05|12=2|13=3|60=20261120-15:00:06",
        ),
    ]


def test_fix42_bust_and_correct_through_exec_trans_type(book: OrderLedger) -> None:
    report = ingest(book, fix42_session())
    assert report.counts == {"applied": 6, "duplicate": 0, "parked": 0, "ignored": 1, "rejected": 0}
    order = book.order("N-1")
    # A-2 busted; A-3 is 100 at 139.95 after its correction; the status report added nothing;
    # A-7 fills 200: 100 + 200 = 300 → filled at (100×139.95 + 200×140.1)/300 = 42015/300 = 140.05.
    assert (order.status, order.filled_quantity, order.average_price) == (
        Status.FILLED,
        300,
        Decimal("140.05"),
    )
    assert order.fills["A-2"].busted
    assert (order.fills["A-3"].qty, order.fills["A-3"].px) == (100, Decimal("139.95"))
    assert sorted(order.fills) == ["A-2", "A-3", "A-7"]  # were not new trades
    trades = list_trades(book.db, client_order_id="N-1")
    assert [(t["trade_id"], t["quantity"], t["price"]) for t in trades] == [
        ("A-3", "100", "139.95"),
        ("A-7", "200", "140.1"),
    ]
    assert position(book, "IBM")["average_price"] == "140.05"
    assert journal(book)[5] == (
        "ignored",
        "ExecutionReport ClOrdID N-1 is a status (ExecTransType 20=3): no new fact",
    )


def test_real_captures_through_the_ledger(book: OrderLedger) -> None:
    # Given the MSFT order and its partial fill (one line per message, a QuickFIX/J prefix), then
    # the PHLX status report and the INORD restatement,
    lines = [
        "20180920-18:14:19.510: " + MSFT_ORDER.replace("|", SOH),
        "20180920-18:23:53.672: " + MSFT_FILL.replace("|", SOH),
        PHLX_STATUS,
        INORD_RESTATED,
    ]
    report = ingest(book, lines, account="DESK")
    # then the order is requested (market buy 7,000 for the given account), 3,500 are filled at
    # 113.35, and the two others are journaled as not booked, with why.
    assert report.counts == {"applied": 2, "duplicate": 0, "parked": 0, "ignored": 2, "rejected": 0}
    order = book.order("636730640278898634")
    assert (order.account, order.order_type.value, order.quantity, order.status) == (
        "DESK",
        "market",
        7000,
        Status.PARTIALLY_FILLED,
    )
    assert (order.filled_quantity, order.average_price) == (3500, Decimal("113.35"))
    assert order.venue_order_ids == ["20636730646335310000"]  # the fill's OrderID: an implied ack
    assert journal(book)[2:] == [
        ("ignored", "ExecutionReport ClOrdID ATOMNOCCC9990900 is a status (ExecTransType 20=3): no new fact"),
        ("ignored", "Restated ClOrdID KODVRSKTKOLJP states no OrderQty (38) or Price (44): nothing to book"),
    ]


# ---------------------------------------------------------------------- scale and instruments


def test_a_quantity_and_price_scale_for_venues_that_send_integers(book: OrderLedger) -> None:
    # Given a venue that sends LastQty 150000 and LastPx 6400012 meaning 15 and 64,000.12
    # (quantity scale 4, price scale 2), and on one message a custom tag 5001 stating scale 3,
    venue = Session(sep="|", style="bare")
    terms = "1=ACC-1|55=BTC-USD|54=1|40=2|38=1000000|44=6400000"
    new = venue.message(
        "20261120-10:00:00.000", f"35=8|11=S-1|37=V-1|17=T-1|150=0|39=0|{terms}|60=20261120-10:00:00"
    )
    fill = venue.message(
        "20261120-10:00:01.000",
        f"35=8|11=S-1|37=V-1|17=T-2|150=F|39=1|{terms}|32=150000|31=6400012|60=20261120-10:00:01",
    )
    tagged = venue.message(
        "20261120-10:00:02.000",
        f"35=8|11=S-1|37=V-1|17=T-3|150=F|39=1|{terms}|5001=3|32=2500|31=6400000|60=20261120-10:00:02",
    )
    scaled = FixOptions(quantity_scale=4, price_scale=2, quantity_scale_tag=5001)
    built = [fix_messages(line, venue=VENUE, options=scaled) for line in (new, fill, tagged)]
    messages = [check_valid(msgs) for msgs in built]
    # then the order is 1000000 / 10^4 = 100 at 6400000 / 10^2 = 64,000; the fills 15 at 64,000.12
    # and (scale 3 from the tag) 2500 / 10^3 = 2.5 at 64,000.
    assert {k: messages[0][0][k] for k in ("quantity", "price")} == {"quantity": "100", "price": "64000"}
    assert [(m[-1]["quantity"], m[-1]["price"]) for m in messages[1:]] == [
        ("15", "64000.12"),
        ("2.5", "64000"),
    ]
    # and through the ledger (the Python API: the options are the adapter's).
    items = [
        inbound(line.encode(), msgs, origin="scaled", format="fix")
        for line, msgs in zip((new, fill, tagged), built, strict=True)
    ]
    book.ingest_inbound(items)
    assert book.order("S-1").filled_quantity == Decimal("17.5")  # 15 + 2.5
    unreadable = {**read_fix(tagged)[0], 5001: "x"}
    with pytest.raises(FixError, match="scale tag 5001 must be a whole number"):
        fix_messages(unreadable, venue=VENUE, options=FixOptions(quantity_scale_tag=5001))


def option_and_underlying_session() -> list[str]:
    """A drop copy: buy and sell 100 AAPL shares (190 → 195) and 2 AAPL Dec-2026 150 calls
    (5 → 7.5, contract multiplier 100)."""
    desk, venue = Session("DESK1", "VENUEX"), Session()
    stock = "1=ACC-3|55=AAPL|167=CS|15=USD"
    call = "1=ACC-3|55=AAPL|167=OPT|200=202612|201=1|202=150|231=100|48=AAPL261218C00150000|22=8|15=USD"
    lines = []
    for n, (what, side, qty, px) in enumerate(
        [(stock, 1, 100, 190), (stock, 2, 100, 195), (call, 1, 2, 5), (call, 2, 2, "7.5")], start=1
    ):
        at = f"20261120-16:00:0{n}"
        lines.append(
            desk.message(f"{at}.000", f"35=D|11=Q-{n}|{what}|54={side}|38={qty}|40=2|44={px}|60={at}")
        )
        lines.append(
            venue.message(
                f"{at}.500",
                f"35=8|11=Q-{n}|37=W-{n}|17=F-{n}|150=F|39=2|{what}|54={side}|38={qty}|40=2|44={px}|32={qty}|31={px}|60={at}.400",
            )
        )
    return lines


def test_an_option_is_defined_and_named_apart_from_its_underlying() -> None:
    lines = option_and_underlying_session()
    (stock,) = [m for m in check_valid(fix_messages(lines[0], venue=VENUE)) if m["type"] == "instrument"]
    definition, request = check_valid(fix_messages(lines[4], venue=VENUE))
    assert stock == {
        "type": "instrument",
        "venue": VENUE,
        "instrument": "AAPL",
        "kind": "equity",
        "quote_currency": "USD",
        "ts": "2026-11-20T16:00:01.000000Z",
        "source": "fix",
    }
    assert definition == {
        "type": "instrument",
        "venue": VENUE,
        "instrument": "AAPL 202612 C 150",
        "kind": "option",
        "contract_size": "100",
        "underlying": "AAPL",
        "expiry": "202612",
        "strike": "150",
        "option_type": "call",
        "quote_currency": "USD",
        "security_id": "AAPL261218C00150000",
        "security_id_source": "EXCHANGE",
        "ts": "2026-11-20T16:00:03.000000Z",
        "source": "fix",
    }
    assert (request["type"], request["instrument"], request["quantity"]) == (
        "request",
        "AAPL 202612 C 150",
        "2",
    )


def test_an_option_and_its_underlying_never_net(book: OrderLedger) -> None:
    report = ingest(book, option_and_underlying_session())
    assert report.counts["rejected"] == 0, report.rejected[0].reason
    stock, call = position(book, "AAPL"), position(book, "AAPL 202612 C 150")
    # Shares: (195 − 190) × 100 = 500. Calls: (7.5 − 5) × 2 contracts × 100 = 500, not 5.
    assert (Decimal(stock["quantity"]), Decimal(stock["realized_pnl"])) == (0, 500)
    assert (Decimal(call["quantity"]), Decimal(call["realized_pnl"])) == (0, 500)
    assert (stock["contract_size"], call["contract_size"]) == ("1", "100")


# ---------------------------------------------------------------------- the docs' examples


def test_the_fix_44_example_log(book: OrderLedger) -> None:
    lines = (EXAMPLES / "fix-44.log").read_bytes().splitlines()
    report = ingest(book, lines)
    # 3 lines of the first order, 8 of the drop copy (7 applied, the pending cancel ignored), the
    # New and the line of two messages, one heartbeat (ignored): 3 + 7 + 2 = 12 applied.
    assert report.counts == {"applied": 12, "duplicate": 0, "parked": 0, "ignored": 2, "rejected": 0}
    assert (book.order("ORD-1").status, book.order("ORD-1").average_price) == (
        Status.FILLED,
        Decimal("100.4"),
    )
    canceled = book.order("C-1")
    assert (canceled.status, canceled.venue_order_ids) == (Status.CANCELED, ["V-100", "V-101", "V-102"])
    assert (book.order("R-1").status, book.order("R-1").filled_quantity) == (Status.FILLED, 12)


def test_the_fix_42_example_log(book: OrderLedger) -> None:
    lines = (EXAMPLES / "fix-42.log").read_text(encoding="utf-8").splitlines()
    report = ingest(book, lines)
    # The 4.2 session above (6 applied, the status ignored) and the PHLX status capture (ignored).
    assert report.counts == {"applied": 6, "duplicate": 0, "parked": 0, "ignored": 2, "rejected": 0}
    order = book.order("N-1")
    assert (order.status, order.filled_quantity, order.average_price) == (
        Status.FILLED,
        300,
        Decimal("140.05"),
    )
