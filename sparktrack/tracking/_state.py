"""Folding the append-only event tables into current state, in Arrow.

The README documents these rules as part of the table layout:

* runs: the fold described in ``_runs_fold`` (``run_states``: the events summarized per
  run by ``_run_summaries``, a batch at a time if need be, then ``states_of``), then its
  heartbeat rule (``stale_marked``), kept apart because the fold can be cached and
  saved and the rule cannot;
* params, tags, metrics: per (run, key) one row wins, as ``KEY_FOLDS`` says: params
  are immutable (the first logged wins), tags are events (the latest wins; a tag whose
  winning row is ``deleted`` is absent), a metric's latest value is the one with the
  greatest step, then timestamp, then value (MLflow's);
* experiments: per experiment the latest event wins; ``creation_time`` is the first's.

Ties keep row order throughout, as a stable sort followed by keeping the first or
last row of each group would.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

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
    one_array,
    pick,
    positions,
)
from sparktrack.tracking._run_summaries import (
    LATEST_TIME,
    chosen_events,
    fold_fields,
    given,
    summarized,
    time_column,
    value_column,
)
from sparktrack.tracking._runs_fold import LAST_SEEN, RUNS_FOLD, STALE, Choice, Taken

__all__ = [
    "KEY_FOLDS",
    "RUN_COLUMNS",
    "RUN_SCHEMA",
    "KeyFold",
    "choose",
    "event_columns",
    "fold_experiments",
    "fold_keys",
    "run_schema",
    "run_states",
    "stale_marked",
    "states_of",
]

RUN_COLUMNS = list(RUNS_FOLD.columns)

_EVENT_TYPES = {
    "run_id": pa.string(),
    "experiment_id": pa.string(),
    "run_name": pa.string(),
    "user_id": pa.string(),
    "status": pa.string(),
    "start_time": pa.int64(),
    "end_time": pa.int64(),
    "artifact_uri": pa.string(),
    "lifecycle_stage": pa.string(),
    "parent_run_id": pa.string(),
    LAST_SEEN: pa.int64(),
    STALE: pa.bool_(),
}
RUN_SCHEMA = pa.schema([(name, _EVENT_TYPES[name]) for name in RUN_COLUMNS])

# Stands for "no value" while taking maxima over int64 columns with nulls.
_NO_TIME = np.iinfo(np.int64).min


def choose(events: pa.Table, choice: Choice) -> tuple[pa.Array, Codes]:
    """The run ids of ``events`` and, per run, the row of the event ``choice`` picks (-1)."""
    return chosen_events(events, choice)


def run_schema(fields: Collection[str] | None = None) -> pa.Schema:
    """``RUN_SCHEMA`` with only ``fields`` of the state (default: all).

    ``run_id`` and the heartbeat rule's columns are always kept.
    """
    if fields is None:
        return RUN_SCHEMA
    kept = {"run_id", *fields, LAST_SEEN, STALE}
    return pa.schema([field for field in RUN_SCHEMA if field.name in kept])


def event_columns(fields: Collection[str] | None = None) -> list[str]:
    """The ``runs`` table's columns ``run_states`` reads to fold ``fields`` (default: all).

    Always the run, the event and its time, the status (which events carry one) and
    the start time (a sign of life for the heartbeat rule).
    """
    wanted = ["run_id", "event", "event_time", "status"]
    for taken in given(fields).values():
        wanted += [column for column in taken if column not in wanted]
    return wanted


def run_states(
    events: pa.Table, heartbeats: pa.Table | None, fields: Collection[str] | None = None
) -> pa.Table:
    """One row per existing run (``RUN_SCHEMA``), before the heartbeat rule (not stale).

    Args:
        events: Rows of the ``runs`` table (strings plain or dictionary-encoded), at
            least the ``event_columns(fields)``.
        heartbeats: Rows of the ``heartbeats`` table, or None to count none.
        fields: Fold only these state columns (``run_schema(fields)``); default: all.
            A search of a million runs decides on a few columns and shows the others
            only for the runs it returns: folding run names and artifact paths of
            every run would take most of its memory.

    Returns:
        The folded runs, in no particular order.
    """
    return states_of(summarized(events, fields), heartbeats, fields)


def states_of(
    summary: pa.Table, heartbeats: pa.Table | None, fields: Collection[str] | None = None
) -> pa.Table:
    """The folded runs (as ``run_states`` returns them) of a summary of their events.

    Args:
        summary: A summary (``_run_summaries``) made for ``fields`` or more.
        heartbeats: Rows of the ``heartbeats`` table, or None to count none.
        fields: The state columns to give (``run_schema(fields)``); default: all.
    """
    schema = run_schema(fields)
    exists = RUNS_FOLD.exists
    runs = summary
    if summary[time_column(exists)].null_count:
        # Not when every run has its start (the usual case): a filter copies every column.
        runs = summary.filter(pc.is_valid(summary[time_column(exists)]))
    if runs.num_rows == 0:
        return schema.empty_table()
    run_ids = one_array(runs["run_id"])
    columns: dict[str, pa.Array | pa.ChunkedArray] = {"run_id": run_ids}
    for field in fold_fields(fields):
        if isinstance(field, Taken):
            value = runs[value_column(field.choice, field.event_column)]
            if field.fallback is not None:
                value = pc.coalesce(value, runs[value_column(field.fallback, field.event_column)])
        else:
            chosen_event = runs[value_column(field.choice, "event")]
            deleted = pc.fill_null(pc.equal(chosen_event, field.deleting), False)
            value = pc.if_else(deleted, field.deleted, field.active)
        columns[field.column] = value
    beats = _last_beats(heartbeats, run_ids) if heartbeats is not None else None
    latest = np.asarray(pc.fill_null(runs[LATEST_TIME], _NO_TIME).to_numpy(), np.int64)
    start_time = runs[value_column(exists, "start_time")]
    columns[LAST_SEEN] = _last_seen(start_time, latest, beats)
    columns[STALE] = pa.array(np.zeros(runs.num_rows, dtype=np.bool_))
    return pa.table(columns, schema=schema)


def stale_marked(states: pa.Table, now_ms: int, heartbeat_timeout_ms: int) -> pa.Table:
    """Folded runs with the heartbeat rule applied at ``now_ms``.

    Args:
        states: Runs as ``run_states`` folds them.
        now_ms: The time to judge at, in milliseconds since the epoch.
        heartbeat_timeout_ms: How long a RUNNING run may show no sign of life.

    Returns:
        ``states`` with the runs the rule finds dead KILLED, ending at their last sign
        of life, and flagged ``stale``.
    """
    rule = RUNS_FOLD.heartbeat
    stale = pc.fill_null(
        pc.and_(
            pc.equal(states["status"], rule.running),
            pc.less(states[LAST_SEEN], now_ms - heartbeat_timeout_ms),
        ),
        False,
    )
    columns = {
        "status": pc.if_else(stale, rule.verdict, states["status"]),
        "end_time": pc.if_else(stale, states[LAST_SEEN], states["end_time"]),
        STALE: stale,
    }
    for name, column in columns.items():
        states = states.set_column(states.schema.get_field_index(name), name, column)
    return states


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
    start_time: pa.Array | pa.ChunkedArray,
    event_time: npt.NDArray[np.int64],
    beats: npt.NDArray[np.int64] | None,
) -> pa.Array:
    """The latest of start time, last event (microseconds, so divided) and heartbeat."""
    filled = pc.fill_null(start_time, _NO_TIME).to_numpy(zero_copy_only=False)
    candidates = [
        np.asarray(filled, np.int64),
        np.where(event_time != _NO_TIME, event_time // 1000, _NO_TIME),
    ]
    if beats is not None:
        candidates.append(beats)
    latest = np.maximum.reduce(candidates)
    return pa.array(latest, type=pa.int64(), mask=latest == _NO_TIME)


@dataclass(frozen=True)
class KeyFold:
    """Which row of a params, tags or metrics table wins per (run, key).

    Attributes:
        order: The columns to order by, most significant first (ties: row order).
        latest: The last row in that order wins (else the first).
        absent_if: A boolean column: a winning row with it true means "no value".
    """

    order: tuple[str, ...]
    latest: bool
    absent_if: str | None = None

    def sort_keys(self, table: pa.Table) -> list[npt.NDArray[np.generic]]:
        """The ``order`` columns of ``table`` as numpy sort keys."""
        return [numbers(table[name]) for name in self.order]


KEY_FOLDS = {
    "params": KeyFold(("event_time",), latest=False),
    "tags": KeyFold(("event_time",), latest=True, absent_if="deleted"),
    "metrics": KeyFold(("step", "timestamp", "value"), latest=True),
}


def fold_keys(table: pa.Table, kind: str) -> pa.Table:
    """The winning ``run_id``, ``key``, ``value`` per (run, key), as ``KEY_FOLDS[kind]`` says.

    Args:
        table: Rows of the ``params``, ``tags`` or ``metrics`` table.
        kind: Which of the three it is.

    Returns:
        One row per (run, key) that has a value, in no particular order.
    """
    fold = KEY_FOLDS[kind]
    if table.num_rows == 0:
        return table.select(["run_id", "key", "value"])
    runs, _ = encode(table["run_id"])
    keys, names = encode(table["key"])
    valid = (runs >= 0) & (keys >= 0)
    cells = np.full(table.num_rows, -1, dtype=np.int64)
    _, cells[valid] = np.unique(runs[valid] * len(names) + keys[valid], return_inverse=True)
    ranking = Ranking.of(fold.sort_keys(table))
    _, winners = pick(cells, ranking, last=fold.latest)
    if fold.absent_if is not None:
        winners = winners[~flags(table[fold.absent_if].take(pa.array(winners)))]
    # In the fold's order, as a sort followed by dropping duplicates would leave them.
    winners = winners[np.argsort(ranking.rank[winners], kind="stable")]
    return table.select(["run_id", "key", "value"]).take(pa.array(winners))


def fold_experiments(table: pa.Table) -> pd.DataFrame:
    """Experiments from their events: the latest event per experiment, oldest first."""
    frame = table.to_pandas()
    if frame.empty:
        return frame
    by_time = frame.sort_values("event_time", kind="stable")
    latest = by_time.drop_duplicates("experiment_id", keep="last")
    # creation_time belongs to the first event of an experiment.
    first = by_time.drop_duplicates("experiment_id", keep="first")
    latest = latest.drop(columns=["creation_time"]).merge(
        first[["experiment_id", "creation_time"]], on="experiment_id"
    )
    return latest.sort_values("creation_time", kind="stable").reset_index(drop=True)
