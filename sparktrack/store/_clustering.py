"""Compaction that keeps a run-keyed table's small files sorted by run_id.

Writers compact a table every few commits. delta-rs's ``optimize.compact`` merges small
files in the order it finds them: the merged file holds many runs' rows in logging
order, its run_id statistics span nearly every id, and a read of one run must read it
whole. Here a run-keyed table's small files are merged into one file sorted by run_id,
in row groups whose statistics let a reader skip the other runs, committed as one
Delta transaction that removes them and adds it (``dataChange`` false: the same rows).
Large files (those ``maintain``'s z-order wrote) are left alone.

Local stores only: the file is written with Arrow's local file system next to the
others; object stores keep delta-rs's compaction.
"""

from __future__ import annotations

import json
import os
import time
import urllib.parse
import uuid

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from deltalake import DeltaTable
from deltalake.transaction import AddAction, RemoveAction

__all__ = ["clustered_row_group", "compact_sorted"]

# Rows per row group in clustered files: a read of one run decodes about one row group
# of each file its run_id range overlaps (Parquet's default is about a million). Small
# ones for the tables of a few rows per run; larger for metrics, whose hundred million
# rows would otherwise need large file footers and many small reads to fold.
_ROW_GROUPS = {"metrics": 128 * 1024}
_SMALL_ROW_GROUP = 16 * 1024


def clustered_row_group(table: str) -> int:
    """Rows per row group when ``table`` is written clustered by run_id."""
    return _ROW_GROUPS.get(table, _SMALL_ROW_GROUP)


# Files smaller than this are merged; larger ones are left as they are.
_SMALL_FILE_BYTES = 16 * 1024 * 1024
_KEY = "run_id"


def compact_sorted(handle: DeltaTable, root: str, table: str, schema: pa.Schema) -> bool:
    """Merge the table's small files into one sorted by run_id; whether it did.

    Call with the table's commit lock held (as for any compaction).

    Args:
        handle: The table, at its latest version.
        root: The table's local folder.
        table: The table's name.
        schema: The table's Arrow schema (it has a ``run_id`` column).
    """
    actions = pa.table(handle.get_add_actions(flatten=True))
    small = actions.filter(pc.less(actions["size_bytes"], _SMALL_FILE_BYTES))
    if small.num_rows < 2:
        return False
    # Oldest first, so that rows of one run keep the order they were committed in.
    small = small.sort_by([("modification_time", "ascending"), ("path", "ascending")])
    paths = small["path"].to_pylist()
    sizes = small["size_bytes"].to_pylist()
    files = [os.path.join(root, urllib.parse.unquote(path)) for path in paths]
    rows = ds.dataset(files, schema=schema, format="parquet").to_table()
    # A stable sort: the rows of one run stay in commit order.
    rows = rows.take(pc.sort_indices(rows, [(_KEY, "ascending")]))
    name = f"part-00000-{uuid.uuid4()}-c000.snappy.parquet"
    target = os.path.join(root, name)
    pq.write_table(rows, target, row_group_size=clustered_row_group(table), compression="snappy")
    now_ms = int(time.time() * 1000)  # a file time Delta records, not a fact we decide by
    added = AddAction(
        path=name,
        size=os.path.getsize(target),
        partition_values={},
        modification_time=now_ms,
        data_change=False,
        stats=_stats(rows),
    )
    removed = [
        RemoveAction(path=path, data_change=False, deletion_timestamp=now_ms, size=size)
        for path, size in zip(paths, sizes, strict=True)
    ]
    handle.create_write_transaction([added, *removed], mode="append", schema=schema)
    return True


def _stats(rows: pa.Table) -> str:
    """Delta file statistics: rows, and nulls, min and max of run_id.

    The values are exact (not truncated), so a reader skipping by them never skips a match.
    """
    column = rows[_KEY]
    stats: dict[str, object] = {"numRecords": rows.num_rows, "nullCount": {_KEY: column.null_count}}
    if column.null_count < len(column):
        extremes = pc.min_max(column)
        stats["minValues"] = {_KEY: extremes["min"].as_py()}
        stats["maxValues"] = {_KEY: extremes["max"].as_py()}
    return json.dumps(stats)
