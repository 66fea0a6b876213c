"""What Spark's driver knows of finished jobs and stages, read through py4j.

The driver keeps every job and stage of the application in its status store (the one
behind the Spark UI and its REST API, kept even with ``spark.ui.enabled=false``; its
size is bounded by ``spark.ui.retainedJobs`` and ``spark.ui.retainedStages``). Python
has no public handle on it, and the public ``SparkStatusTracker`` knows a job's tags
and stages but not what they cost, so the v1 records (``JobData``, ``StageData``) are
read from ``SparkContext.statusStore`` and turned into JSON in the JVM with the Jackson
mapper Spark ships (with its Scala module, as the REST API does): two py4j calls per
record instead of one per field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["JobRecord", "StageRecord", "StatusStore"]

_DRIVER_ONLY = frozenset({"driver"})  # the executor id of local mode's one executor
# Stage attempts that never ran a task in the job that lists them.
_NOT_RUN = frozenset({"SKIPPED", "PENDING"})


@dataclass(frozen=True)
class JobRecord:
    """A job as the status store reports it."""

    job_id: int
    tags: frozenset[str]
    stage_ids: tuple[int, ...]
    finished: bool
    skipped_stages: int = 0  # of stage_ids, those the job found done (known once finished)


@dataclass(frozen=True)
class StageRecord:
    """One attempt of a stage that ran, with the totals of its tasks."""

    stage_id: int
    attempt_id: int
    finished: bool
    task_attempts: int
    failed_tasks: int
    executor_run_time_ms: int
    executor_cpu_time_ns: int
    jvm_gc_time_ms: int
    input_bytes: int
    output_bytes: int
    shuffle_read_bytes: int
    shuffle_write_bytes: int
    memory_spill_bytes: int
    disk_spill_bytes: int
    peak_execution_memory_bytes: int
    executors: frozenset[str]


# How long a read waits for the driver's listener bus to deliver the events already
# posted (a job that just ended is in the store only once its end event is handled).
_CATCH_UP_MS = 10_000


def _java_context(context: Any) -> Any:
    java_context = context._jsc
    if java_context is None:
        raise RuntimeError(
            "the SparkContext was stopped before it was read (SparkContext.stop() waits "
            "for that up to a minute; when Spark is stopped otherwise, call "
            "sparktrack.flush() first)"
        )
    return java_context


def _caught_up(scala_context: Any) -> None:
    try:
        scala_context.listenerBus().waitUntilEmpty(_CATCH_UP_MS)
    except Exception:  # a bus still busy after that: read what the store holds now
        return


class StatusStore:
    """Reads jobs and stages of a running SparkContext.

    One instance per SparkContext, kept between collections (what it sets up is a few
    py4j calls); ``catch_up`` before each.

    Args:
        context: A pyspark ``SparkContext`` (classic, not Spark Connect).

    Raises:
        Exception: Whatever py4j raises when the context is stopped or the JVM lacks
            what is read here; the caller turns it into a warning.
    """

    def __init__(self, context: Any) -> None:
        self._context = context
        jvm = context._gateway.jvm
        self._scala_context = _java_context(context).sc()
        self.application_id = str(self._scala_context.applicationId())
        # Local mode has one executor, the driver's: no stage needs asking which ran it.
        self._local = bool(self._scala_context.isLocal())
        self._store = self._scala_context.statusStore()
        self._tracker = self._scala_context.statusTracker()
        self._mapper = jvm.com.fasterxml.jackson.databind.ObjectMapper()
        self._mapper.registerModule(jvm.com.fasterxml.jackson.module.scala.DefaultScalaModule())
        # stageData's optional arguments, spelled out (py4j sees no Scala defaults).
        self._no_task_statuses = jvm.java.util.ArrayList()
        self._no_quantiles = context._gateway.new_array(jvm.double, 0)

    def reads(self, context: Any) -> bool:
        """Whether this instance reads ``context``'s store."""
        return context is self._context

    def catch_up(self) -> None:
        """Wait until the store holds the events already posted; raise once stopped."""
        _java_context(self._context)
        _caught_up(self._scala_context)

    def _json(self, record: Any) -> Any:
        return json.loads(self._mapper.writeValueAsString(record))

    def job_ids(self, tag: str) -> list[int]:
        """The ids of the retained jobs that carry the job tag ``tag``."""
        return [int(i) for i in self._json(self._tracker.getJobIdsForTag(tag))]

    def job(self, job_id: int) -> JobRecord:
        """The job ``job_id``; raises if the store has dropped it."""
        data = self._json(self._store.job(job_id))
        return JobRecord(
            job_id=int(data["jobId"]),
            tags=frozenset(data.get("jobTags") or ()),
            stage_ids=tuple(int(s) for s in data["stageIds"]),
            finished=data["status"] in ("SUCCEEDED", "FAILED"),
            skipped_stages=int(data.get("numSkippedStages") or 0),
        )

    def stage_attempts(self, stage_id: int) -> list[StageRecord]:
        """The attempts of stage ``stage_id`` that ran (skipped ones are left out)."""
        try:
            data = self._store.stageData(
                stage_id, False, self._no_task_statuses, False, self._no_quantiles
            )
        except Exception as exc:
            # A stage of a job that never submitted it is written to the store only when
            # the job ends (as skipped): until then, asking for it finds nothing.
            if "NoSuchElementException" in str(exc):
                return []
            raise
        attempts = self._json(data)
        return [self._stage(a) for a in attempts if a["status"] not in _NOT_RUN]

    def _stage(self, data: dict[str, Any]) -> StageRecord:
        stage_id, attempt_id = int(data["stageId"]), int(data["attemptId"])
        return StageRecord(
            stage_id=stage_id,
            attempt_id=attempt_id,
            finished=data["status"] in ("COMPLETE", "FAILED"),
            task_attempts=int(
                data["numCompleteTasks"] + data["numFailedTasks"] + data["numKilledTasks"]
            ),
            failed_tasks=int(data["numFailedTasks"]),
            executor_run_time_ms=int(data["executorRunTime"]),
            executor_cpu_time_ns=int(data["executorCpuTime"]),
            jvm_gc_time_ms=int(data["jvmGcTime"]),
            input_bytes=int(data["inputBytes"]),
            output_bytes=int(data["outputBytes"]),
            shuffle_read_bytes=int(data["shuffleReadBytes"]),
            shuffle_write_bytes=int(data["shuffleWriteBytes"]),
            memory_spill_bytes=int(data["memoryBytesSpilled"]),
            disk_spill_bytes=int(data["diskBytesSpilled"]),
            peak_execution_memory_bytes=int(data["peakExecutionMemory"]),
            executors=self._executors(stage_id, attempt_id),
        )

    def _executors(self, stage_id: int, attempt_id: int) -> frozenset[str]:
        if self._local:
            return _DRIVER_ONLY
        return frozenset(self._json(self._store.executorSummary(stage_id, attempt_id)))
