"""A ledger with a few rows in every list, and each list's endpoint: what the paging tests page
through (tests/http/test_http_paging.py, tests/http/test_cursor_secret.py)."""

from __future__ import annotations

import json
from typing import Any

from orderledger.infrastructure.application.ledger import OrderLedger
from tests.support.http_api import fill, request

# Prices chosen so that text order and numeric order differ ("99.5" > "100.25" as text) and two
# fills tie on price (the tiebreak decides between them); order m-1 is a market order (no price).
PRICES = ("100", "99.5", "100.25", "100", "7", "1000")
INSTRUMENTS = ("BTC-USDT",) * 4 + ("ETH-USDT", "SOL-USDT")
PARENTS = ("P1", "P1", "P2", "P3", "P3", "P3")


def definition(instrument: str, contract_size: str, ts: str) -> dict[str, Any]:
    """An okx swap's definition (docs/messages.md, "Instruments")."""
    return {
        "type": "instrument",
        "venue": "okx",
        "instrument": instrument,
        "kind": "swap",
        "contract_size": contract_size,
        "settle_currency": "USDT",
        "base_currency": instrument.split("-")[0],
        "quote_currency": "USDT",
        "ts": ts,
    }


def seed(ledger: OrderLedger, account: str = "alpha") -> None:
    """Six limit orders and a market order of ``account`` in three instruments, under three
    parents, each filled once; one fill rejected (the journal holds a rejected line), a fill
    nobody requested (parked); two okx swaps defined, one of them twice."""
    lines = []
    for i, (price, instrument, parent) in enumerate(zip(PRICES, INSTRUMENTS, PARENTS, strict=True)):
        cid = f"{account}-c-{i}"
        ts = f"2026-11-20T10:00:0{i}Z"
        details = {"price": price, "quantity": str(i + 1), "instrument": instrument, "parent_id": parent}
        lines.append(request(cid, account=account, ts=ts, **details))
        lines.append(fill(cid, f"t-{i}", "1", price, ts=f"2026-11-20T10:01:0{5 - i}Z"))
    market = {**request(f"{account}-m-1", account=account, order_type="market"), "price": None}
    lines += [market, fill(f"{account}-m-1", "t-m", "1", "50"), fill(f"{account}-c-0", "t-bad", "-1")]
    lines.append(fill(f"{account}-nobody", "t-p", "1", "1"))
    lines += [
        definition("BTC-USDT-SWAP", "0.01", "2026-11-19T00:00:00Z"),
        definition("ETH-USDT-SWAP", "0.1", "2026-11-19T00:00:00Z"),
        definition("BTC-USDT-SWAP", "0.001", "2026-11-20T00:00:00Z"),
    ]
    ledger.ingest_lines([json.dumps(line) for line in lines])


PATHS: dict[str, tuple[str, dict[str, str]]] = {
    "orders": ("/orders", {}),
    "trades": ("/trades", {}),
    "events": ("/events", {}),
    "messages": ("/messages", {}),
    "parked": ("/messages", {"parked": "true"}),
    "positions": ("/positions", {}),
    "instruments": ("/instruments", {"all_versions": "true"}),
    "parents": ("/parents", {}),
}
"""Each list's endpoint and the query that selects it."""
