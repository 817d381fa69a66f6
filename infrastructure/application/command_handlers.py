"""The commands' handlers: each command of ``application.command_requests`` (the writes, limits and
trading states, the views' catch-up and rebuild, the ledger's settings, exports and the
collectors' leases) and the function that answers it, paired in one literal table
(``COMMAND_HANDLERS``, at the end).

``application.bootstrap`` imports this module when the first command is asked, with the
commands' classes: a process that only reads loads neither. What a command runs on (ingest, the
upkeep, the risk controls, the lake, the collectors' leases) is imported when that command is
first asked (``application.lazy_imports``), so a write imports no export, verify or lake.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.values import format_timestamp
from orderledger.infrastructure.application import command_requests, lazy_imports
from orderledger.infrastructure.application.handlers import Handler, cost_basis
from orderledger.infrastructure.application.ledger_protocol import LedgerParts
from orderledger.infrastructure.application.requests import CostBasis
from orderledger.infrastructure.application.typed_request import Request
from orderledger.infrastructure.storage import cursors, lot_heads, pnl_runs
from orderledger.infrastructure.storage.views import CatchUpStats
from orderledger.projections.lots import COST_BASIS_SETTING, cost_basis_named
from orderledger.projections.positions import PositionsProjection

if TYPE_CHECKING:
    from orderledger.infrastructure.application import placing
    from orderledger.infrastructure.application.analytics import lake
    from orderledger.infrastructure.application.analytics.lake import LakeReport
    from orderledger.infrastructure.application.risk import pretrade
    from orderledger.infrastructure.application.upkeep import collector_leases, maintenance
    from orderledger.infrastructure.application.writes import recording, translating
    from orderledger.infrastructure.application.writes.place_answer import Placed
    from orderledger.infrastructure.application.writes.recording import Ingested, IngestReport
    from orderledger.infrastructure.ingest.inbound import Result
else:  # each imported when a command that runs on it is first asked
    maintenance, collector_leases, lake, placing, recording, translating, pretrade = (
        lazy_imports.Module(f"orderledger.infrastructure.application.{name}")
        for name in (
            "upkeep.maintenance",
            "upkeep.collector_leases",
            "analytics.lake",
            "placing",
            "writes.recording",
            "writes.translating",
            "risk.pretrade",
        )
    )


# ---------------------------------------------------------------------- recording (writes)


def _ingest_lines(
    ledger: LedgerParts,
    request: command_requests.IngestStream | command_requests.Ingest,
    on_batch: Callable[[list[Result]], None] | None,
) -> IngestReport:
    """Record a request's lines (``IngestStream`` and ``Ingest`` differ only in who is told of
    each batch's results)."""
    return translating.ingest_lines(
        ledger,
        request.lines,
        origin=request.origin,
        strict=request.strict,
        on_batch=on_batch,
        fmt=request.format,
        venue=request.venue,
        account=request.account,
        options=dict(request.options),
    )


def ingest_stream(ledger: LedgerParts, request: command_requests.IngestStream) -> IngestReport:
    return _ingest_lines(ledger, request, request.on_batch)


def ingest_inbound(ledger: LedgerParts, request: command_requests.IngestInbound) -> IngestReport:
    return recording.ingest_inbound(ledger, request.items, strict=request.strict, on_batch=request.on_batch)


def ingest(ledger: LedgerParts, request: command_requests.Ingest) -> Ingested:
    results: list[Result] = []
    report = _ingest_lines(ledger, request, results.extend)
    if not report.stored:  # a refused strict batch: on_batch was not called
        results = report.rejected
    return recording.Ingested(report, results)


def record(ledger: LedgerParts, request: command_requests.Record) -> Result:
    return recording.record(ledger, request.message, origin=request.origin, strict=request.strict)


def place_order(ledger: LedgerParts, request: command_requests.PlaceOrder) -> Placed:
    return placing.place(ledger, request.spec, origin=request.origin)


def define_instrument(ledger: LedgerParts, request: command_requests.DefineInstrument) -> Result:
    return recording.define_instrument(
        ledger,
        request.venue,
        request.instrument,
        ts=request.ts,
        source=request.source,
        definition=dict(request.definition),
    )


def load_ccxt_markets(ledger: LedgerParts, request: command_requests.LoadCcxtMarkets) -> IngestReport:
    return recording.load_ccxt_markets(
        ledger,
        request.markets,
        venue=request.venue,
        ts=request.ts,
        origin=request.origin,
        instrument_of=request.instrument_of,
    )


def settle(ledger: LedgerParts, request: command_requests.Settle) -> int:
    return translating.settle(
        ledger,
        request.message_id,
        reason=request.reason,
        by=request.by,
        book=request.book,
        account=request.account,
        origin=request.origin,
    )


# ---------------------------------------------------------------------- limits and trading states


def set_limit(ledger: LedgerParts, request: command_requests.SetLimit) -> Result:
    fields = {
        "scope": request.scope,
        "target": request.target,
        "kind": request.kind,
        "value": str(request.value),
        "interval": request.interval,
        "response": request.response,
    }
    message = pretrade.fact_message(
        "limit_set", request.ts or ledger._clock(), **fields, set_by=request.set_by, reason=request.reason
    )
    return pretrade.record_fact(ledger, message, request.origin)


def clear_limit(ledger: LedgerParts, request: command_requests.ClearLimit) -> Result:
    fields = {"scope": request.scope, "target": request.target, "kind": request.kind}
    message = pretrade.fact_message(
        "limit_cleared", request.ts or ledger._clock(), **fields, set_by=request.set_by, reason=request.reason
    )
    return pretrade.record_fact(ledger, message, request.origin)


def set_trading_state(ledger: LedgerParts, request: command_requests.SetTradingState) -> Result:
    fields = {"account": request.account, "state": request.state, "set_by": request.set_by}
    ts = request.ts or ledger._clock()
    if request.until is not None and request.lasting is not None:
        raise InvalidInputError("a state lifts itself at until or after lasting: give one", field="until")
    until = request.until if request.lasting is None else ts + request.lasting
    if until is not None:
        fields["until"] = format_timestamp(until)
    message = pretrade.fact_message("trading_state", ts, **fields, reason=request.reason)
    return pretrade.record_fact(ledger, message, request.origin)


def respond(ledger: LedgerParts, request: command_requests.Respond) -> list[Result]:
    # (start-up cost: the responses are loaded by the first commit that moves P&L, or here)
    from orderledger.infrastructure.application.risk import loss_responses

    with ledger._writing:
        return loss_responses.respond(ledger, loss_responses.accounts_with_responses(ledger))


def check(ledger: LedgerParts, request: command_requests.Check) -> pretrade.CheckResult:
    now = ledger._clock()
    order = pretrade.request_of(request.spec, now)
    with ledger._writing:  # the daily loss rule may record a halt
        return pretrade.check(ledger, order, now)


# ---------------------------------------------------------------------- the views


def catch_up(ledger: LedgerParts, request: command_requests.CatchUp) -> CatchUpStats:
    with ledger._writing:
        stats = ledger.views.catch_up()
        ledger.views.finish(stored=True)
        return stats


def rebuild(ledger: LedgerParts, request: command_requests.Rebuild) -> tuple[int, float]:
    known = list(ledger.views.by_name)
    chosen = known if request.names is None else list(request.names)
    unknown = [n for n in chosen if n not in known]
    if unknown:
        raise InvalidInputError(f"no view is named {unknown[0]!r}: the views are {', '.join(known)}")
    if not chosen:
        raise InvalidInputError(f"name at least one view: {', '.join(known)}")
    with ledger._writing:
        done = ledger.views.rebuild(chosen, progress=request.progress, jobs=request.jobs)
        with ledger.db.write() as tx:
            if request.names is None:  # every view: the lot rules' heads are folded again too
                lot_heads.forget(tx)
            if PositionsProjection.name in chosen:  # the P&L entries' running sums, summed again
                pnl_runs.forget(tx)
        return done


# ---------------------------------------------------------------------- the ledger's settings


def set_cost_basis(ledger: LedgerParts, request: command_requests.SetCostBasis) -> str:
    rule = cost_basis_named(request.cost_basis)
    with ledger._writing:
        previous = cost_basis(ledger, CostBasis())
        if rule != previous:
            ledger.recorder.set_setting(COST_BASIS_SETTING, rule)
    return previous


def rotate_cursor_secret(ledger: LedgerParts, request: command_requests.RotateCursorSecret) -> None:
    with ledger._writing:
        cursors.rotate(ledger.db)


def init_database(ledger: LedgerParts, request: command_requests.InitDatabase) -> list[str]:
    return maintenance.set_up(ledger, request.app_role, request.password, request.cost_basis)


# ---------------------------------------------------------------------- exports


def export(ledger: LedgerParts, request: command_requests.Export) -> int:
    return maintenance.export(
        ledger,
        request.table,
        request.out,
        fmt=request.format,
        force=request.force,
        raw=request.raw,
        cost_basis=request.cost_basis,
    )


def export_lake(ledger: LedgerParts, request: command_requests.ExportLake) -> LakeReport:
    return lake.export_lake(ledger, request.directory)


# ---------------------------------------------------------------------- collectors' leases


def collector_lease(ledger: LedgerParts, request: command_requests.CollectorLease) -> None:
    stale_after = request.stale_after or collector_leases.STALE_AFTER
    collector_leases.take(
        ledger.db,
        request.venue,
        request.account,
        request.owner,
        request.pid,
        collector_leases.wall_clock(),
        stale_after,
    )


def collector_heartbeat(ledger: LedgerParts, request: command_requests.CollectorHeartbeat) -> None:
    collector_leases.heartbeat(
        ledger.db,
        request.venue,
        request.account,
        request.owner,
        collector_leases.wall_clock(),
        request.figures,
    )


def collector_release(ledger: LedgerParts, request: command_requests.CollectorRelease) -> None:
    collector_leases.release(ledger.db, request.venue, request.account, request.owner)


COMMAND_HANDLERS: dict[type[Request[Any]], Handler] = {
    command_requests.IngestStream: ingest_stream,
    command_requests.IngestInbound: ingest_inbound,
    command_requests.Ingest: ingest,
    command_requests.Record: record,
    command_requests.PlaceOrder: place_order,
    command_requests.DefineInstrument: define_instrument,
    command_requests.LoadCcxtMarkets: load_ccxt_markets,
    command_requests.Settle: settle,
    command_requests.SetLimit: set_limit,
    command_requests.ClearLimit: clear_limit,
    command_requests.SetTradingState: set_trading_state,
    command_requests.Respond: respond,
    command_requests.Check: check,
    command_requests.CatchUp: catch_up,
    command_requests.Rebuild: rebuild,
    command_requests.SetCostBasis: set_cost_basis,
    command_requests.RotateCursorSecret: rotate_cursor_secret,
    command_requests.InitDatabase: init_database,
    command_requests.Export: export,
    command_requests.ExportLake: export_lake,
    command_requests.CollectorLease: collector_lease,
    command_requests.CollectorHeartbeat: collector_heartbeat,
    command_requests.CollectorRelease: collector_release,
}
"""Each command (``application.command_requests.COMMANDS``) and the function here that answers it."""


__all__ = ["COMMAND_HANDLERS"]
