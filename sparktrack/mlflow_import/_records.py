"""What an MLflow store holds, as every source reads it: plain records, MLflow's shapes.

The sources (SQLite, FileStore, REST) read their layout into these; the importer
knows only these. Times are MLflow's: milliseconds since the epoch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "LOGGED_MODEL_STATUS",
    "MetricPoint",
    "MlflowDataset",
    "MlflowExperiment",
    "MlflowLoggedModel",
    "MlflowModel",
    "MlflowRun",
    "MlflowVersion",
]

MetricPoint = tuple[str, float, int, int]
"""One metric value: (key, value, step, timestamp)."""

LOGGED_MODEL_STATUS = {0: "UNSPECIFIED", 1: "PENDING", 2: "READY", 3: "FAILED"}
"""MLflow's logged-model statuses by the number its stores keep."""


@dataclass(frozen=True)
class MlflowExperiment:
    """An experiment (``lifecycle_stage`` "active" or "deleted")."""

    experiment_id: str
    name: str
    artifact_location: str | None
    lifecycle_stage: str
    creation_time: int | None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MlflowDataset:
    """A dataset input of a run (``context``: its ``mlflow.data.context`` tag)."""

    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None
    profile: str | None
    context: str | None


@dataclass
class MlflowRun:
    """A run with everything logged to it."""

    run_id: str
    experiment_id: str
    run_name: str | None
    user_id: str | None
    status: str
    start_time: int | None
    end_time: int | None
    lifecycle_stage: str
    artifact_uri: str | None
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: list[MetricPoint] = field(default_factory=list)
    inputs: list[MlflowDataset] = field(default_factory=list)


@dataclass(frozen=True)
class MlflowLoggedModel:
    """An MLflow 3 logged model: a model folder of its own, outside its run's artifacts.

    ``status`` is MLflow's name for it (``READY``, ``PENDING``, ``FAILED``, or
    ``UNSPECIFIED``); ``outputs`` maps each run that logged it as an output to the
    step; ``metrics`` counts the metric values MLflow keeps on the model itself.
    """

    model_id: str
    experiment_id: str
    name: str
    artifact_location: str | None
    source_run_id: str | None
    status: str = "READY"
    model_type: str | None = None
    creation_timestamp: int | None = None
    last_updated_timestamp: int | None = None
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, int] = field(default_factory=dict)
    metrics: int = 0


@dataclass(frozen=True)
class MlflowVersion:
    """A registered model version."""

    version: int
    stage: str
    description: str
    tags: dict[str, str]
    run_id: str | None
    source: str
    user_id: str | None
    creation_time: int
    last_updated_time: int


@dataclass(frozen=True)
class MlflowModel:
    """A registered model with its versions and aliases (alias -> version number)."""

    name: str
    description: str
    tags: dict[str, str]
    aliases: dict[str, int]
    creation_time: int
    last_updated_time: int
    versions: list[MlflowVersion]
