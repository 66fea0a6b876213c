"""Writing runs: their lifecycle events and everything logged to them.

A log call validates everything, then appends rows to the store's writer and returns
(``Store.append``: acknowledged, journaled, committed in the background). What log
calls must check against what is already logged is kept here for the process: the
params each run holds (params are immutable), the dataset inputs already recorded.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sparktrack.errors import InvalidInputError, NotFoundError
from sparktrack.store import LifecycleStage, RunEvent, RunStatus, Store
from sparktrack.tracking._context import run_context_tags
from sparktrack.tracking._entities import DatasetInput, Metric, Run, RunData, RunInfo
from sparktrack.tracking._experiments import DEFAULT_EXPERIMENT_NAME, Experiments
from sparktrack.tracking._heartbeat import Heartbeat
from sparktrack.tracking._locking import ForkSafeLock
from sparktrack.tracking._reader import RunReader
from sparktrack.tracking._rows import (
    end_event,
    input_row,
    metric_row,
    metric_rows,
    param_rows,
    run_event,
    start_event,
    tag_deletion,
    tag_rows,
)
from sparktrack.tracking._run_index import RunIndex
from sparktrack.tracking._snapshot_writer import SnapshotWriter
from sparktrack.tracking._validation import check_end, check_run_id, now_ms

__all__ = ["RunWriter", "generated_run_name"]


class RunWriter:
    """Starts, ends and changes runs and logs to them (thread-safe).

    The methods are ``TrackingClient``'s (documented there).
    """

    def __init__(
        self,
        store: Store,
        runs: RunIndex,
        experiments: Experiments,
        reader: RunReader,
        heartbeat: Heartbeat,
        snapshots: SnapshotWriter,
    ) -> None:
        self._store = store
        self._runs = runs
        self._experiments = experiments
        self._reader = reader
        self._heartbeat = heartbeat
        self._snapshots = snapshots
        self._lock = ForkSafeLock()
        # run_id -> the params it holds, to refuse a conflicting value before logging it.
        self._params: dict[str, dict[str, str]] = {}
        # (run_id, digest, context) of every dataset input recorded.
        self._inputs: set[tuple[str, str, str]] = set()

    # -- the lifecycle ------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str | None,
        *,
        run_name: str | None,
        tags: Mapping[str, Any] | None,
        parent_run_id: str | None,
        start_time: int | None,
        record_context: bool,
        snapshot: bool,
    ) -> Run:
        if experiment_id is None:
            experiment = self._experiments.get_or_create(DEFAULT_EXPERIMENT_NAME)
        else:
            experiment = self._experiments.active(str(experiment_id))
        if parent_run_id is not None:
            self._runs.experiment_of(check_run_id(parent_run_id))
        run_id = uuid.uuid4().hex
        run_name = run_name or generated_run_name(run_id)
        all_tags: dict[str, Any] = dict(run_context_tags()) if record_context else {}
        all_tags["mlflow.runName"] = run_name
        if parent_run_id:
            all_tags["mlflow.parentRunId"] = parent_run_id
        all_tags.update(tags or {})
        tags_logged = tag_rows(run_id, all_tags)
        user_id = str(all_tags["mlflow.user"]) if "mlflow.user" in all_tags else None
        start = start_event(
            run_id,
            experiment.experiment_id,
            run_name=run_name,
            user_id=user_id,
            parent_run_id=parent_run_id,
            start_time=now_ms() if start_time is None else int(start_time),
            artifact_uri=self._store.artifacts.run_root(experiment.experiment_id, run_id),
        )
        self._store.append("runs", [start])
        self._store.append("tags", tags_logged)
        self._runs.add(run_id, experiment.experiment_id)
        with self._lock:
            self._params[run_id] = {}
        self._heartbeat.add(run_id)
        if snapshot:
            # Queued, not taken: reading, hashing and uploading happen off this thread.
            self._snapshots.submit(run_id)
        info = RunInfo(
            run_id,
            experiment.experiment_id,
            run_name,
            user_id,
            RunStatus.RUNNING,
            start["start_time"],
            None,
            start["artifact_uri"],
            LifecycleStage.ACTIVE,
            parent_run_id,
        )
        return Run(info, RunData(tags={row["key"]: row["value"] for row in tags_logged}))

    def resume_run(self, run_id: str, tags: Mapping[str, Any] | None, *, snapshot: bool) -> Run:
        tags_logged = tag_rows(run_id, tags or {})  # a rejected tag resumes nothing
        run = self._reader.get_run(run_id)
        if run.info.lifecycle_stage != LifecycleStage.ACTIVE:
            raise InvalidInputError(f"run {run_id} is deleted; restore it before resuming it")
        resume = run_event(run_id, RunEvent.RESUME, status=RunStatus.RUNNING, end_time=None)
        self._store.append("runs", [resume])
        if tags_logged:
            self._store.append("tags", tags_logged)
        self._heartbeat.add(run_id)
        if snapshot:
            self._snapshots.submit(run_id)
        return self._reader.get_run(run_id)

    def snapshot_source(self, run_id: str) -> None:
        self._runs.experiment_of(run_id)
        self._snapshots.submit(run_id)

    def set_terminated(self, run_id: str, status: str, end_time: int | None) -> None:
        status, ended = check_end(status, end_time, run_id)
        self._runs.experiment_of(run_id)
        self._store.append("runs", [end_event(run_id, status, ended)])
        self._heartbeat.remove(run_id)
        # The commit round this asks for fsyncs the journal first (group commit).
        self._store.request_commit(fsync=True)

    def rename_run(self, run_id: str, run_name: str) -> None:
        renamed = tag_rows(run_id, {"mlflow.runName": run_name})  # checked before writing
        self._runs.experiment_of(run_id)
        name = renamed[0]["value"]
        self._store.append("runs", [run_event(run_id, RunEvent.RENAME, run_name=name)])
        self._store.append("tags", renamed)

    def set_lifecycle(self, run_id: str, event: str) -> None:
        """Append a ``delete`` or ``restore`` event."""
        self._runs.experiment_of(run_id)
        self._store.append("runs", [run_event(run_id, event)])

    # -- logging ------------------------------------------------------------------------
    def log_metric(
        self, run_id: str, key: str, value: float, timestamp: int | None, step: int | None
    ) -> None:
        # The hot path: one row, no batch to assemble.
        if not self._runs.known(run_id):
            self._runs.experiment_of(run_id)
        self._store.append("metrics", [metric_row(run_id, key, value, step, timestamp)])

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric],
        params: Mapping[str, Any] | None,
        tags: Mapping[str, Any] | None,
    ) -> None:
        self._runs.experiment_of(run_id)
        metrics_logged = metric_rows(run_id, metrics)
        tags_logged = tag_rows(run_id, tags or {})
        if params:
            with self._lock:
                if run_id not in self._params:
                    self._params[run_id] = self._reader.logged_params(run_id)
                logged = self._params[run_id]
                params_logged = param_rows(run_id, params, logged)
                if params_logged:
                    self._store.append("params", params_logged)
                    logged.update({row["key"]: row["value"] for row in params_logged})
        if tags_logged:
            self._store.append("tags", tags_logged)
        if metrics_logged:
            self._store.append("metrics", metrics_logged)

    def delete_tag(self, run_id: str, key: str) -> None:
        if key not in self._reader.get_run(run_id).data.tags:
            raise NotFoundError(f"run {run_id} has no tag {key!r} to delete")
        self._store.append("tags", [tag_deletion(run_id, key)])

    def log_input(self, run_id: str, dataset: DatasetInput, context: str | None) -> None:
        self._runs.experiment_of(run_id)
        role = context or dataset.context
        key = (run_id, dataset.digest, role)
        with self._lock:
            if key in self._inputs:
                return
            self._store.append("inputs", [input_row(run_id, dataset, role)])
            # Remembered once appended: a failed append must not make a retry a no-op.
            self._inputs.add(key)


_ADJECTIVES = (
    "brave",
    "calm",
    "eager",
    "fast",
    "keen",
    "lucid",
    "merry",
    "quiet",
    "sharp",
    "sunny",
    "swift",
    "tidy",
    "vivid",
    "wise",
    "bold",
    "bright",
)
_NOUNS = (
    "otter",
    "falcon",
    "spark",
    "delta",
    "comet",
    "maple",
    "river",
    "lynx",
    "heron",
    "cedar",
    "quartz",
    "tiger",
    "ember",
    "orbit",
    "fjord",
    "koala",
)


def generated_run_name(run_id: str) -> str:
    """A readable name derived from the run id ("swift-otter-123")."""
    seed = int(run_id[:8], 16)
    return f"{_ADJECTIVES[seed % 16]}-{_NOUNS[(seed >> 4) % 16]}-{seed % 1000}"
