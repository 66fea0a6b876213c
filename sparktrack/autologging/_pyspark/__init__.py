"""Autolog for ``pyspark.ml``: every Estimator, Pipeline, tuner and Evaluator.

One patch on ``Estimator.fit`` covers every estimator (MLlib's, user subclasses,
Sparkling Water's), because they all inherit it and implement ``_fit``. A fit
inside a tracked fit is not a run of its own (see ``_nesting``). The fit itself
runs exactly as without autolog; params are logged before it, and everything that
costs Spark jobs runs on the autolog worker thread: what depends only on the
training DataFrame (``_training_data``) while the fit trains, what depends on the
fitted model (summary metrics, the model) after it.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from collections.abc import Callable
from typing import Any

from sparktrack import models
from sparktrack.autologging import _worker
from sparktrack.autologging._config import AutologConfig
from sparktrack.autologging._nesting import claim_nested, is_nested
from sparktrack.autologging._pyspark._params import (
    flatten_params,
    nested_estimator_uids,
    stage_hierarchy,
    stage_labels,
)
from sparktrack.autologging._pyspark._post_training import (
    PredictionRegistry,
    dataset_variable_name,
)
from sparktrack.autologging._pyspark._summary import fitted_models_with_summary, summary_metrics
from sparktrack.autologging._pyspark._training_data import TrainingData
from sparktrack.autologging._pyspark._tuning import (
    TuningTracker,
    set_current_tracker,
    wrap_fit_tasks,
)
from sparktrack.autologging._safety import (
    is_testing,
    logging_errors_handled,
    patch,
    revert,
    safe_patch,
)
from sparktrack.errors import ParamConflictError
from sparktrack.session import using_session
from sparktrack.tracking import (
    RunStatus,
    TrackingClient,
    active_experiment_id,
    active_run,
    context_of,
    drain_spark_cost,
    get_client,
    log_spark_cost,
    remember_last_run,
    run_from_environment,
    run_job_tag,
    spark_jobs_tagged,
)

__all__ = [
    "INTEGRATION",
    "ModelEnricher",
    "disable",
    "enable",
    "nested_estimator_uids",
    "register_model_enricher",
    "registry",
    "unregister_model_enricher",
]

INTEGRATION = "pyspark.ml"
# Models too large to log by default (MLflow's reasoning): add them to
# ``log_model_allowlist`` to log them anyway.
_LARGE_MODELS = frozenset(
    {
        "pyspark.ml.recommendation.ALSModel",
        "pyspark.ml.fpm.FPGrowthModel",
        "pyspark.ml.feature.Word2VecModel",
        "pyspark.ml.clustering.DistributedLDAModel",
        "pyspark.ml.clustering.LocalLDAModel",
    }
)

_config: AutologConfig | None = None
_config_lock = threading.Lock()
registry = PredictionRegistry()

# Other integrations (Sparkling Water) add what only they know about a fitted model:
# ``enricher(tracked_fit, model, dataset)`` logs extra things and may return the model
# to log instead (a grid's best model, say); None keeps the current one.
ModelEnricher = Callable[["_TrackedFit", Any, Any], Any]
_model_enrichers: list[ModelEnricher] = []


def register_model_enricher(enricher: ModelEnricher) -> None:
    if enricher not in _model_enrichers:
        _model_enrichers.append(enricher)


def unregister_model_enricher(enricher: ModelEnricher) -> None:
    if enricher in _model_enrichers:
        _model_enrichers.remove(enricher)


def _qualified(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__name__}"


def model_allowed(model: Any, allowlist: Any) -> bool:
    from pyspark.ml import PipelineModel

    if isinstance(model, PipelineModel):
        return all(model_allowed(stage, allowlist) for stage in model.stages)
    name = _qualified(model)
    if allowlist is not None:
        return name in allowlist or "*" in allowlist
    if name.startswith("pyspark.ml."):
        return name not in _LARGE_MODELS
    return True  # user models and other libraries' models: logged, the allowlist narrows


class _TrackedFit:
    """Everything autolog knows about one top-level fit."""

    def __init__(
        self,
        config: AutologConfig,
        estimator: Any,
        run_id: str,
        experiment_id: str,
        owns_run: bool,
        client: TrackingClient,
    ) -> None:
        self.config = config
        self.estimator = estimator
        self.run_id = run_id
        self.experiment_id = experiment_id
        self.owns_run = owns_run
        self.client = client
        self.nested_uids = nested_estimator_uids(estimator)
        self.tracker: TuningTracker | None = None
        self.training: TrainingData | None = None
        self.failed = False

    # -- before the fit ----------------------------------------------------------------
    @classmethod
    def start(cls, config: AutologConfig, estimator: Any) -> _TrackedFit | None:
        client = get_client()
        # In a job `sparktrack run` launched, the project's run is the active one.
        active = active_run() or run_from_environment()
        if active is not None:
            if config.exclusive:
                return None
            run_id = active.info.run_id
            experiment_id = active.info.experiment_id
            owns_run = False
        else:
            run = client.create_run(
                active_experiment_id(client),
                run_name=type(estimator).__name__,
                tags={"sparktrack.autolog": INTEGRATION, **config.extra_tags},
            )
            run_id, experiment_id, owns_run = run.info.run_id, run.info.experiment_id, True
            remember_last_run(run_id)
        fit = cls(config, estimator, run_id, experiment_id, owns_run, client)
        fit.log_params(flatten_params(estimator))
        client.set_tag(run_id, "sparktrack.estimator_class", _qualified(estimator))
        fit.tracker = fit.tuning_tracker()
        # Commit the run's start, params and tags while the fit trains: reading the run's
        # tags after it (for the model's history) then waits for no commit.
        client.store.request_commit(fsync=False)
        return fit

    def read_training_data(self, dataset: Any, session: Any) -> None:
        """Start reading ``TrainingData`` on the autolog worker, alongside the fit."""
        if self.config.log_models or self.config.log_datasets:
            self.training = TrainingData(dataset)
            # A fit that raised before the worker got to the read has nothing to log.
            self.training.read_on_worker(self.config, session, INTEGRATION, lambda: self.failed)

    def training_data(self, dataset: Any) -> TrainingData:
        """What was read of ``dataset`` during the fit (it reads the rest when asked)."""
        return self.training if self.training is not None else TrainingData(dataset)

    def log_params(self, params: dict[str, str]) -> None:
        try:
            self.client.log_params(self.run_id, params)
        except ParamConflictError:
            # The user's own run already holds some of these keys (two fits in one run):
            # keep theirs, log the rest.
            for key, value in params.items():
                try:
                    self.client.log_param(self.run_id, key, value)
                except ParamConflictError:
                    continue

    def tuning_tracker(self) -> TuningTracker | None:
        from pyspark.ml.tuning import CrossValidator, TrainValidationSplit

        if not isinstance(self.estimator, (CrossValidator, TrainValidationSplit)):
            return None
        return TuningTracker(
            self.client,
            self.run_id,
            self.experiment_id,
            self.estimator,
            stage_labels(self.estimator),
            self.config.max_tuning_runs,
            dict(self.config.extra_tags),
        )

    # -- after the fit (on the autolog worker) -----------------------------------------
    def after_fit(self, model: Any, dataset: Any, fit_seconds: float) -> None:
        client = self.client
        with logging_errors_handled(INTEGRATION, "metrics"):
            client.log_metric(self.run_id, "fit_seconds", fit_seconds)
        model_to_log = model
        if self.tracker is not None:
            with logging_errors_handled(INTEGRATION, "tuning results"):
                model_to_log = self.log_tuning_results(model)
        else:
            with logging_errors_handled(INTEGRATION, "training summary metrics"):
                self.log_summary_metrics(model)
        for enricher in list(_model_enrichers):
            with logging_errors_handled(INTEGRATION, "model enricher"):
                replacement = enricher(self, model_to_log, dataset)
                if replacement is not None:
                    model_to_log = replacement
        with logging_errors_handled(INTEGRATION, "estimator hierarchy"):
            client.log_dict(
                self.run_id, stage_hierarchy(self.estimator), "estimator_hierarchy.json"
            )
        if self.config.log_datasets:
            with logging_errors_handled(INTEGRATION, "dataset"):
                client.log_input(self.run_id, self.training_data(dataset).description())
        if self.config.log_models:
            with logging_errors_handled(INTEGRATION, "model"):
                self.log_model(model_to_log, dataset)
        if self.owns_run:
            with logging_errors_handled(INTEGRATION, "ending the run"):
                client.set_terminated(self.run_id, RunStatus.FINISHED)

    def log_summary_metrics(self, model: Any) -> None:
        found = fitted_models_with_summary(model)
        prefix_needed = len(found) > 1
        for label, summary in found:
            singles, series = summary_metrics(summary)
            prefix = f"{label}." if prefix_needed else ""
            self.client.log_metrics(self.run_id, {prefix + k: v for k, v in singles.items()})
            for name, values in series.items():
                for step, value in enumerate(values):
                    self.client.log_metric(self.run_id, prefix + name, value, step=step)

    def log_tuning_results(self, model: Any) -> Any:
        tracker = self.tracker
        assert tracker is not None
        tracker.finish()
        rows = tracker.search_results()
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
        writer.writeheader()
        writer.writerows(rows)
        self.client.log_text(self.run_id, buffer.getvalue(), "search_results.csv")
        averages = [r[f"avg_{tracker.metric_name}"] for r in rows]
        scored = [(a, i) for i, a in enumerate(averages) if a is not None]
        if scored:
            best_value, best = (max if tracker.larger_is_better else min)(scored)
            best_params = {
                f"best.{k}": v
                for k, v in rows[best].items()
                if k not in ("param_map", "run_id", "fit_seconds")
                and not k.startswith(("avg_", "std_", "fold_"))
            }
            self.log_params(best_params)
            self.client.log_metrics(
                self.run_id,
                {
                    f"best_avg_{tracker.metric_name}": best_value,
                    f"best_std_{tracker.metric_name}": rows[best][f"std_{tracker.metric_name}"],
                },
            )
            if rows[best]["run_id"]:
                self.client.set_tag(self.run_id, "sparktrack.best_run_id", rows[best]["run_id"])
        return model.bestModel

    def log_model(self, model: Any, dataset: Any) -> None:
        if not model_allowed(model, self.config.log_model_allowlist):
            self.client.set_tag(
                self.run_id,
                "sparktrack.model_not_logged",
                f"{_qualified(model)} is not in log_model_allowlist",
            )
            return
        training = self.training_data(dataset)
        signature = models.signature_for_spark_model(
            model, training.schema(), spark=dataset.sparkSession
        )
        inputs = signature.input_names
        example = training.example(inputs) if inputs else None
        models.log_model(
            model,
            "model",
            run_id=self.run_id,
            input_example=example,
            signature=signature,
            client=self.client,
            registered_model_name=self.config.registered_model_name,
            # Profiled (profile.json) only when asked: it costs a pass over the data.
            training_data=dataset if self.config.log_profiles else None,
        )

    def fail(self) -> None:
        self.failed = True
        if self.owns_run:
            with logging_errors_handled(INTEGRATION, "ending the run"):
                self.client.set_terminated(self.run_id, RunStatus.FAILED)


def _patched_fit(original: Any, estimator: Any, dataset: Any, params: Any = None) -> Any:
    config = _config
    if config is None or is_nested(estimator.uid) or isinstance(params, (list, tuple)):
        return original(estimator, dataset, params)
    target = estimator.copy(params) if isinstance(params, dict) and params else estimator
    tracked: _TrackedFit | None = None
    with logging_errors_handled(INTEGRATION, "starting the run"):
        tracked = _TrackedFit.start(config, target)
    if tracked is None:
        return original(estimator, dataset, params)
    # The user's session, as the fit got it: the worker thread has no active session of
    # its own, and everything done there for this fit must use this one, unchanged.
    session = getattr(dataset, "sparkSession", None)
    with logging_errors_handled(INTEGRATION, "reading the training data"):
        tracked.read_training_data(dataset, session)
    # A run autolog starts owns the fit's Spark jobs; in the user's run, the user's run does.
    own_jobs = [run_job_tag(tracked.run_id)] if tracked.owns_run else []
    context = context_of(session) if own_jobs else None
    started = time.perf_counter()
    with claim_nested(tracked.nested_uids):
        set_current_tracker(tracked.tracker)
        try:
            with spark_jobs_tagged(
                own_jobs, enabled=tracked.client.settings.spark_cost, context=context
            ):
                model = original(estimator, dataset, params)
        except BaseException:
            tracked.fail()
            raise
        finally:
            set_current_tracker(None)
            with logging_errors_handled(INTEGRATION, "what the fit cost on the cluster"):
                if tracked.tracker is not None:
                    tracked.tracker.log_children_cost()
                log_spark_cost(tracked.client, tracked.run_id, own_jobs, context=context)
    elapsed = time.perf_counter() - started
    with logging_errors_handled(INTEGRATION, "tracking the model"):
        registry.track_model(model, tracked.run_id)
        best = getattr(model, "bestModel", None)
        if best is not None:
            registry.track_model(best, tracked.run_id)

    def job() -> None:
        with logging_errors_handled(INTEGRATION, "after the fit"), using_session(session):
            tracked.after_fit(model, dataset, elapsed)

    # In test mode logging runs in the fit's thread, so its errors reach the test.
    _worker.submit(job, synchronous=is_testing())
    return model


def _patched_transform(original: Any, model: Any, dataset: Any, params: Any = None) -> Any:
    output = original(model, dataset, params)
    config = _config
    if config is not None and config.log_post_training_metrics:
        run_id = registry.run_of_model(model)
        if run_id is not None:
            with logging_errors_handled(INTEGRATION, "tracking predictions"):
                registry.record_transform(model, run_id, output)
    return output


def _patched_evaluate(original: Any, evaluator: Any, dataset: Any, params: Any = None) -> Any:
    metric = original(evaluator, dataset, params)
    config = _config
    if config is None or not config.log_post_training_metrics or registry.empty:
        return metric
    with logging_errors_handled(INTEGRATION, "post-training metric"):
        run_id = registry.run_of_dataset(evaluator, dataset)
        if run_id is not None:
            name = (
                evaluator.getMetricName()
                if hasattr(evaluator, "getMetricName")
                else type(evaluator).__name__
            )
            key = registry.metric_key(run_id, name, dataset_variable_name(dataset))
            get_client().log_metric(run_id, key, float(metric))
    return metric


def _patched_stop(original: Any, context: Any) -> Any:
    # Logging after a fit may still need Spark: let it finish before the context goes.
    _worker.drain()
    drain_spark_cost()
    return original(context)


def enable(config: AutologConfig) -> None:
    """Patch pyspark.ml (idempotent: a second call only replaces the configuration)."""
    global _config
    import pyspark.ml.tuning as tuning
    from pyspark import SparkContext
    from pyspark.ml.base import Estimator, Transformer
    from pyspark.ml.evaluation import Evaluator

    with _config_lock:
        first = _config is None
        _config = config
        if not first:
            return
        safe_patch(INTEGRATION, Estimator, "fit", _patched_fit)
        safe_patch(INTEGRATION, Transformer, "transform", _patched_transform)
        safe_patch(INTEGRATION, Evaluator, "evaluate", _patched_evaluate)
        safe_patch(INTEGRATION, SparkContext, "stop", _patched_stop)
        patch(INTEGRATION, tuning, "_parallelFitTasks", wrap_fit_tasks(tuning._parallelFitTasks))


def disable() -> None:
    global _config
    with _config_lock:
        _config = None
        revert(INTEGRATION)
