"""P&L in one desk currency (docs/risk.md, "P&L in one currency").

A desk trading against USDT, USDC and USD holds its P&L in each; asked for one currency
(``in_currency``), each P&L currency's figures are multiplied by the rate the ledger recorded
for it: the latest mark, at any venue, of the pair ``CCY/DESK`` or ``CCY-DESK`` (the names a
fee's rate is read under, ``projections.fees.rate_pairs``), as of the time asked. A currency
with no such mark is a one-line error naming the pair: a rate is never taken as 1. The
products are exact (``WIDE``), so 12.5 USDT at 0.999 is 12.4875 USD.

``pnl`` rows (one per group and P&L currency) become one row per group in the desk currency,
its realized and net P&L the sums of its currencies' converted; a position row keeps its
quantity and prices and has its P&L (realized, net, unrealized, its fees' values) and notional
converted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.values import WIDE, format_timestamp
from orderledger.infrastructure.application.ledger_protocol import LedgerParts
from orderledger.infrastructure.application.reads.view_queries import latest_mark
from orderledger.infrastructure.results.pnl import FeeValueRow, PnlRow
from orderledger.infrastructure.results.positions import PositionRow
from orderledger.projections.fees import rate_pairs

ONE = Decimal(1)

Rate = Callable[[str | None], Decimal]
"""The rate of a P&L currency into the desk currency; raises when none is recorded."""


def desk_rates(ledger: LedgerParts, into: str, as_of: datetime | None, event_time: bool = False) -> Rate:
    """The rates into ``into``, each read once: one for ``into`` itself, else the latest mark of
    ``CCY/INTO`` or ``CCY-INTO`` at any venue by ``as_of`` (None: the latest recorded)."""
    found: dict[str, Decimal] = {}

    def rate(currency: str | None) -> Decimal:
        if currency is None:
            raise InvalidInputError(
                f"in_currency {into}: a P&L whose currency is not known cannot be converted",
                field="in_currency",
            )
        if currency == into:
            return ONE
        if currency not in found:
            pairs = rate_pairs(currency, into)
            marks = (latest_mark(ledger.db, None, pair, as_of=as_of, event_time=event_time) for pair in pairs)
            mark = next((m for m in marks if m is not None), None)
            if mark is None:
                by = "" if as_of is None else f" by {format_timestamp(as_of)}"
                raise InvalidInputError(
                    f"in_currency {into}: no mark of {pairs[0]} (or {pairs[1]}) recorded{by}:"
                    f" the {currency} P&L has no rate into {into}",
                    field="in_currency",
                )
            found[currency] = mark[0]
        return found[currency]

    return rate


def _times(value: Decimal | None, rate: Decimal) -> Decimal | None:
    return None if value is None else WIDE.multiply(value, rate)


def _fee_values(values: dict[str, FeeValueRow], rate: Decimal) -> dict[str, FeeValueRow]:
    """Fee values in the P&L currency, in the desk currency (their rates with them)."""
    return {
        c: replace(v, value=WIDE.multiply(v.value, rate), rate=WIDE.multiply(v.rate, rate))
        for c, v in values.items()
    }


def _summed(amounts: Iterable[dict[str, Decimal]]) -> dict[str, Decimal]:
    total: dict[str, Decimal] = {}
    for each in amounts:
        for currency, amount in each.items():
            total[currency] = WIDE.add(total.get(currency, Decimal(0)), amount)
    return dict(sorted(total.items()))


def pnl_in(rows: list[PnlRow], into: str, rate: Rate) -> list[PnlRow]:
    """One row per group in ``into``: its P&L currencies' realized and net P&L converted and
    summed (net: None when one currency's is), fills summed, fees and cash flows per their own
    currencies, the fees valued in another currency converted."""
    groups: dict[str, list[PnlRow]] = {}
    for row in rows:
        groups.setdefault(row.group, []).append(row)
    merged = []
    for group, members in groups.items():
        rates = [rate(m.pnl_currency) for m in members]
        nets = [_times(m.realized_pnl_net, r) for m, r in zip(members, rates, strict=True)]
        valued: dict[str, FeeValueRow] = {}
        for m, r in zip(members, rates, strict=True):
            valued |= _fee_values(dict(m.fee_values), r)
        merged.append(
            PnlRow(
                by=members[0].by,
                group=group,
                pnl_currency=into,
                realized_pnl=_total(
                    WIDE.multiply(m.realized_pnl, r) for m, r in zip(members, rates, strict=True)
                ),
                realized_pnl_net=None if None in nets else _total(n for n in nets if n is not None),
                fees=_summed(dict(m.fees) for m in members),
                fills=sum(m.fills for m in members),
                funding=_summed(dict(m.funding) for m in members),
                fee_values=valued,
                unvalued_fees=tuple(sorted({c for m in members for c in m.unvalued_fees})),
            )
        )
    return merged


def position_in(row: PositionRow, into: str, rate: Rate) -> PositionRow:
    """A position's P&L in ``into`` (its quantity and prices stay as they are)."""
    r = rate(row.pnl_currency)
    return replace(
        row,
        pnl_currency=into,
        realized_pnl=WIDE.multiply(row.realized_pnl, r),
        notional=WIDE.multiply(row.notional, r),
        realized_pnl_net=_times(row.realized_pnl_net, r),
        unrealized_pnl=_times(row.unrealized_pnl, r),
        fee_values=_fee_values(dict(row.fee_values), r),
    )


def _total(values: Iterable[Decimal]) -> Decimal:
    """A sum in the wide context, as exact as its terms."""
    total = Decimal(0)
    for value in values:
        total = WIDE.add(total, value)
    return total


__all__ = ["Rate", "desk_rates", "pnl_in", "position_in"]
