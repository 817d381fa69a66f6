"""A desk exposed to BTC on four venues, for the exposure tests (Python, CLI, HTTP, the page) and
docs/risk.md: the messages of docs/examples/exposure.jsonl.

The figures the tests expect are worked out here, once, by hand.

Definitions:
- spot-a ``BTC/USDT``: spot, base BTC, quote USDT (one unit = 1 BTC);
- perp-b ``BTC-PERP``: swap, contract size 0.5, underlying BTC, quote USDT;
- opt-c ``BTC-C70000``: option, call, contract size 1, underlying BTC, quote USDT;
  opt-c ``BTC-P50000``: option, put, contract size 1, underlying BTC, quote USDT;
- inv-d ``BTCUSD``: inverse swap, contract size 100 (USD), base BTC, quote USD;
- spot-a ``ETH-USDT``: no definition (it is its own underlying).

Marks: BTC/USDT 62000 (spot-a); BTC-PERP 62100 (perp-b); BTC 62050 and BTC-C70000 1400 (opt-c:
the option's own mark is its premium; its value uses the underlying's mark at its venue);
BTCUSD 64000 (inv-d). ETH-USDT has none.

Positions (filled):
- alpha: +2 BTC/USDT @ 60000 → 2 × 1 = 2 BTC, value 2 × 62000 = 124000 USDT;
  +1 BTC-C70000 @ 1500 → 1 × 1 × (+1, a call) = 1 BTC, value 1 × 62050 = 62050 USDT;
  +10 ETH-USDT @ 3000 → 10 units of ETH-USDT, no mark: no value (unpriced);
- beta: −3 BTC-PERP @ 61000 → −3 × 0.5 = −1.5 BTC, value −1.5 × 62100 = −93150 USDT;
  +620 BTCUSD @ 62000 → 620 × 100 / 64000 = 0.96875 BTC, value 0.96875 × 64000 = 62000 USD.

Open orders (requested, not filled):
- alpha buys 1 BTC/USDT limit 59000 → long side +1 BTC, 59000 USDT;
- alpha buys 2 BTC-P50000 limit 300 → a put: 2 × 1 × (−1) = −2 BTC, short side, valued at the
  underlying's mark: −2 × 62050 = −124100 USDT;
- beta sells 2 BTC-PERP limit 63000 → −2 × 0.5 = −1 BTC short side, −1 × 63000 = −63000 USDT;
- beta buys 1 BTC-PERP market → at the mark 62100: +0.5 BTC long side, 0.5 × 62100 = 31050 USDT;
- beta sells 1280 BTCUSD limit 64000 → −1280 × 100 / 64000 = −2 BTC short side, −2 × 64000 =
  −128000 USD.

By account and underlying:
- alpha BTC: net 2 + 1 = 3 (options 1); value 124000 + 62050 = 186050 USDT; open long +1, open
  short −2; worst long 3 + 1 = 4, worst short 3 − 2 = 1; worst long value 186050 + 59000 =
  245050 USDT; worst short value 186050 − 124100 = 61950 USDT;
  gross value |124000| + |62050| = 186050 USDT (both long: the net);
- alpha ETH-USDT: net 10, no value, unmapped and unpriced;
- beta BTC: net −1.5 + 0.96875 = −0.53125; value −93150 USDT and 62000 USD; open long +0.5, open
  short −1 − 2 = −3; worst long −0.53125 + 0.5 = −0.03125, worst short −0.53125 − 3 = −3.53125;
  worst long value −93150 + 31050 = −62100 USDT, 62000 USD; worst short value −93150 − 63000 =
  −156150 USDT, 62000 − 128000 = −66000 USD; gross value |−93150| = 93150 USDT and 62000 USD.

By underlying (across accounts), BTC: net 3 − 0.53125 = 2.46875 (options 1); value 186050 −
93150 = 92900 USDT, 62000 USD; open long 1 + 0.5 = 1.5, open short −2 − 3 = −5; worst long
2.46875 + 1.5 = 3.96875, worst short 2.46875 − 5 = −2.53125; gross value 186050 + 93150 =
279200 USDT, 62000 USD.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "exposure.jsonl"
DESK: list[dict[str, Any]] = [json.loads(line) for line in EXAMPLE.read_text("utf-8").splitlines()]
"""The desk's messages (module docstring)."""

D = Decimal
BTC_LEGS = ("inv-d:BTCUSD", "opt-c:BTC-C70000", "opt-c:BTC-P50000", "perp-b:BTC-PERP", "spot-a:BTC/USDT")

NOT_CONVERTED: dict[str, Any] = {"in_currency": None, "net_in": None, "gross_in": None, "unconverted": ()}
"""A row's figures in one currency when none is asked."""

BY_ACCOUNT: list[dict[str, Any]] = [
    {
        "account": "alpha", "venue": None, "underlying": "BTC",
        "net_units": D("3"), "net_value": {"USDT": D("186050")}, "gross_value": {"USDT": D("186050")},
        "option_units": D("1"),
        "open_long_units": D("1"), "open_short_units": D("-2"),
        "worst_long_units": D("4"), "worst_short_units": D("1"),
        "worst_long_value": {"USDT": D("245050")}, "worst_short_value": {"USDT": D("61950")},
        "instruments": ("opt-c:BTC-C70000", "opt-c:BTC-P50000", "spot-a:BTC/USDT"),
        "unmapped": (), "unpriced": (), **NOT_CONVERTED,
    },
    {
        "account": "alpha", "venue": None, "underlying": "ETH-USDT",
        "net_units": D("10"), "net_value": {}, "gross_value": {}, "option_units": D("0"),
        "open_long_units": D("0"), "open_short_units": D("0"),
        "worst_long_units": D("10"), "worst_short_units": D("10"),
        "worst_long_value": {}, "worst_short_value": {},
        "instruments": ("spot-a:ETH-USDT",), "unmapped": ("spot-a:ETH-USDT",),
        "unpriced": ("spot-a:ETH-USDT",), **NOT_CONVERTED,
    },
    {
        "account": "beta", "venue": None, "underlying": "BTC",
        "net_units": D("-0.53125"), "net_value": {"USD": D("62000"), "USDT": D("-93150")},
        "gross_value": {"USD": D("62000"), "USDT": D("93150")}, "option_units": D("0"),
        "open_long_units": D("0.5"), "open_short_units": D("-3"),
        "worst_long_units": D("-0.03125"), "worst_short_units": D("-3.53125"),
        "worst_long_value": {"USD": D("62000"), "USDT": D("-62100")},
        "worst_short_value": {"USD": D("-66000"), "USDT": D("-156150")},
        "instruments": ("inv-d:BTCUSD", "perp-b:BTC-PERP"), "unmapped": (), "unpriced": (), **NOT_CONVERTED,
    },
]  # fmt: skip
"""The desk's exposure by account and underlying (module docstring)."""

BTC_ACROSS_ACCOUNTS: dict[str, Any] = {
    "account": None, "venue": None, "underlying": "BTC",
    "net_units": D("2.46875"), "net_value": {"USD": D("62000"), "USDT": D("92900")}, "option_units": D("1"),
    "gross_value": {"USD": D("62000"), "USDT": D("279200")},
    "open_long_units": D("1.5"), "open_short_units": D("-5"),
    "worst_long_units": D("3.96875"), "worst_short_units": D("-2.53125"),
    # worst long: 186050 + 59000 − 93150 + 31050 = 182950 USDT, 62000 USD
    "worst_long_value": {"USD": D("62000"), "USDT": D("182950")},
    # worst short: 186050 − 124100 − 93150 − 63000 = −94200 USDT, 62000 − 128000 = −66000 USD
    "worst_short_value": {"USD": D("-66000"), "USDT": D("-94200")},
    "instruments": BTC_LEGS, "unmapped": (), "unpriced": (), **NOT_CONVERTED,
}  # fmt: skip
"""BTC across accounts (module docstring)."""


def exact(data: Any) -> Any:
    """JSON figures read back as numbers (``"3.0"`` and ``"3"`` are one figure): amounts as
    Decimals, lists as tuples, so rows compare with the expected ones above."""
    if isinstance(data, dict):
        return {k: exact(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return tuple(exact(v) for v in data)
    if isinstance(data, str):
        try:
            return Decimal(data)
        except ArithmeticError:
            return data
    return data


def expected(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Expected rows in the form :func:`exact` reads answers into."""
    return [exact({k: str(v) if isinstance(v, Decimal) else v for k, v in row.items()}) for row in rows]


__all__ = ["BTC_ACROSS_ACCOUNTS", "BY_ACCOUNT", "DESK", "exact", "expected"]
