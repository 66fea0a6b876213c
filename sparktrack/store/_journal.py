"""A local write-ahead journal: what a log call acknowledged survives ``kill -9``.

Each writing process owns one journal, named by a random writer id, made of
segments ``<writer_id>.<n>.jsonl``. A log call's records are one line
``[first_seq, table, [row, ...]]`` (row ``i`` has sequence number ``first_seq + i``),
written with a single ``write(2)`` before the log call returns; the page cache keeps
it if the process dies, and ``fsync`` (on flush and end_run) keeps it if the machine
dies. The owner holds an exclusive ``flock`` on ``<writer_id>.lock`` for its whole
life, so another process can tell a dead owner's journal (the lock is free) from a
live one and replay it.

Replays are idempotent: the writer commits each table's rows with a Delta app
transaction (app id = writer id, version = highest seq in the batch), so a replay
only re-commits records whose seq is above the version the table already holds.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["OPEN_RUNS", "Journal", "OrphanJournal", "encode_batch", "find_orphans"]

# Pseudo-table of the header line each segment starts with: the runs the owner had
# open when the segment began, so a replay can end them even after older segments
# were committed and deleted.
OPEN_RUNS = "_open_runs"


def _lock_exclusive(path: Path) -> int | None:
    """An fd holding an exclusive flock on ``path``, or None if someone else holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


class Journal:
    """The journal this process appends to.

    ``write`` and ``rotate`` are serialised by the writer's lock; ``fsync`` may run
    concurrently with writes (it only needs the current file to stay open), so log
    calls in other threads never wait for a disk flush.
    """

    def __init__(self, directory: Path, writer_id: str) -> None:
        self.directory = directory
        self.writer_id = writer_id
        directory.mkdir(parents=True, exist_ok=True)
        lock_fd = _lock_exclusive(directory / f"{writer_id}.lock")
        if lock_fd is None:  # a fresh uuid cannot be held by anybody else
            raise RuntimeError(f"journal {writer_id} is locked by another process")
        self._lock_fd = lock_fd
        self._segment_no = 0
        self._segment_size = 0
        self._fd = self._open_segment(0)
        self._fd_lock = threading.Lock()  # held by fsync and by rotate's close

    def _segment_path(self, number: int) -> Path:
        return self.directory / f"{self.writer_id}.{number:06d}.jsonl"

    def _open_segment(self, number: int) -> int:
        return os.open(self._segment_path(number), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    @property
    def segment_size(self) -> int:
        return self._segment_size

    def write(self, data: bytes) -> None:
        # One write(2) per call: a killed process leaves whole lines behind, at worst
        # a torn last line, which replay skips (that call had not returned).
        os.write(self._fd, data)
        self._segment_size += len(data)

    def fsync(self) -> None:
        with self._fd_lock:
            os.fsync(self._fd)

    def rotate(self, open_runs: list[str]) -> Path:
        """Start a new segment headed by ``open_runs``; return the finished segment."""
        finished = self._segment_path(self._segment_no)
        with self._fd_lock:
            os.fsync(self._fd)
            os.close(self._fd)
            self._segment_no += 1
            self._fd = self._open_segment(self._segment_no)
        self._segment_size = 0
        self.write(encode_batch(-1, OPEN_RUNS, [{"run_ids": open_runs}]))
        return finished

    def close(self, *, remove: bool) -> None:
        """Close; with ``remove`` delete every segment (all of it was committed)."""
        with contextlib.suppress(OSError):
            os.close(self._fd)
        if remove:
            for number in range(self._segment_no + 1):
                self._segment_path(number).unlink(missing_ok=True)
            (self.directory / f"{self.writer_id}.lock").unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            os.close(self._lock_fd)


def encode_batch(first_seq: int, table: str, rows: list[dict[str, Any]]) -> bytes:
    # One dumps per log call, not per row: it is most of a log call's cost.
    return (json.dumps([first_seq, table, rows], separators=(",", ":")) + "\n").encode()


@dataclass
class OrphanJournal:
    """The journal of a process that died before committing all it acknowledged."""

    writer_id: str
    segments: list[Path]
    lock_fd: int
    lock_path: Path
    records: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    open_runs_at_start: set[str] = field(default_factory=set)

    @property
    def last_modified_ms(self) -> int:
        times = [p.stat().st_mtime for p in self.segments if p.exists()]
        return int(max(times, default=0) * 1000)

    def load(self) -> None:
        for segment in self.segments:
            for record in _read_segment(segment):
                seq, table, row = record
                if table == OPEN_RUNS:
                    # Only the oldest surviving segment's header matters: later ones
                    # are implied by the records in between.
                    if segment == self.segments[0]:
                        self.open_runs_at_start = set(row["run_ids"])
                    continue
                self.records.append((seq, table, row))

    def discard(self) -> None:
        """Delete the replayed journal and release its lock."""
        for segment in self.segments:
            segment.unlink(missing_ok=True)
        self.lock_path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            os.close(self.lock_fd)

    def release(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.lock_fd)


def _read_segment(path: Path) -> Iterator[tuple[int, str, Any]]:
    try:
        lines = path.read_bytes().split(b"\n")
    except FileNotFoundError:
        return
    for line in lines:
        if not line.strip():
            continue
        try:
            first_seq, table, rows = json.loads(line)
        except (ValueError, TypeError):
            continue  # a torn last line: its log call never returned
        for offset, row in enumerate(rows):
            yield int(first_seq) + offset, str(table), row


def find_orphans(directory: Path) -> Iterator[OrphanJournal]:
    """Journals in ``directory`` whose owner is gone, each locked for the caller."""
    if not directory.is_dir():
        return
    writer_ids = {
        p.name.split(".", 1)[0] for p in directory.iterdir() if p.suffix in (".lock", ".jsonl")
    }
    for writer_id in sorted(writer_ids):
        lock_path = directory / f"{writer_id}.lock"
        fd = _lock_exclusive(lock_path)
        if fd is None:
            continue  # alive
        segments = sorted(directory.glob(f"{writer_id}.*.jsonl"))
        yield OrphanJournal(writer_id, segments, fd, lock_path)
