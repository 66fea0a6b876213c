"""The background writer: log calls enqueue, one thread commits in batches.

``append`` journals the rows and queues them, then returns: that is the whole cost
of a log call. A daemon thread commits everything queued, across all runs of the
process, once ``flush_interval`` passed or ``max_records`` are waiting, and whenever
``flush``/``request_commit`` asks. Each table's batch is committed with the highest
sequence number in it as its idempotency version (see ``_journal``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sparktrack.errors import StoreError
from sparktrack.store._journal import Journal, encode_batch

__all__ = ["BatchWriter", "CommitFn"]

_log = logging.getLogger("sparktrack")

CommitFn = Callable[[str, list[dict[str, Any]], int], None]
# Rotate the journal once a segment holds this much committed data.
_SEGMENT_BYTES = 8 * 1024 * 1024
_RETRY_DELAYS = (0.05, 0.2, 0.5, 1.0, 2.0)


class BatchWriter:
    def __init__(
        self,
        commit: CommitFn,
        journal: Journal | None,
        *,
        flush_interval: float,
        max_records: int,
        open_runs: Callable[[], list[str]] = list,
    ) -> None:
        self._commit = commit
        self._journal = journal
        self._flush_interval = flush_interval
        self._max_records = max_records
        self._open_runs = open_runs
        self._lock = threading.Lock()  # guards seq, pending and the journal
        self._wake = threading.Condition(self._lock)
        self._commit_lock = threading.Lock()  # one commit round at a time
        self._seq = 0
        self._committed_seq = 0
        self._pending: list[tuple[int, str, dict[str, Any]]] = []
        self._finished_segments: list[Path] = []
        self._commit_requested = False
        self._last_error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="sparktrack-writer", daemon=True)
        self._thread.start()

    # -- the hot path ---------------------------------------------------------------
    def append(self, table: str, rows: Sequence[dict[str, Any]], *, durable: bool = True) -> None:
        with self._lock:
            if self._closed:
                raise StoreError("the store was closed; open it again to log")
            first = self._seq + 1
            self._seq += len(rows)
            records = [(first + i, table, row) for i, row in enumerate(rows)]
            if durable and self._journal is not None:
                self._journal.write(encode_batch(first, table, list(rows)))
            self._pending.extend(records)
            if len(self._pending) >= self._max_records:
                self._commit_requested = True
                self._wake.notify()

    # -- control ----------------------------------------------------------------------
    def request_commit(self, *, fsync: bool) -> None:
        """Commit soon without waiting; with ``fsync`` the journal is on disk on return."""
        if fsync and self._journal is not None:
            self._journal.fsync()  # outside the lock: other threads keep logging meanwhile
        with self._lock:
            self._commit_requested = True
            self._wake.notify()

    def flush(self, *, fsync: bool = True) -> None:
        """Return once everything appended before the call is committed."""
        with self._lock:
            target = self._seq
        if fsync and self._journal is not None:
            self._journal.fsync()
        self._commit_round()
        if self._committed_seq < target:
            raise StoreError(
                f"could not commit logged records to the store: {self._last_error}. "
                "They are kept in the local journal and will be committed by the next "
                "process that opens this store."
            ) from self._last_error

    def close(self) -> bool:
        """Flush and stop the thread; True if everything was committed."""
        try:
            self.flush()
            clean = True
        except StoreError as exc:
            _log.error("%s", exc)
            clean = False
        with self._lock:
            self._closed = True
            self._wake.notify()
        self._thread.join(timeout=5)
        if self._journal is not None:
            self._journal.close(remove=clean)
        return clean

    # -- the committing thread ------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._commit_requested and not self._closed:
                    self._wake.wait(self._flush_interval)
                if self._closed:
                    return
                self._commit_requested = False
            try:
                self._commit_round()
            except Exception:  # never let the thread die; flush() reports errors
                _log.exception("sparktrack writer round failed")

    def _take_batch(self) -> list[tuple[int, str, dict[str, Any]]]:
        with self._lock:
            batch, self._pending = self._pending, []
            if self._journal is not None and self._journal.segment_size > _SEGMENT_BYTES:
                self._finished_segments.append(self._journal.rotate(self._open_runs()))
            return batch

    def _commit_round(self) -> None:
        with self._commit_lock:
            batch = self._take_batch()
            if not batch:
                return
            by_table: dict[str, list[tuple[int, dict[str, Any]]]] = {}
            for seq, table, row in batch:
                by_table.setdefault(table, []).append((seq, row))
            failed: list[tuple[int, str, dict[str, Any]]] = []
            for table, items in by_table.items():
                rows = [row for _, row in items]
                version = items[-1][0]
                if not self._commit_with_retries(table, rows, version):
                    failed.extend((seq, table, row) for seq, row in items)
            if failed:
                with self._lock:
                    self._pending[:0] = failed  # keep order: older first
                return
            self._committed_seq = max(self._committed_seq, batch[-1][0])
            self._last_error = None
            finished, self._finished_segments = self._finished_segments, []
            for segment in finished:
                segment.unlink(missing_ok=True)

    def _commit_with_retries(self, table: str, rows: list[dict[str, Any]], version: int) -> bool:
        for delay in (*_RETRY_DELAYS, None):
            try:
                self._commit(table, rows, version)
                return True
            except Exception as exc:
                self._last_error = exc
                if delay is None:
                    _log.warning("sparktrack could not commit to %r: %s", table, exc)
                    return False
                time.sleep(delay)
        return False
