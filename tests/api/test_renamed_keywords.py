"""A keyword renamed to the glossary's name keeps working for a deprecation period.

``order``, ``history`` and ``resolve`` take the order reference as ``order`` (as the HTTP API and
the CLI name it), ``instruments`` every definition's version with ``all_versions``; the older
``key`` and ``every_version`` answer the same and warn at the caller's line, naming the
replacement and the release that removes them (docs/glossary.md, "Deprecated aliases").
"""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from orderledger import AsyncOrderLedger, OrderLedger
from orderledger.domain.order import Order
from orderledger.domain.order_state import STATE
from tests.support.api_session import SESSION


@pytest.fixture
def ledger() -> OrderLedger:
    opened = OrderLedger("memory://")
    for message in SESSION:
        opened.record(message)
    # an instrument defined twice: two versions, the second in force
    opened.venues.define_instrument("V", "BTC-USDT", ts="2026-01-05T09:00:00Z", contract_size=Decimal(1))
    opened.venues.define_instrument("V", "BTC-USDT", ts="2026-01-05T09:01:00Z", contract_size=Decimal(2))
    return opened


def _warned(call: Callable[[], Any]) -> tuple[Any, list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = call()
    return value, caught


def _state(order: Order) -> dict[str, Any]:
    return {name: getattr(order, name) for name in STATE}


def test_the_older_keyword_answers_as_the_new_one_and_warns_at_the_callers_line(ledger: OrderLedger) -> None:
    # Given the session's order A (4 filled)
    # When it is asked for by the older keyword
    order, caught = _warned(lambda: ledger.order(key="A"))  # type: ignore[call-arg]
    # Then the answer is the new keyword's, and one DeprecationWarning names the replacement
    assert _state(order) == _state(ledger.order(order="A")) and order.filled_quantity == 4
    assert [w.category for w in caught] == [DeprecationWarning]
    assert caught[0].filename == __file__
    assert str(caught[0].message) == (
        "order(key=...) is deprecated since 0.3.0 and removed in 1.0.0: use order(order=...)"
    )
    history, caught = _warned(lambda: ledger.history(key="A"))  # type: ignore[call-arg]
    assert len(history) == len(ledger.history("A")) == 2 and len(caught) == 1
    resolved, caught = _warned(lambda: ledger.resolve(key="A"))  # type: ignore[call-arg]
    assert resolved == "A" and "use resolve(order=...)" in str(caught[0].message)
    ledger.close()


def test_every_version_is_all_versions(ledger: OrderLedger) -> None:
    # Given an instrument defined twice
    # When every version is asked for by the older keyword
    page, caught = _warned(lambda: ledger.venues.instruments(every_version=True))  # type: ignore[call-arg]
    # Then both versions come back, as with all_versions, with a warning
    assert (
        [r.version for r in page]
        == [r.version for r in ledger.venues.instruments(all_versions=True)]
        == [1, 2]
    )
    assert [r.version for r in ledger.venues.instruments()] == [2]
    assert "use instruments(all_versions=...)" in str(caught[0].message)
    ledger.close()


def test_both_spellings_at_once_are_refused(ledger: OrderLedger) -> None:
    # When a call gives the older and the newer keyword
    # Then it is refused, naming both, and nothing is read
    with pytest.raises(TypeError, match=r"order\(\) takes order= or its older name key=, not both"):
        ledger.order(order="A", key="A")  # type: ignore[call-arg]
    ledger.close()


def test_the_async_ledger_takes_the_older_keyword_too(ledger: OrderLedger) -> None:
    async def main() -> None:
        async with AsyncOrderLedger(ledger=ledger) as aio:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                order = await aio.order(key="A")  # type: ignore[call-arg]
            assert _state(order) == _state(await aio.order(order="A"))

    asyncio.run(main())
    ledger.close()


CCXT_ORDER = {
    "id": "V-1",
    "clientOrderId": "x-1",
    "timestamp": 1767603600000,
    "symbol": "BTC/USDT",
    "type": "limit",
    "side": "buy",
    "price": 100,
    "amount": 2,
    "filled": 0,
    "status": "open",
}


def test_fmt_is_format_in_ingest_lines_and_export(tmp_path: Any) -> None:
    # Given two fresh ledgers and one CCXT order
    line = json.dumps(CCXT_ORDER)
    with OrderLedger("memory://") as new, OrderLedger("memory://") as old:
        # When one ingests it with format= (as --format and ?format= name it), the other with fmt=
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # format= warns of nothing
            report = new.ingest_lines([line], format="ccxt", venue="bin", account="a")
        older, caught = _warned(
            lambda: old.ingest_lines([line], fmt="ccxt", venue="bin", account="a")  # type: ignore[call-arg]
        )
        # Then both read it as CCXT: one order, applied; the older keyword warned at this line
        assert report.counts["applied"] == older.counts["applied"] == 1
        assert (
            [o.client_order_id for o in new.orders()] == [o.client_order_id for o in old.orders()] == ["x-1"]
        )
        assert [w.category for w in caught] == [DeprecationWarning] and caught[0].filename == __file__
        assert "use ingest_lines(format=...)" in str(caught[0].message)
        # And export takes format= (fmt= warns), writing the one order row either way
        assert new.analytics.export("orders", tmp_path / "a.csv", format="csv") == 1
        written, caught = _warned(lambda: new.analytics.export("orders", tmp_path / "b.csv", fmt="csv"))  # type: ignore[call-arg]
        assert written == 1 and "use export(format=...)" in str(caught[0].message)
        # And a format that is not one is refused naming `format`
        with pytest.raises(Exception, match=r"^`format` must be csv, jsonl or parquet, not 'xlsx'$"):
            new.analytics.export("orders", tmp_path / "c.x", format="xlsx")
