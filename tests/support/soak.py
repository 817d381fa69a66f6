"""The one switch for the long forms of the suite's campaigns: ``ORDERLEDGER_SOAK``.

Unset or ``0``, every campaign runs at its CI size: enough kills to reach each kind of crash
point with the same checks after every kill, sized so that the whole suite stays within its
time budget on two cores. ``ORDERLEDGER_SOAK=N`` (N ≥ 1) runs each campaign at its full size,
N times over (more rounds, more kills): the soak whose figures docs/reliability.md records.
"""

from __future__ import annotations

import os


def soak_factor() -> int:
    """0 for the CI-sized run, else how many times over the full-size campaign runs."""
    value = os.environ.get("ORDERLEDGER_SOAK", "").strip() or "0"
    try:
        factor = int(value)
    except ValueError:
        raise ValueError(f"ORDERLEDGER_SOAK must be a whole number, got {value!r}") from None
    if factor < 0:
        raise ValueError(f"ORDERLEDGER_SOAK must not be negative, got {factor}")
    return factor


SOAK = soak_factor()


def sized(ci: int, full: int) -> int:
    """``ci`` in the CI-sized run; ``full`` times the soak factor in a soak."""
    return full * SOAK if SOAK else ci
