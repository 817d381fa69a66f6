"""The proposal → order → trade session the CLI, query-function and HTTP tests of ``parent_id`` share.

The session (one instrument, one account, fills in this log order; figures by hand):

  A  buy 10 @ 100, parent P1, fee 1     → long 10, cost 1000,            realized   0
  B  sell 4 @ 110, parent P1, fee 0.5   → long 6,  (110 − 100) × 4     = realized  40
  C  sell 6 @ 95,  parent P2, fee 0.25  → flat,    (95 − 100) × 6      = realized −30
  D  buy 2 @ 90,   no parent, fee 0.1   → long 2,                        realized   0
  E  buy 1 @ 100,  no parent, fee 0.05  → long 3,                        realized   0
  E  requested again with parent P2: the order learns its parent after its fill.

By parent: P1 = 0 + 40 = 40, fees 1 + 0.5 = 1.5, net 38.5, 2 fills;
           P2 = −30 + 0 = −30, fees 0.25 + 0.05 = 0.3, net −30.3, 2 fills (E's fill counts:
           a trade belongs to its order's parent, even one learned after the fill);
           (none) = D: 0, fee 0.1, net −0.1, 1 fill.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.support.integration import fill, lines, request

SESSION = lines(
    request("A", parent_id="P1"),
    fill("A", "tA", "10", "100", seconds=1, fee="1", fee_currency="USDT"),
    request("B", seconds=2, side="sell", quantity="4", price="110", parent_id="P1"),
    fill("B", "tB", "4", "110", seconds=3, fee="0.5", fee_currency="USDT"),
    request("C", seconds=4, side="sell", quantity="6", price="95", parent_id="P2"),
    fill("C", "tC", "6", "95", seconds=5, fee="0.25", fee_currency="USDT"),
    request("D", seconds=6, quantity="2", price="90"),
    fill("D", "tD", "2", "90", seconds=7, fee="0.1", fee_currency="USDT"),
    request("E", seconds=8, quantity="1", price="100"),
    fill("E", "tE", "1", "100", seconds=9, fee="0.05", fee_currency="USDT"),
    request("E", seconds=10, quantity="1", price="100", parent_id="P2"),
)


EXPECTED_PNL = [
    # (parent, P&L currency, realized, net, fees, fills)
    ("(none)", "USDT", Decimal("0"), Decimal("-0.1"), {"USDT": Decimal("0.1")}, 1),
    ("P1", "USDT", Decimal("40"), Decimal("38.5"), {"USDT": Decimal("1.5")}, 2),
    ("P2", "USDT", Decimal("-30"), Decimal("-30.3"), {"USDT": Decimal("0.3")}, 2),
]


def pnl_rows(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (
            r["parent"],
            r["pnl_currency"],
            Decimal(r["realized_pnl"]),
            None if r["realized_pnl_net"] is None else Decimal(r["realized_pnl_net"]),
            {k: Decimal(v) for k, v in r["fees"].items()},
            r["fills"],
        )
        for r in rows
    ]


def trade_rows(rows: list[dict[str, Any]]) -> list[tuple[str, str, str | None]]:
    return [(r["client_order_id"], r["trade_id"], r["parent_id"]) for r in rows]
