"""sparktrack's records in MLflow's JSON shapes (``mlflow/protos/service.proto``).

Where MLflow's client reads a field, it is here under MLflow's name: ``run.info`` with
both ``run_id`` and ``run_uuid``, ``run.data`` as key/value lists, ``run.inputs`` with
``dataset_inputs``, ``run.outputs`` with ``model_outputs``. Numbers that JSON cannot
hold (NaN, infinities) travel as protobuf's JSON strings ``"NaN"``, ``"Infinity"``,
``"-Infinity"``, which MLflow's client parses.

Artifact locations are given as ``mlflow-artifacts:/<path in the store's artifact
tree>``: MLflow's client then sends artifacts through this server's
``/api/2.0/mlflow-artifacts`` routes (``_artifact_routes``), which need no credentials
for the store on the client's side.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from sparktrack.tracking import DatasetInput, Experiment, Metric, Run, RunInfo

__all__ = [
    "ARTIFACTS_SCHEME",
    "CONTEXT_TAG",
    "dataset_input_json",
    "experiment_json",
    "experiment_location",
    "key_values",
    "metric_json",
    "number_json",
    "run_info_json",
    "run_json",
    "run_location",
]

ARTIFACTS_SCHEME = "mlflow-artifacts:"
CONTEXT_TAG = "mlflow.data.context"
"""The dataset-input tag MLflow keeps a dataset's role in ("training", "eval", ...)."""


def experiment_location(experiment_id: str) -> str:
    """An experiment's ``artifact_location``: its folder of the store's artifact tree."""
    return f"{ARTIFACTS_SCHEME}/{experiment_id}"


def run_location(experiment_id: str, run_id: str) -> str:
    """A run's ``artifact_uri``: ``artifacts/<experiment>/<run>/artifacts`` of the store."""
    return f"{ARTIFACTS_SCHEME}/{experiment_id}/{run_id}/artifacts"


def number_json(value: float) -> float | str:
    """A double as protobuf's JSON writes it: NaN and infinities as strings."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def key_values(values: Mapping[str, Any]) -> list[dict[str, str]]:
    """MLflow's ``[{"key", "value"}]`` list of a params or tags mapping, by key."""
    return [{"key": key, "value": str(values[key])} for key in sorted(values)]


def experiment_json(experiment: Experiment) -> dict[str, Any]:
    """MLflow's ``Experiment`` (sparktrack stores no experiment tags: ``tags`` is empty)."""
    return {
        "experiment_id": experiment.experiment_id,
        "name": experiment.name,
        "artifact_location": experiment_location(experiment.experiment_id),
        "lifecycle_stage": experiment.lifecycle_stage,
        "creation_time": experiment.creation_time,
        # sparktrack keeps no separate update time; an experiment changes only its stage.
        "last_update_time": experiment.creation_time,
        "tags": [],
    }


def run_info_json(info: RunInfo) -> dict[str, Any]:
    """MLflow's ``RunInfo`` (``end_time`` left out while the run has none, as MLflow does)."""
    shaped: dict[str, Any] = {
        "run_id": info.run_id,
        "run_uuid": info.run_id,
        "run_name": info.run_name or "",
        "experiment_id": info.experiment_id,
        "user_id": info.user_id or "",
        "status": info.status,
        "start_time": info.start_time,
        "artifact_uri": run_location(info.experiment_id, info.run_id),
        "lifecycle_stage": info.lifecycle_stage,
    }
    if info.end_time is not None:
        shaped["end_time"] = info.end_time
    return shaped


def metric_json(metric: Metric, run_id: str | None = None) -> dict[str, Any]:
    """MLflow's ``Metric`` (with ``run_id`` in get-history-bulk-interval's answers)."""
    shaped: dict[str, Any] = {
        "key": metric.key,
        "value": number_json(metric.value),
        "timestamp": metric.timestamp,
        "step": metric.step,
    }
    if run_id is not None:
        shaped["run_id"] = run_id
    return shaped


def dataset_input_json(dataset: DatasetInput) -> dict[str, Any]:
    """MLflow's ``DatasetInput``: the dataset, and its role as the context tag."""
    shaped: dict[str, Any] = {
        "name": dataset.name,
        "digest": dataset.digest,
        "source_type": dataset.source_type,
        "source": dataset.source,
        "schema": dataset.schema,
    }
    if dataset.num_rows is not None:
        shaped["profile"] = json.dumps({"num_rows": dataset.num_rows})
    tags = [{"key": CONTEXT_TAG, "value": dataset.context}] if dataset.context else []
    return {"tags": tags, "dataset": shaped}


def latest_points(
    runs: Sequence[Run], histories: Mapping[tuple[str, str], pd.DataFrame]
) -> dict[tuple[str, str], tuple[int, int]]:
    """The (timestamp, step) of each run's latest metric value, from the runs' histories.

    The latest point is the one ``RunData.metrics`` holds (greatest step, then
    timestamp); histories come sorted by step then timestamp, so it is the last row.
    """
    points: dict[tuple[str, str], tuple[int, int]] = {}
    for run in runs:
        for key in run.data.metrics:
            frame = histories.get((run.info.run_id, key))
            if frame is not None and len(frame):
                last = frame.iloc[-1]
                points[(run.info.run_id, key)] = (int(last["timestamp"]), int(last["step"]))
    return points


def run_json(
    run: Run,
    points: Mapping[tuple[str, str], tuple[int, int]],
    inputs: Sequence[DatasetInput] = (),
    outputs: Sequence[tuple[str, int]] = (),
) -> dict[str, Any]:
    """MLflow's ``Run``: info, data, inputs and outputs.

    ``data`` holds the latest metrics with their time and step (``points``), ``outputs``
    the logged models the run produced, as (model id, step) pairs.
    """
    run_id = run.info.run_id
    metrics = []
    for key in sorted(run.data.metrics):
        timestamp, step = points.get((run_id, key), (0, 0))
        metrics.append(
            metric_json(Metric(key, run.data.metrics[key], timestamp, step)),
        )
    return {
        "info": run_info_json(run.info),
        "data": {
            "metrics": metrics,
            "params": key_values(run.data.params),
            "tags": key_values(run.data.tags),
        },
        "inputs": {"dataset_inputs": [dataset_input_json(d) for d in inputs]},
        "outputs": {"model_outputs": [{"model_id": m, "step": step} for m, step in outputs]},
    }
