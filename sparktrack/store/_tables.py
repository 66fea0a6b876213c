"""delta-rs access to the tables of one store, and the store's identity.

``Tables`` is everything the store asks of delta-rs. ``DeltaTables`` does it in this
process; ``_remote.RemoteTables`` does the same in a helper process, for forked
children, where delta-rs cannot run (its tokio runtime does not survive ``fork``).
Callers hold the store's commit lock (``_locks.table_lock``) around ``append``,
``compact`` and ``maintain``; the methods here only guard their own handles.
``snapshot`` and ``append_at`` need no lock: ``append_at`` commits only on top of the
version read, and Delta's commit (a put-if-absent of the next log entry) refuses it
once another commit took that place (see ``_optimistic``).

The store id is the Delta table id (``metaData.id``) of the ``runs`` table: a random
id Delta writes when the table is created, on every file system and object store, so
every store has one, and a store deleted and created again at the same path has a new
one. Journals record it, and are replayed only into the store they were written for.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
from deltalake import CommitProperties, DeltaTable, Transaction, WriterProperties, write_deltalake
from deltalake.exceptions import CommitFailedError

from sparktrack.store._base import Appended
from sparktrack.store._clustering import clustered_row_group, compact_sorted
from sparktrack.store._folds import FoldFiles, StoredFold
from sparktrack.store._locks import table_lock
from sparktrack.store._pruning import RunRanges, row_groups_of_runs
from sparktrack.store._schema import TABLE_NAMES, TABLES
from sparktrack.store._uri import StoreLocation

__all__ = ["STORE_ID_TABLE", "DeltaTables", "Snapshot", "Tables"]

# How old a table handle may be before a read looks for other processes' commits.
_REFRESH_SECONDS = 0.25
# Both engines read and write tables at protocol reader 1 / writer 2; keep it there.
_TABLE_CONFIGURATION = {
    "delta.checkpointInterval": "20",
    "delta.logRetentionDuration": "interval 30 days",
}
# A run-keyed table's log keeps two hours of versions. delta-rs's commit costs grow
# with the entries in the log (measured on a local disk: 18 ms a commit at 500
# entries, 100-150 ms at 2,000-3,000), and a writer commits up to every 2 s: a day
# of one process's commits would make each take seconds. These tables only ever
# append events, so their state at any past time is a filter on event_time, not a
# Delta version; the registry and experiments tables keep Delta's 30 days. Entries go
# when a compaction commits (the writer's, every compact_every_commits, and gc's).
_RUN_TABLE_CONFIGURATION = {
    **_TABLE_CONFIGURATION,
    "delta.logRetentionDuration": "interval 2 hours",
}
STORE_ID_TABLE = "runs"
# Up to this many run ids, a read of some runs asks Delta to skip files by statistics
# (the predicate lists every id; with more, listing costs more than it saves).
_PRUNING_RUN_IDS = 1000

# Tables whose rows belong to a run: maintenance clusters their files by run_id, so
# that Delta's file statistics and Parquet's row-group statistics let a read of a few
# runs skip the rest.
# (The registry's run_id only says where a model came from: it is not keyed by run.)
_RUN_KEYED = frozenset({"runs", "params", "metrics", "tags", "heartbeats", "inputs"})
# Memory the clustering sort may take before it spills to disk: maintenance must not
# need memory in proportion to the table.
_CLUSTERING_MEMORY = 512 * 1024 * 1024
# The codec of the files compaction rewrites. delta-rs's optimize writes them
# uncompressed unless told (half again the bytes of the files Spark or its own appends
# wrote); snappy is what both of those use and decodes fastest for searches.
_COMPRESSION: Final = "SNAPPY"
# delta-rs's compaction merges files smaller than this (its default target file size).
_COMPACTION_TARGET_BYTES = 100 * 1024 * 1024
_ENCODED_STRING = pa.dictionary(pa.int32(), pa.string())
_DICTIONARY_READS = {
    name: ds.ParquetReadOptions(
        dictionary_columns={f.name for f in schema if f.type == pa.string()}
    )
    for name, schema in TABLES.items()
}


@dataclass(frozen=True)
class Snapshot:
    """A table's rows as of one version, read to decide what to commit on top of it.

    Attributes:
        version: The table version the rows are of.
        rows: Every row of the table at ``version``.
        landed: The highest version of the app transactions of the app id asked
            about that the table holds at ``version`` (None: none of them).
    """

    version: int
    rows: pa.Table
    landed: int | None


class Tables(Protocol):
    """What a store needs from delta-rs. Every method is thread-safe."""

    def ensure_exist(self) -> None:
        """Create the tables that do not exist yet."""

    def store_id(self) -> str:
        """The store's identity (see the module docstring)."""

    def read(
        self,
        table: str,
        *,
        run_ids: Sequence[str] | None = None,
        keys: Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
        dictionary: bool = False,
        fresh: bool = False,
    ) -> pa.Table:
        """Rows of ``table`` (of ``run_ids``, of ``keys``); ``fresh``: every process's commits."""

    def read_appended(
        self,
        table: str,
        seen: Collection[str] | None,
        *,
        keys: Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
        dictionary: bool = False,
    ) -> Appended:
        """The rows of the data files not in ``seen``, a row group at a time."""

    def append(
        self,
        table: str,
        rows: list[dict[str, Any]],
        *,
        app_id: str | None = None,
        version: int | None = None,
    ) -> None:
        """Commit ``rows``, with the app transaction (``app_id``, ``version``) if given."""

    def snapshot(self, table: str, app_id: str) -> Snapshot:
        """Every row of ``table`` at its latest version, and ``app_id``'s landed commits."""

    def append_at(
        self,
        table: str,
        rows: list[dict[str, Any]],
        *,
        read_version: int,
        app_id: str,
        version: int,
    ) -> bool:
        """Commit ``rows`` as version ``read_version + 1`` with the app transaction given.

        False when the commit was refused because another writer committed first
        (or this process already saw a later version: nothing is written then); raises
        when it failed otherwise, which may mean it landed all the same (a timeout).
        Either way, whether it landed is for a later read to tell.
        """

    def landed(self, table: str, app_id: str) -> int | None:
        """The highest version of ``app_id``'s app transactions in the table, read now."""

    def read_with_landed(
        self,
        table: str,
        run_ids: Sequence[str],
        app_id: str,
        *,
        columns: Sequence[str] | None = None,
    ) -> tuple[pa.Table, int | None]:
        """These runs' rows, and ``app_id``'s highest app transaction version in what was read."""

    def version(self, table: str) -> int:
        """The table's version (others' commits are looked for at most every 250 ms)."""

    def row_count(self, table: str) -> int | None:
        """The table's rows, from the Delta log's file statistics (None: not recorded)."""

    def compact(self, table: str) -> None:
        """Compact small files (sorted by run_id in run-keyed tables), write a checkpoint.

        Committing the compaction also drops the log entries past the table's retention
        that the checkpoint makes unneeded (delta-rs's expired-log cleanup).
        """

    def maintain(self, table: str, vacuum_retention_hours: int | None) -> dict[str, Any]:
        """Compact (run-keyed tables clustered by run_id), vacuum, clean up the log."""

    def maintenance_plan(self, table: str, vacuum_retention_hours: int | None) -> dict[str, Any]:
        """What ``maintain`` would rewrite and vacuum now; nothing is changed."""

    def write_fold(
        self, name: str, files: Collection[str], rows: pa.Table, sort_by: Sequence[str]
    ) -> None:
        """Save a fold of the data files ``files`` (``_folds``); a no-op where unsupported."""

    def read_fold(
        self, name: str, keys: Collection[str] | None, columns: Sequence[str] | None
    ) -> StoredFold | None:
        """The saved fold ``name`` (rows of ``keys``, ``columns``), or None."""

    def close(self) -> None:
        """Let go of handles (and helper processes)."""


def _folds_of(location: StoreLocation) -> FoldFiles:
    """The store's saved folds: on the local disk or S3 (others keep none)."""
    if location.is_local and location.local_path is not None:
        return FoldFiles(pafs.LocalFileSystem(), location.local_path)
    root = location.for_delta_rs()
    found = _s3_filesystem(root) if root.startswith("s3://") else None
    if found is None:
        return FoldFiles(None, "")
    return FoldFiles(*found)


def _arrow_filesystem(location: StoreLocation, uri: str) -> pafs.FileSystem | None:
    """Arrow's file system rooted at a table, for local and S3 stores (None: delta-rs's)."""
    if location.is_local:
        return pafs.SubTreeFileSystem(uri, pafs.LocalFileSystem())
    if not uri.startswith("s3://"):
        return None
    root = location.for_delta_rs()
    found = _s3_filesystem(root)
    if found is None:
        return None
    filesystem, path = found
    return pafs.SubTreeFileSystem(path + uri[len(root) :], filesystem)


@functools.lru_cache(maxsize=16)
def _s3_filesystem(root: str) -> tuple[pafs.FileSystem, str] | None:
    """One Arrow S3 file system per store (resolving a bucket's region is a request)."""
    try:
        # Arrow's S3 reads the same AWS_* variables (endpoint, region, credentials).
        filesystem, path = pafs.FileSystem.from_uri(root)
    except (OSError, ValueError):
        return None
    return filesystem, path


class _Table:
    """One Delta table's handle, behind a lock."""

    def __init__(self, location: StoreLocation, name: str) -> None:
        self.name = name
        self.uri = location.for_delta_rs(name)
        self.location = location
        self.lock = threading.Lock()
        self.handle: DeltaTable | None = None
        self.refreshed_at = 0.0
        self.stale = True
        self.run_ranges: RunRanges = {}
        # The whole-table dataset of the last version read, per read options: reads of
        # a few runs (a server answering for the run it just logged) narrow it to their
        # row groups by ``run_ranges`` instead of asking delta-rs for a dataset each time.
        self.datasets: dict[bool, tuple[int, ds.FileSystemDataset]] = {}
        # (table version, app id, that app's highest transaction version in it) of the
        # last look: it goes through the log's transaction actions, and a version's
        # answer never changes.
        self.landed_at: tuple[int, str, int | None] | None = None
        # Pre-buffering reads a row group's column chunks in one coalesced request and
        # holds them while decoding: on an object store that saves round trips; on a
        # local disk it only adds memory (a cold search of a million runs peaked about
        # 40 MB higher with it, for the same CPU time).
        self.scan_options = ds.ParquetFragmentScanOptions(pre_buffer=not location.is_local)
        # Reads of a local or S3 table go through Arrow's own file system. delta-rs's
        # default is a Python file system, which Arrow's I/O threads call back into: a
        # read-ahead still under way when the interpreter exits then aborts the process
        # ("terminate called without an active exception"), after all work was done.

    @functools.cached_property
    def filesystem(self) -> pafs.FileSystem | None:
        # Made on first read, once delta-rs has reached the store: for a store on S3,
        # Arrow looks up the bucket's region and credentials, which must not wait on an
        # unreachable credentials endpoint before delta-rs reports what is missing.
        return _arrow_filesystem(self.location, self.uri)

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
        options = self.location.delta_rs_options()
        with table_lock(self.location, self.name):
            if DeltaTable.is_deltatable(self.uri, storage_options=options):
                return
            try:
                DeltaTable.create(
                    self.uri,
                    TABLES[self.name],
                    mode="ignore",
                    name=self.name,
                    configuration=(
                        _RUN_TABLE_CONFIGURATION
                        if self.name in _RUN_KEYED
                        else _TABLE_CONFIGURATION
                    ),
                    storage_options=options,
                )
            except CommitFailedError:
                # Object stores have no table lock: processes opening a new store at
                # once all try to create its tables, and every create but the first
                # fails on the version 0 the first one wrote. Its table is the one
                # we meant to create (same schema and configuration): use it.
                if not DeltaTable.is_deltatable(self.uri, storage_options=options):
                    raise

    def dataset_of_version(self, options: ds.ParquetReadOptions | None) -> ds.FileSystemDataset:
        """The current version's whole dataset, made once per version. Call with ``self.lock``.

        ``options`` is None or the table's one set of dictionary reads.
        """
        handle = self.current()
        version = int(handle.version())
        key = options is not None
        cached = self.datasets.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        dataset = handle.to_pyarrow_dataset(
            filesystem=self.filesystem, parquet_read_options=options
        )
        self.datasets[key] = (version, dataset)
        return dataset

    def landed_in_current(self, app_id: str) -> int | None:
        """``app_id``'s highest app transaction version in the handle's version, as it is.

        Call with ``self.lock`` held, after ``current``.
        """
        assert self.handle is not None
        version = int(self.handle.version())
        if self.landed_at is None or self.landed_at[:2] != (version, app_id):
            found = self.handle.transaction_version(app_id)
            self.landed_at = (version, app_id, None if found is None else int(found))
        return self.landed_at[2]

    def current(self, *, fresh: bool = False) -> DeltaTable:
        """The handle, brought up to the latest version. Call with ``self.lock`` held.

        Other processes' commits are looked for at most every ``_REFRESH_SECONDS``: one
        search asks for a table's version several times, and each look lists the log.
        This process's own commits always count (``stale`` is set after each);
        ``fresh`` looks for everyone's now.
        """
        now = time.monotonic()
        if self.handle is None:
            self.handle = DeltaTable(self.uri, storage_options=self.location.delta_rs_options())
        elif fresh or self.stale or now - self.refreshed_at > _REFRESH_SECONDS:
            self.handle.update_incremental()
        else:
            return self.handle
        self.refreshed_at = now
        self.stale = False
        return self.handle


def _rows(
    dataset: ds.Dataset,
    table: str,
    expression: pc.Expression | None,
    columns: Sequence[str] | None,
    dictionary: bool,
    scan_options: ds.ParquetFragmentScanOptions,
) -> pa.Table:
    # A read of some runs keeps few rows of what it reads: little read-ahead, or
    # Arrow holds a gigabyte of a large table's batches that the filter then drops.
    ahead = {} if expression is None else {"batch_readahead": 2, "fragment_readahead": 1}
    result = dataset.to_table(
        columns=list(columns) if columns else None,
        filter=expression,
        fragment_scan_options=scan_options,
        **ahead,
    )
    return result.cast(_schema_for(table, columns, dictionary=dictionary), safe=False)


class DeltaTables:
    """The tables of one store, read and written with delta-rs in this process."""

    def __init__(self, location: StoreLocation) -> None:
        self._tables = {name: _Table(location, name) for name in TABLE_NAMES}
        self._location = location

    @functools.cached_property
    def _folds(self) -> FoldFiles:
        # Made on first use, as the tables' Arrow file systems are (see _Table).
        return _folds_of(self._location)

    def write_fold(
        self, name: str, files: Collection[str], rows: pa.Table, sort_by: Sequence[str]
    ) -> None:
        self._folds.write(name, files, rows, sort_by)

    def read_fold(
        self, name: str, keys: Collection[str] | None, columns: Sequence[str] | None
    ) -> StoredFold | None:
        return self._folds.read(name, keys, columns)

    def ensure_exist(self) -> None:
        for entry in self._tables.values():
            entry.ensure_exists()

    def store_id(self) -> str:
        entry = self._tables[STORE_ID_TABLE]
        with entry.lock:
            return str(entry.current().metadata().id)

    def read(
        self,
        table: str,
        *,
        run_ids: Sequence[str] | None = None,
        keys: Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
        dictionary: bool = False,
        fresh: bool = False,
    ) -> pa.Table:
        entry = self._tables[table]
        # Parquet stores these columns dictionary-encoded already: keeping the encoding
        # skips materialising a string per row (run ids, keys and tag values repeat).
        options = _DICTIONARY_READS[table] if dictionary else None
        expression = pruning = None
        wanted: list[str] = []
        if run_ids is not None:
            wanted = sorted(set(run_ids))
            expression = pc.field("run_id").isin(pa.array(wanted, pa.string()))
            # Only the row groups whose run ids may hold these runs are read (their
            # Parquet statistics, ``row_groups_of_runs``): from the version's cached
            # dataset, or, for a fresh read, after Delta's per-file min/max of run_id
            # skipped the files that cannot hold them.
            if 0 < len(wanted) <= _PRUNING_RUN_IDS:
                pruning = [("run_id", "in", wanted)]
        if keys is not None:
            # A search reads the few keys its filter names out of every run's keys.
            in_keys = _in_keys(keys)
            expression = in_keys if expression is None else expression & in_keys
        with entry.lock:
            if pruning is not None and not fresh:
                whole = entry.dataset_of_version(options)
                dataset = row_groups_of_runs(whole, wanted, entry.run_ranges)
            else:
                dataset = entry.current(fresh=fresh).to_pyarrow_dataset(
                    filesystem=entry.filesystem,
                    parquet_read_options=options,
                    file_pruning_predicate=pruning,
                )
                if pruning is not None:
                    dataset = row_groups_of_runs(dataset, wanted, entry.run_ranges)
        return _rows(dataset, table, expression, columns, dictionary, entry.scan_options)

    def read_with_landed(
        self,
        table: str,
        run_ids: Sequence[str],
        app_id: str,
        *,
        columns: Sequence[str] | None = None,
    ) -> tuple[pa.Table, int | None]:
        entry = self._tables[table]
        wanted = sorted(set(run_ids))
        with entry.lock:
            whole = entry.dataset_of_version(None)
            landed = entry.landed_in_current(app_id)  # the dataset's version: no commit between
            dataset = row_groups_of_runs(whole, wanted, entry.run_ranges)
        expression = pc.field("run_id").isin(pa.array(wanted, pa.string()))
        rows = _rows(dataset, table, expression, columns, False, entry.scan_options)
        return rows, landed

    def read_appended(
        self,
        table: str,
        seen: Collection[str] | None,
        *,
        keys: Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
        dictionary: bool = False,
    ) -> Appended:
        entry = self._tables[table]
        options = _DICTIONARY_READS[table] if dictionary else None
        with entry.lock:
            dataset = entry.current().to_pyarrow_dataset(
                filesystem=entry.filesystem, parquet_read_options=options
            )
        fragments = list(dataset.get_fragments())
        files = frozenset(fragment.path for fragment in fragments)
        known = frozenset(seen or ())
        fragments = [fragment for fragment in fragments if fragment.path not in known]
        schema = _schema_for(table, columns, dictionary=dictionary)
        names = list(columns) if columns else None
        expression = None if keys is None else _in_keys(keys)

        def batches() -> Iterator[pa.Table]:
            # A row group at a time, read when asked for: Arrow's scanner reads ahead
            # of a slow consumer, holding gigabytes of a large table. Files are never
            # changed once written, so reading them after the lock is let go reads this
            # version, whatever is committed meanwhile.
            for fragment in fragments:
                for group in fragment.split_by_row_group():
                    rows = group.to_table(
                        schema=dataset.schema,
                        columns=names,
                        filter=expression,
                        fragment_scan_options=entry.scan_options,
                    )
                    yield rows.cast(schema, safe=False)

        return Appended(files, known - files, batches())

    def append(
        self,
        table: str,
        rows: list[dict[str, Any]],
        *,
        app_id: str | None = None,
        version: int | None = None,
    ) -> None:
        entry = self._tables[table]
        data = pa.Table.from_pylist(rows, schema=TABLES[table])
        properties = None
        if app_id is not None and version is not None:
            properties = CommitProperties(app_transactions=[Transaction(app_id, version)])
        with entry.lock:
            handle = entry.current()
            entry.stale = True  # also when the write raises: it may have landed
            write_deltalake(handle, data, mode="append", commit_properties=properties)

    def snapshot(self, table: str, app_id: str) -> Snapshot:
        entry = self._tables[table]
        with entry.lock:
            handle = entry.current(fresh=True)
            version = int(handle.version())
            landed = handle.transaction_version(app_id)
            dataset = handle.to_pyarrow_dataset(filesystem=entry.filesystem)
        rows = dataset.to_table().cast(TABLES[table], safe=False)
        return Snapshot(version, rows, None if landed is None else int(landed))

    def append_at(
        self,
        table: str,
        rows: list[dict[str, Any]],
        *,
        read_version: int,
        app_id: str,
        version: int,
    ) -> bool:
        entry = self._tables[table]
        data = pa.Table.from_pylist(rows, schema=TABLES[table])
        properties = CommitProperties(
            app_transactions=[Transaction(app_id, version)],
            # No retries: delta-rs would rebase an append on whatever was committed
            # since the read (appends never conflict for Delta), against a decision
            # made on the old rows. A refused commit goes back to the caller to decide.
            max_commit_retries=0,
        )
        with entry.lock:
            # The handle is shared with this process's readers and may have moved on
            # since the snapshot: delta-rs commits on top of the handle's version.
            handle = entry.handle
            if handle is None or handle.version() != read_version:
                return False
            entry.stale = True  # also when the write raises: it may have landed
            try:
                write_deltalake(handle, data, mode="append", commit_properties=properties)
            except CommitFailedError:
                # Another commit took version read_version + 1 (it can also wrap a
                # failed put of the log entry: the caller reads back either way).
                return False
        return True

    def landed(self, table: str, app_id: str) -> int | None:
        entry = self._tables[table]
        with entry.lock:
            version = entry.current(fresh=True).transaction_version(app_id)
        return None if version is None else int(version)

    def version(self, table: str) -> int:
        entry = self._tables[table]
        with entry.lock:
            return int(entry.current().version())

    def row_count(self, table: str) -> int | None:
        entry = self._tables[table]
        with entry.lock:
            actions = pa.table(entry.current().get_add_actions(flatten=True))
        if "num_records" not in actions.column_names:
            return 0 if actions.num_rows == 0 else None
        counts = actions["num_records"]
        if counts.null_count:
            return None
        return int(pc.sum(counts).as_py() or 0)

    def compact(self, table: str) -> None:
        entry = self._tables[table]
        with entry.lock:
            handle = entry.current(fresh=True)
            entry.stale = True
            if table in _RUN_KEYED and entry.location.is_local:
                compact_sorted(handle, entry.uri, table, TABLES[table])
            else:
                handle.optimize.compact(writer_properties=_compressed())
            handle.create_checkpoint()

    def maintain(self, table: str, vacuum_retention_hours: int | None) -> dict[str, Any]:
        entry = self._tables[table]
        with entry.lock:
            handle = entry.current(fresh=True)
            entry.stale = True
            files_before = len(handle.file_uris())
            if table in _RUN_KEYED:
                # Sorted by run_id (a z-order on one column): each file, and each row
                # group within it, then covers a narrow range of run ids.
                handle.optimize.z_order(
                    ["run_id"],
                    max_spill_size=_CLUSTERING_MEMORY,
                    writer_properties=_compressed(clustered_row_group(table)),
                )
            else:
                handle.optimize.compact(writer_properties=_compressed())
            handle.create_checkpoint()
            removed: list[str] = []
            if vacuum_retention_hours is not None:
                removed = handle.vacuum(
                    retention_hours=vacuum_retention_hours,
                    dry_run=False,
                    enforce_retention_duration=False,
                )
            handle.cleanup_metadata()
            handle = entry.current(fresh=True)
            return {
                "files_before": files_before,
                "files_after": len(handle.file_uris()),
                "vacuumed_files": len(removed),
                "version": handle.version(),
            }

    def maintenance_plan(self, table: str, vacuum_retention_hours: int | None) -> dict[str, Any]:
        entry = self._tables[table]
        with entry.lock:
            handle = entry.current(fresh=True)
            sizes = pa.table(handle.get_add_actions(flatten=True))["size_bytes"].to_pylist()
            if table in _RUN_KEYED:
                rewritten = len(sizes)  # the clustering rewrites every file
            else:
                # delta-rs's compaction merges the files below its target size, if several.
                small = sum(1 for size in sizes if size < _COMPACTION_TARGET_BYTES)
                rewritten = small if small > 1 else 0
            unused: list[str] = []
            if vacuum_retention_hours is not None:
                unused = handle.vacuum(
                    retention_hours=vacuum_retention_hours,
                    dry_run=True,
                    enforce_retention_duration=False,
                )
            # With no retention the files compaction replaces go at once too.
            replaced = rewritten if vacuum_retention_hours == 0 else 0
            return {
                "files_before": len(sizes),
                "files_rewritten": rewritten,
                "vacuumed_files": len(unused) + replaced,
                "version": handle.version(),
            }

    def close(self) -> None:
        for entry in self._tables.values():
            with entry.lock:
                entry.handle = None


def _compressed(row_group_size: int | None = None) -> WriterProperties:
    """How compaction writes its files: compressed, in row groups of ``row_group_size``."""
    return WriterProperties(max_row_group_size=row_group_size, compression=_COMPRESSION)


def _in_keys(keys: Collection[str]) -> pc.Expression:
    return pc.field("key").isin(pa.array(sorted(set(keys)), pa.string()))


def _schema_for(table: str, columns: Sequence[str] | None, *, dictionary: bool) -> pa.Schema:
    schema = TABLES[table]
    if columns:
        schema = pa.schema([schema.field(c) for c in columns])
    if not dictionary:
        return schema
    return pa.schema([f.with_type(_ENCODED_STRING) if f.type == pa.string() else f for f in schema])
