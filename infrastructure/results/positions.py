"""Position rows: what is held, and its P&L: net positions (:class:`PositionRow`), exposure to
each underlying (:class:`ExposureRow`) and tax lots (:class:`LotRow`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from orderledger.domain.exposure import ExposureFigures
from orderledger.domain.values import AVERAGE
from orderledger.infrastructure.results.pnl import FeeValueRow, fee_fields, net_of
from orderledger.infrastructure.results.rows import ResultRow
from orderledger.projections.book import Position
from orderledger.projections.fees import FeeValuation, net_of_fees
from orderledger.projections.lots import ClosedLot, OpenLot, share


@dataclass(frozen=True)
class PositionRow(ResultRow):
    """A net position with realized and (given a mark) unrealized P&L, and its cash flows."""

    account: str
    venue: str
    instrument: str
    quantity: Decimal
    average_price: Decimal | None
    realized_pnl: Decimal
    realized_pnl_net: Decimal | None
    unrealized_pnl: Decimal | None
    fees: Mapping[str, Decimal]
    quote_currency: str | None
    mark: Decimal | None
    # What the figures are in, and which instrument definition produced them.
    notional: Decimal
    pnl_currency: str | None
    contract_size: Decimal
    settlement: str
    definition_version: int | None
    funding: Mapping[str, Decimal] = field(default_factory=dict)
    """Cash flows the position received (+) or paid (−), per currency: funding, interest, rebates."""
    mark_time: datetime | None = None
    """When the recorded mark used was taken; None for a caller's mark (or none)."""
    fee_values: Mapping[str, FeeValueRow] = field(default_factory=dict)
    """The fees in other currencies than the P&L, valued in it, with the rate used."""
    unvalued_fees: tuple[str, ...] = ()
    """The fee currencies with no known rate (why ``realized_pnl_net`` is None)."""

    @classmethod
    def of(
        cls,
        position: Position,
        mark: Decimal | None,
        funding: Mapping[str, Decimal] | None = None,
        mark_time: datetime | None = None,
        valuation: FeeValuation | None = None,
    ) -> PositionRow:
        """The row of a folded position, valued at ``mark`` (None: no unrealized P&L), with its
        cash flows and its fees in other currencies valued (``valuation``): net P&L is realized −
        fees + cash flows, when all are in the P&L currency or valued into it."""
        average = position.average_price
        funding = dict(sorted((funding or {}).items()))
        net = net_of_fees(position.realized_pnl, position.fees, position.pnl_currency, valuation)
        return cls(
            account=position.account,
            venue=position.venue,
            instrument=position.instrument,
            quantity=position.quantity,
            average_price=None if average is None else average.normalize(AVERAGE),
            realized_pnl=position.realized_pnl,
            realized_pnl_net=net_of(net, position.pnl_currency, funding),
            unrealized_pnl=position.unrealized_pnl(mark),
            fees=dict(sorted(position.fees.items())),
            quote_currency=position.quote_currency,
            mark=mark,
            notional=position.notional(mark),
            pnl_currency=position.pnl_currency,
            contract_size=position.terms.contract_size,
            settlement=str(position.terms.settlement),
            definition_version=position.terms.version,
            funding=funding,
            mark_time=mark_time,
            **fee_fields(valuation),
        )


class ExposureRow(ExposureFigures, ResultRow):
    """One group's exposure to one underlying: positions netted in units of the underlying and
    valued at the latest marks, beside the worst case of the open orders, per side
    (``domain.exposure``: the rules, and what each field is)."""


@dataclass(frozen=True)
class LotRow(ResultRow):
    """A tax lot: open (what is left of an opening fill) or closed (one matched quantity, with
    the fill that opened it and the fill that closed it). Amounts in ``pnl_currency``."""

    status: str  # open | closed
    cost_basis: str
    account: str
    venue: str
    instrument: str
    side: str  # long | short: the lot's side
    quantity: Decimal
    open_client_order_id: str
    open_trade_id: str
    open_time: datetime
    open_price: Decimal
    cost: Decimal
    close_client_order_id: str | None
    close_trade_id: str | None
    close_time: datetime | None
    close_price: Decimal | None
    proceeds: Decimal | None
    realized_pnl: Decimal | None
    fees: Mapping[str, Decimal]  # the opening fill's share, and (closed) the closing fill's
    pnl_currency: str | None

    @classmethod
    def of_open(cls, basis: str, lot: OpenLot) -> LotRow:
        opened = lot.opened
        fee = share(opened.fee, lot.quantity, abs(opened.signed_qty))
        fees = {opened.fee_currency or "?": fee} if fee else {}
        return cls(
            "open", basis, opened.account, opened.venue, opened.instrument,
            "long" if opened.signed_qty > 0 else "short", lot.quantity,
            opened.client_order_id, opened.trade_id, opened.ts_event, lot.price, lot.cost,
            None, None, None, None, None, None, fees, opened.terms.pnl_currency,
        )  # fmt: skip

    @classmethod
    def of_closed(cls, basis: str, lot: ClosedLot) -> LotRow:
        opened, closed = lot.opened, lot.closed
        return cls(
            "closed", basis, opened.account, opened.venue, opened.instrument,
            "long" if opened.signed_qty > 0 else "short", lot.quantity,
            opened.client_order_id, opened.trade_id, opened.ts_event, opened.price, lot.cost,
            closed.client_order_id, closed.trade_id, closed.ts_event, closed.price, lot.proceeds,
            lot.realized, dict(sorted(lot.fees.items())), lot.pnl_currency,
        )  # fmt: skip
