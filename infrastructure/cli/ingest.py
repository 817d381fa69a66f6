"""Recording commands: ``ingest`` (messages and venue payloads) and ``instruments load``
(``simulate``, a session to ingest, is ``cli.simulate``)."""

from __future__ import annotations

import functools
import inspect
import json
import sys
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any, Literal

import typer

from orderledger.domain.errors import InvalidInputError
from orderledger.infrastructure.adapters.venue_registry import formats
from orderledger.infrastructure.application.requests import IngestStream, LoadCcxtMarkets
from orderledger.infrastructure.application.writes.recording import result_record
from orderledger.infrastructure.cli.app import Interrupted, moment, open_input, open_ledger, option_name
from orderledger.infrastructure.cli.render import say, warn
from orderledger.infrastructure.errors import DatabaseReplacedError, MessageError, StoreError
from orderledger.infrastructure.ingest.formats import adapter_options, check_options, needing
from orderledger.infrastructure.ingest.inbound import Result
from orderledger.infrastructure.ingest.inputs import is_live, read_lines


def venue_options(command: Callable[..., None]) -> Callable[..., None]:
    """``command`` with an option for each option a format declares (``adapters.declared``),
    made from the venue registry as it stands: ``--quantity-scale DIGITS`` for FIX's
    ``quantity_scale``, its help the declaration's, prefixed by the formats that take it. The
    command receives them by name in its ``**options``."""
    signature = inspect.signature(command, eval_str=True)  # the help texts read the registry now
    kept = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    added = []
    for name, declared in adapter_options().items():
        first = declared[0][1]
        said = "; ".join(f"{fmt}: {option.help}" for fmt, option in declared)
        help_text = said + "."
        info = typer.Option(
            option_name(name), min=first.minimum, metavar=first.metavar, help=help_text, show_default=False
        )
        # Choices are a Literal: the command refuses any other value in one line.
        kind: Any = Literal.__getitem__(first.choices) if first.choices else first.type
        added.append(
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[kind | None, info]
            )
        )

    @functools.wraps(command)
    def with_options(*args: Any, **kwargs: Any) -> None:
        command(*args, **kwargs)

    with_options.__signature__ = signature.replace(parameters=[*kept, *added])  # type: ignore[attr-defined]
    return with_options


def __getattr__(name: str) -> Any:
    """``ingest``: the command with the options of the formats registered when it is asked for
    (``cli.app`` asks each time it builds the command line)."""
    if name == "ingest":
        return venue_options(_ingest)
    raise AttributeError(name)


def _format_help() -> str:
    return "; ".join(f"{f.name}: {f.reads}" for f in formats().values()) + "."


def _ingest(
    file: Annotated[str, typer.Argument(help="JSON-lines file, or - for standard input.")],
    strict: Annotated[bool, typer.Option("--strict", help="Store nothing if any line is rejected.")] = False,
    no_project: Annotated[
        bool, typer.Option("--no-project", help="Leave the views to a separate `project --follow` worker.")
    ] = False,
    fmt: Annotated[
        str,
        typer.Option("--format", help=_format_help()),
    ] = "ledger",
    venue: Annotated[
        str | None, typer.Option(help=f"Venue name (needed by {needing('needs_venue')}).")
    ] = None,
    account: Annotated[
        str | None,
        typer.Option(help=f"Account (needed by {needing('needs_account')}; fix: else Account 1)."),
    ] = None,
    acks: Annotated[
        bool,
        typer.Option(
            "--acks",
            help="Print one JSON line per input line once it is durable, then a JSON summary.",
        ),
    ] = False,
    **options: Any,
) -> None:
    """Ingest messages; prints a count per outcome. Exit 1 if any line was rejected or denied.

    From a pipe or terminal, what has arrived is committed whenever the input pauses.
    """
    # Refused before the database is opened (the ledger checks the same again).
    check_options(fmt, venue, account, options, strict=strict)
    kept = _Kept()

    def committed(results: list[Result]) -> None:
        kept.add(results)
        if acks:
            _print_acks(results)

    with open_ledger() as ledger:
        ledger.project = not no_project
        stream = sys.stdin.buffer if file == "-" else open_input(file)
        try:
            asked = IngestStream(
                read_lines(stream, pauses=is_live(stream)),
                origin=file,
                strict=strict,
                on_batch=committed,
                format=fmt,
                venue=venue,
                account=account,
                options=tuple(options.items()),
            )
            report = ledger.handle(asked)
        except KeyboardInterrupt:
            raise Interrupted(kept.say("interrupted", strict), 130) from None
        except StoreError as error:
            if not kept.lines or isinstance(error, DatabaseReplacedError):
                raise  # (what was committed went with the file: nothing here is kept)
            raise Interrupted(kept.say(error.message, strict), 2) from None
        finally:
            if file != "-":
                stream.close()
    for result in report.rejected:
        where = f"line {result.line_no}" if result.line_no is not None else "input"
        warn(f"{where}: rejected: {result.reason}")
    for result in report.denied:
        where = f"line {result.line_no}" if result.line_no is not None else "input"
        warn(f"{where}: denied: {result.reason}")
    if not report.stored:
        warn("--strict: a line was rejected, so nothing from this input was stored")
    # Flagged: orders a venue reported that breach a limit or state (recorded, never refused).
    flagged = {"flagged": report.flagged} if report.flagged else {}
    counts = ", ".join(f"{n} {k}" for k, n in {**report.counts, **flagged}.items())
    rate = report.events / report.seconds if report.seconds else 0.0
    if acks:
        summary = {"lines": report.lines, "counts": report.counts, "events": report.events, **flagged}
        sys.stdout.write(json.dumps({"summary": {**summary, "seconds": round(report.seconds, 3)}}) + "\n")
    else:
        timing = f"{report.events} events in {report.seconds:.2f} s ({rate:,.0f} events/s)"
        say(f"{report.lines} lines: {counts}; {timing}")
    if report.rejected or report.denied:
        raise typer.Exit(1)


class _Kept:
    """What an ingest has committed so far (heard from each durable group commit)."""

    def __init__(self) -> None:
        self.lines = 0
        self.last: int | None = None

    def add(self, results: list[Result]) -> None:
        self.lines += len(results)
        numbers = [r.line_no for r in results if r.line_no is not None]
        if numbers:
            self.last = max(numbers)

    def say(self, why: str, strict: bool) -> str:
        if strict or not self.lines:
            kept = "nothing from this input was stored"
        else:
            upto = f" (up to line {self.last})" if self.last is not None else ""
            kept = f"{self.lines} lines{upto} were committed and are kept"
        return f"{why}: {kept}; re-running the same input is safe (stored lines come back as duplicates)"


def _print_acks(results: list[Result]) -> None:
    """One JSON line per input of a group commit that has just become durable."""
    for result in results:
        sys.stdout.write(json.dumps(result_record(result), ensure_ascii=False) + "\n")
    sys.stdout.flush()


def instruments_load(
    file: Annotated[str, typer.Argument(help="A markets dump (JSON), or - for standard input.")],
    fmt: Annotated[str, typer.Option("--format", help="ccxt: the JSON of exchange.load_markets().")],
    venue: Annotated[str, typer.Option(help="The venue these markets are at.")],
    ts: Annotated[
        str | None, typer.Option("--ts", help="When the definitions were in force (default: now).")
    ] = None,
) -> None:
    """Record the definitions of a venue's markets; unchanged ones are duplicates. Exit 1 if
    any market was rejected."""
    if fmt != "ccxt":
        raise InvalidInputError(f"--format must be ccxt, not {fmt!r}")
    stream = sys.stdin.buffer if file == "-" else open_input(file)
    try:
        text = stream.read()
    finally:
        if file != "-":
            stream.close()
    try:
        # The whole dump is one JSON document; numbers are read exactly (never through float).
        markets = json.loads(text, parse_float=Decimal)
    except ValueError as error:
        raise MessageError(f"{file}: not JSON: {str(error).splitlines()[0][:200]}") from None
    with open_ledger() as ledger:
        report = ledger.handle(LoadCcxtMarkets(markets, venue, moment(ts, "--ts"), origin=file))
    for result in report.rejected:
        warn(f"market {result.line_no}: rejected: {result.reason}")
    counts = ", ".join(f"{n} {k}" for k, n in report.counts.items())
    say(f"{report.lines} markets: {counts}; {report.events} definitions recorded")
    if report.rejected:
        raise typer.Exit(1)


__all__ = ["instruments_load", "venue_options"]
