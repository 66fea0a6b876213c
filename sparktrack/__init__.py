"""sparktrack: experiment tracking native to Apache Spark and Delta Lake.

import sparktrack

sparktrack.set_experiment("churn")
with sparktrack.start_run(run_name="lr"):
    sparktrack.log_param("regParam", 0.01)
    sparktrack.log_metric("auc", 0.91)
sparktrack.search_runs(filter_string="metrics.auc > 0.9")
"""

from __future__ import annotations

from sparktrack.autologging import autolog
from sparktrack.errors import (
    ConfigurationError,
    InvalidInputError,
    NotFoundError,
    ParamConflictError,
    RunStateError,
    SearchSyntaxError,
    SparktrackError,
    StoreError,
)
from sparktrack.models import load_model, log_model
from sparktrack.session import spark_session
from sparktrack.tracking import (
    ActiveRun,
    DatasetInput,
    Experiment,
    Metric,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    TrackingClient,
    active_run,
    end_run,
    flush,
    get_client,
    get_metric_history,
    get_run,
    last_active_run,
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
    search_runs,
    set_experiment,
    set_store,
    set_tag,
    set_tags,
    start_run,
)

__version__ = "0.1.0"

__all__ = [
    "ActiveRun",
    "ConfigurationError",
    "DatasetInput",
    "Experiment",
    "InvalidInputError",
    "Metric",
    "NotFoundError",
    "ParamConflictError",
    "Run",
    "RunData",
    "RunInfo",
    "RunStateError",
    "RunStatus",
    "SearchSyntaxError",
    "SparktrackError",
    "StoreError",
    "TrackingClient",
    "__version__",
    "active_run",
    "autolog",
    "end_run",
    "flush",
    "get_client",
    "get_metric_history",
    "get_run",
    "last_active_run",
    "load_model",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_param",
    "log_params",
    "log_text",
    "search_runs",
    "set_experiment",
    "set_store",
    "set_tag",
    "set_tags",
    "spark_session",
    "start_run",
]
