"""The ``orderledger`` command: record facts, ask questions, keep views current.

Every failure prints one line to stderr and exits non-zero; no traceback reaches a user
(set ORDERLEDGER_DEBUG=1 to see one).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from domain.errors import InvalidInputError, LedgerError
from domain.values import parse_timestamp
from infrastructure.db import DEFAULT_URL, redact
from infrastructure.errors import DatabaseLockedError
from infrastructure.inputs import is_live, read_lines
from infrastructure.ledger import ADAPTER_FORMATS, URL_VARIABLE, OrderLedger
from infrastructure.queries import list_orders, list_positions, list_trades, parse_marks, pnl_by

app = typer.Typer(
    name="orderledger",
    help="An event-sourced order ledger: every fact immutable, every view rebuildable.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_WIDTH = None if sys.stdout.isatty() else max(int(os.environ.get("COLUMNS", "0") or 0), 160)
out = Console(highlight=False, soft_wrap=True, width=_WIDTH)
err = Console(stderr=True, highlight=False, soft_wrap=True)


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
    """Global options (given before the subcommand)."""
    state.url = db


@contextmanager
def _ledger() -> Iterator[OrderLedger]:
    ledger = OrderLedger(state.url)
    try:
        yield ledger
    finally:
        ledger.close()


def _json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    return parse_timestamp(value, option)


def _ts_text(value: str | None, option: str) -> str | None:
    moment = _time(value, option)
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _human(value: Any) -> str:
    """A cell for people: long decimals rounded to 8 places (JSON output stays exact)."""
    if value is None:
        return ""
    text = str(value)
    if "." in text and len(text.split(".", 1)[1]) > 8:
        try:
            rounded = Decimal(text).quantize(Decimal("0.00000001"))
        except InvalidOperation:
            return text
        return format(rounded.normalize(), "f") + "…"
    return text


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(title=title, title_justify="left", show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*[_human(v) for v in row])
    out.print(table)


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
                on_batch=_print_acks if acks else None,
            )
        finally:
            if file != "-":
                stream.close()
    for result in report.rejected:
        where = f"line {result.line_no}" if result.line_no is not None else "input"
        err.print(f"{where}: rejected: {result.reason}", markup=False)
    if strict and not report.stored:
        # Report what the ledger holds from this input (nothing), not the rolled-back decisions.
        rejected = len(report.rejected)
        report.counts = dict.fromkeys(report.counts, 0)
        report.counts["rejected"] = rejected
        report.counts["not stored"] = report.lines - rejected
        report.events = 0
        err.print("--strict: a line was rejected, so nothing from this input was stored", markup=False)
    counts = ", ".join(f"{n} {k}" for k, n in report.counts.items())
    rate = report.events / report.seconds if report.seconds else 0.0
    if acks:
        summary = {"lines": report.lines, "counts": report.counts, "events": report.events}
        sys.stdout.write(json.dumps({"summary": {**summary, "seconds": round(report.seconds, 3)}}) + "\n")
    else:
        out.print(
            f"{report.lines} lines: {counts}; "
            f"{report.events} events in {report.seconds:.2f} s ({rate:,.0f} events/s)",
            markup=False,
        )
    if report.rejected:
        raise typer.Exit(1)


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
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    for key, value in data.items():
        if isinstance(value, list | dict):
            value = json.dumps(value, ensure_ascii=False) if value else ""
        table.add_row(key, "" if value is None else str(value))
    out.print(table)


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
    version: Annotated[int | None, typer.Option("--version", help="State at this event version.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one order's state now, at a version, or as of a time."""
    with _ledger() as ledger:
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
    with _ledger() as ledger:
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
    _table(
        f"history of {entries[0].event.client_order_id}",
        ["v", "type", "ts_event", "ts_recorded", "source", "payload", "message"],
        [
            [
                r["version"],
                r["type"],
                r["ts_event"],
                r["ts_recorded"],
                r["source"],
                json.dumps(r["payload"], ensure_ascii=False) if r["payload"] else "",
                ""
                if r["message"] is None
                else f"#{r['message']['message_id']} {r['message']['origin']}:{r['message']['line'] or ''}",
            ]
            for r in rows
        ],
    )


# ---------------------------------------------------------------------- views


ORDER_COLUMNS = [
    "client_order_id",
    "account",
    "venue",
    "instrument",
    "side",
    "quantity",
    "price",
    "status",
    "filled_quantity",
    "average_price",
    "anomalies",
]


@app.command()
def orders(
    open_only: Annotated[bool, typer.Option("--open", help="Only open orders.")] = False,
    account: Annotated[str | None, typer.Option(help="Only this account.")] = None,
    venue: Annotated[str | None, typer.Option(help="Only this venue.")] = None,
    instrument: Annotated[str | None, typer.Option(help="Only this instrument.")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="As the ledger knew them at this time.")
    ] = None,
    event_time: Annotated[bool, typer.Option("--event-time", help="Read --as-of as venue time.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List orders as they stand (from the orders view), or as of a time (folded from the log)."""
    with _ledger() as ledger:
        moment = _time(as_of, "--as-of")
        if moment is None:
            rows = list_orders(
                ledger.db, open_only=open_only, account=account, venue=venue, instrument=instrument
            )
        else:
            from infrastructure.audit import orders_as_of

            rows = [
                r
                for r in orders_as_of(
                    ledger.db, ledger.mapper, moment, event_time=event_time, open_only=open_only
                )
                if (account is None or r["account"] == account)
                and (venue is None or r["venue"] == venue)
                and (instrument is None or r["instrument"] == instrument)
            ]
    if as_json:
        _json(rows)
        return
    _table(
        f"{'open ' if open_only else ''}orders ({len(rows)})",
        ORDER_COLUMNS,
        [[", ".join(r[c]) if c == "anomalies" else r[c] for c in ORDER_COLUMNS] for r in rows],
    )


TRADE_COLUMNS = [
    "ts_event",
    "account",
    "venue",
    "instrument",
    "side",
    "client_order_id",
    "trade_id",
    "quantity",
    "price",
    "fee",
    "fee_currency",
    "late",
]


@app.command()
def trades(
    account: Annotated[str | None, typer.Option(help="Only this account.")] = None,
    venue: Annotated[str | None, typer.Option(help="Only this venue.")] = None,
    instrument: Annotated[str | None, typer.Option(help="Only this instrument.")] = None,
    order_id: Annotated[str | None, typer.Option("--order", help="Only this order's trades.")] = None,
    since: Annotated[str | None, typer.Option(help="Venue time from (inclusive).")] = None,
    until: Annotated[str | None, typer.Option(help="Venue time until (inclusive).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The trade blotter: one row per fill as it stands after busts and corrections."""
    with _ledger() as ledger:
        client_order_id = ledger.resolve(order_id) if order_id else None
        rows = list_trades(
            ledger.db,
            account=account,
            venue=venue,
            instrument=instrument,
            client_order_id=client_order_id,
            since=_ts_text(since, "--since"),
            until=_ts_text(until, "--until"),
        )
    if as_json:
        _json(rows)
        return
    _table(f"trades ({len(rows)})", TRADE_COLUMNS, [[r[c] for c in TRADE_COLUMNS] for r in rows])


POSITION_COLUMNS = [
    "account",
    "venue",
    "instrument",
    "quantity",
    "average_price",
    "realized_pnl",
    "realized_pnl_net",
    "unrealized_pnl",
    "fees",
]


def _positions_table(rows: list[dict[str, Any]]) -> None:
    _table(
        f"positions ({len(rows)})",
        POSITION_COLUMNS,
        [
            [" ".join(f"{v} {k}" for k, v in r[c].items()) if c == "fees" else r[c] for c in POSITION_COLUMNS]
            for r in rows
        ],
    )


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
    with _ledger() as ledger:
        moment = _time(as_of, "--as-of")
        if moment is None:
            rows = list_positions(ledger.db, marks)
        else:
            from infrastructure.audit import positions_as_of
            from infrastructure.queries import position_report

            rows = [
                position_report(p, marks.get(p.instrument))
                for p in positions_as_of(ledger.db, ledger.mapper, moment, event_time=event_time)
            ]
    if as_json:
        _json(rows)
    else:
        _positions_table(rows)


@app.command()
def pnl(
    by: Annotated[str, typer.Option("--by", help="day, account, venue, instrument or tag:NAME.")] = "day",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Realized P&L and fees, grouped."""
    with _ledger() as ledger:
        rows = pnl_by(ledger.db, by)
    if as_json:
        _json(rows)
        return
    _pnl_table(rows, by)


def _pnl_table(rows: list[dict[str, Any]], by: str) -> None:
    key = next(iter(rows[0])) if rows else by
    _table(
        f"realized P&L by {by}",
        [key, "quote", "realized_pnl", "realized_pnl_net", "fees", "fills"],
        [
            [
                r[key],
                r["quote_currency"],
                r["realized_pnl"],
                r["realized_pnl_net"],
                " ".join(f"{v} {k}" for k, v in r["fees"].items()),
                r["fills"],
            ]
            for r in rows
        ],
    )


@app.command()
def project(
    follow: Annotated[
        bool, typer.Option("--follow", help="Keep polling for new events until interrupted.")
    ] = False,
    interval: Annotated[float, typer.Option(help="Seconds between polls when following.")] = 0.5,
) -> None:
    """Bring every view up to date with the log (once, or continuously with --follow)."""
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
                err.print(f"orderledger: {error.message}; retrying", markup=False)
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

            events, seconds = ledger.views.rebuild(names, progress=advance)
    rate = events / seconds if seconds else 0.0
    out.print(
        f"rebuilt {', '.join(names)}: {events} events in {seconds:.2f} s ({rate:,.0f} events/s)",
        markup=False,
    )


# ---------------------------------------------------------------------- audit


@app.command()
def messages(
    outcome: Annotated[
        str | None, typer.Option(help="applied, duplicate, parked, ignored or rejected.")
    ] = None,
    since: Annotated[str | None, typer.Option(help="Received at or after this time.")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines, one message per line.")] = False,
) -> None:
    """The message journal: every inbound message verbatim, with its outcome."""
    from infrastructure.audit import list_messages

    with _ledger() as ledger:
        rows = list_messages(ledger.db, outcome=outcome, since=_time(since, "--since"), limit=limit)
        if as_json:
            for row in rows:
                sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
            return
        _table(
            "messages",
            ["id", "received_at", "origin:line", "outcome", "reason", "order", "events", "raw"],
            [
                [
                    r["message_id"],
                    r["received_at"],
                    f"{r['origin']}:{r['line'] or ''}",
                    r["outcome"],
                    r["reason"],
                    r["client_order_id"],
                    r["events"],
                    r["raw"][:120],
                ]
                for r in rows
            ],
        )


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
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines, one event per line.")] = False,
) -> None:
    """Search the global log; results stream in log order."""
    from infrastructure.audit import EventFilter, event_record, search_events

    with _ledger() as ledger:
        wanted = EventFilter(
            types=event_type or (),
            account=account,
            venue=venue,
            instrument=instrument,
            client_order_id=ledger.resolve(order_id) if order_id else None,
            since=_time(since, "--since"),
            until=_time(until, "--until"),
            event_time=event_time,
        )
        write = sys.stdout.write
        count = 0
        for position, event, message_id in search_events(ledger.db, ledger.mapper, wanted):
            record = event_record(position, event, message_id)
            count += 1
            if as_json:
                write(json.dumps(record, ensure_ascii=False) + "\n")
            else:
                payload = json.dumps(record["payload"], ensure_ascii=False, separators=(",", ":"))
                where = f"{record['account']}/{record['venue']}/{record['instrument']}"
                write(
                    f"{position:>8}  {record['ts_recorded']}  {record['type']:<20}"
                    f" {record['client_order_id']:<16} {where}  {payload}\n"
                )
    if not as_json:
        err.print(f"{count} events", markup=False)


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

    from infrastructure.audit import parse_head, read_heads
    from infrastructure.audit import verify as run_verify

    heads = {} if heads_file is None else read_heads(Path(heads_file))
    head = None if expect_head is None else parse_head(expect_head, "--expect-head")
    with _ledger() as ledger:
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
    from infrastructure.audit import stored_head

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
    out_path: Annotated[str, typer.Option("--out", help="File to write.")] = "",
) -> None:
    """Export trades, orders or the whole event log for analytics."""
    from pathlib import Path

    from infrastructure.audit import EventFilter, event_record, export_rows, search_events

    if what not in ("trades", "orders", "events"):
        raise InvalidInputError(f"export trades, orders or events, not {what!r}")
    if not out_path:
        raise InvalidInputError("--out PATH is required")
    with _ledger() as ledger:
        if what == "trades":
            rows: Any = list_trades(ledger.db)
        elif what == "orders":
            rows = list_orders(ledger.db)
        else:
            rows = (
                event_record(p, e, m) for p, e, m in search_events(ledger.db, ledger.mapper, EventFilter())
            )
        try:
            count = export_rows(rows, fmt, Path(out_path))
        except OSError as error:
            raise InvalidInputError(f"cannot write {out_path!r}: {error.strerror or error}") from None
    out.print(f"wrote {count} {what} to {out_path} ({fmt})", markup=False)


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

    from infrastructure.reconcile import Reconciler, parse_snapshot

    if grace < 0:
        raise InvalidInputError("--grace must be zero or more seconds")
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
    from infrastructure.admin import init_database

    with _ledger() as ledger:
        for line in init_database(ledger.db, ledger.recorder, ledger.views, app_role, password):
            out.print(line, markup=False)


# ---------------------------------------------------------------------- demo


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="Random seed of the simulated session.")] = 7,
    orders_count: Annotated[int, typer.Option("--orders", help="How many orders to simulate.")] = 40,
) -> None:
    """Simulate a multi-account, multi-venue session, ingest it, and show what happened."""
    from infrastructure.simulator import simulate_lines

    with _ledger() as ledger:
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
    out.print(f"[bold]Simulated session (seed {seed})[/bold] → {url}")
    out.print(f"{report.lines} messages: {counts}; {report.events} events recorded\n", markup=False)
    _table(
        f"open orders ({len(open_rows)})",
        ORDER_COLUMNS[:-1],
        [[r[c] for c in ORDER_COLUMNS[:-1]] for r in open_rows[:12]],
    )
    recent = fills[-10:]
    short = [
        "ts_event",
        "account",
        "venue",
        "instrument",
        "side",
        "client_order_id",
        "trade_id",
        "quantity",
        "price",
        "fee",
    ]
    _table(
        f"recent fills (last {len(recent)} of {len(fills)})",
        short,
        [[r[c][11:23] if c == "ts_event" else r[c] for c in short] for r in recent],
    )
    by_status: dict[str, int] = {}
    for row in all_rows:
        by_status[row["status"]] = by_status.get(row["status"], 0) + 1
    out.print("order states: " + ", ".join(f"{n} {s}" for s, n in sorted(by_status.items())), markup=False)
    flagged = [r for r in all_rows if r["anomalies"]]
    for row in flagged:
        out.print(
            f"  anomaly on {row['client_order_id']}: {', '.join(row['anomalies'])} (status {row['status']})",
            markup=False,
        )
    out.print()
    _positions_table(position_rows)
    _pnl_table(pnl_rows, "tag:strategy")
    example = (flagged or all_rows)[0]["client_order_id"] if all_rows else "ID"
    db_option = "" if state.url is None else f"--db {state.url} "
    out.print(f"\nInspect one order's history:  orderledger {db_option}history {example}", markup=False)


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
    from infrastructure.http.server import serve as run_server

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
    from infrastructure.errors import MessageError

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
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except (LedgerError, ValueError) as error:
        _fail(error, 2)
    except KeyboardInterrupt:
        _fail(KeyboardInterrupt("interrupted"), 130)
    except Exception as error:  # usage errors and anything unexpected
        # typer ships its own copy of click: recognise usage errors by their shape, not class.
        if hasattr(error, "format_message") and hasattr(error, "exit_code"):
            err.print(f"orderledger: {error.format_message()}", markup=False)
            sys.exit(int(error.exit_code))
        if type(error).__name__ == "Abort":
            _fail(error, 130)
        _fail(error, 3, prefix="internal error: ")


def _fail(error: BaseException, code: int, prefix: str = "") -> None:
    if os.environ.get("ORDERLEDGER_DEBUG"):
        raise error
    text = getattr(error, "message", None) or str(error) or type(error).__name__
    err.print(f"orderledger: {prefix}{str(text).splitlines()[0]}", markup=False)
    sys.exit(code)


if __name__ == "__main__":
    main()
