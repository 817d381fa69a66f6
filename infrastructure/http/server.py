"""Run the app on uvicorn: ``orderledger serve``."""

from __future__ import annotations

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.http.app import MAX_BODY, create_app
from orderledger.infrastructure.http.auth import check_bind, load_tokens
from orderledger.infrastructure.http.service import LedgerService

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8400


def serve(
    url: str | None,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    tokens_file: str | None = None,
    max_body: int = MAX_BODY,
) -> None:
    """Serve the API and the page until interrupted; refuses a non-loopback host without tokens."""
    import uvicorn

    tokens = load_tokens(tokens_file)
    check_bind(host, tokens)  # before opening anything
    ledger = OrderLedger(url)
    ledger.check_ahead()  # the file's check runs while the server starts, not in the first POST
    try:
        app = create_app(LedgerService(ledger), tokens, max_body=max_body)
        # Streams never end by themselves: give them 2 s to close on shutdown, then cancel.
        uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=2)
    finally:
        ledger.close()
