"""``sparktrack.sweep``: the entry point; the work is in ``_runner``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sparktrack.sweeps._result import SweepResult

__all__ = ["sweep"]


def sweep(
    target: Any,
    space: Mapping[Any, Any] | Callable[[Any], Mapping[str, Any]],
    *,
    name: str | None = None,
    train: Any = None,
    valid: Any = None,
    num_folds: int | None = None,
    evaluator: Any = None,
    metric: str | None = None,
    mode: str | None = None,
    strategy: Any = "tpe",
    max_trials: int | None = None,
    timeout: float | None = None,
    parallelism: int | None = None,
    early_stopping: Any = None,
    register_as: str | None = None,
    seed: int | None = None,
    progress: bool = True,
) -> SweepResult:
    """Run a hyperparameter sweep; the sweep is a run and every trial a child run.

    ``target``: a pyspark.ml Estimator (Pipeline, CrossValidator-free; H2O estimators
    included), fitted per trial on the cluster from ``parallelism`` driver threads and
    scored by ``evaluator`` on ``valid`` or on ``num_folds`` folds of ``train`` (3
    when neither is given; the best params are then refitted on all of ``train``);
    or a function ``fn(params)`` / ``fn(params, trial)`` returning a dict of metrics,
    run as Spark tasks, ``parallelism`` at a time (default: the cluster's cores),
    optimising ``metric`` in ``mode`` ("min"/"max"); ``train`` is broadcast to it as
    ``trial.data``.

    ``space``: name -> list of values / choice / uniform / loguniform / int_range
    (names are params of the estimator or its stages: ``regParam``,
    ``LogisticRegression.regParam``, or Param objects such as ``lr.regParam``), or a
    function of an Optuna trial for conditional spaces. ``strategy``: "grid",
    "random", "tpe" or an Optuna sampler. Budgets: ``max_trials`` (grid: the grid's
    size), ``timeout`` seconds (no new trial starts after it). ``early_stopping``:
    "median", "hyperband", "successive_halving" or an Optuna pruner, applied to the
    intermediate values (fold scores; ``trial.report`` in functions).

    ``name``: running a sweep again with the same name in the same experiment resumes
    it: finished trials are kept, trials a killed driver left unfinished run again.
    ``register_as``: register the best model (estimator sweeps) under that name.
    Ctrl-C cancels the running trials' Spark jobs and ends the sweep KILLED.

    A failing trial is a FAILED child run and the sweep goes on; if every trial failed,
    ``SweepFailedError`` carries the first one's error. Function trials need on the
    executors only what the function imports (sparktrack sends its own task code), and
    Optuna with ``early_stopping``: when the first trials fail because the executors
    cannot import a module, a ``ConfigurationError`` names it and how to ship it.
    """
    from sparktrack.sweeps._runner import Sweep
    from sparktrack.tracking import get_client

    return Sweep(
        get_client(),
        target,
        space,
        name=name,
        train=train,
        valid=valid,
        num_folds=num_folds,
        evaluator=evaluator,
        metric=metric,
        mode=mode,
        strategy=strategy,
        max_trials=max_trials,
        timeout=timeout,
        parallelism=parallelism,
        early_stopping=early_stopping,
        register_as=register_as,
        seed=seed,
        progress=progress,
    ).run()
