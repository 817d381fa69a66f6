"""The commands' handlers: each command of ``application.commands`` (the writes, limits and
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
from orderledger.infrastructure.application import commands, lazy_imports
from orderledger.infrastructure.application.handlers import Handler, cost_basis
from orderledger.infrastructure.application.ledger_parts import LedgerParts
from orderledger.infrastructure.application.request_base import Request
from orderledger.infrastructure.application.requests import CostBasis
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
    from orderledger.infrastructure.application.writes import recording
    from orderledger.infrastructure.application.writes.placed import Placed
    from orderledger.infrastructure.application.writes.recording import Ingested, IngestReport
    from orderledger.infrastructure.ingest.inbound import Result
else:  # each imported when a command that runs on it is first asked
    maintenance, collector_leases, lake, placing, recording, pretrade = (
        lazy_imports.Module(f"orderledger.infrastructure.application.{name}")
        for name in (
            "upkeep.maintenance",
            "upkeep.collector_leases",
            "analytics.lake",
            "placing",
            "writes.recording",
            "risk.pretrade",
        )
    )


# ---------------------------------------------------------------------- recording (writes)


def _ingest_lines(
    ledger: LedgerParts,
    request: commands.IngestStream | commands.Ingest,
    on_batch: Callable[[list[Result]], None] | None,
) -> IngestReport:
    """Record a request's lines (``IngestStream`` and ``Ingest`` differ only in who is told of
    each batch's results)."""
    return recording.ingest_lines(
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


def ingest_stream(ledger: LedgerParts, request: commands.IngestStream) -> IngestReport:
    return _ingest_lines(ledger, request, request.on_batch)


def ingest_inbound(ledger: LedgerParts, request: commands.IngestInbound) -> IngestReport:
    return recording.ingest_inbound(ledger, request.items, strict=request.strict, on_batch=request.on_batch)


def ingest(ledger: LedgerParts, request: commands.Ingest) -> Ingested:
    results: list[Result] = []
    report = _ingest_lines(ledger, request, results.extend)
    if not report.stored:  # a refused strict batch: on_batch was not called
        results = report.rejected
    return recording.Ingested(report, results)


def record(ledger: LedgerParts, request: commands.Record) -> Result:
    return recording.record(ledger, request.message, origin=request.origin, strict=request.strict)


def place_order(ledger: LedgerParts, request: commands.PlaceOrder) -> Placed:
    return placing.place(ledger, request.spec, origin=request.origin)


def define_instrument(ledger: LedgerParts, request: commands.DefineInstrument) -> Result:
    return recording.define_instrument(
        ledger,
        request.venue,
        request.instrument,
        ts=request.ts,
        source=request.source,
        definition=dict(request.definition),
    )


def load_ccxt_markets(ledger: LedgerParts, request: commands.LoadCcxtMarkets) -> IngestReport:
    return recording.load_ccxt_markets(
        ledger,
        request.markets,
        venue=request.venue,
        ts=request.ts,
        origin=request.origin,
        instrument_of=request.instrument_of,
    )


def settle(ledger: LedgerParts, request: commands.Settle) -> int:
    return recording.settle(
        ledger,
        request.message_id,
        reason=request.reason,
        by=request.by,
        book=request.book,
        account=request.account,
        origin=request.origin,
    )


# ---------------------------------------------------------------------- limits and trading states


def set_limit(ledger: LedgerParts, request: commands.SetLimit) -> Result:
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


def clear_limit(ledger: LedgerParts, request: commands.ClearLimit) -> Result:
    fields = {"scope": request.scope, "target": request.target, "kind": request.kind}
    message = pretrade.fact_message(
        "limit_cleared", request.ts or ledger._clock(), **fields, set_by=request.set_by, reason=request.reason
    )
    return pretrade.record_fact(ledger, message, request.origin)


def set_trading_state(ledger: LedgerParts, request: commands.SetTradingState) -> Result:
    fields = {"account": request.account, "state": request.state, "set_by": request.set_by}
    ts = request.ts or ledger._clock()
    if request.until is not None and request.lasting is not None:
        raise InvalidInputError("a state lifts itself at until or after lasting: give one", field="until")
    until = request.until if request.lasting is None else ts + request.lasting
    if until is not None:
        fields["until"] = format_timestamp(until)
    message = pretrade.fact_message("trading_state", ts, **fields, reason=request.reason)
    return pretrade.record_fact(ledger, message, request.origin)


def respond(ledger: LedgerParts, request: commands.Respond) -> list[Result]:
    # (start-up cost: the responses are loaded by the first commit that moves P&L, or here)
    from orderledger.infrastructure.application.risk import loss_responses

    with ledger._writing:
        return loss_responses.respond(ledger, loss_responses.accounts_with_responses(ledger))


def check(ledger: LedgerParts, request: commands.Check) -> pretrade.CheckResult:
    now = ledger._clock()
    order = pretrade.request_of(request.spec, now)
    with ledger._writing:  # the daily loss rule may record a halt
        return pretrade.check(ledger, order, now)


# ---------------------------------------------------------------------- the views


def catch_up(ledger: LedgerParts, request: commands.CatchUp) -> CatchUpStats:
    with ledger._writing:
        stats = ledger.views.catch_up()
        ledger.views.finish(stored=True)
        return stats


def rebuild(ledger: LedgerParts, request: commands.Rebuild) -> tuple[int, float]:
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


def set_cost_basis(ledger: LedgerParts, request: commands.SetCostBasis) -> str:
    rule = cost_basis_named(request.cost_basis)
    with ledger._writing:
        previous = cost_basis(ledger, CostBasis())
        if rule != previous:
            ledger.recorder.set_setting(COST_BASIS_SETTING, rule)
    return previous


def rotate_cursor_secret(ledger: LedgerParts, request: commands.RotateCursorSecret) -> None:
    with ledger._writing:
        cursors.rotate(ledger.db)


def init_database(ledger: LedgerParts, request: commands.InitDatabase) -> list[str]:
    return maintenance.set_up(ledger, request.app_role, request.password, request.cost_basis)


# ---------------------------------------------------------------------- exports


def export(ledger: LedgerParts, request: commands.Export) -> int:
    return maintenance.export(
        ledger,
        request.table,
        request.out,
        fmt=request.format,
        force=request.force,
        raw=request.raw,
        cost_basis=request.cost_basis,
    )


def export_lake(ledger: LedgerParts, request: commands.ExportLake) -> LakeReport:
    return lake.export_lake(ledger, request.directory)


# ---------------------------------------------------------------------- collectors' leases


def collector_lease(ledger: LedgerParts, request: commands.CollectorLease) -> None:
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


def collector_heartbeat(ledger: LedgerParts, request: commands.CollectorHeartbeat) -> None:
    collector_leases.heartbeat(
        ledger.db,
        request.venue,
        request.account,
        request.owner,
        collector_leases.wall_clock(),
        request.figures,
    )


def collector_release(ledger: LedgerParts, request: commands.CollectorRelease) -> None:
    collector_leases.release(ledger.db, request.venue, request.account, request.owner)


COMMAND_HANDLERS: dict[type[Request[Any]], Handler] = {
    commands.IngestStream: ingest_stream,
    commands.IngestInbound: ingest_inbound,
    commands.Ingest: ingest,
    commands.Record: record,
    commands.PlaceOrder: place_order,
    commands.DefineInstrument: define_instrument,
    commands.LoadCcxtMarkets: load_ccxt_markets,
    commands.Settle: settle,
    commands.SetLimit: set_limit,
    commands.ClearLimit: clear_limit,
    commands.SetTradingState: set_trading_state,
    commands.Respond: respond,
    commands.Check: check,
    commands.CatchUp: catch_up,
    commands.Rebuild: rebuild,
    commands.SetCostBasis: set_cost_basis,
    commands.RotateCursorSecret: rotate_cursor_secret,
    commands.InitDatabase: init_database,
    commands.Export: export,
    commands.ExportLake: export_lake,
    commands.CollectorLease: collector_lease,
    commands.CollectorHeartbeat: collector_heartbeat,
    commands.CollectorRelease: collector_release,
}
"""Each command (``application.commands.COMMANDS``) and the function here that answers it."""


__all__ = ["COMMAND_HANDLERS"]
