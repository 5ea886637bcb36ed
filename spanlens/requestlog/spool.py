"""A local append-only spool: the log rows a SIGKILL must not take with it.

The writer appends each pending row here when it is queued (one write() to the
page cache, which outlives the process) and commits the spool position once
ClickHouse or the fallback table holds the rows. A process that starts finds
what the previous owner of its spool left uncommitted and writes it again; the
writer drops replayed rows whose id is already stored, so a crash in the middle
of an insert leaves no duplicate.

Each web process owns one slot directory (spool/<n>/), held with an exclusive
flock for its lifetime, so several workers on one machine never share a file;
slots whose owner died are adopted and replayed by the next process to start.
Records are marshal-framed (`<I` length + payload): marshal is the fastest
encoder for the plain dicts of bytes and numbers a pending row is, and the
file is only ever read by this code on this machine.
"""
from __future__ import annotations

import fcntl
import logging
import marshal
import os
import struct
import threading
from pathlib import Path

log = logging.getLogger("spanlens.requestlog")

SEGMENT_BYTES = 16 * 1024 * 1024
_HEADER = struct.Struct("<I")
_CHECKPOINT = "checkpoint"


class Spool:
    def __init__(self, root: Path, max_bytes: int, segment_bytes: int = SEGMENT_BYTES):
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self.dir, self._lock_fd = self._claim_slot()
        self.full = False
        self.records_not_spooled = 0
        committed = self._read_checkpoint(self.dir)
        self._committed = committed
        segments = self._segments(self.dir)
        self._segment = max([committed[0], *segments], default=0) + 1
        # The first segment this process writes: anything before it is a predecessor's.
        self.first_segment = self._segment
        self._fd = self._open_segment(self._segment)
        self._offset = 0
        self._bytes = sum(self._segment_size(self.dir, n) for n in segments)

    # --- the appender (the event loop's thread) ---

    def append(self, record: dict) -> tuple[int, int] | None:
        """Write one record; returns its position, or None when the spool is full."""
        payload = marshal.dumps(record)
        frame = _HEADER.pack(len(payload)) + payload
        with self._lock:
            if self._bytes + len(frame) > self.max_bytes:
                self.full = True
                self.records_not_spooled += 1
                return None
            if self._offset and self._offset + len(frame) > self.segment_bytes:
                os.close(self._fd)
                self._segment += 1
                self._fd = self._open_segment(self._segment)
                self._offset = 0
            os.write(self._fd, frame)
            self._offset += len(frame)
            self._bytes += len(frame)
            return (self._segment, self._offset)

    # --- the writer's side ---

    def commit(self, position: tuple[int, int]) -> None:
        """Every record up to position is stored: forget it (and whole segments before it)."""
        with self._lock:
            if position <= self._committed:
                return
            self._committed = position
            caught_up = position == (self._segment, self._offset)
            if caught_up and self._offset >= self.segment_bytes // 4:
                # Everything is stored: start a fresh segment so this one can go now.
                os.close(self._fd)
                self._segment += 1
                self._fd = self._open_segment(self._segment)
                self._offset = 0
            current = self._segment
        _write_checkpoint(self.dir, position)
        for n in self._segments(self.dir):
            done = n < position[0] or (n == position[0] and caught_up and n < current)
            if done and n < current:
                size = self._segment_size(self.dir, n)
                (self.dir / _name(n)).unlink(missing_ok=True)
                with self._lock:
                    self._bytes -= size
                    self.full = False

    def leftovers(self) -> list[tuple[tuple[int, int], dict]]:
        """Records of this slot's previous owner that were never committed, in order."""
        return list(_records_after(self.dir, self._committed, until=self._segment))

    def adopt_orphans(self):
        """Yield (slot dir, records) of slots whose owner is gone, locking each meanwhile."""
        for slot in sorted(p for p in self.root.glob("*") if p.is_dir() and p != self.dir):
            fd = os.open(slot / "lock", os.O_CREAT | os.O_RDWR, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # a live process owns it
                os.close(fd)
                continue
            try:
                records = [r for _, r in _records_after(slot, self._read_checkpoint(slot))]
                yield slot, records
            finally:
                os.close(fd)

    @staticmethod
    def forget_slot(slot: Path) -> None:
        for path in slot.glob("*"):
            path.unlink(missing_ok=True)
        try:
            slot.rmdir()
        except OSError:
            pass

    def status(self) -> dict:
        return {"bytes": self._bytes, "max_bytes": self.max_bytes, "full": self.full,
                "records_not_spooled": self.records_not_spooled, "dir": str(self.dir)}

    def close(self) -> None:
        with self._lock:
            os.close(self._fd)
        os.close(self._lock_fd)

    # --- files ---

    def _claim_slot(self) -> tuple[Path, int]:
        self.root.mkdir(parents=True, exist_ok=True)
        n = 0
        while True:
            slot = self.root / str(n)
            slot.mkdir(exist_ok=True)
            fd = os.open(slot / "lock", os.O_CREAT | os.O_RDWR, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return slot, fd
            except BlockingIOError:
                os.close(fd)
                n += 1

    def _open_segment(self, n: int) -> int:
        return os.open(self.dir / _name(n), os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)

    @staticmethod
    def _segments(directory: Path) -> list[int]:
        return sorted(int(p.stem) for p in directory.glob("*.spool") if p.stem.isdecimal())

    @staticmethod
    def _segment_size(directory: Path, n: int) -> int:
        try:
            return (directory / _name(n)).stat().st_size
        except FileNotFoundError:
            return 0

    @staticmethod
    def _read_checkpoint(directory: Path) -> tuple[int, int]:
        try:
            segment, offset = (directory / _CHECKPOINT).read_text().split()
            return int(segment), int(offset)
        except (FileNotFoundError, ValueError):
            return (0, 0)


def _name(n: int) -> str:
    return f"{n:08d}.spool"


def _write_checkpoint(directory: Path, position: tuple[int, int]) -> None:
    tmp = directory / (_CHECKPOINT + ".tmp")
    tmp.write_text(f"{position[0]} {position[1]}")
    os.replace(tmp, directory / _CHECKPOINT)


def _records_after(directory: Path, committed: tuple[int, int], until: int | None = None):
    for n in Spool._segments(directory):
        if n < committed[0] or (until is not None and n >= until):
            continue
        data = (directory / _name(n)).read_bytes()
        offset = committed[1] if n == committed[0] else 0
        while offset + _HEADER.size <= len(data):
            (length,) = _HEADER.unpack_from(data, offset)
            end = offset + _HEADER.size + length
            if end > len(data):  # the process died mid-write: that record never completed
                log.warning("spool %s: a torn last record (%d bytes) ignored", directory / _name(n), len(data) - offset)
                break
            try:
                record = marshal.loads(data[offset + _HEADER.size:end])
            except (EOFError, ValueError, TypeError):
                log.error("spool %s: an unreadable record at %d skipped", directory / _name(n), offset)
            else:
                yield (n, end), record
            offset = end
