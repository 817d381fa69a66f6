"""POST /risk/replay: limits replayed over the log, with a read token, on every backend
(docs/risk.md). The figures are worked out by hand in tests/integration/test_risk_replay.py."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx2
import pytest
from fastapi.testclient import TestClient

from orderledger import Filter, OrderLedger
from orderledger.infrastructure.http.app import create_app
from orderledger.infrastructure.http.service import LedgerService
from tests.support import risk_replay as days
from tests.support.http_api import BOUND, LOOPBACK, READ_TOKEN, TOKENS, bearer, running_server
from tests.support.risk_replay import NOTIONAL_200, SESSION, Clock, session


@pytest.fixture
def desk(make_ledger: Callable[..., OrderLedger]) -> OrderLedger:
    clock = Clock()
    ledger = make_ledger(clock=clock)
    session(ledger, clock, SESSION)
    return ledger


@pytest.fixture
def served(desk: OrderLedger) -> Iterator[TestClient]:
    app = create_app(LedgerService(desk), TOKENS, max_body=4096)
    with TestClient(app, base_url=LOOPBACK, raise_server_exceptions=False) as test_client:
        yield test_client


def test_limits_replayed_over_http_with_a_read_token(served: TestClient, desk: OrderLedger) -> None:
    head, journal = desk.log_position(), len(list(desk.audit.iter_messages(Filter())))
    # When the limit of 200 an order is posted, as a JSON array, with a read token
    response = served.post("/risk/replay", json=NOTIONAL_200, headers=bearer(READ_TOKEN))
    assert response.status_code == 200, response.text
    found = response.json()
    # Then c2 (2 × 120 = 240) is denied and the path ends 20 → 30 realized, 360 → 180 net
    assert [(o["client_order_id"], o["breaches"][0]["figure"]) for o in found["orders"]] == [("c2", "240")]
    assert found == desk.risk_controls.risk_replay(NOTIONAL_200).to_json()
    end = found["path"][-1]
    assert (end["at"], end["replayed_realized_pnl"], end["replayed_net"]) == ("end", "30", "180")
    # And as JSON lines, from 10:30 on: nothing is denied
    lines = "".join(json.dumps(limit) + "\n" for limit in NOTIONAL_200)
    since = served.post(
        "/risk/replay",
        params={"since": "2025-03-03T10:30:00Z"},
        content=lines,
        headers={**bearer(READ_TOKEN), "content-type": "application/x-ndjson"},
    )
    assert since.status_code == 200 and since.json()["orders"] == [], since.text
    # And a bad limit is a one-line 400 naming it
    bad = served.post("/risk/replay", json=[{"scope": "desk"}], headers=bearer(READ_TOKEN))
    assert bad.status_code == 400 and bad.json()["detail"].startswith("limit 1: "), bad.text
    # And nothing was written
    assert (desk.log_position(), len(list(desk.audit.iter_messages(Filter())))) == (head, journal)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_daily_loss_halt_replayed_on_a_real_server(file_ledger_url: str) -> None:
    clock = Clock()
    with (
        running_server(file_ledger_url, clock=clock) as server,
        httpx2.Client(base_url=server.url, timeout=BOUND) as client,
    ):
        session(server.ledger, clock, days.LOSS_DAY)
        head = server.ledger.log_position()
        # When at most 50 lost a day, answered by a halt, is replayed
        response = client.post("/risk/replay", json=days.LOSS_HALT_50)
        assert response.status_code == 200, response.text
        found = response.json()
        # Then the 11:00 mark's loss of 60 (20 × 95 − 20 × 98, tests/support/risk_replay.py) halts
        # main for the rest of the day: c3, c4 and c5 denied, c6 (the next day) kept
        assert [(o["client_order_id"], o["breaches"][0]["reason"]) for o in found["orders"]] == [
            (cid, days.HALTED_AT_60) for cid in ("c3", "c4", "c5")
        ]
        # And replayed main realizes nothing and ends holding 21 at 100: 2100 (recorded: 18, 1800)
        end = found["path"][-1]
        assert (end["replayed_realized_pnl"], end["replayed_net"], end["net"]) == ("0", "2100", "1800")
        assert server.ledger.log_position() == head
