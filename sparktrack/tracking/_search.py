"""search_runs: fold the tables, filter and order on what the query needs, then widen.

Only the params/metrics/tags a filter or order mentions are pivoted before filtering;
the full set of columns is pivoted for the runs that survive ``max_results``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
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

__all__ = ["KINDS", "build_result", "widen"]

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


def _isin(column: pd.Series, values: Iterable[str]) -> np.ndarray:
    """``column.isin(values)`` through Arrow: pandas' own isin on Arrow-backed strings
    loops in Python, which made a search over 10,000 runs take half a second."""
    value_set = (
        pa.array(values, pa.string())
        if isinstance(values, pd.Series)
        else pa.array([str(v) for v in values], pa.string())
    )
    mask = pc.is_in(pa.array(column, pa.string()), value_set=value_set)
    return mask.to_numpy(zero_copy_only=False)


def widen(
    runs: pd.DataFrame,
    long_frames: dict[str, pd.DataFrame],
    keys: Mapping[str, Iterable[str]] | None = None,
) -> pd.DataFrame:
    """Add ``<kind>.<key>`` columns to ``runs`` (all keys, or only ``keys[kind]``)."""
    pieces = [runs.set_index("run_id")]
    for kind in KINDS:
        long = long_frames[kind]
        if keys is not None:
            wanted = set(keys.get(kind, ()))
            if not wanted:
                continue
            long = long[_isin(long["key"], wanted)]
        long = long[_isin(long["run_id"], runs["run_id"])]
        if long.empty:
            continue
        wide = long.pivot(index="run_id", columns="key", values="value")
        wide = wide.reindex(sorted(wide.columns), axis=1)
        wide.columns = [f"{kind}.{key}" for key in wide.columns]
        if kind == "metrics":
            wide = wide.astype("float64")
        pieces.append(wide)
    frame = pd.concat(pieces, axis=1) if len(pieces) > 1 else pieces[0]
    frame.index.name = "run_id"
    return frame.reindex(runs["run_id"]).reset_index()


def build_result(
    runs: pd.DataFrame,
    long_frames: dict[str, pd.DataFrame],
    *,
    filter_string: str | None,
    order_by: list[str] | None,
    max_results: int,
) -> pd.DataFrame:
    expression = parse_filter(filter_string)
    order = parse_order_by(order_by)
    needed = referenced_columns(expression, order)
    keys: dict[str, set[str]] = {kind: set() for kind in KINDS}
    for column in needed:
        kind, _, key = column.partition(".")
        if kind in keys and key:
            keys[kind].add(key)
    narrow = widen(runs[_BASE_COLUMNS], long_frames, keys)
    selected = sort_frame(filter_frame(narrow, expression), order).head(max_results)
    result = widen(
        runs[_BASE_COLUMNS].set_index("run_id").loc[selected["run_id"]].reset_index(), long_frames
    )
    for column in ("start_time", "end_time"):
        result[column] = pd.to_datetime(result[column].astype("Int64"), unit="ms", utc=True)
    return result.reset_index(drop=True)
