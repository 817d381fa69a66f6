"""An order's fills: one object per trade, as it stands after busts and corrections.

``Fill`` is the one declaration of a fill's fields. Its stored form (in the order's stored state
and the orders view) is a JSON array of the fields' texts in declaration order, written by
:meth:`Fill.stored` and read by :meth:`Fill.from_stored`, nowhere else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from orderledger.domain.values import (
    TEXT,
    Liquidity,
    TradeId,
    format_decimal,
    format_timestamp,
    parse_timestamp,
)


@dataclass(slots=True)
class Fill:
    """One execution as it stands after busts and corrections."""

    trade_id: TradeId
    qty: Decimal
    px: Decimal
    fee: Decimal | None
    fee_currency: str | None
    liquidity: Liquidity | None
    ts_event: datetime
    late: bool = False
    busted: bool = False
    first_qty: Decimal | None = None  # as first booked, before any correction
    first_px: Decimal | None = None
    inferred: bool = False  # deduced by reconciliation; replaced by real fills as they arrive

    def was_booked_as(self, qty: Decimal, px: Decimal) -> bool:
        """True if this trade is, or was before a correction, ``qty`` at ``px``."""
        return (self.qty, self.px) == (qty, px) or (self.first_qty, self.first_px) == (qty, px)

    def stored(self) -> list[Any]:
        """The fill as stored: its fields in declaration order, amounts and times as text."""
        text = format_decimal
        fee, first_qty, first_px, liquidity = self.fee, self.first_qty, self.first_px, self.liquidity
        return [
            self.trade_id,
            text(self.qty),
            text(self.px),
            None if fee is None else text(fee),
            self.fee_currency,
            None if liquidity is None else TEXT[liquidity],
            format_timestamp(self.ts_event),
            self.late,
            self.busted,
            None if first_qty is None else text(first_qty),
            None if first_px is None else text(first_px),
            self.inferred,
        ]

    @classmethod
    def from_stored(cls, values: Sequence[Any]) -> Fill:
        """The fill :meth:`stored` wrote (one stored before ``inferred`` existed is not inferred)."""
        (trade_id, qty, px, fee, fee_currency, liquidity, ts_event, late, busted, first_qty, first_px) = (
            values[:11]
        )
        return cls(
            trade_id,
            Decimal(qty),
            Decimal(px),
            None if fee is None else Decimal(fee),
            fee_currency,
            None if liquidity is None else Liquidity(liquidity),
            parse_timestamp(ts_event),
            late,
            busted,
            None if first_qty is None else Decimal(first_qty),
            None if first_px is None else Decimal(first_px),
            bool(values[11]) if len(values) > 11 else False,
        )


def fee_text(fee: Decimal | None, currency: str | None) -> str | None:
    """A fee as an anomaly shows it: amount and currency."""
    if fee is None:
        return None
    return format_decimal(fee) + (f" {currency}" if currency else "")


def fee_rank(fee: Decimal | None, currency: str | None) -> tuple[Decimal, Decimal, str]:
    """The order in which conflicting fees win: larger by size, then by value, then currency."""
    amount = Decimal(0) if fee is None else fee
    return (abs(amount), amount, currency or "")
