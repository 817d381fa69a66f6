"""ExecutionReport (35=8) → ledger messages (the package docstring's tables)."""

from __future__ import annotations

from orderledger.infrastructure.adapters.common import message
from orderledger.infrastructure.adapters.fix.codes import (
    EXEC_TYPES,
    LIQUIDITY,
    SOURCE,
    FixError,
    InstrumentOf,
    Report,
)
from orderledger.infrastructure.adapters.fix.fees import fees
from orderledger.infrastructure.adapters.fix.framing import parse_fix, report_time, value_of
from orderledger.infrastructure.adapters.fix.identity import (
    answers_chain_with_order_id,
    chain,
    clordid_alias,
    new_clordid,
    order_key,
    reidentified,
    stated_of,
)
from orderledger.infrastructure.adapters.fix.orders import request_messages
from orderledger.infrastructure.adapters.fix.scales import Context, shortened, summarised
from orderledger.infrastructure.adapters.fix.venue import FixOptions
from orderledger.infrastructure.messages.models import (
    AcceptedMessage,
    AmendedMessage,
    CanceledMessage,
    ExpiredMessage,
    FillBustedMessage,
    FillCorrectedMessage,
    FillMessage,
    Message,
    RejectedMessage,
    TriggeredMessage,
)


def execution_report_messages(
    report: Report | str | bytes,
    *,
    venue: str,
    account: str | None = None,
    instrument_of: InstrumentOf | None = None,
    source: str = SOURCE,
    notes: list[str] | None = None,
    options: FixOptions | None = None,
) -> list[Message]:
    """The ledger messages one ExecutionReport implies (see the package docstring's table)."""
    ctx = Context(venue, account, instrument_of, source, [], options or FixOptions())
    out = execution_report(parse_fix(report) if isinstance(report, str | bytes) else report, ctx)
    if notes is not None:
        notes.extend(summarised(ctx.notes))
    return out


def execution_report(report: Report, ctx: Context) -> list[Message]:
    msg_type = value_of(report, 35)
    if msg_type is not None and msg_type != "8":
        raise FixError(f"not an ExecutionReport (35=8): 35={msg_type}")
    ts = report_time(report)
    trans_type = value_of(report, 20)
    if trans_type in ("1", "2"):
        return [_bust_or_correct(report, ctx, ts, correct=trans_type == "2")]
    if trans_type == "3":
        ctx.notes.append(f"ExecutionReport {named(report)} is a status (ExecTransType 20=3): no new fact")
        return []
    exec_type = value_of(report, 150)
    if exec_type is None:
        raise FixError("ExecType (150) is required")
    exec_type = exec_type.upper()
    clordid, orig, order_id = chain(report)
    reason = value_of(report, 58)
    venue, source = ctx.venue, ctx.source

    if exec_type == "0":
        if orig is not None:  # a New answering a replace: name it through the chain
            if order_id is not None:
                return [reidentified(report, ctx, ts), *new_clordid(report, ctx, ts)]
            return [message(AcceptedMessage, **order_key(report, ctx), ts=ts, source=source)]
        if clordid is None:
            raise FixError("a New (150=0) needs ClOrdID (11)")
        out = opening(report, ctx, ts, clordid, orig, order_id)
        out.append(
            message(
                AcceptedMessage,
                client_order_id=clordid,
                venue=venue,
                venue_order_id=order_id,
                aliases=clordid_alias(clordid),
                **stated_of(report, ctx),
                ts=ts,
                source=source,
            )
        )
        return out
    if exec_type == "8":
        reason = reason or value_of(report, 103)
        if orig is None and clordid is not None:
            # No venue order ID: a message carrying one would acknowledge the order first.
            return [
                *opening(report, ctx, ts, clordid, orig, None),  # (a refusal numbers no order)
                message(
                    RejectedMessage,
                    client_order_id=clordid,
                    venue=venue,
                    **stated_of(report, ctx),
                    ts=ts,
                    source=source,
                    reason=reason,
                ),
            ]
        return [
            message(
                RejectedMessage,
                **order_key(report, ctx, with_order_id=False),
                ts=ts,
                source=source,
                reason=reason,
            )
        ]
    if exec_type in ("F", "1", "2"):
        return [*opening(report, ctx, ts, clordid, orig, order_id), _fill(report, ctx, ts)]
    if exec_type in ("H", "G"):
        return [_bust_or_correct(report, ctx, ts, correct=exec_type == "G")]
    if exec_type in ("4", "C"):
        kind: type[CanceledMessage | ExpiredMessage] = CanceledMessage if exec_type == "4" else ExpiredMessage
        before = [reidentified(report, ctx, ts)] if answers_chain_with_order_id(report) else []
        ending = message(kind, **order_key(report, ctx), reason=reason, ts=ts, source=source)
        return [
            *opening(report, ctx, ts, clordid, orig, order_id),
            *before,
            ending,
            *new_clordid(report, ctx, ts),
        ]
    if exec_type in ("5", "D"):
        return _amended(report, ctx, ts, restated=exec_type == "D")
    if exec_type == "L":  # Triggered or Activated by System: a stop's StopPx (99) traded
        triggered = message(TriggeredMessage, **order_key(report, ctx), ts=ts, source=source)
        return [*opening(report, ctx, ts, clordid, orig, order_id), triggered]
    meaning = EXEC_TYPES.get(exec_type, "not a fact the ledger books")
    ctx.notes.append(f"ExecType {shortened(exec_type)} ({meaning}) for {named(report)}: no fact recorded")
    return []


def opening(
    report: Report, ctx: Context, ts: str, clordid: str | None, orig: str | None, order_id: str | None
) -> list[Message]:
    """The request a report opens its order with (package docstring, "Orders first seen in a
    report"): from a report whose ClOrdID 11 is the order's own (no OrigClOrdID 41 naming another
    link, and no other report of the input naming 11 a later link) and that carries what a
    request needs, numbering it ``order_id`` (its OrderID 37, but for a rejection); nothing
    otherwise, and its fact waits for the order. Nothing either for a ClOrdID an earlier report
    of the run, of no later time, opened its order with (``Context.opened``, and the input's own
    ``Context.opening``): that request is decided, booked or refused, and stating the order again
    for every fill would only add a duplicate to decide."""
    if clordid is None or orig is not None:
        return []
    since = ctx.opening.get(clordid) or ctx.opened.get(clordid)
    if (since is not None and since <= ts) or clordid in ctx.later_links:
        return []  # (a report earlier than that one states the order again: it was created earlier)
    out = request_messages(report, clordid, ctx, ts, required=False, venue_order_id=order_id)
    if out:
        ctx.opening[clordid] = ts
    return out


def named(report: Report) -> str:
    """How a note names the report's order: its ClOrdID, else its OrderID."""
    clordid, _, order_id = chain(report)
    if clordid is not None:
        return f"ClOrdID {shortened(clordid)}"
    return f"OrderID {shortened(order_id)}" if order_id is not None else "(no order named)"


def _amended(report: Report, ctx: Context, ts: str, *, restated: bool) -> list[Message]:
    """Replaced (150=5) or Restated (150=D): the order's new OrderQty (38) and Price (44)."""
    quantity = ctx.quantity(report, 38, "OrderQty(38)")
    price = ctx.price(report, 44, "Price(44)")
    if quantity is None and price is None:
        if restated:
            ctx.notes.append(
                f"Restated {named(report)} states no OrderQty (38) or Price (44): nothing to book"
            )
            return []
        raise FixError("a Replaced (150=5) needs OrderQty (38) or Price (44)")
    fact = message(
        AmendedMessage, **order_key(report, ctx), quantity=quantity, price=price, ts=ts, source=ctx.source
    )
    return [fact, *new_clordid(report, ctx, ts)]


def _bust_or_correct(report: Report, ctx: Context, ts: str, *, correct: bool) -> Message:
    """A trade reversed (FIX 4.4 150=H, 4.2 20=1) or corrected (150=G, 20=2): ExecRefID 19 names it."""
    what = "Trade Correct (150=G or 20=2)" if correct else "Trade Cancel (150=H or 20=1)"
    trade_id = value_of(report, 19)
    if trade_id is None:
        raise FixError(f"a {what} needs ExecRefID (19): the ExecID it {'corrects' if correct else 'busts'}")
    reason = value_of(report, 58)
    if not correct:
        return message(
            FillBustedMessage,
            **order_key(report, ctx),
            trade_id=trade_id,
            reason=reason,
            ts=ts,
            source=ctx.source,
        )
    quantity = ctx.quantity(report, 32, "LastQty(32)")
    price = ctx.price(report, 31, "LastPx(31)")
    if quantity is None and price is None:
        raise FixError(f"a {what} needs a positive LastQty (32) or LastPx (31)")
    fee, _ = fees(report, quantity, ctx, trade_id)
    return message(
        FillCorrectedMessage,
        **order_key(report, ctx),
        trade_id=trade_id,
        quantity=quantity,
        price=price,
        fee=fee,
        reason=reason,
        ts=ts,
        source=ctx.source,
    )


def _fill(report: Report, ctx: Context, ts: str) -> Message:
    trade_id = value_of(report, 17)
    if trade_id is None:
        raise FixError("a trade (150=F) needs ExecID (17)")
    quantity = ctx.quantity(report, 32, "LastQty(32)")
    price = ctx.price(report, 31, "LastPx(31)")
    if quantity is None or price is None:
        raise FixError(f"trade {trade_id!r} needs a positive LastQty (32) and LastPx (31)")
    fee, fee_currency = fees(report, quantity, ctx, trade_id)
    return message(
        FillMessage,
        **order_key(report, ctx),
        trade_id=trade_id,
        quantity=quantity,
        price=price,
        fee=fee,
        fee_currency=fee_currency,
        liquidity=LIQUIDITY.get(value_of(report, 851) or ""),
        ts=ts,
        source=ctx.source,
    )
