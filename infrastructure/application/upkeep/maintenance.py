"""The ledger's upkeep: its schema and cost-basis rule, exports, and the audit's verify.

``OrderLedger`` keeps the public methods (their signatures and the argument checks); each
delegates here with itself as ``ledger``, through the one dispatch (``application.bootstrap``),
which imports this module when one of them is first asked: a process that only reads never
loads exports, verify or the schema's setup. What opening a ledger composes (its environment,
mapper and cipher check) is ``application.opening``.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orderledger.domain.errors import InvalidInputError
from orderledger.infrastructure.application.analytics.exports import check_export, write_export
from orderledger.infrastructure.application.reads import pnl_run_slices
from orderledger.infrastructure.audit.anchors import check_anchors, record_anchor
from orderledger.infrastructure.audit.chain_check import Progress
from orderledger.infrastructure.audit.heads import merge_heads
from orderledger.infrastructure.audit.verify import VerifyReport, verify
from orderledger.infrastructure.errors import DatabaseReadOnlyError, StoreError
from orderledger.infrastructure.results.filter import Filter
from orderledger.infrastructure.results.head import Head
from orderledger.infrastructure.storage.admin import init_database
from orderledger.projections.lots import COST_BASIS_SETTING
from orderledger.projections.lots import cost_basis_named as _cost_basis

if TYPE_CHECKING:
    from orderledger.infrastructure.application.ledger_protocol import LedgerParts


def set_up(
    ledger: LedgerParts, app_role: str | None, password: str | None, cost_basis: str | None
) -> list[str]:
    """``OrderLedger.upkeep.init_database``: the schema, the role, and a new ledger's cost-basis rule."""
    rule = None if cost_basis is None else _cost_basis(cost_basis)
    if rule is not None and rule != ledger.analytics.cost_basis() and ledger.log_position():
        raise InvalidInputError(
            f"this ledger already has events under {ledger.analytics.cost_basis()}: change its rule with"
            f" `orderledger db cost-basis {rule} --yes`",
            field="cost_basis",
        )
    done = list(init_database(ledger.db, ledger.recorder, ledger.views, app_role, password))
    if rule is not None:
        ledger.recorder.set_setting(COST_BASIS_SETTING, rule)
        done.append(f"positions and P&L use cost basis {rule}")
    return done


def export(
    ledger: LedgerParts,
    table: str,
    out: str | Path | io.BufferedIOBase | io.RawIOBase,
    *,
    fmt: str,
    force: bool,
    raw: bool,
    cost_basis: str,
) -> int:
    """``OrderLedger.analytics.export``: a whole table written to a file or a binary stream."""
    check_export(table, fmt, raw)
    everything = Filter()
    found: Iterable[Any]
    if table == "trades":
        found = ledger.iter_trades(everything)
    elif table == "orders":
        found = ledger.iter_orders(everything)
    elif table in ("lots", "closed-lots"):
        found = ledger.analytics.lots(cost_basis=cost_basis, closed=table == "closed-lots")
    else:
        found = ledger.audit.iter_events(everything)
    rows = (row.to_json() for row in found)
    return write_export(rows, out, fmt=fmt, raw=raw, force=force, ledger_url=ledger.url)


def verify_ledger(
    ledger: LedgerParts,
    *,
    expect_head: Head | tuple[int, str] | None,
    heads: Mapping[int, str] | None,
    journal_heads: Mapping[int, str] | None,
    deep: bool,
    incremental: bool = False,
    anchor: bool = False,
    progress: Progress | None = None,
) -> VerifyReport:
    """``OrderLedger.audit.verify``: the storage, the chains, the views and the journal checked."""
    expected = None if expect_head is None else _head_pair(expect_head)
    journal = dict(journal_heads or {})
    if isinstance(expect_head, Head) and expect_head.journal is not None:
        journal = merge_heads(journal, [expect_head.journal], "expect_head")
    since = check_anchors(ledger.db).last if incremental else None
    report = verify(
        ledger.db,
        ledger.mapper,
        expect_head=expected,
        heads=heads,
        journal_heads=journal,
        deep=deep,
        since=since,
        progress=progress,
    )
    report.heads_checked = len(heads or {}) + len(journal) + (expected is not None)
    if report.full and report.broken is None:
        # (sums the views' entries: checked first)
        report.view_problems += pnl_run_slices.differences(ledger.db)
    if anchor and report.ok and not ledger.db.url.read_only:
        try:
            if record_anchor(ledger.db, report.head, report.journal_head) is not None:
                report.anchored += 1
        except DatabaseReadOnlyError:
            pass  # read-only: the next verify starts from the anchor before
        except StoreError as error:
            if "permission denied" not in str(error):
                raise  # (an application role not yet granted INSERT on verified likewise)
    return report


def _head_pair(head: Head | tuple[int, str]) -> tuple[int, str] | None:
    if isinstance(head, Head):
        return (head.position, head.hash) if head.position else None
    return head
