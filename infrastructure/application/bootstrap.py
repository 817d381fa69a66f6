"""Where the ledger is wired: which function answers each request, and the stages a message goes
through on its way into the log. Open this module first.

Every request (``orderledger.requests``) is answered by one function, named in one of two literal
tables: ``handlers.READ_HANDLERS`` (the reads) and ``command_handlers.COMMAND_HANDLERS`` (the
commands). :func:`answer` looks the request's type up there; ``OrderLedger.handle``, each method
of the ledger, the CLI and the HTTP API ask through it. The commands' table is imported with the
first command, so a process that only reads loads neither the commands nor what answers them.

A message's way in, one stage per module, in the order it takes them:

1. read: ``ingest.inputs.read_lines`` (a file, a pipe or a live input, line by line);
2. translate: ``application.writes.translating`` (a line, read by the ledger's format or its venue's
   adapter, into an ``Inbound``: its messages, or why it is refused or waits);
3. decide: ``ingest.batch.DECISIONS`` names the decision of each message kind, which
   ``ingest.batch.Batch.decide`` takes in memory, in arrival order, for a batch of inputs;
4. commit: ``application.writes.recording`` (a batch through the risk door, and
   ``ingest.processing.Processor.process``: one group commit of its journal rows and events);
5. project: ``OrderLedger._after_commit`` brings the views (``storage.views``) to the commit.
"""

from __future__ import annotations

from typing import Any, TypeVar

from orderledger.domain.errors import InvalidInputError
from orderledger.infrastructure.application.handlers import READ_HANDLERS, Handler
from orderledger.infrastructure.application.ledger_protocol import LedgerParts
from orderledger.infrastructure.application.typed_request import Request

T = TypeVar("T")


def answer(ledger: LedgerParts, request: Request[T]) -> T:
    """The answer to ``request`` (``OrderLedger.handle``), from the function its table names."""
    handler = READ_HANDLERS.get(type(request)) or command_handlers().get(type(request))
    if handler is None:
        raise InvalidInputError(
            f"handle(): {type(request).__name__} is not a request the ledger answers"
            f" (orderledger.requests names them)",
            field="request",
        )
    found: T = handler(ledger, request)
    return found


def command_handlers() -> dict[type[Request[Any]], Handler]:
    """The commands' table (``command_handlers.COMMAND_HANDLERS``)."""
    # Imported with the first command: a process that only reads loads neither the commands'
    # classes nor their handlers (tests/cli/test_start_imports.py holds it to that).
    from orderledger.infrastructure.application.command_handlers import COMMAND_HANDLERS

    return COMMAND_HANDLERS


__all__ = ["answer", "command_handlers"]
