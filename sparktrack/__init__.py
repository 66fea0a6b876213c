"""sparktrack: experiment tracking native to Apache Spark and Delta Lake.

The facade: the fluent tracking API, ``TrackingClient``, ``autolog``, ``sweep``,
models and the model registry, with MLflow's names. Each name comes from one of the
subpackages (``sparktrack.tracking``, ``sparktrack.models``, ...), which hold more.

Example:
    ```python
    import sparktrack

    sparktrack.set_experiment("churn")
    with sparktrack.start_run(run_name="lr"):
        sparktrack.log_param("regParam", 0.01)
        sparktrack.log_metric("auc", 0.91)
    sparktrack.search_runs(filter_string="metrics.auc > 0.9")
    ```
"""

from __future__ import annotations

# First, before any module imports deltalake: see the module's docstring.
from sparktrack import _rust_logging  # noqa: F401
from sparktrack._version import __version__
from sparktrack.autologging import autolog
from sparktrack.errors import (
    AlreadyExistsError,
    ConfigurationError,
    InvalidInputError,
    NotFoundError,
    ParamConflictError,
    RunStateError,
    SearchSyntaxError,
    SparktrackError,
    StoreError,
)
from sparktrack.models import load_model, log_model, spark_udf
from sparktrack.monitoring import monitor
from sparktrack.registry import (
    ModelVersion,
    RegisteredModel,
    delete_model_alias,
    delete_model_version,
    delete_registered_model,
    get_model_history,
    get_model_version,
    get_model_version_by_alias,
    get_registered_model,
    register_model,
    search_model_versions,
    search_registered_models,
    set_model_alias,
    set_model_stage,
)
from sparktrack.session import spark_session
from sparktrack.sweeps import SweepResult, sweep
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

__all__ = [
    "ActiveRun",
    "AlreadyExistsError",
    "ConfigurationError",
    "DatasetInput",
    "Experiment",
    "InvalidInputError",
    "Metric",
    "ModelVersion",
    "NotFoundError",
    "ParamConflictError",
    "RegisteredModel",
    "Run",
    "RunData",
    "RunInfo",
    "RunStateError",
    "RunStatus",
    "SearchSyntaxError",
    "SparktrackError",
    "StoreError",
    "SweepResult",
    "TrackingClient",
    "__version__",
    "active_run",
    "autolog",
    "delete_model_alias",
    "delete_model_version",
    "delete_registered_model",
    "end_run",
    "flush",
    "get_client",
    "get_metric_history",
    "get_model_history",
    "get_model_version",
    "get_model_version_by_alias",
    "get_registered_model",
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
    "monitor",
    "register_model",
    "search_model_versions",
    "search_registered_models",
    "search_runs",
    "set_experiment",
    "set_model_alias",
    "set_model_stage",
    "set_store",
    "set_tag",
    "set_tags",
    "spark_session",
    "spark_udf",
    "start_run",
    "sweep",
]
