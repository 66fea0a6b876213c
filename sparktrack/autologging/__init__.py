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

from sparktrack.autologging import _h2o, _pyspark
from sparktrack.autologging._config import AutologConfig
from sparktrack.autologging._nesting import claim_nested
from sparktrack.autologging._pyspark import nested_estimator_uids
from sparktrack.autologging._safety import AutologWarning, set_silent
from sparktrack.autologging._worker import submit
from sparktrack.errors import InvalidInputError

# Besides the public API, names for sweeps (internal use, each says so in its docstring).
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
    """Tell which integrations ``autolog()`` has turned on.

    Returns:
        Their names, sorted: ``"pyspark.ml"``, and ``"pysparkling"`` when Sparkling
        Water is installed; empty before ``autolog()`` and after
        ``autolog(disable=True)``.
    """
    return sorted(_enabled)


def autolog(
    *,
    log_models: bool = True,
    log_profiles: bool = False,
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

    Call it once, before training; the training code stays as it is. Every
    ``pyspark.ml`` fit (and every Sparkling Water fit, when ``pysparkling`` is
    installed) then becomes a run with its params, metrics, model and dataset. Your
    result and your exceptions pass through untouched; a failure inside logging becomes
    one ``AutologWarning`` and training carries on. Calling it again replaces the
    settings. Arguments mean what they mean in MLflow.

    Args:
        log_models: Log the fitted model (an MLflow-compatible ``model/`` folder).
        log_profiles: Also profile the training data into the model's ``profile.json``
            (the baseline ``sparktrack.monitor`` compares new data with), on the
            background thread after the fit; it adds a Spark pass over the training
            data (and the model's predictions) to the time until the run is committed.
            Off by default; ``sparktrack.monitoring.profile(model_uri, df)`` profiles a
            logged model later.
        log_datasets: Record the training data's lineage in the ``inputs`` table.
        log_post_training_metrics: Log ``Evaluator.evaluate`` results on a tracked
            model's predictions to that model's run, as ``<metric>_<variable name>``.
        disable: Revert every patch instead; the other arguments are ignored.
        exclusive: Never log into runs you started yourself: a fit made while one of
            your runs is active is not logged.
        silent: Hide autolog's own warnings (``AutologWarning``).
        max_tuning_runs: The most child runs a tuner (CrossValidator,
            TrainValidationSplit, H2OGridSearch, H2OAutoML) writes: above it, only the
            best are written, after the search. None: all of them.
        log_model_allowlist: Fully qualified model classes to log (``"*"``: all). None:
            every model but ``ALSModel``, ``FPGrowthModel``, ``Word2VecModel`` and the
            LDA models, which are large.
        registered_model_name: Also register each logged model as that registered
            model's next version.
        extra_tags: Tags for every run autolog creates.

    Raises:
        InvalidInputError: ``max_tuning_runs`` is not None or an integer >= 0.
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
        log_profiles=log_profiles,
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
        if disable:
            _h2o.disable()
            _enabled.discard(_h2o.INTEGRATION)
        else:
            set_silent(_h2o.INTEGRATION, silent)
            _h2o.enable()
            _enabled.add(_h2o.INTEGRATION)
