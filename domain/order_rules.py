"""What every command of an order uses: the lifecycle's rule for a fact, a fact seen before,
an anomaly recorded once, and an event recorded and applied (``OrderRules._record``).

``Order`` (:mod:`domain.order`) is these, its trades' commands (:mod:`domain.order_fills`) and
the commands of its lifecycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from orderledger.domain.construction import construct
from orderledger.domain.decisions import Decision, Stamp, duplicate, ignored
from orderledger.domain.errors import (
    AmendBelowFilledError,
    IdentityConflictError,
    InvalidTransitionError,
    UnknownTradeError,
)
from orderledger.domain.events import (
    AnomalyRecorded,
    OrderEvent,
)
from orderledger.domain.fills import Fill
from orderledger.domain.lifecycle import Rule, fact_name, rule_for
from orderledger.domain.order_requests import (
    check_positive,
)
from orderledger.domain.order_state import (
    OrderState,
    anomaly_fingerprint,
    fingerprint,
)
from orderledger.domain.outcomes import Outcome
from orderledger.domain.values import (
    Status,
    format_decimal,
)


class OrderRules(OrderState):
    """An order's state with what its commands share."""

    __slots__ = ()

    def _anomaly(
        self,
        stamp: Stamp,
        anomaly: str,
        name: str,
        recorded: str | None,
        reported: str | None,
        trade_id: str | None = None,
    ) -> list[OrderEvent]:
        """Record a disagreement once (whichever of the two values came first)."""
        if anomaly_fingerprint(anomaly, trade_id, recorded, reported) in self.seen:
            return []
        return list(
            self._record(
                AnomalyRecorded,
                stamp,
                anomaly=anomaly,
                field=name,
                recorded=recorded,
                reported=reported,
                trade_id=trade_id,
            ).events
        )

    def _on_anomaly(self, event: AnomalyRecorded) -> None:
        self._flag(event.anomaly)
        self.seen.add(anomaly_fingerprint(event.anomaly, event.trade_id, event.recorded, event.reported))

    # ----------------------------------------------------------------- helpers for commands

    def _rule(self, fact: type[OrderEvent], status: Status | None = None) -> tuple[Rule, str]:
        rule, why = rule_for(self.status if status is None else status, fact)
        if rule is Rule.REFUSE:
            raise InvalidTransitionError(self.client_order_id, fact_name(fact), self.status.value, why)
        return rule, why

    def _again(self, event_class: type[OrderEvent], stamp: Stamp, trade_id: str = "") -> Decision | None:
        """A duplicate outcome if this very fact (type, venue time, trade) is already recorded."""
        if fingerprint(event_class.__name__, stamp.ts_event, trade_id) in self.seen:
            return duplicate(f"this {event_class.__name__} was already recorded")
        return None

    def _check(self, fact: type[OrderEvent]) -> None:
        self._rule(fact)

    def _early(self, fact: type[OrderEvent], status: Status | None = None) -> Decision | None:
        """The outcome for facts the table settles without an event (duplicate, ignore)."""
        rule, why = rule_for(self.status if status is None else status, fact)
        if rule is Rule.DUPLICATE:
            return duplicate(why)
        if rule is Rule.IGNORE:
            return ignored(why)
        return None

    def _new_aliases(self, aliases: Mapping[str, str]) -> dict[str, str]:
        new: dict[str, str] = {}
        for name, value in aliases.items():
            recorded = self.aliases.get(name)
            if recorded is None:
                new[name] = value
            elif recorded != value:
                raise IdentityConflictError(
                    f"order {self.client_order_id!r} has alias {name}={recorded!r}, not {value!r}",
                    client_order_id=self.client_order_id,
                )
        return new

    def _check_amend_values(self, quantity: Decimal | None, price: Decimal | None) -> None:
        if price is not None:
            check_positive(price, "price")
        if quantity is not None:
            check_positive(quantity, "quantity")
            if quantity < self.filled_quantity:
                raise AmendBelowFilledError(
                    self.client_order_id,
                    format_decimal(quantity),
                    format_decimal(self.filled_quantity),
                )

    def _trade(self, trade_id: str) -> Fill:
        fill = self.fills.get(trade_id)
        if fill is None:
            raise UnknownTradeError(self.client_order_id, trade_id)
        return fill

    def _record(self, event_class: type[OrderEvent], stamp: Stamp, **fields: Any) -> Decision:
        # Every value here was validated on the way in (the request, the command's checks), so
        # the event is constructed without validating each field again: this is the hot path.
        # The header, assigned key by key (update() with keywords builds a dict to copy from).
        fields["originator_id"] = self.id
        fields["originator_version"] = self.version + 1
        fields["ts_recorded"] = stamp.ts_recorded
        fields["ts_event"] = stamp.ts_event
        fields["source"] = stamp.source
        fields["client_order_id"] = self.client_order_id
        fields["account"] = self.account
        fields["venue"] = self.venue
        fields["instrument"] = self.instrument
        event = construct(event_class, fields)
        self.apply(event)
        self._pending_events.append(event)
        return Decision(Outcome.APPLIED, (event,))


__all__ = ["OrderRules"]
