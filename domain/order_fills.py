"""An order's trades: a fill booked (or found a copy of one booked, or a late one), a trade
busted or corrected by the venue, and the check that no fold of them leaves the order filled
above its quantity.
"""

from __future__ import annotations

from decimal import Decimal

from orderledger.domain.decisions import Decision, Stamp, duplicate
from orderledger.domain.errors import (
    FillConflictError,
    OverfillError,
    UnknownTradeError,
)
from orderledger.domain.events import (
    FillBusted,
    FillCorrected,
    FillDetailsAdded,
    OrderEvent,
    OrderFilled,
)
from orderledger.domain.fills import Fill, fee_rank, fee_text
from orderledger.domain.lifecycle import Rule
from orderledger.domain.order_requests import (
    check_positive,
)
from orderledger.domain.order_rules import OrderRules
from orderledger.domain.order_state import (
    OrderState,
)
from orderledger.domain.outcomes import Outcome
from orderledger.domain.values import (
    ENDED,
    EXACT,
    Liquidity,
    format_decimal,
)


class FillRules(OrderRules):
    """The commands and appliers of an order's trades."""

    __slots__ = ()

    def fill(
        self,
        stamp: Stamp,
        trade_id: str,
        last_qty: Decimal,
        last_px: Decimal,
        fee: Decimal | None = None,
        fee_currency: str | None = None,
        liquidity: Liquidity | None = None,
        inferred: bool = False,
        venue_realized_pnl: Decimal | None = None,
        overfill: bool = False,
    ) -> Decision:
        """Book one execution. A fill is never dropped; a conflicting one is an error.

        ``overfill``: book it even above the order's quantity, because a bust or correction of
        it is waiting to be applied next (the caller checks the quantity after that).

        ``inferred`` marks a fill reconciliation deduced from the venue's cumulative quantity.
        A real fill arriving later replaces inferred quantity instead of adding to it: the
        inferred trade is busted (or corrected down, when only part of it is replaced).
        """
        check_positive(last_qty, "quantity")
        check_positive(last_px, "price")
        existing = self.fills.get(trade_id)
        if existing is not None:
            if existing.busted and existing.was_booked_as(last_qty, last_px):
                return duplicate(f"trade {trade_id!r} was busted")
            if existing.was_booked_as(last_qty, last_px):
                return self._fill_again(stamp, existing, fee, fee_currency, liquidity)
            if existing.busted:
                return duplicate(f"trade {trade_id!r} was busted")
            raise FillConflictError(
                self.client_order_id,
                trade_id,
                f"quantity {format_decimal(existing.qty)} at {format_decimal(existing.px)}, "
                f"not {format_decimal(last_qty)} at {format_decimal(last_px)}",
            )
        rule, _ = self._rule(OrderFilled)
        replaced: list[tuple[Fill, Decimal]] = []  # (inferred fill, quantity the real one takes)
        if not inferred:
            remaining = last_qty
            for candidate in self.fills.values():
                if remaining <= 0:
                    break
                if candidate.inferred and not candidate.busted:
                    take = min(remaining, candidate.qty)
                    replaced.append((candidate, take))
                    remaining = EXACT.subtract(remaining, take)
        released = Decimal(0)
        for _, take in replaced:
            released = EXACT.add(released, take)
        total = EXACT.add(EXACT.subtract(self.filled_quantity, released), last_qty)
        if total > self.quantity and not overfill:
            raise OverfillError(
                self.client_order_id, trade_id, format_decimal(total), format_decimal(self.quantity)
            )
        events: list[OrderEvent] = []
        why = f"replaced by trade {trade_id}"
        for candidate, take in replaced:
            if take == candidate.qty:
                events += self.bust_fill(stamp, candidate.trade_id, why).events
            else:
                rest = EXACT.subtract(candidate.qty, take)
                events += self.correct_fill(stamp, candidate.trade_id, last_qty=rest, reason=why).events
        outcome = self._record(
            OrderFilled,
            stamp,
            trade_id=trade_id,
            last_qty=last_qty,
            last_px=last_px,
            side=self.side,
            fee=fee,
            fee_currency=fee_currency,
            liquidity=liquidity,
            quote_currency=self.quote_currency,
            venue_order_id=self.venue_order_id,
            tags=self.tags,
            parent_id=self.parent_id,
            late=rule is Rule.LATE,
            inferred=inferred,
            venue_realized_pnl=venue_realized_pnl,
        )
        return Decision(Outcome.APPLIED, (*events, *outcome.events))

    def _on_filled(self, event: OrderFilled) -> None:
        # Late where it stands in the fold: after the order ended (what ``fill`` decides too).
        late = self.base_status in ENDED
        self.fills[event.trade_id] = Fill(
            event.trade_id,
            event.last_qty,
            event.last_px,
            event.fee,
            event.fee_currency,
            event.liquidity,
            event.ts_event,
            late=late,
            inferred=event.inferred,
        )
        self.filled_quantity = EXACT.add(self.filled_quantity, event.last_qty)
        self.notional = EXACT.add(self.notional, EXACT.multiply(event.last_qty, event.last_px))
        if late:
            self._flag("late_fill")
        self._settle_working_status()

    def bust_fill(self, stamp: Stamp, trade_id: str, reason: str | None = None) -> Decision:
        """The venue reversed a trade: undo it in quantities, trades and P&L."""
        fill = self._trade(trade_id)
        if fill.busted:
            return duplicate(f"trade {trade_id!r} is already busted")
        return self._record(
            FillBusted,
            stamp,
            trade_id=trade_id,
            side=self.side,
            last_qty=fill.qty,
            last_px=fill.px,
            fee=fill.fee,
            fee_currency=fill.fee_currency,
            quote_currency=self.quote_currency,
            tags=self.tags,
            parent_id=self.parent_id,
            fill_ts_event=fill.ts_event,
            reason=reason,
        )

    def _on_busted(self, event: FillBusted) -> None:
        fill = self.fills.get(event.trade_id)
        if fill is None or fill.busted:
            return  # a fold cut by venue time can hold a bust whose trade comes later
        fill.busted = True
        self.filled_quantity = EXACT.subtract(self.filled_quantity, fill.qty)
        self.notional = EXACT.subtract(self.notional, EXACT.multiply(fill.qty, fill.px))
        self._reopen_or_settle()

    def correct_fill(
        self,
        stamp: Stamp,
        trade_id: str,
        last_qty: Decimal | None = None,
        last_px: Decimal | None = None,
        fee: Decimal | None = None,
        reason: str | None = None,
    ) -> Decision:
        """The venue corrected a trade's quantity, price and/or fee."""
        if (again := self._again(FillCorrected, stamp, trade_id)) is not None:
            return again
        fill = self._trade(trade_id)
        if fill.busted:
            raise UnknownTradeError(self.client_order_id, trade_id, why="cannot correct busted trade")
        new_qty = fill.qty if last_qty is None else last_qty
        new_px = fill.px if last_px is None else last_px
        new_fee = fill.fee if fee is None else fee
        check_positive(new_qty, "quantity")
        check_positive(new_px, "price")
        if (new_qty, new_px, new_fee) == (fill.qty, fill.px, fill.fee):
            return duplicate(f"trade {trade_id!r} already has these values")
        return self._correct(stamp, fill, new_qty, new_px, new_fee, fill.fee_currency, reason)

    def _on_corrected(self, event: FillCorrected) -> None:
        fill = self.fills.get(event.trade_id)
        if fill is None:
            return
        if fill.first_qty is None:
            fill.first_qty, fill.first_px = fill.qty, fill.px
        self.filled_quantity = EXACT.add(self.filled_quantity, EXACT.subtract(event.last_qty, fill.qty))
        self.notional = EXACT.add(
            self.notional,
            EXACT.subtract(EXACT.multiply(event.last_qty, event.last_px), EXACT.multiply(fill.qty, fill.px)),
        )
        fill.qty, fill.px, fill.fee = event.last_qty, event.last_px, event.fee
        fill.fee_currency = event.fee_currency
        if event.liquidity is not None:
            fill.liquidity = event.liquidity
        self._reopen_or_settle()

    def _correct(
        self,
        stamp: Stamp,
        fill: Fill,
        new_qty: Decimal,
        new_px: Decimal,
        new_fee: Decimal | None,
        new_fee_currency: str | None,
        reason: str | None,
        liquidity: Liquidity | None = None,
    ) -> Decision:
        trade_id = fill.trade_id
        total = EXACT.add(EXACT.subtract(self.filled_quantity, fill.qty), new_qty)
        if total > self.quantity:
            raise OverfillError(
                self.client_order_id, trade_id, format_decimal(total), format_decimal(self.quantity)
            )
        return self._record(
            FillCorrected,
            stamp,
            trade_id=trade_id,
            side=self.side,
            previous_qty=fill.qty,
            previous_px=fill.px,
            previous_fee=fill.fee,
            last_qty=new_qty,
            last_px=new_px,
            fee=new_fee,
            previous_fee_currency=fill.fee_currency,
            fee_currency=new_fee_currency,
            quote_currency=self.quote_currency,
            tags=self.tags,
            parent_id=self.parent_id,
            fill_ts_event=fill.ts_event,
            reason=reason,
            liquidity=liquidity,
        )

    def _fill_again(
        self,
        stamp: Stamp,
        fill: Fill,
        fee: Decimal | None,
        fee_currency: str | None,
        liquidity: Liquidity | None = None,
    ) -> Decision:
        """Another copy of a booked trade (a REST poll repeating the stream, say).

        A copy that adds the fee the first lacked completes the trade's figures (a correction:
        the fee changes its P&L); one whose fee differs is an anomaly with both values, and the
        larger fee (by size) is booked whichever copy came first, so fees never depend on arrival
        order. A copy that states the liquidity (maker or taker) the first left out, its figures
        the same, adds that detail (``FillDetailsAdded``): nothing about the trade was corrected.
        A copy without a detail the trade has takes nothing away (a duplicate).
        """
        trade = fill.trade_id
        adds = liquidity if fill.liquidity is None else None
        if adds is None and (fee is None or (fee, fee_currency) == (fill.fee, fill.fee_currency)):
            return duplicate(f"trade {trade!r} is already booked")  # the everyday copy: nothing new
        events: list[OrderEvent] = []
        why: str | None = None
        new_fee, new_currency = fill.fee, fill.fee_currency
        if fee is not None and (fee, fee_currency) != (fill.fee, fill.fee_currency):
            if fill.fee is None:
                why = "fee completed by another report of this trade"
                new_fee, new_currency = fee, fee_currency
            else:
                events += self._anomaly(
                    stamp,
                    "fee_conflict",
                    "fee",
                    fee_text(fill.fee, fill.fee_currency),
                    fee_text(fee, fee_currency),
                    trade_id=trade,
                )
                if fee_rank(fee, fee_currency) > fee_rank(fill.fee, fill.fee_currency):
                    why = "another report of this trade states a larger fee"
                    new_fee, new_currency = fee, fee_currency
        if why is not None:
            events += self._correct(stamp, fill, fill.qty, fill.px, new_fee, new_currency, why, adds).events
        elif adds is not None:
            events += self._record(
                FillDetailsAdded,
                stamp,
                trade_id=trade,
                liquidity=adds,
                fill_ts_event=fill.ts_event,
                reason="liquidity stated by another report of this trade",
            ).events
        if events:
            return Decision(Outcome.APPLIED, tuple(events))
        if fee is not None and (fee, fee_currency) != (fill.fee, fill.fee_currency):
            return duplicate(f"trade {trade!r} is already booked; its fee conflict is already recorded")
        return duplicate(f"trade {trade!r} is already booked")

    def _on_fill_details_added(self, event: FillDetailsAdded) -> None:
        fill = self.fills.get(event.trade_id)
        if fill is not None and event.liquidity is not None:
            fill.liquidity = event.liquidity

    def check_quantity(self, trade_id: str, order: OrderState | None = None) -> None:
        """Refuse what leaves the order (or ``order``, a fold of it) filled above its quantity."""
        order = self if order is None else order
        if order.filled_quantity > order.quantity:
            raise OverfillError(
                self.client_order_id,
                trade_id,
                format_decimal(order.filled_quantity),
                format_decimal(order.quantity),
            )


__all__ = ["FillRules"]
