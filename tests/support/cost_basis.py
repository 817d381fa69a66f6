"""The cost-basis session: four buys at different prices, then one sell that closes two lots.

Each rule matches the sell against other lots, so the figures tell the rules apart
(docs/semantics.md, "the same fills under each rule").
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.support.integration import fill, lines, request

# Buy 1 @ 100, 1 @ 140, 1 @ 120, 1 @ 110 (fee 1 USDT each), then sell 2 @ 130 (fee 2 USDT).
BUYS = ("100", "140", "120", "110")
SESSION = lines(
    *(
        request(f"b{n}", instrument="ETH-USDT", quantity="1", price=px, seconds=2 * n)
        for n, px in enumerate(BUYS)
    ),
    *(
        fill(f"b{n}", f"t{n + 1}", "1", px, seconds=2 * n + 1, fee="1", fee_currency="USDT")
        for n, px in enumerate(BUYS)
    ),
    request("s", instrument="ETH-USDT", side="sell", quantity="2", price="130", seconds=10),
    fill("s", "t5", "2", "130", seconds=11, fee="2", fee_currency="USDT"),
)


def position_of(rows: list[dict[str, Any]]) -> tuple[Decimal, ...]:
    """The one position row's quantity, average price, realized and unrealized P&L."""
    (row,) = rows
    return tuple(Decimal(row[k]) for k in ("quantity", "average_price", "realized_pnl", "unrealized_pnl"))
