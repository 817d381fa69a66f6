"""Modules meet through public names, one way.

* No module imports another's private name (``from orderledger.x import _name``): a name a
  module keeps to itself can change without a second module breaking.
* No import cycle between modules, imports under ``TYPE_CHECKING`` (annotations) and the
  modules ``application.lazy_imports`` imports on first use (``lazy_imports.Module("orderledger....")``)
  included. ``OrderLedger`` (application/ledger.py) hands itself to the helper modules that hold
  its methods' bodies; they name it by the parts they use (``application.ledger_protocol.LedgerParts``),
  never by importing the ledger back.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.modules import cycles, imported_modules, project_modules

MODULES = project_modules()


def test_no_module_imports_another_modules_private_name() -> None:
    taken = {name: imported_modules(path)[1] for name, path in MODULES.items()}
    assert {name: names for name, names in taken.items() if names} == {}


def test_no_import_cycle_annotations_and_lazy_imports_included() -> None:
    graph = {name: imported_modules(path)[0] - {name} for name, path in MODULES.items()}
    assert cycles(graph) == []


def test_an_annotation_only_import_and_a_lazy_one_are_imports(tmp_path: Path) -> None:
    # Given a module that names the ledger under TYPE_CHECKING, and one that imports a module lazily
    typed = tmp_path / "typed.py"
    typed.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from orderledger.infrastructure.application.ledger import OrderLedger\n"
    )
    late = tmp_path / "late.py"
    late.write_text(
        "from orderledger.infrastructure.application import lazy_imports\n"
        'x = lazy_imports.Module("orderledger.infrastructure.application.analytics.execution")\n'
    )
    # Then both are dependencies of theirs
    assert "orderledger.infrastructure.application.ledger" in imported_modules(typed)[0]
    assert "orderledger.infrastructure.application.analytics.execution" in imported_modules(late)[0]


def test_a_cycle_is_found() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
