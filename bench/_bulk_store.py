"""Build a large tracking store in bulk: sparktrack's Delta tables, and MLflow's SQLite.

Logging 100,000 runs through either tool's API takes hours; what the benchmarks of
the read path need is the *result* of such logging. This module writes it directly:

* sparktrack: the documented table layout (docs/store.md) with delta-rs, a few large
  commits per table (``batch_runs`` runs each), the way many writers' commits look once
  compacted: each file holds many runs, in the order they were logged. The store is
  opened once through ``TrackingClient`` first, so the tables and the experiments are
  exactly what sparktrack creates.
* MLflow: the same runs (the first ``runs`` of them, usually 10,000) inserted into
  MLflow's SQLite store through its SQLAlchemy models
  (``mlflow.store.tracking.dbmodels.models``), as ``log_batch`` would store them,
  ``latest_metrics`` included (MLflow's search reads it).

Both get the same runs: same run ids, names, params, metrics (every step), tags,
parents and times, so the two tools must return the same runs for the same query.
Every run has a tag ``idx`` (its number) to compare results by.

The shape (``BulkShape``): params ``p0..p19`` (``p0`` = ``a<i % 7>``, ``p1`` =
``x<i % 10>``, ``p2`` = ``<i>``, the rest a few repeating values), metrics ``m0..m9``
with ``steps`` points each (the last point of ``m0`` and ``m1`` uniform in [0, 1)),
tags (``idx``, ``group``, ``mlflow.runName``, ``mlflow.user``, ``mlflow.source.name``,
``mlflow.parentRunId`` for nested runs), every fifth run nested under the run four
before it (20%), runs spread over ``experiments`` experiments in blocks of five (a
parent and its children share one). Optionally one run (``long_history_run``) gets a
metric ``curve`` with ``long_history`` points.

Usable by tests with small sizes: ``build_store(path, BulkShape(runs=200))``.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

__all__ = [
    "BASE_MS",
    "LONG_HISTORY_KEY",
    "BulkShape",
    "build_mlflow_store",
    "build_store",
    "experiment_names",
    "run_id",
]

BASE_MS = 1_700_000_000_000  # the first run's start time
LONG_HISTORY_KEY = "curve"
_RUN_MS = 1_000  # runs start a second apart
_STEP_MS = 5  # a metric point every 5 ms of a run
_USER = "bench"
_SOURCE = "train.py"


@dataclass(frozen=True)
class BulkShape:
    """How many runs, and what each holds."""

    runs: int = 100_000
    params: int = 20
    metrics: int = 10
    steps: int = 100
    experiments: int = 4
    batch_runs: int = 10_000  # runs per commit (each table gets one commit per batch)
    long_history: int = 0  # points of metric ``curve`` logged for ``long_history_run``
    long_history_run: int = 0
    seed: int = 20261129

    def __post_init__(self) -> None:
        if self.runs < 1 or self.params < 3 or self.metrics < 2 or self.steps < 1:
            raise ValueError(f"a bulk store needs runs, 3+ params, 2+ metrics, steps: {self}")


def run_id(shape: BulkShape, index: int) -> str:
    """The id of run ``index``: 32 hex digits like a uuid4's, the same in both stores."""
    return hashlib.md5(f"{shape.seed}-{index}".encode()).hexdigest()


def experiment_names(shape: BulkShape) -> list[str]:
    return [f"bench-{e}" for e in range(shape.experiments)]


def _experiment_of(index: np.ndarray, shape: BulkShape) -> np.ndarray:
    # Blocks of five runs share an experiment, so a parent and its children do too.
    return np.asarray((index // 5) % shape.experiments)


def _is_nested(index: int) -> bool:
    return index % 5 == 4


def _param_value(index: int, j: int) -> str:
    if j == 0:
        return f"a{index % 7}"
    if j == 1:
        return f"x{index % 10}"
    if j == 2:
        return str(index)
    return f"v{(index * (j + 1)) % 17}"


@dataclass(frozen=True)
class _Batch:
    """Runs ``start`` to ``stop`` (exclusive), as column arrays."""

    start: int
    stop: int
    ids: list[str]
    experiments: np.ndarray  # experiment number per run
    parents: list[str | None]
    start_ms: np.ndarray
    end_ms: np.ndarray
    # metrics[r, k, s]: run r, metric k, step s
    values: np.ndarray

    @property
    def indices(self) -> range:
        return range(self.start, self.stop)


def _batches(shape: BulkShape) -> Iterator[_Batch]:
    for start in range(0, shape.runs, shape.batch_runs):
        stop = min(start + shape.batch_runs, shape.runs)
        index = np.arange(start, stop)
        rng = np.random.default_rng([shape.seed, start])
        count = stop - start
        # A noisy curve per metric towards a final value uniform in [0, 1).
        final = rng.random((count, shape.metrics))
        progress = np.linspace(0.0, 1.0, shape.steps)
        noise = rng.normal(0.0, 0.02, (count, shape.metrics, shape.steps))
        values = final[:, :, None] * progress[None, None, :] + noise * (1 - progress)
        values[:, :, -1] = final  # the latest value is exactly the uniform draw
        start_ms = BASE_MS + index * _RUN_MS
        yield _Batch(
            start=start,
            stop=stop,
            ids=[run_id(shape, i) for i in index],
            experiments=_experiment_of(index, shape),
            parents=[run_id(shape, i - 4) if _is_nested(i) else None for i in index],
            start_ms=start_ms,
            end_ms=start_ms + shape.steps * _STEP_MS + 1,
            values=values,
        )


def _tags(shape: BulkShape, batch: _Batch, position: int) -> dict[str, str]:
    index = batch.start + position
    tags = {
        "idx": str(index),
        "group": f"g{index % 3}",
        "mlflow.runName": f"run-{index:06d}",
        "mlflow.user": _USER,
        "mlflow.source.name": _SOURCE,
    }
    parent = batch.parents[position]
    if parent is not None:
        tags["mlflow.parentRunId"] = parent
    return tags


# =====================================================================================
# sparktrack: the Delta tables
# =====================================================================================


def build_store(path: str | Path, shape: BulkShape = BulkShape(), *, say: Any = None) -> str:
    """Write ``shape``'s runs into a new sparktrack store at ``path``; returns its URI.

    ``say`` (a callable taking a line) reports progress.
    """
    # Imported here so that this module also loads in MLflow's venv without sparktrack.
    from deltalake import write_deltalake

    import sparktrack
    from sparktrack.config import load_settings
    from sparktrack.store import TABLES, open_store

    uri = str(Path(path).resolve())
    # A store of its own (not the one clients of this URI share in this process): the
    # rows written below behind its back must not meet a table handle read before.
    store = open_store(uri, load_settings(store=uri))
    client = sparktrack.TrackingClient(store)
    experiments = [client.get_or_create_experiment(name) for name in experiment_names(shape)]
    experiment_ids = np.array([e.experiment_id for e in experiments], dtype=object)
    roots = {e.experiment_id: store.artifacts.experiment_root(e.experiment_id) for e in experiments}
    client.flush()
    client.close()
    store.close()
    started = time.perf_counter()
    clock = _EventClock()
    for batch in _batches(shape):
        tables: dict[str, Any] = _delta_batch(shape, batch, experiment_ids, roots, clock)
        tables["metrics"] = _metrics_reader(shape, batch, TABLES["metrics"])
        for name, table in tables.items():
            if isinstance(table, pa.Table):
                table = table.cast(TABLES[name])
            write_deltalake(f"{uri}/{name}", table, mode="append")
        if say is not None:
            say(
                f"  sparktrack store: {batch.stop:,}/{shape.runs:,} runs written "
                f"({time.perf_counter() - started:.0f} s)"
            )
    return uri


class _EventClock:
    """Strictly increasing ``event_time`` values (microseconds), as one writer's are."""

    def __init__(self) -> None:
        self._next = BASE_MS * 1000

    def take(self, count: int) -> np.ndarray:
        values = np.arange(self._next, self._next + count, dtype=np.int64)
        self._next += count
        return values


def _delta_batch(
    shape: BulkShape,
    batch: _Batch,
    experiment_ids: np.ndarray,
    roots: dict[str, str],
    clock: _EventClock,
) -> dict[str, pa.Table]:
    count = batch.stop - batch.start
    ids = pa.array(batch.ids, pa.string())
    run_experiments = pa.array(experiment_ids[batch.experiments], pa.string())
    names = [f"run-{i:06d}" for i in batch.indices]
    artifact_uris = [
        f"{roots[experiment_ids[e]]}/{rid}/artifacts"
        for e, rid in zip(batch.experiments, batch.ids, strict=True)
    ]
    start_times, end_times = clock.take(count), clock.take(count)
    nulls = pa.nulls(count, pa.string())
    runs = pa.concat_tables(
        [
            pa.table(
                {
                    "run_id": ids,
                    "experiment_id": run_experiments,
                    "event": pa.array(["start"] * count),
                    "status": pa.array(["RUNNING"] * count),
                    "run_name": pa.array(names),
                    "user_id": pa.array([_USER] * count),
                    "parent_run_id": pa.array(batch.parents, pa.string()),
                    "start_time": pa.array(batch.start_ms),
                    "end_time": pa.nulls(count, pa.int64()),
                    "artifact_uri": pa.array(artifact_uris),
                    "event_time": pa.array(start_times),
                }
            ),
            pa.table(
                {
                    "run_id": ids,
                    "experiment_id": nulls,
                    "event": pa.array(["end"] * count),
                    "status": pa.array(["FINISHED"] * count),
                    "run_name": nulls,
                    "user_id": nulls,
                    "parent_run_id": nulls,
                    "start_time": pa.nulls(count, pa.int64()),
                    "end_time": pa.array(batch.end_ms),
                    "artifact_uri": nulls,
                    "event_time": pa.array(end_times),
                }
            ),
        ]
    )
    param_ids, param_keys, param_values = [], [], []
    for position, index in enumerate(batch.indices):
        for j in range(shape.params):
            param_ids.append(batch.ids[position])
            param_keys.append(f"p{j}")
            param_values.append(_param_value(index, j))
    params = pa.table(
        {
            "run_id": param_ids,
            "key": param_keys,
            "value": param_values,
            "event_time": clock.take(len(param_ids)),
        }
    )
    tag_ids, tag_keys, tag_values = [], [], []
    for position in range(count):
        for key, value in _tags(shape, batch, position).items():
            tag_ids.append(batch.ids[position])
            tag_keys.append(key)
            tag_values.append(value)
    tags = pa.table(
        {
            "run_id": tag_ids,
            "key": tag_keys,
            "value": tag_values,
            "deleted": pa.array([False] * len(tag_ids)),
            "event_time": clock.take(len(tag_ids)),
        }
    )
    return {"runs": runs, "params": params, "tags": tags}


def _metrics_reader(shape: BulkShape, batch: _Batch, schema: pa.Schema) -> pa.RecordBatchReader:
    """The batch's metric points, streamed a few runs at a time: a commit of 10 million
    points would not fit in memory as one table of strings."""
    chunk = 500

    def pieces() -> Iterator[pa.RecordBatch]:
        for first in range(0, batch.stop - batch.start, chunk):
            last = min(first + chunk, batch.stop - batch.start)
            yield from _metric_points(shape, batch, first, last).cast(schema).to_batches()
        if shape.long_history and batch.start <= shape.long_history_run < batch.stop:
            yield from _long_history(shape).cast(schema).to_batches()

    return pa.RecordBatchReader.from_batches(schema, pieces())


def _metric_points(shape: BulkShape, batch: _Batch, first: int, last: int) -> pa.Table:
    """Points of the batch's runs ``first`` to ``last`` (positions in the batch)."""
    count = last - first
    per_run = shape.metrics * shape.steps
    run_codes = np.repeat(np.arange(count, dtype=np.int32), per_run)
    key_codes = np.tile(np.repeat(np.arange(shape.metrics, dtype=np.int32), shape.steps), count)
    steps = np.tile(np.arange(shape.steps, dtype=np.int64), count * shape.metrics)
    timestamps = np.repeat(batch.start_ms[first:last], per_run) + steps * _STEP_MS
    keys = pa.array([f"m{k}" for k in range(shape.metrics)], pa.string())
    ids = pa.array(batch.ids[first:last], pa.string())
    return pa.table(
        {
            "run_id": pa.DictionaryArray.from_arrays(pa.array(run_codes), ids),
            "key": pa.DictionaryArray.from_arrays(pa.array(key_codes), keys),
            "value": pa.array(batch.values[first:last].reshape(-1)),
            "step": pa.array(steps),
            "timestamp": pa.array(timestamps),
        }
    )


def _long_history_points(shape: BulkShape) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps, values and timestamps of the long metric."""
    steps = np.arange(shape.long_history, dtype=np.int64)
    rng = np.random.default_rng([shape.seed, shape.runs + 1])
    values = np.exp(-steps / max(shape.long_history / 5, 1)) + rng.normal(0, 0.01, steps.size)
    timestamps = BASE_MS + shape.long_history_run * _RUN_MS + steps
    return steps, values, timestamps


def _long_history(shape: BulkShape) -> pa.Table:
    steps, values, timestamps = _long_history_points(shape)
    return pa.table(
        {
            "run_id": pa.array([run_id(shape, shape.long_history_run)] * steps.size),
            "key": pa.array([LONG_HISTORY_KEY] * steps.size),
            "value": pa.array(values),
            "step": pa.array(steps),
            "timestamp": pa.array(timestamps),
        }
    )


# =====================================================================================
# MLflow: its SQLite store, through its SQLAlchemy models
# =====================================================================================


def build_mlflow_store(
    tracking_uri: str, artifact_root: str, shape: BulkShape, *, say: Any = None
) -> dict[str, str]:
    """Insert ``shape``'s runs into MLflow's store at ``tracking_uri`` (a ``sqlite:///``
    URI); returns experiment name -> MLflow experiment id.

    The rows are those MLflow's ``log_batch`` and ``set_terminated`` would store, in
    one transaction per batch of runs.
    """
    # MLflow lives in the benchmark venv only.
    import mlflow
    from mlflow.store.tracking.dbmodels.models import (
        SqlLatestMetric,
        SqlMetric,
        SqlParam,
        SqlRun,
        SqlTag,
    )

    mlflow.set_tracking_uri(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri)
    ids = {
        name: client.create_experiment(name, artifact_location=f"{artifact_root}/{name}")
        for name in experiment_names(shape)
    }
    id_list = [ids[name] for name in experiment_names(shape)]
    store = client._tracking_client.store
    started = time.perf_counter()
    for batch in _batches(shape):
        runs, params, metrics, latest, tags = [], [], [], [], []
        for position, index in enumerate(batch.indices):
            rid = batch.ids[position]
            experiment_id = id_list[int(batch.experiments[position])]
            runs.append(
                {
                    "run_uuid": rid,
                    "name": f"run-{index:06d}",
                    "source_type": "LOCAL",
                    "source_name": "",
                    "entry_point_name": "",
                    "user_id": _USER,
                    "status": "FINISHED",
                    "start_time": int(batch.start_ms[position]),
                    "end_time": int(batch.end_ms[position]),
                    "deleted_time": None,
                    "source_version": "",
                    "lifecycle_stage": "active",
                    "artifact_uri": f"{artifact_root}/{experiment_id}/{rid}/artifacts",
                    "experiment_id": int(experiment_id),
                }
            )
            params += [
                {"run_uuid": rid, "key": f"p{j}", "value": _param_value(index, j)}
                for j in range(shape.params)
            ]
            tags += [
                {"run_uuid": rid, "key": key, "value": value}
                for key, value in _tags(shape, batch, position).items()
            ]
            start_ms = int(batch.start_ms[position])
            for k in range(shape.metrics):
                series = batch.values[position, k]
                metrics += [
                    {
                        "run_uuid": rid,
                        "key": f"m{k}",
                        "value": float(series[s]),
                        "timestamp": start_ms + s * _STEP_MS,
                        "step": s,
                        "is_nan": False,
                    }
                    for s in range(shape.steps)
                ]
                last = shape.steps - 1
                latest.append(
                    {
                        "run_uuid": rid,
                        "key": f"m{k}",
                        "value": float(series[last]),
                        "timestamp": start_ms + last * _STEP_MS,
                        "step": last,
                        "is_nan": False,
                    }
                )
        if shape.long_history and batch.start <= shape.long_history_run < batch.stop:
            steps, values, timestamps = _long_history_points(shape)
            rid = run_id(shape, shape.long_history_run)
            metrics += [
                {
                    "run_uuid": rid,
                    "key": LONG_HISTORY_KEY,
                    "value": float(v),
                    "timestamp": int(t),
                    "step": int(s),
                    "is_nan": False,
                }
                for s, v, t in zip(steps, values, timestamps, strict=True)
            ]
            latest.append({**metrics[-1]})
        with store.ManagedSessionMaker() as session:
            session.execute(SqlRun.__table__.insert(), runs)
            session.execute(SqlParam.__table__.insert(), params)
            session.execute(SqlTag.__table__.insert(), tags)
            session.execute(SqlMetric.__table__.insert(), metrics)
            session.execute(SqlLatestMetric.__table__.insert(), latest)
        if say is not None:
            say(
                f"  MLflow store: {batch.stop:,}/{shape.runs:,} runs inserted "
                f"({time.perf_counter() - started:.0f} s)"
            )
    return ids
