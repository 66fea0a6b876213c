"""Autolog for Sparkling Water (``pysparkling``): H2O fits as complete runs.

H2O estimators are ``pyspark.ml`` Estimators, so the pyspark integration already
makes each fit a run with its params. This integration adds, through the pyspark
integration's model enrichers, what only H2O knows: training / validation /
cross-validation metrics, the scoring history as series, feature importances,
model details, and for H2OGridSearch / H2OAutoML a child run per trained model.
The model itself is logged by the pyspark integration; its folder gets an
``h2o_mojo`` flavor (see ``sparktrack.models._h2o_flavor``).
"""

from __future__ import annotations

from typing import Any

from sparktrack.autologging import _pyspark
from sparktrack.autologging._h2o._model import h2o_stages, log_model_details
from sparktrack.autologging._h2o._search import log_automl, log_grid_search
from sparktrack.autologging._safety import logging_errors_handled

__all__ = ["INTEGRATION", "disable", "enable", "enrich"]

INTEGRATION = "h2o"


def _estimator_kind(estimator: Any) -> str | None:
    if not type(estimator).__module__.startswith("ai.h2o.sparkling."):
        return None
    if hasattr(estimator, "getGridModelsParams"):
        return "grid"
    if hasattr(estimator, "getLeaderboard"):
        return "automl"
    return "algorithm"


def enrich(tracked: Any, model: Any, dataset: Any) -> Any:
    """The pyspark integration's hook: log what H2O knows; the model to log is unchanged.

    A grid's or AutoML's fit already returns its best model.
    """
    kind = _estimator_kind(tracked.estimator)
    if kind == "grid":
        with logging_errors_handled(INTEGRATION, "grid search models"):
            log_grid_search(tracked, tracked.estimator)
    elif kind == "automl":
        with logging_errors_handled(INTEGRATION, "AutoML leaderboard"):
            log_automl(tracked, tracked.estimator)
    stages = h2o_stages(model)
    for stage in stages:
        prefix = f"{type(stage).__name__}." if len(stages) > 1 else ""
        with logging_errors_handled(INTEGRATION, "model metrics"):
            log_model_details(tracked.client, tracked.run_id, stage, prefix)
    return None


def enable() -> None:
    _pyspark.register_model_enricher(enrich)


def disable() -> None:
    _pyspark.unregister_model_enricher(enrich)
