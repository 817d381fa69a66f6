"""Orders: NewOrderSingle, cancel and replace requests, OrderCancelReject."""

from __future__ import annotations

from typing import Any

from orderledger.infrastructure.adapters.common import message
from orderledger.infrastructure.adapters.fix.codes import (
    CXL_REJ_REASONS,
    GOOD_TILL_DATE,
    ORDER_TYPES,
    REDUCE_ONLY_INSTRUCTION,
    SIDES,
    SOURCE,
    TIME_IN_FORCE,
    FixError,
    Report,
)
from orderledger.infrastructure.adapters.fix.framing import parse_fix, report_time, transact_time, value_of
from orderledger.infrastructure.adapters.fix.identity import clordid_alias, order_key
from orderledger.infrastructure.adapters.fix.instruments import instrument_definition, symbol_of
from orderledger.infrastructure.adapters.fix.scales import Context
from orderledger.infrastructure.messages.models import (
    AmendRejectedMessage,
    AmendRequestedMessage,
    CancelRejectedMessage,
    CancelRequestedMessage,
    Message,
    RequestMessage,
)

PRICED = ("limit", "stop_limit")
"""The order types a FIX request names with a limit price (Price 44)."""
STOPS = ("stop_market", "stop_limit")
"""The order types a FIX request names with a trigger (StopPx 99)."""


def _order_type(report: Report, price: str | None) -> tuple[str | None, dict[str, str]]:
    """The ledger's order type for OrdType 40, and a tag keeping a FIX type it approximates."""
    code = value_of(report, 40)
    kind = ORDER_TYPES.get(code or "")
    if kind is None and code is None:
        kind = "limit" if price is not None else None
    elif kind is None:
        kind = "limit" if price is not None else "market"
    tags = {"fix_ord_type": code} if code is not None and code not in ORDER_TYPES else {}
    return kind, tags


def _post_only(exec_inst: str | None) -> bool | None:
    """Post-only from ExecInst (18), a space-separated list of instructions: 6, "participate
    don't initiate", says the order only adds liquidity; None when 18 is absent."""
    return None if exec_inst is None else "6" in exec_inst.split()


def _terms(report: Report, ctx: Context, order_type: str | None) -> dict[str, Any]:
    """The request fields a stop, a reduce-only, a GTD or a reserve order adds: StopPx (99) as
    the trigger of a stop (OrdType 3/4), ExecInst (18) E "do not increase" as reduce-only,
    ExpireTime (126) of a TimeInForce 6 (GTD) order, MaxFloor (111) as the shown quantity."""
    terms: dict[str, Any] = {}
    if order_type in ("stop_market", "stop_limit"):
        terms["trigger_price"] = ctx.price(report, 99, "StopPx(99)")
    if REDUCE_ONLY_INSTRUCTION in (value_of(report, 18) or "").split():
        terms["reduce_only"] = True
    expire = value_of(report, 126)
    if expire is not None and value_of(report, 59) == GOOD_TILL_DATE:
        terms["expire_at"] = transact_time(expire, "ExpireTime(126)")
    terms["display_quantity"] = ctx.quantity(report, 111, "MaxFloor(111)")
    return {name: value for name, value in terms.items() if value is not None}


def request_messages(
    report: Report, clordid: str, ctx: Context, ts: str, *, required: bool, venue_order_id: str | None = None
) -> list[Message]:
    """A request (with its instrument definition first) from an order's fields.

    ``required`` (a NewOrderSingle) refuses a message that does not describe an order; otherwise
    (a New's fields) it gives nothing. ``venue_order_id``: the OrderID a venue's report numbers
    the order with (an order already holding it is the one the request names).
    """
    account = ctx.account or value_of(report, 1)
    side = SIDES.get(value_of(report, 54) or "")
    quantity = ctx.quantity(report, 38, "OrderQty(38)")
    price = ctx.price(report, 44, "Price(44)")
    order_type, tags = _order_type(report, price)
    stop = ctx.price(report, 99, "StopPx(99)")
    symbol = symbol_of(report, ctx)
    missing = [
        name
        for name, value in (
            ("an account (--account or Account 1)", account),
            ("Symbol (55) or SecurityID (48)", symbol),
            ("Side (54) buy or sell", side),
            ("a positive OrderQty (38)", quantity),
            ("OrdType (40)", order_type),
            ("Price (44) for a limit order", price if order_type in PRICED else "n/a"),
            ("StopPx (99) for a stop order", stop if order_type in STOPS else "n/a"),
        )
        if value is None
    ]
    if missing or symbol is None:
        if required:
            raise FixError(f"NewOrderSingle {clordid!r} needs {', '.join(missing)}")
        return []
    name, definition = instrument_definition(report, symbol, ctx, ts)
    request = message(
        RequestMessage,
        client_order_id=clordid,
        account=account,
        venue=ctx.venue,
        instrument=name,
        side=side,
        order_type=order_type,
        quantity=quantity,
        price=price if order_type in PRICED else None,
        time_in_force=TIME_IN_FORCE.get(value_of(report, 59) or ""),
        post_only=_post_only(value_of(report, 18)),
        quote_currency=value_of(report, 15),
        tags=tags,
        **_terms(report, ctx, order_type),
        aliases=clordid_alias(clordid),
        venue_order_id=venue_order_id,
        ts=ts,
        source=ctx.source,
    )
    return [definition, request] if definition is not None else [request]


def new_order_single(report: Report, ctx: Context) -> list[Message]:
    clordid = value_of(report, 11)
    if clordid is None:
        raise FixError("a NewOrderSingle (35=D) needs ClOrdID (11)")
    return request_messages(report, clordid, ctx, report_time(report), required=True)


def cancel_request(report: Report, ctx: Context) -> list[Message]:
    """OrderCancelRequest (35=F): the caller asked to cancel the order 41 (or 37) names."""
    return [
        message(CancelRequestedMessage, **order_key(report, ctx), ts=report_time(report), source=ctx.source)
    ]


def replace_request(report: Report, ctx: Context) -> list[Message]:
    """OrderCancelReplaceRequest (35=G): the caller asked for new terms (OrderQty 38, Price 44)."""
    quantity = ctx.quantity(report, 38, "OrderQty(38)")
    price = ctx.price(report, 44, "Price(44)")
    if quantity is None and price is None:
        raise FixError("an OrderCancelReplaceRequest (35=G) needs OrderQty (38) or Price (44)")
    return [
        message(
            AmendRequestedMessage,
            **order_key(report, ctx),
            quantity=quantity,
            price=price,
            ts=report_time(report),
            source=ctx.source,
        )
    ]


def cancel_reject_messages(
    report: Report | str | bytes, *, venue: str, source: str = SOURCE
) -> list[Message]:
    """``cancel_rejected`` or ``amend_rejected`` for an OrderCancelReject (35=9)."""
    return cancel_reject(
        parse_fix(report) if isinstance(report, str | bytes) else report, Context(venue, source=source)
    )


def cancel_reject(report: Report, ctx: Context) -> list[Message]:
    msg_type = value_of(report, 35)
    if msg_type is not None and msg_type != "9":
        raise FixError(f"not an OrderCancelReject (35=9): 35={msg_type}")
    response_to = value_of(report, 434)
    kinds: dict[str, type[CancelRejectedMessage | AmendRejectedMessage]] = {
        "1": CancelRejectedMessage,
        "2": AmendRejectedMessage,
    }
    kind = kinds.get(response_to or "")
    if kind is None:
        raise FixError(f"CxlRejResponseTo (434) must be 1 or 2, not {response_to!r}")
    reason = value_of(report, 58) or CXL_REJ_REASONS.get(value_of(report, 102) or "")
    return [message(kind, **order_key(report, ctx), reason=reason, ts=report_time(report), source=ctx.source)]
