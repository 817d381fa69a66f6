"""The public API changes only on purpose, and what it removes is deprecated first.

``tests/api/public_api.txt`` is the pinned surface (``tests/support/public_api.py`` says what it
covers). A difference fails here with the lines that changed: a deliberate change regenerates the
file and says so in CHANGELOG.md.
"""

from __future__ import annotations

import asyncio
import difflib
import re
import tomllib
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import orderledger
from orderledger import AsyncOrderLedger, OrderLedger
from orderledger.domain.order import Order
from orderledger.domain.order_state import STATE
from orderledger.infrastructure.application.deprecated import REMOVED_IN
from tests.support.api_session import SESSION
from tests.support.public_api import PINNED, ROOT, surface

CHANGELOG = ROOT / "CHANGELOG.md"


def test_the_public_api_is_the_pinned_one() -> None:
    pinned, now = PINNED.read_text(encoding="utf-8"), surface()
    if now != pinned:
        changed = "\n".join(
            difflib.unified_diff(pinned.splitlines(), now.splitlines(), "pinned", "now", lineterm="", n=0)
        )
        pytest.fail(
            "the public API changed; if on purpose, run `.venv/bin/python -m tests.support.public_api"
            f" --write` and say it in CHANGELOG.md (a removed name is deprecated first):\n{changed}"
        )


def test_one_version_in_the_package_the_changelog_and_the_http_document() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    released = re.findall(
        r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", CHANGELOG.read_text(), re.MULTILINE
    )
    assert orderledger.__version__ == declared == released[0]
    assert released == sorted(released, key=lambda v: tuple(map(int, v.split("."))), reverse=True)
    assert f'"version": "{declared}"' in (ROOT / "docs" / "openapi.json").read_text()


def _deprecated_names() -> list[str]:
    """``Class.name`` of every deprecated public name, read from the pinned surface."""
    names, owner = [], ""
    for line in PINNED.read_text(encoding="utf-8").splitlines():
        if line.startswith("class "):
            owner = line.split()[1].split("(")[0].rsplit(".", 1)[-1]
        elif "[deprecated:" in line:
            names.append(
                f"{owner}.{re.split(r'[ (]', line.strip())[1 if 'async' not in line.split('(')[0] else 2]}"
            )
    return names


def test_every_deprecated_name_is_in_the_changelog_with_its_removal() -> None:
    sections = CHANGELOG.read_text().split("### Deprecated")[1:]  # each release's
    deprecated = "".join(section.split("\n## ", 1)[0] for section in sections)
    names = _deprecated_names()
    assert names  # get_order and order_as_of, on both ledgers
    for name in names:
        assert f"`{name}`" in deprecated, name
    assert f"Removed in {REMOVED_IN}." in deprecated


@pytest.fixture
def ledger(tmp_path: Path) -> OrderLedger:
    opened = OrderLedger(f"sqlite:///{tmp_path / 'api.db'}")
    for message in SESSION:
        opened.record(message)
    return opened


def _state(order: Order) -> dict[str, Any]:
    """Everything an order's state holds (orders compare by identity)."""
    return {name: getattr(order, name) for name in STATE}


def _warned(call: Callable[[], Any]) -> tuple[Any, list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = call()
    return value, caught


def test_a_deprecated_read_warns_at_the_callers_line_and_answers_as_its_replacement(
    ledger: OrderLedger,
) -> None:
    # A: requested at s=0, 4 filled at s=1 (version 2): partially filled.
    order, caught = _warned(lambda: ledger.get_order("A"))
    assert _state(order) == _state(ledger.order("A"))
    assert [w.category for w in caught] == [DeprecationWarning]
    assert caught[0].filename == __file__
    assert "removed in 1.0.0: use order(order, version=...)" in str(caught[0].message)

    first, _ = _warned(lambda: ledger.get_order("A", version=1))
    assert _state(first) == _state(ledger.order("A", version=1)) and first.filled_quantity == 0

    moment = ledger.order("A").updated_at
    then, caught = _warned(lambda: ledger.order_as_of("A", moment, event_time=True))
    assert _state(then) == _state(ledger.order("A", as_of=moment, event_time=True))
    assert "use order(order, as_of=..., event_time=...)" in str(caught[0].message)
    ledger.close()


def test_the_async_deprecated_reads_warn_in_the_callers_task(ledger: OrderLedger) -> None:
    async def main() -> None:
        async with AsyncOrderLedger(ledger=ledger) as aio:
            order, caught = _warned(lambda: aio.get_order("A"))
            assert _state(await order) == _state(await aio.order("A"))
            assert [w.category for w in caught] == [DeprecationWarning]
            assert caught[0].filename == __file__

    asyncio.run(main())
    ledger.close()
