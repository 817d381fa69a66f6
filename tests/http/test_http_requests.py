"""The HTTP layer asks the ledger with typed requests, never a method by its name: the routes
build a request from their parameters, the service answers it through ``OrderLedger.handle``
and writes it as JSON the one way ``SHOWN`` declares for its type, and the runners, bounds and
caches (threads, reader processes, the P&L folds) are handed the request itself.

The session is ``tests/support/api_session.py`` (venue time ``T0 + s``):

* A: buy 10 BTC-USDT at 100 (acc/V), requested at s=0; filled 4 at 100 at s=1, fee 0.4 USDT.
* B: sell 3 BTC-USDT at 110 (acc/V), requested at s=5; filled 3 at 110 at s=6.
* C: buy 1 ETH-USDT at 50 (other/W), requested at s=10; never filled.
"""

from __future__ import annotations

import ast
import asyncio
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

import orjson

from orderledger import Filter, OrderLedger
from orderledger.infrastructure.application import requests as asks
from orderledger.infrastructure.application.requests import (
    REQUESTS,
    ROLES,
    Check,
    Ingest,
    Lag,
    LogPosition,
    Orders,
    Pnl,
    Reconcile,
    Settle,
    SetTradingState,
    Trades,
)
from orderledger.infrastructure.http.bounded_reads import ReaderProcesses
from orderledger.infrastructure.http.service import SHOWN, LedgerService, Listing
from tests.support.api_session import SESSION
from tests.support.integration import lines

HTTP = Path(__file__).resolve().parents[2] / "infrastructure" / "http"
CLI = HTTP.parent / "cli"


def test_the_service_answers_a_request_as_json_the_way_its_type_declares(ledger: OrderLedger) -> None:
    # Given the session
    ledger.ingest_lines(lines(*SESSION))
    service = LedgerService(ledger)
    # When the open orders of account acc are asked (A: 6 of 10 left; B is filled)
    page = service.answer(Orders(Filter(account="acc"), open=True, count=True))
    # Then the rows are the orders' JSON, with the places the page shows them to, and the count
    [a] = page
    assert (a["client_order_id"], a["leaves_quantity"], page.total) == ("A", "6", 1)
    assert "precision" in a
    # P&L by account is exact: acc realized (110 − 100) × 3 = 30, net of the 0.4 USDT fee
    [acc] = service.answer(Pnl(by="account"))
    assert (acc["account"], acc["realized_pnl"], acc["realized_pnl_net"]) == ("acc", "30", "29.6")  # 30 − 0.4
    # The log's head and the views' lag: 5 events (A: requested, filled; B the same; C
    # requested), none left to fold
    assert service.answer(LogPosition()) == ledger.log_position() == 5
    assert service.answer(Lag()) == {"position": 5, "log_end": 5, "behind": 0}


def test_a_list_read_is_the_request_wrapped_with_how_far_the_views_are_behind(ledger: OrderLedger) -> None:
    ledger.ingest_lines(lines(*SESSION))
    listed = LedgerService(ledger).answer(Listing(Trades(Filter(instrument="BTC-USDT"))))
    # Trades are read from the views (0 behind); A's fill of 4, then B's of 3
    assert listed.behind == 0
    assert [(t["client_order_id"], t["quantity"]) for t in orjson.loads(listed.body)] == [
        ("A", "4"),
        ("B", "3"),
    ]


def test_a_reader_process_is_sent_the_request_itself(file_ledger_url: str) -> None:
    with OrderLedger(file_ledger_url) as ledger:
        ledger.ingest_lines(lines(*SESSION))
    reader = ReaderProcesses(file_ledger_url, 1)
    try:
        # C is the one order of account other
        [c] = asyncio.run(reader(Orders(Filter(account="other"))))
        assert c["client_order_id"] == "C"
    finally:
        reader.close()


def test_every_request_type_is_written_as_json_one_declared_way() -> None:
    assert set(SHOWN) == set(REQUESTS)


def test_no_module_of_the_http_layer_calls_the_ledger_or_its_service_by_name() -> None:
    called_by_name = []
    for path in sorted([*HTTP.rglob("*.py"), *CLI.rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr":
                target = ast.unparse(node.args[0])
                if any(word in target for word in ("service", "reader", "ledger", "self")):
                    called_by_name.append(
                        f"{path.relative_to(HTTP.parent)}:{node.lineno} getattr({target}, …)"
                    )
    assert called_by_name == []


COMMANDS = {
    Ingest: "write",
    Settle: "admin",
    Check: "write",
    asks.PlaceOrder: "write",  # (and risk too when it carries an override)
    asks.Respond: "write",
    # limits and trading states: the risk role, apart from write (a bot's key is not the desk's)
    **dict.fromkeys((SetTradingState, asks.SetLimit, asks.ClearLimit), "risk"),
    **dict.fromkeys(
        (
            asks.IngestStream,
            asks.IngestInbound,
            asks.Record,
            asks.DefineInstrument,
            asks.LoadCcxtMarkets,
            asks.CatchUp,
            asks.CollectorLease,
            asks.CollectorHeartbeat,
            asks.CollectorRelease,
        ),
        "write",
    ),
    # the views refolded, the ledger's settings, and files written where the ledger runs
    **dict.fromkeys(
        (
            asks.Rebuild,
            asks.SetCostBasis,
            asks.RotateCursorSecret,
            asks.InitDatabase,
            asks.Export,
            asks.ExportLake,
        ),
        "admin",
    ),
}
"""The commands whose role is fixed; every other request but ``Reconcile`` is a read."""


def _made(kind: type[Any]) -> Any:
    """A request of ``kind`` with its required fields filled (the role does not read them)."""
    required = {f.name: None for f in fields(kind) if f.default is MISSING and f.default_factory is MISSING}
    return kind(**required)


def test_every_request_declares_the_role_it_needs() -> None:
    for kind in REQUESTS:
        if kind is Reconcile:
            continue
        assert _made(kind).role == COMMANDS.get(kind, "read"), kind.__name__
    # a reconciliation reads, unless it applies the corrections
    assert Reconcile(b"{}").role == "read" and Reconcile(b"{}", apply=True).role == "admin"
    assert {_made(k).role for k in REQUESTS} <= set(ROLES)


def test_no_route_spells_a_role_the_ledger_context_admits_each_request_by_its_own() -> None:
    # Given every module of the HTTP layer
    spelled = []
    for path in sorted(HTTP.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        tags = {
            id(c)
            for k in ast.walk(tree)
            if isinstance(k, ast.keyword) and k.arg == "tags"
            for c in ast.walk(k)
        }
        for node in ast.walk(tree):
            # no route takes a role dependency, and no role is compared outside access.py
            annotation = ast.unparse(node.annotation) if isinstance(node, ast.arg) and node.annotation else ""
            if annotation in ("Read", "Write", "Admin"):
                spelled.append(f"{path.name}: {annotation}")
            may = isinstance(node, ast.Call) and ast.unparse(node.func).endswith(".may")
            if may and path.name not in ("access.py", "auth.py"):
                spelled.append(f"{path.name}:{getattr(node, 'lineno', '?')} .may(…)")
            routes = path.parent.name == "routes" and id(node) not in tags
            if isinstance(node, ast.Constant) and node.value in ROLES and routes:
                spelled.append(f"{path.name}:{node.lineno} {node.value!r}")
    assert spelled == []


def test_the_writes_are_requests_answered_by_the_one_dispatch(ledger: OrderLedger) -> None:
    # Given the session's orders, and one parked fill of an order the ledger has not seen
    service = LedgerService(ledger)
    stray = {"type": "fill", "client_order_id": "Z", "trade_id": "z-1", "quantity": "1", "price": "1"}
    stray["ts"] = "2026-01-05T10:00:30Z"
    # When it is ingested as a request, through the service the HTTP API uses
    report = service.answer(Ingest((orjson.dumps(stray),), origin="test"))
    # Then the answer is the ingest's report, one line, parked
    assert report["counts"]["parked"] == 1 and report["lines"] == 1
    parked = ledger.audit.messages(parked=True)
    # And settling it is a request too: set aside, recorded in a journal line of its own
    settled = ledger.handle(Settle(parked[0].message_id, "stray", "ops"))
    assert settled > parked[0].message_id and ledger.audit.messages(parked=True) == []
    # And a dry-run reconciliation of an empty snapshot answers as the method does
    empty = b'{"venue": "V", "account": "acc", "as_of": "2026-01-05T11:00:00Z", "open_orders": []}'
    assert service.answer(Reconcile(empty)) == ledger.venues.reconcile(empty).to_json()
