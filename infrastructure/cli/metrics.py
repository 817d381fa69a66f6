"""``orderledger collect --metrics-port N``: the collector's status figures for Prometheus.

``GET /metrics`` on ``--metrics-host`` (127.0.0.1 by default) port N answers the figures of the
collector's last status line (``application.upkeep.prometheus``: the same metrics as ``serve``'s
``/metrics``, without the lease's ``stale`` and the log's head) from a registry of its own. It
runs on the collector's event loop (aiohttp, the collect extra). Access is ``serve``'s, by the
same code (``http.guard.Access``): without tokens only a loopback address may be listened on and
only a request addressed to a loopback name (its ``Host``) is answered (403 otherwise: a DNS name
rebound to 127.0.0.1 is a web page reading the figures); with tokens (``--tokens FILE`` or
``$ORDERLEDGER_TOKENS[_FILE]``) a scrape needs a bearer token of the read role or above (else
401). Refusals are problem documents, as ``serve``'s. The port is bound before the collector
starts, so a port taken or out of range is one line and exit 2 with nothing collected."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web

from orderledger.domain.errors import InvalidInputError
from orderledger.infrastructure.application.upkeep import prometheus
from orderledger.infrastructure.http.auth import check_bind, load_tokens
from orderledger.infrastructure.http.guard import Access
from orderledger.infrastructure.http.problems import MEDIA_TYPE, Problem, problem_body
from orderledger.infrastructure.http.server import listening_line, listening_socket

PATH = "/metrics"


def metrics_socket(host: str, port: int, tokens_file: str | None) -> tuple[socket.socket, Access]:
    """The listening socket and the access rules a scrape is checked by (one-line errors)."""
    tokens = load_tokens(tokens_file)
    check_bind(
        host,
        tokens,
        what="serve metrics",
        risk="anyone could read the collector's figures",
        instead="use --metrics-host 127.0.0.1",
    )
    if not 1 <= port <= 65_535:
        raise InvalidInputError(f"--metrics-port must be from 1 to 65535, not {port}")
    return listening_socket(host, port), Access.of(tokens)


def listening(sock: socket.socket, access: Access) -> str:
    """The line ``collect`` says once its metrics are served: their URL, whether tokens are on."""
    return listening_line("metrics", sock, PATH, access.tokens)


async def serve_metrics(
    sock: socket.socket, access: Access, published: Callable[[], Iterable[tuple[str, str | None, Any]]]
) -> web.AppRunner:
    """Answer ``GET /metrics`` on ``sock`` with the collector's figures as last ``published``
    ((venue, account, figures), none before its first status line), every request admitted by
    ``access`` first; the caller cleans the runner up when it stops."""
    registry = prometheus.registry(lambda: ([prometheus.Published(*found) for found in published()], None))

    @web.middleware
    async def admitted(request: web.Request, handler: Any) -> web.StreamResponse:
        headers = {name.lower(): value for name, value in request.headers.items()}
        try:
            access.admit(request.method, headers)
        except Problem as refused:
            body = json.dumps(problem_body(refused.status, refused.detail)).encode()
            headers = {**refused.headers, "Content-Type": MEDIA_TYPE}  # as serve's, no charset
            return web.Response(status=refused.status, body=body, headers=headers)
        response: web.StreamResponse = await handler(request)
        return response

    async def scrape(request: web.Request) -> web.Response:
        return web.Response(
            body=prometheus.exposition(registry), headers={"Content-Type": prometheus.CONTENT_TYPE}
        )

    app = web.Application(middlewares=[admitted])
    app.router.add_get(PATH, scrape)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    return runner


__all__ = ["PATH", "listening", "metrics_socket", "serve_metrics"]
