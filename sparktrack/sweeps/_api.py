"""``sparktrack.sweep``: the entry point; the loop is ``_runner.Sweep``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from sparktrack.errors import InvalidInputError
from sparktrack.sweeps._estimator_trials import EstimatorTrials, is_estimator
from sparktrack.sweeps._function_trials import FunctionTrials
from sparktrack.sweeps._options import EarlyStopping, Mode, Strategy, SweepOptions
from sparktrack.sweeps._result import SweepResult
from sparktrack.sweeps._runner import Sweep
from sparktrack.sweeps._space import SearchSpace
from sparktrack.sweeps._trials import TrialRunner
from sparktrack.tracking import get_client

if TYPE_CHECKING:
    from optuna.pruners import BasePruner
    from optuna.samplers import BaseSampler

__all__ = ["sweep", "trial_runner"]


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
    mode: Mode | None = None,
    strategy: Strategy | BaseSampler = "tpe",
    max_trials: int | None = None,
    timeout: float | None = None,
    parallelism: int | None = None,
    early_stopping: EarlyStopping | BasePruner | Literal[False] | None = None,
    register_as: str | None = None,
    seed: int | None = None,
    progress: bool = True,
) -> SweepResult:
    """Run a hyperparameter sweep; the sweep is a run and every trial a child run.

    Two kinds of target. A pyspark.ml Estimator (a Pipeline, H2O estimators included)
    is fitted per trial on the cluster from ``parallelism`` driver threads and scored
    by ``evaluator`` on ``valid`` or on ``num_folds`` folds of ``train``; the best
    params are then refitted on all of ``train``. A function ``fn(params)`` or
    ``fn(params, trial)`` returning a dict of metrics runs as Spark tasks,
    ``parallelism`` at a time, optimising ``metric`` in ``mode``; ``trial`` is a
    ``FunctionTrial``. A failing trial is a FAILED child run and the sweep goes on.

    Args:
        target: A pyspark.ml Estimator, or a function of the trial's params.
        space: Param name -> a list of values, ``choice``, ``uniform``,
            ``loguniform`` or ``int_range``; names are params of the estimator or its
            stages (``regParam``, ``LogisticRegression.regParam``, a stage uid, or
            Param objects such as ``lr.regParam``). Or a function of an Optuna trial
            (``trial.suggest_*``) returning the params, for conditional spaces.
        name: Running a sweep again with the same name in the same experiment resumes
            it: finished trials are kept, trials a killed driver left unfinished run
            again.
        train: Estimators: the training DataFrame. Functions: any picklable data
            (pandas, numpy...), broadcast once and given to the function as
            ``trial.data``.
        valid: Estimators: the DataFrame that scores each trial (instead of folds).
        num_folds: Estimators: score each trial on this many folds of ``train``
            (3 when neither ``valid`` nor ``num_folds`` is given).
        evaluator: Estimators: the pyspark.ml Evaluator that scores each trial and
            says whether bigger is better.
        metric: Functions: the key of the returned dict to optimise.
        mode: Functions: "min" or "max".
        strategy: "grid" (every point once; the budget is the grid's size),
            "random", "tpe", or an ``optuna.samplers`` sampler.
        max_trials: At most this many trials.
        timeout: Seconds after which no new trial starts.
        parallelism: Trials at once (default: 2 for estimators, the cluster's cores
            for functions).
        early_stopping: "median", "hyperband", "successive_halving" or an
            ``optuna.pruners`` pruner, applied to the intermediate values (each
            fold's running mean score; ``trial.report`` in functions).
        register_as: Estimators: register the best model under this name.
        seed: Seeds the sampler and the folds' split.
        progress: Show a progress bar (tqdm).

    Returns:
        The sweep's run, its best trial and every trial (``SweepResult``).

    Raises:
        InvalidInputError: An argument is invalid (before anything runs); the message
            names it and what it accepts. Also when a named sweep exists with another
            space or metric.
        SweepFailedError: Every trial failed; it carries the first one's error.
        ConfigurationError: The first function trials failed because the executors
            cannot import a module; it names the module and how to ship it. Function
            trials need on the executors only what the function imports (sparktrack
            sends its own task code), and Optuna with ``early_stopping``.
        KeyboardInterrupt: Ctrl-C cancels the running trials' Spark jobs, ends them
            and the sweep KILLED, and raises on.
    """
    options = SweepOptions(
        name=name,
        metric=metric,
        mode=mode,
        strategy=strategy,
        max_trials=max_trials,
        timeout=timeout,
        parallelism=parallelism,
        num_folds=num_folds,
        early_stopping=early_stopping,
        register_as=register_as,
        seed=seed,
        progress=progress,
    )
    searched = SearchSpace.of(space)
    runner = trial_runner(target, searched, options, train=train, valid=valid, evaluator=evaluator)
    return Sweep(get_client(), searched, runner, options).run()


def trial_runner(
    target: Any,
    space: SearchSpace,
    options: SweepOptions,
    *,
    train: Any,
    valid: Any,
    evaluator: Any,
) -> TrialRunner:
    """The runner of ``target``'s kind: the one place an estimator is told from a function.

    Raises:
        InvalidInputError: ``target`` is neither, or the arguments do not fit its kind.
    """
    if is_estimator(target):
        return EstimatorTrials(
            target, space, options, train=train, valid=valid, evaluator=evaluator
        )
    if callable(target):
        return FunctionTrials(target, space, options, train=train, valid=valid)
    raise InvalidInputError(
        f"sweep target must be a pyspark.ml Estimator or a function fn(params) -> "
        f"dict of metrics; got {type(target).__name__}"
    )
