"""The JSON shapes of the UI's API (pydantic), so ``/openapi.json`` documents every answer.

Numbers a run logged may be NaN or infinite, which JSON cannot hold: ``Value`` carries
them as the strings "NaN", "Infinity" and "-Infinity" (``json_value``), and curves carry
them as nulls (a gap in the chart).
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, Field

__all__ = [
    "ApiError",
    "Artifact",
    "ArtifactList",
    "ArtifactPreview",
    "CompareAnswer",
    "CompareRow",
    "DriftAnswer",
    "DriftColumn",
    "DriftDecay",
    "DriftLatest",
    "DriftPass",
    "DriftVersion",
    "ExperimentList",
    "ExperimentSummary",
    "Info",
    "KeyList",
    "ModelDetail",
    "ModelList",
    "ModelSummary",
    "ModelVersionOut",
    "RunBrief",
    "RunDetail",
    "RunPage",
    "RunRow",
    "Series",
    "SeriesAnswer",
    "SnapshotAnswer",
    "SnapshotFile",
    "SnapshotText",
    "SweepAnswer",
    "SweepTrial",
    "TransitionOut",
    "Value",
    "json_value",
]

Value = float | str | None
"""A logged number as JSON holds it: a float, or "NaN"/"Infinity"/"-Infinity"."""


def json_value(value: Any) -> Value:
    """A number as JSON can hold it (see ``Value``); None stays None."""
    if value is None:
        return None
    number = float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    return number


class ApiError(BaseModel):
    error_code: str
    message: str
    position: int | None = Field(None, description="Where a filter failed to parse (0-based)")


class Info(BaseModel):
    version: str
    allow_writes: bool
    store: str


class ExperimentSummary(BaseModel):
    experiment_id: str
    name: str
    lifecycle_stage: str
    creation_time: int
    run_count: int
    last_activity: int | None


class ExperimentList(BaseModel):
    experiments: list[ExperimentSummary]


class RunRow(BaseModel):
    run_id: str
    run_name: str | None
    experiment_id: str
    status: str
    lifecycle_stage: str
    user_id: str | None
    start_time: int | None
    end_time: int | None
    duration_ms: int | None
    parent_run_id: str | None
    child_count: int = 0
    params: dict[str, str] = {}
    metrics: dict[str, Value] = {}
    tags: dict[str, str] = {}
    children: list[RunRow] = []


class RunPage(BaseModel):
    total: int
    offset: int
    limit: int
    rows: list[RunRow]
    running: int = Field(description="How many matching runs are RUNNING (the page polls)")


class KeyList(BaseModel):
    kind: str
    keys: list[str]
    total: int
    truncated: bool


class RunBrief(BaseModel):
    run_id: str
    run_name: str | None
    status: str


class RunDetail(BaseModel):
    run_id: str
    run_name: str | None
    experiment_id: str
    experiment_name: str | None
    status: str
    lifecycle_stage: str
    user_id: str | None
    start_time: int
    end_time: int | None
    duration_ms: int | None
    artifact_uri: str
    params: dict[str, str]
    metrics: dict[str, Value]
    tags: dict[str, str]
    facts: dict[str, str] = Field(description="System tags, named for people")
    inputs: list[dict[str, Any]]
    parent: RunBrief | None
    children: list[RunBrief]
    sweep: bool = Field(description="The run is a sweep's parent run")


class Series(BaseModel):
    run_id: str
    key: str
    x: list[float]
    y: list[float | None]
    steps: list[int]
    total_points: int
    downsampled: bool


class SeriesAnswer(BaseModel):
    x_axis: str
    series: list[Series]


class Artifact(BaseModel):
    path: str
    name: str
    is_dir: bool
    file_size: int | None
    kind: str


class SnapshotFile(BaseModel):
    name: str
    role: str
    size: int
    note: str | None = None


class SnapshotAnswer(BaseModel):
    run_id: str
    digest: str
    main: str | None
    source: dict[str, str]
    git: dict[str, str | None] | None
    files: list[SnapshotFile]
    omitted: dict[str, str]


class SnapshotText(BaseModel):
    name: str
    size: int
    truncated: bool
    text: str


class ArtifactList(BaseModel):
    path: str
    files: list[Artifact]


class ArtifactPreview(BaseModel):
    path: str
    kind: str
    size: int
    truncated: bool = False
    text: str | None = None
    columns: list[str] | None = None
    rows: list[list[str]] | None = None
    mlmodel: dict[str, Any] | None = None


class CompareRow(BaseModel):
    key: str
    values: list[Value | str]
    differs: bool


class CompareAnswer(BaseModel):
    runs: list[RunBrief]
    params: list[CompareRow]
    metrics: list[CompareRow]


class SweepTrial(BaseModel):
    number: int
    run_id: str
    state: str
    value: Value
    params: dict[str, Any]
    start_time: int | None
    end_time: int | None


class SweepAnswer(BaseModel):
    run_id: str
    name: str | None
    metric: str | None
    mode: str
    strategy: str | None
    status: str
    state_counts: dict[str, int]
    trials: list[SweepTrial]
    best_so_far: list[Value]
    best_trial: int | None
    importances: dict[str, float] | None
    importance_note: str | None


class ModelVersionOut(BaseModel):
    name: str
    version: int
    current_stage: str
    aliases: list[str]
    source: str
    run_id: str | None
    user_id: str | None
    description: str
    creation_timestamp: int
    last_updated_timestamp: int
    serve_command: str


class TransitionOut(BaseModel):
    version: int | None
    kind: str
    from_value: str | None
    to_value: str | None
    key: str | None
    user_id: str | None
    timestamp: int


class ModelSummary(BaseModel):
    name: str
    description: str
    version_count: int
    aliases: dict[str, int]
    latest_versions: list[ModelVersionOut]
    last_updated_timestamp: int


class ModelList(BaseModel):
    models: list[ModelSummary]


class ModelDetail(BaseModel):
    model: ModelSummary
    versions: list[ModelVersionOut]
    history: list[TransitionOut]
    stages: list[str]


class DriftPass(BaseModel):
    run_id: str
    run_name: str | None
    time: int | None = Field(description="The window's start, or the run's start (ms)")
    window: str | None = Field(description="The window tag: 'start/end' (ISO 8601) or 'all'")
    window_start: int | None
    window_end: int | None
    start_time: int | None
    status: str | None = Field(description="The pass's status: OK, WARN or ALERT")
    run_status: str
    drift: dict[str, dict[str, Value]] = Field(
        description="Statistic (psi, js, ks, chi2_p, null_delta, unseen) -> column -> value"
    )
    prediction: dict[str, Value] = Field(description="The predictions' psi, js, ks")
    decay: dict[str, Value] = Field(description="Metric -> relative worsening against training")
    current: dict[str, Value] = Field(description="Metric -> its value on the new data")


class DriftColumn(BaseModel):
    column: str
    role: str
    status: str | None
    reasons: str
    psi: Value = None
    js: Value = None
    ks: Value = None
    chi2_p: Value = None
    null_delta: Value = None
    unseen: Value = None


class DriftDecay(BaseModel):
    metric: str
    training: Value
    current: Value
    decay: Value
    status: str | None


class DriftLatest(BaseModel):
    run_id: str
    from_report: bool = Field(description="False when the pass has no drift_report.json")
    rows: int | None = None
    columns: list[DriftColumn] = []
    decay: list[DriftDecay] = []
    thresholds: dict[str, list[Value]] = Field(
        default_factory=dict, description="Statistic -> [warn, alert] the pass was judged by"
    )


class DriftVersion(BaseModel):
    version: str
    pass_count: int
    truncated: bool = Field(description="Only the newest passes are listed")
    passes: list[DriftPass] = Field(description="Oldest first")
    latest: DriftLatest


class DriftAnswer(BaseModel):
    model: str
    experiment: str
    experiment_id: str | None
    default_thresholds: dict[str, list[Value]]
    versions: list[DriftVersion] = Field(description="Newest version first")
    how_to_start: str = Field(description="The command that monitors a version")
