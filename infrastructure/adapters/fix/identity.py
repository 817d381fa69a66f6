"""How a report names its order: ClOrdID chains, OrderIDs and what it states of the order."""

from __future__ import annotations

from typing import Any

from orderledger.infrastructure.adapters.aliases import qualified_alias
from orderledger.infrastructure.adapters.common import message
from orderledger.infrastructure.adapters.fix.codes import CLORDID_ALIAS, SIDES, FixError, Report
from orderledger.infrastructure.adapters.fix.framing import value_of
from orderledger.infrastructure.adapters.fix.instruments import instrument_terms, symbol_of
from orderledger.infrastructure.adapters.fix.scales import Context
from orderledger.infrastructure.messages.models import AcceptedMessage, AmendedMessage, Message


def clordid_alias(clordid: str) -> dict[str, str]:
    """The alias that records one FIX ClOrdID on an order: ``{"fix_clordid:<id>": "<id>"}``."""
    return qualified_alias(CLORDID_ALIAS, clordid)


def chain(report: Report) -> tuple[str | None, str | None, str | None]:
    """(ClOrdID 11, OrigClOrdID 41 when it names another link, OrderID 37 when assigned)."""
    clordid = value_of(report, 11)
    orig = value_of(report, 41)
    if orig == clordid:
        orig = None
    order_id = value_of(report, 37)
    if order_id is not None and order_id.upper() == "NONE":
        order_id = None
    return clordid, orig, order_id


def aliases_of(*clordids: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in clordids:
        if value is not None:
            out.update(clordid_alias(value))
    return out


def order_key(report: Report, ctx: Context, *, with_order_id: bool = True) -> dict[str, Any]:
    """How a non-introducing report names its order (venue order ID, then ClOrdID aliases),
    with what it states of the order (:func:`stated_of`)."""
    clordid, orig, order_id = chain(report)
    if clordid is None and orig is None and order_id is None:
        raise FixError("the report names no order (ClOrdID 11, OrigClOrdID 41 or OrderID 37)")
    if not with_order_id and clordid is None and orig is None:
        raise FixError("the report names its order only by OrderID (37), which it changes")
    return {
        "venue": ctx.venue,
        "venue_order_id": order_id if with_order_id else None,
        "aliases": aliases_of(orig, clordid),
        **stated_of(report, ctx),
    }


def stated_of(report: Report, ctx: Context) -> dict[str, Any]:
    """What a report states of its order, for the ledger to compare with the order's facts
    (package docstring, "Contradictions"): the account as a request takes it, the instrument as
    a request names it, the side."""
    symbol = symbol_of(report, ctx)
    return {
        "account": ctx.account or value_of(report, 1),
        "instrument": None if symbol is None else instrument_terms(report, symbol, ctx)[0],
        "side": SIDES.get(value_of(report, 54) or ""),
    }


def new_clordid(report: Report, ctx: Context, ts: str) -> list[Message]:
    """The ``accepted`` that records a new ClOrdID as an alias (see the package docstring, 3)."""
    clordid, orig, _ = chain(report)
    if clordid is None or orig is None:
        return []
    return [
        message(AcceptedMessage, venue=ctx.venue, aliases=aliases_of(orig, clordid), ts=ts, source=ctx.source)
    ]


def answers_chain_with_order_id(report: Report) -> bool:
    _, orig, order_id = chain(report)
    return orig is not None and order_id is not None


def reidentified(report: Report, ctx: Context, ts: str) -> Message:
    """The ``amended`` that records the OrderID a chain step reports (package docstring, 4)."""
    return message(
        AmendedMessage,
        **order_key(report, ctx),
        quantity=ctx.quantity(report, 38, "OrderQty(38)"),
        price=ctx.price(report, 44, "Price(44)"),
        ts=ts,
        source=ctx.source,
    )
