"""Tracking: experiments, runs, params, metrics, tags and artifacts."""

from __future__ import annotations

from sparktrack.tracking._attach import RUN_ID_ENV_VAR
from sparktrack.tracking._client import (
    DEFAULT_EXPERIMENT_ID,
    DEFAULT_EXPERIMENT_NAME,
    TrackingClient,
)
from sparktrack.tracking._clock import event_time_us
from sparktrack.tracking._context import current_user
from sparktrack.tracking._context_git import read_git_tags
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
    active_experiment_id,
    active_run,
    end_run,
    flush,
    get_client,
    last_active_run,
    remember_last_run,
    run_id_for_logging,
    set_experiment,
    set_store,
    start_run,
)
from sparktrack.tracking._fluent_attach import run_from_environment
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
from sparktrack.tracking._hooks import before_flush, provide_registry
from sparktrack.tracking._logged_model_fold import (
    LoggedModel,
    LoggedModelStatus,
    is_logged_model_id,
)
from sparktrack.tracking._logged_models import LoggedModels
from sparktrack.tracking._run_diff import Change, RunDiff, diff_runs
from sparktrack.tracking._runs_sql import runs_view_sql
from sparktrack.tracking._snapshot import SNAPSHOT_TAG
from sparktrack.tracking._snapshot_store import SourceSnapshot
from sparktrack.tracking._spark_cost import SPARK_COST_METRICS, drain_spark_cost, log_spark_cost
from sparktrack.tracking._spark_frame import to_spark_dataframe
from sparktrack.tracking._spark_jobs import (
    context_of,
    run_job_tag,
    running_context,
    spark_jobs_tagged,
    thread_job_tags,
)
from sparktrack.tracking._validation import MAX_TAG_VALUE, check_key, now_ms

# Besides the public API, names for the layers above tracking (each says so in its
# docstring): they reach tracking only through this list.
__all__ = [
    "DEFAULT_EXPERIMENT_ID",
    "DEFAULT_EXPERIMENT_NAME",
    "MAX_TAG_VALUE",
    "RUN_ID_ENV_VAR",
    "SNAPSHOT_TAG",
    "SPARK_COST_METRICS",
    "ActiveRun",
    "Change",
    "DatasetInput",
    "Experiment",
    "LoggedModel",
    "LoggedModelStatus",
    "LoggedModels",
    "Metric",
    "Run",
    "RunData",
    "RunDiff",
    "RunInfo",
    "RunStatus",
    "SourceSnapshot",
    "TrackingClient",
    "active_experiment_id",
    "active_run",
    "before_flush",
    "check_key",
    "context_of",
    "current_user",
    "diff_runs",
    "drain_spark_cost",
    "end_run",
    "event_time_us",
    "flush",
    "get_client",
    "get_metric_history",
    "get_run",
    "is_logged_model_id",
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
    "log_spark_cost",
    "log_text",
    "now_ms",
    "provide_registry",
    "read_git_tags",
    "remember_last_run",
    "run_from_environment",
    "run_id_for_logging",
    "run_job_tag",
    "running_context",
    "runs_view_sql",
    "search_runs",
    "set_experiment",
    "set_store",
    "set_tag",
    "set_tags",
    "spark_jobs_tagged",
    "start_run",
    "thread_job_tags",
    "to_spark_dataframe",
]
