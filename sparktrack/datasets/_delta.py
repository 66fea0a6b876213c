"""Delta sources: which table version a DataFrame reads, and its row count from the log.

The version and table id come off the snapshot the plan holds (a field read, no I/O);
the row count is summed from the Delta log's file statistics through delta-rs, which
needs no JVM, and only when asked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable

from sparktrack.datasets._py4j import JavaObject, option, qualified_name
from sparktrack.datasets._source import Memo, SourceInfo, last_component

__all__ = [
    "delta_counter",
    "delta_index_source",
    "delta_log_rows",
    "delta_source",
    "is_delta_index",
    "table_id_of",
]

_DELTA_INDEX = re.compile(r"Delta\[version=(?P<version>-?\d+), (?P<path>.*)\]", re.DOTALL)
_DELTA_COUNTS = Memo(256)


def is_delta_index(index: JavaObject) -> bool:
    """Whether a relation's file index is one of Delta's (the ``Tahoe*`` classes)."""
    name = str(index.getClass().getName())
    return name.startswith("org.apache.spark.sql.delta.") or "Tahoe" in name


def delta_index_source(index: JavaObject, catalog: JavaObject | None) -> SourceInfo:
    """The Delta table behind a v1 relation's file index, at the version it reads."""
    table = qualified_name(catalog) if catalog is not None else None
    try:
        snapshot = _snapshot_read(index)
        partition_filtered = not index.partitionFilters().isEmpty()
    except Exception:
        # Other Tahoe indexes (CDC, streaming batches) only say "Delta[version=N, path]".
        match = _DELTA_INDEX.fullmatch(str(index.toString()))
        if match is None:
            raise
        path, version = match["path"], int(match["version"])
        return delta_source(path, version, None, table, catalog, count=None)
    path = str(index.path().toString())
    count = None if partition_filtered else delta_counter(path, snapshot, index.deltaLog())
    return delta_source(path, int(snapshot.version()), table_id_of(snapshot), table, catalog, count)


def _snapshot_read(index: JavaObject) -> JavaObject:
    """The snapshot a TahoeLogFileIndex's DataFrame reads when it runs next."""
    snapshot = index.snapshotAtAnalysis()
    if index.isTimeTravelQuery():
        return snapshot
    # A latest-version read is resolved again every time the DataFrame runs, so report the
    # newest snapshot this JVM has seen (a field read, no I/O): after an append by this
    # process that is what the fit will read, not the version at analysis.
    latest = index.deltaLog().unsafeVolatileSnapshot()
    if latest.version() > snapshot.version() and table_id_of(latest) == table_id_of(snapshot):
        return latest
    return snapshot


def delta_source(
    path: str,
    version: int,
    table_id: str | None,
    table: str | None,
    catalog: JavaObject | None,
    count: Callable[[], int | None] | None,
) -> SourceInfo:
    """A Delta source: its path, version and catalog name, identified by version and id."""
    source = {"path": path, "version": version, "table": table}
    # The table id tells a re-created table at the same path apart from the old one.
    identity = f"delta|{path}|{version}|{table_id or ''}"
    name = str(catalog.identifier().table()) if catalog is not None else last_component(path)
    return SourceInfo("delta", source, identity, name, count)


def table_id_of(snapshot: JavaObject) -> str | None:
    """The id in a snapshot's metadata; None when it cannot be read."""
    try:
        return str(snapshot.metadata().id())
    except Exception:
        return None


def delta_counter(
    path: str, snapshot: JavaObject, delta_log: JavaObject
) -> Callable[[], int | None]:
    """A function counting the rows of ``snapshot``'s version, cached per version."""
    version, table_id = int(snapshot.version()), table_id_of(snapshot)

    def count() -> int | None:
        def deleted() -> int | None:
            return _deleted_rows(path, version, delta_log)

        key = (path, version, table_id)
        return _DELTA_COUNTS.get(key, lambda: delta_log_rows(path, version, deleted))

    return count


def delta_log_rows(path: str, version: int, deleted_rows: Callable[[], int | None]) -> int | None:
    """Sum of ``numRecords`` over the version's files, from the Delta log via delta-rs."""
    table = DeltaTable(_delta_rs_location(path), version=version)
    records = pa.table(table.get_add_actions(flatten=True)).column("num_records")
    if records.null_count:
        return None  # some file was written without stats: the sum would undercount
    total = int(pc.sum(records).as_py() or 0)
    if "deletionVectors" in (table.protocol().reader_features or []):
        # delta-rs's add actions do not show rows hidden by deletion vectors.
        deleted = deleted_rows()
        if deleted is None:
            return None
        total -= deleted
    return total


def _deleted_rows(path: str, version: int, delta_log: JavaObject) -> int | None:
    """Rows deletion vectors hide in ``version``, from its checksum file (no job)."""
    try:
        # The snapshot a DataFrame holds is a bare descriptor; the log's latest full
        # snapshot has the checksum, when it is the same version.
        latest = delta_log.unsafeVolatileSnapshot()
        if int(latest.version()) == version:
            checksum = option(latest.checksumOpt())
            deleted = option(checksum.numDeletedRecordsOpt()) if checksum is not None else None
            if deleted is not None:
                return int(deleted)
    except Exception:
        pass
    local = _delta_rs_location(path)
    if "://" in local:
        return None
    try:
        with open(f"{local}/_delta_log/{version:020d}.crc", encoding="utf-8") as crc:
            deleted = json.load(crc).get("numDeletedRecordsOpt")
    except (OSError, ValueError):
        return None
    return int(deleted) if isinstance(deleted, int) else None


def _delta_rs_location(path: str) -> str:
    # Hadoop writes local paths as file:/x (or file:///x); delta-rs wants the plain path.
    return re.sub(r"^file:(//)?(?=/)", "", path)
