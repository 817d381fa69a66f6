"""``simulate``: a simulated trading session (what ``demo`` ingests) as JSON lines, and the
options the two commands share. Apart from ``ingest``, so that a write does not load the
simulator."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from orderledger.infrastructure.application.simulator import simulate_lines

SeedOption = Annotated[int, typer.Option(min=0, max=2**32, help="Random seed of the simulated session.")]
OrdersOption = Annotated[
    int, typer.Option("--orders", min=1, max=100_000, help="How many orders to simulate.")
]


def simulate(seed: SeedOption = 7, orders_count: OrdersOption = 40) -> None:
    """Write a simulated trading session as JSON lines (what the demo ingests) to standard output."""
    for line in simulate_lines(seed, orders_count):
        sys.stdout.write(line + "\n")


__all__ = ["OrdersOption", "SeedOption", "simulate"]
