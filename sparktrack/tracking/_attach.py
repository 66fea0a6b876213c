"""Joining the run another process started: ``SPARKTRACK_RUN_ID`` (MLflow's ``MLFLOW_RUN_ID``).

``sparktrack run`` creates the run, launches the job with the run's id in its
environment, and ends the run with the job's exit status. The job's fluent
``start_run()`` and autolog join that run instead of starting their own; the fluent
state that remembers the join lives in ``_fluent``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sparktrack.errors import InvalidInputError, NotFoundError
from sparktrack.store import LifecycleStage
from sparktrack.tracking._client import TrackingClient
from sparktrack.tracking._entities import Run, RunStatus
from sparktrack.tracking._snapshot import SNAPSHOT_TAG

__all__ = ["RUN_ID_ENV_VAR", "join_run"]

RUN_ID_ENV_VAR = "SPARKTRACK_RUN_ID"
"""Environment variable naming a run that ``start_run()`` and autolog join instead of
starting one (MLflow's ``MLFLOW_RUN_ID``); ``sparktrack run`` sets it for the job."""


def join_run(
    client: TrackingClient,
    run_id: str,
    experiment_id: str | None,
    run_name: str | None,
    tags: Mapping[str, Any] | None,
    snapshot: bool | None = None,
) -> tuple[Run, bool]:
    """The run ``SPARKTRACK_RUN_ID`` names, and whether another process keeps it RUNNING.

    A RUNNING run is joined as it is (tags set, renamed if ``run_name`` differs); an
    ended one is resumed, so this process ends it. Unless ``snapshot`` is False (default:
    the ``snapshots`` setting), a run without a source snapshot gets this process's: the
    job's code, not its launcher's.
    """
    try:
        run = client.get_run(run_id)
    except NotFoundError:
        raise NotFoundError(
            f"{RUN_ID_ENV_VAR}={run_id!r} names a run that store {client.settings.store!r} "
            f"does not hold; point SPARKTRACK_STORE at the store of that run, or unset "
            f"{RUN_ID_ENV_VAR} to start a new run"
        ) from None
    if experiment_id is not None and str(experiment_id) != run.info.experiment_id:
        raise InvalidInputError(
            f"start_run(experiment_id={experiment_id!r}) cannot join run {run_id} (from "
            f"{RUN_ID_ENV_VAR}): it belongs to experiment {run.info.experiment_id}; leave "
            f"experiment_id out, or unset {RUN_ID_ENV_VAR}"
        )
    if run.info.lifecycle_stage != LifecycleStage.ACTIVE:
        raise InvalidInputError(
            f"run {run_id} (from {RUN_ID_ENV_VAR}) is deleted; restore it, or unset "
            f"{RUN_ID_ENV_VAR} to start a new run"
        )
    wanted = client.settings.snapshots if snapshot is None else snapshot
    snapshot_now = wanted and SNAPSHOT_TAG not in run.data.tags
    if run.info.status != RunStatus.RUNNING:
        # Nobody else will end it: this process resumed it, so this process ends it.
        resumed = client.resume_run(run_id, tags=tags, snapshot=snapshot_now)
        if run_name and run_name != resumed.info.run_name:
            client.rename_run(run_id, run_name)
            resumed = client.get_run(run_id)
        return resumed, False
    if snapshot_now:
        client.snapshot_source(run_id)
    if tags:
        client.set_tags(run_id, tags)
    if run_name and run_name != run.info.run_name:
        client.rename_run(run_id, run_name)
    if tags or run_name:
        run = client.get_run(run_id)
    return run, True
