"""Orders as the venues define them: conditional types with their triggers, reduce-only,
icebergs, good-till-date and linked orders (OCO, OTO, bracket), on every backend.

Each case is worked by hand: the messages a venue sends, then what the order shows."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from orderledger.domain.order_terms import TERMS
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.http.app import create_app
from orderledger.infrastructure.http.service import LedgerService
from tests.support.cli import cli_json, run_cli
from tests.support.http_api import LOOPBACK
from tests.support.risk_desk import NOW, at, filled
from tests.support.risk_desk import spec as risk_spec

BASE: dict[str, Any] = {
    "account": "alpha",
    "venue": "binance",
    "instrument": "BTC-USDT",
    "quantity": "2",
}


def _request(cid: str, ts: str, **fields: Any) -> dict[str, Any]:
    return {"type": "request", "client_order_id": cid, "ts": ts, **BASE, **fields}


def _fact(kind: str, cid: str, ts: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "client_order_id": cid, "ts": ts, **fields}


def _record(ledger: OrderLedger, *messages: dict[str, Any]) -> None:
    for message in messages:
        ledger.record(message, strict=True)


def _order(ledger: OrderLedger, cid: str) -> Any:
    return next(row for row in ledger.orders(limit=None) if row.client_order_id == cid)


def test_a_stop_loss_is_placed_triggered_and_filled(make_ledger: Callable[..., OrderLedger]) -> None:
    ledger = make_ledger()
    # A sell stop-market for 2 at trigger 60000, reduce-only, watching the mark price
    _record(
        ledger,
        _request(
            "sl-1",
            "2026-11-20T10:00:00Z",
            side="sell",
            order_type="stop_market",
            trigger_price="60000",
            trigger_reference="mark",
            reduce_only=True,
        ),
        _fact("accepted", "sl-1", "2026-11-20T10:00:01Z", venue_order_id="v-1"),
    )
    waiting = _order(ledger, "sl-1")
    assert (waiting.status, waiting.triggered_at) == ("accepted", None)
    # The mark falls through 60000: the venue fires the stop at 59990, then fills it in two
    _record(ledger, _fact("triggered", "sl-1", "2026-11-20T11:00:00Z", trigger_price="59990"))
    triggered = _order(ledger, "sl-1")
    assert triggered.status == "accepted"  # still working, as a market order now
    assert triggered.triggered_at is not None
    _record(
        ledger,
        _fact("fill", "sl-1", "2026-11-20T11:00:01Z", trade_id="t-1", quantity="1.5", price="59980"),
        _fact("fill", "sl-1", "2026-11-20T11:00:02Z", trade_id="t-2", quantity="0.5", price="59960"),
    )
    done = _order(ledger, "sl-1")
    # 1.5 + 0.5 = 2 filled; average (1.5 × 59980 + 0.5 × 59960) / 2 = (89970 + 29980) / 2 = 59975
    assert (done.status, done.filled_quantity, done.average_price) == ("filled", Decimal(2), Decimal(59975))
    assert (done.order_type, done.trigger_price, done.trigger_reference, done.reduce_only) == (
        "stop_market",
        Decimal(60000),
        "mark",
        True,
    )
    # A second report of the trigger is a duplicate; a limit order has no trigger to fire
    assert ledger.record(_fact("triggered", "sl-1", "2026-11-20T11:00:00Z")).outcome == "duplicate"
    _record(ledger, _request("lim-1", "2026-11-20T12:00:00Z", side="buy", order_type="limit", price="1"))
    refused = ledger.record(_fact("triggered", "lim-1", "2026-11-20T12:00:01Z"))
    assert refused.outcome == "rejected" and "has no trigger" in str(refused.error)


def test_an_oco_whose_take_profit_fills_cancels_its_stop(make_ledger: Callable[..., OrderLedger]) -> None:
    ledger = make_ledger()
    # A long of 2 protected by a take-profit limit at 70000 and a stop-limit at 58000 / 57900
    leg = {"side": "sell", "group_id": "G-1", "contingency": "oco", "reduce_only": True}
    _record(
        ledger,
        _request(
            "tp-1",
            "2026-11-20T10:00:00Z",
            order_type="take_profit_limit",
            price="70000",
            trigger_price="69900",
            linked_ids=["sl-1"],
            **leg,
        ),
        _request(
            "sl-1",
            "2026-11-20T10:00:00Z",
            order_type="stop_limit",
            price="57900",
            trigger_price="58000",
            linked_ids=["tp-1"],
            **leg,
        ),
        _request("other", "2026-11-20T10:00:00Z", side="buy", order_type="market"),
        _fact("triggered", "tp-1", "2026-11-20T12:00:00Z"),
        _fact("fill", "tp-1", "2026-11-20T12:00:01Z", trade_id="t-9", quantity="2", price="70000"),
        _fact("canceled", "sl-1", "2026-11-20T12:00:01Z", canceled_by="tp-1", reason="oco"),
    )
    tp, sl = _order(ledger, "tp-1"), _order(ledger, "sl-1")
    assert (tp.status, tp.canceled_by) == ("filled", None)
    assert (sl.status, sl.canceled_by, sl.linked_ids) == ("canceled", "tp-1", ["tp-1"])
    # The group is queryable: its two legs, not the unlinked order
    assert sorted(row.client_order_id for row in ledger.orders(group="G-1")) == ["sl-1", "tp-1"]
    # The cancel event records its cause
    canceled = [e for e in ledger.events(order="sl-1") if e.type == "OrderCanceled"]
    assert [e.payload["canceled_by"] for e in canceled] == ["tp-1"]
    # The views equal the log folded again (the new columns and facts included)
    report = ledger.audit.verify()
    assert (report.broken, report.view_problems) == (None, [])


def test_an_iceberg_fills_in_slices(make_ledger: Callable[..., OrderLedger]) -> None:
    ledger = make_ledger()
    # 2 at 65000 showing 0.5 at a time: four slices of 0.5
    _record(
        ledger,
        _request(
            "ice-1",
            "2026-11-20T10:00:00Z",
            side="buy",
            order_type="limit",
            price="65000",
            display_quantity="0.5",
        ),
    )
    for n in range(1, 4):
        _record(
            ledger,
            _fact(
                "fill", "ice-1", f"2026-11-20T10:0{n}:00Z", trade_id=f"s-{n}", quantity="0.5", price="65000"
            ),
        )
    working = _order(ledger, "ice-1")
    # 3 × 0.5 = 1.5 filled, 2 - 1.5 = 0.5 leaves; the visible part is still 0.5
    assert (working.status, working.filled_quantity, working.leaves_quantity) == (
        "partially_filled",
        Decimal("1.5"),
        Decimal("0.5"),
    )
    assert working.display_quantity == Decimal("0.5")
    _record(
        ledger, _fact("fill", "ice-1", "2026-11-20T10:04:00Z", trade_id="s-4", quantity="0.5", price="65000")
    )
    assert _order(ledger, "ice-1").status == "filled"
    # A visible part above the quantity is refused, and nothing is stored
    refused = ledger.record(
        _request(
            "ice-2", "2026-11-20T11:00:00Z", side="buy", order_type="limit", price="1", display_quantity="3"
        )
    )
    assert refused.outcome == "rejected" and "display_quantity" in str(refused.error)
    assert [row.client_order_id for row in ledger.orders(limit=None)] == ["ice-1"]


def test_a_good_till_date_order_expires(make_ledger: Callable[..., OrderLedger]) -> None:
    ledger = make_ledger()
    _record(
        ledger,
        _request(
            "gtd-1",
            "2026-11-20T10:00:00Z",
            side="buy",
            order_type="limit",
            price="60000",
            time_in_force="GTD",
            expire_at="2026-11-21T00:00:00+00:00",
        ),
        _fact("accepted", "gtd-1", "2026-11-20T10:00:01Z"),
        _fact("fill", "gtd-1", "2026-11-20T12:00:00Z", trade_id="t-1", quantity="0.5", price="60000"),
        _fact("expired", "gtd-1", "2026-11-21T00:00:00Z", reason="GTD"),
    )
    row = _order(ledger, "gtd-1")
    # 0.5 of 2 filled, then the rest expired: leaves 0
    assert (row.status, row.filled_quantity, row.leaves_quantity) == ("expired", Decimal("0.5"), 0)
    assert row.expire_at == datetime(2026, 11, 21, tzinfo=UTC)


def test_the_new_terms_need_what_their_type_needs(make_ledger: Callable[..., OrderLedger]) -> None:
    ledger = make_ledger()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"order_type": "stop_market"}, "trigger_price is required"),
        ({"order_type": "stop_limit", "trigger_price": "5"}, "price is required"),
        ({"order_type": "take_profit_limit", "price": "5"}, "trigger_price is required"),
        ({"order_type": "trailing_stop"}, "trailing_offset is required"),
        ({"order_type": "market", "trigger_reference": "bid"}, "trigger_reference must be one of"),
        ({"order_type": "market", "linked_ids": []}, "linked_ids must be a non-empty list"),
    ]
    for n, (fields, words) in enumerate(cases):
        result = ledger.record(_request(f"bad-{n}", "2026-11-20T10:00:00Z", side="buy", **fields))
        assert result.outcome == "rejected" and words in str(result.error), (fields, result.error)
    assert list(ledger.orders(limit=None)) == []


FULL = _request(
    "t-1",
    "2026-11-20T10:00:00Z",
    side="sell",
    order_type="trailing_stop",
    trailing_offset="1.5",
    trailing_offset_type="percent",
    trigger_price="66000",
    trigger_reference="last",
    reduce_only=True,
    display_quantity="1",
    expire_at="2026-11-21T00:00:00Z",
    group_id="G-7",
    contingency="bracket",
    linked_ids=["t-2"],
    contingent_on="entry-1",
)
SHOWN_FULL = {
    "order_type": "trailing_stop",
    "trailing_offset": "1.5",
    "trailing_offset_type": "percent",
    "trigger_price": "66000",
    "trigger_reference": "last",
    "reduce_only": True,
    "display_quantity": "1",
    "expire_at": "2026-11-21T00:00:00.000000Z",
    "group_id": "G-7",
    "contingency": "bracket",
    "linked_ids": ["t-2"],
    "contingent_on": "entry-1",
}


def _terms_shown(row: dict[str, Any]) -> dict[str, Any]:
    """An order's JSON: its type, and its terms (one object, each stated term by name)."""
    return {"order_type": row["order_type"], **(row["terms"] or {})}


@pytest.mark.parametrize("door", ["messages", "orders"])
def test_every_new_term_is_kept_through_the_http_doors(ledger_url: str, door: str) -> None:
    with OrderLedger(ledger_url) as ledger:
        with TestClient(create_app(LedgerService(ledger)), base_url=LOOPBACK) as client:
            body = FULL if door == "messages" else {k: v for k, v in FULL.items() if k != "type"}
            posted = client.post(f"/{door}", json=[body] if door == "messages" else body)
            assert posted.status_code < 300, posted.text
            shown = client.get("/orders", params={"group": "G-7"}).json()
            assert [row["client_order_id"] for row in shown] == ["t-1"]
            assert _terms_shown(shown[0]) == SHOWN_FULL
            assert client.get("/orders", params={"group": "G-8"}).json() == []
        # The Python row and the view's row alike
        row = _order(ledger, "t-1")
        assert _terms_shown(row.to_json()) == SHOWN_FULL
        assert set(SHOWN_FULL) - {"order_type"} <= set(TERMS)


def test_every_new_term_is_kept_through_ingest_and_the_command_line(
    file_ledger_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "session.jsonl"
    other = {**FULL, "client_order_id": "t-3", "group_id": "G-8"}
    path.write_text(json.dumps(FULL) + "\n" + json.dumps(other) + "\n", encoding="utf-8")
    run = run_cli("ingest", str(path), db=file_ledger_url, cwd=tmp_path)
    assert run.returncode == 0, run.describe()
    rows = cli_json("orders", "--group", "G-7", db=file_ledger_url, cwd=tmp_path)
    assert [row["client_order_id"] for row in rows] == ["t-1"]
    assert _terms_shown(rows[0]) == SHOWN_FULL


def test_the_risk_door_never_counts_a_reduce_only_order_as_growing(
    make_ledger: Callable[..., OrderLedger],
) -> None:
    desk = make_ledger(clock=lambda: NOW)
    # Long 1 at 100, a position limit of 1, and the account reduce-only
    filled(desk, "b1", "buy", "1", "100", "09:00")
    desk.risk_controls.set_limit("account", "main", "max_position", "1", set_by="alice", ts=at("10:00"))
    desk.risk_controls.set_trading_state(
        "reduce_only", account="main", set_by="alice", reason="review", ts=at("10:00")
    )
    # A sale of 3 would make the long 1 a short 1 − 3 = −2: past the limit and no reduction
    assert not desk.check(risk_spec("sell", "3")).allowed
    # Flagged reduce-only, the venue stops it at flat: allowed by both
    assert desk.check(risk_spec("sell", "3", reduce_only=True)).allowed
    # A reduce-only buy on a long cannot grow it either (the venue refuses or cancels it)
    assert desk.check(risk_spec("buy", "3", reduce_only=True)).allowed


def test_every_new_term_is_kept_through_placing(make_ledger: Callable[..., OrderLedger]) -> None:
    ledger = make_ledger()
    order = {k: v for k, v in FULL.items() if k not in ("type", "ts")}
    with ledger.placing(order) as placement:
        placement.accepted("v-9")
    row = _order(ledger, "t-1")
    assert _terms_shown(row.to_json()) == SHOWN_FULL
    # The same request again with another trigger price is no silent duplicate: refused
    again = ledger.record({**FULL, "trigger_price": "66500"})
    assert again.outcome == "rejected" and "trigger_price" in str(again.error)


def test_a_trigger_reported_after_the_fill_it_caused_is_kept_at_its_venue_time(
    make_ledger: Callable[..., OrderLedger],
) -> None:
    ledger = make_ledger()
    _record(
        ledger,
        _request(
            "sl-2", "2026-11-20T10:00:00Z", side="sell", order_type="stop_market", trigger_price="60000"
        ),
        _fact("fill", "sl-2", "2026-11-20T11:00:01Z", trade_id="t-1", quantity="2", price="59990"),
        _fact("triggered", "sl-2", "2026-11-20T11:00:00Z", trigger_price="59995"),
    )
    row = _order(ledger, "sl-2")
    # Triggered at 11:00:00, one second before the fill it caused: filled, and triggered then
    assert (row.status, row.triggered_at) == ("filled", datetime(2026, 11, 20, 11, 0, tzinfo=UTC))


def test_a_withdrawn_cancel_takes_its_cause_with_it(make_ledger: Callable[..., OrderLedger]) -> None:
    ledger = make_ledger()
    _record(
        ledger,
        _request(
            "sl-3", "2026-11-20T10:00:00Z", side="sell", order_type="stop_market", trigger_price="60000"
        ),
        _fact("accepted", "sl-3", "2026-11-20T10:00:01Z"),
        _fact("canceled", "sl-3", "2026-11-20T11:00:00Z", canceled_by="tp-3"),
    )
    assert _order(ledger, "sl-3").canceled_by == "tp-3"
    _record(ledger, _fact("reinstated", "sl-3", "2026-11-20T11:05:00Z", canceled_at="2026-11-20T11:00:00Z"))
    row = _order(ledger, "sl-3")
    assert (row.status, row.canceled_by) == ("accepted", None)
