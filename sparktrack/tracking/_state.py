"""Folding the append-only event tables into current state.

Rules (the README documents them as part of the table layout):
* experiments, tags: per key, the row with the greatest ``event_time`` wins;
  a tag whose winning row has ``deleted`` is absent.
* params: immutable, the first row per (run, key) wins (duplicates are no-ops).
* runs: ``start`` gives the run's fixed fields; among events that carry a status,
  the latest decides ``status`` and ``end_time``; ``rename`` sets the name;
  ``delete``/``restore`` the lifecycle stage.
* a run still RUNNING whose last sign of life (start, heartbeat, or any status
  event) is older than the heartbeat timeout is reported KILLED, ending then, and
  flagged ``stale`` so the caller can store that verdict as an ``end`` event.
* latest metric per (run, key): greatest step, then timestamp, then value (MLflow's).
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "RUN_COLUMNS",
    "fold_experiments",
    "fold_params",
    "fold_run_events",
    "fold_runs",
    "fold_tags",
    "latest_metrics",
    "mark_stale",
]

RUN_COLUMNS = [
    "run_id",
    "experiment_id",
    "run_name",
    "user_id",
    "status",
    "start_time",
    "end_time",
    "artifact_uri",
    "lifecycle_stage",
    "parent_run_id",
    "last_seen",
    "stale",
]


def _frame(table: pa.Table) -> pd.DataFrame:
    return table.to_pandas()


def fold_experiments(table: pa.Table) -> pd.DataFrame:
    frame = _frame(table)
    if frame.empty:
        return frame
    latest = frame.sort_values("event_time", kind="stable").drop_duplicates(
        "experiment_id", keep="last"
    )
    # creation_time belongs to the first event of an experiment.
    first = frame.sort_values("event_time", kind="stable").drop_duplicates(
        "experiment_id", keep="first"
    )
    latest = latest.drop(columns=["creation_time"]).merge(
        first[["experiment_id", "creation_time"]], on="experiment_id"
    )
    return latest.sort_values("creation_time", kind="stable").reset_index(drop=True)


def fold_runs(
    events: pa.Table,
    heartbeats: pa.Table | None,
    *,
    now_ms: int,
    heartbeat_timeout_ms: int,
) -> pd.DataFrame:
    return mark_stale(fold_run_events(events, heartbeats), now_ms, heartbeat_timeout_ms)


def mark_stale(runs: pd.DataFrame, now_ms: int, heartbeat_timeout_ms: int) -> pd.DataFrame:
    """Apply the heartbeat rule to folded runs (cheap: the fold itself can be cached)."""
    if runs.empty:
        return runs
    runs = runs.copy()
    stale = (runs["status"] == "RUNNING") & (runs["last_seen"] < now_ms - heartbeat_timeout_ms)
    runs["stale"] = stale
    runs.loc[stale, "status"] = "KILLED"
    runs.loc[stale, "end_time"] = runs.loc[stale, "last_seen"]
    return runs


def _per_run(table: pa.Table, columns: list[str], how: str, *, keep_nulls: bool = True) -> pa.Table:
    """For each run, the ``how`` ("first"/"last") row's ``columns`` in event-time order."""
    options = pc.ScalarAggregateOptions(skip_nulls=not keep_nulls)
    grouped = table.group_by("run_id", use_threads=False).aggregate(
        [(column, how, options) for column in columns]
    )
    return grouped.rename_columns(["run_id", *columns])


def fold_run_events(events: pa.Table, heartbeats: pa.Table | None) -> pd.DataFrame:
    """One row per run from its events, before the heartbeat rule (``stale`` all False).

    Folded in Arrow: ordered group-bys over the events sorted once by time, joined
    per run, converted to pandas at the end.
    """
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
    last_seen = pc.max_element_wise(
        joined["start_time"], pc.divide(joined["event_time_max"], 1000), skip_nulls=True
    )
    if heartbeats is not None and heartbeats.num_rows:
        beats = heartbeats.group_by("run_id").aggregate([("time", "max")])
        joined = joined.join(beats, "run_id", join_type="left outer")
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


def fold_params(table: pa.Table) -> pd.DataFrame:
    frame = _frame(table)
    if frame.empty:
        return frame[["run_id", "key", "value"]]
    frame = frame.sort_values("event_time", kind="stable")
    return frame.drop_duplicates(["run_id", "key"], keep="first")[["run_id", "key", "value"]]


def fold_tags(table: pa.Table) -> pd.DataFrame:
    frame = _frame(table)
    if frame.empty:
        return frame[["run_id", "key", "value"]]
    frame = frame.sort_values("event_time", kind="stable").drop_duplicates(
        ["run_id", "key"], keep="last"
    )
    return frame[~frame["deleted"].fillna(False).astype(bool)][["run_id", "key", "value"]]


def latest_metrics(table: pa.Table) -> pd.DataFrame:
    frame = _frame(table)
    if frame.empty:
        return frame[["run_id", "key", "value"]]
    frame = frame.sort_values(["step", "timestamp", "value"], kind="stable")
    return frame.drop_duplicates(["run_id", "key"], keep="last")[["run_id", "key", "value"]]
