"""A module's file name says what it holds, and one name means one thing across the layers.

A reader who meets ``limits.py`` in two layers expects the same subject in both. So a module
basename used in more than one layer (``domain``, ``projections``, the entry ``orderledger``, and
each package of ``infrastructure``: ``cli``, ``http``, ``application`` …) must be one concern seen
from each of them, listed below with why; any other repeat is a name to change. And a name that
says nothing of what its module holds (``parts.py``, ``fates.py``, ``caches.py`` …) is not used.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("domain", "projections", "infrastructure", "orderledger")

SAME_CONCERN = {
    "risk.py": "the limits and trading states: the rules (domain), their view (projections), the "
    "commands (cli) and the routes (http)",
    "exposure.py": "exposure: its rules (domain), its command (cli) and its route (http)",
    "orders.py": "orders: their view (projections), their result rows (results), and how each "
    "venue's adapter reads them (adapters)",
    "trades.py": "trades: their view (projections), their rows (results), how ccxt's are read (adapters)",
    "positions.py": "positions: their fold (projections) and their rows (results)",
    "cash_flows.py": "cash flows: their rules (domain) and their view (projections)",
    "fees.py": "a fill's fee: read from FIX (adapters), valued in the P&L currency (projections)",
    "identity.py": "how an order is found besides its client order ID (domain), as FIX names it (adapters)",
    "instruments.py": "instrument definitions: as FIX carries them (adapters), read back (application)",
    "lighter.py": "one venue: its ccxt rules (adapters), its feed (application), its connection (collect)",
    "hyperliquid.py": "one venue: its ccxt rules (adapters), its feed (application), its connection "
    "(collect)",
    "tradier.py": "one venue: its feed (application) and its connection (collect)",
    "errors.py": "the one error tree: its root and the domain's errors (domain), the infrastructure's "
    "branches (infrastructure)",
    "requests.py": "the typed requests (application) and their public import path (orderledger)",
    "audit.py": "the audit side: its commands (cli) and its routes (http)",
    "analytics.py": "analytics: its commands (cli) and its route (http)",
    "admin.py": "administration: its commands (cli) and the schema and role they create (storage)",
    "app.py": "each shell's application object: the typer app (cli), the FastAPI app (http)",
    "metrics.py": "the collectors' Prometheus figures, served by `serve` (http) and by "
    "`collect --metrics-port` (cli)",
}
"""Basenames used in several layers for one concern, each with why."""

VAGUE = frozenset(
    {
        "parts.py",
        "asking.py",
        "filtered.py",
        "slices.py",
        "lazy.py",
        "fates.py",
        "definitions.py",
        "caches.py",
        "placed.py",
    }
)
"""Basenames that say nothing of what their module holds (whose parts, which caches, what
definitions, placed by whom): a module is named for what it holds instead."""


def layer_of(path: Path) -> str:
    """The layer a module belongs to: its top folder, or under ``infrastructure`` its package
    (a module at the top of ``infrastructure`` is of ``infrastructure`` itself)."""
    parts = path.parts
    if parts[0] == "infrastructure" and len(parts) > 2:
        return f"infrastructure.{parts[1]}"
    return parts[0]


def shared_names(paths: Iterable[Path]) -> dict[str, set[str]]:
    """Each basename (``__init__.py`` aside) used in more than one layer, with those layers."""
    layers: dict[str, set[str]] = defaultdict(set)
    for path in paths:
        if path.name != "__init__.py":
            layers[path.name].add(layer_of(path))
    return {name: found for name, found in layers.items() if len(found) > 1}


def modules() -> list[Path]:
    return sorted(p.relative_to(ROOT) for folder in FOLDERS for p in (ROOT / folder).rglob("*.py"))


def test_a_name_in_two_layers_is_found_and_one_layer_is_not() -> None:
    paths = [
        Path("infrastructure/http/limits.py"),
        Path("infrastructure/collect/venues/ccxt/limits.py"),
        Path("infrastructure/adapters/ccxt/venue.py"),
        Path("infrastructure/adapters/fix/venue.py"),
        Path("domain/__init__.py"),
        Path("projections/__init__.py"),
    ]
    assert shared_names(paths) == {"limits.py": {"infrastructure.http", "infrastructure.collect"}}


def test_a_module_name_is_used_in_two_layers_only_for_one_concern() -> None:
    # Given every module of the package's folders
    shared = shared_names(modules())
    # Then each name used in several layers is listed as one concern
    unlisted = sorted(
        f"{name}: {sorted(layers)}" for name, layers in shared.items() if name not in SAME_CONCERN
    )
    assert not unlisted, "a module name used in two layers for two things (rename one):\n" + "\n".join(
        unlisted
    )
    # And every listed name is still shared (the list holds no name gone since)
    assert sorted(set(SAME_CONCERN) - set(shared)) == []


def test_no_module_has_a_name_that_says_nothing_of_what_it_holds() -> None:
    # Given every module of the package's folders
    named = sorted(str(path) for path in modules() if path.name in VAGUE)
    # Then none is named vaguely
    assert named == [], "a module named for nothing it holds (name it for what it holds):\n" + "\n".join(
        named
    )
