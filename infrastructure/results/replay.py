"""The rows of a replay of limits over the log (``OrderLedger.risk_controls.risk_replay``, docs/risk.md,
"Limits replayed over history"): each recorded order the limits would have denied or flagged
(:class:`ReplayedOrderRow`, with its breaches), and the P&L and exposure path as recorded and as
replayed without the denied orders (:class:`ReplayPathRow`), in one answer (:class:`RiskReplay`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from orderledger.domain.values import Side
from orderledger.infrastructure.results.rows import ResultRow


@dataclass(frozen=True)
class ReplayBreachRow(ResultRow):
    """A limit an order would have passed: the limit, and the figure the order would have made
    (None: it could not be worked out, ``reason`` says why)."""

    reason: str
    scope: str
    target: str
    kind: str
    value: Decimal
    interval: int | None
    figure: Decimal | None


@dataclass(frozen=True)
class ReplayedOrderRow(ResultRow):
    """A recorded order the limits would have denied (``outcome`` ``denied``: one of ours, left
    out of the replayed path from then on) or flagged (``flagged``: an external order, reported
    by the venue, which no check of ours could have stopped; it stays in the path)."""

    client_order_id: str
    outcome: str
    ts_recorded: datetime
    account: str
    venue: str
    instrument: str
    side: Side
    quantity: Decimal
    price: Decimal | None
    breaches: tuple[ReplayBreachRow, ...]


@dataclass(frozen=True)
class ReplayPathRow(ResultRow):
    """An account's realized P&L and exposure in one P&L currency at the end of a UTC day of
    the ledger's clock (``at``: the day, or ``end``: after the last event), as recorded and as
    replayed without the denied orders. Exposure: each position's notional at the latest mark
    recorded by then (at cost without one), signed by its side (``net``) and unsigned
    (``gross``)."""

    at: str
    account: str
    currency: str
    realized_pnl: Decimal
    replayed_realized_pnl: Decimal
    net: Decimal
    replayed_net: Decimal
    gross: Decimal
    replayed_gross: Decimal


@dataclass(frozen=True)
class RiskReplay(ResultRow):
    """What a replay of limits answers: the orders denied or flagged, in log order, and the path."""

    orders: tuple[ReplayedOrderRow, ...]
    path: tuple[ReplayPathRow, ...]

    @property
    def denied(self) -> list[ReplayedOrderRow]:
        return [row for row in self.orders if row.outcome == "denied"]

    @property
    def flagged(self) -> list[ReplayedOrderRow]:
        return [row for row in self.orders if row.outcome == "flagged"]


__all__ = ["ReplayBreachRow", "ReplayPathRow", "ReplayedOrderRow", "RiskReplay"]
