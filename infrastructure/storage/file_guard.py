"""What a SQLite writer checks before it acknowledges a commit: that the file it committed to is
still the ledger's file at its path, whole, with its write-ahead log.

A writer's commit is durable in two files, the database and its ``-wal`` (a commit sits in the
log until a checkpoint copies it into the database). Taken from under a running writer, either
takes acknowledged commits with it, and SQLite does not notice: it keeps its files open and goes
on writing into a deleted log, or into whatever bytes were copied over the database. So before
each acknowledgement the writer looks, by ``stat`` and a few small reads (microseconds):

- the path still names the database file it opened (device and inode): not deleted, renamed
  away or replaced by a rename;
- the path's ``-wal`` is the log it committed into (device and inode): not deleted or replaced;
- that log still holds what SQLite's index of it (the ``-shm``, which every writer updates as it
  commits) says it holds: the header with the index's salts, as many bytes as the frames indexed,
  and the last indexed frame carrying the same salts. A log truncated or written over in place
  breaks this, and SQLite does not look (it reads frames where its index says they are, appends
  after them into a hole, and its next recovery keeps nothing after the first bad frame). Another
  writer's commits and checkpoints keep it: each appends its frames before it indexes them, and a
  checkpoint that restarts or truncates the log first sets the index to no frames;
- the database file is in the state it last saw, or else (a checkpoint, by any process, writes
  it; so does ``cp other.db ledger.db``) its header, read through the descriptor SQLite holds,
  still describes this ledger's file: SQLite's header, the page size it was opened with, WAL
  mode, the ledger's stamp (``PRAGMA user_version``, random, set by the first writer), a change
  counter and a page count that never went back, and no fewer bytes than before.

None of the three files is opened here: a process that opens and closes a file SQLite has open
drops SQLite's locks on it (POSIX locks belong to the process). Their bytes are read with
``pread`` on descriptors SQLite already has open. The index and the log are read without the
write lock, so a writer at work between the two reads could make them disagree for a moment: the
index is read again after the log, and no verdict is drawn unless it did not change meanwhile.

What this cannot tell: a copy of this very ledger's file taken since its header last changed on
disk, put back in place. Writes it lost are found by ``verify --heads-file`` against heads
recorded outside the database (``orderledger head >> heads.log``).
"""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass

MAGIC = b"SQLite format 3\x00"
HEADER_BYTES = 100
WAL_MAGIC = (b"\x37\x7f\x06\x82", b"\x37\x7f\x06\x83")
WAL_HEADER_BYTES = 32
FRAME_HEADER_BYTES = 24
INDEX_HEADER_BYTES = 48  # SQLite keeps it twice at the start of the -shm, the copies equal at rest


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


class Descriptors:
    """The descriptors SQLite holds open in this process, found by device and inode (once, among
    the process's open files) and checked by ``fstat`` before they are read, so that a
    descriptor closed and reused for another file is never read."""

    def __init__(self) -> None:
        self.known: dict[tuple[int, int], int] = {}
        self._missing: set[tuple[int, int]] = set()

    def open(self, file: tuple[int, int]) -> tuple[int, int] | None:
        """A descriptor of ``file`` open in this process and the file's size now; None when
        there is none (a file looked for once in vain is not looked for again)."""
        for _ in range(2):
            fd = self.known.get(file)
            if fd is None:
                if file in self._missing:
                    return None
                fd = self._find(file)
                if fd is None:
                    self._missing.add(file)
                    return None
            try:
                status = os.fstat(fd)
                if (status.st_dev, status.st_ino) == file:
                    return fd, status.st_size
            except OSError:
                pass
            del self.known[file]  # closed or reused for another file since: look again
        return None

    def pread(self, file: tuple[int, int], count: int, offset: int) -> bytes | None:
        """Up to ``count`` bytes of ``file`` from ``offset``; None when it is not open here."""
        opened = self.open(file)
        if opened is None:
            return None
        try:
            return os.pread(opened[0], count, offset)
        except OSError:
            return None

    def _find(self, file: tuple[int, int]) -> int | None:
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
                if (status.st_dev, status.st_ino) == file:
                    self.known[file] = int(name)
                    return int(name)
            return None
        return None


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
        self.shm: tuple[int, int] | None = None  # SQLite's index of that log, from then on
        self.state = file_state(path)
        self.size = 0 if self.state is None else self.state[2]
        self._descriptors = Descriptors()
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
        log = self._log_loss()
        if log is not None:
            return Loss(log, fold=False)
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
            self.shm = identity(f"{self.path}-shm")

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
        """The database file's header as it is on disk, read through a descriptor SQLite holds;
        None when none is open."""
        if self.opened is None:
            return None
        raw = self._descriptors.pread(self.opened, HEADER_BYTES, 0)
        return None if raw is None else Header.parse(raw)

    @property
    def fd(self) -> int | None:
        """The descriptor the database file's header is read through (None until one is found)."""
        return None if self.opened is None else self._descriptors.known.get(self.opened)

    def _log_loss(self) -> str | None:
        """Why the write-ahead log no longer holds what SQLite's index of it says, or None (also
        when it cannot be told: no index or log open, or a writer changed the index meanwhile)."""
        if self.wal is None or self.shm is None:
            return None
        index_open = self._descriptors.open(self.shm)
        if index_open is None:
            return None
        index_fd = index_open[0]
        try:
            index = os.pread(index_fd, 2 * INDEX_HEADER_BYTES, 0)
            if index[:INDEX_HEADER_BYTES] != index[INDEX_HEADER_BYTES:]:
                return None  # being written at this moment
            initialised, frames = index[12], int.from_bytes(index[16:20], sys.byteorder)
            if not initialised or not frames:
                return None  # nothing indexed: the log may be anything, SQLite reads none of it
            # Looked at after the index: a writer appends its frames before it indexes them.
            log_open = self._descriptors.open(self.wal)
            if log_open is None:
                return None
            log_fd, held = log_open
            size = int.from_bytes(index[14:16], sys.byteorder)
            page_size = 65536 if size == 1 else size
            last = WAL_HEADER_BYTES + (frames - 1) * (page_size + FRAME_HEADER_BYTES)
            log = os.pread(log_fd, WAL_HEADER_BYTES, 0)
            frame = os.pread(log_fd, FRAME_HEADER_BYTES, last)
            if os.pread(index_fd, 2 * INDEX_HEADER_BYTES, 0) != index:
                return None  # a writer indexed frames (or restarted the log) between the reads
        except OSError:
            return None
        wal, needed, salts = f"{self.path}-wal", last + FRAME_HEADER_BYTES + page_size, index[32:40]
        if held < needed:
            return f"had its write-ahead log {wal!r} truncated in place ({held:,} bytes of {needed:,})"
        if log[:4] not in WAL_MAGIC or log[16:24] != salts or frame[8:16] != salts:
            return (
                f"had its write-ahead log {wal!r} overwritten in place"
                " (it no longer holds the commits SQLite indexed)"
            )
        return None
