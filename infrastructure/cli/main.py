"""The ``orderledger`` command: record facts, ask questions, keep views current.

Every failure prints one line to stderr and exits non-zero; no traceback reaches a user
(set ORDERLEDGER_DEBUG=1 to see one).
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from orderledger.domain.errors import InvalidInputError, LedgerError
from orderledger.domain.values import format_timestamp, parse_timestamp
from orderledger.infrastructure.application.ledger import ADAPTER_FORMATS, URL_VARIABLE, OrderLedger
from orderledger.infrastructure.application.queries import (
    iter_orders,
    iter_trades,
    list_orders,
    list_positions,
    list_trades,
    parse_marks,
    pnl_by,
)
from orderledger.infrastructure.cli.render import Column, col, pairs, table, visible
from orderledger.infrastructure.errors import DatabaseLockedError, StoreError
from orderledger.infrastructure.ingest.inputs import is_live, read_lines
from orderledger.infrastructure.storage.db import DEFAULT_URL, redact

app = typer.Typer(
    name="orderledger",
    help="An event-sourced order ledger: every fact immutable, every view rebuildable.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help: rich's help panels print a metavar such as <bool> after every flag.
    rich_markup_mode=None,
)
out = Console(highlight=False, soft_wrap=True, markup=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


def say(text: str = "") -> None:
    """One or more lines for people on stdout; stored text in them is shown safely."""
    sys.stdout.write("\n".join(visible(line) for line in text.split("\n")) + "\n")


def warn(text: str) -> None:
    """One line on stderr, shown safely."""
    sys.stderr.write(visible(text) + "\n")
    sys.stderr.flush()


class _State:
    url: str | None = None


state = _State()


@app.callback()
def _global(
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help=f"Database URL: sqlite:///PATH, memory:// or postgresql://… "
            f"(default ${URL_VARIABLE}, else {DEFAULT_URL}).",
            metavar="URL",
        ),
    ] = None,
) -> None:
    """Global options (given before or after the subcommand)."""
    state.url = db


@contextmanager
def _ledger(create: bool = True) -> Iterator[OrderLedger]:
    """The ledger at --db. ``create=False`` (read-only commands): an existing ledger or an error,
    never a new file, schema or tables."""
    ledger = OrderLedger(state.url, create=create)
    try:
        yield ledger
    finally:
        ledger.close()


def _json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _json_array(rows: Iterable[Any]) -> None:
    """A JSON array written row by row (the same text as ``_json(list(rows))``)."""
    write = sys.stdout.write
    first = True
    for row in rows:
        text = json.dumps(row, indent=2, ensure_ascii=False).replace("\n", "\n  ")
        write(("[\n  " if first else ",\n  ") + text)
        first = False
    write("[]\n" if first else "\n]\n")


def _json_lines(rows: Iterable[Any]) -> int:
    count = 0
    for row in rows:
        sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count


def _time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    return parse_timestamp(value, option)


def _ts_text(value: str | None, option: str) -> str | None:
    moment = _time(value, option)
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _range(since: str | None, until: str | None, what: str = "") -> tuple[str | None, str | None]:
    """--since/--until as stored text (UTC, fixed width); an empty range is refused."""
    low, high = _time(since, "--since"), _time(until, "--until")
    if low is not None and high is not None and low > high:
        raise InvalidInputError(f"--since {since} is after --until {until}: nothing {what}could match")
    return (
        None if low is None else format_timestamp(low),
        None if high is None else format_timestamp(high),
    )


def _newest(sort: str, default: str) -> bool:
    chosen = sort or default
    if chosen not in ("newest", "oldest"):
        raise InvalidInputError(f"--sort must be newest or oldest, not {sort!r}", field="sort")
    return chosen == "newest"


def _seconds(value: float, option: str, low: float, high: float, *, above: bool = False) -> float:
    """A finite number of seconds within bounds (NaN and infinities are refused)."""
    if not math.isfinite(value) or value < low or value > high or (above and value == low):
        bound = f"more than {low:g}" if above else f"from {low:g}"
        raise InvalidInputError(f"{option} must be a number of seconds {bound} to {high:g}, not {value!r}")
    return value


_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)([smhd]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(text: str, option: str) -> timedelta:
    """``90``, ``30s``, ``10m``, ``2h`` or ``1d``, at most 366 days."""
    found = _DURATION.fullmatch(text.strip())
    seconds = float(found[1]) * _UNITS[found[2]] if found else -1.0
    if not 0 <= seconds <= 366 * 86400:
        raise InvalidInputError(f"{option} takes a duration such as 30s, 10m, 2h or 1d, not {text!r}")
    return timedelta(seconds=seconds)


def _table(title: str, columns: list[str], rows: list[list[Any]], wrap: tuple[str, ...] = ()) -> None:
    """A small table of text columns (rows given as lists in column order).

    Columns named in ``wrap`` are free text: wrapped to fit and kept over the others, which are
    dropped first (a reconciliation report without its ``detail`` says nothing).
    """
    table(
        title,
        [
            Column(name, _item(i), "wrap", keep=8) if name in wrap else Column(name, _item(i))
            for i, name in enumerate(columns)
        ],
        rows,
    )


def _item(index: int) -> Any:
    return lambda row: row[index]


# Options several commands share (declared once).
LimitOption = Annotated[int | None, typer.Option("--limit", min=1, max=10**9, help="Show at most this many.")]


# ---------------------------------------------------------------------- recording


@app.command()
def ingest(
    file: Annotated[str, typer.Argument(help="JSON-lines file, or - for standard input.")],
    strict: Annotated[bool, typer.Option("--strict", help="Store nothing if any line is rejected.")] = False,
    no_project: Annotated[
        bool, typer.Option("--no-project", help="Leave the views to a separate `project --follow` worker.")
    ] = False,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="ledger (JSON lines), ccxt (unified structures), fix (execution reports),"
            " hyperliquid, tradier, or snapshots (open-orders snapshots, reconciled one after another).",
        ),
    ] = "ledger",
    venue: Annotated[str | None, typer.Option(help="Venue name for --format ccxt|fix.")] = None,
    account: Annotated[str | None, typer.Option(help="Account for --format ccxt (and fix requests).")] = None,
    acks: Annotated[
        bool,
        typer.Option(
            "--acks",
            help="Print one JSON line per input line once it is durable, then a JSON summary.",
        ),
    ] = False,
) -> None:
    """Ingest messages; prints a count per outcome. Exit 1 if any line was rejected.

    From a pipe or terminal, what has arrived is committed whenever the input pauses.
    """
    if fmt not in ("ledger", *ADAPTER_FORMATS):
        raise InvalidInputError(
            f"--format must be ledger or one of {', '.join(ADAPTER_FORMATS)}, not {fmt!r}"
        )
    if fmt not in ("ledger", "snapshots") and not venue:
        raise InvalidInputError(f"--format {fmt} needs --venue (the adapter cannot tell which venue sent it)")
    if fmt in ("ccxt", "hyperliquid", "tradier") and not account:
        raise InvalidInputError(f"--format {fmt} needs --account (its payloads do not carry one)")
    kept = _Kept()

    def committed(results: list[Any]) -> None:
        kept.add(results)
        if acks:
            _print_acks(results)

    with _ledger() as ledger:
        ledger.project = not no_project
        stream = sys.stdin.buffer if file == "-" else _open(file)
        try:
            report = ledger.ingest_lines(
                read_lines(stream, pauses=is_live(stream)),
                origin=file,
                strict=strict,
                fmt=fmt,
                venue=venue,
                account=account,
                on_batch=committed,
            )
        except KeyboardInterrupt:
            raise _Interrupted(kept.say("interrupted", strict), 130) from None
        except StoreError as error:
            if not kept.lines:
                raise
            raise _Interrupted(kept.say(error.message, strict), 2) from None
        finally:
            if file != "-":
                stream.close()
    for result in report.rejected:
        where = f"line {result.line_no}" if result.line_no is not None else "input"
        warn(f"{where}: rejected: {result.reason}")
    if strict and not report.stored:
        # Report what the ledger holds from this input (nothing), not the rolled-back decisions.
        rejected = len(report.rejected)
        report.counts = dict.fromkeys(report.counts, 0)
        report.counts["rejected"] = rejected
        report.counts["not stored"] = report.lines - rejected
        report.events = 0
        warn("--strict: a line was rejected, so nothing from this input was stored")
    counts = ", ".join(f"{n} {k}" for k, n in report.counts.items())
    rate = report.events / report.seconds if report.seconds else 0.0
    if acks:
        summary = {"lines": report.lines, "counts": report.counts, "events": report.events}
        sys.stdout.write(json.dumps({"summary": {**summary, "seconds": round(report.seconds, 3)}}) + "\n")
    else:
        timing = f"{report.events} events in {report.seconds:.2f} s ({rate:,.0f} events/s)"
        say(f"{report.lines} lines: {counts}; {timing}")
    if report.rejected:
        raise typer.Exit(1)


class _Interrupted(Exception):
    """Ingest stopped part-way: the one line to print, and the exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class _Kept:
    """What an ingest has committed so far (heard from each durable group commit)."""

    def __init__(self) -> None:
        self.lines = 0
        self.last: int | None = None

    def add(self, results: list[Any]) -> None:
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


def _print_acks(results: list[Any]) -> None:
    """One JSON line per input of a group commit that has just become durable."""
    for r in results:
        ack = {
            "line": r.line_no,
            "outcome": r.outcome,
            "message_id": r.message_id,
            "client_order_id": r.client_order_id,
            "events": len(r.events),
            "reason": r.reason,
        }
        sys.stdout.write(json.dumps(ack, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _open(path: str) -> Any:
    try:
        return open(path, "rb")
    except OSError as error:
        raise InvalidInputError(f"cannot read {path!r}: {error.strerror}") from None


# ---------------------------------------------------------------------- one order


def _order_table(data: dict[str, Any]) -> None:
    rows = []
    for key, value in data.items():
        if isinstance(value, list | dict):
            value = json.dumps(value, ensure_ascii=False) if value else ""
        rows.append((key, value))
    table(None, [Column("field", lambda r: r[0]), Column("value", lambda r: r[1], "wrap")], rows)


@app.command()
def order(
    order_id: Annotated[
        str,
        typer.Argument(metavar="ID", help="Client order ID, venue order ID or NAME=VALUE alias."),
    ],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="State as known at this time (ISO 8601 with Z).")
    ] = None,
    event_time: Annotated[bool, typer.Option("--event-time", help="Read --as-of as venue time.")] = False,
    version: Annotated[
        int | None, typer.Option("--version", min=1, max=2**62, help="State at this event version.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one order's state now, at a version, or as of a time."""
    if version is not None and as_of is not None:
        raise InvalidInputError("give --version or --as-of, not both")
    with _ledger(create=False) as ledger:
        client_order_id = ledger.resolve(order_id)
        moment = _time(as_of, "--as-of")
        if moment is not None:
            found = ledger.order_as_of(client_order_id, moment, event_time=event_time)
        else:
            found = ledger.get_order(client_order_id, version=version)
        data = found.snapshot()
    if as_json:
        _json(data)
    else:
        _order_table(data)


@app.command()
def history(
    order_id: Annotated[
        str,
        typer.Argument(metavar="ID", help="Client order ID, venue order ID or NAME=VALUE alias."),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every event of one order, with the message that produced it."""
    with _ledger(create=False) as ledger:
        entries = ledger.history(ledger.resolve(order_id))
    rows = []
    for entry in entries:
        payload = entry.event.model_dump(
            mode="json",
            exclude={
                "originator_id",
                "originator_version",
                "ts_event",
                "ts_recorded",
                "source",
                "client_order_id",
                "account",
                "venue",
                "instrument",
            },
            exclude_none=True,
        )
        rows.append(
            {
                "version": entry.event.originator_version,
                "position": entry.position,
                "type": entry.event.type_name(),
                "ts_event": entry.event.model_dump(mode="json")["ts_event"],
                "ts_recorded": entry.event.model_dump(mode="json")["ts_recorded"],
                "source": entry.event.source,
                "payload": payload,
                "message": None
                if entry.message_id is None
                else {
                    "message_id": entry.message_id,
                    "origin": entry.message_origin,
                    "line": entry.message_line,
                    "raw": (entry.message_raw or b"").decode("utf-8", "replace"),
                },
            }
        )
    if as_json:
        _json(rows)
        return
    table(
        f"history of {entries[0].event.client_order_id}",
        [
            col("v", "number", 9, key="version"),
            col("type", keep=9),
            col("ts_event", keep=6),
            col("ts_recorded", keep=3),
            col("source", keep=2),
            Column("message", _message_ref, "wrap", keep=4),
            Column(
                "payload",
                lambda r: json.dumps(r["payload"], ensure_ascii=False) if r["payload"] else "",
                "wrap",
                keep=8,
            ),
        ],
        rows,
    )


def _message_ref(row: dict[str, Any]) -> str:
    message = row["message"]
    return "" if message is None else f"#{message['message_id']} {message['origin']}:{message['line'] or ''}"


# ---------------------------------------------------------------------- views


ORDER_COLUMNS = [
    col("client_order_id", keep=9),
    col("account", keep=6),
    col("venue", keep=5),
    col("instrument", keep=8),
    col("side", keep=8),
    col("quantity", "number", 8),
    col("price", "number", 7),
    col("status", keep=9),
    col("filled_quantity", "number", 7),
    col("average_price", "number", 4),
    Column("anomalies", lambda r: ", ".join(r["anomalies"]), "wrap", 3),
]


@app.command()
def orders(
    open_only: Annotated[bool, typer.Option("--open", help="Only open orders.")] = False,
    account: Annotated[str | None, typer.Option(help="Only this account.")] = None,
    venue: Annotated[str | None, typer.Option(help="Only this venue.")] = None,
    instrument: Annotated[str | None, typer.Option(help="Only this instrument.")] = None,
    parent: Annotated[str | None, typer.Option(help="Only the children of this parent (parent_id).")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="As the ledger knew them at this time.")
    ] = None,
    event_time: Annotated[bool, typer.Option("--event-time", help="Read --as-of as venue time.")] = False,
    since: Annotated[str | None, typer.Option(help="Created at or after this venue time.")] = None,
    until: Annotated[str | None, typer.Option(help="Created at or before this venue time.")] = None,
    sort: Annotated[str, typer.Option(help="oldest (default) or newest first, by creation.")] = "",
    limit: LimitOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List orders as they stand (from the orders view), or as of a time (folded from the log)."""
    low, high = _range(since, until)
    newest = _newest(sort, "oldest")
    moment = _time(as_of, "--as-of")
    with _ledger(create=False) as ledger:
        if moment is None:
            rows: Iterable[dict[str, Any]] = iter_orders(
                ledger.db,
                open_only=open_only,
                account=account,
                venue=venue,
                instrument=instrument,
                parent=parent,
                since=low,
                until=high,
                newest=newest,
            )
        else:
            from orderledger.infrastructure.audit.search import orders_as_of

            picked = [
                r
                for r in orders_as_of(
                    ledger.db, ledger.mapper, moment, event_time=event_time, open_only=open_only
                )
                if (account is None or r["account"] == account)
                and (venue is None or r["venue"] == venue)
                and (instrument is None or r["instrument"] == instrument)
                and (parent is None or r["parent_id"] == parent)
                and (low is None or r["created_at"] >= low)
                and (high is None or r["created_at"] <= high)
            ]
            rows = reversed(picked) if newest else picked
        _show(rows, limit, as_json, f"{'open ' if open_only else ''}orders", ORDER_COLUMNS)


def _show(
    rows: Iterable[dict[str, Any]], limit: int | None, as_json: bool, what: str, columns: list[Column]
) -> None:
    """A query's rows as a JSON array or a table, streamed (never all held at once)."""
    from itertools import islice

    if limit is not None:
        rows = islice(rows, limit)
    if as_json:
        _json_array(rows)
        return
    count = table(what, columns, rows)
    say(f"{count} {what}")
    _limited(count, limit, what)


def _limited(count: int, limit: int | None, what: str) -> None:
    """Say on stderr when --limit cut a table short (more rows may match)."""
    if limit is not None and count == limit:
        warn(f"showing the first {count} {what} (--limit {limit}); --sort, --since/--until choose which")


TRADE_COLUMNS = [
    col("ts_event", keep=8),
    col("account", keep=6),
    col("venue", keep=5),
    col("instrument", keep=8),
    col("side", keep=8),
    col("client_order_id", keep=7),
    col("trade_id", keep=6),
    col("quantity", "number", 9),
    col("price", "number", 9),
    col("fee", "number", 4),
    col("fee_currency", keep=3),
    Column("late", lambda r: "late" if r["late"] else "", keep=2),
]


@app.command()
def trades(
    account: Annotated[str | None, typer.Option(help="Only this account.")] = None,
    venue: Annotated[str | None, typer.Option(help="Only this venue.")] = None,
    instrument: Annotated[str | None, typer.Option(help="Only this instrument.")] = None,
    order_id: Annotated[str | None, typer.Option("--order", help="Only this order's trades.")] = None,
    parent: Annotated[str | None, typer.Option(help="Only the trades of this parent's orders.")] = None,
    since: Annotated[str | None, typer.Option(help="Venue time from (inclusive).")] = None,
    until: Annotated[str | None, typer.Option(help="Venue time until (inclusive).")] = None,
    sort: Annotated[str, typer.Option(help="oldest (default) or newest first, by venue time.")] = "",
    limit: LimitOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The trade blotter: one row per fill as it stands after busts and corrections."""
    low, high = _range(since, until)
    newest = _newest(sort, "oldest")
    with _ledger(create=False) as ledger:
        client_order_id = ledger.resolve(order_id) if order_id else None
        rows = iter_trades(
            ledger.db,
            account=account,
            venue=venue,
            instrument=instrument,
            client_order_id=client_order_id,
            parent=parent,
            since=low,
            until=high,
            newest=newest,
        )
        _show(rows, limit, as_json, "trades", TRADE_COLUMNS)


POSITION_COLUMNS = [
    col("account", keep=9),
    col("venue", keep=8),
    col("instrument", keep=9),
    col("quantity", "number", 9),
    col("average_price", "number", 7),
    col("realized_pnl", "number", places=4, keep=8),
    col("realized_pnl_net", "number", places=4, keep=4),
    col("unrealized_pnl", "number", places=4, keep=6),
    Column("fees", lambda r: pairs(r["fees"]), keep=3),
]


def _positions_table(rows: list[dict[str, Any]]) -> None:
    table(f"positions ({len(rows)})", POSITION_COLUMNS, rows)


@app.command()
def positions(
    mark: Annotated[
        list[str] | None,
        typer.Option("--mark", help="INSTRUMENT=PRICE for unrealized P&L (repeatable)."),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="As they stood at this time (from the log).")
    ] = None,
    event_time: Annotated[bool, typer.Option("--event-time", help="Read --as-of as venue time.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Positions by average cost, with realized and unrealized P&L (now, or as of a time)."""
    marks = parse_marks(mark or [])
    moment = _time(as_of, "--as-of")
    with _ledger(create=False) as ledger:
        if moment is None:
            rows = list_positions(ledger.db, marks)
        else:
            from orderledger.infrastructure.application.queries import position_report
            from orderledger.infrastructure.audit.search import positions_as_of

            rows = [
                position_report(p, marks.get(p.instrument))
                for p in positions_as_of(ledger.db, ledger.mapper, moment, event_time=event_time)
            ]
    unknown = sorted(set(marks) - {r["instrument"] for r in rows})
    if unknown:
        held = ", ".join(sorted({r["instrument"] for r in rows})) or "none"
        raise InvalidInputError(
            f"--mark {unknown[0]}: no position in that instrument (held: {held})", field="mark"
        )
    if as_json:
        _json(rows)
    else:
        _positions_table(rows)


@app.command()
def pnl(
    by: Annotated[
        str, typer.Option("--by", help="day, account, venue, instrument, parent or tag:NAME.")
    ] = "day",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Realized P&L and fees, grouped."""
    with _ledger(create=False) as ledger:
        rows = pnl_by(ledger.db, by)
    if as_json:
        _json(rows)
        return
    _pnl_table(rows, by)


def _pnl_table(rows: list[dict[str, Any]], by: str) -> None:
    key = next(iter(rows[0])) if rows else by
    table(
        f"realized P&L by {by}",
        [
            col(key, keep=9),
            col("quote", keep=8, key="quote_currency"),
            col("realized_pnl", "number", places=4, keep=9),
            col("realized_pnl_net", "number", places=4, keep=6),
            Column("fees", lambda r: pairs(r["fees"]), keep=5),
            col("fills", "number", 7),
        ],
        rows,
    )


@app.command()
def project(
    follow: Annotated[
        bool, typer.Option("--follow", help="Keep polling for new events until interrupted.")
    ] = False,
    interval: Annotated[float, typer.Option(help="Seconds between polls when following.")] = 0.5,
) -> None:
    """Bring every view up to date with the log (once, or continuously with --follow)."""
    _seconds(interval, "--interval", 0, 3600, above=True)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with _ledger() as ledger:
        total = 0
        while True:
            try:
                stats = ledger.catch_up()
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
                out.print(
                    f"applied {stats.applied} events; views at {max(ledger.views.positions().values())}",
                    markup=False,
                )
            if not follow or stop.wait(interval):
                break
    out.print(f"views current: {total} events applied", markup=False)


@app.command()
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
    with _ledger() as ledger:
        known = list(ledger.views.by_name)
        if all_views:
            names = known
        elif name in known:
            names = [name]
        else:
            raise InvalidInputError(f"name a view ({', '.join(known)}) or give --all")
        total = ledger.ledger_recorder.max_notification_id() or 0
        columns = [
            TextColumn("rebuilding " + ", ".join(names)),
            BarColumn(),
            TextColumn("{task.completed:,}/{task.total:,} events"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        ]
        # The bar is for people at a terminal; in a pipe or a log it would only add noise.
        with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as progress:
            task = progress.add_task("rebuild", total=total, rate="")

            def advance(n: int) -> None:
                progress.advance(task, n)
                elapsed = progress.tasks[0].elapsed or 0
                done = progress.tasks[0].completed
                progress.update(task, rate=f"{done / elapsed:,.0f} events/s" if elapsed else "")

            events, seconds = ledger.views.rebuild(names, progress=advance, jobs=jobs)
    rate = events / seconds if seconds else 0.0
    out.print(
        f"rebuilt {', '.join(names)}: {events} events in {seconds:.2f} s ({rate:,.0f} events/s)",
        markup=False,
    )


# ---------------------------------------------------------------------- audit


MESSAGE_COLUMNS = [
    col("id", "number", 9, key="message_id"),
    col("received_at", keep=6),
    Column("origin:line", lambda r: f"{r['origin']}:{r['line'] or ''}", keep=5),
    col("outcome", keep=9),
    col("order", keep=7, key="client_order_id"),
    col("events", "number", 2),
    col("reason", "wrap", 8),
    Column("raw", lambda r: r["raw"][:120], "wrap", 4),
]


@app.command()
def messages(
    outcome: Annotated[
        str | None, typer.Option(help="applied, duplicate, parked, ignored or rejected.")
    ] = None,
    parked: Annotated[bool, typer.Option("--parked", help="Only messages still parked.")] = False,
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            metavar="DURATION",
            help="With --parked: only those received longer ago than this (30s, 10m, 2h, 1d);"
            " exit 1 when there are any (for monitoring).",
        ),
    ] = None,
    since: Annotated[str | None, typer.Option(help="Received at or after this time.")] = None,
    until: Annotated[str | None, typer.Option(help="Received at or before this time.")] = None,
    sort: Annotated[
        str, typer.Option(help="newest first (default for the table) or oldest (default for --json).")
    ] = "",
    limit: LimitOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines, one message per line.")] = False,
) -> None:
    """The message journal: every inbound message verbatim, with its outcome."""
    from orderledger.infrastructure.audit.search import list_messages

    if parked:
        if outcome not in (None, "parked"):
            raise InvalidInputError(
                f"--parked lists parked messages; it cannot be combined with --outcome {outcome}"
            )
        outcome = "parked"
    if older_than is not None and not parked:
        raise InvalidInputError("--older-than goes with --parked (messages parked for too long)")
    low, high = _range(since, until)
    if older_than is not None:
        cutoff = format_timestamp(datetime.now(UTC) - _duration(older_than, "--older-than"))
        high = cutoff if high is None else min(high, cutoff)
    # People read the latest first; a JSON-lines stream keeps the journal's arrival order.
    newest = _newest(sort, "oldest" if as_json else "newest")
    with _ledger(create=False) as ledger:
        rows = list_messages(
            ledger.db,
            outcome=outcome,
            since=None if low is None else parse_timestamp(low),
            until=None if high is None else parse_timestamp(high),
            limit=limit,
            newest=newest,
        )
        if as_json:
            count = _json_lines(rows)
        else:
            count = table("messages", MESSAGE_COLUMNS, rows)
            say(f"{count} messages")
            _limited(count, limit, "messages")
    if older_than is not None and count:
        raise typer.Exit(1)


@app.command()
def events(
    event_type: Annotated[
        list[str] | None, typer.Option("--type", help="Event type, e.g. OrderFilled (repeatable).")
    ] = None,
    account: Annotated[str | None, typer.Option(help="Only this account.")] = None,
    venue: Annotated[str | None, typer.Option(help="Only this venue.")] = None,
    instrument: Annotated[str | None, typer.Option(help="Only this instrument.")] = None,
    order_id: Annotated[str | None, typer.Option("--order", help="Only this order's events.")] = None,
    since: Annotated[str | None, typer.Option(help="Recorded at or after this time.")] = None,
    until: Annotated[str | None, typer.Option(help="Recorded at or before this time.")] = None,
    event_time: Annotated[
        bool, typer.Option("--event-time", help="Read --since/--until as venue time.")
    ] = False,
    sort: Annotated[str, typer.Option(help="oldest (log order, default) or newest first.")] = "",
    limit: LimitOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines, one event per line.")] = False,
) -> None:
    """Search the global log; results stream in log order."""
    from itertools import islice

    from orderledger.infrastructure.audit.search import EventFilter, event_record, search_events

    low, high = _range(since, until)
    newest = _newest(sort, "oldest")
    with _ledger(create=False) as ledger:
        wanted = EventFilter(
            types=event_type or (),
            account=account,
            venue=venue,
            instrument=instrument,
            client_order_id=ledger.resolve(order_id) if order_id else None,
            since=None if low is None else parse_timestamp(low),
            until=None if high is None else parse_timestamp(high),
            event_time=event_time,
        )
        found = (
            event_record(p, e, m)
            for p, e, m in search_events(ledger.db, ledger.mapper, wanted, newest=newest)
        )
        rows = found if limit is None else islice(found, limit)
        if as_json:
            _json_lines(rows)
            return
        count = table(None, EVENT_COLUMNS, rows, header=False)
    warn(f"{count} events")
    _limited(count, limit, "events")


EVENT_COLUMNS = [
    col("position", "number", 9),
    col("ts_recorded", keep=6),
    col("type", keep=9),
    col("client_order_id", keep=8),
    Column("where", lambda r: f"{r['account']}/{r['venue']}/{r['instrument']}", keep=5),
    Column(
        "payload", lambda r: json.dumps(r["payload"], ensure_ascii=False, separators=(",", ":")), "tail", 7
    ),
]


@app.command()
def verify(
    expect_head: Annotated[
        str | None,
        typer.Option("--expect-head", help="ID:HASH printed by an earlier verify; detects truncation."),
    ] = None,
    heads_file: Annotated[
        str | None,
        typer.Option(
            "--heads-file",
            metavar="PATH",
            help="A file of past heads (`orderledger head >> PATH`): each must still be in the chain.",
        ),
    ] = None,
    deep: Annotated[
        bool, typer.Option("--deep", help="SQLite: PRAGMA integrity_check instead of quick_check.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check the storage, the hash chain, the views and the journal against the log. Exit 1 if broken."""
    from pathlib import Path

    from orderledger.infrastructure.audit.verify import parse_head, read_heads
    from orderledger.infrastructure.audit.verify import verify as run_verify

    heads = {} if heads_file is None else read_heads(Path(heads_file))
    head = None if expect_head is None else parse_head(expect_head, "--expect-head")
    with _ledger(create=False) as ledger:
        report = run_verify(ledger.db, ledger.mapper, expect_head=head, heads=heads, deep=deep)
    if as_json:
        _json(
            {
                "ok": report.ok,
                "events": report.events,
                "head": None if report.head is None else f"{report.head[0]}:{report.head[1]}",
                "broken": report.broken,
                "view_problems": report.view_problems,
                "journal_problems": report.journal_problems,
                "schema_problems": report.schema_problems,
                "storage": report.storage,
                "heads_checked": len(heads) + (head is not None),
            }
        )
    else:
        if report.broken:
            err.print(f"BROKEN: {report.broken}", markup=False)
        for label, problems in (
            ("VIEW", report.view_problems),
            ("JOURNAL", report.journal_problems),
            ("SCHEMA", report.schema_problems),
        ):
            for problem in problems:
                err.print(f"{label}: {problem}", markup=False)
        if report.ok:
            head_text = "empty log" if report.head is None else f"head {report.head[0]}:{report.head[1]}"
            storage = ", ".join(f"{k} {v}" for k, v in report.storage.items())
            out.print(
                f"ok: {report.events} events, hash chain intact, views equal the log; {head_text}"
                f"; storage: {storage}",
                markup=False,
            )
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def head(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Print the chain's head (ID:HASH) to record outside the database: `orderledger head >> heads.txt`."""
    from orderledger.infrastructure.audit.verify import stored_head

    with _ledger() as ledger:
        found = stored_head(ledger.db)
    if as_json:
        position, digest = found or (0, None)
        _json(
            {"position": position, "hash": digest, "head": None if found is None else f"{position}:{digest}"}
        )
    elif found is None:
        err.print("the log is empty: no head yet", markup=False)
    else:
        out.print(f"{found[0]}:{found[1]}", markup=False)


@app.command()
def export(
    what: Annotated[str, typer.Argument(help="trades, orders or events.")],
    fmt: Annotated[str, typer.Option("--format", help="csv, jsonl or parquet.")] = "jsonl",
    out_path: Annotated[str, typer.Option("--out", help="File to write, or - for standard output.")] = "",
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Export trades, orders or the whole event log for analytics (status on stderr with --out -)."""
    from pathlib import Path

    from orderledger.infrastructure.audit.search import EventFilter, event_record, export_rows, search_events

    if what not in ("trades", "orders", "events"):
        raise InvalidInputError(f"export trades, orders or events, not {what!r}")
    if fmt not in ("csv", "jsonl", "parquet"):
        raise InvalidInputError(f"--format must be csv, jsonl or parquet, not {fmt!r}", field="format")
    if not out_path:
        raise InvalidInputError("--out PATH is required (- for standard output)")
    with _ledger(create=False) as ledger:
        target = None if out_path == "-" else _export_target(Path(out_path), ledger.url, force)
        if what == "trades":
            rows: Any = iter_trades(ledger.db)
        elif what == "orders":
            rows = iter_orders(ledger.db)
        else:
            rows = (
                event_record(p, e, m) for p, e, m in search_events(ledger.db, ledger.mapper, EventFilter())
            )
        if target is None:
            count = export_rows(rows, fmt, sys.stdout.buffer)
            sys.stdout.flush()
            warn(f"wrote {count} {what} to standard output ({fmt})")
            return
        # Written beside the target, then renamed over it: a failed export leaves no half file.
        partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
        try:
            count = export_rows(rows, fmt, partial)
            os.replace(partial, target)
        except OSError as error:
            raise InvalidInputError(f"cannot write {out_path!r}: {error.strerror or error}") from None
        finally:
            if partial.exists():
                partial.unlink()
    say(f"wrote {count} {what} to {out_path} ({fmt})")


def _export_target(path: Any, url: str, force: bool) -> Any:
    """Where an export may write: never over the ledger's own files; over another file only with --force."""
    from orderledger.infrastructure.storage.db import parse_url

    parsed = parse_url(url)
    if parsed.dialect == "sqlite" and not parsed.is_memory:
        for suffix in ("", "-wal", "-shm", "-journal"):
            ledger_file = f"{parsed.path}{suffix}"
            if os.path.exists(ledger_file) and os.path.exists(path) and os.path.samefile(ledger_file, path):
                raise InvalidInputError(
                    f"--out {str(path)!r} is the ledger's own database: refusing to write over it"
                )
    if os.path.isdir(path):
        raise InvalidInputError(f"--out {str(path)!r} is a directory")
    if os.path.exists(path) and not force:
        raise InvalidInputError(f"--out {str(path)!r} exists: give --force to replace it")
    return path


# ---------------------------------------------------------------------- reconciliation


@app.command()
def reconcile(
    snapshot_file: Annotated[
        str, typer.Argument(metavar="SNAPSHOT.json", help="The venue's view (docs/reconciliation.md).")
    ],
    apply: Annotated[
        bool, typer.Option("--apply", help="Record the corrections (default: report only).")
    ] = False,
    grace: Annotated[
        float, typer.Option(help="Seconds: orders requested this recently are left alone.")
    ] = 60.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Compare a venue snapshot with the ledger; report differences, or apply corrections.

    Exit 0 when nothing differs (or every correction was applied), 1 when differences remain.
    """
    from datetime import timedelta

    from orderledger.infrastructure.application.reconcile import Reconciler, parse_snapshot

    _seconds(grace, "--grace", 0, 7 * 86400)
    with _open(snapshot_file) as handle:
        snapshot = parse_snapshot(handle.read())
    with _ledger() as ledger:
        ledger.catch_up()
        reconciler = Reconciler(ledger, snapshot, grace=timedelta(seconds=grace))
        found = reconciler.differences()
        if apply:
            reconciler.apply(found, origin=f"reconcile:{snapshot_file}")
    unresolved = [
        d for d in found if not d.corrections or (d.applied or "").startswith("rejected") or not apply
    ]
    if as_json:
        _json(
            {
                "venue": snapshot.venue,
                "account": snapshot.account,
                "applied": apply,
                "differences": [d.as_dict() for d in found],
            }
        )
    else:
        title = f"reconciliation of {snapshot.venue}/{snapshot.account}: {len(found)} differences"
        title += " (applied)" if apply else " (dry run: nothing recorded; --apply to correct)"
        _table(
            title,
            ["kind", "client_order_id", "venue_order_id", "detail", "correction"],
            [
                [
                    d.kind,
                    d.client_order_id,
                    d.venue_order_id,
                    d.detail,
                    (d.applied or "") if apply else ", ".join(m["type"] for m in d.corrections),
                ]
                for d in found
            ],
            wrap=("detail", "correction"),
        )
    if unresolved:
        raise typer.Exit(1)


# ---------------------------------------------------------------------- administration

db_app = typer.Typer(help="Database administration.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("init")
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
) -> None:
    """Create the schema (tables, indexes, append-only triggers) and, on PostgreSQL, the app role."""
    from orderledger.infrastructure.storage.admin import init_database

    with _ledger() as ledger:
        for line in init_database(ledger.db, ledger.recorder, ledger.views, app_role, password):
            out.print(line, markup=False)


# ---------------------------------------------------------------------- demo


SeedOption = Annotated[int, typer.Option(min=0, max=2**32, help="Random seed of the simulated session.")]
OrdersOption = Annotated[
    int, typer.Option("--orders", min=1, max=100_000, help="How many orders to simulate.")
]


@app.command()
def demo(seed: SeedOption = 7, orders_count: OrdersOption = 40) -> None:
    """Simulate a multi-account, multi-venue session, ingest it, and show what happened."""
    from orderledger.infrastructure.application.simulator import simulate, simulate_lines

    with _ledger() as ledger:
        _refuse_other_demo(ledger, simulate(seed, orders_count), seed)
        report = ledger.ingest_lines(simulate_lines(seed, orders_count), origin=f"demo:seed={seed}")
        open_rows = list_orders(ledger.db, open_only=True)
        all_rows = list_orders(ledger.db)
        fills = list_trades(ledger.db)
        marks = {}
        for row in fills:
            marks[row["instrument"]] = parse_marks([f"{row['instrument']}={row['price']}"])[row["instrument"]]
        position_rows = list_positions(ledger.db, marks)
        pnl_rows = pnl_by(ledger.db, "tag:strategy")
        url = redact(ledger.url)
    counts = ", ".join(f"{n} {k}" for k, n in report.counts.items() if n)
    say(f"Simulated session (seed {seed}) → {url}")
    say(f"{report.lines} messages: {counts}; {report.events} events recorded\n")
    table(f"open orders ({len(open_rows)})", ORDER_COLUMNS[:-1], open_rows[:12])
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
    _positions_table(position_rows)
    _pnl_table(pnl_rows, "tag:strategy")
    example = (flagged or all_rows)[0]["client_order_id"] if all_rows else "ID"
    db_option = "" if state.url is None else f"--db {state.url} "
    say(f"\nInspect one order's history:  orderledger {db_option}history {example}")


def _refuse_other_demo(ledger: OrderLedger, messages: list[dict[str, Any]], seed: int) -> None:
    """Another seed reuses the demo's order IDs for other orders: mixing them would make nonsense."""
    requests = {m["client_order_id"]: m for m in messages if m["type"] == "request"}
    ids = list(requests)
    with ledger.db.read() as tx:
        origins = tx.all("SELECT DISTINCT origin FROM messages WHERE origin LIKE 'demo:seed=%'")
        held = []
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            held += tx.all(
                "SELECT client_order_id, instrument, side, quantity FROM orders_view"
                f" WHERE client_order_id IN ({','.join('?' * len(part))})",
                part,
            )
    others = sorted(str(o[0]) for o in origins if o[0] != f"demo:seed={seed}")
    # Not only demo runs: `orderledger simulate` output from another seed, ingested by hand.
    differ = [
        r[0]
        for r in held
        if (r[1], r[2], r[3]) != tuple(requests[r[0]][k] for k in ("instrument", "side", "quantity"))
    ]
    if others or differ:
        source = others[0] if others else f"another simulated session (order {differ[0]!r} differs)"
        raise InvalidInputError(
            f"this ledger already holds the demo's order IDs from {source}: seed {seed} would mix two"
            " sessions under the same IDs; use another --db (or the same --seed)"
        )


@app.command()
def simulate(seed: SeedOption = 7, orders_count: OrdersOption = 40) -> None:
    """Write a simulated trading session as JSON lines (what the demo ingests) to standard output."""
    from orderledger.infrastructure.application.simulator import simulate_lines

    for line in simulate_lines(seed, orders_count):
        sys.stdout.write(line + "\n")


# ---------------------------------------------------------------------- the HTTP server


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on (non-loopback needs tokens).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8400,
    tokens: Annotated[
        str | None,
        typer.Option(
            "--tokens", help="File of 'ROLE TOKEN' lines (else $ORDERLEDGER_TOKENS[_FILE]).", metavar="FILE"
        ),
    ] = None,
    max_body: Annotated[int, typer.Option("--max-body", help="Largest request body in bytes.")] = 8
    * 1024
    * 1024,
) -> None:
    """Serve the HTTP API and the operator's page (docs/http.md) until interrupted."""
    from orderledger.infrastructure.http.server import serve as run_server

    if max_body < 1:
        raise InvalidInputError("--max-body must be at least 1 byte")
    run_server(state.url, host=host, port=port, tokens_file=tokens, max_body=max_body)


# ---------------------------------------------------------------------- instruments

instruments_app = typer.Typer(help="Instrument definitions: contract size, settlement, option terms.")
app.add_typer(instruments_app, name="instruments")
INSTRUMENT_COLUMNS = [
    "venue",
    "instrument",
    "version",
    "kind",
    "contract_size",
    "settlement",
    "settle_currency",
    "base_currency",
    "quote_currency",
    "expiry",
    "strike",
    "option_type",
]


@instruments_app.callback(invoke_without_command=True)
def instruments(
    ctx: typer.Context,
    venue: Annotated[str | None, typer.Option(help="Only this venue's instruments.")] = None,
    every_version: Annotated[
        bool, typer.Option("--all-versions", help="Every version, not only the one in force.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List instrument definitions (the one in force for each instrument, from the log)."""
    if ctx.invoked_subcommand is not None:
        return
    with _ledger() as ledger:
        rows = ledger.instruments(venue=venue, every_version=every_version)
    if as_json:
        _json(rows)
        return
    _table(
        f"instruments ({len(rows)})", INSTRUMENT_COLUMNS, [[r[c] for c in INSTRUMENT_COLUMNS] for r in rows]
    )


@instruments_app.command("load")
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
    from orderledger.infrastructure.errors import MessageError

    if fmt != "ccxt":
        raise InvalidInputError(f"--format must be ccxt, not {fmt!r}")
    stream = sys.stdin.buffer if file == "-" else _open(file)
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
    with _ledger() as ledger:
        report = ledger.load_ccxt_markets(markets, venue=venue, ts=_time(ts, "--ts"), origin=file)
    for result in report.rejected:
        err.print(f"market {result.line_no}: rejected: {result.reason}", markup=False)
    counts = ", ".join(f"{n} {k}" for k, n in report.counts.items())
    out.print(f"{report.lines} markets: {counts}; {report.events} definitions recorded", markup=False)
    if report.rejected:
        raise typer.Exit(1)


# ---------------------------------------------------------------------- entry point


def main() -> None:
    """Console entry point: one line per failure, never a traceback."""
    try:
        # Outside standalone mode click returns a command's exit code instead of exiting.
        sys.argv[1:] = _global_options_first(sys.argv[1:])
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except _Interrupted as stopped:
        _fail(stopped, stopped.code)
    except (LedgerError, ValueError) as error:
        _fail(error, 2)
    except KeyboardInterrupt:
        _fail(KeyboardInterrupt("interrupted"), 130)
    except Exception as error:  # usage errors and anything unexpected
        # typer ships its own copy of click: recognise usage errors by their shape, not class.
        if type(error).__name__ == "NoArgsIsHelpError":
            # Bare `orderledger` (or `orderledger db`): the usage, then a clean exit.
            ctx = getattr(error, "ctx", None)
            sys.stdout.write((ctx.get_help() if ctx is not None else "") + "\n")
            sys.exit(0)
        if hasattr(error, "format_message") and hasattr(error, "exit_code"):
            warn(f"orderledger: {error.format_message()}")
            sys.exit(int(error.exit_code))
        if type(error).__name__ == "Abort":
            _fail(error, 130)
        _fail(error, 3, prefix="internal error: ")


def _global_options_first(args: list[str]) -> list[str]:
    """Move ``--db URL`` (or ``--db=URL``) given after the subcommand to before it."""
    moved: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            rest.extend(args[index:])
            break
        if arg == "--db" and index + 1 < len(args):
            moved.extend(args[index : index + 2])
            index += 2
            continue
        if arg.startswith("--db="):
            moved.append(arg)
        else:
            rest.append(arg)
        index += 1
    return moved + rest


def _fail(error: BaseException, code: int, prefix: str = "") -> None:
    if os.environ.get("ORDERLEDGER_DEBUG"):
        raise error
    text = getattr(error, "message", None) or str(error) or type(error).__name__
    warn(f"orderledger: {prefix}{(str(text).splitlines() or [''])[0]}")
    sys.exit(code)


if __name__ == "__main__":
    main()
