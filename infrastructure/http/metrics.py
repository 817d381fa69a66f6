"""``GET /metrics``: the collectors' status figures and the log's head for Prometheus.

The app's registry (``application.upkeep.prometheus.registry``: one per app, never the library's global
one) is built at the first scrape and reads the lease rows (those ``/health`` lists) and the
head at each one, in a worker thread (it reads the database). prometheus-client comes with the
``collect`` extra; without it the route answers 503 saying so."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from orderledger.infrastructure.http.problems import Problem
from orderledger.infrastructure.http.service import LedgerService

MISSING = "GET /metrics needs prometheus-client: pip install 'orderledger[collect]'"


def _metrics(app: FastAPI) -> tuple[Any, Any]:
    """The metrics module and the app's registry, built on first use."""
    built = getattr(app.state, "metrics", None)
    if built is None:
        try:  # an optional dependency (the collect extra): loaded at the first scrape only
            from orderledger.infrastructure.application.upkeep import prometheus
        except ImportError:
            raise Problem(503, MISSING) from None
        service: LedgerService = app.state.service

        def read() -> tuple[list[Any], int]:
            return [prometheus.Published.of(row) for row in service.collector_rows()], service.head()

        built = app.state.metrics = (prometheus, prometheus.registry(read))
    return built


async def scrape(app: FastAPI) -> tuple[bytes, str]:
    """The exposition text read now, and its media type."""
    prometheus, registry = _metrics(app)
    text: bytes = await run_in_threadpool(prometheus.exposition, registry)
    return text, str(prometheus.CONTENT_TYPE)


__all__ = ["scrape"]
