"""How a message names its instrument, and the definition it carries (the package docstring)."""

from __future__ import annotations

from orderledger.infrastructure.adapters.common import message, positive_text
from orderledger.infrastructure.adapters.fix.codes import (
    DEFINING_TAGS,
    SECURITY_ID_SOURCES,
    SECURITY_KINDS,
    Report,
)
from orderledger.infrastructure.adapters.fix.framing import value_of
from orderledger.infrastructure.adapters.fix.scales import Context
from orderledger.infrastructure.messages.models import InstrumentMessage


def symbol_of(report: Report, ctx: Context) -> str | None:
    symbol = value_of(report, 55)
    if symbol is None or symbol.upper() == "[N/A]":
        return value_of(report, 48)
    return ctx.instrument_of(symbol) if ctx.instrument_of else symbol


def instrument_terms(
    report: Report, symbol: str, ctx: Context
) -> tuple[str, str | None, str | None, str | None, str | None]:
    """(the instrument's name, its kind, maturity, right, strike) as the message states them."""
    security_type = (value_of(report, 167) or "").upper()
    kind = SECURITY_KINDS.get(security_type, "other" if security_type else None)
    maturity = value_of(report, 200) or value_of(report, 541)
    right = {"0": "put", "1": "call"}.get(value_of(report, 201) or "")
    strike = ctx.price(report, 202, "StrikePrice(202)")
    name = symbol
    if kind == "option":
        parts = [symbol, maturity, right and right[0].upper(), strike]
        name = " ".join(p for p in parts if p) if any(parts[1:]) else f"{symbol} OPT"
    elif kind == "future":
        name = f"{symbol} {maturity}" if maturity else f"{symbol} FUT"
    return name, kind, maturity, right, strike


def instrument_definition(
    report: Report, symbol: str, ctx: Context, ts: str
) -> tuple[str, InstrumentMessage | None]:
    """The instrument's name, and its definition when the message carries one (package docstring)."""
    name, kind, maturity, right, strike = instrument_terms(report, symbol, ctx)
    if not any(value_of(report, tag) is not None for tag in DEFINING_TAGS):
        return name, None
    source_code = value_of(report, 22)
    definition = message(
        InstrumentMessage,
        venue=ctx.venue,
        instrument=name,
        kind=kind,
        contract_size=positive_text(value_of(report, 231), "ContractMultiplier(231)"),
        underlying=(value_of(report, 311) or symbol) if kind in ("option", "future") else None,
        expiry=maturity if kind in ("option", "future") else None,
        strike=strike if kind == "option" else None,
        option_type=right if kind == "option" else None,
        quote_currency=value_of(report, 15),
        security_id=value_of(report, 48),
        security_id_source=SECURITY_ID_SOURCES.get(source_code or "", source_code),
        ts=ts,
        source=ctx.source,
    )
    return name, definition
