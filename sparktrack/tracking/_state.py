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

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sparktrack.tracking._columns import (
    Codes,
    Ranking,
    encode,
    flags,
    numbers,
    pick,
    positions,
    take,
)

__all__ = [
    "RUN_COLUMNS",
    "RUN_SCHEMA",
    "fold_experiments",
    "fold_params",
    "fold_run_events",
    "fold_runs",
    "fold_tags",
    "latest_metrics",
    "mark_stale",
    "run_states",
    "runs_frame",
    "stale_marked",
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


_START_FIELDS = [
    "experiment_id",
    "run_name",
    "user_id",
    "start_time",
    "artifact_uri",
    "parent_run_id",
]

RUN_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("experiment_id", pa.string()),
        ("run_name", pa.string()),
        ("user_id", pa.string()),
        ("status", pa.string()),
        ("start_time", pa.int64()),
        ("end_time", pa.int64()),
        ("artifact_uri", pa.string()),
        ("lifecycle_stage", pa.string()),
        ("parent_run_id", pa.string()),
        ("last_seen", pa.int64()),
        ("stale", pa.bool_()),
    ]
)

# Stands for "no value" while taking maxima over int64 columns with nulls.
_NO_TIME = np.iinfo(np.int64).min


def run_states(events: pa.Table, heartbeats: pa.Table | None) -> pa.Table:
    """One row per started run (columns ``RUN_COLUMNS``), before the heartbeat rule.

    Each rule of the module docstring picks one event per run: the first ``start``,
    the latest event with a status, the latest ``rename``, the latest
    ``delete``/``restore``, all in ``event_time`` order (ties in row order).
    """
    if events.num_rows == 0:
        return RUN_SCHEMA.empty_table()
    runs, run_ids = encode(events["run_id"])
    event_time = numbers(events["event_time"])
    by_time = Ranking.of([event_time])
    event = events["event"]

    def chosen(mask: npt.NDArray[np.bool_], *, last: bool = True) -> Codes:
        """Per run code, the row picked among the rows in ``mask`` (-1: none)."""
        groups, rows = pick(np.where(mask, runs, -1), by_time, last=last)
        per_run = np.full(len(run_ids), -1, dtype=np.int64)
        per_run[groups] = rows
        return per_run

    def named(*names: str) -> npt.NDArray[np.bool_]:
        return positions(event, pa.array(names, pa.string())) >= 0

    start = chosen(named("start"), last=False)
    started = np.flatnonzero(start >= 0)
    status = chosen(flags(pc.is_valid(events["status"])))[started]
    renamed = chosen(named("rename"))[started]
    stage = chosen(named("delete", "restore"))[started]
    latest = chosen(~np.isnan(event_time.astype(np.float64)))[started]
    start_fields = {name: take(events[name], start[started]) for name in _START_FIELDS}
    beats = _last_beats(heartbeats, run_ids)[started] if heartbeats is not None else None
    last_seen = _last_seen(start_fields["start_time"], take(events["event_time"], latest), beats)
    deleted = pc.fill_null(pc.equal(take(event, stage), "delete"), False)
    return pa.table(
        {
            "run_id": run_ids.take(pa.array(started)),
            "experiment_id": start_fields["experiment_id"],
            "run_name": pc.coalesce(take(events["run_name"], renamed), start_fields["run_name"]),
            "user_id": start_fields["user_id"],
            "status": take(events["status"], status),
            "start_time": start_fields["start_time"],
            "end_time": take(events["end_time"], status),
            "artifact_uri": start_fields["artifact_uri"],
            "lifecycle_stage": pc.if_else(deleted, "deleted", "active"),
            "parent_run_id": start_fields["parent_run_id"],
            "last_seen": last_seen,
            "stale": pa.array(np.zeros(len(started), dtype=np.bool_)),
        },
        schema=RUN_SCHEMA,
    )


def _last_beats(heartbeats: pa.Table, run_ids: pa.Array) -> npt.NDArray[np.int64]:
    """Per run code, the latest heartbeat time (``_NO_TIME``: none)."""
    latest = np.full(len(run_ids), _NO_TIME, dtype=np.int64)
    if heartbeats.num_rows == 0:
        return latest
    times = numbers(heartbeats["time"])
    present = ~np.isnan(times.astype(np.float64))
    runs = np.where(present, positions(heartbeats["run_id"], run_ids), -1)
    groups, rows = pick(runs, Ranking.of([times]), last=True)
    latest[groups] = times[rows].astype(np.int64)
    return latest


def _last_seen(
    start_time: pa.Array, event_time: pa.Array, beats: npt.NDArray[np.int64] | None
) -> pa.Array:
    """The latest of start time, last event (microseconds, so divided) and heartbeat."""
    candidates = [
        _filled(start_time),
        np.where(
            pc.is_valid(event_time).to_numpy(zero_copy_only=False),
            _filled(event_time) // 1000,
            _NO_TIME,
        ),
    ]
    if beats is not None:
        candidates.append(beats)
    latest = np.maximum.reduce(candidates)
    return pa.array(latest, type=pa.int64(), mask=latest == _NO_TIME)


def _filled(column: pa.Array) -> npt.NDArray[np.int64]:
    return np.asarray(pc.fill_null(column, _NO_TIME).to_numpy(zero_copy_only=False), np.int64)


def runs_frame(states: pa.Table) -> pd.DataFrame:
    """Folded runs as pandas, with ``end_time`` as nullable integers."""
    if states.num_rows == 0:
        return pd.DataFrame(columns=RUN_COLUMNS)
    frame = states.to_pandas()
    frame["end_time"] = frame["end_time"].astype("Int64")
    return frame[RUN_COLUMNS]


def stale_marked(states: pa.Table, now_ms: int, heartbeat_timeout_ms: int) -> pa.Table:
    """``mark_stale`` for folded runs kept in Arrow."""
    stale = pc.fill_null(
        pc.and_(
            pc.equal(states["status"], "RUNNING"),
            pc.less(states["last_seen"], now_ms - heartbeat_timeout_ms),
        ),
        False,
    )
    columns = {
        "status": pc.if_else(stale, "KILLED", states["status"]),
        "end_time": pc.if_else(stale, states["last_seen"], states["end_time"]),
        "stale": stale,
    }
    for name, column in columns.items():
        states = states.set_column(states.schema.get_field_index(name), name, column)
    return states


def fold_run_events(events: pa.Table, heartbeats: pa.Table | None) -> pd.DataFrame:
    """One row per run from its events, before the heartbeat rule (``stale`` all False)."""
    if events.num_rows == 0:
        return pd.DataFrame(columns=RUN_COLUMNS)
    return runs_frame(run_states(events, heartbeats))


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
