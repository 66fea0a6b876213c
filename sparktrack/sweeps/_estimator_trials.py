"""Estimator trials: a pyspark.ml Estimator fitted per trial from the sweep's threads.

Each trial fits on the cluster from a driver thread, as CrossValidator's own pool
does, and is scored by the evaluator on ``valid`` or on the folds of ``train``
(split and cached once, for as long as the trials run). With one validation set the
best trial's model is the sweep's model; with folds the best params are refitted on
all of ``train``, as CrossValidator does for its ``bestModel``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import Any

from sparktrack.autologging import claim_nested, nested_estimator_uids, submit
from sparktrack.errors import InvalidInputError, SparktrackError
from sparktrack.models import log_model
from sparktrack.sweeps._estimator import EstimatorTarget, Folds, evaluator_direction, resolve_param
from sparktrack.sweeps._options import SweepOptions
from sparktrack.sweeps._records import TrialRecord, rank
from sparktrack.sweeps._space import SearchSpace
from sparktrack.sweeps._study import optuna_module
from sparktrack.sweeps._trials import BestModel, LiveTrial, Outcome, now_ms
from sparktrack.tracking import TrackingClient

__all__ = ["EstimatorTrials", "is_estimator"]

_log = logging.getLogger("sparktrack")


def is_estimator(target: Any) -> bool:
    """Whether ``target`` is a pyspark.ml Estimator (H2O's included) rather than a function."""
    return hasattr(target, "fit") and hasattr(target, "explainParams")


class EstimatorTrials:
    """The ``TrialRunner`` of estimator sweeps.

    Raises (when built):
        InvalidInputError: ``train`` is not a Spark DataFrame, ``evaluator`` is missing
            or not an Evaluator, ``mode`` contradicts the evaluator, or a space key
            names no param of the estimator.
    """

    def __init__(
        self,
        estimator: Any,
        space: SearchSpace,
        options: SweepOptions,
        *,
        train: Any,
        valid: Any,
        evaluator: Any,
    ) -> None:
        if train is None or not hasattr(train, "sparkSession"):
            raise InvalidInputError(
                "an estimator sweep needs train= a Spark DataFrame (and valid= or num_folds=)"
            )
        if evaluator is None:
            raise InvalidInputError(
                "an estimator sweep needs evaluator= (e.g. BinaryClassificationEvaluator()): "
                "it scores each trial and says whether bigger is better"
            )
        maximize = evaluator_direction(evaluator)
        if options.mode is not None and options.maximize != maximize:
            raise InvalidInputError(
                f"mode={options.mode!r} contradicts the evaluator, for which "
                f"{'bigger' if maximize else 'smaller'} is better; leave mode out"
            )
        params = {}
        if space.define is None:
            objects = space.objects or {}
            for key in space.keys:
                params[key] = resolve_param(estimator, key, objects.get(key))
        seed = options.seed if options.seed is not None else 0
        self._folds = Folds(train, valid, options.num_folds or 3, seed)
        self._target = EstimatorTarget(estimator, evaluator, self._folds, params, maximize)
        self._train = train
        self._register_as = options.register_as
        self.metric = self._target.metric_name
        self.maximize = maximize
        self.parallelism = options.parallelism or 2
        self.spark = train.sparkSession
        # (number, value, fitted model) of the best trial so far when validating on
        # valid=: that model is the result, no refit needed.
        self._kept: tuple[int, float, Any] | None = None
        self._kept_lock = threading.Lock()

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Folds cached, and autolog kept out of the trials' fits, while trials run."""
        self._folds.open()
        try:
            with self._unlogged_fits():
                yield
        finally:
            self._folds.release()

    def _unlogged_fits(self) -> contextlib.AbstractContextManager[None]:
        """Autolog stays out of the trials' fits: each trial is already a run."""
        # Autolog's own walk: every Params object under the estimator (pipeline stages,
        # a OneVsRest's classifier, ...), so no nested fit becomes a run either.
        estimator = self._target.estimator
        return claim_nested({estimator.uid} | nested_estimator_uids(estimator))

    def run(self, trial: LiveTrial) -> Outcome:
        """Fit and score the trial's params on each fold, pruning between folds."""
        optuna = optuna_module()
        prunable = self._folds.count > 1

        def report(value: float, step: int) -> None:
            if not prunable:
                # One score is the trial's result: nothing is left to prune.
                trial.log_intermediate(value, step)
                return
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned()

        start_ms = now_ms()
        try:
            value, model, scores = self._target.run(trial.params, report)
        except optuna.TrialPruned:
            return Outcome("pruned", start_ms=start_ms, end_ms=now_ms())
        except Exception as exc:
            return Outcome.failure(exc, start_ms=start_ms, end_ms=now_ms())
        metrics = {self.metric: value}
        if len(scores) > 1:
            metrics[f"std_{self.metric}"] = _std(scores)
        if not prunable:
            self._keep_if_best(trial.number, value, model)
        return Outcome("complete", value, metrics, start_ms=start_ms, end_ms=now_ms())

    def _keep_if_best(self, number: int, value: float, model: Any) -> None:
        with self._kept_lock:
            if self._kept is None or rank(value, number, maximize=self.maximize) > rank(
                self._kept[1], self._kept[0], maximize=self.maximize
            ):
                self._kept = (number, value, model)

    def check_finished(self, finished: list[TrialRecord]) -> None:
        """Estimator trials fail one by one; nothing stops the sweep early."""

    def best_model(self, best: TrialRecord, *, client: TrackingClient, run_id: str) -> BestModel:
        """The best trial's model, logged into the sweep's run ``run_id``.

        After folds (or in a resumed sweep) the best params are refitted on all of
        ``train``. With ``register_as`` the model is registered, and waited for; else
        it is saved on autolog's background thread (``flush()`` waits for it).
        """
        if self._kept is not None and self._kept[0] == best.number:
            model = self._kept[2]
        else:
            with self._unlogged_fits():
                model = self._target.refit(self._train, best.params)

        def save() -> int | None:
            info = log_model(
                model,
                "model",
                run_id=run_id,
                client=client,
                registered_model_name=self._register_as,
                training_data=self._train,  # its baseline for sparktrack.monitor
            )
            return info.registered_model_version

        if self._register_as is not None:
            return BestModel(model, save())

        def save_in_background() -> None:
            try:
                save()
            except Exception as exc:  # the sweep's result is already with the user
                _log.warning("sparktrack could not save the sweep's best model: %s", exc)

        submit(save_in_background)
        return BestModel(model)

    def explain_failure(self, first: TrialRecord) -> SparktrackError | None:
        """A failed fit says what it says: SweepFailedError carries it."""
        return None


def _std(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5
