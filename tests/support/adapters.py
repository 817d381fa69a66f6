"""What the adapter tests share: their recorded payloads and the check every adapter message passes.

``check_valid`` validates a message with the ledger's own parser, so a test cannot pass on a
message the ledger would refuse to read (``tests/adapters/conftest.py`` offers it as ``valid``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from orderledger.infrastructure.messages.models import parse_message

# The adapter tests' recorded payloads (tests/adapters/fixtures/).
FIXTURES = Path(__file__).resolve().parents[1] / "adapters" / "fixtures"

Messages = list[dict[str, Any]]


def check_valid(messages: Iterable[dict[str, Any]]) -> Messages:
    """Validate every message with the ledger's own parser; returns them as a list."""
    out = list(messages)
    for message in out:
        parse_message(json.loads(json.dumps(message)))
    return out
