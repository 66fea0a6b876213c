"""Source snapshots are taken and stored off the thread that creates the run.

Creating a run only queues a ``SnapshotRequest`` (the running Spark session and the
cells executed so far: no I/O). One thread per open store takes the snapshot, stores it
unless the store has it already (``SnapshotStore.has``; remembered per process), then
appends the run's tag through the store's writer like any other record. So what a
snapshot costs (reading the script, ``git diff``, listing packages, hashing, uploading)
never delays ``start_run``, and a thousand runs of one script upload it once.

Storing a snapshot cannot harm the run: a failure is logged as a warning (once per
kind of failure), the run keeps everything else it logged and simply has no snapshot
tag. ``TrackingClient.flush``, ``close`` and interpreter exit wait for the queue, so a
short script's snapshot is not cut off; a process killed before its snapshot was
stored leaves the run without the tag (the run's other records are in the journal).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from collections import deque

from sparktrack.session import running_session
from sparktrack.store import Store
from sparktrack.tracking._context_safe import attempt
from sparktrack.tracking._rows import tag_rows
from sparktrack.tracking._snapshot import SnapshotRequest, take_snapshot
from sparktrack.tracking._snapshot_code import executed_cells
from sparktrack.tracking._snapshot_store import SnapshotStore, SourceSnapshot

__all__ = ["SnapshotWriter"]

_log = logging.getLogger("sparktrack")
# How long exit and close wait for snapshots still queued before giving up on them.
_EXIT_WAIT_SECONDS = 60.0


class SnapshotWriter:
    """The snapshot queue of one open store, and the thread working it off."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._snapshots = SnapshotStore(store.artifacts)
        self._start_over()
        _live_writers.add(self)

    def _start_over(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._queue: deque[SnapshotRequest] = deque()
        self._busy = 0  # requests queued or being worked on
        self._thread: threading.Thread | None = None
        self._closed = False
        self._stored: set[str] = set()  # digests known to be in the store
        self._warned: set[str] = set()

    # -- the run's thread --------------------------------------------------------------
    def submit(self, run_id: str) -> None:
        """Queue the snapshot of what this process runs, for run ``run_id``."""
        request = SnapshotRequest(run_id, attempt(running_session), attempt(executed_cells))
        with self._lock:
            if self._closed:
                return
            self._queue.append(request)
            self._busy += 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="sparktrack-snapshots", daemon=True
                )
                self._thread.start()
                # Registered after the store's own exit hook: atexit runs this one first.
                atexit.register(self._drain_at_exit)
            self._changed.notify_all()

    def wait(self, timeout: float | None = _EXIT_WAIT_SECONDS) -> bool:
        """Block until every queued snapshot is stored (or given up); False on timeout."""
        if threading.current_thread() is self._thread:
            return True
        with self._lock:
            return self._changed.wait_for(lambda: self._busy == 0, timeout)

    def close(self) -> None:
        """Wait for the queue (a bounded time), then stop the thread; later submits are dropped."""
        if not self.wait(_EXIT_WAIT_SECONDS):
            _log.warning(
                "sparktrack gave up waiting for %d source snapshot(s) of store %r; "
                "those runs keep no snapshot tag",
                self._busy,
                self._store.uri,
            )
        with self._lock:
            self._closed = True
            self._changed.notify_all()
        atexit.unregister(self._drain_at_exit)

    def _drain_at_exit(self) -> None:
        self.close()

    # -- the snapshot thread -----------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._lock:
                self._changed.wait_for(lambda: bool(self._queue) or self._closed)
                if not self._queue:
                    self._thread = None
                    return
                request = self._queue.popleft()
            try:
                self._store_snapshot(request)
            finally:
                with self._lock:
                    self._busy -= 1
                    self._changed.notify_all()

    def _store_snapshot(self, request: SnapshotRequest) -> None:
        try:
            snapshot = take_snapshot(request)
            if snapshot.digest not in self._stored:
                if not self._snapshots.has(snapshot.digest):
                    self._snapshots.write(snapshot)
                self._stored.add(snapshot.digest)
            self._store.append("tags", tag_rows(request.run_id, snapshot.tags()))
        except Exception as exc:
            kind = f"{type(exc).__name__}: {exc}"
            level = logging.DEBUG if kind in self._warned else logging.WARNING
            self._warned.add(kind)
            _log.log(
                level,
                "sparktrack could not store the source snapshot of run %s (%s); the run "
                "keeps everything else it logged, without a snapshot tag",
                request.run_id,
                kind,
                exc_info=level == logging.DEBUG,
            )

    # -- reading -----------------------------------------------------------------------
    def open(self, run_id: str, digest: str) -> SourceSnapshot:
        """The stored snapshot ``digest`` of run ``run_id`` (see ``SnapshotStore.open``)."""
        return self._snapshots.open(run_id, digest)


_live_writers: weakref.WeakSet[SnapshotWriter] = weakref.WeakSet()


def _start_over_in_child() -> None:
    # After fork, in the child: the queued snapshots are the parent's (it stores them),
    # and the parent's thread does not exist here.
    for writer in list(_live_writers):
        writer._start_over()


os.register_at_fork(after_in_child=_start_over_in_child)
