"""The input formats `ingest` reads, each declared once.

The CLI's ``--format`` help and option checks, ``POST /messages``, ``OrderLedger.ingest_lines``
and the table in docs/venues.md all come from :data:`FORMATS`, so they cannot disagree about
which formats exist or what each needs.

* ``needs_venue`` / ``needs_account``: what the payloads do not say themselves and the caller
  must give (``--venue``, ``--account``; ``venue=``, ``account=`` over HTTP and in Python).
* ``reads_ledger``: the line's translation depends on what earlier lines recorded (a stateful
  feed, ``infrastructure.application.feeds``): each line is committed before the next is read, and
  the format cannot be used with ``strict``.
* ``text``: the lines are text (FIX), not JSON documents; over HTTP they are posted as
  ``text/plain``.
* ``options``: the adapter options the format takes (:data:`FIX_OPTIONS` for FIX); any other
  format refuses them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orderledger.infrastructure.errors import ConfigurationError


@dataclass(frozen=True)
class InputFormat:
    """One input format and what it needs."""

    name: str
    reads: str
    """What one line holds, in a few words (the CLI's help and the docs' table)."""
    needs_venue: bool = False
    needs_account: bool = False
    reads_ledger: bool = False
    text: bool = False
    options: tuple[str, ...] = ()


FIX_OPTIONS: dict[str, str] = {
    "quantity_scale": "digits to shift every quantity (LastQty 32, OrderQty 38) right: 4 reads 150000 as 15",
    "price_scale": "digits to shift every price (LastPx 31, Price 44, StrikePrice 202) right",
    "quantity_scale_tag": "a tag stating the quantity scale (digits) on the message; wins over the scale",
    "price_scale_tag": "a tag stating the price scale (digits) on the message; wins over the scale",
    "quantity_divisor_tag": "a tag stating on the message a power of ten that divides every quantity"
    " (Zero Hash FractionBase 43229: 10000 reads OrderQty 1000 as 0.1)",
    "price_divisor_tag": "a tag stating on the message a power of ten that divides every price",
}
"""The FIX adapter's scale options (``adapters.fix.fix_messages``): name → meaning."""
HYPERLIQUID_OPTIONS: dict[str, str] = {
    "address": "the account's Hyperliquid address (0x and 40 hex digits), when --account is a label:"
    " a fill whose liquidatedUser it is, is our liquidation (else the fill itself says whose)",
}
"""The Hyperliquid adapter's options (``adapters.hyperliquid.HyperliquidAdapter``): name → meaning."""
ADAPTER_OPTIONS: dict[str, str] = {**FIX_OPTIONS, **HYPERLIQUID_OPTIONS}
"""Every format's adapter options: what ``ingest`` and ``POST /messages`` pass on by name."""

FORMATS: dict[str, InputFormat] = {
    f.name: f
    for f in (
        InputFormat("ledger", "the ledger's JSON-lines messages (docs/messages.md)"),
        InputFormat("ccxt", "CCXT unified orders and trades", needs_venue=True, needs_account=True),
        InputFormat(
            "fix", "FIX 4.2/4.4 session logs", needs_venue=True, text=True, options=tuple(FIX_OPTIONS)
        ),
        InputFormat(
            "hyperliquid",
            "Hyperliquid WebSocket and info payloads",
            needs_venue=True,
            needs_account=True,
            reads_ledger=True,
            options=tuple(HYPERLIQUID_OPTIONS),
        ),
        InputFormat(
            "lighter",
            "Lighter REST replies and account channels",
            needs_venue=True,
            needs_account=True,
            reads_ledger=True,
        ),
        InputFormat(
            "tradier",
            "Tradier orders replies (polls)",
            needs_venue=True,
            needs_account=True,
            reads_ledger=True,
        ),
        InputFormat("snapshots", "open-orders snapshots, reconciled one after another", reads_ledger=True),
    )
}
"""Every input format, by name, in the order help texts list them."""

ADAPTER_FORMATS = tuple(name for name in FORMATS if name != "ledger")
"""The formats read through a venue adapter (all but the ledger's own)."""


def spelled() -> str:
    """The format names in words, for help texts and errors: "ledger, ccxt, … or snapshots"."""
    names = list(FORMATS)
    return ", ".join(names[:-1]) + f" or {names[-1]}"


def needing(what: str) -> str:
    """The formats whose ``what`` (``needs_venue``, ``needs_account``) is set, for help texts."""
    return ", ".join(f.name for f in FORMATS.values() if getattr(f, what))


def input_format(name: str) -> InputFormat:
    """The format called ``name``, or a one-line refusal naming every format."""
    found = FORMATS.get(name)
    if found is None:
        raise ConfigurationError(f"`fmt` must be {spelled()}, not {name!r}")
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
    unknown = [key for key, value in (options or {}).items() if value is not None and key not in fmt.options]
    if unknown:
        shown = ", ".join(f"`{key}`" for key in unknown)
        takes = f"; it takes {', '.join(f'`{k}`' for k in fmt.options)}" if fmt.options else ""
        raise ConfigurationError(f"{said} does not take {shown}{takes}")
    if strict and fmt.reads_ledger:
        raise ConfigurationError(f"{said} reads what earlier lines recorded: it cannot be `strict`")
    return fmt


def formats_table() -> str:
    """The Markdown table of the formats (docs/venues.md shows it; a test keeps it true)."""
    rows = [
        "| format | one line holds | needs venue | needs account | reads the ledger | options |",
        "|---|---|---|---|---|---|",
    ]
    for f in FORMATS.values():
        yes = {True: "yes", False: "no"}
        options = ", ".join(f"`{o}`" for o in f.options) or "—"
        rows.append(
            f"| `{f.name}` | {f.reads} | {yes[f.needs_venue]} | {yes[f.needs_account]}"
            f" | {yes[f.reads_ledger]} | {options} |"
        )
    return "\n".join(rows)


__all__ = [
    "ADAPTER_FORMATS",
    "FIX_OPTIONS",
    "FORMATS",
    "InputFormat",
    "check_options",
    "formats_table",
    "input_format",
    "needing",
    "spelled",
]
