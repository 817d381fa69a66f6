"""Audit commands: the message journal, the event log, verify and the chain's head, export, and
reconciliation against a venue snapshot."""

from __future__ import annotations

import getpass
import io
import json
import signal
import sys
import threading
from datetime import timedelta
from itertools import islice
from pathlib import Path
from typing import Annotated, cast

import typer

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.outcomes import SPELLED
from orderledger.infrastructure.application.analytics.exports import FROM_VIEWS, check_export
from orderledger.infrastructure.application.reads.follow import log_record
from orderledger.infrastructure.application.requests import (
    ChainHead,
    Export,
    IterEvents,
    IterMessages,
    LogPosition,
    Settle,
)
from orderledger.infrastructure.audit.anchors import OVERLAP
from orderledger.infrastructure.audit.heads import RecordedHeads, merge_heads, parse_heads, read_heads
from orderledger.infrastructure.cli.app import (
    JsonOption,
    LimitOption,
    duration,
    open_input,
    open_ledger,
    seconds,
    sort_help,
    warn_if_behind,
)
from orderledger.infrastructure.cli.json_out import print_json
from orderledger.infrastructure.cli.list_options import NO_CRITERIA, Criteria, lists
from orderledger.infrastructure.cli.render import (
    EVENT_COLUMNS,
    MESSAGE_COLUMNS,
    json_lines,
    limited,
    say,
    table,
    text_table,
    warn,
)
from orderledger.infrastructure.results.head import Head


@lists("messages")
def messages(
    ctx: typer.Context,
    outcome: Annotated[str | None, typer.Option(help=f"{SPELLED}.")] = None,
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
    criteria: Criteria = NO_CRITERIA,
    sort: Annotated[
        str, typer.Option(help=f"{sort_help('messages')} The table shows the newest first unless told.")
    ] = "",
    limit: LimitOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines, one message per line.")] = False,
) -> None:
    """The message journal: every inbound message verbatim, with its outcome."""
    if ctx.invoked_subcommand is not None:
        return  # `messages settle`
    age = None if older_than is None else duration(older_than, "--older-than")
    # People read the latest first; a JSON-lines stream keeps the journal's arrival order.
    where = criteria.filter(sort=sort or ("oldest" if as_json else "newest"), limit=limit)
    with open_ledger(create=False) as ledger:
        rows = (
            r.to_json() for r in ledger.handle(IterMessages(where, outcome, parked=parked, older_than=age))
        )
        if as_json:
            count = json_lines(rows)
        else:
            count = table("messages", MESSAGE_COLUMNS, rows)
            say(f"{count} messages")
            limited(count, limit, "messages")
    if older_than is not None and count:
        raise typer.Exit(1)


def settle(
    message_id: Annotated[int, typer.Argument(metavar="ID", help="The parked message (messages --parked).")],
    reason: Annotated[str, typer.Option(help="Why: recorded in the journal.")],
    by: Annotated[str | None, typer.Option(help="Who settles it (default: your user name).")] = None,
    book: Annotated[
        bool, typer.Option("--book", help="Book it as an external order (it must carry the details).")
    ] = False,
    account: Annotated[str | None, typer.Option(help="With --book: the account, as ingest takes it.")] = None,
) -> None:
    """Settle a parked message by hand: set it aside, or --book it as an external order; the
    journal records who and why."""
    who = by if by is not None else getpass.getuser()
    with open_ledger() as ledger:
        settled = ledger.handle(Settle(message_id, reason, who, book=book, account=account, origin="cli"))
    done = "booked" if book else "set aside"
    say(f"message {message_id} {done} by {who}: recorded as message {settled}")


@lists("events")
def events(
    event_type: Annotated[
        list[str] | None, typer.Option("--type", help="Event type, e.g. OrderFilled (repeatable).")
    ] = None,
    criteria: Criteria = NO_CRITERIA,
    event_time: Annotated[
        bool, typer.Option("--event-time", help="Read --since/--until as venue time.")
    ] = False,
    sort: Annotated[str, typer.Option(help=sort_help("events"))] = "",
    limit: LimitOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines, one event per line.")] = False,
) -> None:
    """Search the global log; results stream in log order."""
    where = criteria.filter(sort=sort or None, limit=limit)
    with open_ledger(create=False) as ledger:
        found = ledger.handle(IterEvents(where, tuple(event_type or ()), event_time=event_time))
        rows = (r.to_json() for r in found)
        if as_json:
            json_lines(rows)
            return
        count = table(None, EVENT_COLUMNS, rows, header=False)
    warn(f"{count} events")
    limited(count, limit, "events")


def follow(
    after: Annotated[
        int | None,
        typer.Option(help="Start after this log position (0: from the start). Default: the end, live only."),
    ] = None,
    interval: Annotated[float, typer.Option(help="Seconds between polls for other processes' writes.")] = 0.5,
    limit: LimitOption = None,
) -> None:
    """Print each committed event as a JSON line as it is committed, until interrupted (or --limit)."""
    seconds(interval, "--interval", 0, 3600, above=True)
    if after is not None and after < 0:
        raise InvalidInputError("--after must be a log position (0 or more)")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with open_ledger(create=False) as ledger:
        start = ledger.handle(LogPosition()) if after is None else after
        followed = ledger.follow(start, poll_seconds=interval, stop=stop)
        for committed in followed if limit is None else islice(followed, limit):
            sys.stdout.write(json.dumps(log_record(committed), ensure_ascii=False) + "\n")
            sys.stdout.flush()


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
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Check the whole log and refold every view, not only what is new since the last anchor.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Check the storage, the hash chain, the views and the journal against the log (what is new
    since the last passing verify's anchor; --full: all of it). Exit 1 if broken."""
    heads = RecordedHeads() if heads_file is None else read_heads(Path(heads_file))
    if expect_head is not None:
        expected = parse_heads(expect_head, "--expect-head")
        heads.events = merge_heads(heads.events, expected.events.items(), "--expect-head")
        heads.journal = merge_heads(heads.journal, expected.journal.items(), "--expect-head")
    with open_ledger(create=False) as ledger:
        report = ledger.audit.verify(
            heads=heads.events, journal_heads=heads.journal, deep=deep, incremental=not full, anchor=True
        )
    if as_json:
        print_json(report.to_json())
    else:
        if report.broken:
            warn(f"BROKEN: {report.broken}")
        for label, problems in (
            ("VIEW", report.view_problems),
            ("JOURNAL", report.journal_problems),
            ("SCHEMA", report.schema_problems),
        ):
            for problem in problems:
                warn(f"{label}: {problem}")
        if report.ok:
            head_text = "empty log" if report.head_text is None else f"head {report.head_text}"
            storage = ", ".join(f"{k} {v}" for k, v in report.storage.items())
            views = "views equal the log"
            if report.views_behind:
                # Rows a view has not folded yet were compared with nothing: not called equal.
                views = (
                    f"views {report.views_behind:,} events behind the log (equal to it up to event"
                    f" {report.events - report.views_behind}; `orderledger project` folds the rest)"
                )
            if report.views_unsettled:
                # A book whose re-fold an ingest left for its end is not final: not called equal.
                views = (
                    f"{views}; {report.views_unsettled:,} books still to be re-folded in venue time,"
                    " their views not compared (the ingest settles them when it ends, `orderledger"
                    " project` if it stopped)"
                )
            if not report.full:
                # Only the chains' newest records were checked: the views were not refolded.
                views = (
                    f"checked from event {report.since + 1}, {OVERLAP:,} before the last anchor; views"
                    " not refolded (`verify --full` checks the whole log and the views)"
                )
            say(
                f"ok: {report.events} events, hash chain intact, {views};"
                f" {report.journal_records} journal records, chain intact; {head_text}; storage: {storage};"
                f" {_anchoring(report.heads_checked)}"
            )
    if not report.ok:
        raise typer.Exit(1)


def _anchoring(heads: int) -> str:
    """What the recorded heads checked say about writes lost from the end of the log."""
    if heads:
        return f"{heads} anchored head{'s' if heads > 1 else ''} in the chain"
    return (
        "0 anchored heads: writes lost from the end of the log (a store replaced, rolled back or"
        " stripped of its write-ahead log) leave a sound, shorter chain, which only heads recorded"
        " outside the database can tell (`orderledger head >> heads.log`, `verify --heads-file`)"
    )


def head(as_json: JsonOption = False) -> None:
    """Print the chain's head (ID:HASH) to record outside the database: `orderledger head >> heads.txt`."""
    with open_ledger(create=False) as ledger:
        found = ledger.handle(ChainHead())
    if as_json:
        print_json(Head.json_of(found))
    elif found is None:
        warn("the log is empty: no head yet")
    else:
        say(str(found))


def export(
    table: Annotated[str, typer.Argument(help="trades, orders, events, lots, closed-lots, or lake DIR.")],
    directory: Annotated[
        str | None, typer.Argument(metavar="[DIR]", help="lake: the lake's directory.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv, jsonl or parquet.")] = "jsonl",
    out_path: Annotated[str, typer.Option("--out", help="File to write, or - for standard output.")] = "",
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
    raw: Annotated[
        bool,
        typer.Option(
            "--raw", help="csv: write every cell as stored, also those a spreadsheet would run as a formula."
        ),
    ] = False,
    cost_basis: Annotated[str, typer.Option("--cost-basis", help="Lots: fifo, lifo or hifo.")] = "fifo",
) -> None:
    """Export trades, orders, the whole event log, or tax lots (open, or closed under
    --cost-basis) for analytics or an accountant (status on stderr with --out -); `export lake DIR`
    appends what is new to a Parquet lake (docs/analytics.md)."""
    if table == "lake":
        if not directory:
            raise InvalidInputError("export lake needs DIR, the lake's directory")
        # Imported here: the lake's command module loads for ``export lake`` only, never for the
        # log's and the journal's lists that live in this module.
        from orderledger.infrastructure.cli import analytics

        analytics.export_lake(directory)
        return
    if directory is not None:
        raise InvalidInputError(f"export {table} takes no DIR (give --out PATH)")
    check_export(table, fmt, raw)  # before the ledger is opened
    if not out_path:
        raise InvalidInputError("--out PATH is required (- for standard output)")
    to_stdout = out_path == "-"
    with open_ledger(create=False) as ledger:
        if table in FROM_VIEWS:
            warn_if_behind(ledger)
        out = (
            cast(io.BufferedIOBase, sys.stdout.buffer) if to_stdout else out_path
        )  # (raw when unbuffered: -u)
        count = ledger.handle(Export(table, out, fmt, force=force, raw=raw, cost_basis=cost_basis))
    if to_stdout:
        sys.stdout.flush()
        warn(f"wrote {count} {table} to standard output ({fmt})")
    else:
        say(f"wrote {count} {table} to {out_path} ({fmt})")


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
    as_json: JsonOption = False,
) -> None:
    """Compare a venue snapshot with the ledger; report differences, or apply corrections.

    Exit 0 when nothing differs (or every correction was applied), 1 when differences remain.
    """
    # Start-up cost: reading a snapshot loads the message models and the venues' adapters
    # (about 40 ms), which the log's and the journal's lists beside this command never use.
    from orderledger.infrastructure.application.upkeep.reconcile import parse_snapshot

    seconds(grace, "--grace", 0, 7 * 86400)
    with open_input(snapshot_file) as handle:
        snapshot = parse_snapshot(handle.read())
    with open_ledger(create=apply) as ledger:  # a dry run is a read: it creates nothing
        report = ledger.venues.reconcile(
            snapshot, apply=apply, grace=timedelta(seconds=grace), origin=f"reconcile:{snapshot_file}"
        )
    found = report.differences
    if as_json:
        print_json(report.to_json())
    else:
        title = f"reconciliation of {report.venue}/{report.account}: {len(found)} differences"
        title += " (applied)" if apply else " (dry run: nothing recorded; --apply to correct)"
        text_table(
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
    if report.unresolved:
        raise typer.Exit(1)


messages_app = typer.Typer(help="The message journal; `messages settle` sets a parked message aside.")
"""``orderledger messages``: the journal listed, and ``settle``."""
messages_app.callback(invoke_without_command=True)(messages)
messages_app.command("settle")(settle)
