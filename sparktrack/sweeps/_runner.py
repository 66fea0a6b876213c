"""``Sweep``: the driver loop that asks Optuna for trials, runs them, logs them.

The sweep is a parent run; each trial is a child run created when the trial starts
(so running trials show up at once) and ended with its state when it finishes.
Trials run concurrently, ``parallelism`` at a time, from a pool of driver threads; a
``TrialRunner`` runs each (estimator fits, or function trials as Spark tasks). A
failing trial becomes a FAILED child run with its traceback as ``error.txt``; the
sweep goes on, unless the runner stops it (function trials whose executors cannot
import a module). A sweep whose trials all failed raises SweepFailedError with the
first trial's error.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from sparktrack.errors import SweepFailedError
from sparktrack.sweeps._options import SweepOptions, trial_budget
from sparktrack.sweeps._parent import SweepRun, open_sweep_run
from sparktrack.sweeps._progress import Progress
from sparktrack.sweeps._records import SweepTrials, Tags, TrialRecord, error_summary, params_json
from sparktrack.sweeps._result import SweepResult
from sparktrack.sweeps._space import SearchSpace
from sparktrack.sweeps._study import (
    grid_id,
    grid_points_taken,
    new_study,
    optuna_module,
    pruner_for,
    sampler_for,
    tell,
)
from sparktrack.sweeps._trials import LiveTrial, Outcome, TrialRunner, now_ms
from sparktrack.tracking import (
    RunStatus,
    TrackingClient,
    log_spark_cost,
    remember_last_run,
    run_job_tag,
    spark_jobs_tagged,
)

if TYPE_CHECKING:
    from optuna import Study

__all__ = ["Sweep"]

_log = logging.getLogger("sparktrack")

_Running = dict[Future[Outcome], LiveTrial]


class Sweep:
    """One sweep: the ask, run, tell loop over a ``TrialRunner``.

    It asks Optuna for a trial, runs it with ``runner``, tells Optuna how it ended,
    until the budget is spent; then it concludes on the best trial.

    Args:
        client: Where the sweep's runs go.
        space: The search space.
        runner: Runs the trials (it has checked the arguments of its kind).
        options: The sweep's options.

    Raises:
        InvalidInputError: The options give no budget, or a grid space is not finite.
    """

    def __init__(
        self,
        client: TrackingClient,
        space: SearchSpace,
        runner: TrialRunner,
        options: SweepOptions,
    ) -> None:
        self._client = client
        self._space = space
        self._runner = runner
        self._options = options
        self._max_trials = trial_budget(options, space)
        self._grid = space.grid() if options.strategy == "grid" else None
        self._grid_size = space.grid_size() if self._grid is not None else 0
        self._sampler = sampler_for(options.strategy, self._grid, options.seed)
        self._pruner = pruner_for(options.early_stopping)
        self._trials = SweepTrials(maximize=runner.maximize)
        # Guards the study: trials report to it from the pool's threads.
        self._lock = threading.RLock()
        # Tags the trials' Spark jobs so Ctrl-C can cancel exactly the sweep's work.
        self._job_group = f"sparktrack-sweep-{uuid.uuid4().hex[:12]}"

    def run(self) -> SweepResult:
        """Run the sweep to its end.

        Returns:
            The sweep's result.

        Raises:
            InvalidInputError: A named sweep exists with another space or metric.
            SweepFailedError: Every trial failed.
            ConfigurationError: Function trials cannot import a module on the executors.
            KeyboardInterrupt: On Ctrl-C, once the running trials are cancelled and
                the sweep's runs ended KILLED.
        """
        runner = self._runner
        parent = open_sweep_run(
            self._client,
            name=self._options.name,
            space=self._space,
            strategy=self._options.strategy_name,
            metric=runner.metric,
            maximize=runner.maximize,
        )
        for record in parent.earlier:
            self._trials.add(record)
        study = new_study(
            maximize=runner.maximize,
            sampler=self._sampler,
            pruner=self._pruner,
            earlier=self._trials.by_number(),
            grid=self._grid,
        )
        progress = Progress(
            self._max_trials, self._options.progress, f"sweep {self._options.name or ''}".strip()
        )
        running: _Running = {}
        pool = ThreadPoolExecutor(runner.parallelism, thread_name_prefix="sparktrack-sweep")
        # What the trials share is released last: after a failure, once the running
        # trials' jobs are cancelled.
        with contextlib.ExitStack() as shared:
            try:
                shared.enter_context(runner.running())
                self._loop(parent, study, pool, running, progress)
            except KeyboardInterrupt:
                self._stop(parent, running, pool, progress, RunStatus.KILLED)
                raise
            except BaseException:
                self._stop(parent, running, pool, progress, RunStatus.FAILED)
                raise
        pool.shutdown(wait=True)
        progress.close()
        return self._conclude(parent, study)

    # -- ask, run, tell ---------------------------------------------------------------
    def _loop(
        self,
        parent: SweepRun,
        study: Study,
        pool: ThreadPoolExecutor,
        running: _Running,
        progress: Progress,
    ) -> None:
        started = time.monotonic()
        while True:
            while len(running) < self._runner.parallelism and self._may_launch(
                study, started, len(running)
            ):
                trial = self._launch(parent, study)
                running[pool.submit(self._execute, trial, parent.run_id)] = trial
            if not running:
                return
            done, _ = wait(list(running), timeout=1.0, return_when=FIRST_COMPLETED)
            finished = [self._finish(study, running.pop(future), future) for future in done]
            self._show(progress, len(running))
            self._runner.check_finished(finished)

    def _may_launch(self, study: Study, started: float, running: int) -> bool:
        timeout = self._options.timeout
        if timeout is not None and time.monotonic() - started >= timeout:
            return False
        if self._max_trials is not None and self._trials.finished_count() + running >= (
            self._max_trials
        ):
            return False
        if self._grid is not None:
            # Launch only while some grid point is neither done nor running: Optuna would
            # otherwise evaluate a point twice.
            return grid_points_taken(study) < self._grid_size
        return True

    def _launch(self, parent: SweepRun, study: Study) -> LiveTrial:
        with self._lock:
            trial = study.ask()
            params = self._space.sample(trial)
        distributions = optuna_module().distributions
        described = {
            k: distributions.distribution_to_json(d) for k, d in trial.distributions.items()
        }
        point = grid_id(study, trial.number)
        tags: dict[str, Any] = {
            Tags.ROLE: "trial",
            Tags.TRIAL: trial.number,
            Tags.PARAMS: params_json(params),
            Tags.DISTRIBUTIONS: json.dumps(described, sort_keys=True),
        }
        if point is not None:
            tags[Tags.GRID_ID] = point
        run = self._client.create_run(
            parent.experiment_id,
            run_name=f"trial-{trial.number}",
            tags=tags,
            parent_run_id=parent.run_id,
            record_context=False,
        )
        record = TrialRecord(trial.number, run.info.run_id, params, grid_id=point)
        record.start_time = run.info.start_time
        self._client.log_params(record.run_id, params)
        self._trials.add(record)
        return LiveTrial(
            trial,
            record,
            study=study,
            pruner=self._pruner,
            client=self._client,
            lock=self._lock,
        )

    def _execute(self, trial: LiveTrial, parent_run_id: str) -> Outcome:
        context = self._runner.spark.sparkContext
        context.setJobGroup(self._job_group, f"sparktrack sweep trial {trial.number}", True)
        # The trial's jobs count for the trial and the sweep (see tracking's _spark_cost).
        tags = [run_job_tag(parent_run_id), run_job_tag(trial.record.run_id)]
        with spark_jobs_tagged(tags, enabled=self._client.settings.spark_cost):
            return self._runner.run(trial)

    def _finish(self, study: Study, trial: LiveTrial, future: Future[Outcome]) -> TrialRecord:
        try:
            outcome = future.result()
        except Exception as exc:  # a bug in our own bookkeeping must not stop the sweep
            outcome = Outcome.failure(exc)
        client = self._client
        record = trial.record
        run_id = record.run_id
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
        log_spark_cost(client, run_id, [run_job_tag(run_id)])
        client.set_terminated(run_id, status, end_time=outcome.end_ms)
        record.state = outcome.state
        record.value = outcome.value
        record.metrics = dict(outcome.metrics)
        record.error = outcome.error
        record.end_time = outcome.end_ms or now_ms()
        if outcome.start_ms is not None:
            record.start_time = outcome.start_ms
        with self._lock:
            tell(study, trial.trial, outcome.state, outcome.value)
        return record

    def _show(self, progress: Progress, running: int) -> None:
        best = self._trials.best()
        progress.update(
            done=self._trials.finished_count(),
            running=running,
            failed=self._trials.count("failed"),
            pruned=self._trials.count("pruned"),
            best=best.value if best is not None else None,
        )

    def _stop(
        self,
        parent: SweepRun,
        running: _Running,
        pool: ThreadPoolExecutor,
        progress: Progress,
        status: str,
    ) -> None:
        """Ctrl-C (KILLED) or an error (FAILED): cancel the trials, end the sweep.

        The sweep's Spark jobs are cancelled, the running trials ended KILLED and the
        sweep with ``status``.
        """
        try:
            self._runner.spark.sparkContext.cancelJobGroup(self._job_group)
        except Exception as exc:  # the context may be going down already
            _log.warning("sparktrack could not cancel the sweep's Spark jobs: %s", exc)
        pool.shutdown(wait=False, cancel_futures=True)
        for trial in running.values():
            trial.record.state = "killed"
            self._client.set_tags(trial.record.run_id, {Tags.STATE: "killed"})
            log_spark_cost(self._client, trial.record.run_id, [run_job_tag(trial.record.run_id)])
            self._client.set_terminated(trial.record.run_id, RunStatus.KILLED)
        log_spark_cost(self._client, parent.run_id, [run_job_tag(parent.run_id)])
        self._client.set_terminated(parent.run_id, status)
        self._client.flush()
        progress.close()

    # -- the end ---------------------------------------------------------------------------
    def _conclude(self, parent: SweepRun, study: Study) -> SweepResult:
        client = self._client
        metric = self._runner.metric
        best = self._trials.best()
        if best is None:
            self._raise_if_every_trial_failed(parent)
        model = None
        registered = None
        if best is not None:
            assert best.value is not None
            client.log_metric(parent.run_id, f"best_{metric}", best.value)
            client.set_tags(
                parent.run_id,
                {Tags.BEST_RUN: best.run_id, Tags.BEST_PARAMS: params_json(best.params)},
            )
            model, registered = self._runner.best_model(best, client=client, run_id=parent.run_id)
        log_spark_cost(client, parent.run_id, [run_job_tag(parent.run_id)])
        client.set_terminated(parent.run_id)
        client.flush()
        remember_last_run(parent.run_id)
        return SweepResult(
            run_id=parent.run_id,
            best_run_id=best.run_id if best else None,
            best_params=dict(best.params) if best else {},
            best_metric=best.value if best else None,
            metric=metric,
            mode="max" if self._runner.maximize else "min",
            trials=self._trials.frame(),
            best_model=model,
            registered_version=registered,
            study=study,
        )

    def _raise_if_every_trial_failed(self, parent: SweepRun) -> None:
        """No trial completed and some failed: raise with the first failed trial's error.

        An empty result would hide it.
        """
        failed = self._trials.failed()
        if not failed:
            return  # nothing ran (a timeout), or every trial was pruned
        log_spark_cost(self._client, parent.run_id, [run_job_tag(parent.run_id)])
        self._client.set_terminated(parent.run_id, RunStatus.FAILED)
        self._client.flush()
        # A resumed sweep's earlier trials come back without their tracebacks.
        first = next((r for r in failed if r.error), failed[0])
        explained = self._runner.explain_failure(first)
        if explained is not None:
            raise explained
        error = first.error or "(no traceback kept: see the trial run's error.txt)"
        sweep = f"sweep {self._options.name!r}" if self._options.name else "the sweep"
        raise SweepFailedError(
            f"every trial of {sweep} (run {parent.run_id}) failed: {len(failed)} of "
            f"{len(self._trials)}. The first, trial {first.number} (run {first.run_id}), "
            f"with:\n{error_summary(error)}\nEach trial's traceback is in its run's "
            f"error.txt; the first one's is this error's first_error.",
            run_id=parent.run_id,
            first_error=error,
        )
