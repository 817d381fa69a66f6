"""A ccxt funding history entry (``fetch_funding_history``) → a ``cash_flow``."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from orderledger.infrastructure.adapters.ccxt.exchanges import rules_for
from orderledger.infrastructure.adapters.ccxt.rules import (
    InstrumentOf,
    info_of,
)
from orderledger.infrastructure.adapters.ccxt.structure_reading import (
    at_path,
    time_field,
)
from orderledger.infrastructure.adapters.common import (
    AdapterError,
    decimal_text,
    message,
    text_or_none,
)
from orderledger.infrastructure.messages.models import CashFlowMessage, Message


def funding_messages(
    structure: Mapping[str, Any], *, venue: str, account: str, instrument_of: InstrumentOf | None, source: str
) -> list[Message]:
    """One ``cash_flow`` of kind ``funding`` from a funding history structure."""
    rules = rules_for(venue)
    if rules.funding_received_positive is None:
        raise AdapterError(
            f"ccxt funding history of {venue!r}: the sign of its amount is not established for this venue"
            " (docs/venues.md#funding-payments); record its payments as cash_flow messages"
        )
    if rules.funding_kind is not None:
        field, funding = rules.funding_kind
        kind = text_or_none(at_path(info_of(structure), field))
        if kind is None:
            raise AdapterError(
                f"ccxt funding history of {venue!r}: an entry without info.{field} is not known to be"
                " a funding payment"
            )
        if kind not in funding:
            raise AdapterError(
                f"ccxt funding history of {venue!r}: info.{field} {kind[:40]!r} is not a funding payment"
            )
    flow_id = (rules.funding_id(structure) if rules.funding_id else None) or text_or_none(structure.get("id"))
    symbol = text_or_none(structure.get("symbol"))
    currency = (
        rules.funding_currency(structure) if rules.funding_currency else text_or_none(structure.get("code"))
    )
    amount = decimal_text(structure.get("amount"), "amount")
    ts = time_field(structure, "timestamp", "datetime")
    if flow_id is None or symbol is None or currency is None or amount is None or ts is None:
        raise AdapterError("a ccxt funding history entry needs id, symbol, code, amount and timestamp")
    if not rules.funding_received_positive:
        amount = decimal_text(-Decimal(amount), "amount")
    return [
        message(
            CashFlowMessage,
            kind="funding",
            account=account,
            venue=venue,
            instrument=instrument_of(symbol) if instrument_of else symbol,
            flow_id=flow_id,
            amount=amount,
            currency=currency,
            rate=decimal_text(structure.get("rate"), "rate"),
            ts=ts,
            source=source,
        )
    ]
