"""CrossValidator / TrainValidationSplit: a child run per param map, as the fits finish.

pyspark's tuners fit one fold at a time, each fold's param maps in parallel through
``pyspark.ml.tuning._parallelFitTasks``. Wrapping those tasks gives each param map's
real start and end time and its metric per fold; a child run is written when a param
map's first fold finishes and ended when its last one does. With more param maps
than ``max_tuning_runs``, children are written after the search for the best ones
only (the best cannot be known earlier), still with their measured times.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sparktrack.autologging._pyspark._params import param_map_params
from sparktrack.autologging._safety import logging_errors_handled
from sparktrack.tracking import (
    RunStatus,
    TrackingClient,
    log_spark_cost,
    running_context,
    spark_jobs_tagged,
    thread_job_tags,
)

__all__ = ["TuningTracker", "current_tracker", "wrap_fit_tasks"]

INTEGRATION = "pyspark.ml"
_local = threading.local()


@dataclass
class _ParamMapResult:
    index: int
    started_ms: int | None = None
    ended_ms: int | None = None
    fold_metrics: dict[int, float] = field(default_factory=dict)
    busy_ms: int = 0  # time spent fitting and evaluating this param map, all folds
    run_id: str | None = None
    job_tags: list[str] = field(default_factory=list)  # its Spark jobs', one per fold


class TuningTracker:
    """Per-tuner-fit state; ``record`` is called from the tuner's pool threads."""

    def __init__(
        self,
        client: TrackingClient,
        parent_run_id: str,
        experiment_id: str,
        tuner: Any,
        labels: dict[str, str],
        max_runs: int | None,
        extra_tags: dict[str, Any],
    ) -> None:
        self.client = client
        self.parent_run_id = parent_run_id
        self.experiment_id = experiment_id
        self.param_maps = list(tuner.getEstimatorParamMaps())
        self.folds = int(tuner.getNumFolds()) if hasattr(tuner, "getNumFolds") else 1
        evaluator = tuner.getEvaluator()
        self.metric_name = (
            evaluator.getMetricName() if hasattr(evaluator, "getMetricName") else "metric"
        )
        self.larger_is_better = bool(evaluator.isLargerBetter())
        self.labels = labels
        self.estimator_uid = tuner.getEstimator().uid
        self.live = max_runs is None or len(self.param_maps) <= max_runs
        self.max_runs = max_runs
        self.extra_tags = extra_tags
        self.results = [_ParamMapResult(i) for i in range(len(self.param_maps))]
        self._lock = threading.Lock()
        self._fold = -1
        # The SparkContext of the tuner's thread, once its first fold starts (for the
        # pool threads, which cannot look it up cheaply).
        self.context: Any = None
        # Child runs written complete whose cost is still to read: read once the search
        # is over, so the reads never compete with the folds still fitting.
        self._cost_pending: list[tuple[str, list[str]]] = []

    # called in the tuner's own thread, once per fold
    def next_fold(self) -> int:
        with self._lock:
            self._fold += 1
            return self._fold

    # called from pool threads as each fit + evaluation finishes
    def record(
        self, fold: int, index: int, metric: float, started: int, ended: int, job_tag: str
    ) -> None:
        with self._lock:
            result = self.results[index]
            result.job_tags.append(job_tag)
            result.started_ms = started if result.started_ms is None else result.started_ms
            result.ended_ms = ended
            result.busy_ms += ended - started
            result.fold_metrics[fold] = float(metric)
            complete = len(result.fold_metrics) == self.folds
        if self.live:
            with logging_errors_handled(INTEGRATION, "tuning child run"):
                self._write(result, fold, complete)

    def _params_of(self, index: int) -> dict[str, str]:
        return param_map_params(self.param_maps[index], self.labels, self.estimator_uid)

    def _write(self, result: _ParamMapResult, fold: int | None, complete: bool) -> None:
        client = self.client
        if result.run_id is None:
            run = client.create_run(
                self.experiment_id,
                run_name=f"param-map-{result.index}",
                parent_run_id=self.parent_run_id,
                start_time=result.started_ms,
                tags={"sparktrack.autolog": INTEGRATION, **self.extra_tags},
                record_context=False,
            )
            result.run_id = run.info.run_id
            client.log_params(result.run_id, self._params_of(result.index))
        folds = [fold] if fold is not None else sorted(result.fold_metrics)
        for f in folds:
            client.log_metric(
                result.run_id,
                f"fold_{self.metric_name}",
                result.fold_metrics[f],
                timestamp=result.ended_ms,
                step=f,
            )
        if complete:
            values = [result.fold_metrics[f] for f in sorted(result.fold_metrics)]
            client.log_metrics(
                result.run_id,
                {
                    f"avg_{self.metric_name}": statistics.fmean(values),
                    f"std_{self.metric_name}": statistics.pstdev(values)
                    if len(values) > 1
                    else 0.0,
                    # Folds run one after another with other param maps in between: the run
                    # spans first start to last end, this is the time it actually worked.
                    "fit_seconds": result.busy_ms / 1000,
                },
            )
            with self._lock:
                self._cost_pending.append((result.run_id, list(result.job_tags)))
            client.set_terminated(result.run_id, RunStatus.FINISHED, result.ended_ms)

    def log_children_cost(self) -> None:
        """Log, in the background, what the child runs written so far cost.

        Called when the search's fit returns (live children) and after ``finish``.
        """
        with self._lock:
            pending, self._cost_pending = self._cost_pending, []
        for run_id, job_tags in pending:
            log_spark_cost(self.client, run_id, job_tags, context=self.context)

    def finish(self) -> None:
        """After the search: write capped children (best first) and close any left open."""
        ranked = sorted(
            (r for r in self.results if r.fold_metrics),
            key=lambda r: statistics.fmean(r.fold_metrics.values()),
            reverse=self.larger_is_better,
        )
        if not self.live:
            for result in ranked[: self.max_runs or 0]:
                with logging_errors_handled(INTEGRATION, "tuning child run"):
                    self._write(result, None, complete=True)
        with logging_errors_handled(INTEGRATION, "what the child runs cost on the cluster"):
            self.log_children_cost()

    def search_results(self) -> list[dict[str, Any]]:
        rows = []
        for result in self.results:
            values = [result.fold_metrics[f] for f in sorted(result.fold_metrics)]
            rows.append(
                {
                    "param_map": result.index,
                    **self._params_of(result.index),
                    f"avg_{self.metric_name}": statistics.fmean(values) if values else None,
                    f"std_{self.metric_name}": statistics.pstdev(values)
                    if len(values) > 1
                    else 0.0,
                    **{f"fold_{f}_{self.metric_name}": v for f, v in enumerate(values)},
                    "fit_seconds": result.busy_ms / 1000,
                    "run_id": result.run_id,
                }
            )
        return rows


def current_tracker() -> TuningTracker | None:
    return getattr(_local, "tracker", None)


def set_current_tracker(tracker: TuningTracker | None) -> None:
    _local.tracker = tracker


def wrap_fit_tasks(original: Callable[..., Any]) -> Callable[..., Any]:
    """A replacement for ``pyspark.ml.tuning._parallelFitTasks`` that times each task."""

    def parallel_fit_tasks(*args: Any, **kwargs: Any) -> Any:
        tasks = original(*args, **kwargs)
        tracker = current_tracker()
        if tracker is None:
            return tasks
        fold = tracker.next_fold()
        # The tuner's pool threads do not get this thread's job tags (pyspark copies the
        # local properties of the pool's own feeder thread), so each task sets them, plus
        # a tag of its own: which param map a task fits is known only once it is done.
        enabled = tracker.client.settings.spark_cost
        context = running_context() if enabled else None
        tracker.context = context
        inherited = thread_job_tags(context) if context is not None else []

        def timed(task: Callable[[], Any]) -> Callable[[], Any]:
            def run() -> Any:
                own_tag = f"sparktrack-task-{uuid.uuid4().hex}"
                started = int(time.time() * 1000)
                with spark_jobs_tagged([*inherited, own_tag], enabled=enabled, context=context):
                    outcome = task()
                ended = int(time.time() * 1000)
                index, metric = outcome[0], outcome[1]
                tracker.record(fold, index, metric, started, ended, own_tag)
                return outcome

            return run

        return [timed(task) for task in tasks]

    parallel_fit_tasks.__sparktrack_original__ = original  # type: ignore[attr-defined]
    return parallel_fit_tasks
