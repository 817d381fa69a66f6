"""Turning inbound messages into events: resolve the order, decide, journal, commit.

A batch of messages is decided in memory, in arrival order, against the orders' current
state, then written by one group commit (journal rows, events, identities, parked
bookkeeping). A rejected message only adds its journal row: it never rolls back or blocks
the messages around it. If another writer changed the same orders meanwhile, the commit
fails on a unique key, the batch's orders are reloaded and the batch is decided again.

This module is the writer (``Processor``): its caches, each batch's prefetch, the attempts and
the commit. What a batch decides of each message is in :mod:`ingest.batch`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from orderledger.domain.errors import LedgerError
from orderledger.domain.events import (
    OrderEvent,
)
from orderledger.domain.folds import (
    replay,
)
from orderledger.domain.identity import IdentityKey, identity_keys
from orderledger.domain.order import Order, order_id_for
from orderledger.domain.order_requests import is_external_key
from orderledger.domain.outcomes import Outcome
from orderledger.infrastructure.errors import ConcurrencyError, StaleBatchError
from orderledger.infrastructure.ingest.batch import Batch
from orderledger.infrastructure.ingest.identities import CLIENT_ORDER_ID_ALIAS
from orderledger.infrastructure.ingest.inbound import Inbound, Result
from orderledger.infrastructure.ingest.input_outcomes import Again
from orderledger.infrastructure.ingest.order_caches import IdentityCache, OrderCache
from orderledger.infrastructure.ingest.parking import (
    ParkedIndex,
)
from orderledger.infrastructure.messages.models import (
    RequestMessage,
)
from orderledger.infrastructure.storage.db import is_integrity_error, select_by_keys
from orderledger.infrastructure.storage.mapper import LedgerMapper
from orderledger.infrastructure.storage.store import Heads, LedgerRecorder, read_heads

MAX_ATTEMPTS = 8
LOCKED_AFTER = 2
"""Stale attempts after which a batch is decided while holding the log lock."""
_IDENTITY_COLUMNS = ("venue", "kind", "value", "client_order_id")
"""What a message that states none of an order's facts gives for them (``stated_facts``)."""


class Processor:
    """Decides and commits batches of inbound messages for one ledger."""

    def __init__(
        self,
        recorder: LedgerRecorder,
        mapper: LedgerMapper,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.recorder = recorder
        self.mapper = mapper
        self.clock = clock
        self.orders = OrderCache()
        self.identities = IdentityCache()
        # Identities known not to exist when the current batch was prefetched.
        self.no_identity: set[IdentityKey] = set()
        # Called inside each commit with the committed (notification ID, event) pairs and the
        # batch's orders as they stand after them (client order ID → order).
        self.inline: Callable[[Any, list[tuple[int, OrderEvent]], dict[str, Order]], None] | None = None
        # Orders known not to exist when the current batch was prefetched (cleared per batch).
        self.absent: set[str] = set()
        self._work: Batch | None = None  # the current attempt's decisions
        self.parked = ParkedIndex(recorder.db)  # what waits in the `parked` table
        self.refused: dict[tuple[int, int], LedgerError] = {}
        # The stored events of orders the current batch may decide a fact of in place (its time
        # before the order's latest): read with the batch's prefetch, not one query per fact.
        self.histories: dict[str, list[OrderEvent]] = {}
        # The journal's and the log's heads as this writer's own last commit left them, while no
        # other writer has committed since its caches were emptied (None once one has): its
        # commits then skip the checks against other writers (``Commit.alone_since``).
        self._heads: Heads | None = None
        self._shared = False  # another writer's commit was seen: every commit checks
        # The orders of the last batch committed as they stand after it (client order ID →
        # order), for a fold of its views after the commit (``LedgerRecorder.commit``).
        self.decided: dict[str, Order] = {}

    @property
    def alone(self) -> bool:
        """(``ParkedLines``) Whether this writer's commits are checked alone: no other writer has
        committed since its caches were emptied (as far as its last commit saw)."""
        return self._heads is not None

    # ------------------------------------------------------------------ public

    def decide_and_commit(
        self,
        items: Sequence[Inbound],
        *,
        strict: bool = False,
        first: Callable[[], None] | None = None,
    ) -> tuple[list[Result], list[tuple[int, OrderEvent]]]:
        """Decide and commit one batch; returns per-input results and the committed events.

        With ``strict``, nothing is committed if any input is rejected. ``first`` (a pre-trade
        check) runs inside the log lock before the batch is decided, and the batch is decided and
        committed under that lock: what ``first`` reads is what every writer had committed, and
        no other writer commits before this batch does.
        """
        items = list(items)
        attempts = 0
        # Messages refused after they had begun to record (an implied acknowledgement, say, before
        # the fill that overfills): the batch is decided again with them refused from the start,
        # so a refused message leaves nothing behind. Keyed by (input, message) within the batch.
        self.refused = {}
        self.decided = {}
        while attempts < MAX_ATTEMPTS:
            # Optimistic first: decide without the log lock, check at commit. A batch that keeps
            # losing to other writers (a large batch against small ones on the same orders) is
            # then decided while holding the lock, which cannot go stale: no starvation.
            locked = first is not None or attempts >= LOCKED_AFTER
            guard = self.recorder.locked() if locked else contextlib.nullcontext()
            self._work = None
            try:
                with guard:
                    if first is not None:
                        first()
                    outcome = self._attempt(items, strict)
                    if not isinstance(outcome, tuple):
                        raise Again(outcome)  # leaves the guard's transaction, if any, undone
            except Again as again:
                attempts += again.why == "stale"
                continue
            except BaseException:
                if locked and self._work is not None:
                    # The outer commit failed after the attempt had cached its orders as stored.
                    self.orders.forget(self._work.touched | set(self._work.consulted))
                    self._forget_identities(self._work)
                raise
            return outcome
        raise ConcurrencyError(
            f"gave up after {MAX_ATTEMPTS} attempts: other writers kept changing the same orders"
        )

    def _attempt(
        self, items: list[Inbound], strict: bool
    ) -> tuple[list[Result], list[tuple[int, OrderEvent]]] | str:
        """Decide and commit once: the results, or "stale" (another writer moved an order the
        batch read: decide again)."""
        if self._heads is None and not self._shared:
            self._alone()
        self.prefetch(items)  # the orders, identities and histories it reads, in one query each
        work = self._work = Batch(self)
        try:
            results = []
            for index, item in enumerate(items):
                work.item = index
                results.append(work.decide(item))
            self.absent = set()
            self.histories = {}
            if strict and any(r.outcome is Outcome.REJECTED for r in results):
                self.orders.forget(work.touched)
                self._forget_identities(work)
                return results, []
            work.commit.consulted = dict(work.consulted)
            work.commit.alone_since = self._heads
            ids = self.recorder.commit(work.commit, self._inline_hook(work.events, work.orders))
            self._heads = work.commit.heads
            self._shared = self._heads is None
        except Exception as error:
            if not isinstance(error, Again):
                self._heads, self._shared = None, True  # whatever happened, checked from now on
            self.absent = set()
            self.no_identity = set()
            self.histories = {}
            self.orders.forget(work.touched)
            if isinstance(error, Again):
                self._forget_identities(work)  # a message refused part-way: decide again
                raise
            if isinstance(error, StaleBatchError) or is_integrity_error(error):
                self._forget_identities(work)
                self.parked.forget()  # another writer may have parked meanwhile: read again
                self.orders.forget(work.consulted)  # another writer moved them: reload
                return "stale"
            raise
        self.parked.committed(
            work.commit.journal, work.settled, work.commit.resolvable, work.parked_messages()
        )
        for order in work.orders.values():
            order.collect_events()
            self._remember(order)
        self.decided = work.orders
        for result, entry in zip(results, work.entries, strict=True):
            # A message parked and then resolved inside this batch reports its final outcome.
            result.message_id = entry.message_id
            result.outcome, result.reason = entry.outcome, entry.reason
        return results, list(zip(ids, work.events, strict=True))

    def _alone(self) -> None:
        """Empty the caches and note the heads: from here on, until another writer's commit
        moves the heads, what this writer reads and keeps is the database as its own commits
        leave it, and its commits need not check for other writers' (``Commit.alone_since``)."""
        self.orders.clear()
        self.identities.clear()
        self.parked.forget()
        with self.recorder.db.read() as tx:
            self._heads = read_heads(tx)

    def load_order(self, client_order_id: str, *, trust_absent: bool = True) -> Order | None:
        """The current order from the cache or the log."""
        order = self.orders.get(client_order_id)
        if order is not None:
            return order
        if trust_absent and client_order_id in self.absent:
            return None
        stored = self.recorder.select_events(order_id_for(client_order_id), client_order_id=client_order_id)
        if not stored:
            return None
        order = replay(self.mapper.to_domain_event(s) for s in stored)
        if order is not None:
            self._remember(order)
        return order

    def _remember(self, order: Order) -> None:
        self.orders.put(order)
        for key in identity_keys(order):
            self.identities[key] = order.client_order_id

    def prefetch(self, items: Sequence[Inbound]) -> None:
        """Load what the batch reads, one query for each kind rather than one per message: the
        orders it names (``absent``: those that do not exist), the venue identities its messages
        name (``no_identity``: those nobody holds), then the stored events of the known orders
        that a message names with a venue time before their latest (decided in place,
        ``Batch._history``; read after the identities: a message may name its order by them)."""
        orders, identities, recorder = self.orders, self.identities, self.recorder
        histories: dict[str, list[OrderEvent]] = {}
        self.histories = histories
        # The orders.
        named = {m.client_order_id for item in items for m in item.messages if m.client_order_id is not None}
        named = {cid for cid in named if orders.get(cid) is None}
        decode = self.mapper.to_domain_event
        found = recorder.select_events_many(named, decode) if named else {}
        for client_id, events in found.items():
            order = replay(events)
            if order is not None:
                orders.put(order)  # (``_remember``, here where the identities are read next)
                for key in identity_keys(order):
                    identities[key] = order.client_order_id
                histories[client_id] = events
        absent = self.absent = named - found.keys()
        # The identities. Orders requested in this very batch: their later messages often name no
        # venue. A line parked earlier that a request of this batch releases: its names are
        # looked up with the batch's, not one query each when it is applied.
        requested = {
            m.client_order_id: m.venue
            for item in items
            for m in item.messages
            if type(m) is RequestMessage and m.client_order_id is not None
        }
        wanted: set[IdentityKey] = set()
        for cid, requested_at in requested.items() if len(self.parked) else ():
            for _, m in self.parked.held(IdentityKey.client_order(cid)):
                venue = m.venue or requested_at
                if m.venue_order_id:
                    wanted.add(IdentityKey.venue_order(venue, m.venue_order_id))
                if m.aliases:
                    wanted.update(IdentityKey.alias(venue, n, v) for n, v in m.aliases.items())
        for item in items:
            for m in item.messages:
                venue, cid = m.venue, m.client_order_id
                if venue is None and cid is not None:
                    order = orders.get(cid)
                    venue = requested.get(cid) if order is None else order.venue
                if venue is None:
                    continue
                if m.venue_order_id:
                    wanted.add(IdentityKey.venue_order(venue, m.venue_order_id))
                if m.aliases:
                    wanted.update(IdentityKey.alias(venue, n, v) for n, v in m.aliases.items())
                if cid is not None and m.venue and cid in absent and cid not in requested:
                    # An order unknown by this ID may know it as an alias (_resolve).
                    wanted.add(IdentityKey.alias(venue, CLIENT_ORDER_ID_ALIAS, cid))
        # O(batch): only this batch's keys are looked at, never every identity seen so far.
        keys = sorted(key for key in wanted if key not in identities)
        if keys:
            with recorder.db.read() as tx:
                for start in range(0, len(keys), 300):
                    chunk = keys[start : start + 300]
                    for venue, kind, value, owner in tx.all(
                        *select_by_keys(
                            "identities", _IDENTITY_COLUMNS, _IDENTITY_COLUMNS[:3], chunk, tx.dialect
                        )
                    ):
                        identities[IdentityKey(venue, kind, value)] = owner
        self.no_identity = {key for key in keys if key not in identities}
        # The histories. Each known order's latest venue time, as the batch goes.
        earlier: set[str] = set()
        latest: dict[str, datetime] = {}
        for item in items:
            for m in item.messages:
                cid = m.client_order_id
                if cid is None and m.venue is not None and m.venue_order_id is not None:
                    cid = identities.get(IdentityKey.venue_order(m.venue, m.venue_order_id))
                if cid is None or cid in histories:
                    continue
                order = orders.peek(cid)
                if order is None or order.version < 2:
                    continue
                if m.ts < latest.get(cid, order.updated_at):
                    earlier.add(cid)
                else:
                    latest[cid] = m.ts
        if earlier:
            histories.update(recorder.select_events_many(earlier, decode))

    def _forget_identities(self, work: Batch) -> None:
        """Identities a batch registered but did not store."""
        self.identities.forget(work.new_identities)

    def _inline_hook(
        self, events: list[OrderEvent], orders: dict[str, Order]
    ) -> Callable[[Any, list[int]], None] | None:
        inline = self.inline
        if inline is None:
            return None
        return lambda tx, ids: inline(tx, list(zip(ids, events, strict=True)), orders)

    def lookup_identity(self, key: IdentityKey) -> str | None:
        """The client order ID a venue identity points to, if recorded: for an external order
        merged into ours (``ingest.merging``), ours."""
        owner = self._identity_owner(key)
        if owner is not None and is_external_key(owner):
            order = self.load_order(owner, trust_absent=False)
            if order is not None and order.merged_into is not None:
                return order.merged_into
        return owner

    def _identity_owner(self, key: IdentityKey) -> str | None:
        found = self.identities.get(key)
        if found is not None:
            return found
        if key in self.no_identity:
            return None
        with self.recorder.db.read() as tx:
            row = tx.one(
                "SELECT client_order_id FROM identities WHERE venue = ? AND kind = ? AND value = ?",
                key,
            )
        if row is None:
            return None
        self.identities[key] = row[0]
        return str(row[0])


__all__ = ["UUID", "Processor"]
