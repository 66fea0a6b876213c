"""TrackingClient: the explicit-run-id API every other layer is built on."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from sparktrack.store import RunEvent, RunStatus
from sparktrack.tracking._client_reads import ClientReads
from sparktrack.tracking._entities import DatasetInput, Metric, Run
from sparktrack.tracking._experiments import (
    DEFAULT_EXPERIMENT_ID,
    DEFAULT_EXPERIMENT_NAME,
)
from sparktrack.tracking._hooks import registry_of
from sparktrack.tracking._validation import now_ms

__all__ = ["DEFAULT_EXPERIMENT_ID", "DEFAULT_EXPERIMENT_NAME", "TrackingClient"]


class TrackingClient(ClientReads):
    """Experiments, runs and everything logged to them, with explicit run ids.

    Thread-safe. Log calls validate, hand the records to the store's writer and
    return; reads first commit what this process logged, so they see it. Clients of
    the same store and settings in a process share one open store. Methods taking a
    ``run_id`` raise NotFoundError for a run that does not exist; every method
    raises StoreError once the client is closed.

    Args:
        store: A store URI (a folder, ``hdfs://``, ``s3a://``, ``abfss://``, ...,
            or ``memory://``), a ``Store`` object, or None for the configured store.
        settings: All settings at once (default: resolved from the environment,
            Spark conf and config file); an explicit ``store`` URI wins over theirs.
        record_verdicts: False for a client that only reads and must not write (a
            read-only UI, a read-only mount): a RUNNING run whose heartbeat stopped is
            still reported KILLED by ``get_run`` and ``search_runs``, but that verdict
            is not stored, and the runs of dead writers are not settled.

    Raises:
        ConfigurationError: A setting is invalid.
        StoreError: The store cannot be opened or created.
    """

    @property
    def registry(self) -> Any:
        """Deprecated: use ``sparktrack.registry.RegistryClient(client)``.

        The registry builds on tracking, not the other way round: it provides this
        attribute's value when imported (see ``tracking._hooks``).
        """
        warnings.warn(
            "TrackingClient.registry is deprecated: use "
            "sparktrack.registry.RegistryClient(client), or "
            "sparktrack.registry.get_registry_client() for the fluent API's store",
            DeprecationWarning,
            stacklevel=2,
        )
        return registry_of(self)

    # -- runs -----------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str | None = None,
        *,
        run_name: str | None = None,
        tags: Mapping[str, Any] | None = None,
        parent_run_id: str | None = None,
        start_time: int | None = None,
        record_context: bool = True,
        snapshot: bool | None = None,
    ) -> Run:
        """Start a run, RUNNING (this process beats its heartbeat until it ends).

        Args:
            experiment_id: The experiment (default: "Default", created if need be).
            run_name: Its name (default: generated from the run id).
            tags: Tags to set at once.
            parent_run_id: The run it belongs to (nested runs, sweep trials).
            start_time: When it started, in milliseconds since the epoch (default: now).
            record_context: Tag where it comes from (user, source, git, Spark app).
            snapshot: Store a snapshot of its source (script or notebook, git diff,
                packages, versions, Spark conf) in the background and tag the run with
                its digest; default: with ``record_context``, unless the ``snapshots``
                setting is off (``SPARKTRACK_SNAPSHOTS=false``).

        Returns:
            The new run.

        Raises:
            InvalidInputError: The experiment is deleted, or a tag is invalid.
            NotFoundError: The experiment or the parent run does not exist.
        """
        return self._live.writer.create_run(
            experiment_id,
            run_name=run_name,
            tags=tags,
            parent_run_id=parent_run_id,
            start_time=start_time,
            record_context=record_context,
            snapshot=self.settings.snapshots and record_context if snapshot is None else snapshot,
        )

    def resume_run(
        self, run_id: str, *, tags: Mapping[str, Any] | None = None, snapshot: bool = False
    ) -> Run:
        """Set an existing run RUNNING again (``start_run(run_id=...)``).

        Args:
            run_id: The run.
            tags: Tags to set as it resumes.
            snapshot: Also store a snapshot of this process's source and point the run
                to it (a job attaching to a run its launcher created).

        Returns:
            The run, resumed.

        Raises:
            InvalidInputError: The run is deleted, or a tag is invalid.
        """
        return self._live.writer.resume_run(run_id, tags, snapshot=snapshot)

    def snapshot_source(self, run_id: str) -> None:
        """Store a snapshot of this process's source for an existing run, and tag it.

        As a new run's: queued, then read, hashed and stored in the background (a job
        joining the run its launcher created records its own source this way).

        Args:
            run_id: The run.

        Raises:
            InvalidInputError: ``run_id`` is malformed.
            NotFoundError: The run does not exist.
        """
        self._live.writer.snapshot_source(run_id)

    def set_terminated(
        self, run_id: str, status: str = RunStatus.FINISHED, end_time: int | None = None
    ) -> None:
        """End a run (its records are committed soon, the journal fsynced first).

        Args:
            run_id: The run.
            status: "FINISHED", "FAILED" or "KILLED".
            end_time: When it ended, in milliseconds since the epoch (default: now).

        Raises:
            InvalidInputError: The status or end time is invalid.
        """
        self._live.writer.set_terminated(run_id, status, end_time)

    def rename_run(self, run_id: str, run_name: str) -> None:
        """Rename a run (its ``mlflow.runName`` tag follows).

        Args:
            run_id: The run.
            run_name: The new name.

        Raises:
            InvalidInputError: The name is too long.
        """
        self._live.writer.rename_run(run_id, run_name)

    def delete_run(self, run_id: str) -> None:
        """Soft-delete a run (``restore_run`` undoes it).

        Args:
            run_id: The run.
        """
        self._live.writer.set_lifecycle(run_id, RunEvent.DELETE)

    def restore_run(self, run_id: str) -> None:
        """Make a deleted run active again.

        Args:
            run_id: The run.
        """
        self._live.writer.set_lifecycle(run_id, RunEvent.RESTORE)

    # -- logging --------------------------------------------------------------------------
    def log_param(self, run_id: str, key: str, value: Any) -> Any:
        """Log a param (stored as text; params never change within a run).

        Args:
            run_id: The run.
            key: The param's name.
            value: Its value.

        Returns:
            ``value``, as given.

        Raises:
            InvalidInputError: The key or value is invalid.
            ParamConflictError: The run already has ``key`` with another value.
        """
        self._live.writer.log_batch(run_id, (), {key: value}, None)
        return value

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        """Log several params at once: all of them, or none when one is rejected.

        Args:
            run_id: The run.
            params: Names and values.

        Raises:
            InvalidInputError: A key or value is invalid.
            ParamConflictError: The run already has one of them with another value.
        """
        self._live.writer.log_batch(run_id, (), params, None)

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        timestamp: int | None = None,
        step: int | None = None,
    ) -> None:
        """Log one value of a metric (NaN and infinities are kept).

        Args:
            run_id: The run.
            key: The metric's name.
            value: The value (int or float).
            timestamp: When, in milliseconds since the epoch (default: now).
            step: The training step (default: 0).

        Raises:
            InvalidInputError: The key, value, step or timestamp is invalid.
        """
        self._live.writer.log_metric(run_id, key, value, timestamp, step)

    def log_metrics(
        self,
        run_id: str,
        metrics: Mapping[str, float],
        step: int | None = None,
        timestamp: int | None = None,
    ) -> None:
        """Log several metrics at one step and time: all of them, or none.

        Args:
            run_id: The run.
            metrics: Names and values.
            step: The training step (default: 0).
            timestamp: When, in milliseconds since the epoch (default: now).

        Raises:
            InvalidInputError: A key, value, the step or the timestamp is invalid.
        """
        stamp = now_ms() if timestamp is None else timestamp
        at = step if step is not None else 0
        batch = [Metric(key, value, stamp, at) for key, value in metrics.items()]
        self._live.writer.log_batch(run_id, batch, None, None)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Log metrics, params and tags together; a rejected batch logs nothing.

        Args:
            run_id: The run.
            metrics: Metric values.
            params: Params.
            tags: Tags.

        Raises:
            InvalidInputError: Something in the batch is invalid.
            ParamConflictError: The run already has a param with another value.
        """
        self._live.writer.log_batch(run_id, metrics, params, tags)

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        """Set a tag (stored as text; setting it again replaces it).

        Args:
            run_id: The run.
            key: The tag's name.
            value: Its value.

        Raises:
            InvalidInputError: The key or value is invalid.
        """
        self._live.writer.log_batch(run_id, (), None, {key: value})

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        """Set several tags at once: all of them, or none when one is rejected.

        Args:
            run_id: The run.
            tags: Names and values.

        Raises:
            InvalidInputError: A key or value is invalid.
        """
        self._live.writer.log_batch(run_id, (), None, tags)

    def delete_tag(self, run_id: str, key: str) -> None:
        """Delete a tag of the run.

        Args:
            run_id: The run.
            key: The tag's name.

        Raises:
            NotFoundError: The run has no such tag.
        """
        self._live.writer.delete_tag(run_id, key)

    def log_input(self, run_id: str, dataset: DatasetInput, context: str | None = None) -> None:
        """Record that the run read ``dataset`` (lineage); logging it again does nothing.

        Args:
            run_id: The run.
            dataset: The dataset (see ``sparktrack.datasets``).
            context: Its role, e.g. "training" (default: the dataset's).
        """
        self._live.writer.log_input(run_id, dataset, context)
