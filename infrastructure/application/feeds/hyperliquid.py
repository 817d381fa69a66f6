"""The ``hyperliquid`` format's feed: Hyperliquid payloads, one per line, read against the ledger.

:class:`~.payloads.HyperliquidAdapter` remembers the spot meta and each user's last ``webData2``
open orders; the spot names are context (``application.feeds.FeedContext``): learnt from the
lines read and, when a line needs what the feed lacks, from the journal. A liquidation order is
sized by its fills, as the venue states no size for it: a later line's fills of an order the
ledger holds grow it first (``adapters.common.grow_forced_orders``).
"""

from __future__ import annotations

from typing import Any

from orderledger.domain.instrument import instrument_id_for
from orderledger.infrastructure.adapters.common import AdapterError, grow_forced_orders
from orderledger.infrastructure.adapters.hyperliquid.payloads import SPOT_META_NOTE, HyperliquidAdapter
from orderledger.infrastructure.adapters.hyperliquid.venue import HyperliquidOptions
from orderledger.infrastructure.application.feeds import FeedContext, booked_order, undefined_only
from orderledger.infrastructure.errors import ConfigurationError
from orderledger.infrastructure.messages.exact_json import decode_json
from orderledger.infrastructure.messages.models import Message


class HyperliquidFeed:
    """Hyperliquid payloads, one per line; a liquidation order grows with its later fills."""

    commit_each = True
    context_note: str | None = SPOT_META_NOTE

    def __init__(self, ledger: Any, venue: str, account: str, options: HyperliquidOptions) -> None:
        self.ledger = ledger
        try:
            self.adapter = HyperliquidAdapter(venue=venue, account=account, address=options.address)
        except AdapterError as error:
            raise ConfigurationError(f"format hyperliquid: {error}") from None
        spot = self.adapter.spot
        self.context = FeedContext(ledger, "hyperliquid", venue, SPOT_META_NOTE, spot.load, spot.learned)
        self._known: set[tuple[str, str]] = set()  # instruments the ledger defines (never undefined)

    def _defined(self, venue: str, instrument: str) -> bool:
        if (venue, instrument) not in self._known:
            recorder = self.ledger.processor.recorder
            aggregate = instrument_id_for(venue, instrument)
            if not recorder.select_events(aggregate, desc=True, limit=1, client_order_id=""):
                return False
            self._known.add((venue, instrument))
        return True

    def messages(self, raw: bytes, notes: list[str]) -> list[Message]:
        payload = decode_json(raw)
        found = self.context.messages(lambda: self.adapter.messages(payload, notes), notes)
        found = undefined_only(found, self._defined)
        return grow_forced_orders(found, lambda venue, oid: booked_order(self.ledger, venue, oid))


__all__ = ["HyperliquidFeed"]
