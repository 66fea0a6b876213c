"""Skipping the Parquet row groups that cannot hold some runs, by their run_id statistics.

A read of a few runs from a table clustered by run_id (``sparktrack gc`` leaves every
run-keyed table so) needs a handful of row groups out of hundreds. Delta's file
statistics skip whole files, but every file of a large table spans many runs; Arrow's
dataset scan does not use row-group statistics for an ``is_in`` filter, and decodes
every row group's run ids to test them (a million runs' params: about a second for a
hundred runs, against a tenth of that reading only the row groups whose min/max range
holds one of them). Row groups without statistics are always read.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import TypeAlias

import pyarrow.dataset as ds

__all__ = ["RunRanges", "row_groups_of_runs"]

# Per data file, its row groups' (id, min run_id, max run_id); None: no statistics.
RunRanges: TypeAlias = dict[str, list[tuple[int, str | None, str | None]]]


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
        kept = [group for group, low, high in ranges if _may_hold(low, high, run_ids)]
        if kept:
            fragments.append(fragment.subset(row_group_ids=kept))
    for gone in set(known) - files:  # compacted away
        del known[gone]
    return ds.FileSystemDataset(fragments, dataset.schema, dataset.format, dataset.filesystem)


def _ranges(fragment: ds.ParquetFileFragment) -> list[tuple[int, str | None, str | None]]:
    fragment.ensure_complete_metadata()  # reads the file's footer
    ranges = []
    for group in fragment.row_groups:
        statistics = (group.statistics or {}).get("run_id") or {}
        ranges.append((group.id, statistics.get("min"), statistics.get("max")))
    return ranges


def _may_hold(low: str | None, high: str | None, run_ids: Sequence[str]) -> bool:
    if low is None or high is None:
        return True
    # The first wanted id at or after the group's min: in the group if not past its max.
    first = bisect.bisect_left(run_ids, low)
    return first < len(run_ids) and run_ids[first] <= high
