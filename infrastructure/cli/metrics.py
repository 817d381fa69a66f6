"""``orderledger collect --metrics-port N``: the collector's status figures for Prometheus.

``GET /metrics`` on ``--metrics-host`` (127.0.0.1 by default) port N answers the figures of the
collector's last status line (``application.metrics``: the same metrics as ``serve``'s
``/metrics``, without the lease's ``stale`` and the log's head) from a registry of its own. It
runs on the collector's event loop (aiohttp, the collect extra). Access is ``serve``'s: with
tokens (``--tokens FILE`` or ``$ORDERLEDGER_TOKENS[_FILE]``) a scrape needs a bearer token of the
read role or above (else 401), and without tokens only a loopback address may be listened on.
The port is bound before the collector starts, so a port taken or out of range is one line and
exit 2 with nothing collected."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web

from orderledger.domain.errors import InvalidInputError
from orderledger.infrastructure.application import metrics
from orderledger.infrastructure.errors import ConfigurationError
from orderledger.infrastructure.http.auth import TOKENS_VARIABLE, Tokens, is_loopback, load_tokens
from orderledger.infrastructure.http.server import listening_socket

UNAUTHORIZED = "a bearer token of the read role is required: Authorization: Bearer TOKEN\n"


def metrics_socket(host: str, port: int, tokens_file: str | None) -> tuple[socket.socket, Tokens]:
    """The listening socket and the tokens a scrape is checked against (one-line errors)."""
    tokens = load_tokens(tokens_file)
    if not tokens.enabled and not is_loopback(host):
        raise ConfigurationError(
            f"refusing to serve metrics on {host} without tokens: anyone could read the collector's"
            f" figures; set ${TOKENS_VARIABLE} or --tokens FILE, or use --metrics-host 127.0.0.1"
        )
    if not 1 <= port <= 65_535:
        raise InvalidInputError(f"--metrics-port must be from 1 to 65535, not {port}")
    return listening_socket(host, port), tokens


def admitted(tokens: Tokens, authorization: str) -> bool:
    """True when no tokens are configured, or ``authorization`` bears a token that may read."""
    if not tokens.enabled:
        return True
    scheme, _, token = authorization.partition(" ")
    holder = tokens.holder_of(token.strip()) if scheme.lower() == "bearer" else None
    return holder is not None and holder.may("read")


async def serve_metrics(
    sock: socket.socket, tokens: Tokens, published: Callable[[], Iterable[tuple[str, str | None, Any]]]
) -> web.AppRunner:
    """Answer ``GET /metrics`` on ``sock`` with the collector's figures as last ``published``
    ((venue, account, figures), none before its first status line); the caller cleans the
    runner up when it stops."""
    registry = metrics.registry(lambda: ([metrics.Published(*found) for found in published()], None))

    async def scrape(request: web.Request) -> web.Response:
        if not admitted(tokens, request.headers.get("Authorization", "")):
            return web.Response(status=401, text=UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})
        return web.Response(body=metrics.exposition(registry), headers={"Content-Type": metrics.CONTENT_TYPE})

    app = web.Application()
    app.router.add_get("/metrics", scrape)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    return runner


__all__ = ["admitted", "metrics_socket", "serve_metrics"]
