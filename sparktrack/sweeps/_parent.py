"""The sweep's own run: created, or found again by name and resumed with its trials."""

from __future__ import annotations

from dataclasses import dataclass, field

from sparktrack.errors import InvalidInputError
from sparktrack.sweeps._records import Tags, TrialRecord
from sparktrack.sweeps._resume import find_sweep_run, previous_trials
from sparktrack.sweeps._space import SearchSpace
from sparktrack.tracking import (
    TrackingClient,
    active_experiment_id,
    active_run,
    run_from_environment,
)

__all__ = ["SweepRun", "open_sweep_run"]


@dataclass(frozen=True)
class SweepRun:
    """The sweep's run, and the trials it had when it was resumed (none when new)."""

    run_id: str
    experiment_id: str
    earlier: list[TrialRecord] = field(default_factory=list)


def open_sweep_run(
    client: TrackingClient,
    *,
    name: str | None,
    space: SearchSpace,
    strategy: str,
    metric: str,
    maximize: bool,
) -> SweepRun:
    """The sweep's run: a named sweep found again, or a new run.

    For a ``name`` the experiment has a sweep of, that run is resumed with its trials;
    otherwise a new run is created, nested under the active run if there is one.

    Raises:
        InvalidInputError: The named sweep was started with another space or metric.
    """
    experiment_id = active_experiment_id(client)
    fingerprint = space.fingerprint()
    existing = find_sweep_run(client, experiment_id, name) if name else None
    if existing is not None:
        tags = existing.data.tags
        if tags.get(Tags.SPACE) != fingerprint:
            raise InvalidInputError(
                f"sweep {name!r} (run {existing.info.run_id}) was started with "
                "another space; resume it with the same space, or pick a new name"
            )
        if tags.get(Tags.METRIC) != metric:
            raise InvalidInputError(
                f"sweep {name!r} optimised {tags.get(Tags.METRIC)!r}, not "
                f"{metric!r}; resume it with the same metric, or pick a new name"
            )
        run_id = existing.info.run_id
        client.resume_run(run_id)
        earlier = previous_trials(client, experiment_id, run_id)
        for record in earlier:
            if record.state == "complete":
                record.value = record.metrics.get(metric)
        return SweepRun(run_id, experiment_id, earlier)
    outer = active_run() or run_from_environment()  # a project's run, in a launched job
    new_tags = {
        Tags.ROLE: "sweep",
        Tags.SPACE: fingerprint,
        Tags.STRATEGY: strategy,
        Tags.METRIC: metric,
        Tags.MODE: "max" if maximize else "min",
    }
    if name:
        new_tags[Tags.NAME] = name
    run = client.create_run(
        experiment_id,
        run_name=name or "sweep",
        tags=new_tags,
        parent_run_id=outer.info.run_id if outer is not None else None,
    )
    if space.define is None:
        client.log_dict(
            run.info.run_id,
            {k: space.distributions[k].describe() for k in space.keys},
            "sweep_space.json",
        )
    return SweepRun(run.info.run_id, experiment_id)
