"""Every call the HTTP layer makes into the ledger's Python API, in one place.

The routes never touch ``OrderLedger``, the query functions or the database themselves: they
call a method here (from a worker thread, since each call blocks on the database). When the
Python API grows typed methods, this module is the only one to change.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.values import parse_timestamp
from orderledger.infrastructure.application.collectors import CollectorRow
from orderledger.infrastructure.application.display import Precision
from orderledger.infrastructure.application.ledger import IngestReport, OrderLedger
from orderledger.infrastructure.application.queries import parse_marks
from orderledger.infrastructure.application.recording import result_record
from orderledger.infrastructure.http.listing import Listed
from orderledger.infrastructure.http.verifying import write_progress
from orderledger.infrastructure.ingest.processing import Result
from orderledger.infrastructure.listing import Page


@dataclass(frozen=True)
class LogEntry:
    """One committed event of the global log, as the stream sends it."""

    position: int
    type: str
    record: dict[str, Any]


def _time(value: str | None, name: str) -> datetime | None:
    return None if value is None else parse_timestamp(value, name)


def _json_page(rows: Page[Any]) -> Page[dict[str, Any]]:
    return rows.with_rows(row.to_json() for row in rows)


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
        options: Mapping[str, Any] | None = None,
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
            options=options,
            on_batch=results.extend,
        )
        if not report.stored:  # a refused strict batch: on_batch was not called
            results = report.rejected
        return report_record(report, results)

    def reconcile(self, snapshot: bytes, *, apply: bool, grace_seconds: float, origin: str) -> dict[str, Any]:
        """Compare a venue snapshot with the ledger; record the corrections only when ``apply``."""
        grace = timedelta(seconds=grace_seconds)
        return self.ledger.reconcile(snapshot, apply=apply, grace=grace, origin=origin).to_json()

    def settle(self, message_id: int, terms: dict[str, Any], *, origin: str) -> dict[str, Any]:
        """Settle a parked message (``terms``: reason, by, book, account); the journal line that
        records it."""
        book = terms.get("book", False)
        if not isinstance(book, bool):
            raise InvalidInputError("book must be true or false", field="book")
        account = terms.get("account")
        if account is not None and not isinstance(account, str):
            raise InvalidInputError("account must be text", field="account")
        reason, by = terms.get("reason"), terms.get("by")
        if not isinstance(reason, str):
            raise InvalidInputError("a settlement needs a reason (text)", field="reason")
        if not isinstance(by, str):
            raise InvalidInputError("a settlement needs who settles it: by (text)", field="by")
        settled = self.ledger.settle(
            message_id,
            reason=reason,
            by=by,
            book=book,
            account=account,
            origin=origin,
        )
        return {"message_id": message_id, "settled_by": settled, "action": "booked" if book else "set_aside"}

    # ------------------------------------------------------------------ orders

    def orders(self, *, open_only: bool, as_of: str | None, **page: Any) -> Page[dict[str, Any]]:
        """A page of orders (``page``: the filters and paging of ``http.listing.ListQuery``)."""
        return self._shown_page(self.ledger.orders(open=open_only, as_of=_time(as_of, "as_of"), **page))

    def order(self, key: str, *, version: int | None, as_of: str | None) -> dict[str, Any]:
        return self.ledger.order(key, version=version, as_of=_time(as_of, "as_of")).snapshot()

    def history(self, key: str) -> list[dict[str, Any]]:
        """Every event of one order beside the raw message that caused it."""
        return [entry.to_log_json() for entry in self.ledger.history(key)]

    # ------------------------------------------------------------------ views

    def trades(self, **page: Any) -> Page[dict[str, Any]]:
        """A page of the trade blotter."""
        return self._shown_page(self.ledger.trades(**page))

    def positions(self, marks: list[str], cost_basis: str | None = None, **page: Any) -> Page[dict[str, Any]]:
        """A page of positions (``page``: the filters and paging of ``http.listing.ListQuery``)."""
        return self._shown_page(
            self.ledger.positions(marks=parse_marks(marks), cost_basis=cost_basis, **page)
        )

    def instruments(self, *, every_version: bool, **page: Any) -> Page[dict[str, Any]]:
        """A page of instrument definitions."""
        return _json_page(self.ledger.instruments(every_version=every_version, **page))

    def parents(self, **page: Any) -> Page[dict[str, Any]]:
        """A page of parents and their child orders."""
        return _json_page(self.ledger.parents(**page))

    def lots(self, cost_basis: str, closed: bool) -> list[dict[str, Any]]:
        return self._shown(self.ledger.lots(cost_basis=cost_basis, closed=closed))

    def pnl(self, by: str, cost_basis: str | None = None) -> list[dict[str, Any]]:
        return self._shown(self.ledger.pnl(by=by, cost_basis=cost_basis), Precision())

    def pnl_daily(self, by: str, cost_basis: str | None = None) -> list[dict[str, Any]]:
        return self._shown(self.ledger.pnl_daily(by=by, cost_basis=cost_basis), Precision())

    def folds_log(self, cost_basis: str | None) -> bool:
        """Whether positions and P&L under ``cost_basis`` (None: the ledger's rule) are folded
        from the log (a lot rule) rather than read from the live views (average cost)."""
        return cost_basis is not None or self.ledger.cost_basis() != "average"

    def _shown(self, rows: Iterable[Any], precision: Precision | None = None) -> list[dict[str, Any]]:
        """Rows as ``to_json`` writes them (exact), each with the one extra field ``precision``:
        the decimal places the page shows its figures to (``application.display``)."""
        add = (precision or Precision.of(self.ledger)).add
        return [add(row.to_json()) for row in rows]

    def execution_quality(self, by: str, since: str | None, until: str | None) -> list[dict[str, Any]]:
        """Execution quality per group (``OrderLedger.execution_quality``; analytics.py route)."""
        rows = self.ledger.execution_quality(by=by, since=_time(since, "since"), until=_time(until, "until"))
        return [row.to_json() for row in rows]

    def _shown_page(self, rows: Page[Any], precision: Precision | None = None) -> Page[dict[str, Any]]:
        """A page's rows as :meth:`_shown` gives them, with its cursor and count."""
        return rows.with_rows(self._shown(rows, precision))

    def pnl_series(self, points: int | None = None) -> list[dict[str, Any]]:
        return [row.to_json() for row in self.ledger.pnl_series(points=points)]

    def views_at(self) -> tuple[int, int, str]:
        """The log's last position, the views' (the slowest's) and the ledger's cost-basis rule:
        an answer from the views stays the same while all three do (``db cost-basis`` changes the
        rule under a running server)."""
        lag = self.ledger.views_lag()
        return lag.log_end, lag.position, self.ledger.cost_basis()

    def views_behind(self) -> int:
        """Events of the log the views' answers do not include yet (0: current)."""
        return self.ledger.views_lag().behind

    def listing(self, method: str, *, views: bool, **arguments: Any) -> Listed:
        """A list read's whole answer, made in the thread it runs in (``http.listing.Listed``):
        how far the views are behind (``views``: a list read from them), then the page that
        ``method`` reads with ``arguments``, its rows written as JSON."""
        behind = self.views_behind() if views else None
        return Listed.of(getattr(self, method)(**arguments), behind)

    # ------------------------------------------------------------------ audit

    def events(self, *, types: list[str], event_time: bool, **page: Any) -> Page[dict[str, Any]]:
        """A page of the global log's events."""
        return _json_page(self.ledger.events(types=types, event_time=event_time, **page))

    def messages(self, *, outcome: str | None, parked: bool, **page: Any) -> Page[dict[str, Any]]:
        """A page of the journal (``parked``: the messages still parked)."""
        return _json_page(self.ledger.messages(outcome=outcome, parked=parked, **page))

    def verify(self, progress_file: str | None = None) -> dict[str, Any]:
        """Every section ``orderledger verify --full --json`` prints, with its reasons;
        ``progress_file`` (a path the server chose) is rewritten after each chunk of the log with
        the events checked and how many there are (``verifying.py`` reads it)."""
        if progress_file is None:
            return self.ledger.verify().to_json()
        return self.ledger.verify(progress=functools.partial(write_progress, progress_file)).to_json()

    # ------------------------------------------------------------------ the log, for the stream

    def head(self) -> int:
        """The position of the last committed event (0 for an empty log)."""
        return self.ledger.log_position()

    def health(self) -> dict[str, Any]:
        """Liveness: the storage can take writes (else its StoreError) and the database answers;
        with the figures of the collectors running on this ledger (``orderledger collect``)."""
        self.ledger.check_storage()
        collectors = [row.to_json() for row in self.ledger.collectors()]
        return {
            "status": "ok",
            "head": self.head(),
            "cost_basis": self.ledger.cost_basis(),
            "collectors": collectors,
        }

    def collector_rows(self) -> list[CollectorRow]:
        """The collectors running on this ledger (their lease rows), for ``/metrics``."""
        return self.ledger.collectors()

    def log_after(self, position: int, limit: int) -> list[LogEntry]:
        """Up to ``limit`` committed events after ``position``, in log order, each with the
        fields of a ``GET /events`` row."""
        return [LogEntry(r.position, r.type, r.to_json()) for r in self.ledger.events_after(position, limit)]

    def close(self) -> None:
        self.ledger.close()


__all__ = ["LedgerService", "LogEntry"]
