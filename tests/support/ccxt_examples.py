"""The worked example files docs/examples/ccxt-<venue>.jsonl, generated from the tested flows.

Each file is one venue flow of tests/support/ccxt_flows.py (published examples run through
ccxt 4.5.90's parsers and ccxt.pro's handlers, offline), one ccxt payload per line, ready for
``orderledger ingest --format ccxt --venue V --account A FILE``. docs/venues.md shows what each
one books; tests/adapters/test_ccxt_examples.py regenerates them in memory (failing when a
committed file differs) and ingests each.

    python -m tests.support.ccxt_examples           # report which files differ (exit 1 if any)
    python -m tests.support.ccxt_examples --write   # rewrite them
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support import ccxt_flows as flows

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES_DIR = ROOT / "docs" / "examples"


@dataclass(frozen=True)
class Example:
    """One example file: the ledger venue to ingest it with and how its lines are built."""

    name: str
    venue: str
    build: Callable[[Any, Any], list[Any]]
    """(ccxt, ccxt.pro) → the payloads, one per line."""
    account: str = "acc1"
    """The ``--account`` to ingest it with: Hyperliquid's is the liquidated user's address, as a
    liquidation is ours only for the account it names (docs/venues.md, "Whose liquidation")."""

    @property
    def path(self) -> Path:
        return EXAMPLES_DIR / f"ccxt-{self.name}.jsonl"


def _binance(ccxt_lib: Any, ccxt_pro: Any) -> list[Any]:
    # The stream first (order → partial fill → fill, then the close), then REST's copy of it.
    return [*flows.binanceusdm_ws_flow(ccxt_pro), *flows.binanceusdm_rest_flow(ccxt_lib)]


def _okx(ccxt_lib: Any, ccxt_pro: Any) -> list[Any]:
    # The orders channel's trades and orders, then the REST fills and orders (duplicates).
    return [*flows.okx_ws_flow(ccxt_pro), *flows.okx_rest_flow(ccxt_lib)]


def _hyperliquid(ccxt_lib: Any, ccxt_pro: Any) -> list[Any]:
    # The opening order and fill, then the liquidation fill by REST and by the userFills push.
    opening, rest_fill, ws_fill = flows.hyperliquid_liquidation_flow(ccxt_lib, ccxt_pro)
    return [*opening, rest_fill, ws_fill]


EXAMPLES = (
    Example("binance", "binanceusdm", _binance),
    Example("okx", "okx", _okx),
    Example("bybit", "bybit", flows.bybit_linear_flow),
    Example("kraken", "kraken", lambda _lib, pro: flows.kraken_ws_flow(pro)),
    Example("hyperliquid", "hyperliquid", _hyperliquid, flows.LIQUIDATED_USER),
    Example("lighter", "lighter", lambda lib, _pro: flows.lighter_external_flow(lib)),
)


def render(example: Example, ccxt_lib: Any, ccxt_pro: Any) -> str:
    """The file's text: one compact JSON payload per line."""
    lines = [
        json.dumps(p, ensure_ascii=False, separators=(",", ":")) for p in example.build(ccxt_lib, ccxt_pro)
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    import ccxt
    import ccxt.pro

    write = "--write" in argv
    differing = []
    for example in EXAMPLES:
        text = render(example, ccxt, ccxt.pro)
        current = example.path.read_text("utf-8") if example.path.exists() else None
        if current == text:
            continue
        differing.append(example.path)
        if write:
            example.path.write_text(text, "utf-8")
    for path in differing:
        print(f"{'wrote' if write else 'differs'}: {path.relative_to(ROOT)}")
    return 0 if write or not differing else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
