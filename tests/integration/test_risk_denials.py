"""Denials and breaches as facts in the chain (docs/risk.md, "Denials and breaches"): what the
risk door finds is a ``BreachRecorded`` citing the limit or state event it applied, recorded in
the commit of the request it judged; a venue's order that breaches is recorded, flagged (an
anomaly on the order) and counted; ``denials`` reads them, and ``verify`` covers them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from orderledger import AsyncOrderLedger, OrderLedger, Outcome
from orderledger.domain.risk import limit_id_for, state_id_for
from orderledger.infrastructure.application.risk.pretrade import DenialRow
from orderledger.infrastructure.application.risk.standing import LimitStatus, StateChange
from tests.support.audit import orderledger, raw_sql, reprotect, unprotect

NOW = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
MORNING = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
NOTIONAL = "max_order_notional 250 on account main: would be 300"


@pytest.fixture
def desk(make_ledger: Callable[..., OrderLedger]) -> OrderLedger:
    # Given orders of at most 250 on account main, set by alice at 08:00
    ledger = make_ledger(clock=lambda: NOW)
    ledger.risk_controls.set_limit("account", "main", "max_order_notional", "250", set_by="alice", ts=MORNING)
    return ledger


def request(cid: str, quantity: str = "3", **more: Any) -> dict[str, Any]:
    return {
        "type": "request", "client_order_id": cid, "venue": "x", "account": "main",
        "instrument": "BTC-USDT", "side": "buy", "order_type": "limit", "quantity": quantity,
        "price": "100", "ts": "2025-03-03T11:59:30Z", **more,
    }  # fmt: skip


# The aggregates the limit's and the halt's events are stored under (keyed by what they set and
# when: domain.risk): what a breach cites.
LIMIT_EVENT = str(limit_id_for("account", "main", "max_order_notional", MORNING))
HALT_EVENT = str(state_id_for("main", MORNING))


def test_a_denial_is_a_fact_citing_the_limit_event_it_applied(desk: OrderLedger) -> None:
    # When a request of ours for 3 at 100 is recorded: 3 × 100 = 300 > 250
    result = desk.record(request("c-1"))
    # Then it is denied and never an order, and the denial is a fact of the chain
    assert (result.outcome, result.reason) == (Outcome.DENIED, NOTIONAL)
    assert list(desk.orders()) == []
    [denial] = desk.risk_controls.denials()
    assert (denial.action, denial.client_order_id, denial.account, denial.ts) == (
        "denied",
        "c-1",
        "main",
        NOW,
    )
    assert denial.breaches == [
        {
            "reason": NOTIONAL,
            "limit": "max_order_notional",
            "scope": "account",
            "target": "main",
            "value": "250",
            "figure": "300",
            "cites_event": "LimitSet",
            "cites": LIMIT_EVENT,
            "cites_version": "1",
        }
    ]
    # And the log holds it after the limit, in the denied line's commit; verify agrees
    assert [e.type for e in desk.events()] == ["LimitSet", "BreachRecorded"]
    assert desk.audit.verify().ok


def test_a_halt_denial_cites_the_trading_state_and_an_override_says_who_and_why(desk: OrderLedger) -> None:
    # Given the account halted by bob
    desk.risk_controls.set_trading_state(
        "halted", account="main", set_by="bob", reason="flash crash", ts=MORNING
    )
    # When an order of 1 at 100 (100 ≤ 250: only the halt refuses it) is sent, then sent again
    # with rita's override
    assert desk.record(request("c-1", "1")).outcome is Outcome.DENIED
    override = {"by": "rita", "reason": "hedge the desk"}
    assert desk.record(request("c-2", "1", override=override)).outcome is Outcome.APPLIED
    # Then the denial cites the state's event, and the override is a fact with who and why
    denied, overridden = desk.risk_controls.denials()
    halt = "trading is halted (set by bob: flash crash)"
    assert denied.action == "denied" and denied.breaches == [
        {
            "reason": halt,
            "limit": "trading_state",
            "scope": "account",
            "target": "main",
            "value": "halted",
            "cites_event": "TradingStateSet",
            "cites": HALT_EVENT,
            "cites_version": "1",
        }
    ]
    assert (overridden.action, overridden.client_order_id, overridden.by, overridden.why) == (
        "overridden",
        "c-2",
        "rita",
        "hedge the desk",
    )
    assert [o.client_order_id for o in desk.orders()] == ["c-2"]
    # And the filters: by the limit's name, the account, and the time recorded
    assert [d.client_order_id for d in desk.risk_controls.denials(limit="trading_state")] == ["c-1", "c-2"]
    assert (
        desk.risk_controls.denials(limit="max_position") == []
        and desk.risk_controls.denials(account="other") == []
    )
    assert desk.risk_controls.denials(since=datetime(2025, 3, 3, 12, 0, 1, tzinfo=UTC)) == []
    assert [d.client_order_id for d in desk.risk_controls.denials(last=1)] == ["c-2"]


def test_a_venue_order_that_breaches_is_recorded_flagged_and_counted(desk: OrderLedger) -> None:
    # When the venue reports an order placed elsewhere for 3 at 100 (300 > 250), twice
    line = orjson.dumps(request("v-1", external=True, venue_order_id="9"))
    report = desk.ingest_lines([line])
    again = desk.ingest_lines([line])
    # Then it is recorded (never refused), flagged once: a breach fact, an anomaly on the order
    assert (report.counts["applied"], report.counts.get("denied"), report.flagged) == (1, None, 1)
    assert (again.counts["duplicate"], again.flagged) == (1, 0)
    assert desk.order("v-1").anomalies == ["limit_breach"]
    [flag] = desk.risk_controls.denials()
    assert (flag.action, flag.client_order_id, flag.limits) == ("flagged", "v-1", ["max_order_notional"])
    assert flag.breaches[0]["figure"] == "300" and flag.breaches[0]["cites"] == LIMIT_EVENT
    assert desk.audit.verify().ok


def test_venue_orders_in_one_ingest_are_each_judged_after_the_ones_before(desk: OrderLedger) -> None:
    # Given at most 4 BTC-USDT held on main (the worst case counts the open orders)
    desk.risk_controls.set_limit("account", "main", "max_position", "4", set_by="alice", ts=MORNING)
    # When the venue reports, in one ingest, two orders of 1 at 100 then one of 2.5 (2.5 × 100 =
    # 250: within the notional limit)
    lines = [request(f"v-{n}", quantity, external=True) for n, quantity in ((1, "1"), (2, "1"), (3, "2.5"))]
    report = desk.ingest_lines([orjson.dumps(line) for line in lines])
    # Then all three are recorded; only the third is flagged: 1 + 1 + 2.5 = 4.5 > 4, each judged
    # with the ones before it recorded (1 ≤ 4, 1 + 1 = 2 ≤ 4)
    assert (report.counts["applied"], report.flagged) == (3, 1)
    [flag] = desk.risk_controls.denials()
    assert (flag.client_order_id, flag.limits, flag.breaches[0]["figure"]) == ("v-3", ["max_position"], "4.5")


def test_a_venue_order_within_the_limits_or_without_any_is_not_flagged(
    make_ledger: Callable[..., OrderLedger],
) -> None:
    ledger = make_ledger(clock=lambda: NOW)
    # Without any limit or state, nothing is judged: no breach fact, nothing flagged
    report = ledger.ingest_lines([orjson.dumps(request("v-1", external=True))])
    assert (report.counts["applied"], report.flagged) == (1, 0)
    # With a limit of 250, an order of 2 × 100 = 200 is within it
    ledger.risk_controls.set_limit("account", "main", "max_order_notional", "250", set_by="alice", ts=MORNING)
    report = ledger.ingest_lines([orjson.dumps(request("v-2", "2", external=True))])
    assert (report.counts["applied"], report.flagged) == (1, 0)
    assert ledger.risk_controls.denials() == [] and ledger.order("v-2").anomalies == []


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_verify_finds_a_denial_altered_in_the_store(store: str, tmp_path: Path, request: Any) -> None:
    url = (
        f"sqlite:///{tmp_path / 'ledger.db'}"
        if store == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    with OrderLedger(url, clock=lambda: NOW) as ledger:
        ledger.risk_controls.set_limit(
            "account", "main", "max_order_notional", "250", set_by="alice", ts=MORNING
        )
        assert ledger.record(_order("c-1")).outcome is Outcome.DENIED
    assert orderledger("verify", db=url).code == 0
    # When someone lowers the figure the denial recorded (300 → 200) in the store
    with raw_sql(url) as db:
        unprotect(db)
        position, state = db.one(
            "SELECT notification_id, state FROM events WHERE event_type = 'BreachRecorded'"
        )
        forged = bytes(state).replace(b'"figure":"300"', b'"figure":"200"')
        assert forged != bytes(state)
        db.execute("UPDATE events SET state = ? WHERE notification_id = ?", (forged, position))
        reprotect(db)
    # Then verify finds it
    run = orderledger("verify", db=url)
    assert run.code == 1
    assert run.stderr.startswith(
        f"BROKEN: event {position} (BreachRecorded of 'c-1') does not match its hash"
    )


def test_the_asyncio_iterator_says_each_breach_and_when(file_ledger_url: str) -> None:
    async def main() -> tuple[LimitStatus, list[DenialRow]]:
        async with AsyncOrderLedger(file_ledger_url, clock=lambda: NOW) as ledger:
            # Given a position limit of 1 on main, a request of ours denied before the watch, and
            # beta halted (the watch's first event)
            await ledger.risk_controls.set_limit(
                "account", "main", "max_position", "1", set_by="alice", ts=MORNING
            )
            await ledger.record(request("c-0"))
            await ledger.risk_controls.set_trading_state("halted", account="beta", set_by="ops", ts=MORNING)
            flagged: list[DenialRow] = []
            events = ledger.risk_events(poll_seconds=0.05)
            async with contextlib.aclosing(events):
                async for event in events:
                    if isinstance(event, StateChange):
                        # When the venue reports an order of 3 placed elsewhere (0 + 3 = 3 > 1)
                        await ledger.record(request("v-1", external=True))
                    elif isinstance(event, DenialRow):
                        flagged.append(event)
                    elif isinstance(event, LimitStatus):  # (at the next look: the position breached)
                        return event, flagged
        raise AssertionError("the events ended")

    status, flagged = asyncio.run(asyncio.wait_for(main(), 30))
    # Then the breach is told (not the denial from before the watch), at the ledger's time, and
    # then the limit breached (3 > 1), with the time it was worked out at
    assert [(f.action, f.client_order_id, f.ts, f.limits) for f in flagged] == [
        ("flagged", "v-1", NOW, ["max_position"])
    ]
    assert (status.status, status.figure, status.as_of) == ("breached", 3, NOW)


def _order(cid: str) -> dict[str, Any]:
    return request(cid)


def test_an_override_sent_again_records_its_breach_once(desk: OrderLedger) -> None:
    # When an overridden request of 3 × 100 = 300 (> 250) is sent twice
    override = {"by": "rita", "reason": "hedge the desk"}
    first = desk.record(request("c-1", override=override))
    again = desk.record(request("c-1", override=override))
    # Then it is one order with one breach fact; the duplicate records nothing, and verify agrees
    assert (first.outcome, again.outcome) == (Outcome.APPLIED, Outcome.DUPLICATE)
    assert [(d.action, d.client_order_id) for d in desk.risk_controls.denials()] == [("overridden", "c-1")]
    assert desk.audit.verify().ok
