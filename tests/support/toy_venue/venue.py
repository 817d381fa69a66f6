"""The toy venue's declaration: one format, ``toy``, with one option, ``lot``."""

from __future__ import annotations

from dataclasses import dataclass

from orderledger.infrastructure.adapters.declared import InputFormat, Venue, option


@dataclass(frozen=True)
class ToyOptions:
    lot: int | None = option("units in one lot: every quantity is read in lots", metavar="UNITS", minimum=1)
    side: str | None = option("the side of every order", choices=("buy", "sell"))


VENUE = Venue(
    formats=(
        InputFormat(
            "toy",
            "toy orders, one JSON object a line",
            needs_venue=True,
            needs_account=True,
            options=ToyOptions,
            translate="tests.support.toy_venue.payloads:line_messages",
        ),
    )
)

MODULE = __name__
"""The line a registry takes to list this venue."""
