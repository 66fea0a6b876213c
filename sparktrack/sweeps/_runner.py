"""``sweep()``: the driver loop that asks Optuna for trials, runs them, logs them.

The sweep is a parent run; each trial is a child run created when the trial starts
(so running trials show up at once) and ended with its state when it finishes.
Trials run concurrently, ``parallelism`` at a time: estimator fits from driver
threads, function trials as Spark tasks. A failing trial becomes a FAILED child run
with its traceback as ``error.txt``; the sweep goes on, unless its first function
trials fail because the executors cannot import a module (a ConfigurationError saying
what to ship, see ``_executors``). A sweep whose trials all failed raises
SweepFailedError with the first trial's error.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from sparktrack.errors import InvalidInputError, SweepFailedError
from sparktrack.sweeps._estimator import EstimatorTarget, Folds, evaluator_direction, resolve_param
from sparktrack.sweeps._executors import ExecutorImports, import_problem, ship_task_code
from sparktrack.sweeps._function import TaskPayload, accepts_trial, run_in_task
from sparktrack.sweeps._progress import Progress
from sparktrack.sweeps._records import (
    Tags,
    TrialRecord,
    error_summary,
    params_json,
    trials_frame,
)
from sparktrack.sweeps._result import SweepResult
from sparktrack.sweeps._resume import find_sweep_run, previous_trials
from sparktrack.sweeps._space import SearchSpace
from sparktrack.tracking import RunStatus, TrackingClient

__all__ = ["Sweep"]

_log = logging.getLogger("sparktrack")

_PRUNERS = {
    "median": lambda: _optuna().pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1),
    "hyperband": lambda: _optuna().pruners.HyperbandPruner(),
    "successive_halving": lambda: _optuna().pruners.SuccessiveHalvingPruner(),
}


def _optuna() -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


@dataclass
class _Outcome:
    state: str
    value: float | None = None
    metrics: dict[str, float] | None = None
    intermediate: list[tuple[int, float]] | None = None
    error: str | None = None
    model: Any = None
    start_ms: int | None = None
    end_ms: int | None = None
    worker: str | None = None


class Sweep:
    """One invocation of ``sparktrack.sweep``; see its docstring for the arguments."""

    def __init__(self, client: TrackingClient, target: Any, space: Any, **options: Any) -> None:
        self.client = client
        self.space = SearchSpace.of(space)
        self.name: str | None = options["name"]
        self.train = options["train"]
        self.progress_enabled: bool = options["progress"]
        self.register_as: str | None = options["register_as"]
        self.timeout: float | None = _positive("timeout", options["timeout"], allow_float=True)
        self.lock = threading.RLock()
        self.records: dict[int, TrialRecord] = {}
        self.is_estimator = hasattr(target, "fit") and hasattr(target, "explainParams")
        if self.is_estimator:
            self._init_estimator(target, options)
        elif callable(target):
            self._init_function(target, options)
        else:
            raise InvalidInputError(
                f"sweep target must be a pyspark.ml Estimator or a function fn(params) -> "
                f"dict of metrics; got {type(target).__name__}"
            )
        self.strategy = options["strategy"]
        self.sampler = self._sampler(options["strategy"], options["seed"])
        self.pruner = self._pruner(options["early_stopping"])
        self.max_trials = self._budget(options["max_trials"])
        self.imports: ExecutorImports | None = None
        if self.fn is not None:
            optuna = _optuna()
            self.imports = ExecutorImports(
                self.fn,
                pruning=not isinstance(self.pruner, optuna.pruners.NopPruner),
                python=str(getattr(self.session.sparkContext, "pythonExec", None) or "python3"),
                # Two trials failing alike tell an environment from one unlucky param;
                # a budget of one trial has only that one.
                enough=min(2, self.max_trials or 2),
            )
        self.group = f"sparktrack-sweep-{uuid.uuid4().hex[:12]}"
        # (trial number, fitted model) of the best trial so far, when validating on
        # valid=: that model is the result, no refit needed.
        self.best_model: tuple[int, Any] | None = None

    # -- setup ----------------------------------------------------------------------------
    def _init_estimator(self, estimator: Any, options: dict[str, Any]) -> None:
        if self.train is None or not hasattr(self.train, "sparkSession"):
            raise InvalidInputError(
                "an estimator sweep needs train= a Spark DataFrame (and valid= or num_folds=)"
            )
        evaluator = options["evaluator"]
        if evaluator is None:
            raise InvalidInputError(
                "an estimator sweep needs evaluator= (e.g. BinaryClassificationEvaluator()): "
                "it scores each trial and says whether bigger is better"
            )
        self.maximize = evaluator_direction(evaluator)
        if options["mode"] is not None and _mode(options["mode"]) != self.maximize:
            raise InvalidInputError(
                f"mode={options['mode']!r} contradicts the evaluator, for which "
                f"{'bigger' if self.maximize else 'smaller'} is better; leave mode out"
            )
        self.session = self.train.sparkSession
        params = {}
        if self.space.define is None:
            objects = self.space.objects or {}
            for key in self.space.keys:
                params[key] = resolve_param(estimator, key, objects.get(key))
        self.seed = options["seed"] if options["seed"] is not None else 0
        self.folds = Folds.build(self.train, options["valid"], options["num_folds"], self.seed)
        self.num_folds = len(self.folds.pairs)
        self.target = EstimatorTarget(estimator, evaluator, self.folds, params, self.maximize)
        self.metric = self.target.metric_name
        self.fn: Callable[..., Any] | None = None
        self.parallelism = _positive("parallelism", options["parallelism"]) or 2

    def _init_function(self, fn: Callable[..., Any], options: dict[str, Any]) -> None:
        from sparktrack.session import spark_session

        if options["metric"] is None or options["mode"] is None:
            raise InvalidInputError(
                "a function sweep needs metric= (the key of the returned dict to optimise) "
                "and mode= ('min' or 'max')"
            )
        if self.register_as is not None:
            raise InvalidInputError(
                "register_as works for estimator sweeps (they produce a Spark model); a "
                "function sweep can log and register its own model"
            )
        if hasattr(self.train, "sparkSession"):
            raise InvalidInputError(
                "function trials run inside Spark tasks and cannot use a Spark DataFrame; "
                "pass pandas / numpy data as train= (it is broadcast) or load data in fn"
            )
        if options["valid"] is not None or options["num_folds"] is not None:
            raise InvalidInputError(
                "valid= and num_folds= are for estimator sweeps; a function splits its own data"
            )
        self.fn = fn
        self.pass_trial = accepts_trial(fn)
        ship_task_code()
        self.metric = str(options["metric"])
        self.maximize = _mode(options["mode"])
        self.session = spark_session()
        self.parallelism = (
            _positive("parallelism", options["parallelism"])
            or self.session.sparkContext.defaultParallelism
        )
        self.broadcast = (
            self.session.sparkContext.broadcast(self.train) if self.train is not None else None
        )

    def _sampler(self, strategy: Any, seed: int | None) -> Any:
        optuna = _optuna()
        if isinstance(strategy, optuna.samplers.BaseSampler):
            return strategy
        if strategy == "grid":
            return optuna.samplers.GridSampler(self.space.grid(), seed=seed)
        if strategy == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if strategy == "tpe":
            return optuna.samplers.TPESampler(seed=seed)
        raise InvalidInputError(
            f"strategy {strategy!r} is not one of 'grid', 'random', 'tpe' (or an Optuna sampler)"
        )

    def _pruner(self, early_stopping: Any) -> Any:
        optuna = _optuna()
        if early_stopping is None or early_stopping is False:
            return optuna.pruners.NopPruner()
        if isinstance(early_stopping, optuna.pruners.BasePruner):
            return early_stopping
        if isinstance(early_stopping, str) and early_stopping in _PRUNERS:
            return _PRUNERS[early_stopping]()
        raise InvalidInputError(
            f"early_stopping {early_stopping!r} is not one of {sorted(_PRUNERS)} or an "
            "optuna.pruners pruner"
        )

    def _budget(self, max_trials: Any) -> int | None:
        limit = _positive("max_trials", max_trials)
        self.grid_size = 0
        if self.strategy == "grid":
            self.grid_size = 1
            for values in self.space.grid().values():
                self.grid_size *= len(values)
            limit = min(limit or self.grid_size, self.grid_size)
        if limit is None and self.timeout is None:
            raise InvalidInputError(
                f"strategy {self.strategy!r} needs a budget: give max_trials= or timeout= (s)"
            )
        return limit

    # -- the parent run ---------------------------------------------------------------
    def _open_parent(self) -> None:
        from sparktrack.tracking import active_experiment_id, active_run

        client = self.client
        experiment_id = active_experiment_id(client)
        self.experiment_id = experiment_id
        fingerprint = self.space.fingerprint()
        existing = find_sweep_run(client, experiment_id, self.name) if self.name else None
        if existing is not None:
            tags = existing.data.tags
            if tags.get(Tags.SPACE) != fingerprint:
                raise InvalidInputError(
                    f"sweep {self.name!r} (run {existing.info.run_id}) was started with "
                    "another space; resume it with the same space, or pick a new name"
                )
            if tags.get(Tags.METRIC) != self.metric:
                raise InvalidInputError(
                    f"sweep {self.name!r} optimised {tags.get(Tags.METRIC)!r}, not "
                    f"{self.metric!r}; resume it with the same metric, or pick a new name"
                )
            self.parent_id = existing.info.run_id
            client.resume_run(self.parent_id)
            for record in previous_trials(client, experiment_id, self.parent_id):
                if record.state == "complete":
                    record.value = record.metrics.get(self.metric)
                self.records[record.number] = record
            return
        outer = active_run()
        tags = {
            Tags.ROLE: "sweep",
            Tags.SPACE: fingerprint,
            Tags.STRATEGY: self.strategy if isinstance(self.strategy, str) else "custom",
            Tags.METRIC: self.metric,
            Tags.MODE: "max" if self.maximize else "min",
        }
        if self.name:
            tags[Tags.NAME] = self.name
        run = client.create_run(
            experiment_id,
            run_name=self.name or "sweep",
            tags=tags,
            parent_run_id=outer.info.run_id if outer is not None else None,
        )
        self.parent_id = run.info.run_id
        if self.space.define is None:
            client.log_dict(
                self.parent_id,
                {k: self.space.distributions[k].describe() for k in self.space.keys},
                "sweep_space.json",
            )

    # -- the study ----------------------------------------------------------------------
    def _study(self) -> Any:
        optuna = _optuna()
        study = optuna.create_study(
            direction="maximize" if self.maximize else "minimize",
            sampler=self.sampler,
            pruner=self.pruner,
        )
        grid = self.space.grid() if self.strategy == "grid" else None
        # Re-add earlier trials under their own numbers: the sampler learns from them and
        # the grid sampler skips their points; a killed trial keeps its number only.
        for number in range(max(self.records, default=-1) + 1):
            study.add_trial(self._frozen(self.records.get(number), grid))
        return study

    def _frozen(self, record: TrialRecord | None, grid: dict[str, list[Any]] | None) -> Any:
        optuna = _optuna()
        state = optuna.trial.TrialState
        if record is None or not record.finished or record.distributions is None:
            return optuna.trial.create_trial(state=state.FAIL)
        system_attrs: dict[str, Any] = {}
        if grid is not None and record.grid_id is not None:
            system_attrs = {"grid_id": record.grid_id, "search_space": grid}
        kind = {"complete": state.COMPLETE, "pruned": state.PRUNED, "failed": state.FAIL}
        return optuna.trial.create_trial(
            state=kind[record.state],
            value=record.value if record.state == "complete" else None,
            params=record.params,
            distributions=record.distributions,
            system_attrs=system_attrs,
        )

    # -- running ------------------------------------------------------------------------
    def run(self) -> SweepResult:
        self._open_parent()
        study = self._study()
        self.study = study
        started = time.monotonic()
        progress = Progress(
            self.max_trials, self.progress_enabled, f"sweep {self.name or ''}".strip()
        )
        running: dict[Future[_Outcome], tuple[Any, TrialRecord]] = {}
        pool = ThreadPoolExecutor(self.parallelism, thread_name_prefix="sparktrack-sweep")
        nested = self._claim_nested()
        try:
            with nested:
                while True:
                    while len(running) < self.parallelism and self._may_launch(
                        study, started, len(running)
                    ):
                        trial, record = self._launch(study)
                        running[pool.submit(self._execute, trial, record)] = (trial, record)
                    if not running:
                        break
                    done, _ = wait(list(running), timeout=1.0, return_when=FIRST_COMPLETED)
                    for future in done:
                        trial, record = running.pop(future)
                        self._finish(study, trial, record, future)
                    self._show(progress, len(running))
                    if self.imports is not None:
                        self.imports.check()
        except KeyboardInterrupt:
            self._stop(running, pool, progress, RunStatus.KILLED)
            raise
        except BaseException:
            self._stop(running, pool, progress, RunStatus.FAILED)
            raise
        pool.shutdown(wait=True)
        progress.close()
        return self._conclude()

    def _claim_nested(self) -> Any:
        """Autolog stays out of the trials' fits: each trial is already a run."""
        import contextlib

        if not self.is_estimator:
            return contextlib.nullcontext()
        from sparktrack.autologging import claim_nested, nested_estimator_uids

        # Autolog's own walk: every Params object under the estimator (pipeline stages,
        # a OneVsRest's classifier, ...), so no nested fit becomes a run either.
        estimator = self.target.estimator
        return claim_nested({estimator.uid} | nested_estimator_uids(estimator))

    def _finished_count(self) -> int:
        return sum(1 for r in self.records.values() if r.finished)

    def _may_launch(self, study: Any, started: float, running: int) -> bool:
        if self.timeout is not None and time.monotonic() - started >= self.timeout:
            return False
        if self.max_trials is not None and self._finished_count() + running >= self.max_trials:
            return False
        if self.strategy == "grid":
            # Launch only while some grid point is neither done nor running: Optuna would
            # otherwise evaluate a point twice.
            taken = {
                t.system_attrs["grid_id"]
                for t in study.get_trials(deepcopy=False)
                if "grid_id" in t.system_attrs
            }
            return len(taken) < self.grid_size
        return True

    def _launch(self, study: Any) -> tuple[Any, TrialRecord]:
        with self.lock:
            trial = study.ask()
            params = self.space.sample(trial)
        distributions = {
            k: _optuna().distributions.distribution_to_json(d)
            for k, d in trial.distributions.items()
        }
        grid_id = _grid_id(study, trial)
        tags = {
            Tags.ROLE: "trial",
            Tags.TRIAL: trial.number,
            Tags.PARAMS: params_json(params),
            Tags.DISTRIBUTIONS: json.dumps(distributions, sort_keys=True),
        }
        if grid_id is not None:
            tags[Tags.GRID_ID] = grid_id
        run = self.client.create_run(
            self.experiment_id,
            run_name=f"trial-{trial.number}",
            tags=tags,
            parent_run_id=self.parent_id,
            record_context=False,
        )
        record = TrialRecord(trial.number, run.info.run_id, params, grid_id=grid_id)
        record.start_time = run.info.start_time
        self.client.log_params(record.run_id, params)
        self.records[trial.number] = record
        return trial, record

    def _execute(self, trial: Any, record: TrialRecord) -> _Outcome:
        context = self.session.sparkContext
        # Tags this thread's Spark jobs so Ctrl-C can cancel exactly the sweep's work.
        context.setJobGroup(self.group, f"sparktrack sweep trial {trial.number}", True)
        if self.fn is not None:
            return self._execute_function(trial, record)
        return self._execute_estimator(trial, record)

    def _execute_estimator(self, trial: Any, record: TrialRecord) -> _Outcome:
        optuna = _optuna()
        intermediate: list[tuple[int, float]] = []

        def report(value: float, step: int) -> None:
            intermediate.append((step, value))
            self.client.log_metric(record.run_id, "intermediate_value", value, step=step)
            if self.num_folds < 2:
                return
            with self.lock:
                trial.report(value, step)
                prune = trial.should_prune()
            if prune:
                raise optuna.TrialPruned()

        start_ms = _now_ms()
        try:
            value, model, scores = self.target.run(record.params, report)
        except optuna.TrialPruned:
            return _Outcome(
                "pruned", intermediate=intermediate, start_ms=start_ms, end_ms=_now_ms()
            )
        except Exception as exc:
            return _Outcome(
                "failed",
                error=_traceback(exc),
                intermediate=intermediate,
                start_ms=start_ms,
                end_ms=_now_ms(),
            )
        metrics = {self.metric: value}
        if len(scores) > 1:
            metrics[f"std_{self.metric}"] = _std(scores)
        return _Outcome(
            "complete",
            value,
            metrics,
            intermediate,
            model=model,
            start_ms=start_ms,
            end_ms=_now_ms(),
        )

    def _execute_function(self, trial: Any, record: TrialRecord) -> _Outcome:
        assert self.fn is not None
        optuna = _optuna()
        pruner = None if isinstance(self.pruner, optuna.pruners.NopPruner) else self.pruner
        finished = []
        if pruner is not None:
            # Only a pruner reads the finished trials: without one, no copy to ship.
            with self.lock:
                finished = [t for t in self.study.get_trials() if t.state.is_finished()]
        payload = TaskPayload(
            fn=self.fn,
            number=trial.number,
            params=record.params,
            metric=self.metric,
            maximize=self.maximize,
            pass_trial=self.pass_trial,
            data=self.broadcast,
            pruner=pruner,
            finished=finished,
        )
        context = self.session.sparkContext
        try:
            rows = context.parallelize([0], 1).map(lambda _: run_in_task(payload)).collect()
        except Exception as exc:  # the task could not run at all (lost executor, pickling)
            return _Outcome("failed", error=_traceback(exc))
        row = rows[0]
        metrics = row["metrics"] or None
        value = metrics.get(self.metric) if metrics else None
        return _Outcome(
            row["state"],
            value,
            metrics,
            row["intermediate"],
            error=row["error"],
            start_ms=row["start_ms"],
            end_ms=row["end_ms"],
            worker=row["worker"],
        )

    def _finish(
        self, study: Any, trial: Any, record: TrialRecord, future: Future[_Outcome]
    ) -> None:
        optuna = _optuna()
        try:
            outcome = future.result()
        except Exception as exc:  # a bug in our own bookkeeping must not stop the sweep
            outcome = _Outcome("failed", error=_traceback(exc))
        client = self.client
        run_id = record.run_id
        if outcome.intermediate and self.fn is not None:
            for step, value in outcome.intermediate:
                client.log_metric(run_id, "intermediate_value", value, step=step)
        if outcome.metrics:
            client.log_metrics(run_id, outcome.metrics)
        if outcome.start_ms is not None and outcome.end_ms is not None:
            client.log_metric(run_id, "trial_seconds", (outcome.end_ms - outcome.start_ms) / 1000)
        tags: dict[str, Any] = {Tags.STATE: outcome.state}
        if outcome.worker:
            tags[Tags.WORKER] = outcome.worker
        if outcome.error:
            tags[Tags.ERROR] = error_summary(outcome.error)
            client.log_text(run_id, outcome.error, "error.txt")
        client.set_tags(run_id, tags)
        status = RunStatus.FAILED if outcome.state == "failed" else RunStatus.FINISHED
        client.set_terminated(run_id, status, end_time=outcome.end_ms)
        record.state = outcome.state
        record.value = outcome.value
        record.metrics = dict(outcome.metrics or {})
        record.error = outcome.error
        record.end_time = outcome.end_ms or _now_ms()
        if outcome.start_ms is not None:
            record.start_time = outcome.start_ms
        if self.imports is not None:
            self.imports.observe(record)
        with self.lock:
            if self.fn is not None:
                # The study keeps the curves too: later trials' pruning compares with them.
                for step, value in outcome.intermediate or []:
                    trial.report(value, step)
            if outcome.state == "complete" and outcome.value is not None:
                _tell(study, trial, values=outcome.value)
                if self.is_estimator and self.num_folds == 1 and self._beats_best_model(record):
                    self.best_model = (record.number, outcome.model)
            elif outcome.state == "pruned":
                _tell(study, trial, state=optuna.trial.TrialState.PRUNED)
            else:
                _tell(study, trial, state=optuna.trial.TrialState.FAIL)

    def _rank(self, record: TrialRecord) -> tuple[float, int]:
        """Orders complete trials, best last; equal values: the earlier trial wins."""
        assert record.value is not None
        return (record.value if self.maximize else -record.value, -record.number)

    def _beats_best_model(self, record: TrialRecord) -> bool:
        if self.best_model is None:
            return True
        return self._rank(record) > self._rank(self.records[self.best_model[0]])

    def _show(self, progress: Progress, running: int) -> None:
        records = list(self.records.values())
        best = self._best_record()
        progress.update(
            done=self._finished_count(),
            running=running,
            failed=sum(r.state == "failed" for r in records),
            pruned=sum(r.state == "pruned" for r in records),
            best=best.value if best is not None else None,
        )

    def _stop(
        self,
        running: dict[Future[_Outcome], tuple[Any, TrialRecord]],
        pool: ThreadPoolExecutor,
        progress: Progress,
        status: str,
    ) -> None:
        """Ctrl-C (KILLED) or an error (FAILED): cancel the sweep's Spark jobs, end the
        running trials KILLED and the sweep with ``status``."""
        try:
            self.session.sparkContext.cancelJobGroup(self.group)
        except Exception as exc:  # the context may be going down already
            _log.warning("sparktrack could not cancel the sweep's Spark jobs: %s", exc)
        pool.shutdown(wait=False, cancel_futures=True)
        for _, record in running.values():
            record.state = "killed"
            self.client.set_tags(record.run_id, {Tags.STATE: "killed"})
            self.client.set_terminated(record.run_id, RunStatus.KILLED)
        if self.is_estimator:
            self.folds.release()
        self.client.set_terminated(self.parent_id, status)
        self.client.flush()
        progress.close()

    # -- the end ---------------------------------------------------------------------------
    def _best_record(self) -> TrialRecord | None:
        complete = [
            r for r in self.records.values() if r.state == "complete" and r.value is not None
        ]
        if not complete:
            return None
        return max(complete, key=self._rank)

    def _conclude(self) -> SweepResult:
        client = self.client
        best = self._best_record()
        if best is None:
            self._raise_if_every_trial_failed()
        model = None
        registered = None
        if best is not None:
            assert best.value is not None
            client.log_metric(self.parent_id, f"best_{self.metric}", best.value)
            client.set_tags(
                self.parent_id,
                {Tags.BEST_RUN: best.run_id, Tags.BEST_PARAMS: params_json(best.params)},
            )
            if self.is_estimator:
                model = self._best_model(best)
                registered = self._log_model(model)
        if self.is_estimator:
            self.folds.release()
        client.set_terminated(self.parent_id)
        client.flush()
        from sparktrack.tracking import remember_last_run

        remember_last_run(self.parent_id)
        return SweepResult(
            run_id=self.parent_id,
            best_run_id=best.run_id if best else None,
            best_params=dict(best.params) if best else {},
            best_metric=best.value if best else None,
            metric=self.metric,
            mode="max" if self.maximize else "min",
            trials=trials_frame(list(self.records.values())),
            best_model=model,
            registered_version=registered,
            study=self.study,
        )

    def _raise_if_every_trial_failed(self) -> None:
        """No trial completed and some failed: raise with the first failed trial's error
        (an empty result would hide it)."""
        failed = sorted(
            (r for r in self.records.values() if r.state == "failed"), key=lambda r: r.number
        )
        if not failed:
            return  # nothing ran (a timeout), or every trial was pruned
        if self.is_estimator:
            self.folds.release()
        self.client.set_terminated(self.parent_id, RunStatus.FAILED)
        self.client.flush()
        # A resumed sweep's earlier trials come back without their tracebacks.
        first = next((r for r in failed if r.error), failed[0])
        error = first.error or "(no traceback kept: see the trial run's error.txt)"
        problem = import_problem(error) if self.imports is not None else None
        if self.imports is not None and problem is not None:
            raise self.imports.error([(first, problem)])
        sweep = f"sweep {self.name!r}" if self.name else "the sweep"
        raise SweepFailedError(
            f"every trial of {sweep} (run {self.parent_id}) failed: {len(failed)} of "
            f"{len(self.records)}. The first, trial {first.number} (run {first.run_id}), "
            f"with:\n{error_summary(error)}\nEach trial's traceback is in its run's "
            f"error.txt; the first one's is this error's first_error.",
            run_id=self.parent_id,
            first_error=error,
        )

    def _best_model(self, best: TrialRecord) -> Any:
        if self.best_model is not None and self.best_model[0] == best.number:
            return self.best_model[1]
        # Folds (or a resumed sweep): fit the best params on all of train, as
        # CrossValidator does for its bestModel.
        with self._claim_nested():
            return self.target.refit(self.train, best.params)

    def _log_model(self, model: Any) -> int | None:
        """The best model into the sweep's run; registered (and waited for) if asked,
        else saved on the background thread autolog uses: ``flush()`` waits for it."""
        from sparktrack.models import log_model

        def save() -> int | None:
            info = log_model(
                model,
                "model",
                run_id=self.parent_id,
                client=self.client,
                registered_model_name=self.register_as,
            )
            return info.registered_model_version

        if self.register_as is not None:
            return save()
        from sparktrack.autologging import submit

        def save_in_background() -> None:
            try:
                save()
            except Exception as exc:  # the sweep's result is already with the user
                _log.warning("sparktrack could not save the sweep's best model: %s", exc)

        submit(save_in_background)
        return None


def _tell(study: Any, trial: Any, **result: Any) -> None:
    """``study.tell``, minus the grid sampler's ``study.stop()`` on the last point: that
    is only allowed inside ``study.optimize``; this loop stops on its own there."""
    try:
        study.tell(trial, **result)
    except RuntimeError as exc:
        if "Study.stop" not in str(exc):
            raise


def _grid_id(study: Any, trial: Any) -> int | None:
    """The grid point Optuna's GridSampler gave the trial (kept for resuming)."""
    attrs = study._storage.get_trial_system_attrs(trial._trial_id)
    grid_id = attrs.get("grid_id")
    return int(grid_id) if grid_id is not None else None


def _mode(mode: Any) -> bool:
    if mode not in ("min", "max"):
        raise InvalidInputError(f"mode must be 'min' or 'max', got {mode!r}")
    return mode == "max"


def _positive(name: str, value: Any, *, allow_float: bool = False) -> Any:
    if value is None:
        return None
    kinds = (int, float) if allow_float else (int,)
    if isinstance(value, bool) or not isinstance(value, kinds) or value <= 0:
        kind = "number" if allow_float else "integer"
        raise InvalidInputError(f"{name} must be a positive {kind}, got {value!r}")
    return value


def _std(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5


def _now_ms() -> int:
    return int(time.time() * 1000)


def _traceback(exc: BaseException) -> str:
    import traceback

    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
