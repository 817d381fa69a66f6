"""A venue is one package and one registry line: what its package declares (its format, the
options of its adapter) is what the command line offers, what ``POST /messages`` takes and what
an ingest reads with, for every venue, and for a toy venue registered by its one line."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from orderledger.infrastructure.adapters import venue_registry
from orderledger.infrastructure.adapters.declared import VenueOption
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.cli.app import app, option_name
from orderledger.infrastructure.http.app import create_app
from orderledger.infrastructure.http.service import LedgerService
from orderledger.infrastructure.ingest.formats import adapter_options
from tests.support.http_api import LOOPBACK
from tests.support.toy_venue.venue import MODULE

JSON_TYPES = {int: "integer", str: "string"}


def _cli_options() -> dict[str, Any]:
    """The options of the ``ingest`` command as the command line builds it now (typer's own
    copy of click: its classes are not click's)."""
    group: Any = typer.main.get_command(app)
    command = group.commands["ingest"]
    return {p.name: p for p in command.params if p.param_type_name == "option"}


def _http_parameters(ledger: OrderLedger) -> dict[str, dict[str, Any]]:
    schema = create_app(LedgerService(ledger)).openapi()
    return {p["name"]: p for p in schema["paths"]["/messages"]["post"]["parameters"]}


def _assert_offered(
    name: str, declared: list[tuple[str, VenueOption]], cli: Any, http: dict[str, Any]
) -> None:
    """The command-line option and the query parameter of one declared option say what it does."""
    first = declared[0][1]
    said = "; ".join(f"{fmt}: {o.help}" for fmt, o in declared)
    assert cli.opts == [option_name(name)]
    assert cli.type_descriptor.annotation is first.type or first.choices
    assert cli.default is None
    assert cli.help == said + "."
    assert cli.metavar == first.metavar
    assert cli.min == first.minimum
    assert http["description"] == said
    one_of = http["schema"]["anyOf"][0]
    assert one_of["type"] == JSON_TYPES[first.type]
    assert one_of.get("minimum") == first.minimum
    assert http["schema"].get("enum", []) == list(first.choices)


def test_every_declared_option_is_a_command_line_option_and_a_query_parameter() -> None:
    # given every option the registered venues declare (FIX's six scales, Hyperliquid's address)
    declared = adapter_options()
    assert list(declared) == [
        "quantity_scale",
        "price_scale",
        "quantity_scale_tag",
        "price_scale_tag",
        "quantity_divisor_tag",
        "price_divisor_tag",
        "address",
    ]
    # when the command line and the HTTP API are built
    cli = _cli_options()
    with OrderLedger("memory://") as ledger:
        http = _http_parameters(ledger)
    # then each is offered once by each, as declared, and nothing else a venue's is offered
    for name, by_format in declared.items():
        _assert_offered(name, by_format, cli[name], http[name])
    shells = {"file", "strict", "no_project", "fmt", "venue", "account", "acks"}
    assert set(cli) - shells == set(declared)
    assert set(http) - {"format", "venue", "account", "strict"} == set(declared)


def test_a_toy_venue_registered_by_one_line_is_offered_and_read_everywhere(tmp_path: Path) -> None:
    # given a toy venue package (tests/support/toy_venue) whose format takes `lot` and `side`
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    line = {"id": "1", "instrument": "BTC-USDT", "lots": "2", "ts": "2026-11-20T10:00:00Z"}
    (tmp_path / "toy.jsonl").write_text(json.dumps(line) + "\n")
    runner = CliRunner()
    # when it is registered by its one line
    with venue_registry.registered(MODULE):
        # then the command line offers its format and options ...
        shown = " ".join(runner.invoke(app, ["ingest", "--help"]).output.split())
        assert "toy: toy orders, one JSON object a line" in shown
        assert "--lot UNITS toy: units in one lot: every quantity is read in lots." in shown
        assert "--side <buy|sell> toy: the side of every order." in shown
        toy = adapter_options()
        cli = _cli_options()
        with OrderLedger(url) as ledger:
            http = _http_parameters(ledger)
        for name in ("lot", "side"):
            _assert_offered(name, toy[name], cli[name], http[name])
        # ... and reads a line with them: 2 lots of 5 units, sold
        args = ["--db", url, "ingest", str(tmp_path / "toy.jsonl"), "--format", "toy"]
        args += ["--venue", "toyx", "--account", "a", "--lot", "5", "--side", "sell"]
        done = runner.invoke(app, args)
        assert done.exit_code == 0, done.output
        # and so does POST /messages: 3 lots of 4 units, bought (side not given)
        with OrderLedger(url) as ledger:
            with TestClient(create_app(LedgerService(ledger)), base_url=LOOPBACK) as client:
                body = json.dumps({**line, "id": "2", "lots": "3"})
                query = "format=toy&venue=toyx&account=a&lot=4"
                answer = client.post(
                    f"/messages?{query}", content=body, headers={"Content-Type": "application/json"}
                )
                assert answer.status_code == 200, answer.text
                json_body = {"Content-Type": "application/json"}
                refused = client.post(
                    "/messages?format=toy&venue=toyx&account=a&lot=0", content=body, headers=json_body
                )
                below = "query parameter lot: Input should be greater than or equal to 1"  # declared
                assert (refused.status_code, refused.json()["detail"]) == (400, below)
            # and the Python API takes them by name
            report = ledger.ingest_lines(
                [json.dumps({**line, "id": "3"})], format="toy", venue="toyx", account="a", options={"lot": 7}
            )
            assert report.counts["applied"] == 1
            orders = {c: ledger.order(c) for c in ("toy-1", "toy-2", "toy-3")}
            assert {c: (o.quantity, o.side) for c, o in orders.items()} == {
                "toy-1": (Decimal("10"), "sell"),  # 2 × 5
                "toy-2": (Decimal("12"), "buy"),  # 3 × 4
                "toy-3": (Decimal("14"), "buy"),  # 2 × 7
            }
    # and once its line is gone, nothing offers it
    assert "toy" not in venue_registry.formats()
    assert "lot" not in _cli_options()
    assert "--lot" not in runner.invoke(app, ["ingest", "--help"]).output


def test_an_option_value_the_declaration_refuses_is_one_line_and_stores_nothing(tmp_path: Path) -> None:
    # given FIX's quantity scale, declared as at most 18 digits
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    log = tmp_path / "fix.log"
    log.write_text("8=FIX.4.4|35=0|\n")
    # when an ingest gives 19
    done = CliRunner().invoke(
        app, ["--db", url, "ingest", str(log), "--format", "fix", "--venue", "v", "--quantity-scale", "19"]
    )
    # then it is refused in one line before anything is read
    assert done.exit_code != 0
    assert str(done.exception) == "format fix: quantity_scale must be a whole number from 0 to 18"
    with OrderLedger(url) as ledger:
        assert list(ledger.audit.messages()) == []
