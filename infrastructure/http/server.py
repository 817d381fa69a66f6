"""Run the app on uvicorn: ``orderledger serve``."""

from __future__ import annotations

import contextlib
import socket
import sys
from collections.abc import Iterable

import uvicorn

from orderledger.domain.errors import InvalidInputError
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.errors import ConfigurationError
from orderledger.infrastructure.http import bounded_reads
from orderledger.infrastructure.http.app import MAX_BODY, create_app
from orderledger.infrastructure.http.auth import Tokens, check_bind, load_tokens
from orderledger.infrastructure.http.guard import check_origin
from orderledger.infrastructure.http.service import LedgerService

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8400
BACKLOG = 2048
"""Connections the operating system holds until the server takes them (uvicorn's own default)."""


def listening_line(what: str, sock: socket.socket, path: str, tokens: Tokens) -> str:
    """The one line a listener says when it starts: ``what`` it serves, its URL (``path`` on the
    socket's address) and whether tokens are on (off: loopback names only)."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    access = "tokens on" if tokens.enabled else "tokens off: loopback names only"
    return f"orderledger: {what} at http://{shown}:{port}{path} ({access})"


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``; a port out of range or taken is a one-line error.

    Bound here rather than by uvicorn, which would log its failure over several lines and exit 1,
    and would let the operating system pick a port for a number beyond 65535."""
    if not 1 <= port <= 65_535:
        raise InvalidInputError(f"--port must be from 1 to 65535, not {port}")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as error:
        raise ConfigurationError(f"cannot listen on {host}: {error.strerror}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)  # said to be listening: a connection from now on waits to be served
    except OSError as error:
        sock.close()
        raise ConfigurationError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    return sock


def serve(
    url: str | None,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    tokens_file: str | None = None,
    max_body: int = MAX_BODY,
    allowed_origins: Iterable[str] = (),
    expensive_reads: int = bounded_reads.CONCURRENCY,
    expensive_seconds: float = bounded_reads.SECONDS,
    lists: tuple[int, int, float] = (
        bounded_reads.LIST_READS,
        bounded_reads.LIST_READS_PER_CLIENT,
        bounded_reads.LIST_SECONDS,
    ),
    streams: tuple[int, int] = (bounded_reads.STREAMS, bounded_reads.STREAMS_PER_CLIENT),
) -> None:
    """Serve the API and the page until interrupted; refuses a non-loopback host without tokens."""
    tokens = load_tokens(tokens_file)
    check_bind(host, tokens)  # before opening anything
    origins = [check_origin(origin) for origin in allowed_origins]
    try:
        expensive = bounded_reads.WorkLimit(expensive_reads, expensive_seconds)
        list_reads = bounded_reads.list_limit(*lists)
        stream_clients = bounded_reads.stream_limit(*streams)
    except ValueError as error:
        raise InvalidInputError(str(error)) from None
    sock = listening_socket(host, port)
    with contextlib.ExitStack() as stack:
        stack.callback(sock.close)
        ledger = OrderLedger(url)
        stack.callback(ledger.close)
        ledger.check_ahead()  # the file's check runs while the server starts, not in the first POST
        # The whole-log reads, the P&L folds and the list reads run in processes of their own
        # (an in-memory ledger: in threads): one for the folds, so that they never wait behind
        # a long one; one for each list read the bound admits at once.
        reader = folder = lister = None
        if not ledger.db.url.is_memory:
            lister = bounded_reads.ReaderProcesses(ledger.url, list_reads.concurrency, "list reads")
            stack.callback(lister.close)
            lister.start()  # the page lists orders and trades first; not after the first look
            reader = bounded_reads.ReaderProcesses(ledger.url, expensive_reads)
            stack.callback(reader.close)
            folder = bounded_reads.ReaderProcesses(ledger.url, 1, "P&L reads")
            stack.callback(folder.close)
            folder.start()  # the page's P&L tab needs it first; not after the first click
        app = create_app(
            LedgerService(ledger),
            tokens,
            max_body=max_body,
            allowed_origins=origins,
            expensive=expensive,
            reader=reader,
            folder=folder,
            lists=list_reads,
            lister=lister,
            streams=stream_clients,
        )
        # Streams never end by themselves: give them 2 s to close on shutdown, then cancel.
        config = uvicorn.Config(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=2)
        sys.stderr.write(listening_line("the API and the page", sock, "/", tokens) + "\n")
        sys.stderr.flush()
        uvicorn.Server(config).run(sockets=[sock])
