"""``sparktrack.autolog()``: track every fit without changing the training code.

    import sparktrack
    sparktrack.autolog()
    model = pipeline.fit(train)        # a run with params, metrics, the model, the dataset

Integrations: ``pyspark.ml`` (every Estimator, Pipeline, CrossValidator,
TrainValidationSplit, OneVsRest, Evaluator) and Sparkling Water (``pysparkling``).
Each is enabled when its library can be imported.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from typing import Any

from sparktrack.autologging._config import AutologConfig
from sparktrack.autologging._nesting import claim_nested
from sparktrack.autologging._pyspark._params import nested_estimator_uids
from sparktrack.autologging._safety import AutologWarning, set_silent
from sparktrack.autologging._worker import submit
from sparktrack.errors import InvalidInputError

__all__ = [
    "AutologConfig",
    "AutologWarning",
    "autolog",
    "claim_nested",
    "enabled_integrations",
    "nested_estimator_uids",
    "submit",
]

_enabled: set[str] = set()


def enabled_integrations() -> list[str]:
    return sorted(_enabled)


def autolog(
    *,
    log_models: bool = True,
    log_datasets: bool = True,
    log_post_training_metrics: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    silent: bool = False,
    max_tuning_runs: int | None = 5,
    log_model_allowlist: Sequence[str] | None = None,
    registered_model_name: str | None = None,
    extra_tags: Mapping[str, Any] | None = None,
) -> None:
    """Turn on (or with ``disable=True`` off) autologging for every available integration.

    Arguments mean what they mean in MLflow: ``log_models`` logs the fitted model
    (``log_model_allowlist`` names the model classes allowed; large ones such as
    ``ALSModel`` are left out by default), ``log_datasets`` records the training data's
    lineage, ``log_post_training_metrics`` logs ``Evaluator.evaluate`` results on a
    tracked model's predictions to its run, ``exclusive`` never logs into runs you
    started yourself, ``silent`` hides autolog's warnings, ``max_tuning_runs`` caps the
    child runs of a tuner (None: all), ``extra_tags`` go on every run autolog creates.
    """
    if max_tuning_runs is not None and (
        isinstance(max_tuning_runs, bool)
        or not isinstance(max_tuning_runs, int)
        or max_tuning_runs < 0
    ):
        raise InvalidInputError(
            f"max_tuning_runs {max_tuning_runs!r} must be None or an integer >= 0"
        )
    config = AutologConfig(
        log_models=log_models,
        log_datasets=log_datasets,
        log_post_training_metrics=log_post_training_metrics,
        exclusive=exclusive,
        silent=silent,
        max_tuning_runs=max_tuning_runs,
        log_model_allowlist=list(log_model_allowlist) if log_model_allowlist else None,
        registered_model_name=registered_model_name,
        extra_tags=dict(extra_tags or {}),
    )
    if importlib.util.find_spec("pyspark") is not None:
        from sparktrack.autologging import _pyspark

        if disable:
            _pyspark.disable()
            _enabled.discard(_pyspark.INTEGRATION)
        else:
            set_silent(_pyspark.INTEGRATION, silent)
            _pyspark.enable(config)
            _enabled.add(_pyspark.INTEGRATION)
    # Sparkling Water: enrichers of the pyspark integration's runs (find_spec does not
    # import pysparkling, whose import loads a 240 MB jar).
    if importlib.util.find_spec("pyspark") and importlib.util.find_spec("pysparkling"):
        from sparktrack.autologging import _h2o

        if disable:
            _h2o.disable()
            _enabled.discard(_h2o.INTEGRATION)
        else:
            set_silent(_h2o.INTEGRATION, silent)
            _h2o.enable()
            _enabled.add(_h2o.INTEGRATION)
