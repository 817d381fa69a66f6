"""The lot heads' tests (``application.reads.lots_at_head``): the books, orders and sessions their tests
draw or feed, and a read that should take its figures from the heads alone (which fill events it
reads from the log, and that it neither folds the log's fills nor reads the P&L entries)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from hypothesis import strategies as st

from orderledger.infrastructure.application.reads import lots_at_head, order_figures
from tests.support.integration import fact, fill, lines, request, ts

BOOKS = (("a", "ETH-USDT"), ("a", "ETH-USDT-SWAP"), ("b", "ETH-USDT"))
DEFINITION = {
    "type": "instrument",
    "venue": "V",
    "instrument": "ETH-USDT-SWAP",
    "kind": "swap",
    "contract_size": "0.01",
    "settle_currency": "USDT",
    "base_currency": "ETH",
    "quote_currency": "USDT",
}
"""The books the property tests draw orders in (account, instrument; venue "V"), and a definition
of the swap's contract size."""

DAY = 86_400
Drawn = tuple[int, str, int, int, int, str | None, int, str | None, str | None, bool]
"""An order as the property tests draw it: its book (an index into the test's books), side,
quantity, price, venue time in seconds, fee currency, UTC day, parent, tag "strategy", and
whether its parent is stated only by a second request."""


def drawn_session(
    books: Sequence[tuple[str, str]],
    orders: Sequence[Drawn],
    changes: Sequence[tuple[int, str, int]],
    flows: Sequence[tuple[str, int, int, str | None]],
) -> list[dict[str, Any]]:
    """The messages of a drawn session: each order's request (and, for a parent learned late, a
    second request stating it) and its fill; the busts and corrections of ``changes`` (the
    order's index, "bust" or "correct", the corrected quantity at most); the funding payments of
    ``flows`` (account, day, amount, tag "strategy")."""
    messages: list[dict[str, Any]] = []
    for n, (book, side, qty, px, second, fee_currency, day, parent, tag, later) in enumerate(orders):
        account, instrument = books[book]
        second += day * DAY
        stated: dict[str, Any] = dict(
            account=account, instrument=instrument, side=side, quantity=str(qty), seconds=second
        )
        tags: dict[str, Any] = {} if tag is None else {"tags": {"strategy": tag}}
        if parent is not None and later:
            # (the fill's tags are the order's when it was filled: "late" only after this)
            messages.append(request(f"o{n}", **stated, parent_id=parent, tags={"strategy": "late"}))
        elif parent is not None:
            tags["parent_id"] = parent
        messages.append(request(f"o{n}", **stated, **tags))
        fees = {} if fee_currency is None else {"fee": "0.5", "fee_currency": fee_currency}
        # (+ n: no two orders at one price, so that every match realizes something of its own)
        messages.append(fill(f"o{n}", f"t{n}", str(qty), str(px + n), seconds=second + 0.5, **fees))
    for n, kind, qty in changes:
        if n < len(orders):
            _, _, ordered, px, second, _, day, *_ = orders[n]
            at = second + day * DAY + 9
            if kind == "bust":
                messages.append(fact("fill_busted", f"o{n}", seconds=at, trade_id=f"t{n}"))
            else:
                changed = str(min(qty, ordered))
                messages.append(
                    fact(
                        "fill_corrected",
                        f"o{n}",
                        seconds=at,
                        trade_id=f"t{n}",
                        quantity=changed,
                        price=str(px + 1),
                    )
                )
    for n, (account, day, amount, tag) in enumerate(flows):
        messages.append(
            {"type": "cash_flow", "kind": "funding", "flow_id": f"f{n}", "account": account, "venue": "V",
             "instrument": "ETH-USDT", "currency": "USDT", "amount": str(amount), "ts": ts(day * DAY + 2),
             **({} if tag is None else {"tags": {"strategy": tag}})}
        )  # fmt: skip
    return messages


def watched(patch: pytest.MonkeyPatch) -> list[int]:
    """The log positions of the fill events the heads read from now on (filled as they are
    read); a fold of the log's fills or a read of the P&L entries fails the test."""
    read_events: list[int] = []
    every = lots_at_head._events

    def counted(*args: Any, **kwargs: Any) -> Iterator[Any]:
        for position, event in every(*args, **kwargs):
            read_events.append(position)
            yield position, event

    def no_fold(*args: Any) -> Any:
        raise AssertionError("the log's fills or the P&L entries were read")

    patch.setattr(lots_at_head, "_events", counted)
    patch.setattr(order_figures, "rule_books", no_fold)
    patch.setattr(order_figures, "pnl_rows", no_fold)
    return read_events


order = st.tuples(
    st.sampled_from([0, 0, 0, 1, 2]),  # the book: mostly one, so that its fills meet
    st.sampled_from(["buy", "sell"]),
    st.sampled_from([1, 1, 2, 3]),  # quantity: small, so that books are often flat
    st.integers(95, 105),  # price
    st.integers(0, 4),  # venue time, seconds: ties are frequent
    st.sampled_from([None, "USDT", "BNB"]),  # the fee's currency (BNB: valued when read)
    st.sampled_from([0, 0, 1, 2]),  # the UTC day of venue time: the daily P&L's rows
    st.sampled_from([None, "P1", "P2"]),  # the order's parent
    st.sampled_from([None, "mm", "arb"]),  # its tag "strategy"
    st.booleans(),  # its parent (and a tag) stated only by a second request: learned in any order
)
marks = st.lists(
    st.tuples(
        st.sampled_from(["ETH-USDT", "ETH-USDT-SWAP", "BNB-USDT"]), st.integers(0, 2), st.integers(90, 110)
    ),
    max_size=3,
)
funding = st.lists(  # (account, day, amount, its tag "strategy")
    st.tuples(
        st.sampled_from(["a", "b"]), st.integers(0, 1), st.integers(-3, 3), st.sampled_from([None, "mm"])
    ),
    max_size=2,
)
orders = st.lists(order, min_size=1, max_size=12)
changes = st.lists(  # (an order's index, "bust" or "correct", the corrected quantity at most)
    st.tuples(st.integers(0, 8), st.sampled_from(["bust", "correct"]), st.integers(1, 6)), max_size=3
)
"""What the property tests draw: an order (``Drawn``), the marks recorded (instrument, day,
price), the funding paid (account, day, amount, tag "strategy"); a session's orders and the busts
and corrections of their fills."""


SESSION = lines(
    request("b1", instrument="ETH-USDT", quantity="2", seconds=0),
    fill("b1", "t1", "2", "100", seconds=1),
    request("b2", instrument="ETH-USDT", quantity="1", seconds=2),
    fill("b2", "t2", "1", "120", seconds=3),
    request("s1", instrument="ETH-USDT", side="sell", quantity="2", seconds=10),
    fill("s1", "t3", "2", "130", seconds=11),
)
LATE = lines(
    # A buy filled before the sell in venue time (it changes which lots the sell closed), and a
    # bust of the first buy's fill.
    request("b3", instrument="ETH-USDT", quantity="1", seconds=4),
    fill("b3", "t4", "1", "90", seconds=5),
    fact("fill_busted", "b1", seconds=12, trade_id="t1"),
)
ROUND = lines(
    request("b4", instrument="ETH-USDT", quantity="1", seconds=20),
    fill("b4", "t5", "1", "140", seconds=21),
    request("s2", instrument="ETH-USDT", side="sell", quantity="1", seconds=21.8),
    fill("s2", "t6", "1", "150", seconds=22),
)
BETWEEN = lines(
    request("b5", instrument="ETH-USDT", quantity="1", seconds=21.2),
    fill("b5", "t7", "1", "80", seconds=21.5),
)
"""A session of one book, and lines after it that change its matches: a fill earlier in venue
time than the sell, and a bust of the first buy's fill; then a round after them (a buy of 1 @
140, sold @ 150), and a buy between its two fills in venue time (FIFO still closes the round's
buy)."""
