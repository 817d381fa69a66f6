"""The ``lighter`` format's feed: Lighter payloads, one per line, read against the ledger.

:class:`~.payloads.LighterAdapter` remembers the market map (``order_books``), context learnt
from the lines read and, when a line needs what the feed lacks, from the journal
(``application.feeds.FeedContext``); otherwise translation is through the CCXT Lighter rules. A
liquidation or deleverage order is sized by its later fills
(``adapters.common.grow_forced_orders``).
"""

from __future__ import annotations

from typing import Any

from orderledger.infrastructure.adapters.ccxt.exchanges import VENUE_RULES, rules_for
from orderledger.infrastructure.adapters.common import grow_forced_orders
from orderledger.infrastructure.adapters.declared import NoOptions
from orderledger.infrastructure.adapters.lighter.payloads import MARKETS_NOTE, LighterAdapter
from orderledger.infrastructure.application.feeds import FeedContext, booked_order
from orderledger.infrastructure.errors import ConfigurationError
from orderledger.infrastructure.messages.exact_json import decode_json
from orderledger.infrastructure.messages.models import Message


class LighterFeed:
    """Lighter payloads, one per line (remembers the market map); a liquidation or deleverage
    order grows with its later fills."""

    commit_each = True
    context_note: str | None = MARKETS_NOTE

    def __init__(self, ledger: Any, venue: str, account: str, options: NoOptions) -> None:
        if rules_for(venue) is not VENUE_RULES["lighter"]:
            raise ConfigurationError("format lighter needs `venue` lighter (or lighter-<name>)")
        self.ledger = ledger
        self.adapter = LighterAdapter(venue=venue, account=account)
        self.context = FeedContext(
            ledger,
            "lighter",
            venue,
            MARKETS_NOTE,
            lambda line: self.adapter.messages(line, []),
            self.adapter.learned,
        )

    def messages(self, raw: bytes, notes: list[str]) -> list[Message]:
        payload = decode_json(raw)
        found = self.context.messages(lambda: self.adapter.messages(payload, notes), notes)
        return grow_forced_orders(found, lambda venue, oid: booked_order(self.ledger, venue, oid))


__all__ = ["LighterFeed"]
