"""The caller's options (quantity and price scales, ``venue.FixOptions``) and the notes of one translation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from orderledger.infrastructure.adapters.common import decimal_text, positive_text
from orderledger.infrastructure.adapters.fix.codes import (
    POWER_OF_TEN,
    SOURCE,
    WHOLE,
    FixError,
    InstrumentOf,
    Report,
)
from orderledger.infrastructure.adapters.fix.framing import value_of
from orderledger.infrastructure.adapters.fix.venue import MAX_SCALE, FixOptions


@dataclass
class Context:
    """What every translation step needs: the caller's options and where notes go."""

    venue: str
    account: str | None = None
    instrument_of: InstrumentOf | None = None
    source: str = SOURCE
    notes: list[str] = field(default_factory=list)
    options: FixOptions = field(default_factory=FixOptions)
    later_links: frozenset[str] = frozenset()
    """ClOrdIDs the input itself shows to be later links of a chain (11 beside an OrigClOrdID 41
    naming another): a report under one of them opens no order."""
    opened: Mapping[str, str] = field(default_factory=dict)
    """ClOrdIDs a report of an earlier line of this run opened its order with, and that report's
    time (``FixTranslation``): a later report under one of them, of no earlier time, states the
    order no more."""
    opening: dict[str, str] = field(default_factory=dict)
    """ClOrdIDs a report of this input opened its order with, and its time (``reports.opening``)."""

    def quantity(self, report: Report, tag: int, name: str) -> str | None:
        """A positive quantity tag, shifted by the message's quantity scale."""
        o = self.options
        return self._scaled(report, tag, name, o.quantity_scale, o.quantity_scale_tag, o.quantity_divisor_tag)

    def price(self, report: Report, tag: int, name: str) -> str | None:
        """A positive price tag, shifted by the message's price scale."""
        o = self.options
        return self._scaled(report, tag, name, o.price_scale, o.price_scale_tag, o.price_divisor_tag)

    def _scaled(
        self,
        report: Report,
        tag: int,
        name: str,
        scale: int | None,
        scale_tag: int | None,
        divisor_tag: int | None,
    ) -> str | None:
        text = positive_text(value_of(report, tag), name)
        if scale_tag is not None and (stated := value_of(report, scale_tag)) is not None:
            if not WHOLE.match(stated) or int(stated) > MAX_SCALE:
                raise FixError(
                    f"scale tag {scale_tag} must be a whole number from 0 to {MAX_SCALE}: {stated!r}"
                )
            scale = int(stated)
        if divisor_tag is not None and (stated := value_of(report, divisor_tag)) is not None:
            # A power of ten, 1 to 10**MAX_SCALE: its zeros are the scale (10000 is 4 digits).
            if not POWER_OF_TEN.match(stated) or len(stated) - 1 > MAX_SCALE:
                raise FixError(
                    f"divisor tag {divisor_tag} must be a power of ten from 1 to 1{'0' * MAX_SCALE}:"
                    f" {shortened(stated)!r}"
                )
            scale = len(stated) - 1
        if text is None or not scale:
            return text
        return decimal_text(Decimal(text).scaleb(-scale), name)


def shortened(value: str, limit: int = 24) -> str:
    """A venue value as a note shows it: short, so a line's reason stays one short line."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


MAX_NOTES_LENGTH = 240
"""Notes of one line beyond this many characters are counted, not spelled out (the raw line is
journaled beside them, so nothing is lost)."""


def summarised(notes: list[str]) -> list[str]:
    """Repeated notes once with their count, and at most MAX_NOTES_LENGTH characters of them."""
    counts: dict[str, int] = {}
    for note in notes:
        counts[note] = counts.get(note, 0) + 1
    out: list[str] = []
    used = 0
    for note, count in counts.items():
        text = note if count == 1 else f"{note} (×{count})"
        if used + len(text) > MAX_NOTES_LENGTH:
            out.append(f"and {len(counts) - len(out)} more parts not booked")
            break
        out.append(text)
        used += len(text) + 2
    return out
