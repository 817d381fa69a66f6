"""What ``OrderLedger.place`` and ``POST /orders`` answer (``Placed``): apart from
``application.placing``, which records through the requests, so that the commands can name it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orderledger.infrastructure.ingest.inbound import Result


@dataclass(frozen=True)
class Placed:
    """What ``POST /orders`` answers: the request's outcome, its breaches (denied, or
    overridden), why it was refused, and the order as recorded (None unless recorded)."""

    result: Result
    order: dict[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        result = self.result
        return {
            "outcome": result.outcome,
            "client_order_id": result.client_order_id,
            "message_id": result.message_id,
            "reason": result.reason,
            "breaches": list(result.breaches),
            **({} if self.order is None else {"order": self.order}),
        }


__all__ = ["Placed"]
