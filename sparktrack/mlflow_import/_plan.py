"""What is already in the store: which experiments and runs an import must skip or finish.

Ids decide (MLflow's ids are kept): an experiment whose id is in the store is there
already, and so is a run with a ``start`` event. An import appends a run's other rows
before its events, so a run with rows but no ``start`` event was cut off mid-batch:
it is imported again, less the rows that landed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sparktrack.mlflow_import._records import MlflowExperiment
from sparktrack.mlflow_import._rows import SIDE_TABLES
from sparktrack.store import RunEvent, Store
from sparktrack.tracking import Experiment

__all__ = ["ExperimentPlan", "landed_rows", "plan_experiments", "started_runs", "touched_runs"]


@dataclass
class ExperimentPlan:
    """Which experiments to write, which are there already, which cannot be imported."""

    new: list[MlflowExperiment] = field(default_factory=list)
    present: list[MlflowExperiment] = field(default_factory=list)
    conflicts: dict[str, str] = field(default_factory=dict)  # experiment id -> why

    @property
    def importable(self) -> list[MlflowExperiment]:
        """The experiments whose runs are imported."""
        return [*self.present, *self.new]


def plan_experiments(
    experiments: Sequence[MlflowExperiment], existing: Sequence[Experiment]
) -> ExperimentPlan:
    """Sort MLflow's experiments by what the store holds (``existing``, deleted included)."""
    by_id = {e.experiment_id: e for e in existing}
    by_name = {e.name: e for e in existing}
    plan = ExperimentPlan()
    for experiment in experiments:
        same_id = by_id.get(experiment.experiment_id)
        same_name = by_name.get(experiment.name)
        if same_id is not None and same_id.name == experiment.name:
            plan.present.append(experiment)
        elif same_id is not None:
            plan.conflicts[experiment.experiment_id] = (
                f"its id {experiment.experiment_id} is experiment {same_id.name!r} in the store"
            )
        elif same_name is not None:
            plan.conflicts[experiment.experiment_id] = (
                f"its name {experiment.name!r} is taken by experiment id "
                f"{same_name.experiment_id} in the store; rename one of them and import again"
            )
        else:
            plan.new.append(experiment)
    return plan


def started_runs(store: Store) -> set[str]:
    """The runs the store holds (those with a ``start`` event)."""
    events = store.scan("runs", columns=["run_id", "event"])
    return {
        run_id
        for run_id, event in zip(
            events.column("run_id").to_pylist(), events.column("event").to_pylist(), strict=True
        )
        if event == RunEvent.START
    }


def touched_runs(store: Store, run_ids: Iterable[str]) -> set[str]:
    """Those of ``run_ids`` that have rows in the tables besides ``runs``."""
    wanted = list(run_ids)
    found: set[str] = set()
    if not wanted:
        return found
    for table in SIDE_TABLES:
        found.update(store.scan(table, run_ids=wanted, columns=["run_id"])["run_id"].to_pylist())
    return found


def landed_rows(store: Store, run_ids: Iterable[str]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """The rows the store holds of ``run_ids``: run id -> table -> rows."""
    wanted = list(run_ids)
    landed: dict[str, dict[str, list[dict[str, Any]]]] = {}
    if not wanted:
        return landed
    for table in SIDE_TABLES:
        for row in store.scan(table, run_ids=wanted).to_pylist():
            landed.setdefault(row["run_id"], {}).setdefault(table, []).append(row)
    return landed
