"""Live input: what a connector pipes into ``orderledger ingest -`` is durable as soon as it pauses.

Group commits take up to 1,000 lines; from a pipe, the ledger also commits whenever the input has
nothing more to read at once, so a message is never held back waiting for the next one. With
``--acks`` each input line is answered by one JSON line on stdout once its commit is durable.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import cli_json, jsonl, live_ingest, run_cli, write_lines
from tests.support.live_input import ACCEPTED, FILL, REQUEST, read_json_line


def test_piped_messages_are_acknowledged_and_queryable_while_the_pipe_stays_open(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    process = live_ingest(url, tmp_path)
    assert process.stdin is not None and process.stdout is not None
    try:
        for line in jsonl(REQUEST, ACCEPTED):
            process.stdin.write(line.encode() + b"\n")
        acks = [read_json_line(process.stdout), read_json_line(process.stdout)]
        assert [(a["line"], a["outcome"], a["events"]) for a in acks] == [
            (1, "applied", 1),
            (2, "applied", 1),
        ]
        assert all(isinstance(a["message_id"], int) for a in acks)

        # Still running, pipe open: what was acknowledged is in the database for everyone.
        order = cli_json("order", "live-1", db=url, cwd=tmp_path)
        assert order["status"] == "accepted"

        process.stdin.write(jsonl(FILL)[0].encode() + b"\n")
        assert read_json_line(process.stdout)["outcome"] == "applied"
        assert cli_json("order", "live-1", db=url, cwd=tmp_path)["status"] == "filled"

        process.stdin.close()
        summary = read_json_line(process.stdout)["summary"]
        assert summary["lines"] == 3 and summary["counts"]["applied"] == 3 and summary["events"] == 3
        assert process.wait(timeout=60) == 0
        assert process.stderr is not None and process.stderr.read() == b""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pipe in (process.stdin, process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


def test_acks_from_a_file_answer_every_line_including_rejected_ones(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'acks.db'}"
    path = write_lines(tmp_path / "in.jsonl", [*jsonl(REQUEST, ACCEPTED), "not json", *jsonl(ACCEPTED)])
    run = run_cli("ingest", str(path), "--acks", db=url, cwd=tmp_path)
    assert run.returncode == 1, run.describe()
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert [(a["line"], a["outcome"]) for a in lines[:-1]] == [
        (1, "applied"),
        (2, "applied"),
        (3, "rejected"),
        (4, "duplicate"),
    ]
    assert lines[2]["reason"].startswith("malformed JSON")
    assert lines[-1]["summary"]["counts"] == {
        "applied": 2,
        "duplicate": 1,
        "parked": 0,
        "ignored": 0,
        "rejected": 1,
    }
    assert run.stderr_lines == ["line 3: rejected: " + lines[2]["reason"]]


def test_a_strict_run_that_stores_nothing_acknowledges_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'strict.db'}"
    path = write_lines(tmp_path / "in.jsonl", [*jsonl(REQUEST), "not json"])
    run = run_cli("ingest", str(path), "--acks", "--strict", db=url, cwd=tmp_path)
    assert run.returncode == 1, run.describe()
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(lines) == 1 and lines[0]["summary"]["events"] == 0, lines


def test_an_over_long_line_is_rejected_without_being_held_whole(tmp_path: Path) -> None:
    """A 5 MB line among good ones: rejected as too long, its neighbours applied, the journal keeps
    its first megabyte (what was received is never dropped silently), and nothing else is lost."""
    url = f"sqlite:///{tmp_path / 'long.db'}"
    huge = '{"type":"request","note":"' + "x" * 5_000_000 + '"}'
    path = write_lines(tmp_path / "in.jsonl", [*jsonl(REQUEST), huge, *jsonl(ACCEPTED)])
    run = run_cli("ingest", str(path), "--acks", db=url, cwd=tmp_path)
    assert run.returncode == 1, run.describe()
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert [(a["line"], a["outcome"]) for a in lines[:-1]] == [
        (1, "applied"),
        (2, "rejected"),
        (3, "applied"),
    ]
    assert "longer than 1000000 bytes" in lines[1]["reason"]
    shown = run_cli("messages", "--outcome", "rejected", "--json", db=url, cwd=tmp_path)
    journal = [json.loads(line) for line in shown.stdout.splitlines()]
    assert len(journal) == 1 and 1_000_000 <= len(journal[0]["raw"]) <= 1_000_001
