"""The CLI sorts as the Python and HTTP APIs do: --sort takes the columns the list declares
(``listing.LISTINGS``), amounts compared as numbers, and a wrong one is refused naming --sort."""

from __future__ import annotations

import json
from pathlib import Path

from orderledger.infrastructure.application.ledger import OrderLedger
from tests.support.cli import run_cli
from tests.support.http_api import fill, request


def test_trades_sort_by_price_as_numbers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    # Given three fills at 100.25, 99.5 and 1000 (as text, "99.5" sorts after "100.25" and
    # "1000" between them)
    with OrderLedger(url) as ledger:
        messages = [request("c-1", quantity="3")]
        messages += [fill("c-1", f"t-{i}", "1", price) for i, price in enumerate(("100.25", "99.5", "1000"))]
        ledger.ingest_lines([json.dumps(m) for m in messages])
    # When the blotter is sorted by price, highest first
    done = run_cli("trades", "--sort=-price", "--json", db=url, cwd=tmp_path)
    # Then 1000 > 100.25 > 99.5
    assert done.returncode == 0, done
    assert [t["price"] for t in json.loads(done.stdout)] == ["1000", "100.25", "99.5"]
    # And a column trades do not have is refused, naming the option
    refused = run_cli("trades", "--sort=status", db=url, cwd=tmp_path)
    assert refused.returncode == 2 and "--sort" in refused.stderr, refused
