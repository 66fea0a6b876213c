"""Skipping the Parquet row groups that cannot hold some runs, by their run_id statistics.

A read of a few runs from a table clustered by run_id (``sparktrack gc`` leaves every
run-keyed table so) needs a handful of row groups out of hundreds. Delta's file
statistics skip whole files, but every file of a large table spans many runs; Arrow's
dataset scan does not use row-group statistics for an ``is_in`` filter, and decodes
every row group's run ids to test them (a million runs' params: about a second for a
hundred runs, against a tenth of that reading only the row groups whose min/max range
holds one of them). Row groups without statistics are always read.

A small row group (a writer's commit of a few runs, not compacted yet) spans runs whose
random ids range over most of the id space, so its min/max excludes almost nothing: a
read of one run would open every such file. Their run ids are read once instead (a
column of a few thousand values), and such a group is read only if it holds a run.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import TypeAlias

import pyarrow.dataset as ds

__all__ = ["RunRanges", "row_groups_of_runs"]

# Row groups of up to this many rows are known by their run ids, not their range.
_EXACT_UP_TO_ROWS = 4096

# Per data file, its row groups' (id, min run_id, max run_id, the run ids of a small
# group); None: not known (no statistics: the group is always read).
RunRanges: TypeAlias = dict[str, list[tuple[int, str | None, str | None, frozenset[str] | None]]]


def row_groups_of_runs(
    dataset: ds.FileSystemDataset, run_ids: Sequence[str], known: RunRanges
) -> ds.Dataset:
    """``dataset`` narrowed to the row groups whose run_id range holds one of ``run_ids``.

    Args:
        dataset: A Parquet dataset with a ``run_id`` column.
        run_ids: The runs wanted, sorted.
        known: The ranges of files read before (data files never change once written),
            brought up to the dataset's files: footers are read once per file.
    """
    fragments = []
    files = set()
    for fragment in dataset.get_fragments():
        files.add(fragment.path)
        ranges = known.get(fragment.path)
        if ranges is None:
            ranges = known[fragment.path] = _ranges(fragment)
        kept = [group for group, low, high, ids in ranges if _may_hold(low, high, ids, run_ids)]
        if kept:
            fragments.append(fragment.subset(row_group_ids=kept))
    for gone in set(known) - files:  # compacted away
        del known[gone]
    return ds.FileSystemDataset(fragments, dataset.schema, dataset.format, dataset.filesystem)


def _ranges(
    fragment: ds.ParquetFileFragment,
) -> list[tuple[int, str | None, str | None, frozenset[str] | None]]:
    fragment.ensure_complete_metadata()  # reads the file's footer
    ranges = []
    for group in fragment.row_groups:
        statistics = (group.statistics or {}).get("run_id") or {}
        ids = None
        if group.num_rows <= _EXACT_UP_TO_ROWS:
            column = fragment.subset(row_group_ids=[group.id]).to_table(columns=["run_id"])
            ids = frozenset(column["run_id"].to_pylist())
        ranges.append((group.id, statistics.get("min"), statistics.get("max"), ids))
    return ranges


def _may_hold(
    low: str | None, high: str | None, ids: frozenset[str] | None, run_ids: Sequence[str]
) -> bool:
    if ids is not None:
        return any(run_id in ids for run_id in run_ids)
    if low is None or high is None:
        return True
    # The first wanted id at or after the group's min: in the group if not past its max.
    first = bisect.bisect_left(run_ids, low)
    return first < len(run_ids) and run_ids[first] <= high
