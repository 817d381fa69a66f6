"""A re-delivery of a booked trade that only completes its detail is recorded as that detail
(``FillDetailsAdded``), never as a correction of its figures (docs/semantics.md, "Copies of a
trade: details and figures").

Payloads: Hyperliquid's published fill of our resting NEAR buy (tests/support/ccxt_flows.py,
``counterparty_fill``: crossed false, so a maker's), as the ``userFills`` WebSocket push through
ccxt.pro's own ``handle_my_trades`` (which leaves ``takerOrMaker`` out) and as the REST
``userFills`` reply through ccxt's own ``parse_trade`` (which states it: ``maker``). The two
structures differ in ``takerOrMaker`` alone (checked below).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderledger.domain.events import AnomalyRecorded, FillCorrected, FillDetailsAdded, OrderFilled
from orderledger.domain.values import Liquidity
from orderledger.infrastructure.application.ledger import IngestReport, OrderLedger
from orderledger.infrastructure.http.app import create_app
from orderledger.infrastructure.http.service import LedgerService
from tests.support.ccxt_flows import (
    HYPERLIQUID_NEAR,
    OUR_OID,
    OURS,
    Recorder,
    counterparty_fill,
    market,
    resting_order,
)
from tests.support.cli import cli_json, run_cli
from tests.support.http_api import LOOPBACK

ORDER = f"ext-hyperliquid-{OUR_OID}"
TRADE = "5787071443114480"  # the published fill's tid
MakeLedger = Callable[..., OrderLedger]


def deliveries(ccxt_lib: Any, ccxt_pro: Any) -> tuple[Any, Any, Any]:
    """(our resting order by REST, the fill as the WebSocket push gives it, the same fill as the
    REST reply gives it), each as ccxt returns it."""
    rest = market(ccxt_lib, "hyperliquid", **HYPERLIQUID_NEAR)
    ws = market(ccxt_pro, "hyperliquid", **HYPERLIQUID_NEAR)
    client = Recorder()
    push = {"isSnapshot": False, "user": OURS, "fills": [counterparty_fill()]}
    ws.handle_my_trades(client, {"channel": "userFills", "data": push})
    pushed = client.last("myTrades")
    polled = [rest.parse_trade(counterparty_fill())]
    return [rest.parse_order(resting_order())], pushed, polled


def ingest(ledger: OrderLedger, *payloads: Any) -> IngestReport:
    lines = [json.dumps(p) for p in payloads]
    return ledger.ingest_lines(lines, origin="details-test", format="ccxt", venue="hyperliquid", account=OURS)


def the_trade(ledger: OrderLedger) -> tuple[Any, ...]:
    (row,) = [t for t in ledger.trades() if t.trade_id == TRADE]
    return (row.quantity, row.price, row.fee, row.fee_currency, row.liquidity)


# As published: 64.8 at 4.6879, fee 0.131231 USDC; crossed false, so the maker's side.
BOOKED = (Decimal("64.8"), Decimal("4.6879"), Decimal("0.131231"), "USDC", Liquidity.MAKER)


def test_the_two_copies_differ_in_liquidity_alone(ccxt_lib: Any, ccxt_pro: Any) -> None:
    _, (pushed,), (polled,) = deliveries(ccxt_lib, ccxt_pro)
    differ = {k: (pushed[k], polled[k]) for k in pushed if pushed[k] != polled[k]}
    assert differ == {"takerOrMaker": (None, "maker")}


def test_the_rest_copy_adding_liquidity_adds_a_detail_not_a_correction(
    ccxt_lib: Any, ccxt_pro: Any, make_ledger: MakeLedger
) -> None:
    # Given our resting buy and its fill pushed over the WebSocket (no takerOrMaker),
    order, pushed, polled = deliveries(ccxt_lib, ccxt_pro)
    ledger = make_ledger()
    assert ingest(ledger, order, pushed).counts["applied"] == 2
    assert the_trade(ledger)[:4] == BOOKED[:4] and the_trade(ledger)[4] is None
    # When the REST reply's copy of the same trade arrives, stating maker,
    report = ingest(ledger, polled)
    # Then it is applied as the detail it adds: one FillDetailsAdded naming the trade, no
    # correction, no anomaly,
    assert report.counts["applied"] == 1
    events = ledger.audit.order_events(ORDER)
    added = events[-1]
    assert isinstance(added, FillDetailsAdded)
    assert (added.trade_id, added.liquidity) == (TRADE, Liquidity.MAKER)
    assert not [e for e in events if isinstance(e, FillCorrected | AnomalyRecorded)]
    assert ledger.order(ORDER).anomalies == []
    # and the trades view shows the liquidity, its figures as booked.
    assert the_trade(ledger) == BOOKED
    # A third copy (either one) is a duplicate.
    for again in (pushed, polled):
        assert ingest(ledger, again).counts["duplicate"] == 1
    assert len(ledger.audit.order_events(ORDER)) == len(events)


def test_the_rest_copy_first_then_the_push_without_liquidity_is_a_duplicate(
    ccxt_lib: Any, ccxt_pro: Any, make_ledger: MakeLedger
) -> None:
    # Given our resting buy and its fill by the REST reply (maker),
    order, pushed, polled = deliveries(ccxt_lib, ccxt_pro)
    ledger = make_ledger()
    assert ingest(ledger, order, polled).counts["applied"] == 2
    before = ledger.audit.order_events(ORDER)
    # When the WebSocket push's copy, without takerOrMaker, arrives,
    report = ingest(ledger, pushed)
    # Then it is a duplicate: nothing recorded, the liquidity kept (a copy that leaves a detail
    # out takes nothing away).
    assert (report.counts["duplicate"], report.counts["applied"]) == (1, 0)
    assert ledger.audit.order_events(ORDER) == before
    assert the_trade(ledger) == BOOKED
    assert [type(e) for e in before if isinstance(e, OrderFilled | FillDetailsAdded)] == [OrderFilled]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_arrival_of_the_two_copies_ends_in_the_same_books(
    ccxt_lib: Any, ccxt_pro: Any, data: st.DataObject
) -> None:
    # Given the order and both copies of its fill, each copy delivered one or more times, in
    # any order, in any split into ingests,
    order, pushed, polled = deliveries(ccxt_lib, ccxt_pro)
    copies = data.draw(st.lists(st.sampled_from(["ws", "rest"]), min_size=1, max_size=4), label="copies")
    copies = data.draw(st.permutations(["ws", "rest", *copies]), label="arrival")
    cuts = data.draw(st.lists(st.booleans(), min_size=len(copies), max_size=len(copies)), label="cuts")
    payloads = {"ws": pushed, "rest": polled}
    with OrderLedger("memory://") as ledger:  # a fresh ledger for each drawn example
        assert ingest(ledger, order).counts["applied"] == 1
        batch: list[Any] = []
        for copy, cut in zip(copies, cuts, strict=True):
            batch.append(payloads[copy])
            if cut:
                assert ingest(ledger, *batch).counts["rejected"] == 0
                batch = []
        if batch:
            assert ingest(ledger, *batch).counts["rejected"] == 0
        the_same_books(ledger, copies)


def the_same_books(ledger: OrderLedger, copies: list[str]) -> None:
    # Then the trade is booked once, as published, a maker's; the order is filled without an
    # anomaly, and no copy corrected anything.
    assert the_trade(ledger) == BOOKED
    state = ledger.order(ORDER)
    assert (state.filled_quantity, state.anomalies) == (Decimal("64.8"), [])
    kinds = [type(e) for e in ledger.audit.order_events(ORDER)]
    assert FillCorrected not in kinds and kinds.count(OrderFilled) == 1
    assert kinds.count(FillDetailsAdded) == (1 if copies[0] == "ws" else 0)


def test_every_permutation_ends_in_the_same_views(
    ccxt_lib: Any, ccxt_pro: Any, make_ledger: MakeLedger
) -> None:
    # The order and the two copies in each of their 6 arrival orders: one trades view.
    lines = deliveries(ccxt_lib, ccxt_pro)
    views = set()
    for arrival in itertools.permutations(lines):
        ledger = make_ledger()
        for line in arrival:
            assert ingest(ledger, line).counts["rejected"] == 0
        views.add(tuple(json.dumps(t.to_json(), sort_keys=True) for t in ledger.trades()))
    assert len(views) == 1
    (view,) = views
    assert json.loads(view[0])["liquidity"] == "maker"


@pytest.mark.parametrize("ws_first", [True, False])
def test_through_the_command(
    ccxt_lib: Any, ccxt_pro: Any, stored_url: str, tmp_path: Path, ws_first: bool
) -> None:
    # The same through the real command: `ingest --format ccxt`, one file per copy.
    order, pushed, polled = deliveries(ccxt_lib, ccxt_pro)
    files = []
    for n, payload in enumerate([order, *((pushed, polled) if ws_first else (polled, pushed))]):
        path = tmp_path / f"{n}.jsonl"
        path.write_text(json.dumps(payload) + "\n")
        files.append(path)
    options = ["--format", "ccxt", "--venue", "hyperliquid", "--account", OURS]
    for path in files:
        run = run_cli("ingest", *options, str(path), db=stored_url, cwd=tmp_path)
        assert run.returncode == 0, run.describe()
    (trade,) = cli_json("trades", db=stored_url, cwd=tmp_path)
    assert (trade["trade_id"], trade["liquidity"], trade["fee"]) == (TRADE, "maker", "0.131231")
    assert [e["trade_id"] for e in events(stored_url, tmp_path, "FillDetailsAdded")] == (
        [TRADE] if ws_first else []
    )
    assert events(stored_url, tmp_path, "FillCorrected") == []
    verified = run_cli("verify", "--full", db=stored_url, cwd=tmp_path)
    assert verified.returncode == 0, verified.describe()


def events(db: str, folder: Path, kind: str) -> list[dict[str, Any]]:
    """The payloads of the log's events of one type (``events --json`` prints JSON lines)."""
    run = run_cli("events", "--type", kind, "--json", db=db, cwd=folder)
    assert run.returncode == 0 and run.stderr == "", run.describe()
    return [json.loads(line)["payload"] for line in run.stdout.splitlines()]


def test_through_http(ccxt_lib: Any, ccxt_pro: Any) -> None:
    # The same through the API: POST /messages?format=ccxt, the push, then the REST copy.
    order, pushed, polled = deliveries(ccxt_lib, ccxt_pro)
    ledger = OrderLedger("memory://")
    query = {"format": "ccxt", "venue": "hyperliquid", "account": OURS}
    try:
        app = create_app(LedgerService(ledger))
        with TestClient(app, base_url=LOOPBACK, raise_server_exceptions=False) as client:
            for payload in (order, pushed, polled):
                answer = client.post("/messages", params=query, json=payload)
                assert answer.status_code == 200, answer.text
            (trade,) = client.get("/trades").json()
        assert (trade["trade_id"], trade["liquidity"]) == (TRADE, "maker")
        assert [type(e) for e in ledger.audit.order_events(ORDER)][-1] is FillDetailsAdded
    finally:
        ledger.close()
