"""Writers starting together on a new PostgreSQL schema, with no ``db init`` before them: one
creates the tables, the others wait for it and then find them made (``storage.db.lock_schema``);
every process does its work and none says "internal error" (docs/reliability.md, promise 9)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from orderledger.infrastructure.application.ledger import OrderLedger
from tests.support.cli import TIMEOUT, cli_command, cli_env
from tests.support.http_api import request
from tests.support.postgres import private_schema, require_postgres

pytestmark = pytest.mark.postgres

WRITERS = 4
ROUNDS = 4


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_four_ingests_on_a_new_schema_all_succeed(tmp_path: Path, round_: int) -> None:
    require_postgres()
    with private_schema("ol_first") as url:
        inputs = []
        for i in range(WRITERS):
            path = tmp_path / f"in-{i}.jsonl"
            path.write_text(json.dumps(request(f"c-{i}", account=f"acct-{i}")) + "\n")
            inputs.append(path)
        # All four started at once; each opens the ledger (creating it) as it starts
        processes = [
            subprocess.Popen(
                cli_command("ingest", str(path), db=url),
                cwd=tmp_path,
                env=cli_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for path in inputs
        ]
        for process in processes:
            out, err = process.communicate(timeout=TIMEOUT)
            assert process.returncode == 0 and err == b"", f"exit {process.returncode}: {err.decode()}"
            assert out.decode().startswith("1 lines: 1 applied")
        with OrderLedger(url, create=False) as ledger:
            assert sorted(o.client_order_id for o in ledger.orders()) == [f"c-{i}" for i in range(WRITERS)]
            assert ledger.audit.verify().ok
