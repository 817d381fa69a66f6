"""A venue's report that names an order of the ledger but states another instrument, side or
account than the order's is refused, alone, with the field and both values, journaled, the
store untouched: in every format, through the real command, on SQLite and PostgreSQL (FIX:
tests/cli/test_fix_venues.py, ``test_a_report_that_contradicts_the_order_is_refused_alone``).

Payloads: each contradicting report is a published one with only the contradicted field changed:
Hyperliquid's NEAR fill of our resting order (tests/support/ccxt_flows.py,
``counterparty_fill``, from ccxt's recorded responses) natively and through ccxt's own
Hyperliquid parsers; Tradier's Orders reference example as docs/examples/tradier.jsonl polls it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.ccxt_flows import HYPERLIQUID_NEAR, OUR_OID, OURS, counterparty_fill, market, resting_order
from tests.support.cli import ROOT, cli_json, parse_ingest, run_cli

TRADIER = [
    json.loads(line) for line in (ROOT / "docs" / "examples" / "tradier.jsonl").read_text().splitlines()
]


def _case(name: str, ccxt_lib: Any) -> tuple[list[str], list[Any], Any, str]:
    """(ingest options, the lines that book the order, the contradicting line, the reason)."""
    ours = f"ext-hyperliquid-{OUR_OID}"
    side = f"order '{ours}' has side 'buy', but the report states side 'sell'"
    if name == "hyperliquid":
        # our resting buy (orderStatus), then its fill in an info userFills reply as a sale ("A")
        options = ["--format", "hyperliquid", "--venue", "hyperliquid", "--account", OURS]
        return (
            options,
            [{"status": "order", "order": resting_order()}],
            [counterparty_fill() | {"side": "A"}],
            side,
        )
    if name == "ccxt":
        rest = market(ccxt_lib, "hyperliquid", **HYPERLIQUID_NEAR)
        options = ["--format", "ccxt", "--venue", "hyperliquid", "--account", OURS]
        trade = rest.parse_trade(counterparty_fill() | {"side": "A"})
        return options, [[rest.parse_order(resting_order())]], [trade], side
    # Tradier: order 228176 (a buy of 50 AAPL) partly filled, then the poll that fills it, naming MSFT
    options = ["--format", "tradier", "--venue", "tradier", "--account", "VA000000"]
    poll = json.loads(json.dumps(TRADIER[2]))
    poll["order"]["symbol"] = "MSFT"
    return options, [TRADIER[1]], poll, "instrument ('AAPL', not 'MSFT')"


@pytest.mark.parametrize("name", ["hyperliquid", "ccxt", "tradier"])
def test_a_report_stating_another_side_or_instrument_is_refused(
    name: str, stored_url: str, tmp_path: Path, ccxt_lib: Any
) -> None:
    options, booking, contradicting, reason = _case(name, ccxt_lib)
    # Given the order booked by its own report(s), and what the store holds then,
    first = tmp_path / "first.jsonl"
    first.write_text("".join(json.dumps(p) + "\n" for p in booking))
    assert run_cli("ingest", *options, str(first), db=stored_url, cwd=tmp_path).returncode == 0
    before = [cli_json(view, db=stored_url, cwd=tmp_path) for view in ("orders", "trades", "positions")]
    # When the contradicting report follows through the real command
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(contradicting) + "\n")
    run = run_cli("ingest", *options, str(bad), db=stored_url, cwd=tmp_path)
    # Then it is refused with the field and both values, journaled, and nothing of it is stored
    assert run.returncode == 1 and parse_ingest(run.stdout).counts["rejected"] == 1, run.describe()
    rejected = [
        json.loads(line)
        for line in run_cli(
            "messages", "--outcome", "rejected", "--json", db=stored_url, cwd=tmp_path
        ).stdout.splitlines()
    ]
    assert len(rejected) == 1 and reason in rejected[0]["reason"], rejected
    assert rejected[0]["events"] == 0
    after = [cli_json(view, db=stored_url, cwd=tmp_path) for view in ("orders", "trades", "positions")]
    assert after == before
