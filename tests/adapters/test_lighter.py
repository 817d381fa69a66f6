"""``--format lighter``: Lighter's own order and trade objects, from the examples ccxt quotes in
its source (python/ccxt/lighter.py, ccxt 4.5.90: the REST order at lines 2199-2233, the REST
trade at lines 2861-2884; kept in fixtures/ccxt_venues.json). Fields changed from the published
values are marked "derived" where they are set.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.values import Status
from orderledger.infrastructure.adapters.aliases import client_index_alias
from orderledger.infrastructure.adapters.ccxt.payloads import payload_messages
from orderledger.infrastructure.adapters.lighter.payloads import LighterAdapter
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.reads.view_queries import list_orders, list_positions, list_trades
from orderledger.infrastructure.audit.search import list_messages
from orderledger.infrastructure.errors import ConfigurationError
from orderledger.infrastructure.messages.models import Message
from tests.support.adapters import check_valid
from tests.support.ccxt_flows import LIGHTER_ETH, Recorder, market, raw
from tests.support.cli import ROOT, cli_json, parse_ingest, run_cli
from tests.support.integration import lines, request

ACCOUNT = "1077"  # Lighter's account index: owner_account_index of the published order
ORDER_INDEX = 281474977354074  # the published order's order_index
MARKETS = json.dumps({"order_books": [{"symbol": "ETH", "market_id": 0}]})  # derived: ETH is market 0


def ingest_lighter(path: str, db: str, cwd: Path) -> Any:
    """``orderledger ingest --format lighter`` of ``path`` for the account, by the real command."""
    return run_cli(
        "ingest", "--format", "lighter", "--venue", "lighter", "--account", ACCOUNT, path, db=db, cwd=cwd
    )


def _ingest(ledger: OrderLedger, *payloads: object, account: str = ACCOUNT) -> dict[str, int]:
    text = [p if isinstance(p, str) else json.dumps(p) for p in payloads]
    report = ledger.ingest_lines(text, format="lighter", venue="lighter", account=account)
    return {k: v for k, v in report.counts.items() if v}


def test_a_lighter_order_and_its_trade_resolve_through_the_client_index(
    make_ledger: Callable[..., OrderLedger],
) -> None:
    # Given our request for c-eth-1 (sell 36.0386 ETH at 2221.60), recording its client index
    ledger = make_ledger()
    alias = client_index_alias("c-eth-1")
    index = int(alias["client_index"])
    asked = request(
        "c-eth-1",
        venue="lighter",
        account=ACCOUNT,
        instrument="ETH/USDC:USDC",
        side="sell",
        quantity="36.0386",
        price="2221.60",
        aliases=alias,
    )
    assert ledger.ingest_lines(lines(asked)).counts["applied"] == 1
    # And Lighter's order reporting it (derived: our client index, open, a limit GTT order),
    order = raw("lighter", "order") | {"client_order_index": index, "client_order_id": str(index)}
    order |= {"status": "open", "type": "limit", "time_in_force": "good-till-time"}
    # its trade as our ask (derived: ask_id = the order, ask_client_id = our index, our account),
    trade = raw("lighter", "trade") | {"ask_id": ORDER_INDEX, "ask_client_id": index}
    trade |= {"ask_account_id": 1077, "bid_account_id": 20}
    # then the order canceled by Lighter for post-only (derived status), after 10.2304 filled
    canceled = order | {"status": "canceled-post-only", "filled_base_amount": "10.2304"}

    # When the market map, the order, the trade, the same trade again (REST after WebSocket,
    # inside the account channel's by-market container) and the cancel are fed
    counts = _ingest(ledger, MARKETS, order, trade, {"trades": {"0": [trade]}}, {"orders": [canceled]})

    # Then one order, no phantom: 10.2304 of 36.0386 filled at 2958.75, canceled with Lighter's reason
    # (the market map books nothing: "ignored", journaled with a note)
    assert counts == {"ignored": 1, "applied": 3, "duplicate": 1}
    state = ledger.order("c-eth-1")
    assert (state.status, state.filled_quantity, state.venue_order_id) == (
        Status.CANCELED,
        Decimal("10.2304"),
        str(ORDER_INDEX),
    )
    assert ledger.audit.order_events("c-eth-1")[-1].reason == "canceled-post-only"  # type: ignore[attr-defined]
    # And one trade: our ask was the maker (is_maker_ask true); the REST trade carries no fee
    assert [
        (t["client_order_id"], t["trade_id"], t["quantity"], t["price"], t["liquidity"], t["fee"])
        for t in list_trades(ledger.db)
    ] == [("c-eth-1", "17609", "10.2304", "2958.75", "maker", None)]
    # And a short of 10.2304 ETH (sold, nothing bought back): nothing realized
    position = list_positions(ledger.db)[0]
    assert (position["quantity"], position["realized_pnl"]) == ("-10.2304", "0")


def test_lighter_payloads_it_cannot_book_get_a_reason(make_ledger: Callable[..., OrderLedger]) -> None:
    ledger = make_ledger()
    not_ours = raw("lighter", "trade") | {"ask_account_id": 5, "bid_account_id": 6}  # derived
    unknown_market = raw("lighter", "order")  # market 0 before any order_books line
    report = ledger.ingest_lines(
        [json.dumps(unknown_market), MARKETS, json.dumps(not_ours), '{"status": "open"}'],
        format="lighter",
        venue="lighter",
        account=ACCOUNT,
    )
    # A line naming a market not mapped yet is no error: it waits for the map (its test below);
    # a trade of neither side, or no Lighter object at all, is wrong in any order: refused.
    reasons = [str(r.reason) for r in report.rejected]
    assert len(reasons) == 2, reasons
    assert "not account 1077's" in reasons[0]
    assert "neither a Lighter order" in reasons[1]
    assert report.counts["parked"] == 1
    assert ledger.order(f"ext-lighter-{ORDER_INDEX}").instrument == "ETH/USDC:USDC"
    with pytest.raises(ConfigurationError):
        ledger.ingest_lines([MARKETS], format="lighter", venue="dexB", account=ACCOUNT)


def test_an_order_read_before_its_market_map_waits_for_it_in_another_ingest(
    file_ledger_url: str, tmp_path: Path
) -> None:
    """The published order (market 0: a market sell of 36.0386 ETH, canceled by Lighter with
    ``canceled-margin-not-allowed``) alone, then the market map in a later ingest by another
    process: the order waits, parked, naming what for, and is booked as ETH/USDC:USDC when the
    map is recorded; the journal keeps the parked line, its settlement and the line read again."""
    order = raw("lighter", "order")
    db = file_ledger_url
    # Given the order line ingested alone (no market map anywhere)
    with OrderLedger(db) as ledger:
        assert _ingest(ledger, {"orders": [order]}) == {"parked": 1}
    # Then it is parked, not refused, and says what it waits for
    listed = run_cli("messages", "--parked", "--json", db=db, cwd=tmp_path)
    waiting = [json.loads(text) for text in listed.stdout.splitlines()]
    assert [(m["outcome"], m["reason"]) for m in waiting] == [
        ("parked", "waits for Lighter market 0's definition (order_books)")
    ]
    parked_id = waiting[0]["message_id"]
    assert cli_json("orders", db=db, cwd=tmp_path) == []

    # When the market map comes in another ingest, by another process
    path = tmp_path / "markets.jsonl"
    path.write_text(MARKETS + "\n", encoding="utf-8")
    run = ingest_lighter(str(path), db, tmp_path)
    assert run.returncode == 0, run.describe()

    # Then the order is booked on ETH/USDC:USDC as published (a market sell of 36.0386, canceled
    # with Lighter's reason), nothing stays parked, and the ledger still verifies
    with OrderLedger(db) as ledger:
        booked = ledger.order(f"ext-lighter-{ORDER_INDEX}")
        assert (booked.instrument, booked.side.value, booked.quantity, booked.status, booked.reason) == (
            "ETH/USDC:USDC", "sell", Decimal("36.0386"), Status.CANCELED, "canceled-margin-not-allowed",
        )  # fmt: skip
        assert list(ledger.audit.messages(parked=True)) == []
        journal = list(ledger.audit.messages())
        assert ledger.audit.verify().ok
    # And the journal keeps it all: the parked line as received, now set aside by the ledger;
    # the map; the line read again naming it; the settlement stating what the line waited for
    line, markets, again, settlement = journal
    assert (line.message_id, line.outcome, line.raw) == (
        parked_id,
        "ignored",
        json.dumps({"orders": [order]}),
    )
    assert line.reason is not None and line.reason.startswith("set aside by orderledger: Lighter market 0's")
    assert (markets.outcome, markets.raw) == ("ignored", MARKETS)
    assert (again.raw, again.outcome, again.line) == (line.raw, "applied", None)
    assert again.reason is not None and f"reads parked message {parked_id} again" in again.reason
    assert (settlement.format, settlement.message_id) == ("settlement", again.message_id + 1)
    record = json.loads(settlement.raw)
    assert (record["message_id"], record["action"], record["by"]) == (parked_id, "set_aside", "orderledger")
    assert record["parked"] == [
        {
            "part": 0,
            "message": {
                "type": "context", "venue": "lighter", "kind": "context:lighter_market", "value": "0",
                "waits": "waits for Lighter market 0's definition (order_books)",
            },
        }
    ]  # fmt: skip


def test_a_line_waiting_for_its_market_map_set_aside_by_hand_is_not_read_again(
    make_ledger: Callable[..., OrderLedger],
) -> None:
    ledger = make_ledger()
    # Given the published order (market 0) parked for want of a market map
    assert _ingest(ledger, {"orders": [raw("lighter", "order")]}) == {"parked": 1}
    (waiting,) = ledger.audit.messages(parked=True)
    # Then booking it by hand is refused while no map defines its market, with nothing written
    with pytest.raises(InvalidInputError, match="to book it: waits for Lighter market 0's definition"):
        ledger.venues.settle(
            waiting.message_id, reason="placed in Lighter's UI", by="bob", book=True, account=ACCOUNT
        )
    # And once a person sets it aside, a map recorded later reads nothing again
    ledger.venues.settle(waiting.message_id, reason="a market this desk never trades", by="alice")
    assert _ingest(ledger, MARKETS) == {"ignored": 1}
    assert list(ledger.orders()) == [] and list(ledger.audit.messages(parked=True)) == []


# The funding entry of Lighter's published account_all example response (WebSocket reference,
# apidocs.lighter.xyz/docs/websocket-reference): a long of 0.5 at rate 0.0001, change "0.001".
LIGHTER_FUNDING = {
    "timestamp": 1700000000,
    "market_id": 101,
    "funding_id": 2001,
    "change": "0.001",
    "rate": "0.0001",
    "position_size": "0.5",
    "position_side": "long",
}


def test_lighter_funding_payments_are_noted_or_refused_never_booked_with_a_guessed_sign(
    make_ledger: Callable[..., OrderLedger],
) -> None:
    # Given the account_all example's funding history (derived: its liquidations, positions,
    # shares and trades left out) and a positionFunding reply holding the same entry (derived:
    # Lighter publishes no example of that reply; its fields are the PositionFunding model's)
    ledger = make_ledger()
    channel = {"account": 10, "channel": "account_all:10", "funding_histories": {"1": [LIGHTER_FUNDING]}}
    channel["type"] = "update/account"
    reply = {"code": 200, "position_fundings": [LIGHTER_FUNDING]}
    # When both are ingested
    report = ledger.ingest_lines([json.dumps(channel), json.dumps(reply)], format="lighter", venue="lighter",
                                 account="10")  # fmt: skip
    # Then nothing is booked: the channel's payment is noted in the journal, the reply refused
    why = "Lighter documents neither the sign of a payment's change nor the unit of its timestamp"
    assert {k: v for k, v in report.counts.items() if v} == {"ignored": 1, "rejected": 1}
    (noted,) = [row["reason"] for row in list_messages(ledger.db) if row["outcome"] == "ignored"]
    assert f"1 Lighter funding payment(s) not booked: {why}" in noted
    assert [str(r.reason) for r in report.rejected] == [
        f"Lighter funding payments (position_fundings) are not booked: {why} (docs/venues.md#lighter);"
        " record them as cash_flow messages"
    ]
    assert list(list_messages(ledger.db, outcome="applied")) == []


# The trade object of Lighter's WebSocket trade channel, as ccxt quotes it (python/ccxt/pro/
# lighter.py, handle_liquidation's comment; ccxt commit 0194dcc9): bid 0.0346 @ 3028.85 by
# account 243008 with client index 27601, is_maker_ask false, maker_fee 20.
WS_TRADE = {
    "trade_id": 526801155,
    "tx_hash": "1998d9df580acb7540aa141cc369d6ef926d003b3062196d2007bca15f978ab208e0caae4ac5872b",
    "type": "trade",
    "market_id": 0,
    "size": "0.0346",
    "price": "3028.85",
    "usd_amount": "104.798210",
    "ask_id": 281475673670566,
    "bid_id": 562949291740362,
    "ask_client_id": 76303170,
    "bid_client_id": 27601,
    "ask_account_id": 99349,
    "bid_account_id": 243008,
    "is_maker_ask": False,
    "block_height": 102322769,
    "timestamp": 1763623734215,
    "taker_position_size_before": "0.0346",
    "taker_entry_quote_before": "104.359926",
    "taker_initial_margin_fraction_before": 500,
    "taker_position_sign_changed": True,
    "maker_fee": 20,
    "maker_position_size_before": "2.1277",
    "maker_entry_quote_before": "6444.179555",
    "maker_initial_margin_fraction_before": 200,
}


def test_a_websocket_trade_finds_the_order_whose_request_chose_its_index(
    make_ledger: Callable[..., OrderLedger],
) -> None:
    # Given account 243008's request "bid-1" that chose client index 27601 (derived: a limit buy
    # of 0.0346 ETH at 3030), then the stream's connected message and the trade, twice (WS then REST)
    ledger = make_ledger()
    asked = request(
        "bid-1",
        venue="lighter",
        account="243008",
        instrument="ETH/USDC:USDC",
        quantity="0.0346",
        price="3030",
        aliases={"client_index": "27601"},
    )
    assert ledger.ingest_lines(lines(asked)).counts["applied"] == 1
    connected = {"session_id": "8d354239-80e0-4b77-8763-87b6fef2f768", "type": "connected"}
    counts = _ingest(
        ledger,
        MARKETS,
        connected,
        {"channel": "account_all_trades:243008", "trades": {"0": [WS_TRADE]}},
        {"trades": [WS_TRADE]},
        account="243008",
    )
    # Then the market map and the connected message book nothing; the trade books once
    assert counts == {"ignored": 2, "applied": 1, "duplicate": 1}
    # And fills bid-1 whole: 0.0346 at 3028.85, as maker (the ask was the taker), paying the
    # maker rate: 20 millionths of usd_amount = 104.798210 × 20 / 1,000,000 = 0.0020959642 USDC
    state = ledger.order("bid-1")
    assert (state.status, state.filled_quantity) == (Status.FILLED, Decimal("0.0346"))
    assert [
        (t["trade_id"], t["quantity"], t["price"], t["liquidity"], t["fee"], t["fee_currency"])
        for t in list_trades(ledger.db)
    ] == [("526801155", "0.0346", "3028.85", "maker", "0.0020959642", "USDC")]
    assert list_trades(ledger.db)[0]["venue_order_id"] == "562949291740362"


def test_the_docs_example_file_books_what_docs_venues_md_says(tmp_path: Path) -> None:
    # Given docs/examples/lighter.jsonl: the market map, the published order (derived: open,
    # limit, client index 0 = an external order) by the account channel, its trade as our ask
    # by the channel and again by REST, then the order canceled-post-only after 10.2304 filled
    example = ROOT / "docs" / "examples" / "lighter.jsonl"
    db = f"sqlite:///{tmp_path / 'lighter.db'}"
    # When the real command ingests it
    run = ingest_lighter(str(example), db, tmp_path)
    # Then 5 lines: the map ignored, order, trade and cancel applied, the REST copy a duplicate
    assert parse_ingest(run.stdout).counts == {
        "applied": 3,
        "duplicate": 1,
        "parked": 0,
        "ignored": 1,
        "rejected": 0,
    }, run.describe()
    orders = cli_json("orders", db=db, cwd=tmp_path)
    assert [
        (
            o["client_order_id"],
            o["side"],
            o["quantity"],
            o["status"],
            o["filled_quantity"],
            o["average_price"],
        )
        for o in orders
    ] == [("ext-lighter-281474977354074", "sell", "36.0386", "canceled", "10.2304", "2958.75")]
    # And a short of 10.2304 (sold, nothing bought back): no P&L realized
    positions = cli_json("positions", db=db, cwd=tmp_path)
    assert [(p["quantity"], p["realized_pnl"]) for p in positions] == [("-10.2304", "0")]


def _bid_1(ledger: OrderLedger, client_index: str = "27601") -> None:
    """Account 243008's limit buy "bid-1" of 0.0346 ETH at 3030 with client index 27601 (derived)."""
    asked = request(
        "bid-1",
        venue="lighter",
        account="243008",
        instrument="ETH/USDC:USDC",
        quantity="0.0346",
        price="3030",
        aliases={"client_index": client_index},
    )
    assert ledger.ingest_lines(lines(asked)).counts["applied"] == 1


@pytest.mark.parametrize("rest_first", [True, False], ids=["rest-then-stream", "stream-then-rest"])
def test_the_fee_is_booked_once_whichever_copy_of_the_trade_comes_first(
    make_ledger: Callable[..., OrderLedger], rest_first: bool
) -> None:
    # Given bid-1, its trade from REST (derived: the stream's trade without maker_fee, as the
    # REST trade example carries no fee field) and from the account channel (with maker_fee 20)
    ledger = make_ledger()
    _bid_1(ledger)
    rest = {k: v for k, v in WS_TRADE.items() if k != "maker_fee"}
    stream = {"channel": "account_all_trades:243008", "trades": {"0": [WS_TRADE]}}
    copies = [{"trades": [rest]}, stream] if rest_first else [stream, {"trades": [rest]}]
    _ingest(ledger, MARKETS, *copies, account="243008")
    # Then one trade, with the stream's fee: 104.798210 × 20 / 1,000,000 = 0.0020959642 USDC
    # (a copy without a fee never erases one; a later copy with one completes the trade)
    assert [(t["trade_id"], t["quantity"], t["fee"], t["fee_currency"]) for t in list_trades(ledger.db)] == [
        ("526801155", "0.0346", "0.0020959642", "USDC")
    ]


def test_the_taker_side_pays_the_taker_rate_and_a_missing_rate_is_zero(
    make_ledger: Callable[..., OrderLedger],
) -> None:
    # Given the stream's trade seen by the ask's account 99349 (the taker: is_maker_ask false),
    # its order named by the client index 76303170 of "ask-1" (derived: a limit sell of 0.0346 at 3028)
    ledger = make_ledger()
    asked = request("ask-1", venue="lighter", account="99349", instrument="ETH/USDC:USDC", side="sell",
                    quantity="0.0346", price="3028", aliases={"client_index": "76303170"})  # fmt: skip
    assert ledger.ingest_lines(lines(asked)).counts["applied"] == 1
    # derived: another trade of another order (ask-2's), with a taker rate of 300
    with_rate = WS_TRADE | {"taker_fee": 300, "trade_id": 526801156, "ask_id": 281475673670567}
    _ingest(ledger, MARKETS, {"trades": [WS_TRADE]}, account="99349")
    # Then the trade without taker_fee costs 0 (Lighter leaves a zero rate out; ccxt books 0),
    rows = [(t["trade_id"], t["liquidity"], t["fee"]) for t in list_trades(ledger.db)]
    assert rows == [("526801155", "taker", "0")]
    # and one with taker_fee 300 costs 104.798210 × 300 / 1,000,000 = 0.031439463 USDC
    other = request("ask-2", venue="lighter", account="99349", instrument="ETH/USDC:USDC", side="sell",
                    quantity="0.0346", price="3028", aliases={"client_index": "76303171"})  # fmt: skip
    assert ledger.ingest_lines(lines(other)).counts["applied"] == 1
    _ingest(ledger, MARKETS, {"trades": [with_rate | {"ask_client_id": 76303171}]}, account="99349")
    fees = {t["trade_id"]: (t["fee"], t["fee_currency"]) for t in list_trades(ledger.db)}
    assert fees["526801156"] == ("0.031439463", "USDC")


def test_a_liquidation_books_the_venues_order_on_the_taker_side_only(
    make_ledger: Callable[..., OrderLedger],
) -> None:
    # Given account 99349 long 0.0346 ETH bought at 3030 (derived: "long-1" and its fill), then
    # the stream's trade as a liquidation (derived: type "liquidation", the ask's client index 0:
    # Lighter's own liquidation order sold 99349's position into the book, is_maker_ask false)
    ledger = make_ledger()
    bought = [
        request("long-1", venue="lighter", account="99349", instrument="ETH/USDC:USDC",
                quantity="0.0346", price="3030"),
        {"type": "fill", "client_order_id": "long-1", "trade_id": "own-1", "quantity": "0.0346",
         "price": "3030", "ts": "2025-11-20T07:00:00Z"},
    ]  # fmt: skip
    assert ledger.ingest_lines(lines(*bought)).counts["applied"] == 2
    liquidation = WS_TRADE | {"type": "liquidation", "ask_client_id": 0}
    counts = _ingest(ledger, MARKETS, {"trades": [liquidation]}, {"trades": [liquidation]}, account="99349")
    # Then an external market sell of the fill's size, tagged liquidation, filled, booked once
    assert counts == {"ignored": 1, "applied": 1, "duplicate": 1}
    forced = ledger.order("ext-lighter-281475673670566")
    assert (forced.external, forced.tags, forced.side.value, forced.order_type.value) == (
        True, {"liquidation": "true"}, "sell", "market",
    )  # fmt: skip
    assert (forced.status, forced.quantity, forced.filled_quantity) == (
        Status.FILLED,
        Decimal("0.0346"),
        Decimal("0.0346"),
    )
    # And the position is closed: realized (3028.85 − 3030) × 0.0346 = −1.15 × 0.0346 = −0.03979
    [position] = list_positions(ledger.db)
    assert (Decimal(position["quantity"]), Decimal(position["realized_pnl"])) == (0, Decimal("-0.03979"))
    # And the maker of the same liquidation (account 243008, bid-1 by its client index) books a
    # plain fill of its own order: no venue order, its maker fee 0.0020959642 USDC as above
    _bid_1(ledger)
    _ingest(ledger, MARKETS, {"trades": [liquidation]}, account="243008")
    assert sorted((o["client_order_id"], o["status"]) for o in list_orders(ledger.db)) == [
        ("bid-1", "filled"),
        ("ext-lighter-281475673670566", "filled"),
        ("long-1", "filled"),
    ]
    assert [t["fee"] for t in list_trades(ledger.db, client_order_id="bid-1")] == ["0.0020959642"]


def test_a_deleverage_books_the_venues_order_on_our_side(make_ledger: Callable[..., OrderLedger]) -> None:
    # Given the stream's trade as a deleverage seen by account 243008 (derived: type
    # "deleverage", the bid's client index 0: the venue closed 243008's short against another)
    ledger = make_ledger()
    adl = WS_TRADE | {"type": "deleverage", "bid_client_id": 0}
    _ingest(ledger, MARKETS, {"trades": [adl]}, account="243008")
    # Then an external market buy of 0.0346 tagged adl, filled at 3028.85 (maker fee as above)
    forced = ledger.order("ext-lighter-562949291740362")
    assert (forced.tags, forced.side.value, forced.status, forced.filled_quantity) == (
        {"adl": "true"}, "buy", Status.FILLED, Decimal("0.0346"),
    )  # fmt: skip
    assert [t["fee"] for t in list_trades(ledger.db)] == ["0.0020959642"]


def test_a_self_trade_books_both_of_our_orders(make_ledger: Callable[..., OrderLedger]) -> None:
    # Given account 243008's bid-1 (client index 27601) and ask-1 (client index 76303170, a limit
    # sell of 0.0346 at 3028: derived), and the stream's trade with both sides 243008's (derived)
    ledger = make_ledger()
    _bid_1(ledger)
    asked = request("ask-1", venue="lighter", account="243008", instrument="ETH/USDC:USDC", side="sell",
                    quantity="0.0346", price="3028", aliases={"client_index": "76303170"})  # fmt: skip
    assert ledger.ingest_lines(lines(asked)).counts["applied"] == 1
    both = WS_TRADE | {"ask_account_id": 243008}
    report = ledger.ingest_lines(
        [MARKETS, json.dumps({"trades": [both]}), json.dumps({"trades": [both]})],
        format="lighter",
        venue="lighter",
        account="243008",
    )
    # Then one line books two fills, the copy nothing, and the journal says it was a self-trade
    assert (report.counts["applied"], report.counts["duplicate"]) == (1, 1)
    applied = [row["reason"] for row in list_messages(ledger.db) if row["outcome"] == "applied"]
    assert applied[-1] == (
        "Lighter trade '526801155' is a self-trade: booked on both orders (the ask's and the bid's)"
    )
    # And each order is filled by its side: the ask was the taker (is_maker_ask false, no
    # taker_fee: 0), the bid the maker (104.798210 × 20 / 1,000,000 = 0.0020959642 USDC)
    rows = sorted(
        (t["client_order_id"], t["side"], t["quantity"], t["price"], t["liquidity"], t["fee"])
        for t in list_trades(ledger.db)
    )
    assert rows == [
        ("ask-1", "sell", "0.0346", "3028.85", "taker", "0"),
        ("bid-1", "buy", "0.0346", "3028.85", "maker", "0.0020959642"),
    ]
    # And the position is flat: sold and bought 0.0346 at the same price, nothing realized
    [position] = list_positions(ledger.db)
    assert (Decimal(position["quantity"]), Decimal(position["realized_pnl"])) == (0, 0)


@pytest.mark.parametrize(
    ("account", "changes"),
    [
        ("243008", {}),  # the bid, maker: maker_fee 20
        ("99349", {}),  # the ask, taker: no taker_fee, 0
        ("99349", {"type": "liquidation", "ask_client_id": 0}),  # the liquidated taker
        ("243008", {"type": "deleverage", "bid_client_id": 0}),  # deleveraged
    ],
    ids=["maker", "taker", "liquidation", "deleverage"],
)
def test_the_native_and_the_ccxt_routes_book_a_trade_alike(
    ccxt_pro: Any, account: str, changes: dict[str, Any]
) -> None:
    # Given the stream's trade (derived as named), once through --format lighter and once
    # through ccxt.pro's own account_all_trades handler then --format ccxt --venue lighter,
    trade = WS_TRADE | changes
    channel = {"channel": f"account_all_trades:{account}", "trades": {"0": [dict(trade)]}}
    native = LighterAdapter("lighter", account)
    native.messages(json.loads(MARKETS), [])
    ws = market(ccxt_pro, "lighter", **LIGHTER_ETH)
    client = Recorder()
    ws.handle_my_trades(client, json.loads(json.dumps(channel)))
    via_ccxt = payload_messages(client.last(), venue="lighter", account=account, notes=[])

    # Then both give the same request (for the venue's orders), fill, fee and liquidity
    def shown(messages: list[Message]) -> list[tuple[Any, ...]]:
        return [
            (m["type"], m.get("venue_order_id"), m.get("quantity"), m.get("price"), m.get("fee"),
             m.get("fee_currency"), m.get("liquidity"), m.get("tags"))
            for m in check_valid(messages)
        ]  # fmt: skip

    assert shown(native.messages(channel, [])) == shown(via_ccxt)
    assert [m["type"] for m in check_valid(via_ccxt)] == (["request", "fill"] if changes else ["fill"])


def test_a_liquidations_trades_on_separate_lines_grow_its_order(
    make_ledger: Callable[..., OrderLedger],
) -> None:
    # Given the liquidation above (account 99349's ask is Lighter's order 281475673670566) in
    # two trades of that order on separate lines (derived: sizes 0.02 and 0.0146, trade IDs
    # 526801155 and 526801157, usd_amount 0.02 × 3028.85 = 60.577 and 0.0146 × 3028.85 =
    # 44.221210, as the stream would state them),
    ledger = make_ledger()
    first = WS_TRADE | {"type": "liquidation", "ask_client_id": 0, "size": "0.02", "usd_amount": "60.577"}
    second = first | {"trade_id": 526801157, "size": "0.0146", "usd_amount": "44.221210"}
    counts = _ingest(ledger, MARKETS, {"trades": [first]}, {"trades": [second]}, account="99349")
    # Then both book: the order of 0.02 grows to 0.02 + 0.0146 = 0.0346 by an amendment
    assert counts == {"ignored": 1, "applied": 2}
    order = ledger.order("ext-lighter-281475673670566")
    assert (order.tags, order.quantity, order.filled_quantity, order.status) == (
        {"liquidation": "true"}, Decimal("0.0346"), Decimal("0.0346"), Status.FILLED,
    )  # fmt: skip
    kinds = [type(e).__name__ for e in ledger.audit.order_events(order.client_order_id)]
    assert kinds == ["OrderRequested", "OrderFilled", "OrderAmended", "OrderFilled"]
    # And the taker paid no fee (no taker_fee on the trades): 0 each
    assert [t["fee"] for t in list_trades(ledger.db)] == ["0", "0"]
