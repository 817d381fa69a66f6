"""Collectors' frame-to-durable latency and sustained rate, beside ingesting the same frames
from a file in the same run (docs/collect.md, "Performance").

    .venv/bin/python tests/benchmarks/collect.py            # writes the figures into the docs
    .venv/bin/python tests/benchmarks/collect.py --quick    # shorter, prints only

For each collector (the real source and the real Collector, on a SQLite file):

* paced: frames arrive at 100, 1,000 and 10,000 a second for a few seconds; the latency of a
  frame is from its arrival at the collector to its commit (p50, p99), and the rate is what
  was booked;
* sustained: every frame is there at once; the rate is frames over the time to the last commit;
* file: the same frames ingested from a file with ``OrderLedger.ingest_lines`` (the baseline).

fix: a QuickFIX C++-style log written at the pace (tests/support/fixlog.py); tradier: the
loopback Tradier (tests/support/tradier_server.py) with a new order in every reply, polled as
fast as the pace allows (its rate limit set out of the way); lighter: the loopback Lighter
(tests/support/lighter_server.py, in a thread) streaming account updates at the pace over its
WebSocket; hyperliquid and ccxt (ccxt.pro's hyperliquid): the loopback Hyperliquid
(tests/support/hyperliquid_venue.py, in a thread) pushing order updates at the pace once the
collector streams, the file baseline being the frames the sustained run journaled.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from orderledger import OrderLedger  # noqa: E402
from orderledger.infrastructure.application.aio import AsyncOrderLedger  # noqa: E402
from orderledger.infrastructure.collect.credentials import Credentials, Secret  # noqa: E402
from orderledger.infrastructure.collect.registry import configure  # noqa: E402
from orderledger.infrastructure.collect.runner import Collector  # noqa: E402
from orderledger.infrastructure.collect.status import percentile  # noqa: E402
from orderledger.infrastructure.results.filter import Filter  # noqa: E402
from tests.support import ccxt_flows as flows  # noqa: E402
from tests.support.fixlog import session_lines  # noqa: E402
from tests.support.hyperliquid_venue import USER as HYPERLIQUID_USER  # noqa: E402
from tests.support.hyperliquid_venue import LoopbackHyperliquid, Update, VenueThread  # noqa: E402
from tests.support.lighter_server import ACCOUNT as LIGHTER_ACCOUNT  # noqa: E402
from tests.support.lighter_server import TOKEN as LIGHTER_TOKEN  # noqa: E402
from tests.support.lighter_server import LighterThread, LighterVenue, Plan, clean_stream, scenario  # noqa: E402
from tests.support.tradier_examples import AAPL, ACCOUNT  # noqa: E402
from tests.support.tradier_server import TOKEN, TradierVenue  # noqa: E402

RATES = (100, 1_000, 10_000)


def fix_frames(count: int) -> list[bytes]:
    return session_lines(count // 3 + 1)[:count]


def tradier_reply(n: int) -> dict[str, Any]:
    """A reply with one new order (id 300000 + n): every poll brings a new frame."""
    order = dict(AAPL, id=300_000 + n, status="open", create_date="2018-06-01T12:02:29.682Z")
    return {"orders": {"order": order}}


async def run_fix(db: str, folder: Path, frames: list[bytes], rate: float | None) -> dict[str, Any]:
    log = folder / f"fix-{rate}.log"
    log.touch()
    _, config = configure(
        "fix", account=None, endpoint=None, options={"path": str(log), "venue": "desk1", "poll": "0.001"},
        credentials=Credentials(),
    )  # fmt: skip
    async with AsyncOrderLedger(db) as ledger:
        collector = Collector(ledger, config_source("fix", config), reconcile_every=None)
        task = asyncio.create_task(collector.run())
        await collector.durable(0)
        started = time.perf_counter()
        with open(log, "ab", buffering=0) as out:
            if rate is None:
                out.write(b"".join(f + b"\n" for f in frames))
            else:
                for i, frame in enumerate(frames):
                    due = started + i / rate
                    while time.perf_counter() < due:
                        await asyncio.sleep(min(0.001, due - time.perf_counter()))
                    out.write(frame + b"\n")
        await collector.received(len(frames))
        await collector.durable()
        seconds = time.perf_counter() - started
        collector.stop()
        await task
    return figures(collector, len(frames), seconds)


async def run_tradier(db: str, count: int, rate: float | None) -> dict[str, Any]:
    with TradierVenue() as venue:
        venue.allowed = 10**9
        served = iter(range(10**9))
        venue.reply = lambda query: tradier_reply(next(served))  # type: ignore[method-assign]
        poll = "0" if rate is None else str(1 / rate)
        _, config = configure(
            "tradier", account=ACCOUNT, endpoint=venue.url, options={"poll": poll, "days": "4000"},
            credentials=Credentials({"token": Secret(TOKEN)}),
        )  # fmt: skip
        async with AsyncOrderLedger(db) as ledger:
            collector = Collector(ledger, config_source("tradier", config), reconcile_every=None)
            task = asyncio.create_task(collector.run())
            started = time.perf_counter()
            await collector.received(count)
            await collector.durable()
            seconds = time.perf_counter() - started
            collector.stop()
            await task
    return figures(collector, collector.status.frames, seconds)


LIGHTER_OVERHEAD = 7
"""Frames a Lighter collector receives besides the events: the market map, three backfill
replies (inactive orders, active orders, trades: empty before the account trades), the
connected greeting and the two subscription replies."""


async def run_lighter(db: str, count: int, rate: float | None) -> dict[str, Any]:
    """The loopback Lighter (in a thread) streams ``count`` account updates at ``rate`` a second
    (all at once if None), once the collector has read its backfill."""
    events = scenario(count // 3 + 1)[:count]
    with LighterThread(LighterVenue(events), plans=[Plan(pace=rate)]) as server:
        _, config = configure(
            "lighter", account=LIGHTER_ACCOUNT, endpoint=server.url, options={},
            credentials=Credentials({"auth_token": Secret(LIGHTER_TOKEN)}),
        )  # fmt: skip
        async with AsyncOrderLedger(db) as ledger:
            collector = Collector(ledger, config_source("lighter", config), reconcile_every=None)
            task = asyncio.create_task(collector.run())
            await collector.received(LIGHTER_OVERHEAD)
            started = time.perf_counter()
            await collector.received(LIGHTER_OVERHEAD + count)
            await collector.durable()
            seconds = time.perf_counter() - started
            collector.stop()
            await task
    return figures(collector, count, seconds)


def hyperliquid_updates(count: int) -> list[Update]:
    """``count`` orders opened for the session's user (orderUpdates, one push each): the
    published NEAR order (tests/support/hyperliquid_venue.py) under new oids and times."""
    order, _ = flows.hyperliquid_opening()
    template = order["order"] | {"sz": "64.8"}
    updates = []
    for n in range(count):
        at = template["timestamp"] + n
        item = {
            "order": template | {"oid": 900_000_000 + n, "timestamp": at},
            "status": "open",
            "statusTimestamp": at,
        }
        updates.append(Update("orderUpdates", HYPERLIQUID_USER, (item,)))
    return updates


async def publish_paced(venue: LoopbackHyperliquid, updates: list[Update], rate: float | None) -> None:
    """Publish ``updates`` on the venue's own loop, ``rate`` a second (all at once if None)."""
    started = time.perf_counter()
    for i, update in enumerate(updates):
        if rate is not None:
            due = started + i / rate
            while time.perf_counter() < due:
                await asyncio.sleep(min(0.001, due - time.perf_counter()))
        await venue.publish(update)


async def run_hyperliquid(db: str, count: int, rate: float | None, name: str) -> dict[str, Any]:
    """The loopback Hyperliquid (in a thread) pushes ``count`` order updates at ``rate`` to the
    ``name`` collector (``hyperliquid``, or ``ccxt`` with ccxt.pro's hyperliquid), once it is
    streaming; done when every order is booked (an external order: two events each)."""
    options = {"exchange": "hyperliquid", "rate_limit": "off"} if name == "ccxt" else {}
    secrets = {"walletAddress": Secret(HYPERLIQUID_USER)} if name == "ccxt" else {}
    updates = hyperliquid_updates(count)
    with VenueThread() as thread:
        _, config = configure(
            name, account=HYPERLIQUID_USER, endpoint=thread.venue.base, options=options,
            credentials=Credentials(secrets),
        )  # fmt: skip
        async with AsyncOrderLedger(db) as ledger:
            collector = Collector(ledger, config_source(name, config), reconcile_every=None)
            task = asyncio.create_task(collector.run())
            await collector.streaming()
            before = collector.status.frames
            started = time.perf_counter()
            publishing = asyncio.ensure_future(
                asyncio.to_thread(thread.call, publish_paced, thread.venue, updates, rate)
            )
            while collector.status.events < 2 * count:
                await collector.durable(collector.status.durable + 1)
            seconds = time.perf_counter() - started
            await publishing
            frames = [m.raw for m in ledger.ledger.audit.iter_messages(Filter())][before:]
            collector.stop()
            await task
    return figures(collector, count, seconds) | {"frames_list": frames}


def config_source(name: str, config: Any) -> Any:
    from orderledger.infrastructure.collect.registry import collectors

    return collectors()[name].factory(config)


def figures(collector: Collector, frames: int, seconds: float) -> dict[str, Any]:
    latencies = list(collector.status.latencies)
    return {
        "frames": frames,
        "rate": frames / seconds,
        "p50_ms": (percentile(latencies, 0.5) or 0) * 1000,
        "p99_ms": (percentile(latencies, 0.99) or 0) * 1000,
    }


def file_rate(db: str, frames: list[bytes], fmt: str, units: int | None = None, **options: Any) -> float:
    """``frames`` ingested from a file: ``units`` (default: the frames) a second. A frame the
    format refuses stops the run: a rate of refusals would measure nothing a collector does."""
    with OrderLedger(db) as ledger:
        started = time.perf_counter()
        report = ledger.ingest_lines(frames, format=fmt, **options)
        seconds = time.perf_counter() - started
    if report.rejected:
        raise SystemExit(f"{fmt}: {len(report.rejected)} frames refused, e.g. {report.rejected[0].reason}")
    return (len(frames) if units is None else units) / seconds


def measure(quick: bool) -> dict[str, dict[str, Any]]:
    seconds = 0.5 if quick else 2.0
    out: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        counter = iter(range(1000))

        def db() -> str:
            return f"sqlite:///{folder / f'bench-{next(counter)}.db'}"

        fix: dict[str, Any] = {}
        for rate in RATES:
            fix[str(rate)] = asyncio.run(run_fix(db(), folder, fix_frames(int(rate * seconds)), rate))
        most = fix_frames(int(20_000 * seconds))
        fix["sustained"] = asyncio.run(run_fix(db(), folder, most, None))
        fix["file"] = file_rate(db(), most, "fix", venue="desk1")
        out["fix"] = fix
        tradier: dict[str, Any] = {}
        for rate in RATES:
            tradier[str(rate)] = asyncio.run(run_tradier(db(), max(20, int(min(rate, 200) * seconds)), rate))
        tradier["sustained"] = asyncio.run(run_tradier(db(), int(200 * seconds), None))
        replies = [json.dumps(tradier_reply(n)).encode() for n in range(int(200 * seconds))]
        tradier["file"] = file_rate(db(), replies, "tradier", venue="tradier", account=ACCOUNT)
        out["tradier"] = tradier
        # The lighter format commits each line (it reads the ledger), some 50 a second here, from
        # a file as from the collector: more frames than that would only measure the queue.
        lighter: dict[str, Any] = {}
        for rate in RATES:
            lighter[str(rate)] = asyncio.run(run_lighter(db(), int(min(rate, 100) * seconds), rate))
        lighter["sustained"] = asyncio.run(run_lighter(db(), int(100 * seconds), None))
        stream = clean_stream(scenario(int(100 * seconds) // 3 + 1)[: int(100 * seconds)])
        lighter["file"] = file_rate(db(), stream, "lighter", venue="lighter", account=LIGHTER_ACCOUNT)
        out["lighter"] = lighter
        # The hyperliquid format commits each line before reading the next (it reads the
        # ledger), some hundreds a second here: 500 a second is the most sent for long, to both
        # collectors alike. Their rates count the venue's order updates (ccxt hands several in
        # one frame when they arrive together).
        for name in ("hyperliquid", "ccxt"):
            found: dict[str, Any] = {}
            for rate in RATES:
                found[str(rate)] = asyncio.run(
                    run_hyperliquid(db(), int(min(rate, 500) * seconds), rate, name)
                )
                found[str(rate)].pop("frames_list")
            count = int(500 * seconds)
            found["sustained"] = asyncio.run(run_hyperliquid(db(), count, None, name))
            replay = found["sustained"].pop("frames_list")
            fmt = "ccxt" if name == "ccxt" else "hyperliquid"
            found["file"] = file_rate(db(), replay, fmt, count, venue="hyperliquid", account=HYPERLIQUID_USER)
            out[name] = found
    return out


def table(results: dict[str, dict[str, Any]]) -> str:
    rows = [
        "| collector | pace (frames/s) | booked (frames/s) | p50 (ms) | p99 (ms) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, found in results.items():
        for pace in (*map(str, RATES), "sustained"):
            f = found[pace]
            shown = f"{int(pace):,}" if pace.isdigit() else "as fast as it goes"
            rows.append(f"| `{name}` | {shown} | {f['rate']:,.0f} | {f['p50_ms']:.1f} | {f['p99_ms']:.1f} |")
        sustained = found["sustained"]["rate"]
        rows.append(f"| `{name}` | from a file (`ingest --format {name}`) | {found['file']:,.0f} | — | — |")
        rows.append(f"| `{name}` | sustained / from a file | {sustained / found['file']:.2f}× | | |")
    return "\n".join(rows)


def write(text: str, path: Path, marker: str, heading: str) -> None:
    doc = path.read_text()
    section = f"<!-- {marker} -->\n{heading}{text}\n<!-- /{marker} -->"
    pattern = re.compile(rf"<!-- {re.escape(marker)} -->.*?<!-- /{re.escape(marker)} -->", re.S)
    if pattern.search(doc):
        doc = pattern.sub(lambda _: section, doc)
    else:
        doc = doc.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(doc)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs; print only")
    args = parser.parse_args(argv)
    results = measure(args.quick)
    text = table(results)
    print(text)
    if not args.quick:
        load = ", ".join(f"{figure:.2f}" for figure in os.getloadavg())
        note = (
            "Measured by `tests/benchmarks/collect.py` on a SQLite file on this machine (2 cores,"
            f" shared with other work: load average {load} over 1, 5 and 15 minutes at the run's"
            " end); latency is from a frame's arrival at the collector to its commit. A Tradier"
            " frame is one HTTP poll (a real request to the loopback server), so its pace tops out"
            " at what one client's requests allow; the rate limit caps it far lower in production"
            " (120 a minute); its baseline commits each reply on its own, as the collector does"
            " (the format reads the ledger). The lighter and hyperliquid formats commit each line"
            " before reading the next (they read the ledger), so Lighter is sent at most 100 frames"
            " a second for long, Hyperliquid and ccxt 500; the Hyperliquid and ccxt rates count the"
            " venue's order updates, of which ccxt hands several in one frame when they arrive"
            " together.\n\n"
        )
        write(note + text, ROOT / "docs" / "collect.md", "collect benchmark", "")
        write(
            note + text,
            ROOT / "docs" / "benchmarks.md",
            "collect",
            "## Live collectors (`orderledger collect`)\n\n",
        )


if __name__ == "__main__":
    main()
