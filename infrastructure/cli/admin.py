"""Administration commands: keep the views current (``project``, ``rebuild``), create the schema
(``db init``), serve the HTTP API, and the demo."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from orderledger.domain.errors import InvalidInputError
from orderledger.infrastructure.application.requests import (
    CatchUp,
    CostBasis,
    InitDatabase,
    Rebuild,
    RotateCursorSecret,
    SetCostBasis,
    ViewsPosition,
)
from orderledger.infrastructure.application.simulator import ingest_demo
from orderledger.infrastructure.cli.app import open_ledger, seconds, state
from orderledger.infrastructure.cli.render import (
    ORDER_COLUMNS,
    TRADE_COLUMNS,
    Column,
    pnl_table,
    positions_table,
    say,
    table,
    warn,
)
from orderledger.infrastructure.cli.simulate import OrdersOption, SeedOption
from orderledger.infrastructure.errors import DatabaseLockedError
from orderledger.infrastructure.storage.db import redact
from orderledger.projections.lots import cost_basis_named


def project(
    follow: Annotated[
        bool, typer.Option("--follow", help="Keep polling for new events until interrupted.")
    ] = False,
    interval: Annotated[float, typer.Option(help="Seconds between polls when following.")] = 0.5,
) -> None:
    """Bring every view up to date with the log (once, or continuously with --follow)."""
    seconds(interval, "--interval", 0, 3600, above=True)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with open_ledger() as ledger:
        total = 0
        while True:
            try:
                stats = ledger.handle(CatchUp())
            except DatabaseLockedError as error:
                if not follow:
                    raise
                # A follower outlives a writer holding the lock past the wait: say so, go on.
                warn(f"orderledger: {error.message}; retrying")
                if stop.wait(interval):
                    break
                continue
            total += stats.applied
            if stats.applied:
                say(f"applied {stats.applied} events; views at {ledger.handle(ViewsPosition())}")
            if not follow or stop.wait(interval):
                break
    say(f"views current: {total} events applied")


def rebuild(
    name: Annotated[str | None, typer.Argument(help="View to rebuild: orders, trades or positions.")] = None,
    all_views: Annotated[bool, typer.Option("--all", help="Rebuild every view.")] = False,
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            help="Processes to fold in (orders split by client order ID, positions by"
            " account/venue/instrument); the rows are the same. Default 1.",
        ),
    ] = 1,
) -> None:
    """Refold views from the whole log into new tables, then swap them in atomically."""
    with open_ledger() as ledger:
        known = ledger.upkeep.view_names
        if all_views:
            names = known
        elif name is not None:
            names = [name]
        else:
            raise InvalidInputError(f"name a view ({', '.join(known)}) or give --all")
        total = ledger.log_position()
        columns = [
            TextColumn("rebuilding " + ", ".join(names)),
            BarColumn(),
            TextColumn("{task.completed:,}/{task.total:,} events"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        ]
        err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)
        # The bar is for people at a terminal; in a pipe or a log it would only add noise.
        with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as progress:
            task = progress.add_task("rebuild", total=total, rate="")

            def advance(n: int) -> None:
                progress.advance(task, n)
                elapsed = progress.tasks[0].elapsed or 0
                done = progress.tasks[0].completed
                progress.update(task, rate=f"{done / elapsed:,.0f} events/s" if elapsed else "")

            events, spent = ledger.handle(Rebuild(tuple(names), jobs, progress=advance))
    rate = events / spent if spent else 0.0
    say(f"rebuilt {', '.join(names)}: {events} events in {spent:.2f} s ({rate:,.0f} events/s)")


def db_init(
    app_role: Annotated[
        str | None, typer.Option("--app-role", help="PostgreSQL: create/grant this application role.")
    ] = None,
    password: Annotated[
        str | None,
        typer.Option(
            "--password", envvar="ORDERLEDGER_APP_PASSWORD", help="Let the role log in with this password."
        ),
    ] = None,
    cost_basis: Annotated[
        str | None,
        typer.Option(
            "--cost-basis", help="A new ledger's rule for positions and P&L: average, fifo, lifo or hifo."
        ),
    ] = None,
) -> None:
    """Create the schema (tables, indexes, append-only triggers) and, on PostgreSQL, the app role."""
    with open_ledger() as ledger:
        for line in ledger.handle(InitDatabase(app_role, password, cost_basis)):
            say(line)


def db_cost_basis(
    rule: Annotated[
        str | None, typer.Argument(help="The new rule: average, fifo, lifo or hifo; none: show the rule.")
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", help="Change the rule: every position and P&L figure changes with it.")
    ] = False,
) -> None:
    """Show or change the cost-basis rule of this ledger's positions and P&L (the log is untouched)."""
    with open_ledger() as ledger:
        current = ledger.handle(CostBasis())
        if rule is None or rule == current:
            say(f"cost basis: {current}")
            return
        if not yes:
            cost_basis_named(rule)  # a misspelt rule is refused as such, before asking for --yes
            raise InvalidInputError(
                f"changing the cost basis from {current} to {rule} restates every position and P&L"
                " figure: repeat with --yes"
            )
        previous = ledger.handle(SetCostBasis(rule))
        say(f"cost basis: {previous} → {rule}")


def db_rotate_cursor_secret() -> None:
    """Replace the secret this ledger seals its list cursors with: every cursor issued before is
    refused from now on (a client pages again from the start)."""
    with open_ledger() as ledger:
        ledger.handle(RotateCursorSecret())
        say("cursor secret replaced: every cursor issued before is refused from now on")


def demo(seed: SeedOption = 7, orders_count: OrdersOption = 40) -> None:
    """Simulate a multi-account, multi-venue session, ingest it, and show what happened."""
    with open_ledger() as ledger:
        report = ingest_demo(ledger, seed, orders_count)
        open_rows = [r.to_json() for r in ledger.orders(open=True)]
        every = ledger.orders()
        all_rows = [r.to_json() for r in every]
        trades = ledger.trades()
        fills = [t.to_json() for t in trades]
        marks = {t.instrument: t.price for t in trades}  # the last price of each
        position_rows = [r.to_json() for r in ledger.positions(marks=marks)]
        pnl_rows = [r.to_json() for r in ledger.pnl(by="tag:strategy")]
        url = redact(ledger.url)
    counts = ", ".join(f"{n} {k}" for k, n in report.counts.items() if n)
    say(f"Simulated session (seed {seed}) → {url}")
    say(f"{report.lines} messages: {counts}; {report.events} events recorded\n")
    # The open orders at 160 columns: no anomalies (the summary below names them) nor last change
    table(
        f"open orders ({len(open_rows)})",
        [c for c in ORDER_COLUMNS if c.name not in ("anomalies", "updated")],
        open_rows[:12],
    )
    recent = fills[-10:]
    short = [c for c in TRADE_COLUMNS if c.name not in ("fee_currency", "late")]
    short[0] = Column("ts_event", lambda r: r["ts_event"][11:23], keep=8)
    table(f"recent fills (last {len(recent)} of {len(fills)})", short, recent)
    by_status: dict[str, int] = {}
    for row in all_rows:
        by_status[row["status"]] = by_status.get(row["status"], 0) + 1
    say("order states: " + ", ".join(f"{n} {s}" for s, n in sorted(by_status.items())))
    flagged = [r for r in all_rows if r["anomalies"]]
    for row in flagged:
        say(f"  anomaly on {row['client_order_id']}: {', '.join(row['anomalies'])} (status {row['status']})")
    say()
    positions_table(position_rows)
    pnl_table(pnl_rows, "tag:strategy")
    example = (flagged or all_rows)[0]["client_order_id"] if all_rows else "ID"
    db_option = "" if state.url is None else f"--db {state.url} "
    say(f"\nInspect one order's history:  orderledger {db_option}history {example}")


def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on (non-loopback needs tokens).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (1-65535).")] = 8400,
    tokens: Annotated[
        str | None,
        typer.Option(
            "--tokens",
            help="File of '[NAME=]ROLES TOKEN' lines (else $ORDERLEDGER_TOKENS[_FILE]; docs/http.md).",
            metavar="FILE",
        ),
    ] = None,
    max_body: Annotated[int, typer.Option("--max-body", help="Largest request body in bytes.")] = 8
    * 1024
    * 1024,
    allow_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-origin",
            help="A web origin (scheme://host[:port]) besides the server's own whose pages may write;"
            " repeatable.",
            metavar="ORIGIN",
        ),
    ] = None,
    expensive_reads: Annotated[
        int | None,
        typer.Option(
            "--expensive-reads",
            help="Whole-log reads (verify, as_of) run at once; one more is 503. Default: half the cores.",
        ),
    ] = None,
    expensive_seconds: Annotated[
        float,
        typer.Option(
            "--expensive-seconds", help="Seconds a whole-log read's answer is waited for, then 503."
        ),
    ] = 300.0,
    list_reads: Annotated[
        int,
        typer.Option("--list-reads", help="List reads (/events, /orders, …) run at once; one more is 503."),
    ] = 4,
    list_reads_per_client: Annotated[
        int,
        typer.Option(
            "--list-reads-per-client",
            help="List reads run at once per token and per address; one more is 429.",
        ),
    ] = 2,
    list_seconds: Annotated[
        float, typer.Option("--list-seconds", help="Seconds a list read's answer is waited for, then 503.")
    ] = 30.0,
    streams: Annotated[
        int, typer.Option("--streams", help="/risk/stream clients served at once; one more is 503.")
    ] = 256,
    streams_per_client: Annotated[
        int,
        typer.Option(
            "--streams-per-client",
            help="/risk/stream clients at once per token and per address; one more is 429.",
        ),
    ] = 32,
) -> None:
    """Serve the HTTP API and the operator's page (docs/http.md) until interrupted."""
    # Start-up cost: FastAPI, uvicorn and the app load only for `serve`, not with every command.
    from orderledger.infrastructure.http.server import serve as run_server

    if max_body < 1:
        raise InvalidInputError("--max-body must be at least 1 byte")
    run_server(
        state.url,
        host=host,
        port=port,
        tokens_file=tokens,
        max_body=max_body,
        allowed_origins=allow_origin or (),
        expensive_seconds=expensive_seconds,
        lists=(list_reads, list_reads_per_client, list_seconds),
        streams=(streams, streams_per_client),
        **({} if expensive_reads is None else {"expensive_reads": expensive_reads}),
    )


db_app = typer.Typer(help="Database administration.", no_args_is_help=True)
"""``orderledger db``: the schema and role, the cost-basis rule, the cursor secret."""
db_app.command("init")(db_init)
db_app.command("cost-basis")(db_cost_basis)
db_app.command("rotate-cursor-secret")(db_rotate_cursor_secret)
