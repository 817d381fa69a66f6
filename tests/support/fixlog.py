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

SOH = "\x01"


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
