"""What a SQLite writer checks before it acknowledges a commit: that the file it committed to is
still the ledger's file at its path, whole, with its write-ahead log.

A writer's commit is durable in two files, the database and its ``-wal`` (a commit sits in the
log until a checkpoint copies it into the database). Taken from under a running writer, either
takes acknowledged commits with it, and SQLite does not notice: it keeps its files open and goes
on writing into a deleted log, or into whatever bytes were copied over the database. So before
each acknowledgement the writer looks, by ``stat`` alone (a few microseconds):

- the path still names the database file it opened (device and inode): not deleted, renamed
  away or replaced by a rename;
- the path's ``-wal`` is the log it committed into (device and inode): not deleted or replaced;
- the database file is in the state it last saw, or else (a checkpoint, by any process, writes
  it; so does ``cp other.db ledger.db``) its header, read through the descriptor SQLite holds,
  still describes this ledger's file: SQLite's header, the page size it was opened with, WAL
  mode, the ledger's stamp (``PRAGMA user_version``, random, set by the first writer), a change
  counter and a page count that never went back, and no fewer bytes than before.

The database file itself is never opened here: a process that opens and closes a file SQLite has
open drops SQLite's locks on it (POSIX locks belong to the process). Its header is read with
``pread`` on a descriptor SQLite already has open.

What this cannot tell: a copy of this very ledger's file taken since its header last changed on
disk, put back in place. Writes it lost are found by ``verify --heads-file`` against heads
recorded outside the database (``orderledger head >> heads.log``).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

MAGIC = b"SQLite format 3\x00"
HEADER_BYTES = 100


def file_state(path: str) -> list[int] | None:
    """The file's device, inode, size and the times its bytes and its inode last changed (ns), by
    ``stat`` alone; None when there is no file. (Its write-ahead log is not looked at.)"""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return [status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns]


def identity(path: str) -> tuple[int, int] | None:
    """The device and inode of the file at ``path`` (None when there is none): what tells the file
    a connection opened from one put at the same path later."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino


def new_stamp() -> int:
    """A ledger file's stamp: a random non-zero signed 32-bit value for ``PRAGMA user_version``."""
    return secrets.randbelow(2**31 - 1) + 1


@dataclass(frozen=True)
class Header:
    """The fields of a SQLite header that tell one database file from another."""

    page_size: int
    wal_mode: bool
    change_counter: int
    pages: int
    stamp: int

    @staticmethod
    def parse(raw: bytes) -> Header | None:
        """The header in ``raw`` (the file's first 100 bytes), None when it is not SQLite's."""
        if len(raw) < HEADER_BYTES or raw[:16] != MAGIC:
            return None
        size = int.from_bytes(raw[16:18], "big")
        return Header(
            page_size=65536 if size == 1 else size,
            wal_mode=raw[18] == 2 and raw[19] == 2,
            change_counter=int.from_bytes(raw[24:28], "big"),
            pages=int.from_bytes(raw[28:32], "big"),
            stamp=int.from_bytes(raw[60:64], "big", signed=True),
        )


@dataclass(frozen=True)
class Loss:
    """Why a writer may no longer acknowledge anything, and whether what it committed can still
    be folded into the file it has open (the database file is still the ledger's)."""

    what: str
    fold: bool

    @property
    def advice(self) -> str:
        """What the refusal tells a person to do."""
        if self.fold:
            return "put the ledger's file back, restart, and send again what was not acknowledged"
        return (
            "put the ledger's file back from a copy, restart, run `orderledger verify --heads-file`,"
            " and send again what is missing"
        )


class FileGuard:
    """The checks of one writing connection's files (see the module's docstring)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.opened = identity(path)
        self.wal: tuple[int, int] | None = None  # the log SQLite committed into, once it has
        self.state = file_state(path)
        self.size = 0 if self.state is None else self.state[2]
        self.fd: int | None = None
        self.header = self._read_header()
        # The ledger's stamp: known once read from the file (or written by this process).
        self.stamp = None if self.header is None or not self.header.stamp else self.header.stamp

    def stamped(self, stamp: int) -> None:
        """The stamp the ledger's file carries (read, or written by this process's first write)."""
        self.stamp = stamp

    def loss(self) -> Loss | None:
        """What is wrong with the files, or None when the last commit is where it should be."""
        now = identity(self.path)
        if now != self.opened:
            gone = "is gone from that path (deleted or renamed)"
            return Loss(gone if now is None else "was replaced by another file", fold=True)
        wal = identity(f"{self.path}-wal")
        if self.wal is not None and wal != self.wal:
            if wal is None:
                return Loss(f"lost its write-ahead log {self.path + '-wal'!r} (deleted)", fold=True)
            return Loss(
                f"had its write-ahead log {self.path + '-wal'!r} replaced by another file", fold=False
            )
        state = file_state(self.path)
        if state != self.state:
            what = self._changed(state)
            if what is not None:
                return Loss(what, fold=False)
        return None

    def committed(self) -> None:
        """After a commit that passed :meth:`loss`: the log it went into is the one to keep."""
        if self.wal is None:
            self.wal = identity(f"{self.path}-wal")

    def _changed(self, state: list[int] | None) -> str | None:
        """The database file was written since it was last looked at: by a checkpoint (fine) or
        by something else. Why it is no longer the ledger's file, or None (and the new state is
        remembered)."""
        size = 0 if state is None else state[2]
        if size < self.size:
            return f"was truncated in place ({size:,} bytes, from {self.size:,})"
        header = self._read_header()
        if header is None:
            if self.fd is None:  # no descriptor to read it through: the size is all there is
                self.state, self.size = state, size
                return None
            return "was overwritten in place (it no longer starts with a SQLite header)"
        before = self.header
        if before is not None and (
            header.page_size != before.page_size
            or header.wal_mode != before.wal_mode
            or header.change_counter < before.change_counter
            or header.pages < before.pages
        ):
            return "was overwritten in place (its header went back or changed its layout)"
        # The stamp may be missing on disk only until a checkpoint first copies it there.
        on_disk = before is not None and before.stamp == self.stamp
        if self.stamp is not None and header.stamp != self.stamp and (header.stamp or on_disk):
            return "was overwritten in place by another database file"
        self.state, self.size, self.header = state, size, header
        return None

    def _read_header(self) -> Header | None:
        """The database file's header as it is on disk, read through a descriptor SQLite holds
        (found among this process's open files by device and inode); None when none is open."""
        for _ in range(2):
            fd = self.fd if self.fd is not None else self._find_descriptor()
            if fd is None:
                return None
            try:
                status = os.fstat(fd)
                if (status.st_dev, status.st_ino) == self.opened:
                    return Header.parse(os.pread(fd, HEADER_BYTES, 0))
            except OSError:
                pass
            self.fd = None  # closed or reused for another file since: look again
        return None

    def _find_descriptor(self) -> int | None:
        for folder in ("/proc/self/fd", "/dev/fd"):
            try:
                names = os.listdir(folder)
            except OSError:
                continue
            for name in names:
                try:
                    status = os.fstat(int(name))
                except (OSError, ValueError):
                    continue
                if (status.st_dev, status.st_ino) == self.opened:
                    self.fd = int(name)
                    return self.fd
            return None
        return None
