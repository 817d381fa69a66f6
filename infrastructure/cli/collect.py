"""``orderledger collect VENUE``: keep the ledger current from a live venue connection
(docs/collect.md). A thin shell: the options are read, the collector registry makes the source,
``AsyncOrderLedger.collect`` runs it, and the figures are rendered (a status line on a terminal,
JSON lines on stdout with ``--json``; on stderr a status line redrawn on a terminal, else one
line per interval and per change of state, so a service's log says what the collector does).
SIGINT and SIGTERM stop it: what arrived is committed, the last figures said, exit 0."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from typing import Annotated, Any

import typer

from orderledger.infrastructure.cli.app import moment, seconds, state
from orderledger.infrastructure.collect.credentials import Credentials
from orderledger.infrastructure.collect.registry import (
    COLLECTORS,
    collector_for,
    configure,
    option_help,
    registry_help,
)
from orderledger.infrastructure.collect.status import status_line
from orderledger.infrastructure.errors import ConfigurationError


def _options(given: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in given:
        name, equals, value = item.partition("=")
        if not equals or not name:
            raise ConfigurationError(f"--option takes NAME=VALUE, not {item!r}")
        out[name.strip()] = value
    return out


def collect(
    venue: Annotated[str, typer.Argument(help=f"The venue: {registry_help()}", metavar="VENUE")],
    account: Annotated[str | None, typer.Option(help="The account at the venue.")] = None,
    endpoint: Annotated[
        str | None,
        typer.Option(help="mainnet (default), testnet/sandbox by name, or any URL.", metavar="NAME|URL"),
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option",
            "-o",
            help=f"A venue option, NAME=VALUE; repeatable ({option_help()}).",
            metavar="NAME=VALUE",
        ),
    ] = None,
    credentials_file: Annotated[
        str | None,
        typer.Option(
            "--credentials-file",
            help="NAME=VALUE lines or a JSON object, readable by its owner only"
            " (else ORDERLEDGER_<VENUE>_<NAME> variables).",
            metavar="PATH",
        ),
    ] = None,
    json_lines: Annotated[
        bool, typer.Option("--json", help="A JSON line of status figures on stdout per interval.")
    ] = False,
    reconcile_every: Annotated[
        float, typer.Option(help="Seconds between reconciliations of open orders (0: on start only).")
    ] = 300.0,
    status_every: Annotated[float, typer.Option(help="Seconds between status figures.")] = 1.0,
    since: Annotated[
        str | None,
        typer.Option(
            help="A first start (nothing booked yet for the venue and account) backfills from this"
            " ISO 8601 time, instead of the venue's default.",
            metavar="TIME",
        ),
    ] = None,
) -> None:
    """Keep the ledger current from a venue: backfill, stream, reconnect, reconcile; until stopped."""
    spec = collector_for(venue)
    credentials = Credentials.load(venue, spec.credentials, path=credentials_file)
    _, config = configure(
        venue, account=account, endpoint=endpoint, options=_options(option or []), credentials=credentials
    )
    every = seconds(reconcile_every, "--reconcile-every", 0, 86400 * 7)
    interval = seconds(status_every, "--status-every", 0, 3600, above=True)
    first = moment(since, "--since")
    terminal = sys.stderr.isatty()
    prefix = f"collect {config.venue}" + ("" if account is None else f" {account}") + ": "
    last: list[dict[str, Any]] = []

    def shown(figures: dict[str, Any]) -> None:
        last[:] = [figures]
        if json_lines:
            sys.stdout.write(json.dumps({"venue": config.venue, "account": account, **figures}) + "\n")
            sys.stdout.flush()
        if figures["state"] == "stopped":
            return  # said once the run has ended: after a failure its one line says it instead
        said(figures)

    def said(figures: dict[str, Any]) -> None:
        line = prefix + status_line(figures)
        sys.stderr.write("\r\x1b[K" + line if terminal else line + "\n")
        sys.stderr.flush()

    # Start-up cost: the asyncio ledger loads only for `collect`, not with every command.
    from orderledger.infrastructure.application.aio import AsyncOrderLedger

    async def run() -> None:
        async with AsyncOrderLedger(state.url) as ledger:
            source = spec.factory(config)
            task = asyncio.ensure_future(
                ledger.collect(
                    source, reconcile_every=every or None, status_every=interval, on_status=shown, since=first
                )
            )
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, task.cancel)
            try:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                if last:
                    said(last[0])  # stopped: the last figures
            finally:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(sig)
                if terminal:
                    sys.stderr.write("\n")

    asyncio.run(run())


__all__ = ["COLLECTORS", "collect"]
