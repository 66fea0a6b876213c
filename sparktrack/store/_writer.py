"""The background writer: log calls enqueue, one thread commits in batches.

``append`` journals the rows and queues them, then returns: that is the whole cost
of a log call. A daemon thread commits everything queued, across all runs of the
process, once ``flush_interval`` passed or ``max_records`` are waiting, and whenever
``flush``/``request_commit`` asks. Each round first fsyncs the journal once for every
record written so far (group commit), then commits each table's batch with the
highest sequence number in it as its idempotency version (see ``_journal``). The
tables' batches are committed at the same time, one thread each: every table has its
own commit lock, its own app-transaction version and its own retries, so nothing
about one table's commit depends on another's, and a round takes as long as its
slowest commit instead of their sum (delta-rs releases the GIL while it writes).

A commit that raised may still have landed (a timeout or a reset connection after the
object store took the write). So after any failed attempt the writer asks the table
which version of this writer it holds before trying again, and drops what landed.
Housekeeping (compaction) runs after a commit landed, with its own error handling: it
can neither fail nor repeat the commit.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any, Protocol

from sparktrack.errors import StoreError
from sparktrack.store._journal import Journal, encode_batch

__all__ = ["BatchWriter", "CommitTarget"]

_log = logging.getLogger("sparktrack")

# Rotate the journal once a segment holds this much committed data.
_SEGMENT_BYTES = 8 * 1024 * 1024
_RETRY_DELAYS = (0.05, 0.2, 0.5, 1.0, 2.0)
# A round asked for (a run ended, the queue is full) starts at least this long after
# the previous one (or the flush interval, if shorter): a process ending runs back to
# back (a tracking server, a sweep's driver) commits several in one round. Each round
# adds an entry to each table's log, and delta-rs lists the whole log at every commit
# and refresh: an entry per run would make every later commit slower.
_ROUND_SPACING_SECONDS = 0.5

Record = tuple[int, str, dict[str, Any]]


class CommitTarget(Protocol):
    """Where a writer's batches go: the tables of one store."""

    uri: str

    def commit(self, table: str, rows: list[dict[str, Any]], version: int) -> None:
        """Append ``rows`` as one commit carrying this writer's app transaction ``version``."""

    def landed(self, table: str) -> int | None:
        """The highest app transaction version of this writer the table holds, read now."""

    def tidy(self, table: str) -> None:
        """Housekeeping after a commit landed (compaction); may raise, never re-commits."""


class BatchWriter:
    def __init__(
        self,
        target: CommitTarget,
        open_journal: Callable[[], Journal] | None,
        *,
        flush_interval: float,
        max_records: int,
        observe: Callable[[str, Sequence[dict[str, Any]]], None] | None = None,
    ) -> None:
        self._target = target
        self._open_journal = open_journal
        self._journal: Journal | None = None  # opened on the first durable record
        self._flush_interval = flush_interval
        self._max_records = max_records
        self._observe = observe
        self._lock = threading.Lock()  # guards seq, pending and the journal
        self._wake = threading.Condition(self._lock)
        self._commit_lock = threading.Lock()  # one commit round at a time
        # Within a round, tables commit in threads of their own: this guards what they
        # share (which tables are uncertain, the last error, the warnings given).
        self._state_lock = threading.Lock()
        self._seq = 0
        self._committed_seq = 0
        self._pending: list[Record] = []
        self._in_flight: list[Record] = []  # taken by the commit round under way
        self._finished_segments: list[Path] = []
        self._commit_requested = False
        self._uncertain: set[str] = set()  # tables whose last commit attempt raised
        self._last_error: BaseException | None = None
        self._failing = False  # a warning about failing commits is out
        self._warned: set[str] = set()  # other one-time warnings already given
        self._closed = False
        self._thread: threading.Thread | None = None  # started on first use

    @property
    def journal_directory(self) -> Path | None:
        return self._journal.directory if self._journal is not None else None

    # -- the hot path ---------------------------------------------------------------
    def append(self, table: str, rows: Sequence[dict[str, Any]], *, durable: bool = True) -> None:
        with self._lock:
            if self._closed:
                raise StoreError("the store was closed; open it again to log")
            first = self._seq + 1
            if durable and self._open_journal is not None:
                if self._journal is None:
                    self._journal = self._open_journal()
                # Raises StoreError (disk full, I/O error) before anything is queued:
                # the call fails and nothing is acknowledged.
                self._journal.write(encode_batch(first, table, list(rows)))
            self._seq += len(rows)
            self._pending.extend((first + i, table, row) for i, row in enumerate(rows))
            if self._observe is not None:
                self._observe(table, rows)
            if len(self._pending) >= self._max_records:
                self._commit_requested = True
                self._wake.notify()
        self._ensure_thread()

    def queued_rows(self, table: str, run_ids: Collection[str]) -> list[tuple[int, dict[str, Any]]]:
        """The rows of these runs appended to ``table`` and not known to be committed.

        Queued or taken by the commit round under way, each with its sequence number:
        a table holds every row of this writer up to the app transaction version it
        records (batches commit in sequence order), so a reader that knows which
        version it read keeps only the rows after it.
        """
        wanted = set(run_ids)
        with self._lock:
            return [
                (seq, row)
                for records in (self._in_flight, self._pending)
                for seq, name, row in records
                if name == table and row.get("run_id") in wanted
            ]

    # -- control ----------------------------------------------------------------------
    def request_commit(self) -> None:
        """Commit (and fsync the journal) soon, without waiting."""
        with self._lock:
            self._commit_requested = True
            self._wake.notify()
        self._ensure_thread()

    def flush(self, *, fsync: bool = True) -> None:
        """Return once everything appended before the call is committed."""
        with self._lock:
            target = self._seq
            journal = self._journal
        if fsync and journal is not None:
            journal.fsync()
        self._commit_round()
        if self._committed_seq < target:
            raise StoreError(self._failure_message()) from self._last_error

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
            thread = self._thread
        if thread is not None:
            thread.join(timeout=5)
        if self._journal is not None:
            self._journal.close(remove=clean)
        return clean

    def forget_after_fork(self) -> None:
        """In a forked child: let go of the parent's journal (its records are the parent's)."""
        if self._journal is not None:
            self._journal.forget_after_fork()

    # -- the committing thread ------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(
                    target=self._run, name="sparktrack-writer", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        last_round = float("-inf")
        while True:
            with self._lock:
                if not self._commit_requested and not self._closed:
                    self._wake.wait(self._flush_interval)
                spaced = last_round + min(_ROUND_SPACING_SECONDS, self._flush_interval)
                while not self._closed and (left := spaced - time.monotonic()) > 0:
                    self._wake.wait(left)
                if self._closed:
                    return
                self._commit_requested = False
            try:
                self._commit_round()
            except Exception as exc:  # never let the thread die; flush() reports errors
                self._warn_once("round", f"sparktrack's writer round failed: {exc!r}")
            last_round = time.monotonic()

    def _take_batch(self) -> tuple[list[Record], int, Journal | None]:
        """Everything pending, the highest sequence number given out so far, the journal."""
        with self._lock:
            batch, self._pending = self._pending, []
            self._in_flight = batch
            journal = self._journal
            if journal is not None and journal.segment_size > _SEGMENT_BYTES:
                try:
                    self._finished_segments.append(journal.rotate())
                except StoreError as exc:  # keep writing the long segment
                    self._warn_once("rotate", str(exc))
            return batch, self._seq, journal

    def _commit_round(self) -> None:
        with self._commit_lock:
            batch, top, journal = self._take_batch()
            if not batch:
                return
            if journal is not None:
                try:
                    journal.fsync()  # one fsync for every record written so far
                except StoreError as exc:
                    self._warn_once("fsync", str(exc))
            by_table: dict[str, list[tuple[int, dict[str, Any]]]] = {}
            for seq, table, row in batch:
                by_table.setdefault(table, []).append((seq, row))
            failed: list[Record] = []
            try:
                failed = [
                    (seq, table, row)
                    for table, left in self._commit_tables(by_table).items()
                    for seq, row in left
                ]
            finally:
                failed.sort(key=lambda record: record[0])
                with self._lock:
                    self._pending[:0] = failed  # keep order: older first
                    self._in_flight = []
            if failed:
                return
            # Every record up to ``top`` was in this batch or committed before it.
            self._committed_seq = max(self._committed_seq, top)
            self._last_error = None
            if self._failing:
                self._failing = False
                _log.info("sparktrack commits to %s again; nothing was lost", self._target.uri)
            finished, self._finished_segments = self._finished_segments, []
            for segment in finished:
                with contextlib.suppress(OSError):
                    segment.unlink(missing_ok=True)

    def _commit_tables(
        self, by_table: dict[str, list[tuple[int, dict[str, Any]]]]
    ) -> dict[str, list[tuple[int, dict[str, Any]]]]:
        """Each table's batch committed (see the module docstring); what is left per table.

        This thread commits one table and a thread per other table commits the rest.
        Plain threads, not an executor: the last round runs at interpreter exit, where
        ``concurrent.futures`` accepts no more work. A table whose thread cannot start
        is committed here; one whose thread died unexpectedly is left uncommitted and
        marked uncertain (the next attempt asks the table what landed).
        """
        left: dict[str, list[tuple[int, dict[str, Any]]]] = {}

        def commit(table: str, items: list[tuple[int, dict[str, Any]]]) -> None:
            left[table] = self._commit_table(table, items)

        tables = list(by_table.items())
        threads: list[tuple[str, threading.Thread]] = []
        here = tables[:1]
        for table, items in tables[1:]:
            thread = threading.Thread(
                target=commit, args=(table, items), name="sparktrack-commit", daemon=True
            )
            try:
                thread.start()
            except RuntimeError:  # no new thread to be had (interpreter exit, limits)
                here.append((table, items))
                continue
            threads.append((table, thread))
        for table, items in here:
            commit(table, items)
        for table, thread in threads:
            thread.join()
            if table not in left:
                with self._state_lock:
                    self._uncertain.add(table)
                left[table] = by_table[table]
        return left

    def _commit_table(
        self, table: str, items: list[tuple[int, dict[str, Any]]]
    ) -> list[tuple[int, dict[str, Any]]]:
        """Commit ``items`` (retrying); return those still not committed."""
        for delay in (0.0, *_RETRY_DELAYS):
            if delay:
                time.sleep(delay)
            try:
                with self._state_lock:
                    uncertain = table in self._uncertain
                if uncertain:
                    # The last attempt raised, perhaps after it landed: ask first.
                    landed = self._target.landed(table)
                    with self._state_lock:
                        self._uncertain.discard(table)
                    if landed is not None:
                        items = [(seq, row) for seq, row in items if seq > landed]
                    if not items:
                        return []
                self._target.commit(table, [row for _, row in items], items[-1][0])
                break
            except Exception as exc:
                with self._state_lock:
                    self._uncertain.add(table)
                    self._last_error = exc
        else:
            self._report_failure(table)
            return items
        try:
            self._target.tidy(table)
        except Exception as exc:
            self._warn_once(
                "tidy",
                f"sparktrack could not compact table {table!r} of store {self._target.uri!r} "
                f"({exc}); the logged records are committed. Run `sparktrack gc` later.",
            )
        return []

    # -- telling the user, once --------------------------------------------------------
    def _report_failure(self, table: str) -> None:
        with self._state_lock:
            if self._failing:
                return
            self._failing = True
        _log.warning(
            "sparktrack cannot commit to table %r of store %r: %s. Logging goes on: records "
            "are kept in %s and committed once the store accepts them again; flush() "
            "raises until then.",
            table,
            self._target.uri,
            self._last_error,
            self._where_kept(),
        )

    def _warn_once(self, kind: str, message: str) -> None:
        with self._state_lock:
            if kind in self._warned:
                return
            self._warned.add(kind)
        _log.warning("%s", message)

    def _where_kept(self) -> str:
        journal = self.journal_directory
        return f"the local journal {str(journal)!r}" if journal else "this process's memory"

    def _failure_message(self) -> str:
        return (
            f"could not commit logged records to the store {self._target.uri!r}: "
            f"{self._last_error}. Check that the store exists and is writable (or "
            f"reachable), then flush again. Until then the records are kept in "
            f"{self._where_kept()}; if this process exits first, the next process that "
            "opens the store commits them."
        )
