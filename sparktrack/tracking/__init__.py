"""Tracking: experiments, runs, params, metrics, tags and artifacts."""

from __future__ import annotations

from sparktrack.tracking._client import (
    DEFAULT_EXPERIMENT_ID,
    DEFAULT_EXPERIMENT_NAME,
    TrackingClient,
)
from sparktrack.tracking._entities import (
    DatasetInput,
    Experiment,
    Metric,
    Run,
    RunData,
    RunInfo,
    RunStatus,
)
from sparktrack.tracking._fluent import (
    ActiveRun,
    active_run,
    end_run,
    flush,
    get_client,
    last_active_run,
    set_experiment,
    set_store,
    start_run,
)
from sparktrack.tracking._fluent_log import (
    log_artifact,
    log_artifacts,
    log_dict,
    log_figure,
    log_input,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    log_text,
    set_tag,
    set_tags,
)
from sparktrack.tracking._fluent_read import get_metric_history, get_run, search_runs
from sparktrack.tracking._runs_sql import runs_view_sql

__all__ = [
    "DEFAULT_EXPERIMENT_ID",
    "DEFAULT_EXPERIMENT_NAME",
    "ActiveRun",
    "DatasetInput",
    "Experiment",
    "Metric",
    "Run",
    "RunData",
    "RunInfo",
    "RunStatus",
    "TrackingClient",
    "active_run",
    "end_run",
    "flush",
    "get_client",
    "get_metric_history",
    "get_run",
    "last_active_run",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "runs_view_sql",
    "search_runs",
    "set_experiment",
    "set_store",
    "set_tag",
    "set_tags",
    "start_run",
]
