"""``GET /metrics`` on a running server: the collectors' status figures (their lease rows, as
``/health`` lists them) and the log's head as Prometheus metrics, scraped over a real socket and
read with prometheus_client's own parser."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from orderledger.infrastructure.application import upkeep
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.upkeep import collector_leases
from orderledger.infrastructure.collect.status import Status
from orderledger.infrastructure.http.app import create_app
from orderledger.infrastructure.http.service import LedgerService
from tests.support.http_api import (
    LOOPBACK,
    READ_TOKEN,
    TOKENS,
    WRITE_TOKEN,
    assert_problem,
    bearer,
    request,
    running_server,
)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def labelled(collector: str, venue: str, account: str, **extra: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({"collector": collector, "venue": venue, "account": account, **extra}.items()))


def published(ledger: OrderLedger) -> None:
    """Two collectors as their leases show them: Tradier VA000000 waiting to reconnect after a
    fault, its figures those of a real ``Status``; a FIX log's (no account) whose heartbeat is a
    minute old (stale: its holder is gone), with no frame yet."""
    status = Status(state="waiting", frames=12, durable=10, events=30, parked=3, reconnects=1, refused=1)
    status.last_frame_at = 2.0
    status.latencies.extend([0.002, 0.004, 0.010])
    ledger.upkeep.collector_lease("tradier", "VA000000", "host:1:a", 1)
    ledger.upkeep.collector_heartbeat("tradier", "VA000000", "host:1:a", status.figures(5.0))
    then = datetime.now(UTC) - timedelta(minutes=1)
    collector_leases.take(ledger.db, "fix", None, "host:2:b", 2, then)
    collector_leases.heartbeat(
        ledger.db, "fix", None, "host:2:b", then, Status(state="streaming").figures(0.0)
    )


def test_metrics_are_each_collectors_figures_with_the_read_token(ledger_url: str) -> None:
    with running_server(ledger_url, tokens=TOKENS) as server:
        # Given two collectors running on the ledger and one request booked,
        published(server.ledger)
        client = server.client
        assert client.post("/messages", json=request(), headers=bearer(WRITE_TOKEN)).is_success
        # when Prometheus scrapes /metrics without a token, it is refused as every read is;
        refused = client.get("/metrics")
        # with the read token it reads the exposition text,
        scraped = client.get("/metrics", headers=bearer(READ_TOKEN))
        health = client.get("/health").json()
    assert_problem(refused, 401, "a bearer token is required")
    assert scraped.status_code == 200
    assert scraped.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    found = samples(scraped.text)
    tradier = labelled("tradier:VA000000", "tradier", "VA000000")
    fix = labelled("fix", "fix", "")
    p99 = labelled("tradier:VA000000", "tradier", "VA000000", quantile="0.99")

    def figure(name: str, labels: tuple[tuple[str, str], ...] = tradier) -> float:
        return found[("orderledger_collector_" + name, labels)]

    # then Tradier's figures are its lease's: 12 frames, 10 durable (backlog 12 - 10 = 2), 30
    # events, 3 parked, 1 reconnect, 1 refused; its last frame 5.0 - 2.0 = 3.0 s old; of the
    # latencies 2, 4 and 10 ms the nearest-rank p50 is the 2nd (round(0.5 × 3 + 0.5) = 2: 4 ms)
    # and the p99 the 3rd (round(0.99 × 3 + 0.5) = 3: 10 ms); its state waiting,
    assert (figure("frames_total"), figure("events_total"), figure("backlog")) == (12, 30, 2)
    assert (figure("parked_total"), figure("reconnects_total"), figure("refused_total")) == (3, 1, 1)
    assert figure("last_frame_age_seconds") == 3.0
    assert (
        figure("latency_seconds", labelled("tradier:VA000000", "tradier", "VA000000", quantile="0.5"))
        == 0.004
    )
    assert figure("latency_seconds", p99) == 0.010
    assert figure("state", labelled("tradier:VA000000", "tradier", "VA000000", state="waiting")) == 1
    assert figure("stale") == 0
    # the FIX collector streams, nothing read yet (no frame age, no latency), and is stale,
    assert figure("state", labelled("fix", "fix", "", state="streaming")) == 1
    assert (figure("frames_total", fix), figure("stale", fix)) == (0, 1)
    assert [k[0] for k in found if dict(k[1]).get("collector") == "fix" and k[0].endswith("_seconds")] == []
    # the same figures /health lists, and its head (the one request's events),
    by_venue = {row["venue"]: row for row in health["collectors"]}
    assert figure("frames_total") == by_venue["tradier"]["frames"]
    assert figure("latency_seconds", p99) == by_venue["tradier"]["latency_p99"]
    assert found[("orderledger_log_head", ())] == health["head"] > 0
    # and the server's own process figures beside them.
    assert found[("process_cpu_seconds_total", ())] > 0


def test_without_prometheus_client_metrics_say_what_to_install(
    ledger: OrderLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an install without the collect extra (prometheus-client cannot be imported)
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    monkeypatch.delitem(
        sys.modules, "orderledger.infrastructure.application.upkeep.prometheus", raising=False
    )
    monkeypatch.delattr(upkeep, "prometheus", raising=False)
    with TestClient(create_app(LedgerService(ledger)), base_url=LOOPBACK) as client:
        answer = client.get("/metrics")
        health = client.get("/health")
    # then /metrics is one line saying what to install, and the rest of the API answers.
    assert health.status_code == 200
    assert_problem(answer, 503, "GET /metrics needs prometheus-client: pip install 'orderledger[collect]'")
