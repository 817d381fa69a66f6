"""A batch's venue identities: which order a message names, which identities an order may take,
and the external orders that turn out to be ours.

An order is named by its client order ID, or by what the venue calls it: a venue order ID, an
alias (``domain.identity``). The ``identities`` table maps each to its order, append-only;
``Processor.lookup_identity`` reads it through the writer's cache. A batch resolves a message
to its order here (or to the keys it would wait on), refuses an identity another order holds,
registers the identities an order gains, and merges an external order the ledger kept for a
venue order ID into ours when ours is acknowledged as it (``ingest.merging``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from orderledger.domain.decisions import Decision, Stamp
from orderledger.domain.errors import IdentityConflictError
from orderledger.domain.events import OrderEvent, OrderSpec
from orderledger.domain.identity import IdentityKey, identity_keys
from orderledger.domain.order import Order
from orderledger.infrastructure.errors import StaleBatchError
from orderledger.infrastructure.ingest.input_outcomes import Decided
from orderledger.infrastructure.ingest.merging import book_facts, mergeable, merged
from orderledger.infrastructure.ingest.order_caches import IdentityCache
from orderledger.infrastructure.messages.models import Message
from orderledger.infrastructure.storage.store import Commit, JournalEntry

CLIENT_ORDER_ID_ALIAS = "client_order_id"
"""The alias under which an external order keeps the client order ID of a request that named it."""


class IdentityLookup(Protocol):
    """What identities need of the writer: its identity cache and the table behind it."""

    identities: IdentityCache

    def lookup_identity(self, key: IdentityKey) -> str | None: ...


class Identities:
    """A batch's identities: resolving, checking, registering, merging."""

    p: IdentityLookup
    commit: Commit
    events: list[OrderEvent]
    new_identities: dict[IdentityKey, str]
    _merging: dict[str, Order] = {}  # noqa: RUF012 (replaced per message, never mutated here)
    """External orders the message being decided names ours as (``ingest.merging``): merged
    once its own events are decided."""

    if TYPE_CHECKING:

        def _order(self, client_order_id: str, *, trust_absent: bool = True) -> Order | None: ...

        def _outcome(self, order: Order, outcome: Decision, entry: JournalEntry) -> Decided: ...

        def _history(self, order: Order) -> list[OrderEvent]: ...

        def _fact(self, order: Order, message: Message, entry: JournalEntry) -> Decided: ...

        def stamp(self, message: Message) -> Stamp: ...

    def _named_by_identity(self, spec: OrderSpec) -> tuple[Order | None, OrderSpec]:
        """The order a request names by a venue identity instead of its client order ID, and the
        request restated for it; None and ``spec`` unchanged when there is none.

        A venue's report (``external``) of an order whose venue order ID or client index an
        order holds is that order again (ours, or one booked from an earlier report). Our own
        request whose client index the venue reported first, booked as an external order, is
        that external order: it takes the request's client order ID as an alias
        (``client_order_id``), never a second order. A request whose client order ID is the
        value of an alias an order of ours holds (a venue's report of an order by a later name of
        it, as a FIX ClOrdID of a cancel/replace chain) is that order stated again. Any other
        alias held by another of our orders is left to the identity check (a collision of two
        client order IDs on one index)."""
        keys = [IdentityKey.alias(spec.venue, n, v) for n, v in spec.aliases.items()]
        if spec.external and spec.venue_order_id:
            keys.insert(0, IdentityKey.venue_order(spec.venue, spec.venue_order_id))
        for key in keys:
            owner = self._owner(key)
            if owner is None:
                continue
            if not spec.external and not owner.external and key[2] != spec.client_order_id:
                return None, spec
            update = {"client_order_id": owner.client_order_id, "external": owner.external}
            return owner, spec.model_copy(update=update)
        return None, spec

    def _resolve(self, message: Message) -> tuple[Order | None, list[IdentityKey]]:
        """The order a message names, or every identity it could be released by."""
        if message.client_order_id:
            order = self._order(message.client_order_id)
            if order is not None and order.merged_into is not None:
                order = self._order(order.merged_into, trust_absent=False)  # named by its old key
            if order is None and message.venue:
                # A request recorded after the venue had reported its order made the request's
                # client order ID an alias of that (external) order; or the order goes by the ID
                # as one of its own aliases (a FIX ClOrdID of its chain, when a report under a
                # later one opened it).
                named = {CLIENT_ORDER_ID_ALIAS: message.client_order_id} | {
                    n: v for n, v in message.aliases.items() if v == message.client_order_id
                }
                for name, value in named.items():
                    order = self._owner(IdentityKey.alias(message.venue, name, value))
                    if order is not None:
                        break
            return order, ([] if order else [IdentityKey.client_order(message.client_order_id)])
        venue = message.venue or ""
        keys: list[IdentityKey] = []
        if message.venue_order_id:
            keys.append(IdentityKey.venue_order(venue, message.venue_order_id))
        keys += [IdentityKey.alias(venue, n, v) for n, v in message.aliases.items()]
        for key in keys:
            order = self._owner(key)
            if order is not None:
                return order, []
        return None, keys

    def _owner(self, key: IdentityKey) -> Order | None:
        """The order a venue identity belongs to, if any."""
        owner = self.new_identities.get(key) or self.p.lookup_identity(key)
        if owner is None:
            return None
        # The identity may have been committed by another writer after this batch's prefetch
        # marked its order absent: look in the log again.
        order = self._order(owner, trust_absent=False)
        if order is None:
            raise StaleBatchError(f"order {owner!r} is named by {key[1]} but not yet readable")
        return order

    def _check_identities(self, client_order_id: str, keys: Sequence[IdentityKey]) -> None:
        for key in keys:
            owner = self.new_identities.get(key) or self.p.lookup_identity(key)
            if owner is None or owner == client_order_id or owner in self._merging:
                continue
            holder = self._order(owner, trust_absent=False)
            ours = self._order(client_order_id)
            if holder is not None and ours is not None and mergeable(holder, ours):
                self._merging = {**self._merging, owner: holder}
            else:
                raise IdentityConflictError(
                    f"{key[1]} {key[2]!r} at venue {key[0]!r} already belongs to order {owner!r}",
                    client_order_id=client_order_id,
                )

    def _merge(
        self, ours: Order, message: Message, entry: JournalEntry
    ) -> tuple[list[OrderEvent], list[str]]:
        """Merge the external orders the message named ours as (``ingest.merging``): theirs off
        the books, their facts given to ours, their identities leading to ours. Returns the
        events, and what of the external orders' facts ours refused (for the journal row)."""
        pending, self._merging = self._merging, {}
        events: list[OrderEvent] = []
        refused: list[str] = []
        for external in pending.values():
            gone, facts = merged(
                external,
                ours,
                self._history(external),
                self.stamp(message),
                lambda order, decision: self._outcome(order, decision, entry)[2],
            )
            for key in identity_keys(external):  # (forgotten with the batch if it is not stored)
                self.new_identities[key] = self.p.identities[key] = ours.client_order_id
            events += gone
            given, not_given = book_facts(
                facts, lambda fact: self._fact(ours, fact, entry)[2], lambda: len(self.events)
            )
            events += given
            refused += not_given
        return events, refused

    def _register(self, order: Order, keys: Sequence[IdentityKey]) -> list[IdentityKey]:
        """Record identities not yet stored; returns the new ones."""
        new = []
        for key in keys:
            if key in self.new_identities or self.p.identities.get(key) == order.client_order_id:
                continue
            if self.p.identities.get(key) in self._merging:
                continue  # the external order's identity: it leads to ours once merged (_merge)
            self.new_identities[key] = order.client_order_id
            self.p.identities[key] = order.client_order_id
            self.commit.identities.append((*key, order.client_order_id))
            new.append(key)
        return new


__all__ = ["CLIENT_ORDER_ID_ALIAS", "Identities", "IdentityLookup"]
