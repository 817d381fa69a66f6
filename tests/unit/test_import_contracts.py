"""The import contracts hold as written: no import is excepted by a pattern, and the packages of
``infrastructure/`` import each other one way.

import-linter's contracts (pyproject.toml, ``[tool.importlinter]``) may except imports by
``ignore_imports``; a wildcard there (``adapters.*.feed -> application.*``) excepts imports no
one has read, including those added later, and hides the cycles between packages it lets
through. So an exception, if ever needed, names one import, and the packages are checked here
for cycles from the source itself (every import, annotation-only and lazy ones included), not
from the contracts: a package that imports another which imports it back, through any of their
modules, fails.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from typing import Any

from tests.support.modules import ROOT, cycles, imported_modules, project_modules

INFRASTRUCTURE = "orderledger.infrastructure"


def wildcard_ignores(config: Mapping[str, Any]) -> list[str]:
    """The ``ignore_imports`` entries of the contracts that match by a pattern (``*``)."""
    contracts = config.get("contracts", [])
    assert isinstance(contracts, list)
    return [
        f"{contract['name']}: {entry}"
        for contract in contracts
        for entry in contract.get("ignore_imports", [])
        if "*" in entry
    ]


def package_graph(imports: dict[str, set[str]], container: str) -> dict[str, set[str]]:
    """The children of ``container`` (packages and modules) and which others each imports,
    through any of its modules."""

    def child(module: str) -> str | None:
        if not module.startswith(container + "."):
            return None
        return container + "." + module[len(container) + 1 :].split(".")[0]

    graph: dict[str, set[str]] = {}
    for module, targets in imports.items():
        source = child(module)
        if source is None:
            continue
        found = graph.setdefault(source, set())
        found.update(target for target in map(child, targets) if target is not None and target != source)
    return graph


def test_no_contract_excepts_imports_by_a_pattern() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert wildcard_ignores(config) == []


def test_no_package_of_infrastructure_imports_one_that_imports_it_back() -> None:
    imports = {name: imported_modules(path)[0] for name, path in project_modules().items()}
    graph = package_graph(imports, INFRASTRUCTURE)
    assert len(graph) > 10  # every package and module of infrastructure/ is read
    assert cycles(graph) == []


def test_the_checks_see_a_wildcard_and_a_package_cycle() -> None:
    # Given a contract excepting a venue's feed by a pattern, and one naming a single import
    config = {
        "contracts": [
            {"name": "layers", "ignore_imports": ["a.*.feed -> a.application.*"]},
            {"name": "acyclic", "ignore_imports": ["a.x -> a.y"]},
        ]
    }
    # Then only the pattern is reported
    assert wildcard_ignores(config) == ["layers: a.*.feed -> a.application.*"]
    # Given modules whose packages import each other through different modules
    imports = {
        "c.adapters.v.feed": {"c.application.feeds"},
        "c.application.writes.recording": {"c.adapters.venue_registry"},
        "c.collect.runner": {"c.application.ledger"},
        "c.errors": set(),
    }
    # Then the two packages form a cycle, and the one-way import of collect does not
    graph = package_graph(imports, "c")
    assert graph == {
        "c.adapters": {"c.application"},
        "c.application": {"c.adapters"},
        "c.collect": {"c.application"},
        "c.errors": set(),
    }
    assert cycles(graph) == [{"c.adapters", "c.application"}]
