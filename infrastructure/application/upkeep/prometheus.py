"""The collectors' status figures as Prometheus metrics, so a desk's monitoring scrapes them.

``orderledger serve`` answers ``GET /metrics`` with the figures of every collector running on
its ledger (the lease rows ``/health`` reads) and the ledger's head; ``orderledger collect
--metrics-port N`` answers the figures of its own collector. Both render one
:class:`~prometheus_client.CollectorRegistry` of their own (never the library's global one):
:func:`registry` builds it around a function that reads the figures at each scrape, with the
process's own figures beside them (``process_*``, ``python_*``). The figures themselves are
those of ``collect.status.Status.figures``; the metrics, their labels and types are listed
in docs/operations.md ("Monitoring").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from orderledger.infrastructure.application.upkeep.collector_leases import CollectorRow

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The media type of Prometheus' text format, version 0.0.4, which every scraper reads: the text
``generate_latest`` writes for these names is that version's (they need none of 1.0.0's
UTF-8 escaping)."""
PREFIX = "orderledger_collector_"
LABELS = ["collector", "venue", "account"]
COUNTERS = {
    "frames": "Frames received (keep-alives not counted).",
    "events": "Events the collector's frames booked.",
    "reconnects": "Connections lost.",
    "refused": "Frames and replies refused for the collector's bounds (each journaled with its reason).",
    "parked": "Frames whose messages were parked (waiting in the journal for what they refer to).",
}
QUANTILES = {"latency_p50": "0.5", "latency_p99": "0.99"}


@dataclass(frozen=True)
class Published:
    """One collector's figures as published: by its lease row (``stale`` said) or by itself
    (``stale`` None)."""

    venue: str
    account: str | None
    figures: Mapping[str, Any]
    stale: bool | None = None

    @classmethod
    def of(cls, row: CollectorRow) -> Published:
        return cls(row.venue, row.account, row.figures, row.stale)

    @property
    def labels(self) -> list[str]:
        account = self.account or ""
        return [self.venue + (f":{account}" if account else ""), self.venue, account]


def families(collectors: Iterable[Published], head: int | None = None) -> list[Metric]:
    """The metric families of ``collectors``' figures (and of the log's ``head`` when given)."""
    counters = {
        name: CounterMetricFamily(PREFIX + name, doc, labels=LABELS) for name, doc in COUNTERS.items()
    }
    backlog = GaugeMetricFamily(PREFIX + "backlog", "Frames received and not yet durable.", labels=LABELS)
    age = GaugeMetricFamily(
        PREFIX + "last_frame_age_seconds", "Seconds since the last frame arrived.", labels=LABELS
    )
    latency = GaugeMetricFamily(
        PREFIX + "latency_seconds",
        "Seconds from a frame's arrival to its commit, over the last 10,000 frames.",
        labels=[*LABELS, "quantile"],
    )
    reasons = CounterMetricFamily(
        PREFIX + "reconnects_by_reason",
        "Connections lost, by why: lost, ended (the venue's end-of-stream notice), throttled, refused.",
        labels=[*LABELS, "reason"],
    )
    state = GaugeMetricFamily(
        PREFIX + "state", "1 for the collector's state (streaming, waiting, …).", labels=[*LABELS, "state"]
    )
    stale = GaugeMetricFamily(
        PREFIX + "stale", "1 once the collector's heartbeat is older than the takeover age.", labels=LABELS
    )
    for collector in collectors:
        figures, labels = collector.figures, collector.labels
        if not figures:
            continue  # a lease taken, no figures published yet
        for name, family in counters.items():
            family.add_metric(labels, figures[name])
        for reason, count in (figures.get("reconnect_reasons") or {}).items():
            reasons.add_metric([*labels, reason], count)
        backlog.add_metric(labels, figures["backlog"])
        if figures["last_frame_age"] is not None:
            age.add_metric(labels, figures["last_frame_age"])
        for name, quantile in QUANTILES.items():
            if figures[name] is not None:
                latency.add_metric([*labels, quantile], figures[name])
        state.add_metric([*labels, figures["state"]], 1)
        if collector.stale is not None:
            stale.add_metric(labels, int(collector.stale))
    found: list[Metric] = [*counters.values(), reasons, backlog, age, latency, state, stale]
    if head is not None:
        found.append(GaugeMetricFamily("orderledger_log_head", "The last event's position in the log.", head))
    return found


class _Figures:
    """A custom collector of the registry: reads the figures at each scrape."""

    def __init__(self, read: Callable[[], tuple[Sequence[Published], int | None]]) -> None:
        self.read = read

    def collect(self) -> Iterator[Metric]:
        collectors, head = self.read()
        yield from families(collectors, head)


def registry(read: Callable[[], tuple[Sequence[Published], int | None]]) -> CollectorRegistry:
    """A registry of its own: the figures ``read`` answers at each scrape (the collectors' and
    the log's head, or None), and the process's."""
    found = CollectorRegistry()
    found.register(_Figures(read))
    ProcessCollector(registry=found)
    PlatformCollector(registry=found)
    GCCollector(registry=found)
    return found


def exposition(found: CollectorRegistry) -> bytes:
    """The registry's metrics in the text exposition format (read now)."""
    return generate_latest(found)


__all__ = ["CONTENT_TYPE", "Published", "exposition", "families", "registry"]
