"""The hand-written session of the command-line tests (``tests/cli/test_cli.py``): eight orders
on two accounts and two venues, whose figures that module computes by hand; a database holding
it, and how its figures are compared."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.support.cli import Run, cli_json, ingest, json_many, jsonl, run_cli, write_lines


def session_request(
    coid: str,
    account: str,
    venue: str,
    instrument: str,
    side: str,
    qty: str,
    price: str,
    ts: str,
    **extra: Any,
) -> dict[str, Any]:
    """A limit order's request, as the session's requests are written."""
    return {
        "type": "request",
        "client_order_id": coid,
        "account": account,
        "venue": venue,
        "instrument": instrument,
        "side": side,
        "order_type": "limit",
        "quantity": qty,
        "price": price,
        **extra,
        "ts": ts,
    }


def session_fill(trade_id: str, qty: str, price: str, ts: str, **who: Any) -> dict[str, Any]:
    """A fill naming its order by ``who`` (client order ID, venue and venue order ID)."""
    return {"type": "fill", **who, "trade_id": trade_id, "quantity": qty, "price": price, "ts": ts}


D5, D6 = "2026-01-05T", "2026-01-06T"
MM, TREND = {"tags": {"strategy": "mm"}}, {"tags": {"strategy": "trend"}}
USD_FEE = {"fee_currency": "USD"}

SCENARIO = jsonl(
    # o-1: buy 2 BTC-USD, filled in two trades at 100 and 102 (average 101), fees 0.1 + 0.1
    session_request("o-1", "acc1", "V1", "BTC-USD", "buy", "2", "100", D5 + "10:00:00Z", **MM),
    {"type": "accepted", "client_order_id": "o-1", "venue_order_id": "v-1", "ts": D5 + "10:00:01Z"},
    session_fill("t-1", "1", "100", D5 + "10:00:02Z", venue="V1", venue_order_id="v-1", fee="0.1", **USD_FEE),
    session_fill("t-2", "1", "102", D5 + "10:00:03Z", venue="V1", venue_order_id="v-1", fee="0.1", **USD_FEE),
    # o-2: sell 1 BTC-USD at 110 against the average 101: realizes 9, fee 0.2
    session_request("o-2", "acc1", "V1", "BTC-USD", "sell", "1", "110", D6 + "09:00:00Z", **TREND),
    {"type": "accepted", "client_order_id": "o-2", "venue_order_id": "v-2", "ts": D6 + "09:00:01Z"},
    session_fill("t-3", "1", "110", D6 + "09:00:02Z", client_order_id="o-2", fee="0.2", **USD_FEE),
    # o-3: buy 5 ETH-USD, 2 filled (no fee): stays open
    session_request("o-3", "acc2", "V2", "ETH-USD", "buy", "5", "50", D6 + "09:10:00Z", **MM),
    {"type": "accepted", "client_order_id": "o-3", "venue_order_id": "v-3", "ts": D6 + "09:10:01Z"},
    session_fill("t-4", "2", "50", D6 + "09:10:02Z", client_order_id="o-3"),
    # o-4: rejected by the venue
    session_request("o-4", "acc2", "V2", "ETH-USD", "sell", "1", "60", D6 + "09:20:00Z"),
    {"type": "rejected", "client_order_id": "o-4", "reason": "insufficient margin", "ts": D6 + "09:20:01Z"},
    # o-5: accepted, then canceled
    session_request("o-5", "acc1", "V2", "ETH-USD", "buy", "1", "40", D6 + "09:30:00Z"),
    {"type": "accepted", "client_order_id": "o-5", "venue_order_id": "v-5", "ts": D6 + "09:30:01Z"},
    {"type": "cancel_requested", "client_order_id": "o-5", "ts": D6 + "09:30:02Z"},
    {"type": "canceled", "client_order_id": "o-5", "ts": D6 + "09:30:03Z"},
    # o-6: accepted, resting
    session_request("o-6", "acc2", "V1", "BTC-USD", "buy", "1", "90", D6 + "09:40:00Z"),
    {"type": "accepted", "client_order_id": "o-6", "venue_order_id": "v-6", "ts": D6 + "09:40:01Z"},
    # o-7: a fill naming the venue order ID before any ack (an implied acknowledgement): short 0.5
    session_request("o-7", "acc2", "V2", "BTC-USD", "sell", "0.5", "104", D6 + "10:00:00Z"),
    session_fill(
        "t-5",
        "0.5",
        "104",
        D6 + "10:00:01Z",
        client_order_id="o-7",
        venue_order_id="v-7",
        fee="0.05",
        **USD_FEE,
    ),
    # o-8: filled, then the fill is busted: the order reopens, the trade disappears
    session_request("o-8", "acc1", "V1", "ETH-USD", "buy", "1", "30", D6 + "11:00:00Z"),
    session_fill("t-6", "1", "30", D6 + "11:00:01Z", client_order_id="o-8", venue="V1", venue_order_id="v-8"),
    {
        "type": "fill_busted",
        "client_order_id": "o-8",
        "trade_id": "t-6",
        "reason": "erroneous",
        "ts": D6 + "11:00:02Z",
    },
)
SCENARIO_EVENTS = 25  # one per line, plus the implied acknowledgements of t-5 and t-6


def dec(value: str | None) -> Decimal | None:
    """Decimal equality, so that "9" and "9.0" compare equal; the JSON must carry a string."""
    if value is None:
        return None
    assert isinstance(value, str), f"{value!r}: decimals travel as JSON strings"
    return Decimal(value)


def decs(mapping: dict[str, str]) -> dict[str, Decimal | None]:
    return {k: dec(v) for k, v in mapping.items()}


@dataclass(frozen=True)
class Ledger:
    """A database holding SCENARIO, and where to run commands against it."""

    db: str
    cwd: Path
    path: Path

    def run(self, *args: str, stdin: str | None = None) -> Run:
        return run_cli(*args, db=self.db, cwd=self.cwd, stdin=stdin)

    def json(self, *args: str) -> Any:
        return cli_json(*args, db=self.db, cwd=self.cwd)

    def json_many(self, *commands: tuple[str, ...]) -> list[Any]:
        return json_many(commands, db=self.db, cwd=self.cwd)


def ingest_scenario(db: str, folder: Path) -> Ledger:
    """SCENARIO ingested into the database ``db``, with ``folder`` as the commands' directory."""
    path = write_lines(folder / "session.jsonl", SCENARIO)
    run, summary = ingest(path, db=db, cwd=folder)
    assert run.returncode == 0 and run.stderr == "", run.describe()
    assert summary.counts["applied"] == len(SCENARIO), run.describe()
    return Ledger(db, folder, path)


def stored(ledger: Ledger) -> tuple[Any, Any]:
    """Everything a bad input must leave alone: every order and every trade."""
    orders, trades = ledger.json_many(("orders",), ("trades",))
    return orders, trades
