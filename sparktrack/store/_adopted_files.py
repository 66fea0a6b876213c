"""Commit Parquet files another engine wrote into a table, with delta-rs's safe commit.

delta-spark commits to S3 through its ``S3SingleDriverLogStore``: it checks that the
next log file is absent, then writes it with a plain put, so a commit of another
process landing in between is replaced and its rows are lost. On an S3 store Spark
therefore only writes the data files (into a fresh folder inside the table, where no
reader looks until a commit names them) and delta-rs commits them, as every other
writer of the store does: one append transaction under the store's
``object_store_commits`` (a conditional put, retried at the next version when another
writer won the race). The rows appear all at once or not at all; the files of a failed
commit are unreferenced, and VACUUM removes them.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import pyarrow.fs as pafs
import pyarrow.parquet as pq
from deltalake import DeltaTable
from deltalake.transaction import AddAction, RemoveAction

from sparktrack.errors import StoreError
from sparktrack.store._artifacts import filesystem_for
from sparktrack.store._commits import check_conditional_writes, with_commit_options
from sparktrack.store._schema import TABLES

if TYPE_CHECKING:
    from sparktrack.config import Settings
    from sparktrack.store._uri import StoreLocation

__all__ = ["commit_written_files"]

# Columns whose min/max go into the files' statistics: what readers skip files by.
_STATS_COLUMNS = ("run_id",)


def commit_written_files(
    location: StoreLocation, settings: Settings, table: str, folder: str
) -> int:
    """Append the Parquet files under ``<table>/<folder>/`` to ``table`` in one commit.

    Args:
        location: The store (``parse_store_uri``).
        settings: Its settings (``object_store_commits`` decides how commits are safe).
        table: The table, one of ``TABLE_NAMES``; the files have its columns.
        folder: The folder inside the table's folder the files were written to.

    Returns:
        The number of rows committed (0: nothing was committed).

    Raises:
        ConfigurationError: An S3 store with ``object_store_commits`` unset, or a server
            that ignores conditional writes.
        StoreError: The files could not be listed or the commit failed.
    """
    location = with_commit_options(location, settings)
    check_conditional_writes(location)
    fs, root = filesystem_for(location)
    table_root = f"{root.rstrip('/')}/{table}"
    try:
        listed = fs.get_file_info(pafs.FileSelector(f"{table_root}/{folder}", recursive=True))
        files = sorted((info for info in listed if _is_data_file(info)), key=lambda info: info.path)
        now_ms = int(time.time() * 1000)  # a file time Delta records, not a fact we decide by
        actions: list[AddAction | RemoveAction] = []
        rows = 0
        for info in files:
            metadata = pq.read_metadata(info.path, filesystem=fs)
            if metadata.num_rows == 0:
                continue  # Spark writes an empty file for an empty partition
            rows += metadata.num_rows
            actions.append(
                AddAction(
                    path=info.path[len(table_root) + 1 :],
                    size=info.size,
                    partition_values={},
                    modification_time=now_ms,
                    data_change=True,
                    stats=_stats(metadata),
                )
            )
        if not actions:
            return 0
        handle = DeltaTable(
            location.for_delta_rs(table), storage_options=dict(location.storage_options)
        )
        handle.create_write_transaction(actions, mode="append", schema=TABLES[table])
    except OSError as exc:
        raise StoreError(
            f"could not commit the files Spark wrote under {location.join(table, folder)!r} "
            f"to the {table!r} table: {exc}. Nothing was appended; run again."
        ) from exc
    return rows


def _is_data_file(info: pafs.FileInfo) -> bool:
    name = info.base_name
    # Spark's markers (_SUCCESS) and checksum files are no data.
    return info.is_file and name.endswith(".parquet") and not name.startswith(("_", "."))


def _stats(metadata: pq.FileMetaData) -> str:
    """Delta file statistics from the file's footer.

    Rows, and the nulls, min and max of the columns readers skip by when every row
    group has them.
    """
    stats: dict[str, Any] = {"numRecords": metadata.num_rows}
    schema = metadata.schema.to_arrow_schema()
    for column in _STATS_COLUMNS:
        if column not in schema.names:
            continue
        index = schema.get_field_index(column)
        groups = [
            metadata.row_group(i).column(index).statistics for i in range(metadata.num_row_groups)
        ]
        if not groups or any(s is None or not s.has_null_count for s in groups):
            continue
        stats.setdefault("nullCount", {})[column] = sum(s.null_count for s in groups)
        bounded = [s for s in groups if s.has_min_max]
        # Exact values only: a reader skipping by them must never skip a match.
        if len(bounded) == len(groups) and all(_exact(s) for s in bounded):
            stats.setdefault("minValues", {})[column] = min(s.min for s in bounded)
            stats.setdefault("maxValues", {})[column] = max(s.max for s in bounded)
    return json.dumps(stats)


def _exact(statistics: Any) -> bool:
    # Parquet marks min/max that a writer truncated as inexact (pyarrow >= 17).
    return bool(getattr(statistics, "is_min_value_exact", True)) and bool(
        getattr(statistics, "is_max_value_exact", True)
    )
