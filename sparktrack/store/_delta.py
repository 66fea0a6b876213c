"""The Delta store: the embedded default and the cluster store, written without a JVM.

delta-rs (the ``deltalake`` package) writes and reads the tables, so logging works in
any Python process, with or without Spark, and reads start with no JVM. delta-spark
reads the very same tables (see ``sparktrack.spark``).
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake

from sparktrack.config import Settings
from sparktrack.errors import StoreError
from sparktrack.store._artifacts import ArtifactRepository
from sparktrack.store._base import Row, Store
from sparktrack.store._journal import Journal, OrphanJournal, find_orphans
from sparktrack.store._locks import table_lock
from sparktrack.store._open_failure import open_failure_message
from sparktrack.store._schema import TABLE_NAMES, TABLES
from sparktrack.store._uri import StoreLocation, parse_store_uri
from sparktrack.store._writer import BatchWriter

__all__ = ["DeltaStore"]

_log = logging.getLogger("sparktrack")

# How old a table handle may be before a read looks for other processes' commits.
_REFRESH_SECONDS = 0.25
# Both engines read and write tables at protocol reader 1 / writer 2; keep it there.
_TABLE_CONFIGURATION = {
    "delta.checkpointInterval": "20",
    "delta.logRetentionDuration": "interval 30 days",
}


_ENCODED_STRING = pa.dictionary(pa.int32(), pa.string())
_DICTIONARY_READS = {
    name: ds.ParquetReadOptions(
        dictionary_columns={f.name for f in schema if f.type == pa.string()}
    )
    for name, schema in TABLES.items()
}


def _journal_directory(settings: Settings, location: StoreLocation) -> Path:
    key = hashlib.sha1(location.uri.encode()).hexdigest()[:16]
    return Path(settings.journal_dir).expanduser() / key


class _Table:
    """One Delta table: a handle for writing and one for reading, each behind a lock."""

    def __init__(self, location: StoreLocation, name: str) -> None:
        self.name = name
        self.uri = location.for_delta_rs(name)
        self.location = location
        self.lock = threading.Lock()
        self.handle: DeltaTable | None = None
        self.commits_since_compaction = 0
        self.refreshed_at = 0.0
        self.stale = True

    def _exists_locally(self) -> bool:
        # A cheap look at the folder first: is_deltatable loads the whole log.
        log = os.path.join(self.uri, "_delta_log")
        if not os.path.isdir(log):
            return False
        with os.scandir(log) as entries:
            return any(entry.name.endswith((".json", ".parquet")) for entry in entries)

    def ensure_exists(self) -> None:
        if self.location.is_local and self._exists_locally():
            return
        with table_lock(self.location, self.name):
            if not DeltaTable.is_deltatable(self.uri):
                DeltaTable.create(
                    self.uri,
                    TABLES[self.name],
                    mode="ignore",
                    name=self.name,
                    configuration=_TABLE_CONFIGURATION,
                )

    def current(self, *, fresh: bool = False) -> DeltaTable:
        """The handle, brought up to the latest version. Call with ``self.lock`` held.

        Other processes' commits are looked for at most every ``_REFRESH_SECONDS``: one
        search asks for a table's version several times, and each look lists the log.
        This process's own commits always count (``stale`` is set after each);
        ``fresh`` looks for everyone's now.
        """
        now = time.monotonic()
        if self.handle is None:
            self.handle = DeltaTable(self.uri)
        elif fresh or self.stale or now - self.refreshed_at > _REFRESH_SECONDS:
            self.handle.update_incremental()
        else:
            return self.handle
        self.refreshed_at = now
        self.stale = False
        return self.handle


class DeltaStore(Store):
    """Delta tables plus an artifact tree under one URI, with a journaled writer."""

    def __init__(self, uri: str, settings: Settings) -> None:
        self._location = parse_store_uri(uri)
        self.uri = self._location.uri
        self._settings = settings
        self._tables = {name: _Table(self._location, name) for name in TABLE_NAMES}
        try:
            for table in self._tables.values():
                table.ensure_exists()
        except Exception as exc:
            raise StoreError(open_failure_message(self.uri, exc)) from exc
        self._artifacts = ArtifactRepository(self._location)
        self._journal_dir = _journal_directory(settings, self._location)
        self.replayed_runs_killed: list[str] = self._replay_orphans()
        self._writer_id = uuid.uuid4().hex
        self._open_runs: set[str] = set()
        self._writer = BatchWriter(
            self._commit_batch,
            Journal(self._journal_dir, self._writer_id),
            flush_interval=settings.flush_interval_seconds,
            max_records=settings.flush_max_records,
            open_runs=lambda: sorted(self._open_runs),
        )
        self._closed = False
        # Commit what is left when the interpreter exits normally; kill -9 is the
        # journal's job.
        atexit.register(_close_at_exit, weakref.ref(self))

    # -- Store core -----------------------------------------------------------------
    @property
    def artifacts(self) -> ArtifactRepository:
        return self._artifacts

    @property
    def location(self) -> StoreLocation:
        return self._location

    def append(self, table: str, rows: Sequence[Row], *, durable: bool = True) -> None:
        if table not in self._tables:
            raise StoreError(f"unknown table {table!r}; tables are {list(TABLE_NAMES)}")
        materialised = [dict(row) for row in rows]
        if table == "runs":
            self._track_open_runs(materialised)
        self._writer.append(table, materialised, durable=durable)

    def request_commit(self, *, fsync: bool) -> None:
        self._writer.request_commit(fsync=fsync)

    def scan(
        self,
        table: str,
        *,
        run_ids: Iterable[str] | None = None,
        columns: Sequence[str] | None = None,
        dictionary: bool = False,
    ) -> pa.Table:
        entry = self._tables[table]
        # Parquet stores these columns dictionary-encoded already: keeping the encoding
        # skips materialising a string per row (run ids, keys and tag values repeat).
        options = _DICTIONARY_READS[table] if dictionary else None
        with entry.lock:
            dataset = entry.current().to_pyarrow_dataset(parquet_read_options=options)
        expression = None
        if run_ids is not None:
            expression = pc.field("run_id").isin(pa.array(list(run_ids), pa.string()))
        result = dataset.to_table(columns=list(columns) if columns else None, filter=expression)
        return result.cast(_schema_for(table, columns, dictionary=dictionary), safe=False)

    def transact(
        self, table: str, decide: Callable[[pa.Table], Sequence[Row]]
    ) -> list[dict[str, Any]]:
        entry = self._tables[table]
        # The inter-process lock serialises transactions on local stores. On object
        # stores and HDFS the Delta commit protocol orders commits, but two processes
        # could both decide from the same read: see "Model registry" in the README.
        with table_lock(self._location, table), entry.lock:
            handle = entry.current(fresh=True)
            current = handle.to_pyarrow_dataset().to_table().cast(TABLES[table], safe=False)
            rows = [dict(row) for row in decide(current)]
            if rows:
                data = pa.Table.from_pylist(rows, schema=TABLES[table])
                write_deltalake(handle, data, mode="append")
                entry.stale = True
        return rows

    def version(self, table: str) -> int | None:
        entry = self._tables[table]
        with entry.lock:
            return int(entry.current().version())

    def flush(self, *, fsync: bool = True) -> None:
        self._writer.flush(fsync=fsync)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._writer.close()

    # -- committing -------------------------------------------------------------------
    def _track_open_runs(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            if row.get("event") in ("start", "resume"):
                self._open_runs.add(row["run_id"])
            elif row.get("event") == "end":
                self._open_runs.discard(row["run_id"])

    def _commit_batch(self, table: str, rows: list[dict[str, Any]], version: int) -> None:
        self._commit(table, rows, app_id=self._writer_id, version=version)

    def _commit(self, table: str, rows: list[dict[str, Any]], *, app_id: str, version: int) -> None:
        entry = self._tables[table]
        data = pa.Table.from_pylist(rows, schema=TABLES[table])
        properties = CommitProperties(app_transactions=[Transaction(app_id, version)])
        with table_lock(self._location, table), entry.lock:
            write_deltalake(entry.current(), data, mode="append", commit_properties=properties)
            entry.stale = True
            entry.commits_since_compaction += 1
            due = self._settings.compact_every_commits
            if due and entry.commits_since_compaction >= due:
                entry.commits_since_compaction = 0
                _compact(entry.current())

    # -- maintenance ----------------------------------------------------------------
    def maintain(self, *, vacuum_retention_hours: int | None = None) -> dict[str, Any]:
        self.flush()
        report: dict[str, Any] = {}
        for name, entry in self._tables.items():
            with table_lock(self._location, name), entry.lock:
                handle = entry.current()
                files_before = len(handle.file_uris())
                _compact(handle)
                removed: list[str] = []
                if vacuum_retention_hours is not None:
                    removed = handle.vacuum(
                        retention_hours=vacuum_retention_hours,
                        dry_run=False,
                        enforce_retention_duration=False,
                    )
                handle.cleanup_metadata()
                report[name] = {
                    "files_before": files_before,
                    "files_after": len(entry.current().file_uris()),
                    "vacuumed_files": len(removed),
                    "version": entry.current().version(),
                }
        return report

    # -- replay of dead processes' journals ------------------------------------------
    def _replay_orphans(self) -> list[str]:
        killed: list[str] = []
        for orphan in find_orphans(self._journal_dir):
            try:
                killed.extend(self._replay(orphan))
            except Exception as exc:
                orphan.release()
                _log.warning(
                    "sparktrack could not replay journal %s yet (%s); it is kept and "
                    "retried next time the store is opened",
                    orphan.writer_id,
                    exc,
                )
            else:
                orphan.discard()
        return killed

    def _replay(self, orphan: OrphanJournal) -> list[str]:
        orphan.load()
        if not orphan.records and not orphan.open_runs_at_start:
            return []
        open_runs = set(orphan.open_runs_at_start)
        by_table: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for seq, table, row in orphan.records:
            if table in self._tables:
                by_table.setdefault(table, []).append((seq, row))
            if table == "runs":
                if row.get("event") in ("start", "resume"):
                    open_runs.add(row["run_id"])
                elif row.get("event") == "end":
                    open_runs.discard(row["run_id"])
        top_seq = max((seq for seq, _, _ in orphan.records), default=0)
        for table, items in by_table.items():
            with self._tables[table].lock:
                done = self._tables[table].current().transaction_version(orphan.writer_id)
            fresh = [row for seq, row in items if done is None or seq > done]
            if fresh:
                self._commit(table, fresh, app_id=orphan.writer_id, version=items[-1][0])
        return self._end_orphaned_runs(orphan, open_runs, top_seq + 1)

    def _end_orphaned_runs(self, orphan: OrphanJournal, run_ids: set[str], version: int):
        """Mark KILLED the runs a dead process left RUNNING (unless someone moved on)."""
        if not run_ids:
            return []
        with self._tables["runs"].lock:
            done = self._tables["runs"].current().transaction_version(orphan.writer_id)
        if done is not None and done >= version:
            return []
        died_at = orphan.last_modified_ms
        events = self.scan("runs", run_ids=run_ids, columns=["run_id", "status", "event_time"])
        latest: dict[str, tuple[int, str]] = {}
        for run_id, status, event_time in zip(
            *(events[c].to_pylist() for c in events.column_names), strict=True
        ):
            if status is not None and (run_id not in latest or event_time > latest[run_id][0]):
                latest[run_id] = (event_time, status)
        now_us = time.time_ns() // 1000
        doomed = sorted(
            run_id
            for run_id, (event_time, status) in latest.items()
            if status == "RUNNING" and event_time <= died_at * 1000
        )
        rows = [
            {
                "run_id": run_id,
                "event": "end",
                "status": "KILLED",
                "end_time": died_at,
                "event_time": now_us + i,
            }
            for i, run_id in enumerate(doomed)
        ]
        self._commit("runs", rows, app_id=orphan.writer_id, version=version)
        return doomed


def _schema_for(table: str, columns: Sequence[str] | None, *, dictionary: bool) -> pa.Schema:
    schema = TABLES[table]
    if columns:
        schema = pa.schema([schema.field(c) for c in columns])
    if not dictionary:
        return schema
    return pa.schema([f.with_type(_ENCODED_STRING) if f.type == pa.string() else f for f in schema])


def _compact(handle: DeltaTable) -> None:
    handle.optimize.compact()
    handle.create_checkpoint()


def _close_at_exit(ref: weakref.ReferenceType[DeltaStore]) -> None:
    store = ref()
    if store is not None:
        try:
            store.close()
        except Exception as exc:  # exiting: report, do not raise
            _log.error("sparktrack could not commit at exit: %s", exc)
