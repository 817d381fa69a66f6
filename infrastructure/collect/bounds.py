"""What a collector takes from a venue at most, whatever the venue sends.

A venue is trusted for its facts, never for its sizes: every frame and every reply is read
within bounds, so a hostile or broken venue costs a journaled refusal and a reconnect, never
the collector's memory or its reader.

* **Size.** A WebSocket frame or an HTTP reply longer than :data:`MAX_FRAME_BYTES` (what the
  ingest can book: ``exact_json.MAX_LINE_BYTES``) is refused before it is read whole: a reply's
  ``Content-Length`` is checked first and its body read in chunks up to the bound (an endless
  body is cut there); a frame over the bound is refused by the WebSocket client on its header
  (close 1009). The refusal is journaled (:class:`~orderledger.infrastructure.ingest.inputs.Refused`:
  the first :data:`HEAD_BYTES` bytes and the reason) and the link dialled again.
* **Nesting.** The collector's own look into a frame (its channel, its type) goes through
  :func:`peek`, which refuses nesting deeper than ``exact_json.MAX_DEPTH`` instead of recursing;
  such a frame is handed to the ingest, which journals it as rejected with its reason.
* **Shape.** A 200 reply that is not JSON (an HTML page, a truncated body) is a passing fault:
  journaled with its reason, the request tried again after the backoff.
* **Redirects** are never followed to another host (:func:`ws_connect` for WebSockets;
  ``allow_redirects=False`` for HTTP): another host's reply is not the venue's.
* **Waits a venue asks for** (``Retry-After``, a rate-limit window's end) are capped at
  :data:`MAX_WAIT`; a longer one is reported, not obeyed.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urljoin, urlsplit

import orjson
from websockets.asyncio.client import connect

from orderledger.infrastructure.collect.source import ConnectionLost, Reports
from orderledger.infrastructure.errors import MessageError
from orderledger.infrastructure.ingest.inputs import Refused
from orderledger.infrastructure.messages.exact_json import MAX_LINE_BYTES, check_depth

MAX_FRAME_BYTES = MAX_LINE_BYTES
"""The longest frame or reply a collector reads: the longest line the ingest books."""
HEAD_BYTES = 4096
"""How much of a refused frame or reply is journaled (enough to see what it was)."""
MAX_WAIT = 120.0
"""The longest wait a venue's headers may ask for (Tradier's windows are a minute); a longer
one is capped and reported."""
CHUNK = 1 << 16


def capped(seconds: float | None, what: str, reports: Reports) -> float | None:
    """A wait ``what`` (a venue's header) asks for, at most :data:`MAX_WAIT`; a longer one (or
    one that is no number of seconds) is reported to the collector and capped."""
    if seconds is not None and (not math.isfinite(seconds) or seconds > MAX_WAIT):
        reports.say(f"{what} asks for a wait of {seconds:g} s: waiting {MAX_WAIT:g} s at most")
        return MAX_WAIT
    return seconds


def peek(raw: bytes) -> Any:
    """``raw`` read as JSON for the collector's own look (a channel, a type, a cursor): None when
    it is not JSON, longer than :data:`MAX_FRAME_BYTES` or nested deeper than the ingest reads."""
    if len(raw) > MAX_FRAME_BYTES:
        return None
    try:
        check_depth(raw)
        return orjson.loads(raw)
    except (MessageError, orjson.JSONDecodeError):
        return None


def refused(what: str, reason: str, head: bytes = b"", *, retry_after: float | None = None) -> ConnectionLost:
    """A passing fault that journals what was refused (its head) with its reason."""
    message = f"{what}: {reason}"
    lost = ConnectionLost(message, retry_after=retry_after)
    lost.refused = Refused(head[:HEAD_BYTES], message)
    return lost


async def read_body(reply: Any, what: str) -> bytes:
    """An aiohttp reply's body, at most :data:`MAX_FRAME_BYTES`; beyond it (said by
    ``Content-Length`` or found while reading) a :func:`refused` fault, the body not read on."""
    bound = f"a reply longer than {MAX_FRAME_BYTES} bytes, refused"
    if reply.content_length is not None and reply.content_length > MAX_FRAME_BYTES:
        raise refused(what, f"{bound} (Content-Length {reply.content_length})")
    body = bytearray()
    async for chunk in reply.content.iter_chunked(CHUNK):
        body += chunk
        if len(body) > MAX_FRAME_BYTES:
            raise refused(what, bound, bytes(body[:HEAD_BYTES]))
    return bytes(body)


def json_reply(body: bytes, what: str) -> Any:
    """A 200 reply's JSON; one that is not JSON (or nested too deep) is a :func:`refused` fault."""
    found = peek(body)
    if found is None and body.strip() != b"null":
        raise refused(what, "answered 200 with a reply that is not JSON", body)
    return found


def redirect(status: int, headers: Any, url: str, what: str) -> ConnectionLost:
    """A 3xx reply: never followed (another host's reply is not the venue's), a passing fault."""
    target = urljoin(url, str(headers.get("Location", "")))
    host = urlsplit(target).netloc or "nowhere"
    return ConnectionLost(f"{what} answered HTTP {status}, a redirect to {host}: not followed")


class ws_connect(connect):  # lower case: used as websockets' connect is, a call awaited
    """``websockets``' ``connect`` bounded: frames over :data:`MAX_FRAME_BYTES` refused (close
    1009), and a redirect followed only to the same scheme, host and port."""

    def __init__(self, uri: str, **options: Any) -> None:
        super().__init__(uri, max_size=MAX_FRAME_BYTES, ping_interval=None, **options)

    def process_redirect(self, exc: Exception) -> Exception | str:
        target = super().process_redirect(exc)
        if isinstance(target, str):
            old, new = urlsplit(self.uri), urlsplit(target)
            if (old.scheme, old.netloc) != (new.scheme, new.netloc):
                return exc  # the redirect itself is the fault (InvalidStatus)
        return target


def too_big(close: Any) -> bool:
    """True when a WebSocket was closed by the client for a frame over the bound (1009)."""
    return getattr(getattr(close, "sent", None), "code", None) == 1009


FRAME_REFUSED = f"a frame longer than {MAX_FRAME_BYTES} bytes, refused unread (close 1009)"


__all__ = [
    "FRAME_REFUSED",
    "HEAD_BYTES",
    "MAX_FRAME_BYTES",
    "MAX_WAIT",
    "capped",
    "json_reply",
    "peek",
    "read_body",
    "redirect",
    "refused",
    "too_big",
    "ws_connect",
]
