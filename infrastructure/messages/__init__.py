"""The ledger's message format, below every layer that reads or writes it.

``models``: one pydantic model per message type and their union, ``Message``, with the parser
of JSON lines (the one place that reads a message's ``type``); ``fields``: the rule and
description of each field; ``exact_json``: reading a line exactly; ``docs``: the field tables of
docs/messages.md. Adapters build these models, ingest books them, and neither imports the other
for them.
"""
