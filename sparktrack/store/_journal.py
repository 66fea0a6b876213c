"""A local write-ahead journal: what a log call acknowledged survives ``kill -9``.

Each writing process owns one journal per store, named by a random writer id, made of
segments ``<writer_id>.<n>.jsonl``. Every segment starts with a header line naming the
store it belongs to (the store id, see ``_tables``) and the runs the owner had open
when the segment began, so a replay can end them even after older segments were
committed and deleted. A log call's records are one line
``[first_seq, table, [row, ...]]`` (row ``i`` has sequence number ``first_seq + i``).

Durability, precisely:

* A record survives ``kill -9`` (and the OOM killer) once its log call returned: the
  line is in the page cache. The call writes the whole line (looping over short
  writes); if the disk is full or failing it raises ``StoreError``, cuts the file
  back to the last whole record and the record is not acknowledged.
* A record survives a machine crash once ``flush()`` returned, or once the writer's
  next commit round fsynced it. Each round starts with one ``fsync`` covering every
  record written before it (group commit), at most ``flush_interval_seconds`` after
  the log call (later only while an earlier commit is still in progress);
  ``end_run`` asks for a round at once.

The owner holds an exclusive ``flock`` on ``<writer_id>.lock`` for its whole life, so
another process can tell a dead owner's journal (the lock is free) from a live one and
replay it. The lock file appears under its final name already locked, so nobody can
take a live journal for a dead one.

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparktrack.errors import StoreError
from sparktrack.store._schema import RunEvent

__all__ = ["HEADER", "Journal", "OrphanJournal", "encode_batch", "find_orphans", "follow_run_event"]

# Pseudo-table of the header line each segment starts with.
HEADER = "_header"
# The header of journals written before segments named their store: only open runs.
_LEGACY_HEADER = "_open_runs"

Header = dict[str, Any]


def _lock_exclusive(path: Path) -> int | None:
    """An fd holding an exclusive flock on ``path``, or None if someone else holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _journal_error(path: Path, exc: OSError, what: str) -> StoreError:
    reason = exc.strerror or str(exc)
    return StoreError(
        f"cannot {what} the sparktrack journal {str(path)!r}: {reason}. {_JOURNAL_FIX}"
    )


_JOURNAL_FIX = (
    "Free space on that disk, or point the journal_dir setting (SPARKTRACK_JOURNAL_DIR) "
    "at a writable local folder."
)


class Journal:
    """The journal this process appends to.

    ``write`` and ``rotate`` are serialised by the writer's lock; ``fsync`` may run
    concurrently with writes (it only needs the current file to stay open), so log
    calls in other threads never wait for a disk flush.
    """

    def __init__(self, directory: Path, writer_id: str, header: Callable[[], Header]) -> None:
        self.directory = directory
        self.writer_id = writer_id
        self._header = header
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._lock_fd = self._create_locked(directory / f"{writer_id}.lock")
        except OSError as exc:
            raise _journal_error(directory, exc, "create") from exc
        self._segment_no = 0
        self._segment_size = 0
        self._torn = False  # a failed write left bytes we could not cut off
        self._writes = 0  # whole records written, and how many of them an fsync covered
        self._synced_writes = 0
        self._fd_lock = threading.Lock()  # held by fsync and by rotate's close
        try:
            self._fd = self._open_segment(0)
        except OSError as exc:
            self.close(remove=True)
            raise _journal_error(self._segment_path(0), exc, "create") from exc
        try:
            self.write(encode_batch(-1, HEADER, [header()]))
        except BaseException:
            self.close(remove=True)  # nothing was acknowledged: leave no journal behind
            raise

    @staticmethod
    def _create_locked(lock_path: Path) -> int:
        # Lock under a temporary name, then rename: a process looking for dead owners
        # never sees this journal's lock file unlocked.
        temporary = lock_path.with_name(f".{lock_path.name}.new")
        fd = os.open(temporary, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.rename(temporary, lock_path)
        except OSError:
            os.close(fd)
            temporary.unlink(missing_ok=True)
            raise
        return fd

    def _segment_path(self, number: int) -> Path:
        return self.directory / f"{self.writer_id}.{number:06d}.jsonl"

    def _open_segment(self, number: int) -> int:
        return os.open(self._segment_path(number), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    @property
    def segment_size(self) -> int:
        return self._segment_size

    def write(self, data: bytes) -> None:
        """Append whole lines; raise ``StoreError`` (nothing written) if the disk refuses."""
        if self._torn:
            data = b"\n" + data  # end the torn line, so the next records parse
        view = memoryview(data)
        written = 0
        try:
            while written < len(data):
                count = os.write(self._fd, view[written:])
                if count <= 0:
                    raise OSError(0, "the disk accepted no bytes")
                written += count
        except OSError as exc:
            self._cut_back()  # whatever part of the line reached the file
            raise _journal_error(self._segment_path(self._segment_no), exc, "write to") from exc
        if self._torn:
            self._torn = False
            with contextlib.suppress(OSError):
                self._segment_size = os.fstat(self._fd).st_size
        else:
            self._segment_size += written
        self._writes += 1

    def _cut_back(self) -> None:
        """Remove a partly written line, so the journal holds only whole records."""
        try:
            os.ftruncate(self._fd, self._segment_size)
        except OSError:
            self._torn = True
        else:
            self._torn = False

    def fsync(self) -> None:
        """Make every record written so far durable (nothing to do if it already is)."""
        with self._fd_lock:
            covered = self._writes
            if covered == self._synced_writes:
                return
            try:
                os.fsync(self._fd)
            except OSError as exc:
                path = self._segment_path(self._segment_no)
                raise _journal_error(path, exc, "flush to disk") from exc
            self._synced_writes = covered

    def rotate(self) -> Path:
        """Start a new segment (with a fresh header); return the finished segment."""
        finished = self._segment_path(self._segment_no)
        with self._fd_lock:
            try:
                os.fsync(self._fd)
                fd = self._open_segment(self._segment_no + 1)
            except OSError as exc:
                raise _journal_error(finished, exc, "rotate") from exc
            os.close(self._fd)
            self._fd = fd
            self._segment_no += 1
            self._synced_writes = self._writes
        self._segment_size = 0
        self._torn = False
        self.write(encode_batch(-1, HEADER, [self._header()]))
        return finished

    def close(self, *, remove: bool) -> None:
        """Close; with ``remove`` delete every segment (all of it was committed)."""
        with contextlib.suppress(OSError, AttributeError):  # AttributeError: never opened
            os.close(self._fd)
        if remove:
            for number in range(self._segment_no + 1):
                with contextlib.suppress(OSError):
                    self._segment_path(number).unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                (self.directory / f"{self.writer_id}.lock").unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            os.close(self._lock_fd)

    def forget_after_fork(self) -> None:
        """In a forked child: drop the inherited descriptors; the files stay the parent's.

        Closing the child's copy of the lock fd does not release the parent's lock
        (a flock belongs to the open file, which the parent still holds), but keeping
        it would make the parent's journal look alive after the parent died.
        """
        for fd in (self._fd, self._lock_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


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
    # The store the journal was written for (None: a journal older than store ids).
    store_id: str | None = None
    # Runs the owner had open when it died, with the event time of the event that
    # opened each (None when only an old-style header names the run).
    open_runs: dict[str, int | None] = field(default_factory=dict)

    @property
    def last_alive_ms(self) -> int:
        """When the journal last showed life: for the end time users see, not decisions."""
        times = []
        for segment in self.segments:
            with contextlib.suppress(OSError):
                times.append(segment.stat().st_mtime)
        return int(max(times, default=0) * 1000)

    def load(self) -> None:
        for number, segment in enumerate(self.segments):
            for seq, table, row in _read_segment(segment):
                if table == HEADER:
                    self.store_id = self.store_id or row.get("store_id")
                    # Only the oldest surviving segment's header matters: later ones
                    # are implied by the records in between.
                    if number == 0:
                        self.open_runs = {
                            run_id: int(time) for run_id, time in row["open_runs"].items()
                        }
                elif table == _LEGACY_HEADER:
                    if number == 0:
                        self.open_runs = dict.fromkeys(row["run_ids"])
                else:
                    self.records.append((seq, table, row))
                    if table == "runs":
                        follow_run_event(self.open_runs, row)

    def discard(self) -> None:
        """Delete the replayed journal and release its lock."""
        for segment in self.segments:
            segment.unlink(missing_ok=True)
        self.lock_path.unlink(missing_ok=True)
        self.release()

    def keep_aside(self, folder: Path) -> Path:
        """Move the journal into ``folder`` (out of the replay's way) and release it."""
        folder.mkdir(parents=True, exist_ok=True)
        for path in [*self.segments, self.lock_path]:
            if path.exists():
                path.rename(folder / path.name)
        self.release()
        return folder

    def release(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.lock_fd)


def follow_run_event(open_runs: dict[str, int | None], row: dict[str, Any]) -> None:
    """Keep ``open_runs`` (run id: event time of the event that opened it) up to ``row``."""
    event = row.get("event")
    if event in RunEvent.OPENING:
        open_runs[row["run_id"]] = row.get("event_time")
    elif event in RunEvent.CLOSING:
        open_runs.pop(row["run_id"], None)


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
            continue  # a torn line: its log call never returned
        for offset, row in enumerate(rows):
            yield int(first_seq) + offset, str(table), row


def find_orphans(directory: Path) -> Iterator[OrphanJournal]:
    """Journals in ``directory`` whose owner is gone, each locked for the caller."""
    try:
        names = [p.name for p in directory.iterdir() if p.suffix in (".lock", ".jsonl")]
    except OSError:  # no journal folder (yet), or not a folder: nothing to replay
        return
    writer_ids = {name.split(".", 1)[0] for name in names if not name.startswith(".")}
    for writer_id in sorted(writer_ids):
        lock_path = directory / f"{writer_id}.lock"
        try:
            fd = _lock_exclusive(lock_path)
        except OSError:
            continue
        if fd is None:
            continue  # alive
        segments = sorted(directory.glob(f"{writer_id}.*.jsonl"))
        yield OrphanJournal(writer_id, segments, fd, lock_path)
