"""``orders --json`` and ``orders --open --json``, answered before the command line is imported
(``cli.quick``; ``test_start_imports`` bounds what they import): the same text as the Python
API's rows; and every case the stored views alone cannot answer as the command
line would is left to the command line.

Each command runs through the console entry point in a fresh interpreter, on a ledger written
beforehand with the Python API."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from orderledger import Filter, OrderLedger
from tests.support.cli import cli_command, cli_env, through_entry_point
from tests.support.integration import fact, fill, line, request

ROOT = Path(__file__).resolve().parents[2]

COMMAND_LINE = ("typer",)
"""What the command line imports and a quick answer does not (a name covers its submodules)."""


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('quick') / 'ledger.db'}"
    with OrderLedger(url) as ledger:
        ledger.record(request("c-1", quantity="10", tags={"desk": "été"}, parent_id="p-1", post_only=True))
        ledger.record(fact("accepted", "c-1", venue_order_id="v-1"))
        ledger.record(fill("c-1", "t-1", "4"))
        ledger.record(request("c-2", seconds=1, quantity="1"))
        ledger.record(fill("c-2", "t-2", "1", seconds=2))  # filled: closed
        ledger.record(request("c-3", seconds=3, side="sell", price=None, order_type="market"))
    return url


def loaded(database: str, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    return through_entry_point(database, *args, env=env)


def imported(modules: list[str], named: tuple[str, ...] = COMMAND_LINE) -> list[str]:
    return [m for m in modules if any(m == n or m.startswith(n + ".") for n in named)]


def api_rows(database: str, *, open_only: bool) -> list[dict[str, Any]]:
    with OrderLedger(database, create=False) as ledger:
        return [row.to_json() for row in ledger.iter_orders(Filter(), open=open_only)]


def test_the_table_is_what_the_declarations_say() -> None:
    done = subprocess.run(
        [sys.executable, "scripts/quick_table.py"], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.returncode == 0, f"run `python scripts/quick_table.py --write`:\n{done.stdout}"


@pytest.mark.parametrize(
    ("args", "open_only", "ids"),
    [
        (
            ["orders", "--json"],
            False,
            ["c-1", "c-2", "c-3"],
        ),  # by creation time: c-1 at 0 s, c-2 at 1 s, c-3 at 3 s
        (["orders", "--open", "--json"], True, ["c-1", "c-3"]),  # c-2 is filled (1 of 1)
        (["orders", "--json", "--open"], True, ["c-1", "c-3"]),
    ],
    ids=["orders --json", "orders --open --json", "orders --json --open"],
)
def test_a_list_of_orders_is_the_apis_rows(
    database: str, args: list[str], open_only: bool, ids: list[str]
) -> None:
    found = loaded(database, *args)
    assert found["code"] == 0 and found["warnings"] == []
    rows = json.loads(found["out"])
    assert [row["client_order_id"] for row in rows] == ids
    assert rows == api_rows(database, open_only=open_only)
    assert found["out"] == json.dumps(rows, indent=2, ensure_ascii=False) + "\n"


def test_the_shown_forms_are_the_apis(database: str) -> None:
    (first, *_) = json.loads(loaded(database, "orders", "--open", "--json")["out"])
    # c-1: 10 requested, 4 filled, so 6 left; its lists and mappings decoded, its flags booleans
    assert first["filled_quantity"] == "4" and first["leaves_quantity"] == "6"
    assert first["tags"] == {"desk": "été"} and first["venue_order_ids"] == ["v-1"]
    assert first["post_only"] is True and first["external"] is False and first["parent_id"] == "p-1"


@pytest.mark.parametrize(
    "args",
    [
        ["orders"],
        ["orders", "--open"],
        ["orders", "--json", "--limit", "1"],
        ["orders", "--json", "--account", "acc"],
    ],
    ids=" ".join,
)
def test_any_other_list_is_the_command_lines(database: str, args: list[str]) -> None:
    found = loaded(database, *args)
    assert found["code"] == 0
    assert "typer" in imported(found["modules"])


def test_views_behind_the_log_are_told_by_the_command_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'behind.db'}"
    with OrderLedger(url) as ledger:
        ledger.record(request("c-1"))
    with OrderLedger(url, project=False) as ledger:
        ledger.record(request("c-2", seconds=1))
    found = loaded(url, "orders", "--open", "--json")
    assert found["code"] == 0
    assert [row["client_order_id"] for row in json.loads(found["out"])] == ["c-1"]  # c-2 not folded yet
    assert "1 events behind the log" in found["warnings"][0]
    assert "typer" in imported(found["modules"])


def test_a_configured_cipher_is_judged_by_the_command_line(database: str) -> None:
    # The log is plaintext: a key set for it is refused, as the command line refuses it.
    found = loaded(database, "orders", "--open", "--json", env={"CIPHER_KEY": "x" * 44})
    assert found["code"] == 2 and found["out"] == ""
    assert "typer" in imported(found["modules"])


def test_a_missing_ledger_is_the_command_lines_error(tmp_path: Path) -> None:
    found = loaded(f"sqlite:///{tmp_path / 'absent.db'}", "orders", "--open", "--json")
    assert found["code"] == 2 and found["out"] == ""
    assert not (tmp_path / "absent.db").exists()


def test_a_reader_that_goes_away_ends_the_list_quietly(tmp_path: Path) -> None:
    # 200 open orders of some 700 bytes each as JSON (140 kB) overflow a 64 kB pipe: the writer
    # meets the closed pipe, and exits 1 with nothing on stderr, as the command line does.
    url = f"sqlite:///{tmp_path / 'many.db'}"
    with OrderLedger(url) as ledger:
        ledger.ingest_lines(line(request(f"c-{n:03}", seconds=n)) for n in range(200))
    with subprocess.Popen(
        cli_command("orders", "--open", "--json", db=url),
        cwd=ROOT,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as listing:
        assert listing.stdout is not None and listing.stderr is not None
        assert listing.stdout.read(1) == b"["
        listing.stdout.close()
        assert listing.wait(timeout=60) == 1
        assert listing.stderr.read() == b""
