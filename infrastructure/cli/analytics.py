"""Analytics commands: ``analytics execution`` and ``export lake DIR`` (docs/analytics.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from orderledger.infrastructure.application.requests import ExportLake
from orderledger.infrastructure.cli.app import JsonOption, open_ledger, time_range
from orderledger.infrastructure.cli.json_out import json_array
from orderledger.infrastructure.cli.render import say, text_table

_SHOWN = (
    ("orders", "orders"),
    ("fill", "fill_ratio"),
    ("slip/limit bp", "slippage_vs_limit_bps"),
    ("slip/decision bp", "slippage_vs_decision_bps"),
    ("fee bp", "fee_bps"),
    ("maker", "maker_share"),
    ("ack s", "ack_seconds_median"),
    ("1st fill s", "first_fill_seconds_median"),
    ("done s", "completion_seconds_median"),
    ("reject", "reject_rate"),
    ("cancel", "cancel_rate"),
    ("replace", "replace_rate"),
)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def execution(
    by: Annotated[
        str,
        typer.Option(
            help="Group by venue, instrument, account, tag:NAME, parent, hour or day (comma-separated)."
        ),
    ] = "",
    since: Annotated[str | None, typer.Option(help="Orders requested at or after this venue time.")] = None,
    until: Annotated[str | None, typer.Option(help="Orders requested before this venue time.")] = None,
    lake: Annotated[
        str | None, typer.Option(help="Read an exported lake directory instead of the ledger.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Execution quality per group: slippage vs limit and decision price and fees (bps, positive =
    cost), fill ratio, maker share, median seconds to ack, first fill and completion, rates."""
    low, high = time_range(since, until)
    with open_ledger(create=False) as ledger:
        rows = ledger.analytics.execution_quality(by=by, since=low, until=high, lake=lake)
    if as_json:
        json_array(row.to_json() for row in rows)
        return
    names = list(rows[0].group) if rows else []
    text_table(
        "execution quality",
        [*names, *(title for title, _ in _SHOWN)],
        [
            [*(_cell(v) for v in row.group.values()), *(_cell(getattr(row, key)) for _, key in _SHOWN)]
            for row in rows
        ],
    )


def export_lake(directory: str) -> None:
    """``export lake DIR``: append what is new to the lake and say what was written."""
    with open_ledger(create=False) as ledger:
        report = ledger.handle(ExportLake(directory))
    written = ", ".join(f"{count} {table}" for table, count in report.rows.items())
    if report.position == report.after and not any(report.rows.values()):
        say(f"lake {directory} is up to date at position {report.position}")
    elif report.position == report.after:  # nothing new: the snapshot rewritten (lake.export_lake)
        say(f"rewrote the snapshot of {directory} at position {report.position}: {written}")
    else:
        say(f"exported positions {report.after + 1}–{report.position} to {directory}: {written}")


analytics_app = typer.Typer(
    help="Analytics in DuckDB: execution quality (docs/analytics.md).", no_args_is_help=True
)
"""``orderledger analytics``: its one report so far, ``execution``."""
analytics_app.command("execution")(execution)
