"""search_runs: filter and order on what the query needs, then widen the runs returned.

The params, metrics and tags tables stay in Arrow, unfolded. Only the keys a filter or
order mentions are folded and spread into ``<kind>.<key>`` columns for the candidate
runs; every key is folded and spread only for the runs that survive ``max_results``.
Folding per (run, key) commutes with keeping whole runs or whole keys, so the result
is the one a fold of the full tables would give.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sparktrack.search import (
    filter_frame,
    parse_filter,
    parse_order_by,
    referenced_columns,
    sort_frame,
)
from sparktrack.tracking._columns import (
    Codes,
    encode,
    flags,
    numbers,
    pick,
    positions,
    take,
)

__all__ = ["KINDS", "EncodedTable", "LongTable", "build_result", "empty_store_result", "spread"]

KINDS = ("metrics", "params", "tags")
_BASE_COLUMNS = [
    "run_id",
    "experiment_id",
    "run_name",
    "status",
    "user_id",
    "artifact_uri",
    "start_time",
    "end_time",
    "lifecycle_stage",
]
_TIME_COLUMNS = ("start_time", "end_time")


@dataclass(frozen=True)
class _Fold:
    """Which row wins per (run, key): the first or last in ``order`` (ties: row order)."""

    order: Callable[[pa.Table], list[npt.NDArray[np.generic]]]
    last: bool


# The rules of ``sparktrack.tracking._state``: params are immutable (first logged
# wins), tags are events (latest wins), a metric's latest value is the one with the
# greatest step, then timestamp, then value.
_FOLDS = {
    "params": _Fold(lambda t: [numbers(t["event_time"])], last=False),
    "tags": _Fold(lambda t: [numbers(t["event_time"])], last=True),
    "metrics": _Fold(
        lambda t: [numbers(t["step"]), numbers(t["timestamp"]), numbers(t["value"])], last=True
    ),
}


@dataclass(frozen=True)
class EncodedTable:
    """A raw params, metrics or tags table with its run ids and keys as integer codes.

    ``run_codes`` indexes ``run_ids`` and ``keys`` indexes ``key_names`` (-1: null).
    Made once per table version, so searches spread columns without hashing strings.
    """

    table: pa.Table
    run_codes: Codes
    run_ids: pa.Array
    keys: Codes
    key_names: list[str]
    # The sort keys of the kind's fold rule, as numpy arrays.
    order: list[npt.NDArray[np.generic]]

    @staticmethod
    def of(table: pa.Table, kind: str) -> EncodedTable:
        if table.num_rows == 0:
            empty = np.empty(0, dtype=np.int64)
            return EncodedTable(table, empty, pa.array([], pa.string()), empty, [], [])
        run_codes, run_ids = encode(table["run_id"])
        keys, names = encode(table["key"])
        order = _FOLDS[kind].order(table)
        return EncodedTable(table, run_codes, run_ids, keys, names.to_pylist(), order)


@dataclass(frozen=True)
class LongTable:
    """An encoded table whose rows know their run's position among the folded runs.

    ``runs`` is -1 for rows of a run that has no start.
    """

    encoded: EncodedTable
    runs: Codes

    @staticmethod
    def of(encoded: EncodedTable, run_ids: pa.Array) -> LongTable:
        # Look up each distinct run id once; code -1 (null) reads the appended -1.
        found = np.append(positions(encoded.run_ids, run_ids), -1)
        return LongTable(encoded, found[encoded.run_codes])


def spread(
    long: LongTable, kind: str, targets: Codes, keys: Collection[str] | None = None
) -> dict[str, pa.Array | pa.ChunkedArray]:
    """Folded ``<kind>.<key>`` columns for some runs, null where a run lacks the key.

    ``targets`` maps each folded run's position to its row in the output (-1: not in
    it). Only ``keys`` (default: every key) and only keys that some output run has get
    a column, in key order, as ``DataFrame.pivot`` of the folded table would.
    """
    encoded = long.encoded
    width = int(targets.max(initial=-1)) + 1
    if encoded.table.num_rows == 0 or width == 0:
        return {}
    # Index -1 (a run without a start) reads the appended -1.
    out_rows = np.append(targets, -1)[long.runs]
    names = encoded.key_names
    wanted = range(len(names)) if keys is None else _codes_of(names, keys)
    key_slot = np.full(len(names) + 1, -1, dtype=np.int64)
    key_slot[list(wanted)] = np.arange(len(wanted))
    slots = key_slot[encoded.keys]
    rows = np.flatnonzero((out_rows >= 0) & (slots >= 0))
    fold = _FOLDS[kind]
    cells = out_rows[rows] * len(wanted) + slots[rows]
    order = [key[rows] for key in encoded.order]
    groups, winners = pick(cells, order, last=fold.last)
    winners = rows[winners]
    if kind == "tags":
        # A tag whose latest event deletes it is absent.
        kept = ~flags(encoded.table["deleted"].take(pa.array(winners)))
        groups, winners = groups[kept], winners[kept]
    cells_table = np.full(width * len(wanted), -1, dtype=np.int64)
    cells_table[groups] = winners
    by_run = cells_table.reshape(width, len(wanted))
    chosen = [names[code] for code in wanted]
    present = [
        k for k in sorted(range(len(chosen)), key=chosen.__getitem__) if (by_run[:, k] >= 0).any()
    ]
    # One take for all the columns, cut into one slice per column.
    values = take(encoded.table["value"], by_run[:, present].T.ravel())
    return {f"{kind}.{chosen[k]}": values.slice(i * width, width) for i, k in enumerate(present)}


def _codes_of(names: list[str], keys: Collection[str]) -> list[int]:
    wanted = set(keys)
    return [code for code, name in enumerate(names) if name in wanted]


def _query_keys(needed: Collection[str]) -> dict[str, set[str]]:
    keys: dict[str, set[str]] = {kind: set() for kind in KINDS}
    for column in needed:
        kind, _, key = column.partition(".")
        if kind in keys and key:
            keys[kind].add(key)
    return keys


def _targets(count: int, rows: Codes) -> Codes:
    """Output row of each of ``count`` folded runs, for output rows ``rows`` (-1: none)."""
    targets = np.full(count, -1, dtype=np.int64)
    targets[rows] = np.arange(len(rows))
    return targets


def _narrow_frame(
    runs: pa.Table, candidates: Codes, tables: Mapping[str, LongTable], needed: Collection[str]
) -> pd.DataFrame:
    """The candidate runs with just the columns the query reads (one row per run, in order)."""
    base = runs.select([name for name in _BASE_COLUMNS if name in needed])
    if len(candidates) < runs.num_rows:
        base = base.take(pa.array(candidates))
    columns: dict[str, pa.Array | pa.ChunkedArray] = dict(
        zip(base.column_names, base.columns, strict=True)
    )
    targets = _targets(runs.num_rows, candidates)
    for kind, keys in _query_keys(needed).items():
        if keys:
            columns.update(spread(tables[kind], kind, targets, keys))
    frame = pa.table(columns).to_pandas()
    if "end_time" in frame.columns:
        frame["end_time"] = frame["end_time"].astype("Int64")
    return frame


def _selected_rows(
    frame: pd.DataFrame, filter_string: str | None, order_by: list[str] | None, max_results: int
) -> Codes:
    expression = parse_filter(filter_string)
    order = parse_order_by(order_by)
    selected = sort_frame(filter_frame(frame, expression), order).head(max_results)
    # The frame has a fresh 0..n-1 index, so labels are row positions.
    return np.asarray(selected.index, dtype=np.int64)


def build_result(
    runs: pa.Table,
    candidates: Codes,
    tables: Mapping[str, LongTable],
    *,
    filter_string: str | None,
    order_by: list[str] | None,
    max_results: int,
) -> pd.DataFrame:
    """The ``candidates`` (positions in the folded ``runs``) that match, best first.

    One row per run returned, with every metric, param and tag column any of them has.
    """
    needed = referenced_columns(parse_filter(filter_string), parse_order_by(order_by))
    narrow = _narrow_frame(runs, candidates, tables, needed)
    returned = candidates[_selected_rows(narrow, filter_string, order_by, max_results)]
    chosen = runs.take(pa.array(returned))
    columns: dict[str, pa.Array | pa.ChunkedArray] = {name: chosen[name] for name in _BASE_COLUMNS}
    for name in _TIME_COLUMNS:
        columns[name] = _utc_times(chosen[name])
    targets = _targets(runs.num_rows, returned)
    for kind in KINDS:
        columns.update(spread(tables[kind], kind, targets))
    return pa.table(columns).to_pandas()


def _utc_times(milliseconds: pa.ChunkedArray) -> pa.ChunkedArray:
    """Milliseconds since the epoch as the UTC datetimes (microseconds) pandas shows."""
    return pc.multiply(milliseconds, 1000).cast(pa.timestamp("us", tz="UTC"))


def empty_store_result(filter_string: str | None, order_by: list[str] | None) -> pd.DataFrame:
    """The result of any search of a store without runs (the query is still checked)."""
    parse_filter(filter_string)
    parse_order_by(order_by)
    result = pd.DataFrame(columns=_BASE_COLUMNS)
    for column in _TIME_COLUMNS:
        result[column] = pd.to_datetime(result[column].astype("Int64"), unit="ms", utc=True)
    return result
