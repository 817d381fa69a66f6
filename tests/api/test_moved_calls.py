"""The ledger's calls grouped by concern keep their flat names for the deprecation period: each
flat name warns, naming its group's call and the release that removes it, and hands its
arguments to that call and its answer back (docs/glossary.md, "Moved calls")."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from orderledger import AsyncOrderLedger, OrderLedger
from orderledger.infrastructure.application.aio import (
    AsyncAnalytics,
    AsyncAudit,
    AsyncMovedCalls,
    AsyncRiskControls,
    AsyncUpkeep,
    AsyncVenues,
)
from orderledger.infrastructure.application.ledger_groups import (
    Analytics,
    Audit,
    MovedCalls,
    RiskControls,
    Upkeep,
    Venues,
)

MOVED = {
    "risk_controls": (
        "exposure limits set_limit clear_limit trading_states set_trading_state denials respond risk_replay"
    ),
    "audit": "verify head order_events iter_events events_after messages iter_messages",
    "analytics": "lots cost_basis set_cost_basis pnl_daily pnl_series export export_lake execution_quality",
    "upkeep": (
        "init_database check_storage catch_up views_position views_lag view_names rebuild"
        " rotate_cursor_secret collector_lease collector_heartbeat collector_release collectors"
    ),
    "venues": "define_instrument load_ccxt_markets instruments reconcile last_venue_time settle",
}
"""Each group's calls whose flat names stay (docs/python.md, "The calls grouped by concern")."""
ALIASES = [(group, name) for group, names in MOVED.items() for name in names.split()]
GROUPS: dict[str, type] = {
    "risk_controls": RiskControls,
    "audit": Audit,
    "analytics": Analytics,
    "upkeep": Upkeep,
    "venues": Venues,
}
ASYNC_GROUPS: dict[str, type] = {
    "risk_controls": AsyncRiskControls,
    "audit": AsyncAudit,
    "analytics": AsyncAnalytics,
    "upkeep": AsyncUpkeep,
    "venues": AsyncVenues,
}
# the iterators and the property are the synchronous ledger's only
NOT_ASYNC = {"iter_events", "iter_messages", "view_names"}


def _warning(group: str, name: str, call: str = "()") -> str:
    return re.escape(f"{name}{call} is deprecated since 0.3.0 and removed in 1.0.0: use {group}.{name}{call}")


def test_the_moved_calls_are_the_flat_names_the_table_lists() -> None:
    listed = {name for _, name in ALIASES}
    assert {n for n in vars(MovedCalls) if not n.startswith("_")} == listed
    assert {n for n in vars(AsyncMovedCalls) if not n.startswith("_")} == listed - NOT_ASYNC
    # and each group holds its calls (no flat name points at a call its group lacks)
    for group, name in ALIASES:
        assert callable(getattr(GROUPS[group], name)) or name == "view_names"


@pytest.mark.parametrize(("group", "name"), [a for a in ALIASES if a[1] != "view_names"])
def test_a_flat_name_warns_and_hands_its_call_to_its_group(
    group: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the group's call, standing in to record what it is handed
    calls: list[tuple[type, tuple[Any, ...], dict[str, Any]]] = []

    def stand_in(self: Any, *args: Any, **kwargs: Any) -> str:
        calls.append((type(self), args, kwargs))
        return "answered"

    monkeypatch.setattr(GROUPS[group], name, stand_in)
    # When the flat name is called
    with (
        OrderLedger("memory://") as ledger,
        pytest.warns(DeprecationWarning, match=f"^{_warning(group, name)}$"),
    ):
        answered = getattr(ledger, name)("given", keyword=1)
    # Then the group's call had its arguments, and its answer is the flat name's
    assert answered == "answered"
    assert calls == [(GROUPS[group], ("given",), {"keyword": 1})]


@pytest.mark.parametrize(("group", "name"), [a for a in ALIASES if a[1] not in NOT_ASYNC])
def test_an_async_flat_name_warns_and_hands_its_call_to_its_group(
    group: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[type, tuple[Any, ...], dict[str, Any]]] = []

    async def stand_in(self: Any, *args: Any, **kwargs: Any) -> str:
        calls.append((type(self), args, kwargs))
        return "answered"

    monkeypatch.setattr(ASYNC_GROUPS[group], name, stand_in)

    async def main() -> str:
        ledger = AsyncOrderLedger("memory://")
        try:
            # the warning is raised at the call, in the caller's task, before anything is awaited
            with pytest.warns(DeprecationWarning, match=f"^{_warning(group, name)}$"):
                pending = getattr(ledger, name)("given", keyword=1)
            found: str = await pending
            return found
        finally:
            await ledger.close()

    assert asyncio.run(main()) == "answered"
    assert calls == [(ASYNC_GROUPS[group], ("given",), {"keyword": 1})]


def test_the_flat_names_answer_as_their_groups_do() -> None:
    with OrderLedger("memory://") as ledger:
        ledger.risk_controls.set_limit("account", "alpha", "max_position", "5", set_by="ops")
        with pytest.warns(DeprecationWarning):
            assert ledger.cost_basis() == ledger.analytics.cost_basis() == "average"
        with pytest.warns(DeprecationWarning):
            assert ledger.limits() == ledger.risk_controls.limits()
        with pytest.warns(DeprecationWarning, match=f"^{_warning('audit', 'verify')}$"):
            assert ledger.verify().ok and ledger.audit.verify().ok
        with pytest.warns(DeprecationWarning, match=f"^{_warning('upkeep', 'view_names', '')}$"):
            assert ledger.view_names == ledger.upkeep.view_names != []


def test_the_async_flat_names_answer_as_their_groups_do() -> None:
    async def main() -> None:
        async with AsyncOrderLedger("memory://") as ledger:
            await ledger.risk_controls.set_limit("account", "alpha", "max_position", "5", set_by="ops")
            with pytest.warns(DeprecationWarning):
                flat = ledger.limits()
            assert await flat == await ledger.risk_controls.limits() != []
            with pytest.warns(DeprecationWarning):
                lag = ledger.views_lag()
            assert (await lag).behind == (await ledger.upkeep.views_lag()).behind == 0

    asyncio.run(main())
