"""GET /verify says everything `orderledger verify --json` says: every section, with its reasons."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from fastapi.testclient import TestClient

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.http.app import create_app
from orderledger.infrastructure.http.service import LedgerService
from tests.support.cli import run_cli
from tests.support.http_api import LOOPBACK, fill, request


def verify_both(url: str, cwd: Path) -> tuple[dict[str, object], dict[str, object]]:
    """What the CLI prints and what the HTTP API answers, for one database."""
    printed = run_cli("verify", "--full", "--json", db=url, cwd=cwd)
    ledger = OrderLedger(url)
    try:
        with TestClient(create_app(LedgerService(ledger)), base_url=LOOPBACK) as client:
            answered = client.get("/verify").json()
    finally:
        ledger.close()
    return json.loads(printed.stdout), answered


def test_verify_answers_every_section_the_cli_prints(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with OrderLedger(url) as ledger:
        ledger.ingest_lines([json.dumps(request()), json.dumps(fill())])
    # A sound ledger: the same sections, the same figures
    printed, answered = verify_both(url, tmp_path)
    assert answered == printed
    assert answered["ok"] is True
    # When a view's row is changed behind the ledger's back (the fill's price 100 → 1)
    with sqlite3.connect(tmp_path / "ledger.db") as db:
        db.execute("UPDATE trades_view SET price = '1'")
    printed, answered = verify_both(url, tmp_path)
    # Then both say it is broken, with the same reasons in the same sections
    assert answered == printed
    assert answered["ok"] is False and answered["view_problems"]
    assert set(answered) >= {
        "broken",
        "view_problems",
        "journal_problems",
        "schema_problems",
        "storage",
        "head",
    }
