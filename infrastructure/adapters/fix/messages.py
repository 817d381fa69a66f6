"""FIX 4.2 / 4.4 session text → ledger messages, no FIX engine.

Input is what a FIX engine's message log holds: one line per message (QuickFIX/J writes
``20261120-10:00:00.000: 8=FIX.4.4<SOH>9=…``, QuickFIX/n ``20261120-10:00:00.000 : 8=FIX…``),
or several messages on one line when a log was written without newlines; SOH- or
``|``-separated. A report may also be given as a dict of tag → value. Nothing here does I/O.

**Reading** (:func:`read_fix`). Text before the first BeginString (``8=FIX``) is a log prefix
and dropped. Messages are framed by BodyLength (9) when present (so a ``|`` or ``8=FIX`` inside
Text cannot split one), else at each separator followed by ``8=FIX``. Each message is checked:

* BodyLength (9), when present, must count the bytes after the ``9=…`` field up to and
  including the separator before ``10=`` (FIX spec, "Message format");
* CheckSum (10), when present, must be the sum of every byte before ``10=`` (the separator
  included) mod 256, as three digits. With ``|`` logs both are computed as if each ``|`` were
  SOH (one byte each way; the engine computed them on the wire);
* a bad one refuses the message, and so the whole line, with its reason.

Values are UTF-8, else Latin-1 (older engines). A repeated tag keeps its first value in the
mapping; every field stays in order in :attr:`FixFields.pairs` (repeating groups).

**Messages** (MsgType 35) → ledger messages, applied in the order the line holds them:

====  ========================  =============================================================
35    message                   ledger message(s)
====  ========================  =============================================================
8     ExecutionReport           per ExecType 150 and ExecTransType 20 (tables below)
9     OrderCancelReject         ``cancel_rejected`` (CxlRejResponseTo 434 = 1) or
                                ``amend_rejected`` (434 = 2); reason = Text 58, else
                                CxlRejReason 102 in words
D     NewOrderSingle            ``request`` (a drop copy shows the caller's intent): ClOrdID
                                11, account (below), Symbol 55 (named as below), Side 54,
                                OrdType 40 (3 stop, 4 stop limit: StopPx 99 the trigger),
                                OrderQty 38, Price 44, TimeInForce 59, Currency 15 as quote
                                currency, ExecInst 18 as post-only (holding 6) and reduce-only
                                (holding E), ExpireTime 126 of a GTD (59=6), MaxFloor 111 as
                                the shown quantity; an ``instrument`` before it when the
                                message defines one (below)
F     OrderCancelRequest        ``cancel_requested`` for the order OrigClOrdID 41 names
G     OrderCancelReplaceRequest ``amend_requested``: quantity = OrderQty 38, price = Price 44
other admin and others          nothing; a note says so
====  ========================  =============================================================

ExecType (150) of an ExecutionReport:

====  =================  ===================================================================
150   meaning            message(s)
====  =================  ===================================================================
0     New                ``accepted`` (venue_order_id = OrderID 37), after the ``request`` the
                         report opens its order with (below)
1 2 F (Partial) fill     ``fill``: trade_id = ExecID 17, quantity = LastQty 32, price =
                         LastPx 31, fee (below), liquidity from LastLiquidityInd 851 (1 added →
                         maker, 2 removed → taker). 1 and 2 are FIX 4.2's spellings of a trade.
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
                         duplicate); nothing (a note) when neither tag is present
6 E   Pending Cancel /   nothing (a note). The pending state is *our* intent, recorded as
      Pending Replace    ``cancel_requested``/``amend_requested`` by whoever sent the request
                         (or read from a drop copy's 35=F/G); the outcome (4, 5, or a 35=9)
                         settles it.
L     Triggered          ``triggered``: a stop's StopPx 99 traded, the order now works
                         (after the ``request`` the report opens its order with)
I     Order Status       nothing (a note): the venue's view, not a new fact. Feed it to
                         reconciliation, which compares and corrects explicitly.
A 3 7 9 B …              nothing (a note): pending new, done for day, stopped, suspended …
====  =================  ===================================================================

**Orders first seen in a report.** A drop copy may report an order it never reported as New (a
rejection, an expiry, an unsolicited cancel, a fill). Every ExecutionReport of ExecType 0, 8, 4,
C, L, F, 1 or 2 whose ClOrdID 11 is the order's own (no OrigClOrdID 41 naming another link) and
that states what a NewOrderSingle would (an account, Symbol 55 or SecurityID 48, Side 54, a
positive OrderQty 38, OrdType 40, Price 44 for a limit or stop limit order, StopPx 99 for a
stop) puts a ``request`` from those fields (numbered with its OrderID 37, but for a
rejection) before its fact, so the order is booked
whatever the ExecType. When the order is known, the request states it again (a duplicate, or
details it lacked); a report naming it by a later ClOrdID of its chain is that order, as the
ledger takes a request whose client order ID an order holds as an alias, or whose OrderID an
order of the same account, instrument and side holds. In one run (``FixTranslation``: an
ingest, a collector's life) only the first report of a ClOrdID, or one of an earlier time,
states its order: its fills after it do not decide the request again. A report lacking one
of those fields, or whose line holds a report naming its 11 a later link (11 beside a 41),
opens nothing: its fact waits for the order. A report under a later ClOrdID read before
anything names the earlier ones opens the order under it (the order is then keyed by that
ClOrdID; the reports of the earlier links resolve to it through their aliases and OrderID).

ExecTransType (20), FIX 4.2 and earlier, comes before ExecType: 0 (New) or absent → the table
above; 1 (Cancel) → ``fill_busted`` of the execution ExecRefID 19 names; 2 (Correct) →
``fill_corrected`` of it (LastShares 32, LastPx 31, fee); 3 (Status) → nothing, a note: a
status report is not a new fill even when it repeats LastShares.

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
3. A Replaced, Restated, Canceled or Expired report — or a New answering a replace — that
   carries a new ClOrdID (41 present and ≠ 11, as when it answers our cancel/replace request)
   adds an ``accepted`` after its fact, with no venue order ID and the aliases above, which
   records ``fix_clordid:<11>`` on the order (the ledger records aliases from
   acknowledgements only). So the chain c1 → c2 → c3 leaves one order, keyed ``c1``, with
   aliases ``fix_clordid:c1``, ``fix_clordid:c2`` and ``fix_clordid:c3``.
4. **A new OrderID on cancel (or on a New answering a replace).** Some venues give the order a
   new OrderID when they cancel or replace it. The ledger records a further venue order ID
   only through ``amended`` (an acknowledgement or any other fact naming an unknown venue order
   ID is an identity conflict, because it could be another order's report). So a Canceled,
   Expired or New report answering a chain request (41 ≠ 11) with an OrderID first emits an
   ``amended`` carrying that OrderID and the order's terms as the report states them (OrderQty
   38, Price 44), then its fact. When the OrderID is the one already recorded and the terms
   are unchanged, that ``amended`` is a duplicate and records nothing; otherwise the new
   OrderID joins ``venue_order_ids`` (before the fact that names it is applied) and every
   later report carrying it resolves. A venue that changes OrderID on an unsolicited cancel
   (no 41) cannot be told from a misrouted report: the ledger refuses that line as an identity
   conflict.

**Contradictions.** Every report also states what it says of its order (:func:`stated_of`):
``account`` (``account=``, else Account 1), ``instrument`` (Symbol 55 named as a request names
it) and ``side`` (54). The ledger refuses a report whose order has another one
(``Order.check_stated``), with the field and both values.

Known limit (ledger core): a message is parked on its identities. If the venue assigns a new
OrderID on replace and the order's request reaches the ledger only after that Replaced, the
Replaced waits on the new OrderID that only it would record, and the reports after it wait
with it (reconciliation then settles the order). Recording the request first, as the ledger
expects, avoids it. A trade corrected in FIX 4.2 keeps its first ExecID in the ledger; a later
bust that names the correction's ExecID is refused as an unknown trade.

Each alias name embeds its value because an order holds one value per alias name and the
ledger refuses to change it; a constant name could not hold a chain (see
:func:`infrastructure.adapters.aliases.qualified_alias`). To let FIX reports resolve before the
New is seen, put :func:`clordid_alias` of the client order ID on the request.

**Account.** ``account=`` (the CLI's ``--account``) when given, else Account (1) of the message.

**Fees.** Commission 12 with CommType 13: 3 (absolute) or absent → the amount; 1 (per unit) →
12 × LastQty; any other basis (percentage, points) is not guessed: a note says it was not
booked. Its currency is CommCurrency 479, else Currency 15. MiscFees (NoMiscFees 136, then
MiscFeeAmt 137, MiscFeeCurr 138, MiscFeeType 139, MiscFeeBasis 891 per entry) are added to
the fee when in the same currency (a missing MiscFeeCurr is Currency 15's); MiscFeeBasis 1 is
per unit (× LastQty), 2 (percentage) is not guessed. A fill carries one fee in one currency: a
misc fee in another currency is not booked and a note says so with its amount, currency and
type (the journal keeps it for the audit). With no commission, the first misc fee's currency
is the fill's fee currency.

**Scale.** Venues that send integers give ``options`` (``venue.FixOptions``):
``quantity_scale=N`` divides LastQty 32 and OrderQty 38 by 10**N, ``price_scale=N`` divides
LastPx 31, Price 44 and StrikePrice 202 by 10**N (exact decimal shifts). ``quantity_scale_tag``
/ ``price_scale_tag`` name a custom tag the venue puts on a message with its scale; when
present it wins over the configured one. ``quantity_divisor_tag`` / ``price_divisor_tag`` name
a tag stating a power-of-ten divisor instead (Zero Hash's FractionBase 43229:
``38=1000|43229=10000`` is 0.1); it wins over both.
Commission and misc fees are money amounts and are not scaled.

**Instruments.** SecurityType 167, ContractMultiplier 231, MaturityMonthYear 200, PutOrCall
201, StrikePrice 202, SecurityID 48 / SecurityIDSource 22 on a NewOrderSingle or a New define
the instrument: an ``instrument`` message comes before the ``request`` (kind from 167: OPT
option, FUT future, CS/PS equity, FOR/FXSPOT spot, else other; contract_size = 231;
underlying = UnderlyingSymbol 311, else Symbol 55). The name keeps derivatives apart from
their underlying, so they never net into one position: an option is ``"<55> <200> <C|P>
<202>"`` (``"AAPL 202612 C 150"``), a future ``"<55> <200>"`` (``"ES 202612"``, ``"<55> FUT"``
without a maturity); anything else is Symbol 55 (SecurityID 48 when 55 is absent or
``[N/A]``). ``instrument_of`` maps the venue's Symbol first.

Times: TransactTime 60 (``YYYYMMDD-HH:MM:SS[.fff…]``, UTC; digits past microseconds are
dropped), else SendingTime 52.
"""

from __future__ import annotations

from collections.abc import Callable

from orderledger.infrastructure.adapters.fix.codes import (
    CLORDID_ALIAS,
    MSG_TYPES,
    SOURCE,
    FixError,
    InstrumentOf,
    Report,
)
from orderledger.infrastructure.adapters.fix.framing import (
    FixFields,
    parse_fix,
    read_fix,
    transact_time,
    value_of,
)
from orderledger.infrastructure.adapters.fix.identity import chain, clordid_alias
from orderledger.infrastructure.adapters.fix.orders import (
    cancel_reject,
    cancel_reject_messages,
    cancel_request,
    new_order_single,
    replace_request,
)
from orderledger.infrastructure.adapters.fix.reports import execution_report, execution_report_messages
from orderledger.infrastructure.adapters.fix.scales import Context, shortened, summarised
from orderledger.infrastructure.adapters.fix.venue import FixOptions
from orderledger.infrastructure.messages.models import Message

_BY_TYPE: dict[str | None, Callable[[Report, Context], list[Message]]] = {
    None: execution_report,
    "8": execution_report,
    "9": cancel_reject,
    "D": new_order_single,
    "F": cancel_request,
    "G": replace_request,
}


def fix_messages(
    report: Report | str | bytes,
    *,
    venue: str,
    account: str | None = None,
    instrument_of: InstrumentOf | None = None,
    source: str = SOURCE,
    notes: list[str] | None = None,
    options: FixOptions | None = None,
    opened: dict[str, str] | None = None,
) -> list[Message]:
    """Messages for one captured line (or one report mapping), every FIX message in it in order.

    ``notes`` collects one line for each part of the input deliberately not booked. See the
    package docstring for the options. ``opened``: the ClOrdIDs earlier lines of the run opened
    their orders with, at what time (``FixTranslation``); a report under one of them, of no
    earlier time, opens nothing, and the ClOrdIDs this input opens orders with are added once it
    is translated.
    """
    reports: list[Report] = [*read_fix(report)] if isinstance(report, str | bytes) else [report]
    ctx = Context(
        venue,
        account,
        instrument_of,
        source,
        [],
        options or FixOptions(),
        later_links(reports) if len(reports) > 1 else frozenset(),
        {} if opened is None else opened,
    )
    out: list[Message] = []
    for one in reports:
        msg_type = value_of(one, 35)
        translate = _BY_TYPE.get(msg_type)
        if translate is None:
            meaning = MSG_TYPES.get(msg_type or "", "not an order message")
            ctx.notes.append(f"MsgType {shortened(str(msg_type))} ({meaning}) carries no order fact")
            continue
        out.extend(translate(one, ctx))
    if notes is not None:
        notes.extend(summarised(ctx.notes))
    if opened is not None and ctx.opening:
        if len(opened) >= MAX_OPENED:
            opened.clear()  # a report of an order forgotten states it again: a duplicate, harmless
        opened.update(ctx.opening)
    return out


def later_links(reports: list[Report]) -> frozenset[str]:
    """The ClOrdIDs a line's messages name as later links of a chain (11 with an OrigClOrdID 41
    naming another): a report under one of them, wherever it stands in the line, is not the
    order's first. (A report alone names its own 11 a later link only beside its 41: the caller
    asks only of a line of several.)"""
    return frozenset(c for c, orig, _ in map(chain, reports) if c is not None and orig is not None)


def line_messages(
    raw: bytes, *, venue: str, account: str | None, notes: list[str], options: FixOptions
) -> list[Message]:
    """One line read alone, the raw bytes, as CheckSum (10) and BodyLength (9) count bytes and a
    Latin-1 Text must survive: every report that states its order opens it."""
    return fix_messages(raw, venue=venue, account=account, notes=notes, options=options)


MAX_OPENED = 100_000
"""The most ClOrdIDs a run remembers having opened an order with (a collector's run lasts)."""


class FixTranslation:
    """The ``fix`` format's reading of the lines of one run (an ingest, a collector's life;
    ``venue.VENUE``): each line as :func:`line_messages` reads it, but only the first report of
    a ClOrdID the run reads (or one of an earlier time, which dates the order) opens its order.
    The fills and cancels after it name the order without stating it again (a request decided
    once per order per run, not once per report); a run that starts with a report of an order
    booked by an earlier run states it once more, a duplicate."""

    def __init__(self) -> None:
        self.opened: dict[str, str] = {}

    def __call__(
        self, raw: bytes, *, venue: str, account: str | None, notes: list[str], options: FixOptions
    ) -> list[Message]:
        return fix_messages(
            raw, venue=venue, account=account, notes=notes, options=options, opened=self.opened
        )


__all__ = [
    "CLORDID_ALIAS",
    "SOURCE",
    "FixError",
    "FixFields",
    "FixTranslation",
    "cancel_reject_messages",
    "clordid_alias",
    "execution_report_messages",
    "fix_messages",
    "line_messages",
    "parse_fix",
    "read_fix",
    "transact_time",
]
