"""A straightforward search over folded pandas frames, as an oracle for the columnar one.

It folds every table completely (Arrow group-bys for runs, pandas sort and
``drop_duplicates`` for params, metrics and tags), pivots all keys and then filters,
orders and cuts. Slow, but each step is a textbook operation.

Filtering reuses the grammar's evaluator (``filter_frame``, checked against
hand-written expectations in test_search_grammar) on a frame where a logged NaN
metric is a value and a missing one is null. Ordering is written out here in
plain Python, from MLflow's rule: values, then NaN, then missing, in both
directions, with ties by start_time DESC then run_id; a param sorts as numbers when
every value of it in the searched experiments is a number.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sparktrack.search import (
    OrderKey,
    filter_frame,
    parse_filter,
    parse_order_by,
    referenced_columns,
)
from sparktrack.tracking._state import RUN_COLUMNS

KINDS = ("metrics", "params", "tags")
BASE_COLUMNS = [
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


def _per_run(table: pa.Table, columns: list[str], how: str) -> pa.Table:
    options = pc.ScalarAggregateOptions(skip_nulls=False)
    grouped = table.group_by("run_id", use_threads=False).aggregate(
        [(column, how, options) for column in columns]
    )
    return grouped.rename_columns(["run_id", *columns])


def fold_run_events(events: pa.Table, heartbeats: pa.Table | None) -> pd.DataFrame:
    if events.num_rows == 0:
        return pd.DataFrame(columns=RUN_COLUMNS)
    ordered = events.sort_by("event_time")
    event = ordered["event"]
    runs = _per_run(
        ordered.filter(pc.equal(event, "start")),
        ["experiment_id", "run_name", "user_id", "start_time", "artifact_uri", "parent_run_id"],
        "first",
    )
    status = _per_run(
        ordered.filter(pc.is_valid(ordered["status"])), ["status", "end_time"], "last"
    )
    renames = _per_run(ordered.filter(pc.equal(event, "rename")), ["run_name"], "last")
    stages = _per_run(
        ordered.filter(pc.is_in(event, pa.array(["delete", "restore"]))), ["event"], "last"
    )
    last_event = ordered.group_by("run_id").aggregate([("event_time", "max")])
    joined = (
        runs.join(status, "run_id", join_type="left outer")
        .join(renames.rename_columns(["run_id", "new_name"]), "run_id", join_type="left outer")
        .join(stages.rename_columns(["run_id", "stage_event"]), "run_id", join_type="left outer")
        .join(last_event, "run_id", join_type="left outer")
    )
    if heartbeats is not None and heartbeats.num_rows:
        beats = heartbeats.group_by("run_id").aggregate([("time", "max")])
        joined = joined.join(beats, "run_id", join_type="left outer")
    # Computed after the last join: a join may reorder rows.
    last_seen = pc.max_element_wise(
        joined["start_time"], pc.divide(joined["event_time_max"], 1000), skip_nulls=True
    )
    if "time_max" in joined.column_names:
        last_seen = pc.max_element_wise(last_seen, joined["time_max"], skip_nulls=True)
    deleted = pc.fill_null(pc.equal(joined["stage_event"], "delete"), False)
    result = pa.table(
        {
            "run_id": joined["run_id"],
            "experiment_id": joined["experiment_id"],
            "run_name": pc.coalesce(joined["new_name"], joined["run_name"]),
            "user_id": joined["user_id"],
            "status": joined["status"],
            "start_time": joined["start_time"],
            "end_time": joined["end_time"],
            "artifact_uri": joined["artifact_uri"],
            "lifecycle_stage": pc.if_else(deleted, "deleted", "active"),
            "parent_run_id": joined["parent_run_id"],
            "last_seen": pc.cast(last_seen, pa.int64()),
        }
    )
    frame = result.to_pandas()
    frame["end_time"] = frame["end_time"].astype("Int64")
    frame["stale"] = False
    return frame[RUN_COLUMNS]


def mark_stale(runs: pd.DataFrame, now_ms: int, heartbeat_timeout_ms: int) -> pd.DataFrame:
    if runs.empty:
        return runs
    runs = runs.copy()
    stale = (runs["status"] == "RUNNING") & (runs["last_seen"] < now_ms - heartbeat_timeout_ms)
    runs["stale"] = stale
    runs.loc[stale, "status"] = "KILLED"
    runs.loc[stale, "end_time"] = runs.loc[stale, "last_seen"]
    return runs


def fold_params(table: pa.Table) -> pd.DataFrame:
    frame = table.to_pandas()
    if frame.empty:
        return frame[["run_id", "key", "value"]]
    frame = frame.sort_values("event_time", kind="stable")
    return frame.drop_duplicates(["run_id", "key"], keep="first")[["run_id", "key", "value"]]


def fold_tags(table: pa.Table) -> pd.DataFrame:
    frame = table.to_pandas()
    if frame.empty:
        return frame[["run_id", "key", "value"]]
    frame = frame.sort_values("event_time", kind="stable").drop_duplicates(
        ["run_id", "key"], keep="last"
    )
    return frame[~frame["deleted"].fillna(False).astype(bool)][["run_id", "key", "value"]]


def latest_metrics(table: pa.Table) -> pd.DataFrame:
    frame = table.to_pandas()
    if frame.empty:
        return frame[["run_id", "key", "value"]]
    frame = frame.sort_values(["step", "timestamp", "value"], kind="stable")
    return frame.drop_duplicates(["run_id", "key"], keep="last")[["run_id", "key", "value"]]


def widen(
    runs: pd.DataFrame, long_frames: dict[str, pd.DataFrame], keys: dict[str, set[str]] | None
) -> pd.DataFrame:
    pieces = [runs.set_index("run_id")]
    for kind in KINDS:
        long = long_frames[kind]
        if keys is not None:
            if not keys[kind]:
                continue
            long = long[long["key"].isin(list(keys[kind]))]
        long = long[long["run_id"].isin(list(runs["run_id"]))]
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


def with_logged_nan(frame: pd.DataFrame, metrics: pd.DataFrame, keys: set[str]) -> pd.DataFrame:
    """``frame``'s metric columns Arrow-backed: null where a run never logged the key."""
    frame = frame.copy()
    for key in keys:
        column = f"metrics.{key}"
        if column not in frame.columns:
            continue
        logged = set(metrics.loc[metrics["key"] == key, "run_id"])
        present = frame["run_id"].isin(logged).to_numpy()
        values = frame[column].to_numpy(dtype=float)
        array = pa.array(values, type=pa.float64(), mask=~present)
        frame[column] = pd.Series(pd.arrays.ArrowExtensionArray(array), index=frame.index)
    return frame


def with_inputs(frame: pd.DataFrame, inputs: pd.DataFrame, fields: set[str]) -> pd.DataFrame:
    """``datasets.<field>`` columns: per run, the field's distinct values over its inputs."""
    frame = frame.copy()
    source = {"name": "dataset_name", "digest": "digest", "context": "context"}
    for field in fields:
        values: dict[str, list[str]] = {}
        for run_id, value in zip(inputs["run_id"], inputs[source[field]], strict=True):
            if isinstance(value, str) and value not in values.setdefault(run_id, []):
                values[run_id].append(value)
        frame[f"datasets.{field}"] = [values.get(run_id) or None for run_id in frame["run_id"]]
    return frame


_MISSING = object()


def _value(frame_row: dict[str, Any], column: str) -> Any:
    value = frame_row.get(column, _MISSING)
    if value is None or value is pd.NA or value is _MISSING:
        return _MISSING
    return value


def order(frame: pd.DataFrame, keys: list[OrderKey], numeric_params: set[str]) -> list[str]:
    """The run ids of ``frame`` in search order, by repeated stable sorts (last key first)."""
    rows = {row["run_id"]: row for row in frame.to_dict("records")}
    ids = sorted(rows, key=lambda run_id: (-int(rows[run_id]["start_time"]), run_id))
    for key in reversed(keys):
        column = key.ident.column
        numeric = key.ident.is_numeric or column in numeric_params

        def value(run_id: str, column: str = column, numeric: bool = numeric) -> Any:
            found = _value(rows[run_id], column)
            return float(found) if numeric and found is not _MISSING else found

        values = {run_id: value(run_id) for run_id in ids}
        nan = [r for r in ids if isinstance(values[r], float) and math.isnan(values[r])]
        missing = [r for r in ids if values[r] is _MISSING]
        absent = set(nan) | set(missing)
        present = [r for r in ids if r not in absent]
        # reverse=True keeps equal runs in their previous order, as sort stability needs.
        present.sort(key=values.__getitem__, reverse=not key.ascending)
        ids = present + nan + missing
    return ids


def _is_number(text: str) -> bool:
    try:
        return not math.isnan(float(text))
    except ValueError:
        return False


class Oracle:
    """``TrackingClient.search_runs`` over raw ``tables`` (keyed by table name)."""

    def __init__(self, tables: dict[str, pa.Table], now_ms: int, heartbeat_timeout_ms: int):
        runs = fold_run_events(tables["runs"], tables["heartbeats"])
        self.runs = mark_stale(runs, now_ms, heartbeat_timeout_ms)
        self.long_frames = {
            "params": fold_params(tables["params"]),
            "metrics": latest_metrics(tables["metrics"]),
            "tags": fold_tags(tables["tags"]),
        }
        self.inputs = tables["inputs"].to_pandas()

    def search(
        self,
        experiment_ids: Iterable[str] | None,
        view: str,
        filter_string: str | None,
        order_by: list[str] | None,
        max_results: int,
    ) -> pd.DataFrame:
        runs = self.runs
        if experiment_ids is not None:
            runs = runs[runs["experiment_id"].isin([str(e) for e in experiment_ids])]
        scope = set(runs["run_id"])
        if view == "ACTIVE_ONLY":
            runs = runs[runs["lifecycle_stage"] == "active"]
        elif view == "DELETED_ONLY":
            runs = runs[runs["lifecycle_stage"] == "deleted"]
        expression = parse_filter(filter_string)
        keys_order = parse_order_by(order_by)
        keys: dict[str, set[str]] = {kind: set() for kind in KINDS}
        fields: set[str] = set()
        for column in referenced_columns(expression, keys_order):
            kind, _, key = column.partition(".")
            if kind in keys and key:
                keys[kind].add(key)
            elif kind == "datasets":
                fields.add(key)
        narrow = widen(runs[BASE_COLUMNS], self.long_frames, keys)
        narrow = with_logged_nan(narrow, self.long_frames["metrics"], keys["metrics"])
        narrow = with_inputs(narrow, self.inputs, fields)
        params = self.long_frames["params"]
        in_scope = params[params["run_id"].isin(scope)]
        numeric = {
            key.ident.column
            for key in keys_order
            if key.ident.kind == "param"
            and all(_is_number(v) for v in in_scope.loc[in_scope["key"] == key.ident.key, "value"])
        }
        chosen = order(filter_frame(narrow, expression), keys_order, numeric)[:max_results]
        base = runs[BASE_COLUMNS].set_index("run_id").loc[chosen].reset_index()
        result = widen(base, self.long_frames, None)
        for column in ("start_time", "end_time"):
            result[column] = pd.to_datetime(result[column].astype("Int64"), unit="ms", utc=True)
        return result.reset_index(drop=True)
