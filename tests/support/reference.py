"""The reference position, written from docs/semantics.md alone ("Positions", "Venue time",
"Cost basis") in exact fractions: what the ledger's folds must agree with for any arrival order."""

from __future__ import annotations

from fractions import Fraction


def _time_order(trade_id: str) -> tuple[int, int, str]:
    return (0, int(trade_id), "") if trade_id.isdigit() else (1, 0, trade_id)


def reference_position(
    fills: list[tuple[int, str, str, Fraction, Fraction]], rule: str
) -> tuple[Fraction, Fraction]:
    """(quantity, realized) of fills (second, trade ID, order, signed quantity, price) under ``rule``."""
    lots: list[list[Fraction]] = []  # [signed quantity, price]
    realized = Fraction(0)
    for _, _, _, qty, price in sorted(fills, key=lambda f: (f[0], _time_order(f[1]), f[2])):
        held = sum((lot[0] for lot in lots), Fraction(0))
        if held == 0 or (held > 0) == (qty > 0):
            if rule == "average" and lots:
                lots = [[held + qty, (held * lots[0][1] + qty * price) / (held + qty)]]
            else:
                lots.append([qty, price])
            continue
        left = abs(qty)
        while left and lots:
            if rule == "lifo":
                at = len(lots) - 1
            elif rule == "hifo":
                prices = [lot[1] for lot in lots]
                at = prices.index(max(prices) if held > 0 else min(prices))
            else:  # fifo, and average's single lot
                at = 0
            lot = lots[at]
            matched = min(left, abs(lot[0]))
            realized += (price - lot[1]) * matched * (1 if lot[0] > 0 else -1)
            lot[0] -= matched if lot[0] > 0 else -matched
            if lot[0] == 0:
                del lots[at]
            left -= matched
        if left:
            lots = [[left if qty > 0 else -left, price]]
    return sum((lot[0] for lot in lots), Fraction(0)), realized
