"""What a venue package declares about itself: its input formats, their options, its collectors.

A venue is one package, ``adapters/<venue>/``: the modules that read its payloads, and a
``venue`` module whose :class:`Venue` (``VENUE``) says what the rest of the ledger needs to know
of it. ``adapters.venue_registry`` lists those modules, one line a venue; the CLI's ``ingest`` and
``collect`` options, ``POST /messages``'s query parameters, the format checks, the feeds and the
collectors are all made from the declarations (docs/venues.md, "Adding a venue").

A declaration names the code that does the work (the line translation, the feed, the
collector's source) by ``"module:attribute"``, imported on first use: so a command reads every
venue's declaration without loading any venue's adapter, and a venue's feed (which reads the
ledger: ``application/feeds/<venue>.py``) and its collector (a live connection:
``collect/venues/<venue>.py``) live in their layers, which the adapters never import.

Options are a frozen dataclass whose fields are declared with :func:`option`: its name, type,
default, help and choices are what the command line and the HTTP API offer, and the adapter
receives one instance of it.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

TIMEOUT_MEANING = "seconds a reply may take before the connection counts as lost (default 30)"
"""What the ``timeout`` option of a collector that has one means."""


@dataclass(frozen=True)
class VenueOption:
    """One option of an input format, as the shells offer it."""

    name: str
    type: type
    """``int``, ``float``, ``str`` or ``bool``: what the value is read as."""
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    metavar: str | None = None


def option(
    help: str, *, metavar: str | None = None, minimum: int | None = None, choices: tuple[str, ...] = ()
) -> Any:
    """A field of an options dataclass: not given (None) unless the caller gives it."""
    return field(default=None, metadata={"option": (help, metavar, minimum, choices)})


@dataclass(frozen=True)
class NoOptions:
    """The options of a format that takes none."""


def declared_options(options: type) -> tuple[VenueOption, ...]:
    """The options an options dataclass declares, in field order."""
    hints = typing.get_type_hints(options)
    found = []
    for f in dataclasses.fields(options):
        help_text, metavar, minimum, choices = f.metadata["option"]
        # ``int | None`` is read as int: None is "not given".
        kind = next((t for t in typing.get_args(hints[f.name]) if t is not types.NoneType), hints[f.name])
        found.append(VenueOption(f.name, kind, f.default, help_text, choices, minimum, metavar))
    return tuple(found)


@dataclass(frozen=True)
class InputFormat:
    """One input format: what a line holds, what the caller must give, how it is read.

    ``translate`` (``module:function``) reads one line alone: ``function(raw, venue=…,
    account=…, notes=…, options=…)`` returns its messages; naming a class instead, one instance
    per ingest is that function (it may remember what earlier lines of the run made it say, so as
    not to say it again, never to read a line differently in substance). ``feed`` (``module:class``) reads
    lines whose translation depends on what earlier lines recorded: ``class(ledger, venue,
    account, options)`` is opened once per ingest (``application.feeds.Feed``). A format with
    neither is the ledger's own. ``judges`` (``module:function``) decides, after every commit of
    any input, what the format's earlier lines say of the orders the commit named:
    ``function(ledger, committed)`` returns ledger messages to record (the snapshot streams'
    closures by absence of an order learnt after them). ``judged_table``: the table the format's
    lines leave in a ledger; while it has none, no line of the format was ever recorded there,
    so there is nothing to judge, and ``judges``'s module is not even imported (a commit's
    acknowledgement waits for what is judged after it)."""

    name: str
    reads: str
    """What one line holds, in a few words (the CLI's help and the docs' table)."""
    needs_venue: bool = False
    needs_account: bool = False
    text: bool = False
    """The lines are text (FIX), not JSON documents: over HTTP they are posted as text."""
    options: type = NoOptions
    """The options dataclass (fields declared with :func:`option`); the adapter gets one."""
    translate: str | None = None
    feed: str | None = None
    judges: str | None = None
    judged_table: str | None = None

    @property
    def reads_ledger(self) -> bool:
        """A line's translation depends on what earlier lines recorded (a feed): each line is
        committed before the next is read, and the format cannot be ``strict``."""
        return self.feed is not None

    @property
    def adapter(self) -> bool:
        """Read through a venue adapter (every format but the ledger's own)."""
        return self.translate is not None or self.feed is not None

    @property
    def option_names(self) -> tuple[str, ...]:
        return tuple(o.name for o in declared_options(self.options))


@dataclass(frozen=True)
class Collector:
    """One collector: ``source`` (``module:callable``) makes its source from a ``SourceConfig``.

    ``endpoints``: name → URL (the first is the default, ``mainnet`` by convention; any URL given
    as ``endpoint`` is taken as it is). ``options``: name → meaning; ``required``: the options
    that must be given. ``credentials``: the secrets it reads (``ORDERLEDGER_<VENUE>_<NAME>`` or a
    credentials file); ``needs_account``: whether ``account`` is required."""

    name: str
    source: str
    summary: str
    endpoints: Mapping[str, str]
    options: Mapping[str, str] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    credentials: tuple[str, ...] = ()
    needs_account: bool = False


@dataclass(frozen=True)
class Venue:
    """What one venue package declares (its ``venue`` module's ``VENUE``)."""

    formats: tuple[InputFormat, ...] = ()
    collectors: tuple[Collector, ...] = ()


def load(reference: str) -> Any:
    """The object a declaration names, ``module:attribute``, its module imported now."""
    module, _, attribute = reference.partition(":")
    return getattr(import_module(module), attribute)


__all__ = [
    "TIMEOUT_MEANING",
    "Collector",
    "InputFormat",
    "NoOptions",
    "Venue",
    "VenueOption",
    "declared_options",
    "load",
    "option",
]
