"""The FIX venue: its input format, the scale options its adapter takes, its collector."""

from __future__ import annotations

from dataclasses import dataclass, fields

from orderledger.infrastructure.adapters.declared import Collector, InputFormat, Venue, option

MAX_SCALE = 18
"""The largest scale (digits) a quantity or price is shifted by."""


@dataclass(frozen=True)
class FixOptions:
    """How a venue that sends integers scales its quantities and prices (all optional)."""

    quantity_scale: int | None = option(
        "digits to shift every quantity (LastQty 32, OrderQty 38) right: 4 reads 150000 as 15",
        metavar="DIGITS",
        minimum=0,
    )
    price_scale: int | None = option(
        "digits to shift every price (LastPx 31, Price 44, StrikePrice 202) right",
        metavar="DIGITS",
        minimum=0,
    )
    quantity_scale_tag: int | None = option(
        "a tag stating the quantity scale (digits) on the message; wins over the scale",
        metavar="TAG",
        minimum=0,
    )
    price_scale_tag: int | None = option(
        "a tag stating the price scale (digits) on the message; wins over the scale", metavar="TAG", minimum=0
    )
    quantity_divisor_tag: int | None = option(
        "a tag stating on the message a power of ten that divides every quantity"
        " (Zero Hash FractionBase 43229: 10000 reads OrderQty 1000 as 0.1)",
        metavar="TAG",
        minimum=0,
    )
    price_divisor_tag: int | None = option(
        "a tag stating on the message a power of ten that divides every price", metavar="TAG", minimum=0
    )

    def __post_init__(self) -> None:
        for name in ("quantity_scale", "price_scale"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not 0 <= value <= MAX_SCALE):
                raise ValueError(f"{name} must be a whole number from 0 to {MAX_SCALE}")


VENUE = Venue(
    formats=(
        InputFormat(
            "fix",
            "FIX 4.2/4.4 session logs",
            needs_venue=True,
            text=True,
            options=FixOptions,
            translate="orderledger.infrastructure.adapters.fix.messages:FixTranslation",
        ),
    ),
    collectors=(
        Collector(
            "fix",
            "orderledger.infrastructure.collect.venues.fix:FixLogSource",
            "follow a FIX engine's message log as it grows (QuickFIX/J, QuickFIX C++), surviving rotation",
            {"file": "file://"},
            options={
                "path": "the engine's messages log (e.g. FIX.4.4-SENDER-TARGET.messages.current.log)",
                "venue": "the venue name the log's orders are booked under (default fix)",
                "poll": "seconds between looks at a log with nothing new (default 0.2)",
                **{f.name: f"FIX adapter option: {f.metadata['option'][0]}" for f in fields(FixOptions)},
            },
            required=("path",),
        ),
    ),
)

__all__ = ["MAX_SCALE", "VENUE", "FixOptions"]
