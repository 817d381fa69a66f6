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
                                OrdType 40, OrderQty 38, Price 44, TimeInForce 59, Currency 15
                                as quote currency; an ``instrument`` before it when the message
                                defines one (below)
F     OrderCancelRequest        ``cancel_requested`` for the order OrigClOrdID 41 names
G     OrderCancelReplaceRequest ``amend_requested``: quantity = OrderQty 38, price = Price 44
other admin and others          nothing; a note says so
====  ========================  =============================================================

ExecType (150) of an ExecutionReport:

====  =================  ===================================================================
150   meaning            message(s)
====  =================  ===================================================================
0     New                ``accepted`` (venue_order_id = OrderID 37); with an account (``--account``
                         or tag 1) and the order's fields, a ``request`` first (drop copies of
                         orders placed elsewhere)
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
I     Order Status       nothing (a note): the venue's view, not a new fact. Feed it to
                         reconciliation, which compares and corrects explicitly.
A 3 7 9 B …              nothing (a note): pending new, done for day, stopped, suspended …
====  =================  ===================================================================

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

**Contradictions.** Every report also states what it says of its order (:func:`_stated`):
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

**Scale.** Venues that send integers: ``quantity_scale=N`` divides LastQty 32 and OrderQty 38
by 10**N, ``price_scale=N`` divides LastPx 31, Price 44 and StrikePrice 202 by 10**N (exact
decimal shifts). ``quantity_scale_tag`` / ``price_scale_tag`` name a custom tag the venue puts
on a message with its scale; when present it wins over the configured one.
``quantity_divisor_tag`` / ``price_divisor_tag`` name a tag stating a power-of-ten divisor
instead (Zero Hash's FractionBase 43229: ``38=1000|43229=10000`` is 0.1); it wins over both.
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

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from orderledger.domain.values import format_timestamp
from orderledger.infrastructure.adapters.aliases import qualified_alias
from orderledger.infrastructure.adapters.common import (
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
MAX_SCALE = 18
"""The largest quantity or price scale (digits after the point), as in the instrument message."""

Report = Mapping[Any, Any]
"""A FIX message as tag → value; tags as ints (``35``) or digit strings (``"35"``)."""
InstrumentOf = Callable[[str], str]

SIDES = {"1": "buy", "2": "sell", "5": "sell", "6": "sell"}  # 5/6: sell short (exempt)
# Stop orders become market orders when triggered, stop-limit orders limit orders; the ledger
# books those two types, and the FIX type is kept as a tag (see _order_type).
ORDER_TYPES = {"1": "market", "2": "limit", "3": "market", "4": "limit"}
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
EXEC_TYPES = {
    "3": "Done for day",
    "6": "Pending Cancel",
    "7": "Stopped",
    "9": "Suspended",
    "A": "Pending New",
    "B": "Calculated",
    "E": "Pending Replace",
    "I": "Order Status",
    "J": "Trade in a Clearing Hold",
    "K": "Trade has been released to Clearing",
    "L": "Triggered or Activated by System",
}
MSG_TYPES = {
    "0": "Heartbeat",
    "1": "TestRequest",
    "2": "ResendRequest",
    "3": "Reject",
    "4": "SequenceReset",
    "5": "Logout",
    "A": "Logon",
    "j": "BusinessMessageReject",
}
SECURITY_KINDS = {
    "OPT": "option",
    "FUT": "future",
    "CS": "equity",
    "PS": "equity",
    "FOR": "spot",
    "FXSPOT": "spot",
}
SECURITY_ID_SOURCES = {
    "1": "CUSIP",
    "2": "SEDOL",
    "4": "ISIN",
    "5": "RIC",
    "8": "EXCHANGE",
    "A": "BLOOMBERG",
    "G": "COMMON",
}
MISC_FEE_TYPES = {
    "1": "regulatory",
    "2": "tax",
    "3": "local commission",
    "4": "exchange fees",
    "5": "stamp",
    "6": "levy",
    "7": "other",
    "8": "markup",
    "9": "consumption tax",
    "10": "per transaction",
    "11": "conversion",
    "12": "agent",
}
DEFINING_TAGS = (167, 231, 200, 201, 202, 48)
"""Tags that define an instrument beyond its Symbol: their presence emits an ``instrument``."""

# ASCII digits only: \d would read "٣٥=8" as tag 35, and a 5,000-digit tag would overflow int().
_FIELD = re.compile(rb"^([0-9]{1,9})=(.*)$", re.DOTALL)
_TIME = re.compile(r"^([0-9]{4})([0-9]{2})([0-9]{2})-([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?$")
_BEGIN = b"8=FIX"
_WHOLE = re.compile(r"^[0-9]{1,9}$")
_POWER_OF_TEN = re.compile(r"^10*$")


class FixError(AdapterError):
    """A FIX message the adapter cannot read or translate."""


# ---------------------------------------------------------------------- reading FIX text


class FixFields(dict[int, str]):
    """One FIX message: tag → first value, and every field in order in :attr:`pairs`."""

    def __init__(self, pairs: Iterable[tuple[int, str]]) -> None:
        super().__init__()
        self.pairs: list[tuple[int, str]] = list(pairs)
        for tag, value in self.pairs:
            self.setdefault(tag, value)


def read_fix(text: str | bytes) -> list[FixFields]:
    """Every FIX message in one captured line, each checked (BodyLength 9, CheckSum 10).

    ``str`` text is read as its UTF-8 bytes, which is what a checksum was computed on.
    """
    raw = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else bytes(text)
    raw = raw.strip(b"\r\n")
    separator = SOH.encode() if SOH.encode() in raw else b"|"
    return [_read_one(chunk, separator) for chunk in _frames(raw, separator)]


def parse_fix(text: str | bytes) -> FixFields:
    """Read exactly one FIX message (see :func:`read_fix`) into tag → value."""
    messages = read_fix(text)
    if len(messages) != 1:
        raise FixError(f"{len(messages)} FIX messages in the text, not one: read them with read_fix")
    return messages[0]


def _frames(raw: bytes, separator: bytes) -> list[bytes]:
    """The byte span of each message: BodyLength frames it, else the next ``<sep>8=FIX`` does."""
    start = _first_begin(raw)
    if start is None:
        return [raw]  # a bare tag=value message (no BeginString), as tests and tools write them
    if separator in raw[:start]:  # a prefix holds no fields (log4j-style "session=…" text is fine)
        raise FixError(f"text before BeginString (8) is not a log prefix: {_shown(raw[:start])}")
    frames: list[bytes] = []
    position = start
    while True:
        end = _frame_end(raw, position, separator)
        frames.append(raw[position:end])
        rest = raw[end:].lstrip(b" \t" + separator)
        if not rest:
            return frames
        if not rest.startswith(_BEGIN):
            raise FixError(f"text after CheckSum (10) is not a FIX message: {_shown(rest)}")
        position = len(raw) - len(rest)


def _first_begin(raw: bytes) -> int | None:
    position = raw.find(_BEGIN)
    while position > 0 and raw[position - 1 : position].isalnum():  # 58=FIX… is not a BeginString
        position = raw.find(_BEGIN, position + 1)
    return None if position < 0 else position


def _frame_end(raw: bytes, start: int, separator: bytes) -> int:
    first = raw.find(separator, start)
    if first >= 0 and raw.startswith(b"9=", first + 1):
        second = raw.find(separator, first + 1)
        length = raw[first + 3 : second] if second > 0 else b""
        if length.isdigit() and len(length) <= 9:
            trailer = re.compile(rb"10=[0-9]{3}(?:" + re.escape(separator) + rb"|$)")
            found = trailer.match(raw, second + 1 + int(length))
            if found is not None:
                return found.end()
    # No usable BodyLength (or a wrong one, reported by _read_one): the next BeginString ends it.
    following = raw.find(separator + _BEGIN, start)
    return len(raw) if following < 0 else following + len(separator)


def _read_one(chunk: bytes, separator: bytes) -> FixFields:
    pairs: list[tuple[int, str]] = []
    spans: list[tuple[int, int]] = []  # (start of the field, end including its separator)
    position = 0
    encoding = _encoding(chunk)
    while position < len(chunk):
        end = chunk.find(separator, position)
        end = len(chunk) if end < 0 else end
        part = chunk[position:end]
        if part:
            match = _FIELD.match(part)
            if match is None:
                raise FixError(f"not a FIX field (tag=value): {_shown(part)}")
            pairs.append((int(match.group(1)), match.group(2).decode(encoding)))
            spans.append((position, min(end + len(separator), len(chunk))))
        position = end + len(separator)
    if not pairs:
        raise FixError("empty FIX message")
    _check_frame(chunk, separator, pairs, spans)
    return FixFields(pairs)


def _encoding(chunk: bytes) -> str:
    try:
        chunk.decode("utf-8")
    except UnicodeDecodeError:
        return "latin-1"
    return "utf-8"


def _check_frame(
    chunk: bytes, separator: bytes, pairs: list[tuple[int, str]], spans: list[tuple[int, int]]
) -> None:
    """BodyLength (9) and CheckSum (10), when present, exactly as the FIX spec defines them."""
    tags = [tag for tag, _ in pairs]
    trailer = len(chunk)
    if 10 in tags:
        at = tags.index(10)
        if at != len(tags) - 1:
            raise FixError("CheckSum (10) must be the last field")
        trailer = spans[at][0]
    seq = dict(pairs).get(34)
    where = f" (MsgSeqNum {seq})" if seq else ""
    if 9 in tags:
        at = tags.index(9)
        if at != 1 or tags[0] != 8:
            raise FixError("BodyLength (9) must follow BeginString (8)")
        stated = pairs[at][1]
        if not _WHOLE.match(stated):
            raise FixError(f"BodyLength (9) is not a whole number: {stated[:20]!r}")
        actual = trailer - spans[at][1]
        if int(stated) != actual:
            raise FixError(f"BodyLength (9) is {int(stated)} but the body holds {actual} bytes{where}")
    if 10 in tags:
        stated = pairs[-1][1]
        if not re.fullmatch(r"[0-9]{3}", stated):
            raise FixError(f"CheckSum (10) must be three digits, not {stated[:20]!r}")
        # The engine summed the bytes on the wire, where every separator is SOH (0x01).
        counted = chunk[:trailer]
        total = (sum(counted) - counted.count(separator) * (separator[0] - 1)) % 256
        if int(stated) != total:
            raise FixError(f"CheckSum (10) is {stated} but the message's bytes sum to {total:03d}{where}")


def _shown(part: bytes) -> str:
    return repr(part[:40].decode("utf-8", "replace"))


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


# ---------------------------------------------------------------------- options


@dataclass
class _Context:
    """What every translation step needs: the caller's options and where notes go."""

    venue: str
    account: str | None = None
    instrument_of: InstrumentOf | None = None
    source: str = SOURCE
    notes: list[str] = field(default_factory=list)
    quantity_scale: int | None = None
    price_scale: int | None = None
    quantity_scale_tag: int | None = None
    price_scale_tag: int | None = None
    quantity_divisor_tag: int | None = None
    price_divisor_tag: int | None = None

    def __post_init__(self) -> None:
        for name in ("quantity_scale", "price_scale"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not 0 <= value <= MAX_SCALE):
                raise ValueError(f"{name} must be a whole number from 0 to {MAX_SCALE}")

    def quantity(self, report: Report, tag: int, name: str) -> str | None:
        """A positive quantity tag, shifted by the message's quantity scale."""
        return self._scaled(
            report, tag, name, self.quantity_scale, self.quantity_scale_tag, self.quantity_divisor_tag
        )

    def price(self, report: Report, tag: int, name: str) -> str | None:
        """A positive price tag, shifted by the message's price scale."""
        return self._scaled(report, tag, name, self.price_scale, self.price_scale_tag, self.price_divisor_tag)

    def _scaled(
        self,
        report: Report,
        tag: int,
        name: str,
        scale: int | None,
        scale_tag: int | None,
        divisor_tag: int | None,
    ) -> str | None:
        text = positive_text(_get(report, tag), name)
        if scale_tag is not None and (stated := _get(report, scale_tag)) is not None:
            if not _WHOLE.match(stated) or int(stated) > MAX_SCALE:
                raise FixError(
                    f"scale tag {scale_tag} must be a whole number from 0 to {MAX_SCALE}: {stated!r}"
                )
            scale = int(stated)
        if divisor_tag is not None and (stated := _get(report, divisor_tag)) is not None:
            # A power of ten, 1 to 10**MAX_SCALE: its zeros are the scale (10000 is 4 digits).
            if not _POWER_OF_TEN.match(stated) or len(stated) - 1 > MAX_SCALE:
                raise FixError(
                    f"divisor tag {divisor_tag} must be a power of ten from 1 to 1{'0' * MAX_SCALE}:"
                    f" {_cut(stated)!r}"
                )
            scale = len(stated) - 1
        if text is None or not scale:
            return text
        return decimal_text(Decimal(text).scaleb(-scale), name)


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


def _key(report: Report, ctx: _Context, *, with_order_id: bool = True) -> dict[str, Any]:
    """How a non-introducing report names its order (venue order ID, then ClOrdID aliases),
    with what it states of the order (:func:`_stated`)."""
    clordid, orig, order_id = _chain(report)
    if clordid is None and orig is None and order_id is None:
        raise FixError("the report names no order (ClOrdID 11, OrigClOrdID 41 or OrderID 37)")
    if not with_order_id and clordid is None and orig is None:
        raise FixError("the report names its order only by OrderID (37), which it changes")
    return {
        "venue": ctx.venue,
        "venue_order_id": order_id if with_order_id else None,
        "aliases": _aliases(orig, clordid),
        **_stated(report, ctx),
    }


def _stated(report: Report, ctx: _Context) -> dict[str, Any]:
    """What a report states of its order, for the ledger to compare with the order's facts
    (module docstring, "Contradictions"): the account as a request takes it, the instrument as
    a request names it, the side."""
    symbol = _symbol(report, ctx)
    return {
        "account": ctx.account or _get(report, 1),
        "instrument": None if symbol is None else _instrument_terms(report, symbol, ctx)[0],
        "side": SIDES.get(_get(report, 54) or ""),
    }


def _new_clordid(report: Report, ctx: _Context, ts: str) -> list[Message]:
    """The ``accepted`` that records a new ClOrdID as an alias (see the module docstring, 3)."""
    clordid, orig, _ = _chain(report)
    if clordid is None or orig is None:
        return []
    return [message("accepted", venue=ctx.venue, aliases=_aliases(orig, clordid), ts=ts, source=ctx.source)]


def _answers_chain_with_order_id(report: Report) -> bool:
    _, orig, order_id = _chain(report)
    return orig is not None and order_id is not None


def _reidentified(report: Report, ctx: _Context, ts: str) -> Message:
    """The ``amended`` that records the OrderID a chain step reports (module docstring, 4)."""
    return message(
        "amended",
        **_key(report, ctx),
        quantity=ctx.quantity(report, 38, "OrderQty(38)"),
        price=ctx.price(report, 44, "Price(44)"),
        ts=ts,
        source=ctx.source,
    )


# ---------------------------------------------------------------------- ExecutionReport


def execution_report_messages(
    report: Report | str | bytes,
    *,
    venue: str,
    account: str | None = None,
    instrument_of: InstrumentOf | None = None,
    source: str = SOURCE,
    notes: list[str] | None = None,
    quantity_scale: int | None = None,
    price_scale: int | None = None,
    quantity_scale_tag: int | None = None,
    price_scale_tag: int | None = None,
    quantity_divisor_tag: int | None = None,
    price_divisor_tag: int | None = None,
) -> list[Message]:
    """The ledger messages one ExecutionReport implies (see the module docstring's table)."""
    ctx = _Context(
        venue,
        account,
        instrument_of,
        source,
        [],
        quantity_scale,
        price_scale,
        quantity_scale_tag,
        price_scale_tag,
        quantity_divisor_tag,
        price_divisor_tag,
    )
    out = _execution_report(parse_fix(report) if isinstance(report, str | bytes) else report, ctx)
    if notes is not None:
        notes.extend(_summarised(ctx.notes))
    return out


def _execution_report(report: Report, ctx: _Context) -> list[Message]:
    msg_type = _get(report, 35)
    if msg_type is not None and msg_type != "8":
        raise FixError(f"not an ExecutionReport (35=8): 35={msg_type}")
    ts = _ts(report)
    trans_type = _get(report, 20)
    if trans_type in ("1", "2"):
        return [_bust_or_correct(report, ctx, ts, correct=trans_type == "2")]
    if trans_type == "3":
        ctx.notes.append(f"ExecutionReport {_named(report)} is a status (ExecTransType 20=3): no new fact")
        return []
    exec_type = _get(report, 150)
    if exec_type is None:
        raise FixError("ExecType (150) is required")
    exec_type = exec_type.upper()
    clordid, orig, order_id = _chain(report)
    reason = _get(report, 58)
    venue, source = ctx.venue, ctx.source

    if exec_type == "0":
        if orig is not None:  # a New answering a replace: name it through the chain
            if order_id is not None:
                return [_reidentified(report, ctx, ts), *_new_clordid(report, ctx, ts)]
            return [message("accepted", **_key(report, ctx), ts=ts, source=source)]
        if clordid is None:
            raise FixError("a New (150=0) needs ClOrdID (11)")
        out = _request(report, clordid, ctx, ts, required=False)
        out.append(
            message(
                "accepted",
                client_order_id=clordid,
                venue=venue,
                venue_order_id=order_id,
                aliases=clordid_alias(clordid),
                **_stated(report, ctx),
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
                message(
                    "rejected",
                    client_order_id=clordid,
                    venue=venue,
                    **_stated(report, ctx),
                    ts=ts,
                    source=source,
                    reason=reason,
                )
            ]
        return [
            message("rejected", **_key(report, ctx, with_order_id=False), ts=ts, source=source, reason=reason)
        ]
    if exec_type in ("F", "1", "2"):
        return [_fill(report, ctx, ts)]
    if exec_type in ("H", "G"):
        return [_bust_or_correct(report, ctx, ts, correct=exec_type == "G")]
    if exec_type in ("4", "C"):
        kind = "canceled" if exec_type == "4" else "expired"
        before = [_reidentified(report, ctx, ts)] if _answers_chain_with_order_id(report) else []
        fact = message(kind, **_key(report, ctx), reason=reason, ts=ts, source=source)
        return [*before, fact, *_new_clordid(report, ctx, ts)]
    if exec_type in ("5", "D"):
        quantity = ctx.quantity(report, 38, "OrderQty(38)")
        price = ctx.price(report, 44, "Price(44)")
        if quantity is None and price is None:
            if exec_type == "D":
                ctx.notes.append(
                    f"Restated {_named(report)} states no OrderQty (38) or Price (44): nothing to book"
                )
                return []
            raise FixError("a Replaced (150=5) needs OrderQty (38) or Price (44)")
        fact = message("amended", **_key(report, ctx), quantity=quantity, price=price, ts=ts, source=source)
        return [fact, *_new_clordid(report, ctx, ts)]
    meaning = EXEC_TYPES.get(exec_type, "not a fact the ledger books")
    ctx.notes.append(f"ExecType {_cut(exec_type)} ({meaning}) for {_named(report)}: no fact recorded")
    return []


def _named(report: Report) -> str:
    """How a note names the report's order: its ClOrdID, else its OrderID."""
    clordid, _, order_id = _chain(report)
    if clordid is not None:
        return f"ClOrdID {_cut(clordid)}"
    return f"OrderID {_cut(order_id)}" if order_id is not None else "(no order named)"


def _cut(value: str, limit: int = 24) -> str:
    """A venue value as a note shows it: short, so a line's reason stays one short line."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


MAX_NOTES_LENGTH = 240
"""Notes of one line beyond this many characters are counted, not spelled out (the raw line is
journaled beside them, so nothing is lost)."""


def _summarised(notes: list[str]) -> list[str]:
    """Repeated notes once with their count, and at most MAX_NOTES_LENGTH characters of them."""
    counts: dict[str, int] = {}
    for note in notes:
        counts[note] = counts.get(note, 0) + 1
    out: list[str] = []
    used = 0
    for note, count in counts.items():
        text = note if count == 1 else f"{note} (×{count})"
        if used + len(text) > MAX_NOTES_LENGTH:
            out.append(f"and {len(counts) - len(out)} more parts not booked")
            break
        out.append(text)
        used += len(text) + 2
    return out


def _bust_or_correct(report: Report, ctx: _Context, ts: str, *, correct: bool) -> Message:
    """A trade reversed (FIX 4.4 150=H, 4.2 20=1) or corrected (150=G, 20=2): ExecRefID 19 names it."""
    what = "Trade Correct (150=G or 20=2)" if correct else "Trade Cancel (150=H or 20=1)"
    trade_id = _get(report, 19)
    if trade_id is None:
        raise FixError(f"a {what} needs ExecRefID (19): the ExecID it {'corrects' if correct else 'busts'}")
    reason = _get(report, 58)
    if not correct:
        return message(
            "fill_busted",
            **_key(report, ctx),
            trade_id=trade_id,
            reason=reason,
            ts=ts,
            source=ctx.source,
        )
    quantity = ctx.quantity(report, 32, "LastQty(32)")
    price = ctx.price(report, 31, "LastPx(31)")
    if quantity is None and price is None:
        raise FixError(f"a {what} needs a positive LastQty (32) or LastPx (31)")
    fee, _ = _fees(report, quantity, ctx, trade_id)
    return message(
        "fill_corrected",
        **_key(report, ctx),
        trade_id=trade_id,
        quantity=quantity,
        price=price,
        fee=fee,
        reason=reason,
        ts=ts,
        source=ctx.source,
    )


def _fill(report: Report, ctx: _Context, ts: str) -> Message:
    trade_id = _get(report, 17)
    if trade_id is None:
        raise FixError("a trade (150=F) needs ExecID (17)")
    quantity = ctx.quantity(report, 32, "LastQty(32)")
    price = ctx.price(report, 31, "LastPx(31)")
    if quantity is None or price is None:
        raise FixError(f"trade {trade_id!r} needs a positive LastQty (32) and LastPx (31)")
    fee, fee_currency = _fees(report, quantity, ctx, trade_id)
    return message(
        "fill",
        **_key(report, ctx),
        trade_id=trade_id,
        quantity=quantity,
        price=price,
        fee=fee,
        fee_currency=fee_currency,
        liquidity=LIQUIDITY.get(_get(report, 851) or ""),
        ts=ts,
        source=ctx.source,
    )


# ---------------------------------------------------------------------- fees


@dataclass(frozen=True)
class _Charge:
    amount: Decimal
    currency: str | None
    what: str


def _fees(
    report: Report, quantity: str | None, ctx: _Context, trade_id: str
) -> tuple[str | None, str | None]:
    """The fill's fee and currency: Commission (12/13) plus MiscFees in that currency."""
    charges = [
        c
        for c in (_commission(report, quantity, ctx, trade_id), *_misc_fees(report, quantity, ctx, trade_id))
        if c
    ]
    if not charges:
        return None, None
    currency = next((c.currency for c in charges if c.currency is not None), None)
    total = Decimal(0)
    for charge in charges:
        if charge.currency in (None, currency):
            total += charge.amount
        else:
            shown = f"{charge.what} {decimal_text(charge.amount, 'fee')} {_cut(charge.currency)}"
            ctx.notes.append(
                f"trade {_cut(trade_id)}: {shown} not booked: the fill's fee is in {_cut(currency or '')},"
                " and a fill carries one fee currency"
            )
    return decimal_text(total, "fee"), currency


def _per_basis(
    amount: str, basis: str | None, quantity: str | None, what: str, ctx: _Context, trade_id: str
) -> Decimal | None:
    """An amount on its basis: absolute, or per unit × LastQty; another basis is noted, not guessed."""
    if basis in (None, "absolute"):
        return Decimal(amount)
    if basis == "per unit" and quantity is not None:
        return Decimal(amount) * Decimal(quantity)
    ctx.notes.append(
        f"trade {_cut(trade_id)}: {what} {_cut(amount)} on a {basis} basis not booked (venue-specific)"
    )
    return None


def _commission(report: Report, quantity: str | None, ctx: _Context, trade_id: str) -> _Charge | None:
    amount = decimal_text(_get(report, 12), "Commission(12)")
    if amount is None:
        return None
    basis = {None: None, "3": "absolute", "1": "per unit", "2": "percentage"}.get(
        _get(report, 13), "CommType"
    )
    if basis == "CommType":
        basis = f"CommType {_cut(_get(report, 13) or '')}"
    value = _per_basis(amount, basis, quantity, "Commission (12)", ctx, trade_id)
    if value is None:
        return None
    return _Charge(value, _get(report, 479) or _get(report, 15), "Commission (12)")


def _misc_fees(report: Report, quantity: str | None, ctx: _Context, trade_id: str) -> list[_Charge]:
    """The MiscFees group (136; 137 amount, 138 currency, 139 type, 891 basis per entry)."""
    count_text = _get(report, 136)
    if count_text is None:
        return []
    if not _WHOLE.match(count_text):
        raise FixError(f"NoMiscFees (136) is not a count: {count_text[:20]!r}")
    entries = _group(report, 136, 137, (137, 138, 139, 891))
    if len(entries) != int(count_text):
        raise FixError(
            f"NoMiscFees (136) is {int(count_text)} but the message holds {len(entries)} MiscFeeAmt (137)"
        )
    charges = []
    for entry in entries:
        amount = decimal_text(entry.get(137), "MiscFeeAmt(137)")
        if amount is None:
            continue
        kind = entry.get(139)
        what = f"MiscFee ({_fee_type(kind)})"
        basis = {None: None, "0": "absolute", "1": "per unit", "2": "percentage"}.get(
            entry.get(891), "MiscFeeBasis"
        )
        value = _per_basis(amount, basis, quantity, what, ctx, trade_id)
        if value is not None:
            charges.append(_Charge(value, entry.get(138) or _get(report, 15), what))
    return charges


def _fee_type(kind: str | None) -> str:
    if kind is None:
        return "untyped"
    return MISC_FEE_TYPES.get(kind) or f"type {_cut(kind)}"


def _group(report: Report, count_tag: int, first: int, members: tuple[int, ...]) -> list[dict[int, str]]:
    """The entries of a repeating group; a plain mapping can hold only one entry."""
    if not isinstance(report, FixFields):
        entry = {tag: value for tag in members if (value := _get(report, tag)) is not None}
        return [entry] if entry else []
    entries: list[dict[int, str]] = []
    inside = False
    for tag, value in report.pairs:
        if tag == count_tag:
            inside = True
        elif inside and tag == first:
            entries.append({tag: value})
        elif inside and entries and tag in members and tag not in entries[-1]:
            entries[-1][tag] = value
        elif inside and entries:
            inside = False  # the first field outside the group ends it
    return entries


# ---------------------------------------------------------------------- orders and instruments


def _order_type(report: Report, price: str | None) -> tuple[str | None, dict[str, str]]:
    """The ledger's order type for OrdType 40, and a tag keeping a FIX type it approximates."""
    code = _get(report, 40)
    kind = ORDER_TYPES.get(code or "")
    if kind is None and code is None:
        kind = "limit" if price is not None else None
    elif kind is None:
        kind = "limit" if price is not None else "market"
    tags = {"fix_ord_type": code} if code is not None and code not in ("1", "2") else {}
    return kind, tags


def _request(report: Report, clordid: str, ctx: _Context, ts: str, *, required: bool) -> list[Message]:
    """A request (with its instrument definition first) from an order's fields.

    ``required`` (a NewOrderSingle) refuses a message that does not describe an order; otherwise
    (a New's fields) it gives nothing.
    """
    account = ctx.account or _get(report, 1)
    side = SIDES.get(_get(report, 54) or "")
    quantity = ctx.quantity(report, 38, "OrderQty(38)")
    price = ctx.price(report, 44, "Price(44)")
    order_type, tags = _order_type(report, price)
    symbol = _symbol(report, ctx)
    missing = [
        name
        for name, value in (
            ("an account (--account or Account 1)", account),
            ("Symbol (55) or SecurityID (48)", symbol),
            ("Side (54) buy or sell", side),
            ("a positive OrderQty (38)", quantity),
            ("OrdType (40)", order_type),
            ("Price (44) for a limit order", price if order_type == "limit" else "n/a"),
        )
        if value is None
    ]
    if missing or symbol is None:
        if required:
            raise FixError(f"NewOrderSingle {clordid!r} needs {', '.join(missing)}")
        return []
    name, definition = _instrument(report, symbol, ctx, ts)
    request = message(
        "request",
        client_order_id=clordid,
        account=account,
        venue=ctx.venue,
        instrument=name,
        side=side,
        order_type=order_type,
        quantity=quantity,
        price=price if order_type == "limit" else None,
        time_in_force=TIME_IN_FORCE.get(_get(report, 59) or ""),
        quote_currency=_get(report, 15),
        tags=tags,
        aliases=clordid_alias(clordid),
        ts=ts,
        source=ctx.source,
    )
    return [definition, request] if definition is not None else [request]


def _symbol(report: Report, ctx: _Context) -> str | None:
    symbol = _get(report, 55)
    if symbol is None or symbol.upper() == "[N/A]":
        return _get(report, 48)
    return ctx.instrument_of(symbol) if ctx.instrument_of else symbol


def _instrument_terms(
    report: Report, symbol: str, ctx: _Context
) -> tuple[str, str | None, str | None, str | None, str | None]:
    """(the instrument's name, its kind, maturity, right, strike) as the message states them."""
    security_type = (_get(report, 167) or "").upper()
    kind = SECURITY_KINDS.get(security_type, "other" if security_type else None)
    maturity = _get(report, 200) or _get(report, 541)
    right = {"0": "put", "1": "call"}.get(_get(report, 201) or "")
    strike = ctx.price(report, 202, "StrikePrice(202)")
    name = symbol
    if kind == "option":
        parts = [symbol, maturity, right and right[0].upper(), strike]
        name = " ".join(p for p in parts if p) if any(parts[1:]) else f"{symbol} OPT"
    elif kind == "future":
        name = f"{symbol} {maturity}" if maturity else f"{symbol} FUT"
    return name, kind, maturity, right, strike


def _instrument(report: Report, symbol: str, ctx: _Context, ts: str) -> tuple[str, Message | None]:
    """The instrument's name, and its definition when the message carries one (module docstring)."""
    name, kind, maturity, right, strike = _instrument_terms(report, symbol, ctx)
    if not any(_get(report, tag) is not None for tag in DEFINING_TAGS):
        return name, None
    source_code = _get(report, 22)
    definition = message(
        "instrument",
        venue=ctx.venue,
        instrument=name,
        contract_size=positive_text(_get(report, 231), "ContractMultiplier(231)"),
        underlying=(_get(report, 311) or symbol) if kind in ("option", "future") else None,
        expiry=maturity if kind in ("option", "future") else None,
        strike=strike if kind == "option" else None,
        option_type=right if kind == "option" else None,
        quote_currency=_get(report, 15),
        security_id=_get(report, 48),
        security_id_source=SECURITY_ID_SOURCES.get(source_code or "", source_code),
        ts=ts,
        source=ctx.source,
    )
    if kind is not None:  # not a keyword of message(), whose first parameter is named kind
        definition["kind"] = kind
    return name, definition


def _new_order_single(report: Report, ctx: _Context) -> list[Message]:
    clordid = _get(report, 11)
    if clordid is None:
        raise FixError("a NewOrderSingle (35=D) needs ClOrdID (11)")
    return _request(report, clordid, ctx, _ts(report), required=True)


def _cancel_request(report: Report, ctx: _Context) -> list[Message]:
    """OrderCancelRequest (35=F): the caller asked to cancel the order 41 (or 37) names."""
    return [message("cancel_requested", **_key(report, ctx), ts=_ts(report), source=ctx.source)]


def _replace_request(report: Report, ctx: _Context) -> list[Message]:
    """OrderCancelReplaceRequest (35=G): the caller asked for new terms (OrderQty 38, Price 44)."""
    quantity = ctx.quantity(report, 38, "OrderQty(38)")
    price = ctx.price(report, 44, "Price(44)")
    if quantity is None and price is None:
        raise FixError("an OrderCancelReplaceRequest (35=G) needs OrderQty (38) or Price (44)")
    return [
        message(
            "amend_requested",
            **_key(report, ctx),
            quantity=quantity,
            price=price,
            ts=_ts(report),
            source=ctx.source,
        )
    ]


# ---------------------------------------------------------------------- OrderCancelReject


def cancel_reject_messages(
    report: Report | str | bytes, *, venue: str, source: str = SOURCE
) -> list[Message]:
    """``cancel_rejected`` or ``amend_rejected`` for an OrderCancelReject (35=9)."""
    return _cancel_reject(
        parse_fix(report) if isinstance(report, str | bytes) else report, _Context(venue, source=source)
    )


def _cancel_reject(report: Report, ctx: _Context) -> list[Message]:
    msg_type = _get(report, 35)
    if msg_type is not None and msg_type != "9":
        raise FixError(f"not an OrderCancelReject (35=9): 35={msg_type}")
    response_to = _get(report, 434)
    kind = {"1": "cancel_rejected", "2": "amend_rejected"}.get(response_to or "")
    if kind is None:
        raise FixError(f"CxlRejResponseTo (434) must be 1 or 2, not {response_to!r}")
    reason = _get(report, 58) or CXL_REJ_REASONS.get(_get(report, 102) or "")
    return [message(kind, **_key(report, ctx), reason=reason, ts=_ts(report), source=ctx.source)]


# ---------------------------------------------------------------------- any message


_BY_TYPE: dict[str | None, Callable[[Report, _Context], list[Message]]] = {
    None: _execution_report,
    "8": _execution_report,
    "9": _cancel_reject,
    "D": _new_order_single,
    "F": _cancel_request,
    "G": _replace_request,
}


def fix_messages(
    report: Report | str | bytes,
    *,
    venue: str,
    account: str | None = None,
    instrument_of: InstrumentOf | None = None,
    source: str = SOURCE,
    notes: list[str] | None = None,
    quantity_scale: int | None = None,
    price_scale: int | None = None,
    quantity_scale_tag: int | None = None,
    price_scale_tag: int | None = None,
    quantity_divisor_tag: int | None = None,
    price_divisor_tag: int | None = None,
) -> list[Message]:
    """Messages for one captured line (or one report mapping), every FIX message in it in order.

    ``notes`` collects one line for each part of the input deliberately not booked. See the
    module docstring for the options.
    """
    ctx = _Context(
        venue,
        account,
        instrument_of,
        source,
        [],
        quantity_scale,
        price_scale,
        quantity_scale_tag,
        price_scale_tag,
        quantity_divisor_tag,
        price_divisor_tag,
    )
    reports: list[Report] = [*read_fix(report)] if isinstance(report, str | bytes) else [report]
    out: list[Message] = []
    for one in reports:
        msg_type = _get(one, 35)
        translate = _BY_TYPE.get(msg_type)
        if translate is None:
            meaning = MSG_TYPES.get(msg_type or "", "not an order message")
            ctx.notes.append(f"MsgType {_cut(str(msg_type))} ({meaning}) carries no order fact")
            continue
        out.extend(translate(one, ctx))
    if notes is not None:
        notes.extend(_summarised(ctx.notes))
    return out


__all__ = [
    "CLORDID_ALIAS",
    "SOURCE",
    "FixError",
    "FixFields",
    "cancel_reject_messages",
    "clordid_alias",
    "execution_report_messages",
    "fix_messages",
    "parse_fix",
    "read_fix",
    "transact_time",
]
