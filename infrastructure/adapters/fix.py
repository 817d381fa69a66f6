"""FIX ExecutionReport (35=8) and OrderCancelReject (35=9) → ledger messages, no FIX engine.

A report is a dict of tag → value (keys ints or digit strings, values strings), or raw FIX text
read by :func:`parse_fix` (SOH or ``|`` separated). Nothing here does I/O.

ExecType (150) → message:

====  =================  ===================================================================
150   meaning            message(s)
====  =================  ===================================================================
0     New                ``accepted`` (venue_order_id = OrderID 37); with ``account=`` given,
                         a ``request`` first (drop copies of orders placed elsewhere)
1 2 F (Partial) fill     ``fill``: trade_id = ExecID 17, quantity = LastQty 32, price =
                         LastPx 31, fee from Commission 12/CommType 13, fee_currency =
                         CommCurrency 479 else Currency 15, liquidity from LastLiquidityInd
                         851 (1 added → maker, 2 removed → taker). 1 and 2 are FIX 4.2's
                         spellings of a trade.
H     Trade Cancel       ``fill_busted``: trade_id = ExecRefID 19, reason = Text 58
G     Trade Correct      ``fill_corrected``: trade_id = ExecRefID 19 (the trade keeps its
                         first ExecID), quantity = LastQty 32, price = LastPx 31, fee
4     Canceled           ``canceled`` (reason = Text 58)
5     Replaced           ``amended``: quantity = OrderQty 38 (a total including fills, as the
                         ledger wants), price = Price 44, venue_order_id = OrderID 37 (kept
                         beside earlier ones if the venue assigned a new one)
8     Rejected           ``rejected`` (reason = Text 58, else OrdRejReason 103)
C     Expired            ``expired``
D     Restated           ``amended`` with OrderQty 38 / Price 44 when present: a restatement
                         is the venue's word on the order's terms (the ledger applies an
                         amendment "even one we did not ask for", and an unchanged one is a
                         duplicate); nothing when neither tag is present
6 E   Pending Cancel /   nothing. The pending state is *our* intent, recorded as
      Pending Replace    ``cancel_requested``/``amend_requested`` by whoever sent the request
                         (intent is recorded before it is sent); the venue's "pending" adds no
                         fact, and the outcome (4, 5, or a 35=9 reject) settles it.
I     Order Status       nothing: a status report is the venue's view, not a new fact. Feed
                         it to reconciliation, which compares and corrects explicitly.
A 3 7 9 B …              nothing (pending new, done for day, stopped, suspended, calculated)
====  =================  ===================================================================

OrderCancelReject (35=9): CxlRejResponseTo 434 = 1 → ``cancel_rejected``, 2 → ``amend_rejected``;
reason = Text 58, else CxlRejReason 102 in words.

**Client order IDs and cancel/replace chains.** The ledger's client order ID never changes. In
FIX every cancel or replace request carries a *new* ClOrdID (11) with OrigClOrdID (41) naming
the previous one (not the first: FIX chains them), and later reports for the order carry the
latest ClOrdID, often without 41. A report therefore cannot tell, on its own, whether its 11
is the order's client order ID or a later link of its chain. The adapter does this:

1. A report that introduces an order — 150=0 New or 150=8 Rejected, without a 41 that differs
   from 11 — names it by ``client_order_id`` = ClOrdID 11: that is the first link, the client
   order ID the request used. Its ``accepted`` also records the alias ``fix_clordid:<11>``.
2. Every other report names the order by ``venue`` + ``venue_order_id`` (OrderID 37, unless
   absent or ``NONE``) + ``aliases`` {``fix_clordid:<41>``, ``fix_clordid:<11>``}. The ledger
   tries the venue order ID first, then the aliases, so the order resolves whether the venue
   keeps its OrderID across replaces (most do) or assigns a new one (then the previous ClOrdID
   in 41 finds it). It is never re-keyed: the new ClOrdID becomes one more alias.
3. A Replaced, Restated, Canceled or Expired report that carries a new ClOrdID (41 present
   and ≠ 11, as when it answers our cancel/replace request) adds an ``accepted`` after its
   fact, with no venue order ID (a new one would conflict with the order's recorded one) and
   the aliases above, which records ``fix_clordid:<11>`` on the order (the ledger records
   aliases from acknowledgements only). So the chain c1 → c2 → c3 leaves one order, keyed
   ``c1``, with aliases ``fix_clordid:c1``, ``fix_clordid:c2`` and ``fix_clordid:c3``.

Known limit (ledger core): a message is parked on its *first* identity, the venue order ID. If
the venue assigns a new OrderID on replace and the order's request reaches the ledger only
after that Replaced, the Replaced waits on the new OrderID that only it would record, and the
reports after it wait with it (reconciliation then settles the order). Recording the request
first, as the ledger expects, avoids it.

Each alias name embeds its value because an order holds one value per alias name and the
ledger refuses to change it; a constant name could not hold a chain (see
:func:`infrastructure.adapters.aliases.qualified_alias`). To let FIX reports resolve before the
New is seen, put :func:`clordid_alias` of the client order ID on the request.

Times: TransactTime 60 (``YYYYMMDD-HH:MM:SS[.fff…]``, UTC; digits past microseconds are
dropped), else SendingTime 52. Commission: CommType 3 (absolute) or absent → Commission 12 as
the fee; 1 (per unit) → 12 × LastQty; a percentage or other basis is left off rather than
guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from domain.values import format_timestamp
from infrastructure.adapters.aliases import qualified_alias
from infrastructure.adapters.common import (
    AdapterError,
    Message,
    decimal_text,
    message,
    positive_text,
    text_or_none,
)

SOURCE = "fix"
SOH = "\x01"
CLORDID_ALIAS = "fix_clordid"
"""Prefix of the alias names under which an order's FIX ClOrdIDs are recorded."""

Report = Mapping[Any, Any]
"""A FIX message as tag → value; tags as ints (``35``) or digit strings (``"35"``)."""
InstrumentOf = Callable[[str], str]

SIDES = {"1": "buy", "2": "sell", "5": "sell", "6": "sell"}  # 5/6: sell short (exempt)
ORDER_TYPES = {"1": "market", "2": "limit"}
TIME_IN_FORCE = {"0": "DAY", "1": "GTC", "2": "OPG", "3": "IOC", "4": "FOK", "6": "GTD", "7": "GTX"}
LIQUIDITY = {"1": "maker", "2": "taker"}
CXL_REJ_REASONS = {
    "0": "too late to cancel",
    "1": "unknown order",
    "2": "broker/exchange option",
    "3": "order already in pending cancel or pending replace status",
    "4": "unable to process order mass cancel request",
    "5": "OrigOrdModTime did not match last TransactTime of order",
    "6": "duplicate ClOrdID received",
    "99": "other",
}
# ASCII digits only: \d would read "٣٥=8" as tag 35, and a 5,000-digit tag would overflow int().
_FIELD = re.compile(r"^([0-9]{1,9})=(.*)$", re.DOTALL)
_TIME = re.compile(r"^([0-9]{4})([0-9]{2})([0-9]{2})-([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?$")


class FixError(AdapterError):
    """A FIX message the adapter cannot read or translate."""


# ---------------------------------------------------------------------- reading FIX text


def parse_fix(text: str | bytes) -> dict[int, str]:
    """Read ``8=FIX.4.4|9=…|35=8|…|10=…`` (SOH or ``|`` separators) into tag → value.

    SOH is the separator whenever the text contains one, so a ``|`` inside Text (58) survives.
    A tag repeated (a repeating group) keeps its first value; the checksum is not verified.
    """
    if isinstance(text, bytes):
        raw = text
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
    text = text.strip("\r\n")
    separator = SOH if SOH in text else "|"
    fields: dict[int, str] = {}
    for part in text.split(separator):
        if not part:
            continue
        match = _FIELD.match(part)
        if match is None:
            raise FixError(f"not a FIX field (tag=value): {part[:40]!r}")
        fields.setdefault(int(match.group(1)), match.group(2))
    if not fields:
        raise FixError("empty FIX message")
    return fields


def _get(report: Report, tag: int) -> str | None:
    value = report.get(tag)
    if value is None:
        value = report.get(str(tag))
    return text_or_none(value)


def transact_time(value: str, field: str = "TransactTime(60)") -> str:
    """``YYYYMMDD-HH:MM:SS[.sss…]`` (UTC) as ISO 8601 with microseconds and ``Z``."""
    match = _TIME.match(value.strip())
    if match is None:
        raise FixError(f"{field} is not YYYYMMDD-HH:MM:SS[.sss]: {value[:40]!r}")
    year, month, day, hour, minute, second, fraction = match.groups()
    micros = int((fraction or "").ljust(6, "0")[:6])
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micros, tzinfo=UTC
        )
    except ValueError:
        raise FixError(f"{field} is not a valid time: {value[:40]!r}") from None
    return format_timestamp(moment)


def _ts(report: Report) -> str:
    for tag, name in ((60, "TransactTime(60)"), (52, "SendingTime(52)")):
        value = _get(report, tag)
        if value is not None:
            return transact_time(value, name)
    raise FixError("the report has neither TransactTime (60) nor SendingTime (52)")


# ---------------------------------------------------------------------- identities


def clordid_alias(clordid: str) -> dict[str, str]:
    """The alias that records one FIX ClOrdID on an order: ``{"fix_clordid:<id>": "<id>"}``."""
    return qualified_alias(CLORDID_ALIAS, clordid)


def _chain(report: Report) -> tuple[str | None, str | None, str | None]:
    """(ClOrdID 11, OrigClOrdID 41 when it names another link, OrderID 37 when assigned)."""
    clordid = _get(report, 11)
    orig = _get(report, 41)
    if orig == clordid:
        orig = None
    order_id = _get(report, 37)
    if order_id is not None and order_id.upper() == "NONE":
        order_id = None
    return clordid, orig, order_id


def _aliases(*clordids: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in clordids:
        if value is not None:
            out.update(clordid_alias(value))
    return out


def _key(report: Report, venue: str) -> dict[str, Any]:
    """How a non-introducing report names its order: venue order ID, then ClOrdID aliases."""
    clordid, orig, order_id = _chain(report)
    if clordid is None and orig is None and order_id is None:
        raise FixError("the report names no order (ClOrdID 11, OrigClOrdID 41 or OrderID 37)")
    return {"venue": venue, "venue_order_id": order_id, "aliases": _aliases(orig, clordid)}


def _new_clordid(report: Report, venue: str, ts: str, source: str) -> list[Message]:
    """The ``accepted`` that records a new ClOrdID as an alias (see the module docstring, 3)."""
    clordid, orig, _ = _chain(report)
    if clordid is None or orig is None:
        return []
    return [message("accepted", venue=venue, aliases=_aliases(orig, clordid), ts=ts, source=source)]


# ---------------------------------------------------------------------- ExecutionReport


def execution_report_messages(
    report: Report | str | bytes,
    *,
    venue: str,
    account: str | None = None,
    instrument_of: InstrumentOf | None = None,
    source: str = SOURCE,
) -> list[Message]:
    """The ledger messages one ExecutionReport implies (see the module docstring's table)."""
    if isinstance(report, str | bytes):
        report = parse_fix(report)
    msg_type = _get(report, 35)
    if msg_type is not None and msg_type != "8":
        raise FixError(f"not an ExecutionReport (35=8): 35={msg_type}")
    exec_type = _get(report, 150)
    if exec_type is None:
        raise FixError("ExecType (150) is required")
    exec_type = exec_type.upper()
    ts = _ts(report)
    clordid, orig, order_id = _chain(report)
    reason = _get(report, 58)

    if exec_type == "0":
        if orig is not None:  # a New answering a replace: name it through the chain
            return [message("accepted", **_key(report, venue), ts=ts, source=source)]
        if clordid is None:
            raise FixError("a New (150=0) needs ClOrdID (11)")
        out: list[Message] = []
        if account is not None:
            request = _request(report, clordid, venue, account, ts, instrument_of, source)
            if request is not None:
                out.append(request)
        out.append(
            message(
                "accepted",
                client_order_id=clordid,
                venue=venue,
                venue_order_id=order_id,
                aliases=clordid_alias(clordid),
                ts=ts,
                source=source,
            )
        )
        return out
    if exec_type == "8":
        reason = reason or _get(report, 103)
        if orig is None and clordid is not None:
            # No venue order ID: a message carrying one would acknowledge the order first.
            return [
                message("rejected", client_order_id=clordid, venue=venue, ts=ts, source=source, reason=reason)
            ]
        key = _key(report, venue)
        key["venue_order_id"] = None
        return [message("rejected", **key, ts=ts, source=source, reason=reason)]
    if exec_type in ("F", "1", "2"):
        return [_fill(report, venue, ts, source)]
    if exec_type == "H":
        trade_id = _get(report, 19)
        if trade_id is None:
            raise FixError("a Trade Cancel (150=H) needs ExecRefID (19): the ExecID it busts")
        return [
            message(
                "fill_busted", **_key(report, venue), trade_id=trade_id, reason=reason, ts=ts, source=source
            )
        ]
    if exec_type == "G":
        trade_id = _get(report, 19)
        if trade_id is None:
            raise FixError("a Trade Correct (150=G) needs ExecRefID (19): the ExecID it corrects")
        quantity = positive_text(_get(report, 32), "LastQty(32)")
        price = positive_text(_get(report, 31), "LastPx(31)")
        if quantity is None and price is None:
            raise FixError("a Trade Correct (150=G) needs a positive LastQty (32) or LastPx (31)")
        fee, _ = _commission(report, quantity)
        return [
            message(
                "fill_corrected",
                **_key(report, venue),
                trade_id=trade_id,
                quantity=quantity,
                price=price,
                fee=fee,
                reason=reason,
                ts=ts,
                source=source,
            )
        ]
    if exec_type == "4":
        fact = message("canceled", **_key(report, venue), reason=reason, ts=ts, source=source)
        return [fact, *_new_clordid(report, venue, ts, source)]
    if exec_type == "C":
        fact = message("expired", **_key(report, venue), reason=reason, ts=ts, source=source)
        return [fact, *_new_clordid(report, venue, ts, source)]
    if exec_type in ("5", "D"):
        quantity = positive_text(_get(report, 38), "OrderQty(38)")
        price = positive_text(_get(report, 44), "Price(44)")
        if quantity is None and price is None:
            if exec_type == "D":
                return []
            raise FixError("a Replaced (150=5) needs OrderQty (38) or Price (44)")
        fact = message("amended", **_key(report, venue), quantity=quantity, price=price, ts=ts, source=source)
        return [fact, *_new_clordid(report, venue, ts, source)]
    return []  # 6, E, I, A, 3, 7, 9, B …: no fact (see the module docstring)


def _fill(report: Report, venue: str, ts: str, source: str) -> Message:
    trade_id = _get(report, 17)
    if trade_id is None:
        raise FixError("a trade (150=F) needs ExecID (17)")
    quantity = positive_text(_get(report, 32), "LastQty(32)")
    price = positive_text(_get(report, 31), "LastPx(31)")
    if quantity is None or price is None:
        raise FixError(f"trade {trade_id!r} needs a positive LastQty (32) and LastPx (31)")
    fee, fee_currency = _commission(report, quantity)
    return message(
        "fill",
        **_key(report, venue),
        trade_id=trade_id,
        quantity=quantity,
        price=price,
        fee=fee,
        fee_currency=fee_currency,
        liquidity=LIQUIDITY.get(_get(report, 851) or ""),
        ts=ts,
        source=source,
    )


def _commission(report: Report, quantity: str | None) -> tuple[str | None, str | None]:
    """The fee of one execution from Commission (12) and CommType (13), with its currency."""
    amount = decimal_text(_get(report, 12), "Commission(12)")
    if amount is None:
        return None, None
    currency = _get(report, 479) or _get(report, 15)
    basis = _get(report, 13)
    if basis in (None, "3"):
        return amount, currency
    if basis == "1" and quantity is not None:
        return decimal_text(Decimal(amount) * Decimal(quantity), "Commission(12)"), currency
    return None, None  # percentage, points …: the basis is venue-specific, so not guessed


def _request(
    report: Report,
    clordid: str,
    venue: str,
    account: str,
    ts: str,
    instrument_of: InstrumentOf | None,
    source: str,
) -> Message | None:
    """A request from a New's order fields; None when they do not describe the order."""
    symbol = _get(report, 55)
    side = SIDES.get(_get(report, 54) or "")
    quantity = positive_text(_get(report, 38), "OrderQty(38)")
    price = positive_text(_get(report, 44), "Price(44)")
    order_type = ORDER_TYPES.get(_get(report, 40) or "") or ("limit" if price is not None else None)
    if symbol is None or side is None or quantity is None or order_type is None:
        return None
    if order_type == "limit" and price is None:
        return None
    return message(
        "request",
        client_order_id=clordid,
        account=account,
        venue=venue,
        instrument=instrument_of(symbol) if instrument_of else symbol,
        side=side,
        order_type=order_type,
        quantity=quantity,
        price=price if order_type == "limit" else None,
        time_in_force=TIME_IN_FORCE.get(_get(report, 59) or ""),
        aliases=clordid_alias(clordid),
        ts=ts,
        source=source,
    )


# ---------------------------------------------------------------------- OrderCancelReject


def cancel_reject_messages(
    report: Report | str | bytes, *, venue: str, source: str = SOURCE
) -> list[Message]:
    """``cancel_rejected`` or ``amend_rejected`` for an OrderCancelReject (35=9)."""
    if isinstance(report, str | bytes):
        report = parse_fix(report)
    msg_type = _get(report, 35)
    if msg_type is not None and msg_type != "9":
        raise FixError(f"not an OrderCancelReject (35=9): 35={msg_type}")
    response_to = _get(report, 434)
    kind = {"1": "cancel_rejected", "2": "amend_rejected"}.get(response_to or "")
    if kind is None:
        raise FixError(f"CxlRejResponseTo (434) must be 1 or 2, not {response_to!r}")
    reason = _get(report, 58) or CXL_REJ_REASONS.get(_get(report, 102) or "")
    return [message(kind, **_key(report, venue), reason=reason, ts=_ts(report), source=source)]


def fix_messages(
    report: Report | str | bytes,
    *,
    venue: str,
    account: str | None = None,
    instrument_of: InstrumentOf | None = None,
    source: str = SOURCE,
    notes: list[str] | None = None,
) -> list[Message]:
    """Messages for any FIX application message: 35=8 and 35=9 translate, others carry none.

    ``notes`` collects one line for each part of the input deliberately not booked.
    """
    if isinstance(report, str | bytes):
        report = parse_fix(report)
    msg_type = _get(report, 35)
    if msg_type == "9":
        return cancel_reject_messages(report, venue=venue, source=source)
    if msg_type in (None, "8"):
        return execution_report_messages(
            report, venue=venue, account=account, instrument_of=instrument_of, source=source
        )
    return []


__all__ = [
    "CLORDID_ALIAS",
    "SOURCE",
    "FixError",
    "cancel_reject_messages",
    "clordid_alias",
    "execution_report_messages",
    "fix_messages",
    "parse_fix",
    "transact_time",
]
