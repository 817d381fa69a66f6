"""Trade rows: one fill of the blotter as it stands after busts and corrections."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from orderledger.domain.values import Liquidity, Side
from orderledger.infrastructure.results.rows import ResultRow


@dataclass(frozen=True)
class TradeRow(ResultRow):
    """One fill of the blotter as it stands after busts and corrections."""

    account: str
    venue: str
    instrument: str
    side: Side
    client_order_id: str
    venue_order_id: str | None
    trade_id: str
    quantity: Decimal
    price: Decimal
    fee: Decimal | None
    fee_currency: str | None
    liquidity: Liquidity | None
    ts_event: datetime
    tags: Mapping[str, str]
    parent_id: str | None
    late: bool
