"""What the tracking API hands back: plain frozen records, MLflow's shapes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sparktrack.store import RunStatus

__all__ = ["DatasetInput", "Experiment", "Metric", "Run", "RunData", "RunInfo", "RunStatus"]


@dataclass(frozen=True)
class Experiment:
    """A named group of runs.

    Attributes:
        experiment_id: Derived from the name ("0" for "Default"), so concurrent
            creators of one name agree.
        name: The experiment's unique name.
        artifact_location: Where its runs' artifacts go, under the store's artifact root.
        lifecycle_stage: "active", or "deleted" (soft-deleted: restorable).
        creation_time: When it was created, in milliseconds since the epoch.
    """

    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    creation_time: int


@dataclass(frozen=True)
class Metric:
    """One logged value of a metric.

    Attributes:
        key: The metric's name.
        value: The value (NaN and infinities are kept as logged).
        timestamp: When it was logged, in milliseconds since the epoch.
        step: The training step it belongs to (0 when none was given).
    """

    key: str
    value: float
    timestamp: int
    step: int


@dataclass(frozen=True)
class DatasetInput:
    """A dataset a run read: where from, its schema, and a digest that changes with the data.

    Attributes:
        name: A name for people.
        digest: Changes whenever the data (or the files, or the table version) change.
        source_type: "delta", "files", "table", "memory", "mixed" or "unknown".
        source: JSON: path or table name, Delta version, digest of the file list.
        schema: JSON: the Spark schema.
        num_rows: The row count, None when counting would have cost a Spark job.
        context: The role the run read it in: "training", "validation", ...
    """

    name: str
    digest: str
    source_type: str
    source: str  # JSON
    schema: str  # JSON
    num_rows: int | None = None
    context: str = "training"


@dataclass(frozen=True)
class RunInfo:
    """A run's metadata, as MLflow's ``RunInfo``.

    Attributes:
        run_id: The run's id (32 hex digits for runs sparktrack creates).
        experiment_id: The experiment the run belongs to.
        run_name: Its name (also in the ``mlflow.runName`` tag).
        user_id: Who started it, when known.
        status: One of ``RunStatus.ALL``; a run whose process died without ending it
            reads KILLED once its heartbeat stopped.
        start_time: When it started, in milliseconds since the epoch.
        end_time: When it ended (milliseconds since the epoch), None while RUNNING.
        artifact_uri: The root of its artifacts.
        lifecycle_stage: "active", or "deleted" (soft-deleted: restorable).
        parent_run_id: The run it was started in (nested runs, sweep trials), if any.
    """

    run_id: str
    experiment_id: str
    run_name: str | None
    user_id: str | None
    status: str
    start_time: int
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: str
    parent_run_id: str | None = None

    @property
    def run_uuid(self) -> str:
        """MLflow's older name for ``run_id``, still used by scripts."""
        return self.run_id


@dataclass(frozen=True)
class RunData:
    """What a run logged, folded to its current state.

    Attributes:
        metrics: Each metric's latest value (greatest step, then timestamp, then value).
        params: Each param's value (params never change within a run).
        tags: Each tag's latest value; deleted tags are absent.
    """

    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Run:
    """A run: its metadata and what it logged.

    Attributes:
        info: The run's metadata.
        data: Its metrics, params and tags.
    """

    info: RunInfo
    data: RunData

    def to_dict(self) -> dict[str, Any]:
        """The run as plain dicts (JSON-ready).

        Returns:
            ``{"info": {...RunInfo fields}, "data": {"metrics", "params", "tags"}}``.
        """
        return {
            "info": {**self.info.__dict__},
            "data": {
                "metrics": dict(self.data.metrics),
                "params": dict(self.data.params),
                "tags": dict(self.data.tags),
            },
        }
