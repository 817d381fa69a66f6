"""``orderledger collect ccxt -o exchange=binanceusdm`` as users run it: the real command in a
subprocess, ccxt.pro's real ``binanceusdm`` client against the loopback Binance USDⓈ-M
(tests/support/binance_venue.py) on a thread of the test's own. The venue ends the user data
stream (``listenKeyExpired``, then silence on an open socket): the command must take a new key,
reconnect, backfill what the silent stream lost, stream on, and say why it reconnected in its
status lines, its lease row (``collectors``) and its metrics."""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families

from orderledger import OrderLedger
from tests.support import ccxt_flows as flows
from tests.support.binance_venue import KEYS, LoopbackBinance, order
from tests.support.cli import cli_command, cli_env
from tests.support.collect_docs import wait_for
from tests.support.http_api import free_port
from tests.support.loopback_venue import VenueThread

pytestmark = pytest.mark.timeout(180)


def test_listen_key_expired_is_noticed_by_the_command(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'binance.db'}"
    port = free_port()
    trades, (opened, closing) = flows.binanceusdm_rest_payloads()
    new = opened | {"status": "NEW", "executedQty": "0", "cumQty": "0", "cumQuote": "0", "avgPrice": "0"}
    with VenueThread(LoopbackBinance(now=lambda: datetime.now(UTC))) as thread:
        venue: LoopbackBinance = thread.venue  # type: ignore[assignment]
        argv = cli_command(
            "collect", "ccxt", "-o", "exchange=binanceusdm", "-o", "rate_limit=off",
            "-o", "funding_every=86400", "--endpoint", venue.base, "--account", "acc1",
            "--reconcile-every", "0", "--status-every", "0.2", "--json", "--metrics-port", str(port),
            db=db,
        )  # fmt: skip
        env = cli_env(ORDERLEDGER_CCXT_APIKEY="loopback-key", ORDERLEDGER_CCXT_SECRET="loopback-secret")
        process = subprocess.Popen(
            argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            # Given the command streaming the published session's opening order (bot-open-1, a
            # buy of 0.002 BTCUSDT, nothing filled),
            thread.call(venue.wait_for, lambda: bool(venue.sockets))
            thread.call(venue.record, new | {"updateTime": new["time"]})
            wait_for(db, lambda ledger: len(ledger.orders()) == 1, process)
            # while the stream is silent bot-open-1 fills by two trades and the close by a third,
            venue.quiet = True
            venue.orders[opened["orderId"]] = opened
            venue.orders[closing["orderId"]] = closing
            venue.trades.extend(trades)
            # when Binance pushes listenKeyExpired and then nothing on the socket it leaves open,
            thread.call(venue.expire)
            wait_for(db, lambda ledger: len(ledger.trades()) == 3, process)
            thread.call(venue.wait_for, lambda: len(venue.stream_keys) == 2 and len(venue.sockets) == 1)
            # and the next order is pushed on the new key,
            venue.quiet = False
            thread.call(venue.record, order())
            wait_for(db, lambda ledger: len(ledger.orders()) == 3, process)
            wait_for(db, lambda ledger: _reasons(ledger) == {"ended": 1}, process)
            with OrderLedger(db) as ledger:
                orders = [
                    (o.client_order_id, o.status.value, str(o.filled_quantity)) for o in ledger.orders()
                ]
                (row,) = ledger.upkeep.collectors()
            scraped = httpx2.get(f"http://127.0.0.1:{port}/metrics")
        finally:
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    # then the command asked for a new key (the docs' second) and streamed on it,
    assert venue.asked("/fapi/v1/listenKey") == 2 and venue.stream_keys == list(KEYS)
    # its backfill booked the silent stream's fills (0.001 + 0.001 = 0.002; the close 0.001),
    # the new stream the next order,
    assert sorted(orders) == [
        ("bot-open-1", "filled", "0.002"),
        ("pb2jD6ZQHpfzSdUac8VqMK", "filled", "0.001"),
        ("web_pCCGp9AIHjziKLlpGpXI", "accepted", "0"),
    ]
    # and it said why it reconnected: once, the venue ending the stream, in a status line,
    lines = [json.loads(line) for line in out.decode().splitlines()]
    said = [now for was, now in itertools.pairwise(lines) if now["state"] == "waiting" != was["state"]]
    assert [line["error"] for line in said] == [
        "binanceusdm ended the stream (listenKeyExpired): a new key, a reconnect and a backfill"
    ]
    assert said[0]["reconnect_reasons"] == {"ended": 1}
    # on stderr (a service's log: "… reconnects 1 (ended 1), …"),
    assert any(", reconnects 1 (ended 1), " in line for line in err.decode().splitlines())
    # in its lease row and in its metrics.
    assert row.figures["reconnects"] == 1 and row.figures["reconnect_reasons"] == {"ended": 1}
    found = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(scraped.text)
        for sample in family.samples
    }
    labels = {"collector": "binanceusdm:acc1", "venue": "binanceusdm", "account": "acc1"}
    key = (
        "orderledger_collector_reconnects_by_reason_total",
        tuple(sorted({**labels, "reason": "ended"}.items())),
    )
    assert found[key] == 1


def _reasons(ledger: OrderLedger) -> Any:
    rows = ledger.upkeep.collectors()
    return rows[0].figures.get("reconnect_reasons") if rows else None
