"""Execution quality, worked by hand on a small session, on every backend, from the store and from
the lake (DuckDB in both cases).

The session (venue times T0 + seconds; every price in USDT):

    A  buy 10 BTC-USDT limit 100 (decided at 100.08), strategy=mm: requested 0, accepted 0.5;
       a1 4 @ 100.10 maker fee 0.08008 at 2; a2 6 @ 100.20 taker fee 0.12024 at 5 (filled: done at 5)
    B  sell 5 BTC-USDT limit 100 (decided at 99.95), strategy=mm: requested 10, accepted 11;
       b1 2 @ 99.90 taker fee 0.03996 at 13; canceled at 20
    C  buy 1 BTC-USDT limit 100, strategy=arb: requested 30, rejected 31
    D  buy 2 ETH-USDT limit 50, strategy=arb: requested 40, accepted 40.25, amended to 3 at 41;
       d1 3 @ 49.95 maker fee -0.02997 (a rebate) at 42 (filled: done at 42)

Every fee is 2 bps of its fill's notional: 400.4 × 0.0002 = 0.08008, 601.2 × 0.0002 = 0.12024,
199.8 × 0.0002 = 0.03996, and the rebate 149.85 × 0.0002 = 0.02997.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from orderledger.domain.errors import InvalidInputError
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.http.app import create_app
from orderledger.infrastructure.http.service import LedgerService
from tests.support.http_api import LOOPBACK
from tests.support.integration import T0, fact, fill, request

SESSION: list[dict[str, Any]] = [
    request("A", seconds=0, quantity="10", price="100", tags={"strategy": "mm"}, decision_price="100.08"),
    fact("accepted", "A", seconds=0.5),
    fill("A", "a1", "4", "100.10", seconds=2, fee="0.08008", fee_currency="USDT", liquidity="maker"),
    fill("A", "a2", "6", "100.20", seconds=5, fee="0.12024", fee_currency="USDT", liquidity="taker"),
    request(
        "B",
        seconds=10,
        side="sell",
        quantity="5",
        price="100",
        tags={"strategy": "mm"},
        decision_price="99.95",
    ),
    fact("accepted", "B", seconds=11),
    fill("B", "b1", "2", "99.90", seconds=13, fee="0.03996", fee_currency="USDT", liquidity="taker"),
    fact("canceled", "B", seconds=20),
    request("C", seconds=30, quantity="1", price="100", tags={"strategy": "arb"}),
    fact("rejected", "C", seconds=31, reason="margin"),
    request("D", seconds=40, instrument="ETH-USDT", quantity="2", price="50", tags={"strategy": "arb"}),
    fact("accepted", "D", seconds=40.25),
    fact("amended", "D", seconds=41, quantity="3"),
    fill("D", "d1", "3", "49.95", seconds=42, fee="-0.02997", fee_currency="USDT", liquidity="maker"),
]


@pytest.fixture
def session(ledger: OrderLedger) -> OrderLedger:
    for message in SESSION:
        assert ledger.record(message).outcome == "applied", message
    return ledger


def _by_strategy(rows: list[Any]) -> dict[str | None, Any]:
    return {row.group["tag:strategy"]: row for row in rows}


def _check_by_strategy(rows: list[Any]) -> None:
    mm, arb = _by_strategy(rows)["mm"], _by_strategy(rows)["arb"]
    # mm: A and B. Quantity 10 + 5 = 15, filled 10 + 2 = 12: fill ratio 12 / 15 = 0.8.
    assert (mm.orders, mm.filled_orders, mm.quantity, mm.filled_quantity) == (2, 2, 15, 12)
    assert mm.fill_ratio == pytest.approx(0.8)
    # notional 4 × 100.10 + 6 × 100.20 + 2 × 99.90 = 400.4 + 601.2 + 199.8 = 1201.4
    assert mm.notional == Decimal("1201.4")
    # slippage vs limit, cost positive: A buy +(1001.6 − 100 × 10) = +1.6; B sell −(199.8 − 100 × 2)
    # = +0.2; over the limits' notional 1000 + 200: 1.8 / 1200 × 10,000 = 15 bps
    # (A alone: avg 100.16, (100.16 − 100) / 100 × 10,000 = 16; B alone: (100 − 99.9) / 100 × 10,000 = 10)
    assert mm.slippage_vs_limit_bps == pytest.approx(15.0)
    # fees 0.08008 + 0.12024 + 0.03996 = 0.24028 over 1201.4: 2 bps
    assert mm.fees == Decimal("0.24028")
    assert mm.fee_bps == pytest.approx(2.0)
    # maker 4 of 12 filled
    assert mm.maker_share == pytest.approx(4 / 12)
    # B canceled: 1 of 2 orders; no reject, no replace
    assert (mm.rejects, mm.cancels, mm.replaces) == (0, 1, 0)
    assert (mm.reject_rate, mm.cancel_rate, mm.replace_rate) == (0.0, 0.5, 0.0)
    # ack: A 0.5 s, B 11 − 10 = 1 s → mean 0.75; first fill: A 2 s, B 3 s → 2.5;
    # completion: A at its last fill 5 s, B at its cancel 10 s → 7.5
    assert mm.ack_seconds_mean == pytest.approx(0.75)
    assert mm.ack_seconds_median == pytest.approx(0.75)
    assert mm.first_fill_seconds_mean == pytest.approx(2.5)
    assert mm.completion_seconds_mean == pytest.approx(7.5)

    # arb: C (rejected) and D (amended to 3, then filled 3). Quantity 1 + 3 = 4, filled 3: 0.75.
    assert (arb.orders, arb.filled_orders, arb.quantity, arb.filled_quantity) == (2, 1, 4, 3)
    assert arb.fill_ratio == pytest.approx(0.75)
    # D bought 3 at 49.95 under a limit of 50: (149.85 − 150) / 150 × 10,000 = −10 bps (a gain)
    assert arb.notional == Decimal("149.85")
    assert arb.slippage_vs_limit_bps == pytest.approx(-10.0)
    # the rebate −0.02997 over 149.85: −2 bps; all of D's fill was maker
    assert arb.fee_bps == pytest.approx(-2.0)
    assert arb.maker_share == pytest.approx(1.0)
    assert (arb.rejects, arb.cancels, arb.replaces) == (1, 0, 1)
    assert (arb.reject_rate, arb.cancel_rate, arb.replace_rate) == (0.5, 0.0, 0.5)
    # ack: D only, 0.25 s (C was rejected, never acknowledged); first fill: D 42 − 40 = 2 s;
    # completion: C at its reject 1 s, D at its fill 2 s → mean 1.5
    assert arb.ack_seconds_mean == pytest.approx(0.25)
    assert arb.first_fill_seconds_mean == pytest.approx(2.0)
    assert arb.completion_seconds_median == pytest.approx(1.5)
    # against the decision price: A buy +(1001.6 − 100.08 × 10) = +0.8; B sell −(199.8 − 99.95 × 2)
    # = +0.1; over 1000.8 + 199.9 = 1200.7: 0.9 / 1200.7 × 10,000 = 7.4956… bps
    # (A alone: (100.16 − 100.08) / 100.08 × 10,000 = 7.99; B alone: (99.95 − 99.9) / 99.95 × 10,000 = 5.00)
    assert mm.slippage_vs_decision_bps == pytest.approx(0.9 / 1200.7 * 10_000)
    # arb's orders were requested without one: no figure
    assert arb.slippage_vs_decision_bps is None


def test_execution_quality_by_strategy_from_the_store(session: OrderLedger) -> None:
    _check_by_strategy(session.analytics.execution_quality(by="tag:strategy"))


def test_the_lake_answers_as_the_store_does(session: OrderLedger, tmp_path: Path) -> None:
    session.analytics.export_lake(tmp_path / "lake")
    from_lake = session.analytics.execution_quality(by=["tag:strategy"], lake=tmp_path / "lake")
    _check_by_strategy(from_lake)
    assert from_lake == session.analytics.execution_quality(by="tag:strategy")


def test_groupings_and_the_time_window(session: OrderLedger) -> None:
    # by instrument and venue: BTC-USDT holds A, B, C; ETH-USDT holds D
    rows = session.analytics.execution_quality(by="instrument,venue")
    assert [(r.group, r.orders) for r in rows] == [
        ({"instrument": "BTC-USDT", "venue": "V"}, 3),
        ({"instrument": "ETH-USDT", "venue": "V"}, 1),
    ]
    # the orders requested in [T0 + 10 s, T0 + 40 s): B and C only
    [window] = session.analytics.execution_quality(
        since=T0 + timedelta(seconds=10), until=T0 + timedelta(seconds=40)
    )
    assert (window.group, window.orders, window.rejects, window.cancels) == ({}, 2, 1, 1)
    # by hour: all four were requested in T0's hour
    [hour] = session.analytics.execution_quality(by="hour")
    assert (hour.group, hour.orders) == ({"hour": "2026-11-20T10:00Z"}, 4)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"by": "strategy"}, "`by` must be among venue, instrument, account, tag:NAME, parent, hour, day"),
        ({"by": "venue,venue"}, "`by` names a grouping twice"),
        ({"since": T0.replace(tzinfo=None)}, "since has no UTC offset"),
        ({"since": T0, "until": T0}, "`since` must be before `until`"),
    ],
)
def test_bad_arguments_are_one_line_errors(
    session: OrderLedger, arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        session.analytics.execution_quality(**arguments)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_http_answers_what_python_does(session: OrderLedger) -> None:
    with TestClient(
        create_app(LedgerService(session)), base_url=LOOPBACK, raise_server_exceptions=False
    ) as client:
        answer = client.get("/analytics/execution", params={"by": "tag:strategy"})
        assert answer.status_code == 200, answer.text
        assert answer.json() == [
            row.to_json() for row in session.analytics.execution_quality(by="tag:strategy")
        ]
        mm = {row["group"]["tag:strategy"]: row for row in answer.json()}["mm"]
        # as worked above: 1.8 / 1200 × 10,000 = 15 bps; fees 0.24028 exact
        assert (mm["slippage_vs_limit_bps"], mm["fees"]) == (pytest.approx(15.0), "0.24028")
        bad = client.get("/analytics/execution", params={"by": "desk"})
        assert bad.status_code == 400 and "by must be among venue" in bad.text, bad.text
