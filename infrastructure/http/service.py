"""Every call the HTTP layer makes into the ledger's Python API, in one place.

The routes never touch ``OrderLedger``, the query functions or the database themselves: they
call a method here (from a worker thread, since each call blocks on the database). When the
Python API grows typed methods, this module is the only one to change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from orderledger.domain.values import parse_timestamp
from orderledger.infrastructure.application.follow import log_record, read_after
from orderledger.infrastructure.application.ledger import IngestReport, OrderLedger
from orderledger.infrastructure.application.queries import (
    list_orders,
    list_positions,
    list_trades,
    parse_marks,
    pnl_by,
    realized_series,
)
from orderledger.infrastructure.application.reconcile import Reconciler, parse_snapshot
from orderledger.infrastructure.audit.search import (
    EventFilter,
    event_record,
    list_messages,
    orders_as_of,
    search_events,
)
from orderledger.infrastructure.audit.verify import verify
from orderledger.infrastructure.ingest.processing import Result


@dataclass(frozen=True)
class LogEntry:
    """One committed event of the global log, as the stream sends it."""

    position: int
    type: str
    record: dict[str, Any]


def _time(value: str | None, name: str) -> datetime | None:
    return None if value is None else parse_timestamp(value, name)


def _time_text(value: str | None, name: str) -> str | None:
    moment = _time(value, name)
    # The views store times in this exact form, so text comparison orders them correctly.
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def result_record(result: Result) -> dict[str, Any]:
    """What became of one posted input."""
    return {
        "line": result.line_no,
        "outcome": result.outcome,
        "reason": result.reason,
        "client_order_id": result.client_order_id,
        "message_id": result.message_id,
        "events": len(result.events),
    }


def report_record(report: IngestReport, results: list[Result]) -> dict[str, Any]:
    """An ingest's outcome per input, with the counts the CLI prints."""
    return {
        "counts": dict(report.counts),
        "lines": report.lines,
        "events": report.events,
        "stored": report.stored,
        "results": [result_record(r) for r in results],
    }


class LedgerService:
    """The ledger's Python API as the HTTP layer uses it: JSON-ready data in, JSON-ready data out."""

    def __init__(self, ledger: OrderLedger) -> None:
        self.ledger = ledger

    # ------------------------------------------------------------------ writing

    def ingest(
        self,
        lines: Iterable[bytes],
        *,
        origin: str,
        fmt: str = "ledger",
        venue: str | None = None,
        account: str | None = None,
        strict: bool = False,
    ) -> dict[str, Any]:
        """Ingest lines exactly as ``orderledger ingest`` does; durable when this returns."""
        results: list[Result] = []
        report = self.ledger.ingest_lines(
            lines,
            origin=origin,
            fmt=fmt,
            venue=venue,
            account=account,
            strict=strict,
            on_batch=results.extend,
        )
        if not report.stored:  # a refused strict batch: on_batch was not called
            results = report.rejected
        return report_record(report, results)

    def reconcile(self, snapshot: bytes, *, apply: bool, grace_seconds: float, origin: str) -> dict[str, Any]:
        """Compare a venue snapshot with the ledger; record the corrections only when ``apply``."""
        parsed = parse_snapshot(snapshot)
        self.ledger.catch_up()
        reconciler = Reconciler(self.ledger, parsed, grace=timedelta(seconds=grace_seconds))
        found = reconciler.differences()
        if apply:
            reconciler.apply(found, origin=origin)
        return {
            "venue": parsed.venue,
            "account": parsed.account,
            "applied": apply,
            "differences": [d.as_dict() for d in found],
        }

    # ------------------------------------------------------------------ orders

    def orders(
        self,
        *,
        open_only: bool,
        account: str | None,
        venue: str | None,
        instrument: str | None,
        as_of: str | None,
    ) -> list[dict[str, Any]]:
        moment = _time(as_of, "as_of")
        if moment is None:
            return list_orders(
                self.ledger.db, open_only=open_only, account=account, venue=venue, instrument=instrument
            )
        return [
            r
            for r in orders_as_of(self.ledger.db, self.ledger.mapper, moment, open_only=open_only)
            if (account is None or r["account"] == account)
            and (venue is None or r["venue"] == venue)
            and (instrument is None or r["instrument"] == instrument)
        ]

    def order(self, key: str, *, version: int | None, as_of: str | None) -> dict[str, Any]:
        client_order_id = self.ledger.resolve(key)
        moment = _time(as_of, "as_of")
        if moment is not None:
            return self.ledger.order_as_of(client_order_id, moment).snapshot()
        return self.ledger.get_order(client_order_id, version=version).snapshot()

    def history(self, key: str) -> list[dict[str, Any]]:
        """Every event of one order beside the raw message that caused it."""
        entries = self.ledger.history(self.ledger.resolve(key))
        return [
            {
                **event_record(entry.position, entry.event, entry.message_id),
                "message": None
                if entry.message_id is None
                else {
                    "message_id": entry.message_id,
                    "origin": entry.message_origin,
                    "line": entry.message_line,
                    "raw": (entry.message_raw or b"").decode("utf-8", "replace"),
                },
            }
            for entry in entries
        ]

    # ------------------------------------------------------------------ views

    def trades(
        self,
        *,
        account: str | None,
        venue: str | None,
        instrument: str | None,
        order: str | None,
        since: str | None,
        until: str | None,
    ) -> list[dict[str, Any]]:
        return list_trades(
            self.ledger.db,
            account=account,
            venue=venue,
            instrument=instrument,
            client_order_id=self.ledger.resolve(order) if order else None,
            since=_time_text(since, "since"),
            until=_time_text(until, "until"),
        )

    def positions(self, marks: list[str]) -> list[dict[str, Any]]:
        return list_positions(self.ledger.db, parse_marks(marks))

    def pnl(self, by: str) -> list[dict[str, Any]]:
        return pnl_by(self.ledger.db, by)

    def pnl_series(self) -> list[dict[str, Any]]:
        return realized_series(self.ledger.db)

    # ------------------------------------------------------------------ audit

    def events(
        self,
        *,
        types: list[str],
        account: str | None,
        venue: str | None,
        instrument: str | None,
        order: str | None,
        since: str | None,
        until: str | None,
        event_time: bool,
        limit: int,
    ) -> list[dict[str, Any]]:
        wanted = EventFilter(
            types=types,
            account=account,
            venue=venue,
            instrument=instrument,
            client_order_id=self.ledger.resolve(order) if order else None,
            since=_time(since, "since"),
            until=_time(until, "until"),
            event_time=event_time,
        )
        found = search_events(self.ledger.db, self.ledger.mapper, wanted)
        return [event_record(p, e, m) for p, e, m in islice(found, limit)]

    def messages(self, *, outcome: str | None, since: str | None, limit: int) -> list[dict[str, Any]]:
        return list(list_messages(self.ledger.db, outcome=outcome, since=_time(since, "since"), limit=limit))

    def verify(self) -> dict[str, Any]:
        report = verify(self.ledger.db, self.ledger.mapper)
        return {
            "ok": report.ok,
            "events": report.events,
            "head": None if report.head is None else f"{report.head[0]}:{report.head[1]}",
            "broken": report.broken,
            "view_problems": report.view_problems,
        }

    # ------------------------------------------------------------------ the log, for the stream

    def head(self) -> int:
        """The position of the last committed event (0 for an empty log)."""
        return self.ledger.ledger_recorder.max_notification_id() or 0

    def log_after(self, position: int, limit: int) -> list[LogEntry]:
        """Up to ``limit`` committed events after ``position``, in log order."""
        records = (log_record(committed) for committed in read_after(self.ledger, position, limit))
        return [LogEntry(r["position"], r["type"], r) for r in records]

    def close(self) -> None:
        self.ledger.close()


__all__ = ["LedgerService", "LogEntry"]
