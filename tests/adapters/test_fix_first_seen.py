"""A drop copy's ExecutionReport of an order it never reported as New opens the order, whatever its
ExecType, when it carries what an order needs (Account 1, Symbol 55, Side 54, OrderQty 38, OrdType
40, and Price 44 for a limit order) and its ClOrdID 11 is the order's own (no OrigClOrdID 41 naming
another link): a rejection (150=8), a cancel (4), an expiry (C) or a fill (F; 1 and 2 on FIX 4.2)
of such an order is booked. A report lacking one of those still waits for the order, as before.

Each log is written as engines write it (tests/support/fixlog.py: true BodyLength and CheckSum)
and ingested with ``format="fix"`` on a SQLite file and a private PostgreSQL schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from orderledger.domain.values import Side, Status
from orderledger.infrastructure.application.ledger import IngestReport, OrderLedger
from tests.support.fixlog import REJECTED_ORDERS, Session, rejection_lines

VENUE = "desk1"
ORDER = "1=ACC-7|11=D1-41-020|37=VX-800020|55=BTC-USD|54=1|38=0.01|40=2|44=64102.4"
"""A buy of 0.01 BTC-USD at 64102.4 for ACC-7, as each report below states it."""


@pytest.fixture
def book(stored_ledger: OrderLedger) -> OrderLedger:
    """An empty ledger on a SQLite file, then on a private PostgreSQL schema (conftest.py)."""
    return stored_ledger


def ingest(ledger: OrderLedger, lines: Sequence[str | bytes]) -> IngestReport:
    return ledger.ingest_lines(lines, format="fix", venue=VENUE)


def counts(**given: int) -> dict[str, int]:
    return {"applied": 0, "duplicate": 0, "parked": 0, "ignored": 0, "rejected": 0, **given}


def journal(ledger: OrderLedger) -> list[tuple[str, str | None]]:
    return [(m.outcome.value, m.reason) for m in ledger.audit.messages()]


# ---------------------------------------------------------------------- booked


@pytest.mark.parametrize(
    ("begin", "style"),
    [("FIX.4.4", "quickfixn"), ("FIX.4.4", "quickfixj"), ("FIX.4.2", "bare")],
)
def test_a_rejection_of_an_order_never_reported_as_new_books_the_order(
    book: OrderLedger, begin: str, style: str
) -> None:
    # Given a drop copy's two rejections of orders it never reported as New (the report,
    # and one refused before the venue numbered it),
    report = ingest(book, rejection_lines(style=style, begin=begin))
    # then each line opens its order and rejects it: nothing waits,
    assert report.counts == counts(applied=2)
    assert sorted(o.client_order_id for o in book.orders()) == list(REJECTED_ORDERS)
    post_only = book.order("D1-41-010")
    # the order is the report's: sell 0.01 BTC-USD at 64102.4, post-only (ExecInst 18 = 6), GTC
    # (TimeInForce 59 = 1), for ACC-7; rejected with Text 58, nothing filled.
    assert (
        post_only.status,
        post_only.account,
        post_only.instrument,
        post_only.side,
        post_only.quantity,
        post_only.price,
        post_only.post_only,
        post_only.time_in_force,
        post_only.filled_quantity,
        post_only.reason,
    ) == (
        Status.REJECTED,
        "ACC-7",
        "BTC-USD",
        Side.SELL,
        Decimal("0.01"),
        Decimal("64102.4"),
        True,
        "GTC",
        0,
        "post-only order would take liquidity",
    )
    # A rejection does not acknowledge the order: the OrderID it carries is not recorded.
    assert post_only.venue_order_ids == []
    unnumbered = book.order("D1-41-011")
    # buy 0.5 ETH-USD at 3000.5; no Text 58: the reason is OrdRejReason 103 as sent.
    assert (unnumbered.status, unnumbered.side, unnumbered.quantity, unnumbered.price, unnumbered.reason) == (
        Status.REJECTED,
        Side.BUY,
        Decimal("0.5"),
        Decimal("3000.5"),
        "3",
    )
    # A resend of both (PossDup after a reconnect) books nothing twice.
    again = ingest(book, rejection_lines(style=style, begin=begin))
    assert again.counts == counts(duplicate=2)


@pytest.mark.parametrize(
    ("ending", "status"),
    [
        ("150=4|39=4|59=3|58=IOC remainder canceled", Status.CANCELED),
        ("150=C|39=C|59=6|58=GTD order expired", Status.EXPIRED),
    ],
)
def test_a_cancel_or_expiry_of_an_order_first_seen_in_it_books_the_order(
    book: OrderLedger, ending: str, status: Status
) -> None:
    # Given the venue's cancel (or expiry) of an order no report named before, with no OrigClOrdID,
    venue = Session(sender="VENUEX", target="DROPCOPY")
    at = "20261120-10:31:00.000"
    line = venue.message(at, f"35=8|{ORDER}|17=EXO-20|14=0|151=0|6=0|{ending}|60={at}")
    report = ingest(book, [line])
    # then the order is booked, acknowledged as the OrderID the report names (a cancel or an
    # expiry is the venue's word on a numbered order), and ended with Text 58 as its reason.
    assert report.counts == counts(applied=1)
    order = book.order("D1-41-020")
    reason = ending.rsplit("58=", 1)[1]
    assert (order.status, order.quantity, order.price, order.filled_quantity, order.reason) == (
        status,
        Decimal("0.01"),
        Decimal("64102.4"),
        0,
        reason,
    )
    assert order.venue_order_ids == ["VX-800020"]
    assert order.created_at == datetime(2026, 11, 20, 10, 31, tzinfo=UTC)


def test_fills_of_an_order_first_seen_in_them_book_the_order_fix44(book: OrderLedger) -> None:
    # Given two trades (150=F) of an order the drop copy never reported as New: 0.004 at 64100,
    # then 0.006 at 64102,
    venue = Session(sender="VENUEX", target="DROPCOPY")
    first, second = "20261120-10:32:00.000", "20261120-10:32:01.000"
    lines = [
        venue.message(first, f"35=8|{ORDER}|17=T-1|150=F|39=1|32=0.004|31=64100|14=0.004|60={first}"),
        venue.message(second, f"35=8|{ORDER}|17=T-2|150=F|39=2|32=0.006|31=64102|14=0.01|60={second}"),
    ]
    report = ingest(book, lines)
    # then the first opens the order, and both are its fills: 0.004 + 0.006 = 0.01, all of it,
    # at (0.004 × 64100 + 0.006 × 64102) / 0.01 = (256.4 + 384.612) / 0.01 = 64101.2.
    assert report.counts == counts(applied=2)
    order = book.order("D1-41-020")
    assert (order.status, order.quantity, order.filled_quantity, order.average_price) == (
        Status.FILLED,
        Decimal("0.01"),
        Decimal("0.01"),
        Decimal("64101.2"),
    )
    assert order.venue_order_ids == ["VX-800020"]
    trades = [(t.trade_id, str(t.quantity), str(t.price)) for t in book.trades()]
    assert trades == [("T-1", "0.004", "64100"), ("T-2", "0.006", "64102")]


def test_fills_of_an_order_first_seen_in_them_book_the_order_fix42(book: OrderLedger) -> None:
    # Given FIX 4.2's spellings of trades (ExecTransType 20 = 0; ExecType 1 partial fill, 2 fill)
    # of a buy of 300 IBM at 140 never reported as New: 100 at 139.9, then 200 at 140.2,
    venue = Session(sender="VENUEX", target="DROPCOPY", begin="FIX.4.2", sep="|", style="quickfixn")
    order = "1=ACC-9|11=N-7|37=P-7|55=IBM|54=1|38=300|40=2|44=140|59=0"
    first, second = "20261120-15:00:01.000", "20261120-15:00:02.000"
    lines = [
        venue.message(first, f"35=8|{order}|17=A-2|20=0|150=1|39=1|32=100|31=139.9|14=100|60={first}"),
        venue.message(second, f"35=8|{order}|17=A-3|20=0|150=2|39=2|32=200|31=140.2|14=300|60={second}"),
    ]
    report = ingest(book, lines)
    # then the order is booked from the first and filled by both: 100 + 200 = 300 at
    # (100 × 139.9 + 200 × 140.2) / 300 = (13990 + 28040) / 300 = 42030 / 300 = 140.1.
    assert report.counts == counts(applied=2)
    booked = book.order("N-7")
    assert (booked.status, booked.account, booked.time_in_force, booked.filled_quantity) == (
        Status.FILLED,
        "ACC-9",
        "DAY",
        300,
    )
    assert booked.average_price == Decimal("140.1")


def test_reports_of_a_replaced_order_by_its_later_clordid_stay_on_the_one_order(book: OrderLedger) -> None:
    # Given a New of R-1 (10 SOL-USD at 150), its Replaced by R-2 (41 = R-1, 12 at 150), then a
    # trade of 5 and an expiry that name it by R-2 only (no OrigClOrdID: most venues do so),
    venue = Session(sender="VENUEX", target="DROPCOPY")
    terms = "1=ACC-7|37=V-7|55=SOL-USD|54=1|40=2|44=150"
    times = [f"20261120-11:00:0{n}.000" for n in range(4)]
    lines = [
        venue.message(times[0], f"35=8|11=R-1|{terms}|17=Y-1|150=0|39=0|38=10|60={times[0]}"),
        venue.message(times[1], f"35=8|11=R-2|41=R-1|{terms}|17=Y-2|150=5|39=5|38=12|60={times[1]}"),
        venue.message(times[2], f"35=8|11=R-2|{terms}|17=Y-3|150=F|39=1|38=12|32=5|31=150|60={times[2]}"),
        venue.message(times[3], f"35=8|11=R-2|{terms}|17=Y-4|150=C|39=C|38=12|60={times[3]}"),
    ]
    report = ingest(book, lines)
    # then R-2's reports state the order R-1 already goes by that ClOrdID: no second order, no
    # conflict; R-1 expired with 5 of its 12 filled.
    assert report.counts == counts(applied=4)
    assert [o.client_order_id for o in book.orders()] == ["R-1"]
    order = book.order("R-1")
    assert (order.status, order.quantity, order.filled_quantity) == (Status.EXPIRED, 12, 5)


# ---------------------------------------------------------------------- the request seen later


def new_order_single(quantity: str = "0.01") -> bytes:
    """The NewOrderSingle of D1-41-010 as the desk's own session logs it, before the rejection."""
    desk = Session(sender="DESK1", target="VENUEX", style="quickfixn")
    at = "20261120-10:29:59.500"
    return desk.message(
        at,
        f"35=D|1=ACC-7|11=D1-41-010|55=BTC-USD|54=2|38={quantity}|40=2|44=64102.4|59=1|18=6|60={at}",
    ).encode()


def test_the_request_read_after_the_rejection_is_the_same_order(book: OrderLedger) -> None:
    # Given the rejection booked (the order opened by it),
    assert ingest(book, rejection_lines()[:1]).counts == counts(applied=1)
    assert book.order("D1-41-010").status is Status.REJECTED
    # when the session that sent the order is read afterwards, its NewOrderSingle stating the same
    # order,
    report = ingest(book, [new_order_single()])
    # then it is that order stated again: no second order, nothing refused; it was created when
    # the request was sent, earlier than the rejection said.
    assert report.counts["rejected"] == 0 and report.counts["parked"] == 0
    assert [o.client_order_id for o in book.orders()] == ["D1-41-010"]
    order = book.order("D1-41-010")
    assert (order.status, order.quantity) == (Status.REJECTED, Decimal("0.01"))
    assert order.created_at == datetime(2026, 11, 20, 10, 29, 59, 500000, tzinfo=UTC)
    # A NewOrderSingle stating another quantity under that ClOrdID is a reuse, refused in one line.
    refused = ingest(book, [new_order_single("0.02")])
    assert refused.counts == counts(rejected=1)
    assert "different quantity" in (journal(book)[-1][1] or "")


def test_a_rejection_read_after_the_request_rejects_that_order(book: OrderLedger) -> None:
    # Given the NewOrderSingle first (the usual order of a drop copy),
    ingest(book, [new_order_single()])
    # when the rejection comes, stating the same order,
    report = ingest(book, rejection_lines()[:1])
    # then it rejects that order: its request is a duplicate, one order.
    assert report.counts == counts(applied=1)
    assert journal(book)[-1] == (
        "applied",
        "message 2 of 2 applied; message 1 of 2 duplicate: the order was already requested",
    )
    assert [(o.client_order_id, o.status) for o in book.orders()] == [("D1-41-010", Status.REJECTED)]


# ---------------------------------------------------------------------- still waiting


REJECTION = "1=ACC-7|11=D1-41-030|37=VX-800030|17=EXO-30|150=8|39=8|55=BTC-USD|54=2|38=0.01|40=2|44=64102.4"


def without(fields: str, tag: str) -> str:
    return "|".join(f for f in fields.split("|") if not f.startswith(f"{tag}="))


@pytest.mark.parametrize(
    ("fields", "missing"),
    [
        (without(REJECTION, "1"), "no Account 1 (and no --account)"),
        (without(REJECTION, "54"), "no Side 54"),
        (without(REJECTION, "55"), "no Symbol 55"),
        (without(REJECTION, "38"), "no OrderQty 38"),
        (REJECTION.replace("38=0.01", "38=0"), "OrderQty 38 not positive"),
        (without(REJECTION, "44"), "a limit order (40 = 2) without Price 44"),
        (without(REJECTION, "40"), "no OrdType 40 and no Price 44"),
    ],
)
def test_a_rejection_lacking_what_an_order_needs_still_waits_for_the_order(
    book: OrderLedger, fields: str, missing: str
) -> None:
    if missing.startswith("no OrdType"):
        fields = without(fields, "44")
    venue = Session(sender="VENUEX", target="DROPCOPY")
    at = "20261120-10:33:00.000"
    report = ingest(book, [venue.message(at, f"35=8|{fields}|60={at}|58=refused")])
    assert report.counts == counts(parked=1), missing
    assert journal(book) == [("parked", "no order known for client_order_id 'D1-41-030' yet")]
    assert book.orders() == []


def test_reports_that_cannot_name_the_orders_first_link_still_wait(book: OrderLedger) -> None:
    # Given a fill without an Account (and no --account), and a cancel answering a cancel request
    # (ClOrdID 11 = the request's, OrigClOrdID 41 = the order's previous: not the order's own),
    venue = Session(sender="VENUEX", target="DROPCOPY")
    at = "20261120-10:34:00.000"
    lines = [
        venue.message(at, f"35=8|{without(ORDER, '1')}|17=T-9|150=F|39=1|32=0.004|31=64100|60={at}"),
        venue.message(
            at, f"35=8|{ORDER.replace('11=D1-41-020', '11=C-2|41=C-1')}|17=T-10|150=4|39=4|60={at}"
        ),
    ]
    report = ingest(book, lines)
    # then both wait for their order, as before.
    assert report.counts == counts(parked=2)
    assert book.orders() == []


def test_a_fill_whose_line_names_its_clordid_a_later_link_opens_no_order(book: OrderLedger) -> None:
    # Given one line holding R-2's Replaced (41 = R-1) and its fill (11 = R-2, no 41), read before
    # R-1's New (a log read out of order),
    venue = Session(sender="VENUEX", target="DROPCOPY")
    terms = "1=ACC-7|37=V-7|55=SOL-USD|54=1|40=2|44=150"
    replaced = venue.text("20261120-11:00:01.000", f"35=8|11=R-2|41=R-1|{terms}|17=Y-2|150=5|39=5|38=12")
    traded = venue.text("20261120-11:00:02.000", f"35=8|11=R-2|{terms}|17=Y-3|150=F|39=2|38=12|32=12|31=150")
    first = ingest(book, [f"20261120-11:00:02.100: {replaced}{traded}"])
    # then the line itself shows R-2 is not the order's first ClOrdID: no order opens under it,
    # both facts wait,
    assert first.counts == counts(parked=1)
    assert book.orders() == []
    # and R-1's New opens the order they belong to: 12 of 12 filled at 150.
    new = venue.message("20261120-11:00:00.000", f"35=8|11=R-1|{terms}|17=Y-1|150=0|39=0|38=10")
    assert ingest(book, [new]).counts == counts(applied=1)
    order = book.order("R-1")
    assert [o.client_order_id for o in book.orders()] == ["R-1"]
    assert (order.status, order.quantity, order.filled_quantity) == (Status.FILLED, 12, 12)


def test_a_fill_under_a_later_clordid_read_first_opens_the_order_its_chain_then_joins(
    book: OrderLedger,
) -> None:
    # Given R-2's fill read first, on its own line (nothing names R-1 yet), then R-2's Replaced
    # (41 = R-1, 12 at 150), then R-1's New (10 at 150): a log read out of order,
    venue = Session(sender="VENUEX", target="DROPCOPY")
    terms = "1=ACC-7|37=V-7|55=SOL-USD|54=1|40=2|44=150"
    new = venue.message("20261120-11:00:00.000", f"35=8|11=R-1|{terms}|17=Y-1|150=0|39=0|38=10")
    replaced = venue.message("20261120-11:00:01.000", f"35=8|11=R-2|41=R-1|{terms}|17=Y-2|150=5|39=5|38=12")
    traded = venue.message(
        "20261120-11:00:02.000", f"35=8|11=R-2|{terms}|17=Y-3|150=F|39=2|38=12|32=12|31=150"
    )
    for line in (traded, replaced, new):
        assert ingest(book, [line]).counts == counts(applied=1)
    # then the fill opened the order under R-2, and the Replaced and the New are that order (it
    # goes by R-1 as an alias): one order, 12 of 12 filled, created when the New says; the New's
    # quantity (10, the order's before its replace) is the venue's report of it, not a refusal.
    assert [o.client_order_id for o in book.orders()] == ["R-2"]
    order = book.order("R-2")
    assert (order.status, order.quantity, order.filled_quantity) == (Status.FILLED, 12, 12)
    assert order.created_at == datetime(2026, 11, 20, 11, 0, tzinfo=UTC)
    assert order.aliases == {"fix_clordid:R-1": "R-1", "fix_clordid:R-2": "R-2"}


def test_a_new_resent_after_the_fills_it_missed_gives_the_books_of_the_log_in_order(
    book: OrderLedger,
) -> None:
    # Given a New, two fills and an unsolicited cancel of the rest, read in order on one ledger,
    # and on another with the New resent last (a gap fill: PossDupFlag 43 = Y, OrigSendingTime 122),
    venue = Session(sender="VENUEX", target="DROPCOPY")
    at = [f"20261120-10:40:0{n}.000" for n in range(4)]
    new = venue.message(at[0], f"35=8|{ORDER}|17=N-1|150=0|39=0|14=0|60={at[0]}")
    fills = [
        venue.message(at[1], f"35=8|{ORDER}|17=T-1|150=F|39=1|32=0.004|31=64100|14=0.004|60={at[1]}"),
        venue.message(at[2], f"35=8|{ORDER}|17=T-2|150=F|39=1|32=0.002|31=64102|14=0.006|60={at[2]}"),
    ]
    canceled = venue.message(at[3], f"35=8|{ORDER}|17=C-1|150=4|39=4|14=0.006|60={at[3]}")
    resent = Session(sender="VENUEX", target="DROPCOPY", seq=1).message(
        "20261120-10:40:05.000",
        f"35=8|43=Y|122={at[0]}|{ORDER}|17=N-1|150=0|39=0|14=0|60={at[0]}",
    )
    in_order = OrderLedger("memory://")
    try:
        assert in_order.ingest_lines([new, *fills, canceled], format="fix", venue=VENUE).counts == counts(
            applied=4
        )
        # then the fills and the cancel are booked before the New comes (the first fill opens
        # the order),
        assert ingest(book, [*fills, canceled]).counts == counts(applied=3)
        assert book.order("D1-41-020").status is Status.CANCELED
        # and the New read last only tells what the order was when it was new:
        report = ingest(book, [resent])
        assert report.counts["rejected"] == 0 and report.counts["parked"] == 0

        # and the order is the in-order run's: 0.006 of 0.01 filled at (0.004 × 64100 +
        # 0.002 × 64102) / 0.006 = (256.4 + 128.204) / 0.006 = 384.604 / 0.006 = 64100.666…,
        # canceled, created when the New says.
        def shown(ledger: OrderLedger) -> tuple[object, ...]:
            o = ledger.order("D1-41-020")
            return (o.status, o.filled_quantity, o.average_price, o.venue_order_ids, o.created_at)

        assert shown(book) == shown(in_order)
        assert shown(book)[:2] == (Status.CANCELED, Decimal("0.006"))
        assert shown(book)[4] == datetime(2026, 11, 20, 10, 40, tzinfo=UTC)
    finally:
        in_order.close()
