"""``orderledger risk replay`` through the real CLI, on SQLite and PostgreSQL (docs/risk.md).

The session is recorded through the Python API with the ledger's clock at each message's time
(the command has no clock to set); the replay is then asked of the command, which only reads.
Its figures are worked out by hand in tests/integration/test_risk_replay.py's first test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orderledger import Filter, OrderLedger
from tests.support import risk_replay as days
from tests.support.cli import assert_one_line_failure, run_cli
from tests.support.risk_replay import NOTIONAL_200, SESSION, Clock, session


@pytest.fixture(params=("sqlite", "postgres"))
def backend(request: pytest.FixtureRequest) -> str:
    """The file backends the CLI opens (overrides tests/conftest.py's, which adds memory)."""
    return str(request.param)


def test_risk_replay_through_the_cli(file_ledger_url: str, tmp_path: Path, backend: str) -> None:
    db, cwd = file_ledger_url, tmp_path
    clock = Clock()
    with OrderLedger(db, clock=clock) as ledger:
        session(ledger, clock, SESSION)
        head, journal = ledger.log_position(), len(list(ledger.audit.iter_messages(Filter())))
    limits = tmp_path / "limits.jsonl"
    limits.write_text("".join(json.dumps(limit) + "\n" for limit in NOTIONAL_200))
    # When the limit of 200 an order is replayed (read-only on SQLite: mode=ro)
    reader = f"{db}?mode=ro" if backend == "sqlite" else db
    found = run_cli("risk", "replay", "--limits", str(limits), "--json", db=reader, cwd=cwd).json()
    # Then c2 (2 × 120 = 240) is denied, and the path is as worked out by hand
    assert [(o["client_order_id"], o["outcome"], o["breaches"][0]["figure"]) for o in found["orders"]] == [
        ("c2", "denied", "240")
    ]
    assert [(p["at"], p["realized_pnl"], p["replayed_realized_pnl"], p["net"], p["replayed_net"])
            for p in found["path"]] == [("2025-03-03", "20", "30", "360", "120"),
                                        ("end", "20", "30", "360", "180")]  # fmt: skip
    # And for people: a table of the orders and one of the path
    run = run_cli("risk", "replay", "--limits", str(limits), db=db, cwd=cwd)
    assert run.returncode == 0, run.describe()
    lines = run.stdout.splitlines()
    assert lines[0] == "denied or flagged (1)"
    assert lines[3].split() == ["c2", "denied", "2025-03-03T10:00:00.000000Z", "main", "BTC-USDT", "buy", "2",
                                "120", "max_order_notional", "200", "on", "account", "main:", "would", "be",
                                "240"]  # fmt: skip
    assert [line.split() for line in lines[-2:]] == [
        ["2025-03-03", "main", "USDT", "20", "30", "360", "120", "360", "120"],
        ["end", "main", "USDT", "20", "30", "360", "180", "360", "180"],
    ]
    # And --since 10:30 judges only what came after c2: nothing is denied
    since = run_cli(
        "risk", "replay", "--limits", str(limits), "--since", "2025-03-03T10:30:00Z", "--json", db=db, cwd=cwd
    ).json()
    assert since["orders"] == []
    # And a bad line is one line on stderr naming it, exit 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps(NOTIONAL_200[0])
        + "\n"
        + '{"scope":"account","target":"main","kind":"max_orders","value":"1"}\n'
    )
    run = run_cli("risk", "replay", "--limits", str(bad), db=db, cwd=cwd)
    assert (
        assert_one_line_failure(run, 2) == "orderledger: line 2: a max_orders limit needs interval (seconds)"
    )
    # And `orderledger risk` still answers the limits' standing (none in force: nothing, exit 0)
    run = run_cli("risk", db=db, cwd=cwd)
    assert (run.returncode, run.stdout) == (0, ""), run.describe()
    # And nothing was written: the log and the journal are as they were
    with OrderLedger(db, create=False) as ledger:
        assert (ledger.log_position(), len(list(ledger.audit.iter_messages(Filter())))) == (head, journal)


def test_a_daily_loss_replayed_through_the_cli(file_ledger_url: str, tmp_path: Path) -> None:
    db, cwd = file_ledger_url, tmp_path
    clock = Clock()
    with OrderLedger(db, clock=clock) as ledger:
        session(ledger, clock, days.LOSS_DAY)
    limits = tmp_path / "limits.jsonl"
    limits.write_text(json.dumps(days.LOSS_HALT_50[0]) + "\n")
    # When at most 50 lost a day, answered by a halt, is replayed
    found = run_cli("risk", "replay", "--limits", str(limits), "--json", db=db, cwd=cwd).json()
    # Then the 11:00 mark's loss of 60 (20 × 95 − 20 × 98, tests/support/risk_replay.py) halts main
    # for the rest of the day: c3, c4 and c5 are denied, c6 (the next day) is kept
    assert [o["client_order_id"] for o in found["orders"]] == ["c3", "c4", "c5"]
    assert found["orders"][0]["breaches"][0]["reason"] == days.HALTED_AT_60
    # And the path without them: nothing realized, 20 held at 100 (2000), then 21 (2100)
    assert [(p["at"], p["replayed_realized_pnl"], p["replayed_net"]) for p in found["path"]] == [
        ("2025-03-03", "0", "2000"),
        ("end", "0", "2100"),
    ]
