"""The input formats `ingest` reads: the checks and texts made from their declarations.

Each format is declared once, by its venue's package (``adapters/<venue>/venue.py``, listed in
``adapters.venue_registry``); the CLI's ``--format`` help, its option checks and options,
``POST /messages``'s parameters, ``OrderLedger.ingest_lines`` and the table in docs/venues.md
all come from those declarations (``adapters.declared.InputFormat``), so they cannot disagree
about which formats exist, what each needs or which options it takes.

* ``needs_venue`` / ``needs_account``: what the payloads do not say themselves and the caller
  must give (``--venue``, ``--account``; ``venue=``, ``account=`` over HTTP and in Python).
* ``reads_ledger``: the line's translation depends on what earlier lines recorded (the format
  names a feed, ``infrastructure.application.feeds``): each line is committed before the next
  is read, and the format cannot be used with ``strict``.
* ``text``: the lines are text (FIX), not JSON documents; over HTTP they are posted as
  ``text/plain``.
* ``options``: the options dataclass of the format's adapter (``FixOptions`` for FIX: its six
  scale options); any other format refuses them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orderledger.infrastructure.adapters.declared import InputFormat, VenueOption, declared_options, load
from orderledger.infrastructure.adapters.venue_registry import formats
from orderledger.infrastructure.errors import ConfigurationError


def adapter_options() -> dict[str, list[tuple[str, VenueOption]]]:
    """Every option any format takes, by name: the formats that declare it and how. The shells
    offer each name once (``--quantity-scale``, ``quantity_scale=``) and pass it on by name."""
    found: dict[str, list[tuple[str, VenueOption]]] = {}
    for fmt in formats().values():
        for declared in declared_options(fmt.options):
            found.setdefault(declared.name, []).append((fmt.name, declared))
    return found


def typed_options(fmt: InputFormat, options: Mapping[str, Any] | None) -> Any:
    """The format's options object from the options given by name (those given as None are not
    given); a value its declaration refuses is a one-line error naming the format."""
    given = {k: v for k, v in (options or {}).items() if v is not None}
    try:
        return fmt.options(**given)
    except (TypeError, ValueError) as error:
        raise ConfigurationError(f"format {fmt.name}: {error}") from None


def spelled() -> str:
    """The format names in words, for help texts and errors: "ledger, ccxt, … or snapshots"."""
    names = list(formats())
    return ", ".join(names[:-1]) + f" or {names[-1]}"


def needing(what: str) -> str:
    """The formats whose ``what`` (``needs_venue``, ``needs_account``) is set, for help texts."""
    return ", ".join(f.name for f in formats().values() if getattr(f, what))


def input_format(name: str) -> InputFormat:
    """The format called ``name``, or a one-line refusal naming every format."""
    found = formats().get(name)
    if found is None:
        raise ConfigurationError(f"`format` must be {spelled()}, not {name!r}")
    return found


def check_options(
    name: str,
    venue: str | None,
    account: str | None,
    options: Mapping[str, Any] | None = None,
    *,
    strict: bool = False,
) -> InputFormat:
    """Refuse, in one line, a format given without what it needs or with options it does not
    take. The refusal names the arguments in backticks, as every API error does (each shell
    spells them as its users write them: ``--venue`` on the command line)."""
    fmt = input_format(name)
    said = f"format {name}"
    missing = [
        f"`{what}`"
        for what, needed, given in (
            ("venue", fmt.needs_venue, venue),
            ("account", fmt.needs_account, account),
        )
        if needed and not given
    ]
    if missing:
        raise ConfigurationError(f"{said} needs {' and '.join(missing)} (its payloads do not say which)")
    unknown = [
        key for key, value in (options or {}).items() if value is not None and key not in fmt.option_names
    ]
    if unknown:
        shown = ", ".join(f"`{key}`" for key in unknown)
        takes = f"; it takes {', '.join(f'`{k}`' for k in fmt.option_names)}" if fmt.option_names else ""
        raise ConfigurationError(f"{said} does not take {shown}{takes}")
    if strict and fmt.reads_ledger:
        raise ConfigurationError(f"{said} reads what earlier lines recorded: it cannot be `strict`")
    typed_options(fmt, options)  # a value the options refuse (a scale beyond 18): refused now
    return fmt


def formats_table() -> str:
    """The Markdown table of the formats (docs/venues.md shows it; a test keeps it true)."""
    rows = [
        "| format | one line holds | needs venue | needs account | reads the ledger | options |",
        "|---|---|---|---|---|---|",
    ]
    for f in formats().values():
        yes = {True: "yes", False: "no"}
        options = ", ".join(f"`{o}`" for o in f.option_names) or "—"
        rows.append(
            f"| `{f.name}` | {f.reads} | {yes[f.needs_venue]} | {yes[f.needs_account]}"
            f" | {yes[f.reads_ledger]} | {options} |"
        )
    return "\n".join(rows)


class Translation:
    """A format that reads each line alone: its declared ``translate`` (loaded here: the venue's
    adapter loads only for an ingest of its format) with the ingest's venue, account and options
    object, read as a feed is (``messages(raw, notes)``)."""

    def __init__(self, reference: str, venue: str, account: str | None, options: Any) -> None:
        translate = load(reference)
        if isinstance(translate, type):  # a translation that remembers across the lines of one run
            translate = translate()
        self.translate, self.venue, self.account, self.options = translate, venue, account, options

    def messages(self, raw: bytes, notes: list[str]) -> Any:
        return self.translate(raw, venue=self.venue, account=self.account, notes=notes, options=self.options)


def translator(
    ledger: Any,
    declared: InputFormat,
    venue: str | None,
    account: str | None,
    options: Mapping[str, Any] | None,
) -> Any:
    """What reads each line of a venue's format (``messages(raw, notes)``): its feed, opened on
    the ledger (a format that reads the ledger: ``application.feeds``), or its translation; None
    for a format that names neither (the ledger's own). Its options object is made from
    ``options`` (checked by :func:`check_options`)."""
    typed = typed_options(declared, options)
    if declared.feed is None:
        return (
            None
            if declared.translate is None
            else Translation(declared.translate, venue or "", account, typed)
        )
    return load(declared.feed)(ledger, venue or "", account or "", typed)


__all__ = [
    "InputFormat",
    "Translation",
    "adapter_options",
    "check_options",
    "formats_table",
    "input_format",
    "needing",
    "spelled",
    "translator",
    "typed_options",
]
