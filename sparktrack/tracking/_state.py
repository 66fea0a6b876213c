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


def _last_per_run(events: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    return (
        events.sort_values("event_time", kind="stable")
        .drop_duplicates("run_id", keep="last")[["run_id", *columns]]
        .set_index("run_id")
    )


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


def fold_run_events(events: pa.Table, heartbeats: pa.Table | None) -> pd.DataFrame:
    """One row per run from its events, before the heartbeat rule (``stale`` all False)."""
    frame = _frame(events)
    if frame.empty:
        return pd.DataFrame(columns=RUN_COLUMNS)
    starts = (
        frame[frame["event"] == "start"]
        .sort_values("event_time", kind="stable")
        .drop_duplicates("run_id", keep="first")
        .set_index("run_id")
    )
    runs = starts[
        ["experiment_id", "run_name", "user_id", "start_time", "artifact_uri", "parent_run_id"]
    ].copy()
    with_status = frame[frame["status"].notna()]
    status = _last_per_run(with_status, ["status", "end_time", "event_time"])
    runs["status"] = status["status"].reindex(runs.index)
    runs["end_time"] = status["end_time"].reindex(runs.index).astype("Int64")
    renames = frame[frame["event"] == "rename"]
    if not renames.empty:
        names = _last_per_run(renames, ["run_name"])["run_name"]
        runs.loc[names.index.intersection(runs.index), "run_name"] = names
    lifecycle = frame[frame["event"].isin(["delete", "restore"])]
    runs["lifecycle_stage"] = "active"
    if not lifecycle.empty:
        stage = _last_per_run(lifecycle, ["event"])["event"]
        deleted = stage[stage == "delete"].index.intersection(runs.index)
        runs.loc[deleted, "lifecycle_stage"] = "deleted"
    last_event_ms = (frame.groupby("run_id")["event_time"].max() // 1000).reindex(runs.index)
    last_seen = pd.concat([runs["start_time"], last_event_ms], axis=1).max(axis=1)
    if heartbeats is not None and heartbeats.num_rows:
        beats = heartbeats.to_pandas().groupby("run_id")["time"].max().reindex(runs.index)
        last_seen = pd.concat([last_seen, beats], axis=1).max(axis=1)
    runs["last_seen"] = last_seen.astype("int64")
    runs["stale"] = False
    runs = runs.reset_index()
    runs["start_time"] = runs["start_time"].astype("int64")
    return runs[RUN_COLUMNS]


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
