"""The Delta store: the embedded default and the cluster store, written without a JVM.

delta-rs (the ``deltalake`` package) writes and reads the tables, so logging works in
any Python process, with or without Spark, and reads start with no JVM. delta-spark
reads the very same tables (see ``sparktrack.spark``).

Forked children (``multiprocessing``'s default on Linux) inherit the store object. In
the child it starts over: a new writer id, its own journal, a new writer thread and
new table access (through a helper process, see ``_remote``); the parent's journal
and pending records stay the parent's.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import threading
import uuid
import weakref
from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from sparktrack.config import Settings
from sparktrack.errors import StoreError
from sparktrack.store._artifacts import ArtifactRepository
from sparktrack.store._base import Appended, OrphanedRuns, Row, Store
from sparktrack.store._commits import check_conditional_writes, with_commit_options
from sparktrack.store._folds import StoredFold
from sparktrack.store._journal import Journal, follow_run_event
from sparktrack.store._locks import table_lock
from sparktrack.store._open_failure import open_failure_message
from sparktrack.store._optimistic import commit_optimistically
from sparktrack.store._remote import open_tables
from sparktrack.store._replay import Replayer
from sparktrack.store._schema import TABLE_NAMES, TABLES
from sparktrack.store._uri import StoreLocation, parse_store_uri
from sparktrack.store._writer import BatchWriter

__all__ = ["DeltaStore"]

_log = logging.getLogger("sparktrack")

_live_stores: weakref.WeakSet[DeltaStore] = weakref.WeakSet()


def _journal_directory(settings: Settings, location: StoreLocation) -> Path:
    key = hashlib.sha1(location.uri.encode()).hexdigest()[:16]
    return Path(settings.journal_dir).expanduser() / key


class _WriterTarget:
    """Commits for one writer id (the app id of its Delta app transactions)."""

    def __init__(self, store: DeltaStore, writer_id: str) -> None:
        self.uri = store.uri
        self._store = store
        self._writer_id = writer_id
        self._commits_since_compaction = dict.fromkeys(TABLE_NAMES, 0)

    def commit(self, table: str, rows: list[dict[str, Any]], version: int) -> None:
        self._store._commit(table, rows, self._writer_id, version)

    def landed(self, table: str) -> int | None:
        return self._store._tables.landed(table, self._writer_id)

    def tidy(self, table: str) -> None:
        due = self._store._settings.compact_every_commits
        self._commits_since_compaction[table] += 1
        if due and self._commits_since_compaction[table] >= due:
            self._commits_since_compaction[table] = 0
            self._store._compact(table)


class DeltaStore(Store):
    """Delta tables plus an artifact tree under one URI, with a journaled writer.

    Opening a store creates its tables if needed and replays the journals that dead
    processes left for it (see the Guarantees page of the docs): what they
    acknowledged is committed, and the runs they left open are reported
    (``orphaned_runs``) for the tracking layer to settle. Use ``open_store`` rather
    than this class: it also knows ``memory://``.

    Args:
        uri: A local folder or an ``hdfs://``, ``s3a://``, ``s3://``, ``abfss://`` or
            ``gs://`` URI.
        settings: The settings to write with (journal folder, flush interval, ...).

    Raises:
        ConfigurationError: The URI is empty or its scheme is not supported, or an S3
            store's ``object_store_commits`` setting is unset, or is ``conditional-put``
            on a server that ignores conditional writes.
        StoreError: The store could not be created or opened (a folder that cannot be
            created, an object store without credentials).
    """

    def __init__(self, uri: str, settings: Settings) -> None:
        self._location = with_commit_options(parse_store_uri(uri), settings)
        self.uri = self._location.uri
        self._settings = settings
        self._tables = open_tables(self._location)
        self._create_tables()
        # After delta-rs reached the store: its errors name missing credentials and
        # endpoints best. Creating empty tables commits no records.
        check_conditional_writes(self._location)
        self._artifacts = ArtifactRepository(self._location)
        self._journal_dir = _journal_directory(settings, self._location)
        self._store_id: str | None = None
        self._start_writer()
        self._replayer.replay()
        self._closed = False
        _live_stores.add(self)
        # Commit what is left when the interpreter exits normally; kill -9 is the
        # journal's job.
        atexit.register(_close_at_exit, weakref.ref(self))

    def _create_tables(self) -> None:
        try:
            if self._location.is_local:
                assert self._location.local_path is not None
                Path(self._location.local_path).mkdir(parents=True, exist_ok=True)
            self._tables.ensure_exist()
        except StoreError:
            raise
        except OSError as exc:
            if not self._location.is_local:  # delta-rs reports object-store failures as OSError
                raise StoreError(open_failure_message(self.uri, exc)) from exc
            raise StoreError(
                f"cannot create the store folder {self.uri!r}: {exc.strerror or exc}. Give "
                "a store path (store setting, SPARKTRACK_STORE or --store) where folders "
                "can be created."
            ) from exc
        except Exception as exc:
            raise StoreError(open_failure_message(self.uri, exc)) from exc

    def _start_writer(self) -> None:
        """A new writer id, journal (opened on the first record), writer and replayer."""
        self._writer_id = uuid.uuid4().hex
        self._open_runs: dict[str, int | None] = {}
        self._commit_locks = {name: threading.Lock() for name in TABLE_NAMES}
        writer_id, directory = self._writer_id, self._journal_dir

        def open_journal() -> Journal:
            return Journal(directory, writer_id, self._segment_header)

        self._writer = BatchWriter(
            _WriterTarget(self, writer_id),
            open_journal,
            flush_interval=self._settings.flush_interval_seconds,
            max_records=self._settings.flush_max_records,
            observe=self._observe,
        )
        self._replayer = Replayer(
            self.uri, self._tables, self._commit, self.store_id, self._journal_dir
        )

    def _start_over_in_child(self) -> None:
        """After ``fork``, in the child: see the module docstring."""
        if self._closed:
            return
        self._writer.forget_after_fork()
        self._replayer.release()  # the journals awaiting a verdict stay the parent's
        self._tables = open_tables(self._location)
        self._start_writer()

    # -- Store core -----------------------------------------------------------------
    @property
    def artifacts(self) -> ArtifactRepository:
        return self._artifacts

    @property
    def location(self) -> StoreLocation:
        """Where the store lives, spelled for each engine."""
        return self._location

    def store_id(self) -> str:
        """The store's identity: journals are replayed only into the store they name.

        Returns:
            The Delta table id of the store's ``runs`` table: new for every store, even
            one created again at the same path.

        Raises:
            StoreError: The id could not be read.
        """
        if self._store_id is None:
            try:
                self._store_id = self._tables.store_id()
            except StoreError:
                raise
            except Exception as exc:
                raise StoreError(f"cannot read the id of store {self.uri!r}: {exc}") from exc
        return self._store_id

    def append(self, table: str, rows: Sequence[Row], *, durable: bool = True) -> None:
        if table not in self._commit_locks:
            raise StoreError(f"unknown table {table!r}; tables are {list(TABLE_NAMES)}")
        self._writer.append(table, [dict(row) for row in rows], durable=durable)

    def request_commit(self, *, fsync: bool) -> None:
        # The writer's round fsyncs the journal before it commits (group commit): the
        # caller does not wait for the disk either way.
        self._writer.request_commit()

    def scan(
        self,
        table: str,
        *,
        run_ids: Iterable[str] | None = None,
        keys: Iterable[str] | None = None,
        columns: Sequence[str] | None = None,
        dictionary: bool = False,
    ) -> pa.Table:
        return self._tables.read(
            table,
            run_ids=None if run_ids is None else list(run_ids),
            keys=None if keys is None else list(keys),
            columns=columns,
            dictionary=dictionary,
        )

    def scan_runs(
        self, table: str, run_ids: Collection[str], *, columns: Sequence[str] | None = None
    ) -> pa.Table:
        # A read of a run just logged (a server answering the client that logged it)
        # would otherwise commit every table for it: a commit per read, and the log
        # grows by as many entries. The rows still queued join the committed ones; the
        # queue is taken first, so a row committed meanwhile is in what the read finds,
        # and the app transaction version of the version read says which rows it holds.
        wanted = list(run_ids)
        queued = self._writer.queued_rows(table, wanted)
        committed, landed = self._tables.read_with_landed(
            table, wanted, self._writer_id, columns=columns
        )
        waiting = [row for seq, row in queued if landed is None or seq > landed]
        if not waiting:
            return committed
        rows = pa.Table.from_pylist(waiting, schema=TABLES[table])
        return pa.concat_tables(
            [committed, rows.select(committed.column_names).cast(committed.schema)]
        )

    def scan_appended(
        self,
        table: str,
        seen: Collection[str] | None,
        *,
        keys: Iterable[str] | None = None,
        columns: Sequence[str] | None = None,
        dictionary: bool = False,
    ) -> Appended:
        return self._tables.read_appended(
            table,
            seen,
            keys=None if keys is None else list(keys),
            columns=columns,
            dictionary=dictionary,
        )

    def transact(
        self, table: str, decide: Callable[[pa.Table], Sequence[Row]]
    ) -> list[dict[str, Any]]:
        # No inter-process lock: Delta's commit protocol refuses a commit decided on
        # an old version, on every kind of store (see _optimistic). The thread lock
        # only keeps this process's own transactions from racing each other.
        with self._commit_locks[table]:
            return commit_optimistically(self._tables, table, decide, uri=self.uri)

    def version(self, table: str) -> int | None:
        return self._tables.version(table)

    def row_count(self, table: str) -> int | None:
        return self._tables.row_count(table)

    def flush(self, *, fsync: bool = True) -> None:
        self._writer.flush(fsync=fsync)
        if fsync:
            # Also commit what dead writers of this store left: forked workers killed
            # when their pool closed, a process killed since this store was opened.
            self._replayer.replay()

    def orphaned_runs(self) -> list[OrphanedRuns]:
        return self._replayer.reports()

    def settle_orphaned(self, orphaned: OrphanedRuns, rows: Sequence[Row]) -> None:
        if not self._replayer.settle(orphaned, rows):
            super().settle_orphaned(orphaned, rows)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._writer.close():
            self._replayer.replay()
        # Journals still awaiting a verdict are reported again by the next store opened.
        self._replayer.release()
        self._tables.close()

    # -- committing -------------------------------------------------------------------
    def _segment_header(self) -> dict[str, Any]:
        return {"store_id": self.store_id(), "open_runs": dict(self._open_runs)}

    def _observe(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        """Follow which runs this writer has open (called under the writer's lock)."""
        if table == "runs":
            for row in rows:
                follow_run_event(self._open_runs, row)

    def _commit(self, table: str, rows: list[dict[str, Any]], app_id: str, version: int) -> None:
        with table_lock(self._location, table), self._commit_locks[table]:
            self._tables.append(table, rows, app_id=app_id, version=version)

    def _compact(self, table: str) -> None:
        with table_lock(self._location, table), self._commit_locks[table]:
            self._tables.compact(table)

    def save_fold(
        self, name: str, files: Collection[str], rows: pa.Table, sort_by: Sequence[str]
    ) -> None:
        self._tables.write_fold(name, files, rows, sort_by)

    def saved_fold(
        self,
        name: str,
        keys: Collection[str] | None = None,
        columns: Sequence[str] | None = None,
    ) -> StoredFold | None:
        return self._tables.read_fold(name, keys, columns)

    # -- maintenance ----------------------------------------------------------------
    def maintain(
        self, *, vacuum_retention_hours: int | None = None, dry_run: bool = False
    ) -> dict[str, Any]:
        if dry_run:
            # No flush either: it would commit this process's rows and replay journals.
            return {
                name: self._tables.maintenance_plan(name, vacuum_retention_hours)
                for name in TABLE_NAMES
            }
        self.flush()
        report: dict[str, Any] = {}
        for name in TABLE_NAMES:
            with table_lock(self._location, name), self._commit_locks[name]:
                report[name] = self._tables.maintain(name, vacuum_retention_hours)
        return report


def _after_fork_in_child() -> None:
    for store in list(_live_stores):
        store._start_over_in_child()


# After _remote's hook (registered when it was imported): the child's new table access
# must already know that delta-rs cannot run here.
os.register_at_fork(after_in_child=_after_fork_in_child)


def _close_at_exit(ref: weakref.ReferenceType[DeltaStore]) -> None:
    store = ref()
    if store is not None:
        try:
            store.close()
        except Exception as exc:  # exiting: report, do not raise
            _log.error("sparktrack could not commit at exit: %s", exc)
