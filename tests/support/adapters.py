"""What the adapter tests share: their recorded payloads, and adapter messages in the form the
tests state them.

``check_valid`` turns the message models an adapter built into the ledger-format dicts the
adapter stated (the fields it set, in their JSON form), and checks that the ledger's own parser
reads each dict back as the very same message; a dict a test wrote itself, it validates with
that parser (``tests/adapters/conftest.py`` offers it as ``valid``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from orderledger.infrastructure.application.ledger import IngestReport
from orderledger.infrastructure.messages.models import Message, json_ready, parse_message

# The adapter tests' recorded payloads (tests/adapters/fixtures/).
FIXTURES = Path(__file__).resolve().parents[1] / "adapters" / "fixtures"

Messages = list[dict[str, Any]]
Stated = Message | dict[str, Any]
"""A message an adapter built, or one a test wrote as the ledger-format dict."""
Valid = Callable[[Iterable[Stated]], Messages]
"""The ``valid`` fixture: :func:`check_valid`."""
Feed = Callable[[Iterable[Stated]], IngestReport]
"""The ``feed`` fixture: validate, then ingest as JSON lines."""


def stated(message: Message) -> dict[str, Any]:
    """The ledger-format dict of the fields a message was built with (``type`` first); what a
    model derives itself (an external request's client order ID) is left out."""
    built = message.model_fields_set
    return {name: value for name, value in json_ready(message).items() if name == "type" or name in built}


def check_valid(messages: Iterable[Stated]) -> Messages:
    """Each message as the dict its adapter stated, read back by the ledger's parser as the same
    message (a dict a test wrote: parsed by it); returns the dicts."""
    out = []
    for message in messages:
        data = message if isinstance(message, dict) else stated(message)
        read = parse_message(json.loads(json.dumps(data)))
        assert isinstance(message, dict) or read == message, data
        out.append(data)
    return out
