"""Function trials: a plain Python function, one single-task Spark job per trial.

Trials start as slots free up and spread over the executors; each task calls the
function (``_function.run_in_task``, whose code travels with the task) and sends one
row back, which the driver logs. When the first trials fail because the executors
cannot import a module, ``ExecutorImports`` stops the sweep (see ``_executors``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from sparktrack.errors import InvalidInputError, SparktrackError
from sparktrack.session import spark_session
from sparktrack.sweeps._executors import ExecutorImports, import_problem, ship_task_code
from sparktrack.sweeps._function import TaskPayload, accepts_trial, run_in_task
from sparktrack.sweeps._options import SweepOptions, trial_budget
from sparktrack.sweeps._records import TrialRecord
from sparktrack.sweeps._space import SearchSpace
from sparktrack.sweeps._study import pruner_for
from sparktrack.sweeps._trials import BestModel, LiveTrial, Outcome
from sparktrack.tracking import TrackingClient

__all__ = ["FunctionTrials"]


class FunctionTrials:
    """The ``TrialRunner`` of function sweeps.

    Raises (when built):
        InvalidInputError: ``metric`` or ``mode`` is missing, ``register_as``,
            ``valid`` or ``num_folds`` is given (they are for estimators), ``train`` is
            a Spark DataFrame, or the strategy has no budget.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        space: SearchSpace,
        options: SweepOptions,
        *,
        train: Any,
        valid: Any,
    ) -> None:
        if options.metric is None or options.mode is None:
            raise InvalidInputError(
                "a function sweep needs metric= (the key of the returned dict to optimise) "
                "and mode= ('min' or 'max')"
            )
        if options.register_as is not None:
            raise InvalidInputError(
                "register_as works for estimator sweeps (they produce a Spark model); a "
                "function sweep can log and register its own model"
            )
        if hasattr(train, "sparkSession"):
            raise InvalidInputError(
                "function trials run inside Spark tasks and cannot use a Spark DataFrame; "
                "pass pandas / numpy data as train= (it is broadcast) or load data in fn"
            )
        if valid is not None or options.num_folds is not None:
            raise InvalidInputError(
                "valid= and num_folds= are for estimator sweeps; a function splits its own data"
            )
        # Checked before anything is shipped or broadcast.
        budget = trial_budget(options, space)
        self._fn = fn
        self._pass_trial = accepts_trial(fn)
        ship_task_code()
        self.metric = options.metric
        self.maximize = options.maximize
        self.spark = spark_session()
        context = self.spark.sparkContext
        self.parallelism = options.parallelism or context.defaultParallelism
        self._data = context.broadcast(train) if train is not None else None
        self._imports = ExecutorImports(
            fn,
            pruning=pruner_for(options.early_stopping) is not None,
            python=str(getattr(context, "pythonExec", None) or "python3"),
            # Two trials failing alike tell an environment from one unlucky param; a
            # budget of one trial has only that one.
            enough=min(2, budget or 2),
        )

    def running(self) -> contextlib.AbstractContextManager[None]:
        """Nothing to set up: the data was broadcast when the sweep was built."""
        return contextlib.nullcontext()

    def run(self, trial: LiveTrial) -> Outcome:
        """Run the trial as a one-task Spark job.

        Its intermediate values, reported in the task, go to the trial's run and to
        the study when the task is done.
        """
        snapshot = trial.pruning_snapshot()
        payload = TaskPayload(
            fn=self._fn,
            number=trial.number,
            params=trial.params,
            metric=self.metric,
            maximize=self.maximize,
            pass_trial=self._pass_trial,
            data=self._data,
            pruner=snapshot.pruner if snapshot is not None else None,
            finished=snapshot.finished if snapshot is not None else [],
        )
        context = self.spark.sparkContext
        try:
            rows = context.parallelize([0], 1).map(lambda _: run_in_task(payload)).collect()
        except Exception as exc:  # the task could not run at all (lost executor, pickling)
            return Outcome.failure(exc)
        row = rows[0]
        # The study keeps the curves too: later trials' pruning compares with them.
        for step, value in row["intermediate"]:
            trial.report(value, step)
        metrics = dict(row["metrics"] or {})
        return Outcome(
            row["state"],
            metrics.get(self.metric),
            metrics,
            error=row["error"],
            start_ms=row["start_ms"],
            end_ms=row["end_ms"],
            worker=row["worker"],
        )

    def check_finished(self, finished: list[TrialRecord]) -> None:
        """Stop the sweep when its first trials cannot import one module on the executors.

        Raises:
            ConfigurationError: Naming the module and how to ship it.
        """
        for record in finished:
            self._imports.observe(record)
        self._imports.check()

    def best_model(self, best: TrialRecord, *, client: TrackingClient, run_id: str) -> BestModel:
        """A function logs (and registers) its own models: nothing here."""
        return BestModel()

    def explain_failure(self, first: TrialRecord) -> SparktrackError | None:
        """The ConfigurationError naming the module the first failed trial lacked, if so."""
        problem = import_problem(first.error)
        return self._imports.error([(first, problem)]) if problem is not None else None
