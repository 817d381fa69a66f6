"""One declaration per order fact, with ``post_only`` as the proof.

What an order shows is declared once (``domain.order_state.ShownOrder``, each field with its kind
and markers). ``OrderRow`` and so the JSON of ``orders --json`` and of the HTTP API, the orders
view's columns, the values a new order takes from its request, the orders table of the CLI and
of the page (with each column's heading and rank at 80 columns) and the lake's order terms are
derived from it, so each lists exactly the declared fields. ``post_only`` was added by its line
there, its rules (the request's field, the message's rule) and the adapters that read it; a
request stating it shows it everywhere an order is shown, and an order requested without it
(every order stored before the field) shows null.
"""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from fastapi.testclient import TestClient

from orderledger.domain.order_state import FROM_REQUEST, LISTED, SHOWN, Listed
from orderledger.infrastructure.adapters.fix.messages import fix_messages
from orderledger.infrastructure.adapters.hyperliquid.payloads import HyperliquidAdapter
from orderledger.infrastructure.application.analytics import columnar
from orderledger.infrastructure.application.analytics.lake import lake_orders
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.cli.render import ORDER_COLUMNS
from orderledger.infrastructure.http.app import create_app
from orderledger.infrastructure.http.service import LedgerService
from orderledger.infrastructure.messages.models import RequestMessage
from orderledger.infrastructure.results.orders import OrderRow
from orderledger.projections.orders import ORDERS_TABLE
from tests.support.cli import cli_json, run_cli
from tests.support.http_api import LOOPBACK

REQUEST: dict[str, Any] = {
    "type": "request",
    "client_order_id": "c-1",
    "account": "alpha",
    "venue": "binance",
    "instrument": "BTC-USDT",
    "side": "buy",
    "order_type": "limit",
    "quantity": "0.5",
    "price": "64010",
    "ts": "2026-11-20T10:00:00Z",
}


def test_every_order_artefact_lists_exactly_the_declared_fields() -> None:
    declared = list(SHOWN)
    assert "post_only" in declared

    # OrderRow (so --json and the HTTP JSON) and the orders view's first columns: every field
    assert [f.name for f in fields(OrderRow)] == declared
    assert [c.name for c in ORDERS_TABLE.columns][: len(declared)] == declared
    # The CLI's orders table: the fields marked Listed, in order, each under its heading (the
    # field's name unless declared) with its 80-column rank
    headings = [(mark.heading or name, mark.keep) for name, mark in LISTED.items()]
    assert [(c.name, c.keep) for c in ORDER_COLUMNS] == headings
    assert LISTED["post_only"] == Listed(2, "post-only")  # dropped at 80 columns after the rank-1 ones
    # The request: each field a new order takes from it is a field of the request message
    assert set(FROM_REQUEST.values()) <= set(RequestMessage.model_fields)
    assert FROM_REQUEST["post_only"] == "post_only"
    # The lake: every field the order shows, read from the orders view; the lake's columns
    # themselves are checked on a real export below
    assert set(SHOWN) <= set(columnar.state_columns())


def _ingest(url: str, tmp_path: Path) -> None:
    # c-1 states post-only, c-2 states it is not, c-3 does not say
    path = tmp_path / "session.jsonl"
    requests = [
        {**REQUEST, "post_only": True},
        {**REQUEST, "client_order_id": "c-2", "post_only": False},
        {**REQUEST, "client_order_id": "c-3"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in requests), encoding="utf-8")
    run = run_cli("ingest", str(path), db=url, cwd=tmp_path)
    assert run.returncode == 0, run.describe()


def test_a_post_only_request_shows_it_wherever_an_order_is_shown(
    file_ledger_url: str, tmp_path: Path
) -> None:
    _ingest(file_ledger_url, tmp_path)
    expected = [True, False, None]

    # orders --json and order --json
    assert [row["post_only"] for row in cli_json("orders", db=file_ledger_url, cwd=tmp_path)] == expected
    assert cli_json("order", "c-1", db=file_ledger_url, cwd=tmp_path)["post_only"] is True
    # The CLI's table (250 columns: every column shown): yes, no, and empty for "not said"
    table = run_cli("orders", db=file_ledger_url, cwd=tmp_path, env={"COLUMNS": "250"})
    assert table.returncode == 0, table.describe()
    lines = table.stdout.splitlines()
    header = next(line for line in lines if line.startswith("order "))
    at = header.index("post-only")
    rows = [line for line in lines if line.startswith("c-")]
    assert [row[at : at + len("post-only")].strip() for row in rows] == ["yes", "no", ""]
    with OrderLedger(file_ledger_url) as ledger:
        # The HTTP JSON, the list and the one order
        with TestClient(create_app(LedgerService(ledger)), base_url=LOOPBACK) as client:
            assert [row["post_only"] for row in client.get("/orders").json()] == expected
            assert client.get("/orders/c-2").json()["post_only"] is False
            # The page's orders table (tests/http/test_http_browser.py shows its cells)
            served = client.get("/assets/columns.json").json()["orders"]["columns"]
            assert {
                "field": "post_only",
                "heading": "post-only",
                "shown": "flag",
                "places": None,
                "sort": None,
            } in served
        # The past, folded from the log rather than read from the view
        assert [row.post_only for row in ledger.orders(as_of=datetime.now(UTC))] == expected
        # The stored request holds the key only when the request stated it
        with ledger.db.read() as tx:
            stored = [
                json.loads(bytes(r[0])) for r in tx.all("SELECT state FROM events ORDER BY notification_id")
            ]
        assert [p.get("post_only", "absent") for p in stored] == [True, False, "absent"]
        # The lake's orders
        ledger.analytics.export_lake(tmp_path / "lake")
    con = duckdb.connect()
    try:
        sql = lake_orders(tmp_path / "lake")
        lake = con.execute(
            f"SELECT client_order_id, post_only FROM ({sql}) ORDER BY client_order_id"
        ).fetchall()
        columns = {row[0] for row in con.execute(f"DESCRIBE {sql}").fetchall()}
    finally:
        con.close()
    assert lake == [("c-1", True), ("c-2", False), ("c-3", None)]
    # Every value the order shows is a column of the lake's orders
    assert set(SHOWN) <= columns


def _request(messages: list[Any]) -> RequestMessage:
    return next(m for m in messages if isinstance(m, RequestMessage))


# FTX's published NewOrderSingle (docs.ftx.com/reference/new-order-single-d): its example
# fields, with ExecInst 18 as the page gives post-only ("6": post only; absent: standard).
FTX_NEW_ORDER = (
    "35=D|21=1|11=order123|55=BTC-PERP|40=2|38=1.1|44=22000|54=1|59=1|1=main|60=20221221-10:00:00|"
)


def test_fix_reads_post_only_from_exec_inst() -> None:
    assert _request(fix_messages(FTX_NEW_ORDER + "18=6|", venue="ftx")).post_only is True
    assert _request(fix_messages(FTX_NEW_ORDER + "18=E|", venue="ftx")).post_only is False  # reduce only
    assert _request(fix_messages(FTX_NEW_ORDER, venue="ftx")).post_only is None  # not said


# A Hyperliquid node's captured order status (node_order_statuses_by_block, block 463290001):
# a resting WCT buy whose time in force is Alo, add liquidity only.
WCT_ALO = {
    "coin": "WCT", "side": "B", "limitPx": "0.14276", "sz": "5929.0", "oid": 43214347550,
    "timestamp": 1763282747219, "triggerCondition": "N/A", "isTrigger": False, "triggerPx": "0.0",
    "children": [], "isPositionTpsl": False, "reduceOnly": False, "orderType": "Limit",
    "origSz": "5929.0", "tif": "Alo", "cloid": None,
}  # fmt: skip


def test_hyperliquid_reads_post_only_from_its_time_in_force() -> None:
    adapter = HyperliquidAdapter(venue="hyperliquid", account="main")
    assert _request(adapter.messages([WCT_ALO])).post_only is True
    # ccxt's recorded openOrders reply (tests/adapters/test_hyperliquid.py, OPEN_ORDERS): Gtc
    gtc = {**WCT_ALO, "coin": "flx:CRCL", "limitPx": "70.0", "sz": "0.14", "oid": "251733169011",
           "timestamp": "1764346344235", "origSz": "0.14", "tif": "Gtc"}  # fmt: skip
    assert _request(adapter.messages([gtc])).post_only is False


def test_a_report_adds_post_only_an_order_left_unsaid_and_a_contradiction_is_an_anomaly(
    ledger: OrderLedger,
) -> None:
    # Given c-1 requested by the trader without saying, c-2 requested post-only
    mine = {**REQUEST, "source": "trader"}
    assert ledger.record(mine).outcome == "applied"
    assert ledger.record({**mine, "client_order_id": "c-2", "post_only": True}).outcome == "applied"

    # When the venue's reports of them say post-only, and not post-only
    venue = {**REQUEST, "source": "ccxt", "ts": "2026-11-20T10:00:01Z"}
    added = ledger.record({**venue, "post_only": True})
    contradicted = ledger.record({**venue, "client_order_id": "c-2", "post_only": False})

    # Then c-1 gains what its request left out; c-2 keeps its own, the other value an anomaly
    assert (added.outcome, ledger.order("c-1").post_only) == ("applied", True)
    assert (contradicted.outcome, ledger.order("c-2").post_only) == ("applied", True)
    assert ledger.order("c-2").anomalies == ["post_only_mismatch"]
    anomaly = ledger.events(types=["AnomalyRecorded"])[0].payload
    assert (anomaly["recorded"], anomaly["reported"]) == ("true", "false")
    # And the trader stating c-2 again otherwise is reusing its ID: refused, nothing stored
    position = ledger.log_position()
    again = ledger.record({**mine, "client_order_id": "c-2", "post_only": False})
    assert again.outcome == "rejected" and "post_only" in str(again.error)
    assert ledger.log_position() == position
