"""Query commands: one order, its history, orders, trades, positions, P&L, instruments and parents.

Each reads its options into the Python API's typed arguments (a list's filter options into one
``Filter``, ``cli.list_options``), asks one ``OrderLedger`` method or typed request
(``ledger.handle``) and renders the typed rows (``cli.render``)."""

from __future__ import annotations

from typing import Annotated

import typer

from orderledger.domain.errors import InvalidInputError
from orderledger.infrastructure.application.reads import order_figures
from orderledger.infrastructure.application.reads.display import Precision
from orderledger.infrastructure.application.reads.view_queries import parse_marks
from orderledger.infrastructure.application.requests import (
    Instruments,
    IterOrders,
    IterTrades,
    Parents,
    Positions,
)
from orderledger.infrastructure.cli.app import (
    EventTimeOption,
    JsonOption,
    LimitOption,
    lazy_group,
    moment,
    open_ledger,
    sort_help,
    warn_if_behind,
)
from orderledger.infrastructure.cli.json_out import print_json
from orderledger.infrastructure.cli.list_options import NO_CRITERIA, Criteria, lists
from orderledger.infrastructure.cli.render import (
    HISTORY_COLUMNS,
    INSTRUMENT_COLUMNS,
    ORDER_COLUMNS,
    PARENT_COLUMNS,
    TRADE_COLUMNS,
    daily_pnl_table,
    lots_table,
    order_table,
    pnl_table,
    positions_table,
    show,
    table,
    text_table,
)

OrderArgument = Annotated[
    str, typer.Argument(metavar="ORDER", help="Client order ID, venue order ID or NAME=VALUE alias.")
]
CostBasisOption = Annotated[
    str | None,
    typer.Option("--cost-basis", help="average, fifo, lifo or hifo: fold the log under this rule."),
]
InCurrencyOption = Annotated[
    str | None,
    typer.Option(
        "--in-currency",
        help="The P&L in this one currency (USD), each currency at its latest recorded mark (USDT/USD).",
    ),
]


def order(
    order: OrderArgument,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="State as known at this time (ISO 8601 with Z).")
    ] = None,
    event_time: EventTimeOption = False,
    version: Annotated[
        int | None, typer.Option("--version", min=1, max=2**62, help="State at this event version.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Show one order's state now, at a version, or as of a time."""
    when = moment(as_of, "--as-of")
    with open_ledger(create=False) as ledger:
        data = ledger.order(order, version=version, as_of=when, event_time=event_time).snapshot()
        places = None if as_json else Precision.of(ledger).places(data)
    if as_json:
        print_json(data)
    else:
        order_table(data, places)


def history(order: OrderArgument, as_json: JsonOption = False) -> None:
    """Every event of one order, with the message that produced it."""
    with open_ledger(create=False) as ledger:
        entries = ledger.history(order)
    rows = [entry.to_json() for entry in entries]
    if as_json:
        print_json(rows)
        return
    table(f"history of {entries[0].event.client_order_id}", HISTORY_COLUMNS, rows)


@lists("orders")
def orders(
    open_only: Annotated[bool, typer.Option("--open", help="Only open orders.")] = False,
    criteria: Criteria = NO_CRITERIA,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="As the ledger knew them at this time.")
    ] = None,
    event_time: EventTimeOption = False,
    sort: Annotated[str, typer.Option(help=sort_help("orders"))] = "",
    limit: LimitOption = None,
    as_json: JsonOption = False,
) -> None:
    """List orders as they stand (from the orders view), or as of a time (folded from the log)."""
    where = criteria.filter(sort=sort or None, limit=limit)
    when = moment(as_of, "--as-of")
    with open_ledger(create=False) as ledger:
        if when is None:
            warn_if_behind(ledger)
        rows = ledger.handle(IterOrders(where, open=open_only, as_of=when, event_time=event_time))
        what = f"{'open ' if open_only else ''}orders"
        show(rows, limit, as_json, what, ORDER_COLUMNS, None if as_json else Precision.of(ledger))


@lists("trades")
def trades(
    criteria: Criteria = NO_CRITERIA,
    sort: Annotated[str, typer.Option(help=sort_help("trades"))] = "",
    limit: LimitOption = None,
    as_json: JsonOption = False,
) -> None:
    """The trade blotter: one row per fill as it stands after busts and corrections."""
    where = criteria.filter(sort=sort or None, limit=limit)
    with open_ledger(create=False) as ledger:
        warn_if_behind(ledger)
        show(
            ledger.handle(IterTrades(where)),
            limit,
            as_json,
            "trades",
            TRADE_COLUMNS,
            None if as_json else Precision.of(ledger),
        )


@lists("parents")
def parents(
    criteria: Criteria = NO_CRITERIA,
    sort: Annotated[str, typer.Option(help=sort_help("parents"))] = "",
    limit: LimitOption = None,
    as_json: JsonOption = False,
) -> None:
    """The parents orders name (parent_id), each with its child orders' count, open count,
    accounts, instruments and times; `orders --parent P` lists one parent's orders."""
    with open_ledger(create=False) as ledger:
        warn_if_behind(ledger)
        show(
            ledger.handle(Parents(criteria.filter(sort=sort or None, limit=limit))),
            limit,
            as_json,
            "parents",
            PARENT_COLUMNS,
        )


@lists("positions")
def positions(
    criteria: Criteria = NO_CRITERIA,
    mark: Annotated[
        list[str] | None,
        typer.Option(
            "--mark", help="INSTRUMENT=PRICE for unrealized P&L (repeatable; else the latest recorded mark)."
        ),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="As they stood at this time (from the log).")
    ] = None,
    event_time: EventTimeOption = False,
    cost_basis: CostBasisOption = None,
    in_currency: InCurrencyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Positions with realized and unrealized P&L (now, or as of a time); average cost, or
    another rule folded from the log with --cost-basis; the P&L in one currency with --in-currency."""
    marks = parse_marks(mark or [])
    when = moment(as_of, "--as-of")
    with open_ledger(create=False) as ledger:
        if when is None:
            warn_if_behind(ledger)
        asked = Positions(
            criteria.filter(), tuple(marks.items()), when, event_time, cost_basis, in_currency=in_currency
        )
        found = ledger.handle(asked)
        rows = [r.to_json() for r in found]
        shown = Precision() if as_json else Precision.of(ledger)
    if as_json:
        print_json(rows)
    else:
        positions_table([shown.add(row) for row in rows])


def lots(
    cost_basis: Annotated[str, typer.Option("--cost-basis", help="fifo, lifo or hifo.")] = "fifo",
    closed: Annotated[bool, typer.Option("--closed", help="Closed lots (one row per match).")] = False,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="As they stood at this time (from the log).")
    ] = None,
    event_time: EventTimeOption = False,
    as_json: JsonOption = False,
) -> None:
    """Tax lots: open ones with their opening fill and cost, or (--closed) one row per matched
    quantity with opening and closing fill, cost, proceeds, fees and P&L. Export: `export lots`."""
    when = moment(as_of, "--as-of")
    with open_ledger(create=False) as ledger:
        found = ledger.analytics.lots(cost_basis=cost_basis, closed=closed, as_of=when, event_time=event_time)
        rows = [r.to_json() for r in found]
        shown = Precision() if as_json else Precision.of(ledger)
    if as_json:
        print_json(rows)
    else:
        lots_table([shown.add(row) for row in rows], closed)


def pnl(
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            help="day, account, venue, instrument, parent or tag:NAME (--daily: account, parent, tag:NAME).",
        ),
    ] = None,
    daily: Annotated[
        bool,
        typer.Option(
            "--daily", help="Per UTC day: realized, fees, funding and unrealized at the day's last mark."
        ),
    ] = False,
    cost_basis: CostBasisOption = None,
    in_currency: InCurrencyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Realized P&L and fees, grouped (under another cost-basis rule with --cost-basis; in one
    currency with --in-currency); or daily P&L per group."""
    if daily and in_currency is not None:
        raise InvalidInputError("--in-currency: converts realized P&L and positions, not --daily")
    with open_ledger(create=False) as ledger:
        behind = order_figures.daily_from_views if daily else order_figures.pnl_from_views
        if behind(ledger, by or ("account" if daily else "day"), cost_basis):
            warn_if_behind(ledger)  # (the books' heads answer current with the log)
        if daily:
            rows = [
                r.to_json() for r in ledger.analytics.pnl_daily(by=by or "account", cost_basis=cost_basis)
            ]
        else:
            found = ledger.pnl(by=by or "day", cost_basis=cost_basis, in_currency=in_currency)
            rows = [r.to_json() for r in found]
    if as_json:
        print_json(rows)
        return
    # P&L rows name no instrument: only their currencies' places apply.
    rows = [Precision().add(row) for row in rows]
    if daily:
        daily_pnl_table(rows, by or "account")
    else:
        pnl_table(rows, by or "day")


@lists("instruments")
def instruments(
    ctx: typer.Context,
    criteria: Criteria = NO_CRITERIA,
    all_versions: Annotated[
        bool, typer.Option("--all-versions", help="Every version, not only the one in force.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """List instrument definitions (the one in force for each instrument, from the log)."""
    if ctx.invoked_subcommand is not None:
        return
    with open_ledger(create=False) as ledger:
        found = ledger.handle(Instruments(criteria.filter(), all_versions))
        rows = [r.to_json() for r in found]
    if as_json:
        print_json(rows)
        return
    text_table(
        f"instruments ({len(rows)})", INSTRUMENT_COLUMNS, [[r[c] for c in INSTRUMENT_COLUMNS] for r in rows]
    )


instruments_app = typer.Typer(
    help="Instrument definitions: contract size, settlement, option terms.",
    # `instruments load` is ingest's: its module is imported only when it runs.
    cls=lazy_group({"load": "ingest:instruments_load"}),
)
"""``orderledger instruments``: the definitions listed, and ``load``."""
instruments_app.callback(invoke_without_command=True)(instruments)


__all__ = [
    "history",
    "instruments",
    "instruments_app",
    "order",
    "orders",
    "parents",
    "pnl",
    "positions",
    "trades",
]
