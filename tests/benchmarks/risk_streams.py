"""Idle `/risk/stream` clients and `/health`: the p50 of `GET /health` with no stream open, then
with 200 idle streams open (no commit while they are open: nothing changes, so nothing is told).

    .venv/bin/python tests/benchmarks/risk_streams.py            # 200 streams, 200 probes
    .venv/bin/python tests/benchmarks/risk_streams.py --quick    # 200 streams, 50 probes

`orderledger serve` runs in its own process over a SQLite file holding the simulator's session
(2,000 orders) and three limits (so that a look at the statuses reads positions and orders), its
stream bound raised to let the 200 in (`--streams 256 --streams-per-client 256`). Each stream is
a bare socket that sent its request and read its answer's head, then holds the connection. Target
(issue 66 item 9): `/health` p50 under 100 ms with 200 idle streams. The streams of a threshold are
fed by one reader of the statuses (`http.stream.RiskFeed`): an idle stream costs no read of its
own at each poll.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import httpx2  # noqa: E402

from orderledger.infrastructure.application.ledger import OrderLedger  # noqa: E402
from orderledger.infrastructure.application.simulator import simulate_lines  # noqa: E402
from tests.support.bench import serving  # noqa: E402

STREAMS = 200


def build(db: Path) -> None:
    with OrderLedger(f"sqlite:///{db}") as ledger:
        ledger.ingest_lines(simulate_lines(7, 2_000))
        for account in ("alpha", "beta"):
            ledger.risk_controls.set_limit(
                "account", account, "max_gross_exposure", "1000000", set_by="bench"
            )
        ledger.risk_controls.set_limit("instrument", "BTC-USDT", "max_position", "100", set_by="bench")


def health_p50(url: str, probes: int) -> float:
    took = []
    with httpx2.Client(base_url=url, timeout=120) as client:
        for _ in range(probes):
            started = time.perf_counter()
            assert client.get("/health").status_code == 200
            took.append(time.perf_counter() - started)
            time.sleep(0.02)  # spread the samples over the server's poll intervals
    return statistics.median(took)


def idle_stream(url: str) -> socket.socket:
    """A `/risk/stream` client that read its answer's head and then only holds the connection."""
    host, port = urlsplit(url).hostname, urlsplit(url).port
    assert host is not None and port is not None
    sock = socket.create_connection((host, port), timeout=60)
    sock.sendall(f"GET /risk/stream HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, "the server closed the stream"
        head += chunk
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    return sock


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="50 probes instead of 200")
    args = parser.parse_args()
    probes = 50 if args.quick else 200
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "ledger.db"
        build(db)
        with serving(db, "--streams", "256", "--streams-per-client", "256") as url:
            idle = health_p50(url, probes)
            streams = [idle_stream(url) for _ in range(STREAMS)]
            try:
                time.sleep(1.0)  # the streams settle (their first statuses sent)
                loaded = health_p50(url, probes)
            finally:
                for sock in streams:
                    sock.close()
    print(f"/health p50, no stream open:        {idle * 1000:8.1f} ms ({probes} probes)")
    print(f"/health p50, {STREAMS} idle /risk/stream: {loaded * 1000:8.1f} ms ({probes} probes)")


if __name__ == "__main__":
    main()
