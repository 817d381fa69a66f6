"""Where the ledger is wired: which function answers each request, and the stages a message goes
through on its way into the log. Open this module first.

Every request (``orderledger.requests``) is answered by one function, named in one of two literal
tables: ``handlers.READ_HANDLERS`` (the reads) and ``command_handlers.COMMAND_HANDLERS`` (the
commands). :func:`answer` looks the request's type up there; ``OrderLedger.handle``, each method
of the ledger, the CLI and the HTTP API ask through it. The commands' table is imported with the
first command, so a process that only reads loads neither the commands nor what answers them.

A message's way in, one stage per module, in the order it takes them; each stage calls the next
with what it made, so the path reads top-down from the command's handler
(``command_handlers.ingest_stream``):

1. read: ``ingest.inputs.read_lines`` (a file, a pipe or a live input, line by line);
2. translate: ``application.writes.translating`` (``ingest_lines``: its ``LineReader``, its
   format's options checked, reads each line by the ledger's format or its venue's adapter,
   ``ingest.inbound.read_ledger_line`` and ``read_adapter_line``, into an ``Inbound``: its
   messages, or why it is refused or waits), handing them on to
3. batch: ``application.writes.recording`` (``ingest_inbound``: the inputs grouped into batches;
   ``commit``: each batch through
4. the door: ``application.writes.door`` (``door_for``: whether the risk door judges the batch, and
   the judgement run under the log lock before it is decided), then to
5. decide and commit: ``application.writes.committing`` (``committed``) hands the batch to the
   writer, ``ingest.processing.Processor.decide_and_commit``, which reads what the batch names
   (``Processor.prefetch``), decides it in memory, in arrival order (``ingest.batch.Batch.decide``,
   each message kind as ``ingest.batch.DECISIONS`` names), and writes it in one group commit of
   its journal rows and events;
6. project: ``committing`` then has ``OrderLedger._after_commit`` bring the views
   (``storage.views``) to the commit.
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
