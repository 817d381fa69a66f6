"""The toy venue's payloads: ``{"id": …, "instrument": …, "lots": …, "ts": …}``, one order a line,
read as a ledger ``request`` (the ``lot`` option: units per lot; ``side``: buy unless given)."""

from __future__ import annotations

from decimal import Decimal

from orderledger.infrastructure.messages.exact_json import decode_json
from orderledger.infrastructure.messages.models import Message, parse_message
from tests.support.toy_venue.venue import ToyOptions


def line_messages(
    raw: bytes, *, venue: str, account: str | None, notes: list[str], options: ToyOptions
) -> list[Message]:
    payload = decode_json(raw)
    quantity = Decimal(payload["lots"]) * (options.lot or 1)
    request = {
        "type": "request",
        "client_order_id": f"toy-{payload['id']}",
        "venue": venue,
        "account": account,
        "instrument": payload["instrument"],
        "side": options.side or "buy",
        "order_type": "market",
        "quantity": str(quantity),
        "ts": payload["ts"],
    }
    return [parse_message(request)]
