"""Every call the HTTP layer makes into the ledger's Python API, in one place.

The routes never touch ``OrderLedger``, the query functions or the database themselves. A read
or a write is a typed request (``orderledger.requests``) the route builds from its parameters and hands to
``LedgerService.answer`` (in a worker thread or process, since it blocks on the database), which
asks the ledger's one dispatch (``OrderLedger.handle``) and writes the answer as JSON-ready data
the way ``SHOWN`` declares for the request's type; a list read is wrapped in :class:`Listing`.
Nothing is called by name: a runner, a bound or a cache is handed the request itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from orderledger.domain.values import format_timestamp
from orderledger.infrastructure.application import requests as asks
from orderledger.infrastructure.application.ledger import IngestReport, OrderLedger
from orderledger.infrastructure.application.reads import order_figures
from orderledger.infrastructure.application.reads.display import Precision
from orderledger.infrastructure.application.reads.follow import log_record
from orderledger.infrastructure.application.upkeep.collector_leases import CollectorRow
from orderledger.infrastructure.application.writes.recording import result_record
from orderledger.infrastructure.http.list_parameters import Listed
from orderledger.infrastructure.ingest.inbound import Result
from orderledger.infrastructure.listing import Page
from orderledger.infrastructure.results.head import Head


@dataclass(frozen=True)
class LogEntry:
    """One committed event of the global log, as the stream sends it."""

    position: int
    type: str
    record: dict[str, Any]


ListRequest = (
    asks.Orders | asks.Trades | asks.Events | asks.Messages | asks.Positions | asks.Instruments | asks.Parents
)
"""A request for a page of a list (each takes one ``Filter``, and ``count``)."""


@dataclass(frozen=True)
class Listing:
    """A list read's whole answer (``LedgerService.answer`` gives a :class:`Listed`): how far the
    views are behind when the list is read from them, then the page ``request`` asks for, its
    rows written as JSON where the read runs."""

    request: ListRequest


Asked = asks.Request[Any] | Listing
"""What the HTTP layer's runners, bounds and caches are handed: a request, or a list read."""


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
    """The ledger's Python API as the HTTP layer uses it: typed requests in, JSON-ready data out."""

    def __init__(self, ledger: OrderLedger) -> None:
        self.ledger = ledger

    def answer(self, asked: Asked) -> Any:
        """The JSON-ready answer to a request (written as ``SHOWN`` says for its type), or a list
        read's :class:`Listed`."""
        if isinstance(asked, Listing):
            behind = self.views_behind() if asked.request.from_views else None
            return Listed.of(self.answer(asked.request), behind)
        return SHOWN[type(asked)](self, self.ledger.handle(asked))

    # ------------------------------------------------------------------ how answers are written

    def folds_log(self, cost_basis: str | None) -> bool:
        """Whether positions and P&L under ``cost_basis`` (None: the ledger's rule) are folded
        from the log (a lot rule) rather than read from the live views (average cost)."""
        return cost_basis is not None or self.ledger.handle(asks.CostBasis()) != "average"

    def from_views(self, question: asks.Positions | asks.Pnl | asks.PnlDaily) -> bool:
        """Whether positions or P&L (under any rule) show the log only up to where the views are:
        positions under average cost, read from the views; ``pnl`` and the daily P&L by parent,
        whose heads stand no further than the orders view; ``pnl`` by another group and the
        daily P&L by account or tag read the books' heads, current with the log, unless a
        connection that may not write finds none (``order_figures.pnl_from_views``,
        ``order_figures.daily_from_views``)."""
        if isinstance(question, asks.Pnl):
            return order_figures.pnl_from_views(self.ledger, question.by, question.cost_basis)
        if isinstance(question, asks.PnlDaily):
            return order_figures.daily_from_views(self.ledger, question.by, question.cost_basis)
        return not self.folds_log(question.cost_basis)

    def shown(self, rows: Iterable[Any], precision: Precision | None = None) -> list[dict[str, Any]]:
        """Rows as ``to_json`` writes them (exact), each with the one extra field ``precision``:
        the decimal places the page shows its figures to (``application.reads.display``)."""
        add = (precision or Precision.of(self.ledger)).add
        return [add(row.to_json()) for row in rows]

    def shown_page(self, rows: Page[Any]) -> Page[dict[str, Any]]:
        """A page's rows as :meth:`shown` gives them, with its cursor and count."""
        return rows.with_rows(self.shown(rows))

    def views_at(self) -> tuple[int, int, int, str]:
        """The log's last position, the views' (the slowest's), how many times books' re-folds
        left for later were done, and the ledger's cost-basis rule: an answer from the views
        stays the same while all four do (``db cost-basis`` changes the rule under a running
        server)."""
        lag = self.ledger.handle(asks.Lag())
        return lag.log_end, lag.position, lag.settles, self.ledger.handle(asks.CostBasis())

    def views_behind(self) -> int:
        """Events of the log the views' answers do not include yet (0: current)."""
        return self.ledger.handle(asks.Lag()).behind

    # ------------------------------------------------------------------ the log, for the stream

    def head(self) -> int:
        """The position of the last committed event (0 for an empty log)."""
        return self.ledger.handle(asks.LogPosition())

    def health(self) -> dict[str, Any]:
        """Liveness: the storage can take writes (else its StoreError) and the database answers;
        with the figures of the collectors running on this ledger (``orderledger collect``)."""
        self.ledger.upkeep.check_storage()
        collectors = [row.to_json() for row in self.collector_rows()]
        return {
            "status": "ok",
            "head": self.head(),
            "cost_basis": self.ledger.handle(asks.CostBasis()),
            "collectors": collectors,
        }

    def collector_rows(self) -> list[CollectorRow]:
        """The collectors running on this ledger (their lease rows), for ``/metrics``."""
        return self.ledger.handle(asks.Collectors())

    def log_after(self, position: int, limit: int) -> list[LogEntry]:
        """Up to ``limit`` committed events after ``position``, in log order, each with the
        fields of a ``GET /events`` row."""
        after = self.ledger.handle(asks.EventsAfter(position, limit))
        return [LogEntry(r.position, r.type, r.to_json()) for r in after]

    def close(self) -> None:
        self.ledger.close()


def _json_rows(service: LedgerService, rows: Iterable[Any]) -> list[dict[str, Any]]:
    return [row.to_json() for row in rows]


def _json_page(service: LedgerService, rows: Page[Any]) -> Page[dict[str, Any]]:
    return rows.with_rows(row.to_json() for row in rows)


def _exact(service: LedgerService, rows: Iterable[Any]) -> list[dict[str, Any]]:
    return service.shown(rows, Precision())


SHOWN: dict[type[asks.Request[Any]], Callable[[LedgerService, Any], Any]] = {
    asks.OrderAt: lambda service, order: order.snapshot(),
    asks.History: lambda service, entries: [entry.to_log_json() for entry in entries],
    asks.Orders: LedgerService.shown_page,
    asks.Trades: LedgerService.shown_page,
    asks.Positions: LedgerService.shown_page,
    asks.Instruments: _json_page,
    asks.Parents: _json_page,
    asks.Events: _json_page,
    asks.Messages: _json_page,
    asks.Lots: LedgerService.shown,
    asks.Pnl: _exact,
    asks.PnlDaily: _exact,
    asks.PnlSeries: _json_rows,
    asks.ExecutionQuality: _json_rows,
    asks.Exposure: _json_rows,
    asks.Verify: lambda service, report: report.to_json(),
    asks.LogPosition: lambda service, position: position,
    asks.Lag: lambda service, lag: {"position": lag.position, "log_end": lag.log_end, "behind": lag.behind},
    asks.EventsAfter: _json_rows,
    asks.Ingest: lambda service, ingested: report_record(ingested.report, ingested.results),
    asks.Reconcile: lambda service, report: report.to_json(),
    asks.Settle: lambda service, settled: settled,
    asks.Limits: _json_rows,
    asks.TradingStates: _json_rows,
    asks.Denials: _json_rows,
    asks.SetTradingState: lambda service, result: result.outcome.value,
    asks.Check: lambda service, result: result.to_json(),
    asks.PlaceOrder: lambda service, placed: placed.to_json(),
    asks.Respond: lambda service, results: [result_record(result) for result in results],
    asks.Risk: _json_rows,
    asks.ReplayLimits: lambda service, result: result.to_json(),
    # the Python API's commands and reads the routes do not ask, each written as its CLI shows it
    asks.IngestStream: lambda service, report: report_record(report, report.rejected),
    asks.IngestInbound: lambda service, report: report_record(report, report.rejected),
    asks.Record: lambda service, result: result_record(result),
    asks.DefineInstrument: lambda service, result: result_record(result),
    asks.LoadCcxtMarkets: lambda service, report: report_record(report, report.rejected),
    asks.SetLimit: lambda service, result: result.outcome.value,
    asks.ClearLimit: lambda service, result: result.outcome.value,
    asks.Resolve: lambda service, client_order_id: client_order_id,
    asks.OrderEvents: lambda service, events: [event.model_dump(mode="json") for event in events],
    asks.IterOrders: _json_rows,
    asks.IterTrades: _json_rows,
    asks.IterEvents: _json_rows,
    asks.IterMessages: _json_rows,
    asks.CommittedAfter: lambda service, entries: [log_record(entry) for entry in entries],
    asks.ChainHead: lambda service, head: Head.json_of(head),
    asks.CatchUp: lambda service, stats: asdict(stats),
    asks.ViewsPosition: lambda service, position: position,
    asks.Rebuild: lambda service, done: {"events": done[0], "seconds": done[1]},
    asks.CostBasis: lambda service, rule: rule,
    asks.SetCostBasis: lambda service, previous: previous,
    asks.RotateCursorSecret: lambda service, nothing: None,
    asks.InitDatabase: lambda service, lines: lines,
    asks.Export: lambda service, rows: rows,
    asks.ExportLake: lambda service, report: report.to_json(),
    asks.CollectorLease: lambda service, nothing: None,
    asks.CollectorHeartbeat: lambda service, nothing: None,
    asks.CollectorRelease: lambda service, nothing: None,
    asks.Collectors: _json_rows,
    asks.LastVenueTime: lambda service, moment: None if moment is None else format_timestamp(moment),
}
"""How the answer to each request the HTTP API asks is written as JSON-ready data: the figures
of orders, trades, positions and lots with the places the page shows them to
(``LedgerService.shown``), P&L exactly, the other rows as their ``to_json``. Every request type
has its entry (``tests/http/test_http_requests.py``)."""


__all__ = ["SHOWN", "Asked", "LedgerService", "Listing", "LogEntry"]
