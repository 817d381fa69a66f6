"""Reading input lines (``infrastructure.inputs.read_lines``): the same lines however the input is
chunked, over-long lines cut at the limit plus one byte, and pauses only where the input waits."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderledger.infrastructure.ingest.inputs import PAUSE, read_lines

LIMIT = 10


def lines_of(data: bytes, tmp_path: Path, chunk: int, limit: int = LIMIT) -> list[bytes | None]:
    path = tmp_path / "in.txt"
    path.write_bytes(data)
    with path.open("rb") as handle:
        return list(read_lines(handle, limit=limit, chunk=chunk))


def expected(data: bytes, limit: int = LIMIT) -> list[bytes]:
    """What reading must give: each line with its ending, or its first limit + 1 bytes if too long."""
    out = []
    pieces = [piece + b"\n" for piece in data.split(b"\n")]
    pieces[-1] = pieces[-1][:-1]  # the part after the last newline has none
    for line in (piece for piece in pieces if piece):
        content = line.rstrip(b"\n")
        content = content[:-1] if content.endswith(b"\r") else content
        out.append(line[: limit + 1] if len(content) > limit else line)
    return out


@pytest.mark.parametrize("chunk", [1, 3, 4, 11, 64 * 1024])
def test_lines_endings_and_the_limit_do_not_depend_on_chunking(tmp_path: Path, chunk: int) -> None:
    data = b"a\r\nexactly10!\r\n0123456789\n" + b"x" * 15 + b"\nlast without newline"
    got = lines_of(data, tmp_path, chunk)
    assert got == [b"a\r\n", b"exactly10!\r\n", b"0123456789\n", b"x" * 11, b"last without"[:11]]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200).map(lambda b: b.replace(b"\x00", b"\n")), st.integers(1, 40))
def test_any_bytes_in_any_chunks_give_the_same_lines(data: bytes, chunk: int) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        assert lines_of(data, Path(folder), chunk) == expected(data)


def pipe_lines(writes: list[bytes]) -> Iterator[bytes | None]:
    """Read from a pipe that receives ``writes`` one after another, each once the reader waits."""
    read_fd, write_fd = os.pipe()
    reader = os.fdopen(read_fd, "rb", buffering=0)
    waiting = threading.Semaphore(0)

    def writer() -> None:
        for data in writes:
            waiting.acquire()
            os.write(write_fd, data)
        waiting.acquire()
        os.close(write_fd)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for item in read_lines(reader, pauses=True):
            if item is PAUSE:
                waiting.release()
            yield item
    finally:
        thread.join()
        reader.close()


def test_a_pipe_pauses_only_where_it_waits_even_inside_a_line() -> None:
    got = list(pipe_lines([b"one\ntw", b"o\nthree\n"]))
    assert got == [PAUSE, b"one\n", PAUSE, b"two\n", b"three\n", PAUSE]
