"""What a run cost on the cluster: the Spark work it caused, as ``spark.*`` metrics.

A run's jobs are those carrying its job tag (``_spark_jobs``): while a run is active
its thread carries ``sparktrack-run-<run id>``, and a job that thread (or a thread it
hands its local properties to) submits is the run's. A nested run's jobs carry its
parent's tag too, so a parent's totals include its children's. sparktrack's own work
after a fit (saving the model, describing the dataset) runs on autolog's thread,
untagged: it is not counted.

When the run ends, its jobs and their stages are read from the driver's status store
(``_spark_status``) on a background thread and logged once, as metrics at step 0.
Finished jobs and stages are kept (bounded, as Python numbers) so that a parent ending
after its children reads them again for free, even once Spark has dropped them
(``spark.ui.retainedJobs``). A failure (no SparkContext, a stopped one, py4j errors)
is a warning, once per process, and the run gets no ``spark.*`` metrics; the user's
code never sees it.
"""

from __future__ import annotations

import functools
import os
import queue
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sparktrack.tracking._hooks import before_flush
from sparktrack.tracking._spark_jobs import (
    Tagged,
    run_job_tag,
    running_context,
    tag_thread,
    warn_once,
)
from sparktrack.tracking._spark_status import JobRecord, StageRecord, StatusStore

if TYPE_CHECKING:
    from sparktrack.tracking._client import TrackingClient

__all__ = [
    "SPARK_COST_METRICS",
    "RunSparkWork",
    "drain_spark_cost",
    "end_spark_work",
    "log_spark_cost",
    "spark_cost_metrics",
    "start_spark_work",
]

SPARK_COST_METRICS = (
    "spark.jobs",
    "spark.stages",
    "spark.tasks",
    "spark.failed_tasks",
    "spark.executor_run_time_ms",
    "spark.executor_cpu_time_ms",
    "spark.jvm_gc_time_ms",
    "spark.input_bytes",
    "spark.output_bytes",
    "spark.shuffle_read_bytes",
    "spark.shuffle_write_bytes",
    "spark.memory_spill_bytes",
    "spark.disk_spill_bytes",
    "spark.peak_execution_memory_bytes",
    "spark.executors",
)
"""The metrics a run's cost is logged as, in the order ``runs show`` lists them."""
# Finished jobs and stage attempts remembered across runs (a few hundred bytes each):
# more than Spark's own default retention (1,000 jobs, 1,000 stages).
_MAX_KEPT_JOBS = 5000
_MAX_KEPT_STAGES = 10000


def spark_cost_metrics(
    jobs: Sequence[JobRecord], stages: Sequence[StageRecord]
) -> dict[str, float]:
    """The ``spark.*`` metrics of some jobs and the stage attempts they ran.

    Sums over the distinct stage attempts, except the peak execution memory (the
    largest of a stage's, which Spark reports as the sum of its tasks' peaks) and the
    executors (how many distinct executors ran a task).
    """
    unique = list({(s.stage_id, s.attempt_id): s for s in stages}.values())

    def total(field: str) -> int:
        return sum(int(getattr(s, field)) for s in unique)

    return {
        "spark.jobs": len({j.job_id for j in jobs}),
        "spark.stages": len(unique),
        "spark.tasks": total("task_attempts"),
        "spark.failed_tasks": total("failed_tasks"),
        "spark.executor_run_time_ms": total("executor_run_time_ms"),
        "spark.executor_cpu_time_ms": total("executor_cpu_time_ns") / 1e6,
        "spark.jvm_gc_time_ms": total("jvm_gc_time_ms"),
        "spark.input_bytes": total("input_bytes"),
        "spark.output_bytes": total("output_bytes"),
        "spark.shuffle_read_bytes": total("shuffle_read_bytes"),
        "spark.shuffle_write_bytes": total("shuffle_write_bytes"),
        "spark.memory_spill_bytes": total("memory_spill_bytes"),
        "spark.disk_spill_bytes": total("disk_spill_bytes"),
        "spark.peak_execution_memory_bytes": max(
            (s.peak_execution_memory_bytes for s in unique), default=0
        ),
        "spark.executors": len({e for s in unique for e in s.executors}),
    }


@dataclass(frozen=True)
class _Request:
    client: TrackingClient
    run_id: str
    tags: tuple[str, ...]
    context: Any


class _Collector:
    """One background thread reading the status store for the runs that ended."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[_Request | None, threading.Event]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        # Touched by the collector thread only: what is kept of one Spark application
        # (job and stage ids start again at 0 in the next one).
        self._status: StatusStore | None = None  # the store of the last context read
        self._application_id: str | None = None
        self._jobs: OrderedDict[int, JobRecord] = OrderedDict()
        self._stages: OrderedDict[int, list[StageRecord]] = OrderedDict()

    def submit(self, request: _Request) -> None:
        _read_before_stop(type(request.context))
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="sparktrack-spark-cost", daemon=True
                )
                self._thread.start()
                # sparktrack.flush() waits for what the runs that ended cost. Registered
                # now, after autolog registered its own wait at import: autolog's worker
                # asks for the cost of tuning runs it writes late, so it must go first.
                before_flush(drain_spark_cost)
        self._queue.put((request, threading.Event()))

    def drain(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is None or not thread.is_alive() or threading.current_thread() is thread:
            return
        marker = threading.Event()
        self._queue.put((None, marker))
        marker.wait(timeout)

    def _run(self) -> None:
        while True:
            request, done = self._queue.get()
            try:
                if request is not None:
                    self._log_cost(request)
            finally:
                done.set()

    def _log_cost(self, request: _Request) -> None:
        try:
            metrics = self.measure(self._status_store(request.context), request.tags)
        except Exception as exc:
            warn_once(f"read what run {request.run_id} cost from Spark's status store", exc)
            return
        if not metrics["spark.jobs"]:
            return  # no Spark work: no column of zeros on every run of a Spark process
        try:
            request.client.log_metrics(request.run_id, metrics)
        except Exception as exc:
            warn_once(f"log what run {request.run_id} cost on the cluster", exc)

    def _status_store(self, context: Any) -> StatusStore:
        if self._status is None or not self._status.reads(context):
            self._status = StatusStore(context)
        self._status.catch_up()
        return self._status

    def measure(self, store: StatusStore, tags: Sequence[str]) -> dict[str, float]:
        """The metrics of the jobs carrying any of ``tags``, retained or remembered."""
        if store.application_id != self._application_id:
            self._application_id = store.application_id
            self._jobs.clear()
            self._stages.clear()
        wanted = set(tags)
        job_ids = {j for tag in wanted for j in store.job_ids(tag)}
        job_ids |= {j for j, job in self._jobs.items() if job.tags & wanted}
        jobs = [self._job(store, j) for j in sorted(job_ids)]
        stages = [attempt for job in jobs for attempt in self._ran_stages(store, job)]
        return spark_cost_metrics(jobs, stages)

    def _ran_stages(self, store: StatusStore, job: JobRecord) -> list[StageRecord]:
        """The attempts of ``job``'s stages that ran, reading as few stages as it can.

        A job lists the stages it found done as skipped (a shuffle's output computed
        before): often most of them, in a job reusing cached or shuffled data. Spark
        creates a job's stages parents first and skips a stage's parents with it, so
        the stages that ran usually have the highest ids: those are read first, and
        only when one of them turns out not to have run are the others read too.
        """
        ids = sorted(job.stage_ids, reverse=True)
        ran = len(ids) - job.skipped_stages
        if job.finished and 0 <= ran < len(ids):
            newest = [self._stage(store, s, keep=True) for s in ids[:ran]]
            if all(newest):
                return [attempt for attempts in newest for attempt in attempts]
        return [a for s in ids for a in self._stage(store, s, keep=job.finished)]

    def _job(self, store: StatusStore, job_id: int) -> JobRecord:
        kept = self._jobs.get(job_id)
        if kept is not None:
            return kept
        job = store.job(job_id)
        if job.finished:
            _remember(self._jobs, job_id, job, _MAX_KEPT_JOBS)
        return job

    def _stage(self, store: StatusStore, stage_id: int, *, keep: bool) -> list[StageRecord]:
        kept = self._stages.get(stage_id)
        if kept is not None:
            return kept
        attempts = store.stage_attempts(stage_id)
        if keep and all(a.finished for a in attempts):
            _remember(self._stages, stage_id, attempts, _MAX_KEPT_STAGES)
        return attempts


# How long SparkContext.stop() waits for the costs of the runs that ended, at most.
_STOP_WAIT_SECONDS = 60.0


def _read_before_stop(context_class: Any) -> None:
    """Have ``context_class.stop()`` wait for the costs still to read (once per class).

    A script that ends its last run and stops Spark on the next line would otherwise
    stop the context before the collector reads it. Checked at every submit: a patch
    undone by another (autolog's, reverting to pyspark's own) is put back.
    """
    current = context_class.stop
    if getattr(current, "__sparktrack_reads_cost__", False):
        return

    @functools.wraps(current)
    def stop(self: Any, *args: Any, **kwargs: Any) -> Any:
        drain_spark_cost(_STOP_WAIT_SECONDS)
        return current(self, *args, **kwargs)

    stop.__sparktrack_reads_cost__ = True  # type: ignore[attr-defined]
    context_class.stop = stop


def _remember(kept: OrderedDict[int, Any], key: int, value: Any, limit: int) -> None:
    kept[key] = value
    while len(kept) > limit:
        kept.popitem(last=False)


_collector = _Collector()


def _start_over_in_child() -> None:
    # After fork, in the child: the parent's queue, lock and thread are not this one's.
    global _collector
    _collector = _Collector()
    _active_work.clear()  # the parent's runs: the parent logs what they cost


os.register_at_fork(after_in_child=_start_over_in_child)


def log_spark_cost(
    client: TrackingClient, run_id: str, tags: Sequence[str], *, context: Any = None
) -> None:
    """Log, in the background, what the jobs carrying ``tags`` cost, to ``run_id``.

    Internal use (fluent runs, autolog, sweeps): call it when the run's work is done.
    Does nothing when the client's ``spark_cost`` setting is off or no SparkContext
    runs; failures become one warning.

    Args:
        client: The client to log with.
        run_id: The run the metrics go to.
        tags: The job tags of the run's work (``run_job_tag`` and others).
        context: The SparkContext, when the caller has it (else looked up).
    """
    if not tags or not client.settings.spark_cost:
        return
    context = context if context is not None else running_context()
    if context is None:
        return
    _collector.submit(_Request(client, run_id, tuple(tags), context))


class RunSparkWork:
    """A run's Spark work from the thread that started it to the thread ending it.

    Starting tags this thread's jobs with the run's tag; ``end`` takes the tag off and
    logs what the run's jobs cost. Nothing happens when the ``spark_cost`` setting is
    off or no SparkContext runs.

    Args:
        client: The client the run logs with.
        run_id: The run.
    """

    def __init__(self, client: TrackingClient, run_id: str) -> None:
        self._client = client
        self._run_id = run_id
        self._tag = run_job_tag(run_id)
        enabled = client.settings.spark_cost
        self._tagged = tag_thread([self._tag]) if enabled else Tagged(None, [])

    def end(self) -> None:
        """Untag this thread's jobs; log the run's cost in the background."""
        self._tagged.remove()
        if self._tagged.context is not None:
            log_spark_cost(self._client, self._run_id, [self._tag], context=self._tagged.context)


# The Spark work of each fluent run still active, by run id.
_active_work: dict[str, RunSparkWork] = {}


def start_spark_work(client: TrackingClient, run_id: str) -> None:
    """Tag this thread's Spark jobs with a run the fluent API just made active."""
    _active_work[run_id] = RunSparkWork(client, run_id)


def end_spark_work(run_id: str) -> None:
    """Untag this thread's jobs of a fluent run that ended; log what they cost."""
    work = _active_work.pop(run_id, None)
    if work is not None:
        work.end()


def drain_spark_cost(timeout: float | None = None) -> None:
    """Wait until what the ended runs cost is logged (internal use).

    Args:
        timeout: Wait at most this many seconds (None: as long as it takes).
    """
    _collector.drain(timeout)
