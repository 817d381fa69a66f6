"""What docs/ says about the HTTP layer holds: the committed OpenAPI document is the app's, every
curl line of docs/http.md runs against a real server, and the page's script inserts no markup."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.http_api import BOUND, running_server
from tests.support.http_docs import OPENAPI, ROOT, openapi_document

HTTP_DOC = ROOT / "docs" / "http.md"
STATIC = ROOT / "infrastructure" / "http" / "static"


def test_the_committed_openapi_document_is_the_apps() -> None:
    assert OPENAPI.read_text(encoding="utf-8") == openapi_document(), (
        "docs/openapi.json is stale: run .venv/bin/python -m tests.support.http_docs"
    )


def curl_lines() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", HTTP_DOC.read_text(encoding="utf-8"), re.S)
    return [line for block in blocks for line in block.splitlines() if line.startswith("curl ")]


def test_the_curl_examples_run(tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    lines = curl_lines()
    assert len(lines) >= 14
    with running_server() as server:
        answers = []
        for line in lines:
            done = subprocess.run(
                ["bash", "-c", line],
                env={"URL": server.url, "PATH": "/usr/bin:/bin"},
                capture_output=True,
                timeout=BOUND,
                check=False,
            )
            # --max-time ends the stream example on purpose (exit 28); everything else exits 0
            assert done.returncode == (28 if "--max-time" in line else 0), (line, done.stderr)
            answers.append(done.stdout.decode())
    documents = [json.loads(a) for a, line in zip(answers, lines, strict=True) if "/stream" not in line]
    # The first example records c-1; the second records one fill and rejects the negative one
    assert documents[0]["results"][0]["outcome"] == "applied"
    assert documents[1]["status"] == 422 and documents[1]["counts"]["applied"] == 1
    assert documents[1]["detail"].startswith("line 2 rejected:")
    # The order, seen through the query examples, is filled 1 of 2
    assert documents[3]["filled_quantity"] == "1"
    # The fill of an order nobody requests parks as message 4; settling it sets it aside,
    # recorded as message 5 (the request and the two fills above are messages 1 to 3)
    assert documents[-3]["results"][0]["outcome"] == "parked"
    assert documents[-2] == {"message_id": 4, "settled_by": 5, "action": "set_aside"}
    # The last example is the documented 404
    assert documents[-1]["detail"] == "no order 'nope' (client order ID, venue order ID or alias)"
    # The stream example printed the two events in log order
    stream = next(a for a, line in zip(answers, lines, strict=True) if "/stream" in line)
    assert re.findall(r"^id: (\d+)$", stream, re.M) == ["1", "2"]


def test_the_page_never_builds_markup_from_strings() -> None:
    # every script of the page: app.js and the tabs that add their own contents (exposure.js …)
    scripts = sorted(STATIC.glob("*.js"))
    assert len(scripts) >= 4, scripts
    for path in scripts:
        script = path.read_text(encoding="utf-8")
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in script, (path.name, sink)
    assert "<script>" not in (STATIC / "index.html").read_text(encoding="utf-8")
