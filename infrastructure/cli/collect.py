"""``orderledger collect VENUE``: keep the ledger current from a live venue connection
(docs/collect.md). A thin shell: the options are read, the collector registry makes the source,
``AsyncOrderLedger.collect`` runs it, and the figures are rendered (a status line on a terminal,
JSON lines on stdout with ``--json``; on stderr a status line redrawn on a terminal, else one
line per interval and per change of state, so a service's log says what the collector does; with
``--metrics-port`` the same figures for Prometheus, ``cli/metrics.py``).
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
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Serve the status figures for Prometheus at http://HOST:PORT/metrics (1-65535)."),
    ] = None,
    metrics_host: Annotated[
        str, typer.Option(help="Address the metrics port listens on (non-loopback needs tokens).")
    ] = "127.0.0.1",
    tokens: Annotated[
        str | None,
        typer.Option(
            "--tokens",
            help="File of '[NAME=]ROLES TOKEN' lines a scrape of the metrics port is checked against"
            " (else $ORDERLEDGER_TOKENS[_FILE]).",
            metavar="FILE",
        ),
    ] = None,
) -> None:
    """Keep the ledger current from a venue: backfill, stream, reconnect, reconcile; until stopped."""
    spec = collector_for(venue)
    credentials = Credentials.load(venue, spec.credentials, path=credentials_file)
    _, config = configure(
        venue, account=account, endpoint=endpoint, options=_options(option or []), credentials=credentials
    )
    options = {
        "reconcile_every": seconds(reconcile_every, "--reconcile-every", 0, 86400 * 7) or None,
        "status_every": seconds(status_every, "--status-every", 0, 3600, above=True),
        "since": moment(since, "--since"),
    }
    # An optional dependency (aiohttp and prometheus-client, the collect extra), for `collect` only.
    from orderledger.infrastructure.cli import metrics

    # Bound before anything runs: a port taken is one line, nothing collected.
    scraped = None if metrics_port is None else metrics.metrics_socket(metrics_host, metrics_port, tokens)
    shown = Shown(config.venue, account, json_lines)

    async def run() -> None:
        runner = None
        if scraped is not None:
            runner = await metrics.serve_metrics(*scraped, shown.published)
            sys.stderr.write(metrics.listening(*scraped) + "\n")
            sys.stderr.flush()
        try:
            await _collecting(spec.factory(config), shown, options)
        finally:
            if runner is not None:
                await runner.cleanup()

    asyncio.run(run())


class Shown:
    """Where the figures go: a JSON line on stdout (``--json``), a status line on stderr (redrawn
    on a terminal), and the last ones kept for the metrics port."""

    def __init__(self, venue: str, account: str | None, json_lines: bool) -> None:
        self.venue, self.account = venue, account
        self.prefix = f"collect {venue}" + ("" if account is None else f" {account}") + ": "
        self.json_lines = json_lines
        self.terminal = sys.stderr.isatty()
        self.last: dict[str, Any] | None = None
        self.source: Any = None  # (the metrics are labelled as its lease is: its venue and account)

    def __call__(self, figures: dict[str, Any]) -> None:
        self.last = figures
        if self.json_lines:
            sys.stdout.write(json.dumps({"venue": self.venue, "account": self.account, **figures}) + "\n")
            sys.stdout.flush()
        if figures["state"] == "stopped":
            return  # said once the run has ended: after a failure its one line says it instead
        self.said(figures)

    def said(self, figures: dict[str, Any]) -> None:
        line = self.prefix + status_line(figures)
        sys.stderr.write("\r\x1b[K" + line if self.terminal else line + "\n")
        sys.stderr.flush()

    def published(self) -> list[tuple[str, str | None, dict[str, Any]]]:
        """The last figures as the metrics port shows them: (venue, account, figures) as the
        collector's lease names it (none before the first)."""
        if self.last is None or self.source is None:
            return []
        return [(self.source.venue, self.source.account, self.last)]


async def _collecting(source: Any, shown: Shown, options: dict[str, Any]) -> None:
    """Run the collector until SIGINT or SIGTERM (then say its last figures) or a permanent fault."""
    # Start-up cost: the asyncio ledger loads only for `collect`, not with every command.
    from orderledger.infrastructure.application.aio import AsyncOrderLedger

    shown.source = source
    async with AsyncOrderLedger(state.url) as ledger:
        task = asyncio.ensure_future(ledger.collect(source, on_status=shown, **options))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if shown.last is not None:
                shown.said(shown.last)  # stopped: the last figures
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            if shown.terminal:
                sys.stderr.write("\n")


__all__ = ["collect"]
