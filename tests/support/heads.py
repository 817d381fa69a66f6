"""The lot heads' tests (``application.lot_heads``): the sessions their property tests draw, and
a read that should take its figures from the heads alone (which fill events it reads from the
log, and that it neither folds the log's fills nor reads the P&L entries)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from orderledger.infrastructure.application import lot_heads as lot_heads_application
from orderledger.infrastructure.application import reads
from tests.support.integration import fact, fill, request, ts

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
    every = lot_heads_application._events

    def counted(*args: Any, **kwargs: Any) -> Iterator[Any]:
        for position, event in every(*args, **kwargs):
            read_events.append(position)
            yield position, event

    def no_fold(*args: Any) -> Any:
        raise AssertionError("the log's fills or the P&L entries were read")

    patch.setattr(lot_heads_application, "_events", counted)
    patch.setattr(reads, "rule_books", no_fold)
    patch.setattr(reads, "pnl_rows", no_fold)
    return read_events
