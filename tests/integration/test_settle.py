"""Settling a parked message by hand (docs/messages.md, "Settling a parked message"): set aside
or booked, through the real command and the Python API, on SQLite and PostgreSQL, recorded in the
journal with who and why; nothing deleted, and ``messages --parked --older-than`` stops alarming.

Payloads: Lighter's published trade and order as ccxt 4.5.90 quotes them
(tests/adapters/fixtures/ccxt_venues.json), natively and through ccxt's own Lighter parsers;
fields changed from the published values are marked "derived".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orderledger.domain.outcomes import Outcome
from orderledger.domain.values import Status
from orderledger.infrastructure.adapters.ccxt.payloads import payload_messages
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.ingest.inbound import Inbound
from orderledger.infrastructure.messages.models import AcceptedMessage, RequestMessage
from tests.support.ccxt_flows import LIGHTER_ETH, market, raw
from tests.support.cli import assert_one_line_failure, cli_json, parse_ingest, run_cli

ACCOUNT = "1077"  # the published order's owner_account_index
MARKETS = {"order_books": [{"symbol": "ETH", "market_id": 0}]}  # derived: ETH is market 0
STRAY_ORDER = 281474977339869  # the published trade's ask_id: an order no report ever names here


def _messages(db: str, cwd: Path, *options: str) -> tuple[int, list[dict[str, Any]]]:
    run = run_cli("messages", *options, "--json", db=db, cwd=cwd)
    return run.returncode, [json.loads(line) for line in run.stdout.splitlines()]


def _stray_trade(db: str, cwd: Path) -> int:
    """The published trade as our ask (derived: ask_account_id = our account) of an order the
    venue never reports to this ledger: a bare fill, parked. Returns its message ID."""
    trade = raw("lighter", "trade") | {"ask_account_id": int(ACCOUNT), "bid_account_id": 20}
    path = cwd / "stray.jsonl"
    path.write_text(json.dumps(MARKETS) + "\n" + json.dumps({"trades": [trade]}) + "\n", encoding="utf-8")
    run = run_cli(
        "ingest", "--format", "lighter", "--venue", "lighter", "--account", ACCOUNT, str(path), db=db, cwd=cwd
    )
    assert parse_ingest(run.stdout).counts["parked"] == 1, run.describe()
    code, parked = _messages(db, cwd, "--parked", "--older-than", "0s")
    assert code == 1 and len(parked) == 1  # the alarm: a message parked for longer than 0 s
    return int(parked[0]["message_id"])


def test_a_person_sets_a_stray_parked_message_aside(file_ledger_url: str, tmp_path: Path) -> None:
    db = file_ledger_url
    # Given a stray trade report parked for an order that will never be known
    parked_id = _stray_trade(db, tmp_path)
    _, before = _messages(db, tmp_path)

    # When an operator settles it with a reason
    why = "trade of an order placed on the venue's test account"
    run = run_cli("messages", "settle", str(parked_id), "--reason", why, "--by", "alice", db=db, cwd=tmp_path)
    assert run.returncode == 0, run.describe()

    # Then the alarm stops: nothing is parked any more
    code, parked = _messages(db, tmp_path, "--parked", "--older-than", "0s")
    assert (code, parked) == (0, [])
    # And the journal keeps everything: the parked line as received, now ignored with who and
    # why, and one line more, the settlement, stating the message, who, why and what waited
    _, after = _messages(db, tmp_path)
    assert len(after) == len(before) + 1
    line = next(m for m in after if m["message_id"] == parked_id)
    was = next(m for m in before if m["message_id"] == parked_id)
    assert (line["raw"], line["outcome"]) == (was["raw"], "ignored")
    assert line["reason"] == f"set aside by alice: {why}"
    settlement = after[-1]
    assert (settlement["format"], settlement["origin"], settlement["outcome"]) == (
        "settlement",
        "cli",
        "applied",
    )
    assert settlement["reason"] == f"set aside parked message {parked_id} (by alice: {why})"
    record = json.loads(settlement["raw"])
    assert (record["message_id"], record["action"], record["by"], record["reason"]) == (
        parked_id, "set_aside", "alice", why,
    )  # fmt: skip
    assert [(p["part"], p["message"]["type"], p["message"]["trade_id"]) for p in record["parked"]] == [
        (0, "fill", "17609")
    ]
    # And no trade, order or position came of it; the log still verifies
    assert cli_json("trades", db=db, cwd=tmp_path) == []
    assert cli_json("positions", db=db, cwd=tmp_path) == []
    assert cli_json("verify", db=db, cwd=tmp_path)["ok"] is True

    # And settling it again, or a message that is not parked, or without a reason, is refused
    # in one line with nothing written
    again = run_cli("messages", "settle", str(parked_id), "--reason", why, db=db, cwd=tmp_path)
    assert f"message {parked_id} is ignored, not parked" in assert_one_line_failure(again)
    applied = run_cli(
        "messages", "settle", str(settlement["message_id"]), "--reason", why, db=db, cwd=tmp_path
    )
    assert "not parked" in assert_one_line_failure(applied)
    missing = run_cli("messages", "settle", "999", "--reason", why, db=db, cwd=tmp_path)
    assert "no message 999 in the journal" in assert_one_line_failure(missing)
    blank = run_cli("messages", "settle", str(parked_id), "--reason", " ", db=db, cwd=tmp_path)
    assert "needs a reason" in assert_one_line_failure(blank)
    assert _messages(db, tmp_path)[1] == after


def _park_as_an_earlier_release_did(ledger: OrderLedger, ccxt_lib: Any) -> tuple[int, int]:
    """A Lighter order under client index 4242 (derived: open, limit, that index, 10.2304 filled
    as in the published trade) through ccxt's parse_order, journaled as the ccxt route read it
    before external orders were booked: only its acknowledgement, parked for the index. Then
    its trade (derived: our ask), parked too. Returns both message IDs."""
    exchange = market(ccxt_lib, "lighter", **LIGHTER_ETH)
    order = raw("lighter", "order") | {"status": "open", "type": "limit", "time_in_force": "good-till-time"}
    order |= {"client_order_index": 4242, "client_order_id": "4242"}
    parsed = json.loads(json.dumps(exchange.parse_order(order)))
    read_now = payload_messages(parsed, venue="lighter", account=ACCOUNT)
    assert [type(m) for m in read_now] == [RequestMessage, AcceptedMessage]
    item = Inbound(json.dumps(parsed).encode(), "old-collector", 1, "ccxt", [read_now[1]])
    trade = raw("lighter", "trade") | {"ask_id": order["order_index"], "ask_client_id": 4242}
    trade |= {"ask_account_id": int(ACCOUNT), "bid_account_id": 20, "account_index": ACCOUNT}
    parsed_trade = json.loads(json.dumps(exchange.parse_trade(trade)))
    report = ledger.ingest_lines([json.dumps(parsed_trade)], format="ccxt", venue="lighter", account=ACCOUNT)
    first = ledger.ingest_inbound([item])
    assert (first.counts["parked"], report.counts["parked"]) == (1, 1)
    ids = [m.message_id for m in ledger.audit.messages(parked=True)]
    return ids[1], ids[0]


def _book_by_hand(db: str, cwd: Path, order_line: int) -> str:
    """Book parked message ``order_line`` through the real command, as bob; then the published
    order is booked as an external order of ETH/USDC:USDC keeping its index 4242, with its one
    trade's short (10.2304 sold at 2958.75, nothing realized), and nothing is parked any more.
    Returns the reason given."""
    why = "placed in Lighter's UI"
    run = run_cli(
        "messages", "settle", str(order_line), "--book", "--account", ACCOUNT, "--reason", why, "--by", "bob",
        db=db, cwd=cwd,
    )  # fmt: skip
    assert run.returncode == 0, run.describe()
    assert _messages(db, cwd, "--parked")[1] == []
    orders = cli_json("orders", db=db, cwd=cwd)
    assert [
        (o["client_order_id"], o["instrument"], o["side"], o["quantity"], o["filled_quantity"], o["aliases"])
        for o in orders
    ] == [
        (
            "ext-lighter-281474977354074",
            "ETH/USDC:USDC",
            "sell",
            "36.0386",
            "10.2304",
            {"client_index": "4242"},
        )
    ]
    positions = cli_json("positions", db=db, cwd=cwd)
    assert [(p["quantity"], p["average_price"], p["realized_pnl"]) for p in positions] == [
        ("-10.2304", "2958.75", "0")
    ]
    return why


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_a_parked_message_that_carries_an_orders_details_is_booked(
    file_ledger_url: str, tmp_path: Path
) -> None:
    ccxt_lib = pytest.importorskip("ccxt", reason="ccxt is not installed (pip install -e '.[dev]')")
    db = file_ledger_url
    with OrderLedger(db) as ledger:
        order_line, trade_line = _park_as_an_earlier_release_did(ledger, ccxt_lib)
    # When an operator books the order's line, through the real command, then the order is
    # booked as an external order with its index as alias, and both parked lines (the order's
    # and its trade's) are released onto it: nothing parked
    why = _book_by_hand(db, tmp_path, order_line)
    # And the journal says who booked it and why, on a line of its own
    _, journal = _messages(db, tmp_path)
    settlement = journal[-1]
    assert (
        settlement["origin"] == "cli"
        and f"books parked message {order_line} (by bob: {why})" in settlement["reason"]
    )
    # (released in arrival order: the trade's fill, which acknowledges the order by its venue
    # order ID, then the order's acknowledgement, by then a duplicate)
    assert {
        m["message_id"]: m["outcome"] for m in journal if m["message_id"] in (order_line, trade_line)
    } == {
        trade_line: "applied",
        order_line: "duplicate",
    }
    assert cli_json("verify", db=db, cwd=tmp_path)["ok"] is True


def test_the_python_api_settles_and_refuses_what_cannot_be_booked(make_ledger: Any, tmp_path: Path) -> None:
    ledger: OrderLedger = make_ledger()
    # Given a bare fill in the ledger's own format, parked for order c-9 that never comes
    fill = {"type": "fill", "client_order_id": "c-9", "trade_id": "t-1", "quantity": "1", "price": "10",
            "ts": "2026-01-02T00:00:00Z"}  # fmt: skip
    assert ledger.record(fill).outcome is Outcome.PARKED
    parked_id = ledger.audit.messages(parked=True)[0].message_id
    # When it is to be booked: refused, it states no order's details; nothing written
    with pytest.raises(ValueError, match="states no order's details: set it aside instead"):
        ledger.venues.settle(parked_id, reason="test", by="carol", book=True)
    assert len(ledger.audit.messages()) == 1
    # When it is set aside instead
    settled = ledger.venues.settle(parked_id, reason="test fill of a dropped order", by="carol")
    # Then it is settled, the settlement is the journal's next line, and nothing is parked
    assert ledger.audit.messages(parked=True) == []
    assert [(m.message_id, m.outcome) for m in ledger.audit.messages()] == [
        (parked_id, Outcome.IGNORED),
        (settled, Outcome.APPLIED),
    ]
    # And a request for c-9 recorded later does not revive the fill set aside
    asked = {"type": "request", "client_order_id": "c-9", "venue": "v", "account": "a", "instrument": "X",
             "side": "buy", "order_type": "market", "quantity": "1",
             "ts": "2026-01-02T00:00:01Z"}  # fmt: skip
    ledger.record(asked)
    assert ledger.order("c-9").status is Status.REQUESTED
    assert ledger.audit.verify().ok


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_a_parked_lighter_line_is_booked_with_the_market_map_it_was_read_with(
    file_ledger_url: str, tmp_path: Path
) -> None:
    """``--format lighter`` names markets by number: the map comes from an ``order_books`` line
    of the same ingest. Reading a parked Lighter line again to book it reads the journal's
    market-map lines first, as the ingest that parked it did (without them the line could not
    be read: "Lighter market 0 is unknown")."""
    db = file_ledger_url
    # Given the market map and the published order (derived: open, limit, client index 4242,
    # as in _park_as_an_earlier_release_did) journaled by --format lighter as an earlier release
    # read it: only its acknowledgement, parked for the index; then its trade as our ask
    # (derived: ask_id = the order, ask_client_id 4242, our account), parked too
    order = raw("lighter", "order") | {"status": "open", "type": "limit", "time_in_force": "good-till-time"}
    order |= {"client_order_index": 4242, "client_order_id": "4242"}
    trade = raw("lighter", "trade") | {"ask_id": order["order_index"], "ask_client_id": 4242}
    trade |= {"ask_account_id": int(ACCOUNT), "bid_account_id": 20}
    with OrderLedger(db) as ledger:
        markets = ledger.ingest_lines(
            [json.dumps(MARKETS)], format="lighter", venue="lighter", account=ACCOUNT
        )
        assert markets.counts["ignored"] == 1
        from orderledger.infrastructure.application.feeds import open_feed

        feed = open_feed(ledger, "lighter", "lighter", ACCOUNT)
        feed.messages(json.dumps(MARKETS).encode(), [])
        line = json.dumps({"orders": [order]})
        read_now = feed.messages(line.encode(), [])
        assert [type(m) for m in read_now] == [RequestMessage, AcceptedMessage]
        item = Inbound(line.encode(), "old-collector", 1, "lighter", [read_now[1]])
        assert ledger.ingest_inbound([item]).counts["parked"] == 1
        traded = ledger.ingest_lines(
            [json.dumps(MARKETS), json.dumps({"trades": [trade]})],
            format="lighter",
            venue="lighter",
            account=ACCOUNT,
        )
        assert traded.counts["parked"] == 1
        order_line, trade_line = (m.message_id for m in ledger.audit.messages(parked=True))
    # When an operator books the order's line through the real command, then the order is
    # booked as an external order of ETH/USDC:USDC (market 0 of the map) keeping its index, its
    # parked trade applies to it, and nothing is parked any more
    why = _book_by_hand(db, tmp_path, order_line)
    _, journal = _messages(db, tmp_path)
    assert f"books parked message {order_line} (by bob: {why})" in journal[-1]["reason"]
    # (both parked lines released onto it, in venue time: the trade's fill, which names the
    # order's venue order ID and index, then the acknowledgement, which has nothing new left)
    assert {
        m["message_id"]: m["outcome"] for m in journal if m["message_id"] in (order_line, trade_line)
    } == {
        trade_line: "applied",
        order_line: "duplicate",
    }
    assert cli_json("verify", db=db, cwd=tmp_path)["ok"] is True
