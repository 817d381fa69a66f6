"""On PostgreSQL a ledger is run by an application role that may create nothing
(`orderledger db init --app-role`): a collector under that role takes, renews and gives up its
lease (the `collectors` table is made and granted by `db init`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from orderledger import OrderLedger
from orderledger.infrastructure.storage.db import parse_url
from tests.support.cli import run_cli

pytestmark = pytest.mark.postgres


@pytest.fixture
def app_url(postgres_url: str, tmp_path: Path) -> Iterator[str]:
    role = f"ol_collect_{uuid.uuid4().hex[:10]}"
    init = run_cli(
        "db", "init", "--app-role", role, "--password", "unused-with-trust", db=postgres_url, cwd=tmp_path
    )
    assert init.returncode == 0, init.stderr
    try:
        yield postgres_url.replace("postgresql://postgres@", f"postgresql://{role}@", 1)
    finally:
        with psycopg.connect(parse_url(postgres_url).conninfo, autocommit=True) as conn:
            conn.execute(f'DROP OWNED BY "{role}"')
            conn.execute(f'DROP ROLE "{role}"')


def test_the_application_role_holds_a_collectors_lease(app_url: str) -> None:
    with OrderLedger(app_url) as ledger:
        ledger.upkeep.collector_lease("tradier", "VA1", "host:1:a", 1)
        ledger.upkeep.collector_heartbeat("tradier", "VA1", "host:1:a", {"state": "streaming", "frames": 3})
        (row,) = ledger.upkeep.collectors()
        assert (row.venue, row.account, row.figures) == (
            "tradier",
            "VA1",
            {"state": "streaming", "frames": 3},
        )
        ledger.upkeep.collector_release("tradier", "VA1", "host:1:a")
        assert ledger.upkeep.collectors() == []
