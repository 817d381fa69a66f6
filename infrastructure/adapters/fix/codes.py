"""The FIX tags and codes the adapter reads, in words, and its error type."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from orderledger.infrastructure.adapters.common import AdapterError

SOURCE = "fix"
SOH = "\x01"
CLORDID_ALIAS = "fix_clordid"
"""Prefix of the alias names under which an order's FIX ClOrdIDs are recorded."""
"""The largest quantity or price scale (digits after the point), as in the instrument message."""

Report = Mapping[Any, Any]
"""A FIX message as tag → value; tags as ints (``35``) or digit strings (``"35"``)."""
InstrumentOf = Callable[[str], str]

SIDES = {"1": "buy", "2": "sell", "5": "sell", "6": "sell"}  # 5/6: sell short (exempt)
# OrdType (40): 3 Stop (a market order once StopPx 99 trades), 4 Stop limit (a limit order at
# Price 44 then). Any other type is booked as priced or not, its code kept as a tag.
ORDER_TYPES = {"1": "market", "2": "limit", "3": "stop_market", "4": "stop_limit"}
REDUCE_ONLY_INSTRUCTION = "E"
"""ExecInst (18) E, "Do not increase" (DNI): the order may only reduce the position."""
GOOD_TILL_DATE = "6"
"""TimeInForce (59) 6, Good Till Date: the order expires at ExpireTime (126)."""
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
FIELD = re.compile(rb"^([0-9]{1,9})=(.*)$", re.DOTALL)
TIME_FORM = re.compile(
    r"^([0-9]{4})([0-9]{2})([0-9]{2})-([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?$"
)
BEGIN = b"8=FIX"
WHOLE = re.compile(r"^[0-9]{1,9}$")
POWER_OF_TEN = re.compile(r"^10*$")


class FixError(AdapterError):
    """A FIX message the adapter cannot read or translate."""
