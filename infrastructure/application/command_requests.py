"""The Python API's commands as typed requests: recording (the writes), limits and trading
states, the views, the ledger's settings, exports and the collectors' leases. Each is answered by
``OrderLedger.handle`` like every request (its handler: ``application.command_handlers``) and
declares the role asking it needs (``write`` or ``admin``; ``application.requests`` holds the
reads, and re-exports these).

A process that only reads never asks one: this module, and the handlers of its commands, are
imported when the first command is asked for (``application.requests``' re-export,
``application.bootstrap``), so a read command does not build their classes.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from annotated_types import Ge

from orderledger.infrastructure.application import lazy_imports
from orderledger.infrastructure.application.typed_request import Request, request, stream

if TYPE_CHECKING:  # named in a string: the writes, the lake and the views are imported when first asked
    from orderledger.infrastructure.application.analytics.lake import LakeReport  # noqa: F401
    from orderledger.infrastructure.application.risk.pretrade import CheckResult  # noqa: F401
    from orderledger.infrastructure.application.writes.place_answer import Placed  # noqa: F401
    from orderledger.infrastructure.application.writes.recording import Ingested, IngestReport  # noqa: F401
    from orderledger.infrastructure.ingest.inbound import Inbound, Result
    from orderledger.infrastructure.storage.views import CatchUpStats  # noqa: F401
else:  # a field's type the argument checks read (``argument_checks.type_hints``), imported when first asked
    __getattr__ = lazy_imports.names(
        __name__, {"orderledger.infrastructure.ingest.inbound": ("Inbound", "Result")}
    )


# ---------------------------------------------------------------------- recording (writes)


@stream
class IngestStream(Request["IngestReport"], role="write"):
    """Record the ``lines`` of an iterable read as it is answered (``OrderLedger.ingest_lines``):
    a file, a live input (``None``: it paused, commit what is held), a generator; ``on_batch`` is
    told each batch's results once durable. A one-shot command (:func:`stream`): the HTTP API's
    form, whose lines are a value, is :class:`Ingest`."""

    lines: Iterable[str | bytes | None]
    origin: str = "-"
    strict: bool = False
    on_batch: Callable[[list[Result]], None] | None = None
    format: str = "ledger"
    venue: str | None = None
    account: str | None = None
    options: tuple[tuple[str, Any], ...] = ()


@stream
class IngestInbound(Request["IngestReport"], role="write"):
    """Record prepared inputs in group commits (``OrderLedger.ingest_inbound``); ``on_batch`` is
    told each batch's results once durable. A one-shot command (:func:`stream`)."""

    items: Iterable[Inbound | None]
    strict: bool = False
    on_batch: Callable[[list[Result]], None] | None = None


RISK_FACTS = ("limit_set", "limit_cleared", "trading_state")
"""The messages that set limits and trading states: recording one needs the ``risk`` role, as
does a request that overrides the risk door (``override``)."""
_MAY_BE_RISK_FACT = (*(name.encode() for name in RISK_FACTS), b"override", b"\\")
"""What a line that is a risk fact holds: its type's name or ``override``, or an escape that may
spell either."""


def risk_facts(lines: Iterable[bytes], format: str = "ledger") -> list[tuple[int, dict[str, Any]]]:
    """The lines (index from 0, and the message) that are risk facts (``RISK_FACTS``), read as the
    ingest reads them (``exact_json``); only the ledger format carries them. A line that names
    none of them, and has no escape that could, is not read here."""
    if format != "ledger":
        return []
    # Imported here: the list commands load this module, and never read a message.
    from orderledger.infrastructure.errors import MessageError
    from orderledger.infrastructure.messages.exact_json import decode_json

    found = []
    for index, line in enumerate(lines):
        if not any(word in line for word in _MAY_BE_RISK_FACT):
            continue
        try:
            message = decode_json(line)
        except MessageError:  # the ingest rejects it as it stands, whatever it is
            continue
        if isinstance(message, dict) and (
            message.get("type") in RISK_FACTS or message.get("override") is not None
        ):
            found.append((index, message))
    return found


@request
class Ingest(Request["Ingested"], role="write"):
    """Record ``lines`` read as ``format`` (``OrderLedger.ingest_lines``; ``options``: the
    format's adapter options, name and value), durably: the report and each line's result.
    Lines that are limits or trading states (``RISK_FACTS``) need the ``risk`` role, the others
    ``write``."""

    lines: tuple[bytes, ...]
    origin: str
    format: str = "ledger"
    venue: str | None = None
    account: str | None = None
    strict: bool = False
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def roles(self) -> tuple[str, ...]:
        found = risk_facts(self.lines, self.format)
        if not found:
            return ("write",)
        facts = {index for index, _ in found}
        others = any(line.strip() for index, line in enumerate(self.lines) if index not in facts)
        overrides = any(message.get("type") not in RISK_FACTS for _, message in found)
        return ("write", "risk") if others or overrides else ("risk",)


@request
class Record(Request["Result"], role="write"):
    """Record one ledger-format message (``OrderLedger.record``); ``strict``: a refusal raises. A
    request of ours is judged by the risk door first, a denied one journaled as ``denied``."""

    message: dict[str, Any]
    origin: str = "api"
    strict: bool = False


@request
class PlaceOrder(Request["Placed"], role="write"):
    """Place an order of ours through the risk door in one transaction (``POST /orders``): the
    request's fields (``client_order_id`` and ``ts`` made when absent; ``override`` to let it
    through its breaches, who and why), checked and recorded, or denied with each breach."""

    spec: dict[str, Any]
    origin: str = "api"

    @property
    def roles(self) -> tuple[str, ...]:
        return ("write", "risk") if self.spec.get("override") is not None else ("write",)


@request
class DefineInstrument(Request["Result"], role="write"):
    """Record an instrument's definition (``OrderLedger.venues.define_instrument``): the ``instrument``
    message's fields (``definition``: name and value), from ``ts`` (None: now)."""

    venue: str
    instrument: str
    definition: tuple[tuple[str, Any], ...] = ()
    ts: datetime | str | None = None
    source: str = "api"


@request
class LoadCcxtMarkets(Request["IngestReport"], role="write"):
    """Record the definitions of a CCXT markets dump (``OrderLedger.venues.load_ccxt_markets``)."""

    markets: Any
    venue: str
    ts: datetime | None = None
    origin: str = "ccxt-markets"
    instrument_of: Callable[[str], str] | None = None


@request
class Settle(Request[int], role="admin"):
    """Settle parked message ``message_id`` by hand (``OrderLedger.venues.settle``): set aside, or
    ``book`` it; the answer is the journal line that records who and why."""

    message_id: int
    reason: str
    by: str
    book: bool = False
    account: str | None = None
    origin: str = "api"


# ---------------------------------------------------------------------- limits and trading states


@request
class SetLimit(Request["Result"], role="risk"):
    """Record a ``limit_set`` (``OrderLedger.risk_controls.set_limit``): from ``ts`` (None: now) ``kind`` of
    ``scope`` ``target`` is at most ``value``."""

    scope: str
    target: str
    kind: str
    value: Decimal | str | int
    set_by: str
    interval: int | None = None
    reason: str | None = None
    ts: datetime | None = None
    origin: str = "api"
    """Where it came from, as the journal records it (``http:NAME@HOST`` over HTTP)."""
    response: str | None = None
    """A loss or drawdown limit's response: ``reduce_only`` (None: the default) or ``halt``."""


@request
class ClearLimit(Request["Result"], role="risk"):
    """Record a ``limit_cleared`` (``OrderLedger.risk_controls.clear_limit``): from ``ts`` (None: now)."""

    scope: str
    target: str
    kind: str
    set_by: str
    reason: str | None = None
    ts: datetime | None = None
    origin: str = "api"
    """Where it came from, as the journal records it (``http:NAME@HOST`` over HTTP)."""


@request
class SetTradingState(Request["Result"], role="risk"):
    """Record a ``trading_state`` (``halted``, ``reduce_only``, ``active``) for ``account``
    (None: every account), set by ``set_by`` for ``reason``, from ``ts`` (None: now)."""

    state: str
    set_by: str
    account: str | None = None
    reason: str | None = None
    ts: datetime | None = None
    origin: str = "api"
    """Where it came from, as the journal records it (``http:NAME@HOST`` over HTTP)."""
    until: datetime | None = None
    """When the state lifts itself (a cooldown); None: until set again."""
    lasting: timedelta | None = None
    """Instead of ``until``: how long after ``ts`` the state lifts itself."""


@request
class Respond(Request["list[Result]"], role="write"):
    """Record the response of each loss or drawdown limit past its value now on an account in a
    state less strict than it (``application.risk.loss_responses``); what the writer does after each commit,
    for what another process recorded (``orderledger risk --watch``)."""


@request
class Check(Request["CheckResult"], role="write"):
    """The pre-trade check of an order (a request's fields): allowed, or every breach. Needs
    ``write``: the daily loss rule may halt the account."""

    spec: dict[str, Any]


# ---------------------------------------------------------------------- the views


@request
class CatchUp(Request["CatchUpStats"], role="write"):
    """Bring every view up to the end of the log (``OrderLedger.upkeep.catch_up``)."""


@request
class Rebuild(Request[tuple[int, float]], role="admin", whole_log=True):
    """Refold the views ``names`` (None: all) from the whole log and swap them in
    (``OrderLedger.upkeep.rebuild``); ``progress`` hears of each chunk (not part of the value)."""

    names: tuple[str, ...] | None = None
    jobs: Annotated[int, Ge(1)] = 1
    progress: Callable[[int], None] | None = field(default=None, compare=False)


# ---------------------------------------------------------------------- the ledger's settings


@request
class SetCostBasis(Request[str], role="admin"):
    """Make ``cost_basis`` the ledger's rule (``OrderLedger.analytics.set_cost_basis``): the answer is the
    rule it replaces."""

    cost_basis: str


@request
class RotateCursorSecret(Request[None], role="admin"):
    """Replace the secret list cursors are sealed with (``OrderLedger.upkeep.rotate_cursor_secret``)."""


@request
class InitDatabase(Request[list[str]], role="admin"):
    """Create the schema and, on PostgreSQL, the application role (``OrderLedger.upkeep.init_database``);
    the password is left out of the request's ``repr``."""

    app_role: str | None = None
    password: str | None = field(default=None, repr=False)
    cost_basis: str | None = None


# ---------------------------------------------------------------------- exports (files on the ledger's host)


@request
class Export(Request[int], role="admin", whole_log=True):
    """Write a whole table to a file or a binary stream (``OrderLedger.analytics.export``); the answer is
    the rows written. Needs ``admin``: it writes a file where the ledger runs."""

    table: str
    out: str | Path | io.BufferedIOBase | io.RawIOBase
    format: str = "jsonl"
    force: bool = False
    raw: bool = False
    cost_basis: str = "fifo"


@request
class ExportLake(Request["LakeReport"], role="admin", whole_log=True):
    """Append to the Parquet lake at ``directory`` what the log holds past its manifest
    (``OrderLedger.analytics.export_lake``). Needs ``admin``: it writes files where the ledger runs."""

    directory: str | Path


# ---------------------------------------------------------------------- collectors (``orderledger collect``)


@request
class CollectorLease(Request[None], role="write"):
    """Take the collector lease of ``venue``/``account`` (``OrderLedger.upkeep.collector_lease``)."""

    venue: str
    account: str | None
    owner: str
    pid: int
    stale_after: timedelta | None = None


@request
class CollectorHeartbeat(Request[None], role="write"):
    """Publish a collector's status figures (``OrderLedger.upkeep.collector_heartbeat``)."""

    venue: str
    account: str | None
    owner: str
    figures: dict[str, Any]


@request
class CollectorRelease(Request[None], role="write"):
    """Give a collector's lease up (``OrderLedger.upkeep.collector_release``)."""

    venue: str
    account: str | None
    owner: str


COMMANDS: tuple[type[Request[Any]], ...] = (
    IngestStream,
    IngestInbound,
    Ingest,
    Record,
    PlaceOrder,
    DefineInstrument,
    LoadCcxtMarkets,
    Settle,
    SetLimit,
    ClearLimit,
    SetTradingState,
    Respond,
    Check,
    CatchUp,
    Rebuild,
    SetCostBasis,
    RotateCursorSecret,
    InitDatabase,
    Export,
    ExportLake,
    CollectorLease,
    CollectorHeartbeat,
    CollectorRelease,
)
"""The request types declared here: the commands."""

__all__ = [
    "COMMANDS",
    "CatchUp",
    "Check",
    "ClearLimit",
    "CollectorHeartbeat",
    "CollectorLease",
    "CollectorRelease",
    "DefineInstrument",
    "Export",
    "ExportLake",
    "Ingest",
    "IngestInbound",
    "IngestStream",
    "InitDatabase",
    "LoadCcxtMarkets",
    "PlaceOrder",
    "Rebuild",
    "Record",
    "Respond",
    "RotateCursorSecret",
    "SetCostBasis",
    "SetLimit",
    "SetTradingState",
    "Settle",
]
