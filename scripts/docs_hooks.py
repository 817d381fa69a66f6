"""MkDocs hooks (mkdocs.yml ``hooks``): the reference pages made from the code at build time.

- ``reference/cli.md``: every command and option of ``orderledger``, from the command's own
  definitions (the typer application, read through click's help records);
- ``reference/http.md``: every route of the HTTP API, from ``docs/openapi.json`` (the document the
  server serves, kept current by ``tests/support/http_docs.py`` and its test);
- ``changelog.md``: ``CHANGELOG.md`` with its links made relative to the docs folder.

Nothing is written into ``docs/``: the pages exist in the built site only, so they cannot go stale.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def cli_reference() -> str:
    """The command's reference: one section per command, a table of its arguments and options."""
    import typer

    from orderledger.infrastructure.cli.app import app

    root = typer.main.get_command(app)
    lines = [
        "# Command reference",
        "",
        "Every command and option of `orderledger`, as `orderledger COMMAND --help` prints them.",
        "Options before the command: `--db URL` (else `$ORDERLEDGER_DATABASE_URL`, else",
        "`sqlite:///orderledger.db`).",
        "",
    ]

    # (typer ships its own copy of click: its classes are reached through the command itself)
    def section(command: Any, path: list[str], parent: Any) -> None:
        ctx = command.context_class(command, info_name=path[-1] if path else "orderledger", parent=parent)
        subcommands = getattr(command, "commands", None) or {}
        own = [p for p in command.params if p.name != "help"]
        if path and (own or not subcommands):
            lines.extend([f"## orderledger {' '.join(path)}", ""])
            text = (command.help or "").strip()
            if text:
                lines.extend([text.split("\f")[0].strip(), ""])
            rows = []
            for param in own:
                record = param.get_help_record(ctx)
                if record is None:  # an argument: its metavar and its help
                    metavar = param.make_metavar(ctx) if hasattr(param, "make_metavar") else param.name
                    record = (str(metavar), getattr(param, "help", None) or "")
                rows.append(f"| `{_cell(record[0])}` | {_cell(record[1])} |")
            if rows:
                lines.extend(["| argument or option | what it does |", "|---|---|", *rows, ""])
        for name in sorted(subcommands):
            section(subcommands[name], [*path, name], ctx)

    section(root, [], None)
    return "\n".join(lines) + "\n"


def http_reference() -> str:
    """The HTTP API's reference: one section per route and method, from the OpenAPI document."""
    document: dict[str, Any] = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
    lines = [
        "# HTTP reference",
        "",
        f"Every route of the HTTP API ({document['info']['title']} {document['info']['version']}),"
        " from [the OpenAPI document](../openapi.json) the server serves at `/openapi.json`.",
        "How to run the server, its tokens and its page: [HTTP API and page](../http.md).",
        "",
    ]
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            lines.extend([f"## {method.upper()} `{path}`", ""])
            if operation.get("summary"):
                lines.extend([f"**{operation['summary']}**", ""])
            if operation.get("description"):
                lines.extend([operation["description"].strip(), ""])
            parameters = operation.get("parameters", [])
            if parameters:
                lines.extend(["| parameter | in | what it is |", "|---|---|---|"])
                for parameter in parameters:
                    lines.append(
                        f"| `{parameter['name']}` | {parameter['in']} |"
                        f" {_cell(parameter.get('description', ''))} |"
                    )
                lines.append("")
            answers = ", ".join(
                f"`{code}` {_cell(r.get('description', ''))}" for code, r in operation["responses"].items()
            )
            lines.extend([f"Answers: {answers}.", ""])
    return "\n".join(lines) + "\n"


def changelog() -> str:
    """CHANGELOG.md, its links to ``docs/…`` made relative to the docs folder."""
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    return re.sub(r"\]\(docs/", "](", text)


PAGES = {"reference/cli.md": cli_reference, "reference/http.md": http_reference, "changelog.md": changelog}


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    for path, make in PAGES.items():
        files.append(File.generated(config, path, content=make()))
    return files
