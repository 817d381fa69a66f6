"""P&L rows: realized P&L and fees per group (:class:`PnlRow`), per day (:class:`DailyPnlRow`),
per entry with its running total (:class:`PnlPoint`), and fees in other currencies valued in the
P&L currency (:class:`FeeValueRow`, :func:`fee_fields`, :func:`net_of`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from orderledger.domain.values import WIDE
from orderledger.infrastructure.results.rows import HIDDEN, ResultRow, plain
from orderledger.projections.fees import FeeValuation, FeeValue


@dataclass(frozen=True)
class FeeValueRow(ResultRow):
    """Fees paid in one currency, valued in the P&L currency: the amount, its value, the rate
    used and where it came from (``fill``: the fill's own price; ``mark``: a recorded mark of
    ``instrument`` at ``time`` from ``mark_source``). Fees valued at several rates give the
    average rate the value implies, ``rates`` says how many, and no single time."""

    amount: Decimal
    value: Decimal
    rate: Decimal
    rates: int
    source: str
    instrument: str | None
    time: datetime | None
    mark_source: str | None

    @classmethod
    def of(cls, v: FeeValue) -> FeeValueRow:
        return cls(v.amount, v.value, v.rate, v.rates, v.source, v.instrument, v.time, v.mark_source)


def fee_fields(valuation: FeeValuation | None) -> dict[str, Any]:
    """A row's ``fee_values`` and ``unvalued_fees`` from its fees' valuation."""
    if valuation is None:
        return {"fee_values": {}, "unvalued_fees": ()}
    values = {c: FeeValueRow.of(v) for c, v in valuation.values().items()}
    return {"fee_values": values, "unvalued_fees": valuation.unvalued()}


def net_of(net: Decimal | None, currency: str | None, flows: Mapping[str, Decimal]) -> Decimal | None:
    """Net P&L (realized − fees) with cash flows added: one number only when every flow is in
    the P&L currency, else None (the figures stay apart, per currency)."""
    if net is None or any(paid_in != currency for paid_in in flows):
        return None
    received = flows.get(currency or "")
    return net if received is None else WIDE.add(net, received)


@dataclass(frozen=True)
class PnlRow(ResultRow):
    """Realized P&L and fees of one group in one P&L currency (amounts in different currencies
    are never added together)."""

    by: str = field(metadata=HIDDEN)  # day, account, venue, instrument, parent or tag:NAME
    group: str  # the group's value ("(none)" when the entry has none)
    pnl_currency: str | None
    realized_pnl: Decimal
    realized_pnl_net: Decimal | None
    fees: Mapping[str, Decimal]
    fills: int
    funding: Mapping[str, Decimal] = field(default_factory=dict)
    """The group's cash flows (funding, interest, rebates) per currency; net P&L includes them."""
    fee_values: Mapping[str, FeeValueRow] = field(default_factory=dict)
    """The fees in other currencies than the P&L, valued in it, with the rate used."""
    unvalued_fees: tuple[str, ...] = ()
    """The fee currencies with no known rate (why ``realized_pnl_net`` is None)."""

    def to_json(self) -> dict[str, Any]:
        """Keyed by the grouping (``{"day": "2026-…", …}``); the P&L currency also under its
        older name, ``quote_currency``."""
        return {
            self.by: self.group,
            "quote_currency": self.pnl_currency,
            "pnl_currency": self.pnl_currency,
            "realized_pnl": plain(self.realized_pnl),
            "realized_pnl_net": plain(self.realized_pnl_net),
            "fees": plain(self.fees),
            "fills": self.fills,
            "funding": plain(self.funding),
            "fee_values": plain(self.fee_values),
            "unvalued_fees": plain(self.unvalued_fees),
        }


@dataclass(frozen=True)
class DailyPnlRow(ResultRow):
    """One UTC day of one group's P&L in one P&L currency: what the day realized, paid in fees
    and received in cash flows, and the unrealized P&L of what the group held at the day's end,
    valued at each instrument's last mark of the day."""

    day: str
    by: str = field(metadata=HIDDEN)  # account, parent or tag:NAME
    group: str
    pnl_currency: str | None
    realized_pnl: Decimal
    fees: Mapping[str, Decimal]
    funding: Mapping[str, Decimal]
    realized_pnl_net: Decimal | None
    """Realized − fees + cash flows, when all are in the P&L currency (else None)."""
    unrealized_pnl: Decimal | None
    """At the day's last marks; None when something held at the day's end has no mark by then."""
    unmarked: tuple[str, ...] = ()
    """The instruments held at the day's end without a mark by then (why unrealized is None)."""
    fee_values: Mapping[str, FeeValueRow] = field(default_factory=dict)
    """The day's fees in other currencies than the P&L, valued in it, with the rate used."""
    unvalued_fees: tuple[str, ...] = ()
    """The fee currencies with no known rate (why ``realized_pnl_net`` is None)."""

    def to_json(self) -> dict[str, Any]:
        """Keyed by day and by the grouping (``{"day": …, "account": …, …}``)."""
        data = super().to_json()
        return {"day": data.pop("day"), self.by: data.pop("group"), **data}


@dataclass(frozen=True)
class PnlPoint(ResultRow):
    """One realized P&L entry in log order, with the running total in its quote currency."""

    position: int
    ts_event: datetime
    account: str
    venue: str
    instrument: str
    quote_currency: str | None
    realized_pnl: Decimal
    cumulative_realized_pnl: Decimal
