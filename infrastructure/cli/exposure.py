"""``orderledger exposure``: positions and open orders per underlying (docs/risk.md, "Exposure").

Reads its options into the ``Exposure`` request, asks the ledger (``ledger.handle``) and renders
the typed rows (``cli.render.exposure_table``), or prints them as JSON."""

from __future__ import annotations

from typing import Annotated

import typer

from orderledger.domain.exposure import grouping, one_currency
from orderledger.infrastructure.application.reads.view_queries import parse_marks
from orderledger.infrastructure.application.requests import Exposure
from orderledger.infrastructure.cli.app import (
    EventTimeOption,
    JsonOption,
    moment,
    open_ledger,
    warn_if_behind,
)
from orderledger.infrastructure.cli.json_out import print_json
from orderledger.infrastructure.cli.render import exposure_table


def exposure(
    by: Annotated[
        str,
        typer.Option("--by", help="account, venue and underlying, comma-separated (underlying always)."),
    ] = "account,underlying",
    mark: Annotated[
        list[str] | None,
        typer.Option("--mark", help="INSTRUMENT=PRICE (repeatable; else the latest recorded mark)."),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="As they stood at this time (from the log).")
    ] = None,
    event_time: EventTimeOption = False,
    in_currency: Annotated[
        str | None,
        typer.Option("--in-currency", help="Also net and gross in this one currency, at the rates recorded."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Exposure per underlying: positions in units of the underlying and valued at the latest
    marks, beside the worst case of the open orders per side (every open order filled); now,
    or as of a time; with --in-currency, net and gross in that one currency too."""
    wanted = grouping(by)
    into = one_currency(in_currency)
    marks = parse_marks(mark or [])
    when = moment(as_of, "--as-of")
    with open_ledger(create=False) as ledger:
        if when is None:
            warn_if_behind(ledger)
        asked = Exposure(wanted, tuple(marks.items()), when, event_time, into)
        rows = [r.to_json() for r in ledger.handle(asked)]
    if as_json:
        print_json(rows)
    else:
        exposure_table(rows, wanted, into)


__all__ = ["exposure"]
