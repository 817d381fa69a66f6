"""``--format lighter``: Lighter's own order and trade objects, from the examples ccxt quotes in
its source (python/ccxt/lighter.py, ccxt 4.5.90: the REST order at lines 2199-2233, the REST
trade at lines 2861-2884; kept in fixtures/ccxt_venues.json). Fields changed from the published
values are marked "derived" where they are set.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal

import pytest

from domain.values import Status
from infrastructure.adapters.aliases import client_index_alias
from infrastructure.errors import ConfigurationError
from infrastructure.ledger import OrderLedger
from infrastructure.queries import list_positions, list_trades
from tests.adapters.ccxt_flows import raw
from tests.integration.helpers import lines, request

ACCOUNT = "1077"  # Lighter's account index: owner_account_index of the published order
ORDER_INDEX = 281474977354074  # the published order's order_index
MARKETS = json.dumps({"order_books": [{"symbol": "ETH", "market_id": 0}]})  # derived: ETH is market 0


def _ingest(ledger: OrderLedger, *payloads: object, account: str = ACCOUNT) -> dict[str, int]:
    text = [p if isinstance(p, str) else json.dumps(p) for p in payloads]
    report = ledger.ingest_lines(text, fmt="lighter", venue="lighter", account=account)
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
    state = ledger.get_order("c-eth-1")
    assert (state.status, state.filled_quantity, state.venue_order_id) == (
        Status.CANCELED,
        Decimal("10.2304"),
        str(ORDER_INDEX),
    )
    assert ledger.order_events("c-eth-1")[-1].reason == "canceled-post-only"  # type: ignore[attr-defined]
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
        fmt="lighter",
        venue="lighter",
        account=ACCOUNT,
    )
    reasons = [str(r.reason) for r in report.rejected]
    assert len(reasons) == 3, reasons
    assert "market 0 is unknown" in reasons[0]
    assert "not account 1077's" in reasons[1]
    assert "neither a Lighter order" in reasons[2]
    with pytest.raises(ConfigurationError):
        ledger.ingest_lines([MARKETS], fmt="lighter", venue="dexB", account=ACCOUNT)
