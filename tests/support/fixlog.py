"""Build FIX session-log lines the way engines write them, with true BodyLength and CheckSum.

QuickFIX/J's FileLog writes ``<yyyyMMdd-HH:mm:ss.SSS>: <message>`` per line and QuickFIX/n's
``<yyyyMMdd-HH:mm:ss.fff> : <message>`` (connamara/quickfixn, QuickFIXn/Logger/FileLog.cs),
the message SOH-separated. :class:`Session` numbers messages (34) and stamps the header fields
(49, 56, 52) in the order engines send them: 8, 9, 35, 49, 56, 34, 52, then the body.

BodyLength counts the bytes after ``9=…<SOH>`` up to and including the SOH before ``10=``;
CheckSum is the sum of every byte before ``10=`` mod 256, three digits (FIX spec, "Message
format"). :func:`fix_text` is checked against real captures in test_fix_session.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

SOH = "\x01"
START = datetime(2026, 11, 20, 10, 0)
"""When :func:`session_lines`' venue starts sending (the log's local time, as engines write it)."""


def fix_text(fields: str, *, begin: str = "FIX.4.4", sep: str = SOH) -> str:
    """A whole message from its body fields written ``35=8|11=…`` (``|`` between fields)."""
    body = "".join(f"{field}{SOH}" for field in fields.strip("|").split("|"))
    head = f"8={begin}{SOH}9={len(body.encode())}{SOH}"
    checksum = sum((head + body).encode()) % 256
    return f"{head}{body}10={checksum:03d}{SOH}".replace(SOH, sep)


@dataclass
class Session:
    """One side of a FIX session as a log shows it: ``message(...)`` gives one log line."""

    sender: str = "VENUEX"
    target: str = "DESK1"
    begin: str = "FIX.4.4"
    sep: str = SOH
    style: str = "quickfixj"  # or "quickfixn" (" : " after the time), or "bare" (no prefix)
    seq: int = 1

    def message(self, at: str, fields: str) -> str:
        """The log line of one message sent at ``at`` (``YYYYMMDD-HH:MM:SS.sss``)."""
        return self.prefix(at) + self.text(at, fields)

    def text(self, at: str, fields: str) -> str:
        """The message alone (no log prefix): MsgType first, then the header, then the body."""
        msg_type, _, body = fields.strip("|").partition("|")
        header = f"{msg_type}|49={self.sender}|56={self.target}|34={self.seq}|52={at}"
        self.seq += 1
        return fix_text(f"{header}|{body}" if body else header, begin=self.begin, sep=self.sep)

    def prefix(self, at: str) -> str:
        return {"quickfixj": f"{at}: ", "quickfixn": f"{at} : ", "bare": ""}[self.style]


def session_lines(orders: int = 3) -> list[bytes]:
    """A venue's execution reports as QuickFIX C++ logs them (``<stamp> : <message>``, SOH kept):
    per order New, a fill of 3 @ 100, a fill of 7 @ 101 (filled); order ``n`` is sent at 10:00 on
    2026-11-20 plus ``n`` minutes, so any number of orders gives valid times."""
    venue = Session(sender="VENUEX", target="DESK1", style="quickfixn")
    lines = []
    for n in range(1, orders + 1):
        common = f"11=F-{n}|37=O-{n}|1=ACC-7|55=BTC-USD|54=1|38=10|40=2|44=101|59=1"
        at = (START + timedelta(minutes=n)).strftime("%Y%m%d-%H:%M:%S.000")
        lines.append(venue.message(at, f"35=8|{common}|17=N-{n}|150=0|39=0|14=0|151=10|6=0|60={at}"))
        lines.append(
            venue.message(at, f"35=8|{common}|17=A-{n}|150=F|39=1|32=3|31=100|14=3|151=7|6=100|60={at}")
        )
        lines.append(
            venue.message(at, f"35=8|{common}|17=B-{n}|150=F|39=2|32=7|31=101|14=10|151=0|6=100.7|60={at}")
        )
    return [line.encode() for line in lines]


REJECTED_ORDERS = ("D1-41-010", "D1-41-011")
"""The client order IDs of :func:`rejection_lines`' orders."""


def rejection_lines(style: str = "quickfixn", begin: str = "FIX.4.4") -> list[bytes]:
    """A drop copy's rejections of two orders it never reported as new, as an engine logs them: a
    post-only sell of 0.01 BTC-USD at 64102.4 the venue numbered VX-700170, and a buy of 0.5
    ETH-USD at 3000.5 refused before it was numbered (OrderID 37 ``NONE``, OrdRejReason 103 = 3,
    order exceeds limit, and no Text 58)."""
    venue = Session(sender="VENUEX", target="DROPCOPY", begin=begin, style=style)
    at = "20261120-10:30:00.000"
    later = "20261120-10:30:01.000"
    return [
        venue.message(
            at,
            "35=8|1=ACC-7|11=D1-41-010|37=VX-700170|17=EXO-13|150=8|39=8|55=BTC-USD|54=2|38=0.01|40=2"
            f"|44=64102.4|59=1|18=6|14=0|151=0|6=0|60={at}|58=post-only order would take liquidity",
        ).encode(),
        venue.message(
            later,
            "35=8|1=ACC-7|11=D1-41-011|37=NONE|17=EXO-14|150=8|39=8|55=ETH-USD|54=1|38=0.5|40=2"
            f"|44=3000.5|14=0|151=0|6=0|103=3|60={later}",
        ).encode(),
    ]


def write_session(path: str, orders: int = 4) -> None:
    """What docs/collect.md's FIX example follows: an engine's log of ``orders`` orders (3
    lines each), half written, then backed up (renamed, QuickFIX C++'s ``backup()``) and the
    rest written to a fresh log at ``path``."""
    import os

    lines = session_lines(orders)
    half = len(lines) // 2
    with open(path, "ab") as log:
        log.write(b"".join(line + b"\n" for line in lines[:half]))
    os.rename(path, path.replace(".current.", ".backup.1."))
    with open(path, "ab") as log:
        log.write(b"".join(line + b"\n" for line in lines[half:]))


if __name__ == "__main__":  # docs/collect.md: python -m tests.support.fixlog PATH
    import sys

    write_session(sys.argv[1])
