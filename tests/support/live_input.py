"""A live connector's session (one order: request, acknowledgement, fill) and reading the acks
``orderledger ingest - --acks`` writes back, one JSON line each."""

from __future__ import annotations

import json
import select
import time
from typing import IO, Any

REQUEST = {
    "type": "request",
    "client_order_id": "live-1",
    "account": "a",
    "venue": "v",
    "instrument": "BTC-USD",
    "side": "buy",
    "order_type": "limit",
    "quantity": "2",
    "price": "100",
    "ts": "2026-11-20T10:00:00Z",
}


ACCEPTED = {
    "type": "accepted",
    "client_order_id": "live-1",
    "venue_order_id": "V1",
    "ts": "2026-11-20T10:00:01Z",
}


FILL = {
    "type": "fill",
    "client_order_id": "live-1",
    "trade_id": "T1",
    "quantity": "2",
    "price": "100",
    "ts": "2026-11-20T10:00:02Z",
}


def read_json_line(stream: IO[bytes], timeout: float = 30.0) -> Any:
    """The next line the command writes, waiting at most ``timeout`` seconds for it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], 0.1)
        if ready:
            line = stream.readline()
            assert line, "the command closed its output"
            return json.loads(line)
    raise AssertionError(f"no acknowledgement within {timeout} s")
